using System.Globalization;
using Smelt.Core;
using Smelt.Training.Config;
using YamlDotNet.RepresentationModel;

namespace Smelt.Workflow;

/// <summary>
/// Reads the YAML files of <c>smelt sweep</c> and <c>smelt expert-iteration</c>: typed keys with range checks, unknown keys
/// rejected with a did-you-mean, every problem reported together with its file:line before anything runs.
/// </summary>
internal sealed class Spec
{
    private readonly YamlMappingNode _map;
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);
    private readonly List<string> _errors;
    private readonly string _prefix;

    public string File { get; }
    public string Directory => Path.GetDirectoryName(Path.GetFullPath(File))!;

    private Spec(string file, YamlMappingNode map, List<string> errors, string prefix)
    {
        File = file; _map = map; _errors = errors; _prefix = prefix;
    }

    public static Spec Load(string path)
    {
        if (!System.IO.File.Exists(path)) throw SmeltException.BadInput($"--config {path}: file not found");
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            stream.Load(reader);
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            throw SmeltException.BadInput($"{path}:{ex.Start.Line}: not valid YAML: {ex.Message}");
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
            throw SmeltException.BadInput($"{path}: expected a mapping of keys at the top level");
        return new Spec(path, root, [], "");
    }

    private string Where(YamlNode node) => $"{File}:{node.Start.Line}";

    private YamlNode? Node(string key)
    {
        _read.Add(key);
        return _map.Children.TryGetValue(new YamlScalarNode(key), out var n) ? n : null;
    }

    public bool Has(string key) => _map.Children.ContainsKey(new YamlScalarNode(key));

    public void Error(string key, string message)
    {
        var n = _map.Children.TryGetValue(new YamlScalarNode(key), out var v) ? v : _map;
        _errors.Add($"{Where(n)}: {_prefix}{key}: {message}");
    }

    public string? OptString(string key)
    {
        var n = Node(key);
        if (n is null) return null;
        if (n is YamlScalarNode s) return s.Value;
        _errors.Add($"{Where(n)}: {_prefix}{key}: expected a single value");
        return null;
    }

    public string String(string key, string fallback) => OptString(key) ?? fallback;

    public string Choice(string key, string fallback, params string[] allowed)
    {
        var v = String(key, fallback);
        if (!allowed.Contains(v)) Error(key, $"'{v}' is not one of {string.Join(", ", allowed)}");
        return v;
    }

    public int Int(string key, int fallback, int min, int max = int.MaxValue)
    {
        var s = OptString(key);
        if (s is null) return fallback;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)) { Error(key, $"'{s}' is not an integer"); return fallback; }
        if (v < min || v > max) { Error(key, $"{v} is out of range [{min}, {(max == int.MaxValue ? "∞" : max)}]"); return fallback; }
        return v;
    }

    public double Double(string key, double fallback, double min, double max)
    {
        var s = OptString(key);
        if (s is null) return fallback;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v)) { Error(key, $"'{s}' is not a number"); return fallback; }
        if (v < min || v > max) { Error(key, $"{v} is out of range [{min}, {max}]"); return fallback; }
        return v;
    }

    public bool Bool(string key, bool fallback)
    {
        var s = OptString(key);
        if (s is null) return fallback;
        if (s is "true" or "false") return s == "true";
        Error(key, $"'{s}' is not true or false");
        return fallback;
    }

    /// <summary>A path relative to the spec file's directory (absolute paths kept).</summary>
    public string? OptPath(string key) => OptString(key) is { } p ? Path.GetFullPath(Path.Combine(Directory, p)) : null;

    public IReadOnlyList<string> StringList(string key)
    {
        var n = Node(key);
        if (n is null) return [];
        if (n is YamlSequenceNode seq && seq.All(x => x is YamlScalarNode)) return seq.Cast<YamlScalarNode>().Select(x => x.Value ?? "").ToList();
        _errors.Add($"{Where(n)}: {_prefix}{key}: expected a list of strings");
        return [];
    }

    public Spec Section(string key)
    {
        var n = Node(key);
        if (n is null) return new Spec(File, new YamlMappingNode(), _errors, _prefix + key + ".");
        if (n is YamlMappingNode m) return new Spec(File, m, _errors, _prefix + key + ".");
        _errors.Add($"{Where(n)}: {_prefix}{key}: expected a mapping");
        return new Spec(File, new YamlMappingNode(), _errors, _prefix + key + ".");
    }

    /// <summary>Raw entries of a mapping (key, node, file:line), for free-form keys such as sweep parameters.</summary>
    public IEnumerable<(string Key, YamlNode Value, string Where)> Entries(string key)
    {
        var n = Node(key);
        if (n is null) yield break;
        if (n is not YamlMappingNode m) { _errors.Add($"{Where(n)}: {_prefix}{key}: expected a mapping"); yield break; }
        foreach (var (k, v) in m.Children)
            yield return (((YamlScalarNode)k).Value ?? "", v, Where(k));
    }

    public void AddRaw(string message) => _errors.Add(message);

    public void RejectUnknownKeys()
    {
        foreach (var (k, _) in _map.Children)
        {
            var name = (k as YamlScalarNode)?.Value ?? "";
            if (_read.Contains(name)) continue;
            var hint = DidYouMean.Suggest(name, _read);
            _errors.Add($"{Where(k)}: unknown key '{_prefix}{name}'{(hint is null ? "" : $" (did you mean '{_prefix}{hint}'?)")}; known keys: {string.Join(", ", _read.Order())}");
        }
    }

    public void ThrowIfErrors(string what)
    {
        if (_errors.Count > 0)
            throw SmeltException.BadInput($"{_errors.Count} problem(s) in the {what} config:\n  " + string.Join("\n  ", _errors));
    }

    public static string Scalar(YamlNode n) => (n as YamlScalarNode)?.Value ?? n.ToString();

    /// <summary>A YAML value written back as flow text for a <c>--set key=value</c> override.</summary>
    public static string FlowText(YamlNode n) => n switch
    {
        YamlScalarNode s => s.Value ?? "",
        YamlSequenceNode q => "[" + string.Join(", ", q.Select(FlowText)) + "]",
        YamlMappingNode m => "{" + string.Join(", ", m.Children.Select(kv => FlowText(kv.Key) + ": " + FlowText(kv.Value))) + "}",
        _ => n.ToString(),
    };
}
