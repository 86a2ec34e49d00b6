using System.Globalization;
using System.Text.RegularExpressions;
using Smelt.Core;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Smelt.Data.Secrets;

/// <summary>
/// Loads scanner rules from YAML (or JSON, which is read as YAML). Every problem is reported as <c>file:line: what is
/// wrong</c>, with a suggestion for misspelt keys and kinds. Example:
/// <code>
/// entropy_threshold: 3.2
/// kinds:
///   email: redact
///   ip_address: off
///   private_key: { action: drop }
/// allow: ["an exact value that is never reported"]
/// custom:
///   - { kind: corp_token, pattern: "corp_[a-z0-9]{32}", action: drop }
/// </code>
/// </summary>
public static class SecretRuleFile
{
    private static readonly string[] TopKeys = ["entropy_threshold", "min_secret_length", "placeholder", "kinds", "allow", "custom"];
    private static readonly string[] RuleKeys = ["action", "placeholder"];
    private static readonly string[] CustomKeys = ["kind", "pattern", "action", "placeholder"];

    public static ScannerOptions Load(string path)
    {
        if (!File.Exists(path)) throw SmeltException.BadInput($"{path}: scanner rule file not found");
        return Parse(File.ReadAllText(path), path);
    }

    public static ScannerOptions Parse(string text, string file)
    {
        var stream = new YamlStream();
        try { stream.Load(new StringReader(text)); }
        catch (YamlException ex)
        {
            throw SmeltException.BadInput($"{file}:{ex.Start.Line}: the scanner rule file does not parse: {Inner(ex).Message}");
        }
        if (stream.Documents.Count == 0) return new ScannerOptions();
        if (stream.Documents[0].RootNode is not YamlMappingNode root)
            throw Error(file, stream.Documents[0].RootNode, "expected a mapping of settings at the top level (entropy_threshold, kinds, allow, custom, ...)");

        var options = new ScannerOptions();
        foreach (var (keyNode, value) in root.Children)
        {
            var key = Scalar(file, keyNode, "a setting name");
            switch (key)
            {
                case "entropy_threshold":
                    var e = Number(file, value, key);
                    if (e is <= 0 or > 8) throw Error(file, value, $"'{key}' must be between 0 and 8 bits per character, got {e}");
                    options = options with { EntropyThreshold = e };
                    break;
                case "min_secret_length":
                    var n = Number(file, value, key);
                    if (n < 1 || n > 300 || n != Math.Floor(n)) throw Error(file, value, $"'{key}' must be a whole number from 1 to 300, got {n}");
                    options = options with { MinSecretLength = (int)n };
                    break;
                case "placeholder":
                    options = options with { SecretPlaceholder = Scalar(file, value, "a placeholder string") };
                    break;
                case "kinds":
                    options = options with { Kinds = Kinds(file, value) };
                    break;
                case "allow":
                    options = options with { Allow = Sequence(file, value, key).Select(v => Scalar(file, v, "an allowed value")).ToArray() };
                    break;
                case "custom":
                    options = options with { Custom = Sequence(file, value, key).Select(v => Custom(file, v)).ToArray() };
                    break;
                default:
                    throw Error(file, keyNode, $"unknown setting '{key}'{Suggest(key, TopKeys)}; known settings: {string.Join(", ", TopKeys)}");
            }
        }
        return options;
    }

    private static Dictionary<string, KindRule> Kinds(string file, YamlNode node)
    {
        if (node is not YamlMappingNode map) throw Error(file, node, "'kinds' must map a kind to an action, e.g. 'email: redact'");
        var result = new Dictionary<string, KindRule>();
        foreach (var (k, v) in map.Children)
        {
            var kind = Scalar(file, k, "a kind");
            if (!SecretKinds.All.Contains(kind))
                throw Error(file, k, $"unknown kind '{kind}'{Suggest(kind, SecretKinds.All)}; known kinds: {string.Join(", ", SecretKinds.All)} (add new ones under 'custom')");
            result[kind] = Rule(file, v, kind);
        }
        return result;
    }

