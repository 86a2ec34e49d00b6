using System.Text.RegularExpressions;

namespace Smelt.Core;

/// <summary>
/// The single redaction point. Every log line, error message, results file and model card passes through
/// <see cref="Redact"/>: it masks registered secret values (e.g. the hub token), values of environment variables whose
/// names look secret, <c>Authorization</c> headers and well-known token formats.
/// </summary>
public static partial class Redactor
{
    public const string Mask = "<REDACTED>";
    private static readonly object Gate = new();
    private static string[] _secrets = [];

    static Redactor()
    {
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            if (e.Key is string k && e.Value is string v && LooksSecretName(k))
                Register(v);
    }

    /// <summary>Names such as HF_TOKEN, AWS_SECRET_ACCESS_KEY, OPENAI_API_KEY, DB_PASSWORD.</summary>
    public static bool LooksSecretName(string name) => SecretName().IsMatch(name);

    /// <summary>Adds a value that must never appear in any output. Values shorter than 6 characters are ignored (too many false hits).</summary>
    public static void Register(string? secret)
    {
        if (string.IsNullOrEmpty(secret) || secret.Length < 6) return;
        lock (Gate)
        {
            if (_secrets.Contains(secret)) return;
            _secrets = [.. _secrets, secret];
            Array.Sort(_secrets, (a, b) => b.Length.CompareTo(a.Length));
        }
    }

    public static string Redact(string? text)
    {
        if (string.IsNullOrEmpty(text)) return text ?? "";
        var secrets = _secrets;
        foreach (var s in secrets)
            if (text.Contains(s, StringComparison.Ordinal))
                text = text.Replace(s, Mask, StringComparison.Ordinal);
        text = AuthHeader().Replace(text, m => m.Groups[1].Value + Mask);
        text = HfToken().Replace(text, Mask);
        return text;
    }

    [GeneratedRegex(@"(?i)(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH)")]
    private static partial Regex SecretName();

    [GeneratedRegex(@"(?i)(authorization\s*[:=]\s*(?:bearer\s+|basic\s+|token\s+)?)[^\s""',;]+")]
    private static partial Regex AuthHeader();

    [GeneratedRegex(@"\bhf_[A-Za-z0-9]{30,}\b")]
    private static partial Regex HfToken();
}
