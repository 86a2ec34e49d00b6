using System.Text;
using System.Text.RegularExpressions;

namespace Smelt.Data.Secrets;

public static class SecretKinds
{
    public const string AwsAccessKeyId = "aws_access_key_id";
    public const string AwsSecretAccessKey = "aws_secret_access_key";
    public const string GcpServiceAccountKey = "gcp_service_account_key";
    public const string AzureStorageKey = "azure_storage_key";
    public const string GitHubToken = "github_token";
    public const string GitLabToken = "gitlab_token";
    public const string HuggingFaceToken = "huggingface_token";
    public const string SlackToken = "slack_token";
    public const string StripeKey = "stripe_key";
    public const string Jwt = "jwt";
    public const string PrivateKey = "private_key";
    public const string AssignedSecret = "assigned_secret";
    public const string UrlPassword = "url_password";
    public const string Email = "email";
    public const string IpAddress = "ip_address";

    public static readonly IReadOnlyList<string> All =
    [
        AwsAccessKeyId, AwsSecretAccessKey, GcpServiceAccountKey, AzureStorageKey, GitHubToken, GitLabToken, HuggingFaceToken,
        SlackToken, StripeKey, Jwt, PrivateKey, AssignedSecret, UrlPassword, Email, IpAddress,
    ];

    public static bool IsPii(string kind) => kind is Email or IpAddress;
}

/// <summary>One finding: the kind and the span (in the scanned text) that holds the secret itself.</summary>
public sealed record SecretFinding(string Kind, int Start, int Length)
{
    public int End => Start + Length;

    /// <summary>A preview that is safe to print: the first characters and the length, never the whole value.</summary>
    public string Preview(string text)
    {
        var value = text.Substring(Start, Length);
        var keep = Math.Min(4, value.Length / 4);
        return $"{value[..keep]}… ({Length} chars)";
    }
}

/// <summary>
/// Finds credentials and personal data in text. Known token formats are matched by shape and then checked (checksum-free
/// formats must not look like placeholders: their body needs at least 3 bits of entropy per character); values assigned
/// to secret-looking names need <see cref="ScannerOptions.EntropyThreshold"/> bits per character and two character classes;
/// e-mail and IP addresses skip reserved, documentation, private and loopback ranges. See docs/data.md for every rule.
/// </summary>
public sealed partial class SecretScanner
{
    private readonly ScannerOptions _options;
    private readonly HashSet<string> _allow;
    private readonly (string Kind, Regex Regex)[] _custom;

    public SecretScanner(ScannerOptions? options = null)
    {
        _options = options ?? new ScannerOptions();
        _allow = new HashSet<string>(_options.Allow.Concat(BuiltInAllow), StringComparer.Ordinal);
        _custom = _options.Custom.Select(c => (c.Kind, new Regex(c.Pattern, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(2)))).ToArray();
    }

    public ScannerOptions Options => _options;

    /// <summary>The AWS documentation's example credentials: published, not secret.</summary>
    private static readonly string[] BuiltInAllow = ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"];