    private static KindRule Rule(string file, YamlNode node, string kind)
    {
        if (node is YamlScalarNode) return new KindRule(Action(file, node));
        if (node is not YamlMappingNode map) throw Error(file, node, $"kind '{kind}': expected an action (drop, redact, report, off) or {{ action, placeholder }}");
        SecretAction? action = null;
        string? placeholder = null;
        foreach (var (k, v) in map.Children)
        {
            var key = Scalar(file, k, "a rule setting");
            if (key == "action") action = Action(file, v);
            else if (key == "placeholder") placeholder = Scalar(file, v, "a placeholder string");
            else throw Error(file, k, $"unknown setting '{key}' for kind '{kind}'{Suggest(key, RuleKeys)}; known: action, placeholder");
        }
        if (action is null) throw Error(file, node, $"kind '{kind}' needs an 'action' (drop, redact, report or off)");
        return new KindRule(action.Value, placeholder);
    }

    private static CustomRule Custom(string file, YamlNode node)
    {
        if (node is not YamlMappingNode map) throw Error(file, node, "each custom rule must be a mapping with kind, pattern and optionally action, placeholder");
        string? kind = null, pattern = null, placeholder = null;
        var action = SecretAction.Redact;
        YamlNode? patternNode = null;
        foreach (var (k, v) in map.Children)
        {
            var key = Scalar(file, k, "a custom-rule setting");
            switch (key)
            {
                case "kind": kind = Scalar(file, v, "a kind name"); break;
                case "pattern": pattern = Scalar(file, v, "a regular expression"); patternNode = v; break;
                case "action": action = Action(file, v); break;
                case "placeholder": placeholder = Scalar(file, v, "a placeholder string"); break;
                default: throw Error(file, k, $"unknown custom-rule setting '{key}'{Suggest(key, CustomKeys)}; known: {string.Join(", ", CustomKeys)}");
            }
        }
        if (string.IsNullOrWhiteSpace(kind)) throw Error(file, node, "custom rule needs a 'kind'");
        if (string.IsNullOrEmpty(pattern)) throw Error(file, node, $"custom rule '{kind}' needs a 'pattern'");
        try { _ = new Regex(pattern, RegexOptions.CultureInvariant); }
        catch (ArgumentException ex) { throw Error(file, patternNode!, $"custom rule '{kind}': the pattern is not a valid regular expression: {ex.Message}"); }
        return new CustomRule(kind, pattern, action, placeholder);
    }

    private static SecretAction Action(string file, YamlNode node)
    {
        var s = Scalar(file, node, "an action");
        return s switch
        {
            "drop" => SecretAction.Drop,
            "redact" => SecretAction.Redact,
            "report" => SecretAction.Report,
            "off" => SecretAction.Off,
            _ => throw Error(file, node, $"unknown action '{s}'{Suggest(s, ["drop", "redact", "report", "off"])}; use drop, redact, report or off"),
        };
    }

    private static IEnumerable<YamlNode> Sequence(string file, YamlNode node, string key) =>
        node as YamlSequenceNode ?? throw Error(file, node, $"'{key}' must be a list");

    private static string Scalar(string file, YamlNode node, string what) =>
        node is YamlScalarNode s && s.Value is not null ? s.Value : throw Error(file, node, $"expected {what} (a plain value)");

    private static double Number(string file, YamlNode node, string key)
    {
        var s = Scalar(file, node, "a number");
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
            throw Error(file, node, $"'{key}' must be a number, got '{s}'");
        return d;
    }

    private static SmeltException Error(string file, YamlNode node, string message) =>
        SmeltException.BadInput($"{file}:{node.Start.Line}: {message}");

    private static Exception Inner(Exception ex) => ex.InnerException is YamlException inner ? inner : ex;

    internal static string Suggest(string key, IEnumerable<string> known)
    {
        var best = known.Select(k => (k, d: Distance(key, k))).OrderBy(x => x.d).FirstOrDefault();
        return best.k is not null && best.d <= Math.Max(2, key.Length / 3) ? $" (did you mean '{best.k}'?)" : "";
    }

    private static int Distance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++) d[i, 0] = i;
        for (var j = 0; j <= b.Length; j++) d[0, j] = j;
        for (var i = 1; i <= a.Length; i++)
            for (var j = 1; j <= b.Length; j++)
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
        return d[a.Length, b.Length];
    }
}