    public IReadOnlyList<SecretFinding> Scan(string text)
    {
        if (string.IsNullOrEmpty(text)) return [];
        var candidates = new List<(SecretFinding Finding, int Priority)>();
        void Add(string kind, int start, int length, int priority)
        {
            if (_options.ActionFor(kind) == SecretAction.Off) return;
            if (_allow.Contains(text.Substring(start, length))) return;
            candidates.Add((new SecretFinding(kind, start, length), priority));
        }
        void AddGroup(string kind, Match m, string group, int priority)
        {
            var g = m.Groups[group];
            Add(kind, g.Index, g.Length, priority);
        }

        foreach (var (kind, regex) in _custom)
            foreach (Match m in regex.Matches(text)) if (m.Length > 0) Add(kind, m.Index, m.Length, 10);

        if (text.Contains("PRIVATE KEY", StringComparison.Ordinal))
            foreach (Match m in PemBegin().Matches(text))
            {
                // The END line is searched with IndexOf (bounded), not a lazy regex, so many BEGINs stay linear.
                var bodyStart = m.Index + m.Length;
                var endMarker = $"-----END {m.Groups["label"].Value}-----";
                var window = Math.Min(text.Length - bodyStart, 12000 + endMarker.Length);
                var end = text.IndexOf(endMarker, bodyStart, window, StringComparison.Ordinal);
                if (end >= 0)
                {
                    if (Base64Chars(text.Substring(bodyStart, end - bodyStart)) >= 64) Add(SecretKinds.PrivateKey, m.Index, end + endMarker.Length - m.Index, 9);
                    continue;
                }
                var k = bodyStart;
                var limit = Math.Min(text.Length, bodyStart + 12000);
                while (k < limit)
                {
                    var c = text[k];
                    if (char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=' or '\r' or '\n' or '\t' or ' ') k++;
                    else if (c == '\\' && k + 1 < text.Length && text[k + 1] is 'n' or 'r') k += 2;
                    else break;
                }
                if (Base64Chars(text.Substring(bodyStart, k - bodyStart)) >= 64) Add(SecretKinds.PrivateKey, m.Index, k - m.Index, 8);
            }
        if (text.Contains("private_key_id", StringComparison.Ordinal) && text.Contains("service_account", StringComparison.Ordinal))
            foreach (Match m in GcpKeyId().Matches(text)) AddGroup(SecretKinds.GcpServiceAccountKey, m, "v", 9);

        foreach (Match m in AwsKeyId().Matches(text))
            if (Entropy(m.Groups["v"].ValueSpan[4..]) >= 3.0) AddGroup(SecretKinds.AwsAccessKeyId, m, "v", 7);
        foreach (Match m in AzureAccountKey().Matches(text)) AddGroup(SecretKinds.AzureStorageKey, m, "v", 7);
        foreach (Match m in GitHub().Matches(text))
            if (Entropy(m.Groups["body"].ValueSpan) >= 3.0) AddGroup(SecretKinds.GitHubToken, m, "v", 7);
        foreach (Match m in GitLab().Matches(text))
            if (Entropy(m.Groups["body"].ValueSpan) >= 3.0) AddGroup(SecretKinds.GitLabToken, m, "v", 7);
        foreach (Match m in HuggingFace().Matches(text))
            if (Entropy(m.Groups["body"].ValueSpan) >= 3.0 && HasMixedCase(m.Groups["body"].ValueSpan)) AddGroup(SecretKinds.HuggingFaceToken, m, "v", 7);
        foreach (Match m in Slack().Matches(text))
            if (Entropy(m.Groups["v"].ValueSpan[5..]) >= 3.0) AddGroup(SecretKinds.SlackToken, m, "v", 7);
        foreach (Match m in SlackWebhook().Matches(text)) AddGroup(SecretKinds.SlackToken, m, "v", 7);
        foreach (Match m in Stripe().Matches(text))
            if (Entropy(m.Groups["body"].ValueSpan) >= 3.0) AddGroup(SecretKinds.StripeKey, m, "v", 7);
        if (text.Contains("eyJ", StringComparison.Ordinal))
            foreach (Match m in JwtToken().Matches(text))
                if (JwtHeaderIsJson(m.Groups["h"].Value)) Add(SecretKinds.Jwt, m.Index, m.Length, 7);

        if (text.Contains("://", StringComparison.Ordinal) && text.Contains('@'))
            foreach (var (lineStart, line) in LinesContaining(text, UrlMarker))
                foreach (Match m in UrlCredentials().Matches(line))
                {
                    var pw = m.Groups["v"].Value;
                    if (!IsPlaceholder(pw) && Entropy(pw) >= 2.5 && pw.Length >= 6) Add(SecretKinds.UrlPassword, lineStart + m.Groups["v"].Index, m.Groups["v"].Length, 5);
                }
        // The assignment patterns can start anywhere, so they only run on lines that mention a secret-like name.
        foreach (var (lineStart, line) in LinesContaining(text, SecretWordSearch))
        {
            ScanAssignments(line, lineStart, AssignmentAny(), Add);
            ScanAssignments(line, lineStart, AssignmentQuoted(), Add);
        }

        if (text.Contains('@'))
            foreach (Match m in EmailAddress().Matches(text))
                if (!IsReservedEmailDomain(m.Groups["local"].Value, m.Groups["domain"].Value)) Add(SecretKinds.Email, m.Index, m.Length, 2);
        foreach (Match m in Ipv4().Matches(text))
            if (IsPersonalIpv4(m, text)) Add(SecretKinds.IpAddress, m.Index, m.Length, 1);

        return ResolveOverlaps(candidates);
    }

    /// <summary>Keeps the most specific finding where spans overlap: clusters of overlapping spans are resolved greedily by priority.</summary>
    private static List<SecretFinding> ResolveOverlaps(List<(SecretFinding Finding, int Priority)> candidates)
    {
        candidates.Sort((x, y) => x.Finding.Start.CompareTo(y.Finding.Start));
        var accepted = new List<SecretFinding>();
        var cluster = new List<(SecretFinding Finding, int Priority)>();
        var clusterEnd = -1;
        void Flush()
        {
            if (cluster.Count == 1) accepted.Add(cluster[0].Finding);
            else if (cluster.Count > 1)
            {
                var kept = new List<SecretFinding>();
                foreach (var (f, _) in cluster.OrderByDescending(c => c.Priority).ThenBy(c => c.Finding.Start))
                    if (!kept.Any(a => a.Start < f.End && f.Start < a.End)) kept.Add(f);
                accepted.AddRange(kept.OrderBy(f => f.Start));
            }
            cluster.Clear();
        }
        foreach (var c in candidates)
        {
            if (c.Finding.Start >= clusterEnd) Flush();
            cluster.Add(c);
            clusterEnd = Math.Max(clusterEnd, c.Finding.End);
        }
        Flush();
        return accepted;
    }

    private static readonly System.Buffers.SearchValues<string> SecretWordSearch = System.Buffers.SearchValues.Create(
        ["password", "passwd", "passphrase", "pwd", "secret", "token", "api_key", "apikey", "api-key", "access_key", "accesskey", "access-key",
         "auth_key", "authkey", "private_key", "privatekey", "credential", "signing_key", "signingkey", "encryption_key", "encryptionkey"],
        StringComparison.OrdinalIgnoreCase);
    private static readonly System.Buffers.SearchValues<string> UrlMarker = System.Buffers.SearchValues.Create(["://"], StringComparison.Ordinal);

    /// <summary>The lines of <paramref name="text"/> (with their offsets) that contain one of <paramref name="words"/>.</summary>
    private static IEnumerable<(int Start, string Line)> LinesContaining(string text, System.Buffers.SearchValues<string> words)
    {
        var from = 0;
        while (from < text.Length)
        {
            var rel = text.AsSpan(from).IndexOfAny(words);
            if (rel < 0) yield break;
            var at = from + rel;
            var start = text.LastIndexOf('\n', Math.Max(0, at - 1)) + 1;
            if (at == 0) start = 0;
            var end = text.IndexOf('\n', at);
            if (end < 0) end = text.Length;
            yield return (start, text[start..end]);
            from = end + 1;
        }
    }

    private void ScanAssignments(string text, int offset, Regex regex, Action<string, int, int, int> add)
    {
        foreach (Match m in regex.Matches(text))
        {
            var name = m.Groups["name"].Value;
            var value = m.Groups["v"];
            if (!SecretName(name, out var awsSecret)) continue;
            var v = value.Value;
            if (awsSecret && AwsSecretShape().IsMatch(v)) { add(SecretKinds.AwsSecretAccessKey, offset + value.Index, value.Length, 6); continue; }
            if (AzureKeyShape().IsMatch(v) && name.Contains("azure", StringComparison.OrdinalIgnoreCase)) { add(SecretKinds.AzureStorageKey, offset + value.Index, value.Length, 6); continue; }
            if (LooksLikeSecretValue(v, quoted: m.Groups["q"].Success)) add(SecretKinds.AssignedSecret, offset + value.Index, value.Length, 4);
        }
    }

    private static readonly string[] SecretWords = ["password", "passwd", "passphrase", "pwd", "secret", "token", "apikey", "accesskey", "authkey", "privatekey", "credential", "clientsecret", "signingkey", "encryptionkey"];
    private static readonly HashSet<string> NonSecretSegments =
    [
        "hash", "hashed", "digest", "checksum", "sha", "sha1", "sha256", "md5", "fingerprint", "url", "uri", "path", "file", "dir", "name",
        "type", "kind", "len", "length", "count", "size", "max", "min", "expiry", "expires", "expiration", "endpoint", "header", "field",
        "prefix", "suffix", "format", "regex", "pattern", "id", "ids", "tokens", "tokenizer", "tokenize", "policy", "env", "var", "label",
        "placeholder", "hint", "prompt", "timeout", "ttl", "version", "mode", "stream", "kinds", "index", "idx", "pos", "span", "tree",
        "column", "col", "parser", "lexer", "input", "message", "msg", "error", "err", "manager", "store", "provider", "source", "required",
    ];

    private static bool SecretName(string name, out bool awsSecret)
    {
        var lower = name.ToLowerInvariant();
        var squashed = lower.Replace("_", "").Replace("-", "").Replace(".", "");
        awsSecret = squashed.Contains("secretaccesskey") || (squashed.Contains("aws") && squashed.Contains("secret"));
        if (!SecretWords.Any(squashed.Contains)) return false;
        foreach (var segment in Segments(name))
            if (NonSecretSegments.Contains(segment)) return false;
        return true;
    }

    /// <summary>Splits <c>DB_PASSWORD</c>, <c>dbPassword</c>, <c>db.password</c> into lower-case words.</summary>
    private static IEnumerable<string> Segments(string name)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (c is '_' or '-' or '.' or '"' or '\'')
            {
                if (sb.Length > 0) { yield return sb.ToString(); sb.Clear(); }
                continue;
            }
            if (char.IsUpper(c) && i > 0 && char.IsLower(name[i - 1]) && sb.Length > 0) { yield return sb.ToString(); sb.Clear(); }
            sb.Append(char.ToLowerInvariant(c));
        }
        if (sb.Length > 0) yield return sb.ToString();
    }

    private static readonly string[] PlaceholderWords =
    [
        "changeme", "change_me", "change-me", "example", "dummy", "placeholder", "redacted", "fake", "mock", "your", "insert", "replace",
        "todo", "xxx", "***", "...", "sample", "password", "secret", "<", ">", "${", "{{", "%s", "{}", "$(", "none", "null", "undefined",
    ];

    private static bool IsPlaceholder(string v)
    {
        var lower = v.ToLowerInvariant();
        if (PlaceholderWords.Any(lower.Contains)) return true;
        if (v.StartsWith('$')) return true;
        return v.Distinct().Count() <= 3;
    }

    private bool LooksLikeSecretValue(string v, bool quoted)
    {
        if (v.Length < _options.MinSecretLength || v.Length > 300) return false;
        if (IsPlaceholder(v)) return false;
        if (v.Contains("://") || v.StartsWith('/') || v.StartsWith("./")) return false;
        if (v.Contains(' ') && v.Count(c => c == ' ') >= 2) return false; // prose, not a credential
        if (EnvVarName().IsMatch(v)) return false;            // GITHUB_TOKEN: a reference, not a value
        if (Slug().IsMatch(v)) return false;                  // trust-token-redemption: a name, not a value
        if (!quoted && CodePath().IsMatch(v)) return false;     // Token::Ident, self.token, next_token
        if (Classes(v) < 2) return false;
        if (!quoted && Classes(v) < 3) return false;
        return Entropy(v) >= _options.EntropyThreshold;
    }

    private static int Classes(string v)
    {
        int lower = 0, upper = 0, digit = 0, other = 0;
        foreach (var c in v)
        {
            if (char.IsAsciiLetterLower(c)) lower = 1;
            else if (char.IsAsciiLetterUpper(c)) upper = 1;
            else if (char.IsAsciiDigit(c)) digit = 1;
            else other = 1;
        }
        return lower + upper + digit + other;
    }

    private static bool HasMixedCase(ReadOnlySpan<char> v)
    {
        bool upper = false, lower = false;
        foreach (var c in v) { if (char.IsAsciiLetterUpper(c)) upper = true; else if (char.IsAsciiLetterLower(c)) lower = true; }
        return upper && lower;
    }

    /// <summary>Shannon entropy in bits per character.</summary>
    public static double Entropy(ReadOnlySpan<char> s)
    {
        if (s.IsEmpty) return 0;
        var counts = new Dictionary<char, int>();
        foreach (var c in s) counts[c] = counts.GetValueOrDefault(c) + 1;
        double h = 0;
        foreach (var n in counts.Values)
        {
            var p = (double)n / s.Length;
            h -= p * Math.Log2(p);
        }
        return h;
    }

    public static double Entropy(string s) => Entropy(s.AsSpan());

    private static int Base64Chars(string body)
    {
        var n = 0;
        var cleaned = body.Replace("\\n", "\n").Replace("\\r", "\r");
        foreach (var c in cleaned) if (char.IsAsciiLetterOrDigit(c) || c is '+' or '/' or '=') n++;
        return n;
    }

    private static bool JwtHeaderIsJson(string segment)
    {
        try
        {
            var s = segment.Replace('-', '+').Replace('_', '/');
            s = s.PadRight(s.Length + (4 - s.Length % 4) % 4, '=');
            var json = Encoding.UTF8.GetString(Convert.FromBase64String(s));
            return json.TrimStart().StartsWith('{') && json.Contains("\"alg\"", StringComparison.Ordinal);
        }
        catch (FormatException) { return false; }
    }

    private static readonly string[] ReservedTlds = ["example", "test", "invalid", "localhost", "local", "internal"];
    private static readonly string[] FileExtensions = ["png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "rs", "toml", "json", "yaml", "yml", "md", "txt", "js", "ts", "css", "html", "lock"];

    private static bool IsReservedEmailDomain(string local, string domain)
    {
        var d = domain.ToLowerInvariant();
        var labels = d.Split('.');
        var tld = labels[^1];
        if (ReservedTlds.Contains(tld) || FileExtensions.Contains(tld)) return true;
        if (labels.Length >= 2 && labels[^2] == "example" && tld is "com" or "org" or "net") return true;
        if (d == "localhost") return true;
        if (local.Equals("git", StringComparison.OrdinalIgnoreCase)) return true; // git@github.com: an SSH remote, not a person
        return false;
    }

    private static readonly string[] WellKnownPublicIps = ["1.2.3.4", "4.3.2.1", "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222", "208.67.220.220"];

    /// <summary>
    /// An IPv4 address that could identify someone: not loopback, unspecified, private (RFC 1918), shared (CGNAT),
    /// link-local, documentation (RFC 5737), benchmarking, multicast, reserved or broadcast, not a well-known public
    /// resolver or the placeholder 1.2.3.4, and not a version number (preceded by <c>v</c>, <c>version</c>, <c>@</c> or a
    /// single <c>/</c>; all four parts single digits; or a last part of 0).
    /// </summary>
    private static bool IsPersonalIpv4(Match m, string text)
    {
        var o = new int[4];
        for (var k = 0; k < 4; k++)
        {
            var g = m.Groups[k + 1].Value;
            if (g.Length > 1 && g[0] == '0') return false;
            o[k] = int.Parse(g, System.Globalization.CultureInfo.InvariantCulture);
            if (o[k] > 255) return false;
        }
        if (WellKnownPublicIps.Contains(m.Value)) return false;
        var (a, b, c) = (o[0], o[1], o[2]);
        if (a is 0 or 10 or 127 || a >= 224) return false;
        if (a == 100 && b >= 64 && b <= 127) return false;
        if (a == 169 && b == 254) return false;
        if (a == 172 && b >= 16 && b <= 31) return false;
        if (a == 192 && b == 168) return false;
        if (a == 192 && b == 0 && (c == 0 || c == 2)) return false;
        if (a == 198 && (b == 18 || b == 19)) return false;
        if (a == 198 && b == 51 && c == 100) return false;
        if (a == 203 && b == 0 && c == 113) return false;
        if (o[3] == 0) return false;                         // a network address (or a version such as 4.0.1.0), not a host
        if (o.All(x => x <= 9)) return false;                // 8.3.1.1: a four-part version number far more often than a host
        if (m.Index >= 1 && text[m.Index - 1] == '@') return false;                                        // pkg@1.22.3.4
        if (m.Index >= 1 && text[m.Index - 1] == '/' && (m.Index < 2 || text[m.Index - 2] != '/')) return false; // pkg/12.3.14.2
        var before = text.AsSpan(Math.Max(0, m.Index - 12), Math.Min(12, m.Index)).ToString().ToLowerInvariant();
        if (before.EndsWith('v') || before.Contains("version") || before.Contains("ver ") || before.Contains("ver=")) return false;
        return true;
    }

    [GeneratedRegex(@"-----BEGIN (?<label>(?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?)-----")]
    private static partial Regex PemBegin();

    [GeneratedRegex(@"""private_key_id""\s*:\s*""(?<v>[0-9a-f]{40})""")]
    private static partial Regex GcpKeyId();

    [GeneratedRegex(@"(?<![A-Za-z0-9])(?<v>(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[A-Z2-7]{16})(?![A-Za-z0-9])")]
    private static partial Regex AwsKeyId();

    [GeneratedRegex(@"^[A-Za-z0-9/+]{40}$")]
    private static partial Regex AwsSecretShape();

    [GeneratedRegex(@"^[A-Za-z0-9+/]{86}==$")]
    private static partial Regex AzureKeyShape();

    [GeneratedRegex(@"(?i:AccountKey)=(?<v>[A-Za-z0-9+/]{86}==)")]
    private static partial Regex AzureAccountKey();

    [GeneratedRegex(@"(?<![A-Za-z0-9_])(?<v>gh[pousr]_(?<body>[A-Za-z0-9]{36})|github_pat_(?<body>[A-Za-z0-9]{22}_[A-Za-z0-9]{59}))(?![A-Za-z0-9_])")]
    private static partial Regex GitHub();

    [GeneratedRegex(@"(?<![A-Za-z0-9_])(?<v>glpat-(?<body>[A-Za-z0-9_\-]{20}))(?![A-Za-z0-9_\-])")]
    private static partial Regex GitLab();

    [GeneratedRegex(@"(?<![A-Za-z0-9_])(?<v>hf_(?<body>[A-Za-z0-9]{34,40}))(?![A-Za-z0-9_])")]
    private static partial Regex HuggingFace();

    [GeneratedRegex(@"(?<![A-Za-z0-9_])(?<v>xox[abposr]-(?:[0-9]{8,14}-){1,3}[A-Za-z0-9\-]{8,64})(?![A-Za-z0-9_\-])")]
    private static partial Regex Slack();

    [GeneratedRegex(@"(?<v>https://hooks\.slack\.com/services/T[A-Z0-9]{8,12}/B[A-Z0-9]{8,12}/[A-Za-z0-9]{20,32})")]
    private static partial Regex SlackWebhook();

    [GeneratedRegex(@"(?<![A-Za-z0-9_])(?<v>(?:sk|rk)_live_(?<body>[A-Za-z0-9]{24,99}))(?![A-Za-z0-9_])")]
    private static partial Regex Stripe();

    [GeneratedRegex(@"(?<![A-Za-z0-9_\-])(?<h>eyJ[A-Za-z0-9_\-]{10,})\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{16,}(?![A-Za-z0-9_\-])")]
    private static partial Regex JwtToken();

    [GeneratedRegex(@"(?<![A-Za-z0-9+.\-])[a-zA-Z][a-zA-Z0-9+.\-]{1,15}://[^\s:/@""'`]{1,64}:(?<v>[^\s:/@""'`]{1,128})@[A-Za-z0-9.\-]+")]
    private static partial Regex UrlCredentials();

    /// <summary>name = value, name: value, name := value, name => value, optionally with a Rust type annotation.</summary>
    [GeneratedRegex(@"(?<name>[A-Za-z_][A-Za-z0-9_.\-]{0,63})[""']?(?:\s*:\s*&?(?:'static\s+)?(?:str|String|&str)\b)?\s*(?::=|=>|:(?!:)|=(?![=>]))\s*(?:(?:Some|String::from|Secret::new|SecretString::new)\(\s*)?(?:(?<q>[""'])(?<v>[^""'\r\n]{1,300})\k<q>|(?<v>[^\s""'`,;#(){}\[\]<>][^\s""'`,;(){}\[\]<>]{0,299})(?![(\w]))")]
    private static partial Regex AssignmentAny();

    /// <summary>Builder calls and map inserts: .password("..."), ("API_TOKEN", "...").</summary>
    [GeneratedRegex(@"(?<name>[A-Za-z_][A-Za-z0-9_]{0,63})(?:[""']\s*,\s*|\(\s*)(?<q>"")(?<v>[^""\r\n]{1,300})""")]
    private static partial Regex AssignmentQuoted();

    [GeneratedRegex(@"^[a-z]+(?:[-_ .][a-z]+)+$")]
    private static partial Regex Slug();

    [GeneratedRegex(@"^[A-Z][A-Z0-9_]*$")]
    private static partial Regex EnvVarName();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*(?:(?:::|\.)[A-Za-z_][A-Za-z0-9_]*)*$")]
    private static partial Regex CodePath();

    [GeneratedRegex(@"(?<![A-Za-z0-9._%+\-])(?<local>[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63})@(?<domain>[A-Za-z0-9](?:[A-Za-z0-9\-]{0,62})(?:\.[A-Za-z0-9\-]{1,63})*\.[A-Za-z]{2,24})(?![A-Za-z0-9\-])")]
    private static partial Regex EmailAddress();

    [GeneratedRegex(@"(?<![\w.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\w]|\.\d)")]
    private static partial Regex Ipv4();
}
