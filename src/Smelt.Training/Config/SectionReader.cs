using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Smelt.Training.Config;

/// <summary>Collects every config problem so the user sees all of them at once.</summary>
public sealed class ConfigErrors
{
    private readonly List<string> _errors = [];
    public IReadOnlyList<string> All => _errors;
    public void Add(string where, string key, string message) => _errors.Add($"{where}: {key}: {message}");
    public void AddRaw(string message) => _errors.Add(message);
}

/// <summary>
/// Reads the keys of one YAML mapping into typed values, checking each against its range, and at the end
/// reports keys nobody asked for as unknown (with a "did you mean" suggestion).
/// </summary>
public sealed class SectionReader
{
    private readonly YamlTree _tree;
    private readonly YamlMappingNode _map;
    private readonly string _prefix;
    private readonly ConfigErrors _errors;
    private readonly HashSet<string> _known = [];

    public SectionReader(YamlTree tree, YamlMappingNode map, string prefix, ConfigErrors errors)
    {
        _tree = tree;
        _map = map;
        _prefix = prefix;
        _errors = errors;
    }

    public YamlTree Tree => _tree;
    public ConfigErrors Errors => _errors;

    private string Key(string key) => _prefix.Length == 0 ? key : $"{_prefix}.{key}";

    public bool Has(string key)
    {
        _known.Add(key);
        return _map.Children.TryGetValue(new YamlScalarNode(key), out var n) && !IsNull(n);
    }

    private static bool IsNull(YamlNode n) => n is YamlScalarNode s && (s.Value is null || (s.Style == YamlDotNet.Core.ScalarStyle.Plain && s.Value is "" or "~" or "null"));

    private YamlNode? Node(string key)
    {
        _known.Add(key);
        return _map.Children.TryGetValue(new YamlScalarNode(key), out var n) && !IsNull(n) ? n : null;
    }

    private string? Scalar(string key, string expected)
    {
        var node = Node(key);
        if (node is null) return null;
        if (node is YamlScalarNode s) return s.Value;
        _errors.Add(_tree.Where(node), Key(key), $"expected {expected}, found a {(node is YamlSequenceNode ? "list" : "mapping")}");
        return null;
    }

    public string String(string key, string fallback, Func<string, string?>? check = null)
    {
        var v = Scalar(key, "a string");
        if (v is null) return fallback;
        var problem = check?.Invoke(v);
        if (problem is not null) { _errors.Add(_tree.Where(Node(key)!), Key(key), problem); return fallback; }
        return v;
    }

    public string? OptionalString(string key) => Scalar(key, "a string");

    public string Choice(string key, string fallback, params string[] allowed)
    {
        var v = Scalar(key, "one of " + string.Join(", ", allowed));
        if (v is null) return fallback;
        var lowered = v.ToLowerInvariant();
        if (allowed.Contains(lowered)) return lowered;
        var hint = DidYouMean.Suggest(lowered, allowed);
        _errors.Add(_tree.Where(Node(key)!), Key(key), $"'{v}' is not allowed; use one of {string.Join(", ", allowed)}{(hint is null ? "" : $" (did you mean '{hint}'?)")}");
        return fallback;
    }

    public int Int(string key, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var v = Scalar(key, "an integer");
        if (v is null) return fallback;
        if (!long.TryParse(v.Replace("_", ""), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed))
        {
            _errors.Add(_tree.Where(Node(key)!), Key(key), $"'{v}' is not an integer");
            return fallback;
        }
        if (parsed < min || parsed > max)
        {
            _errors.Add(_tree.Where(Node(key)!), Key(key), $"{parsed} is out of range; allowed {Range(min, max)}");
            return fallback;
        }
        return (int)parsed;
    }

    public long Long(string key, long fallback, long min = long.MinValue, long max = long.MaxValue)
    {
        var v = Scalar(key, "an integer");
        if (v is null) return fallback;
        if (!long.TryParse(v.Replace("_", ""), NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed))
        {
            _errors.Add(_tree.Where(Node(key)!), Key(key), $"'{v}' is not an integer");
            return fallback;
        }
        if (parsed < min || parsed > max)
        {
            _errors.Add(_tree.Where(Node(key)!), Key(key), $"{parsed} is out of range; allowed {min}..{max}");
            return fallback;
        }
        return parsed;
    }

    /// <summary>A number with an inclusive range; <paramref name="minExclusive"/> makes the lower bound strict (e.g. a learning rate &gt; 0).</summary>
    public double Double(string key, double fallback, double min = double.MinValue, double max = double.MaxValue, bool minExclusive = false)
    {
        var v = Scalar(key, "a number");
        if (v is null) return fallback;
        if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) || !double.IsFinite(parsed))
        {
            _errors.Add(_tree.Where(Node(key)!), Key(key), $"'{v}' is not a finite number");
            return fallback;
        }
        if (parsed < min || parsed > max || (minExclusive && parsed <= min))
        {
            var lower = minExclusive ? $"> {Fmt(min)}" : $">= {Fmt(min)}";
            var desc = max == double.MaxValue ? lower : $"{lower} and <= {Fmt(max)}";
            _errors.Add(_tree.Where(Node(key)!), Key(key), $"{Fmt(parsed)} is out of range; it must be {desc}");
            return fallback;
        }
        return parsed;
    }

    public bool Bool(string key, bool fallback)
    {
        var v = Scalar(key, "true or false");
        if (v is null) return fallback;
        switch (v.ToLowerInvariant())
        {
            case "true" or "yes" or "on": return true;
            case "false" or "no" or "off": return false;
            default:
                _errors.Add(_tree.Where(Node(key)!), Key(key), $"'{v}' is not true or false");
                return fallback;
        }
    }

    public IReadOnlyList<string> StringList(string key, IReadOnlyList<string> fallback)
    {
        var node = Node(key);
        if (node is null) return fallback;
        if (node is YamlScalarNode s)
            return s.Value!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (node is YamlSequenceNode seq)
        {
            var list = new List<string>();
            foreach (var item in seq.Children)
            {
                if (item is YamlScalarNode { Value: { } v }) list.Add(v);
                else _errors.Add(_tree.Where(item), Key(key), "every item must be a string");
            }
            return list;
        }
        _errors.Add(_tree.Where(node), Key(key), "expected a list of strings");
        return fallback;
    }

    public IReadOnlyDictionary<string, double> NumberMap(string key, double min, double max)
    {
        var node = Node(key);
        if (node is null) return new Dictionary<string, double>();
        if (node is not YamlMappingNode map)
        {
            _errors.Add(_tree.Where(node), Key(key), "expected a mapping of name: number");
            return new Dictionary<string, double>();
        }
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        var inner = new SectionReader(_tree, map, Key(key), _errors);
        foreach (var (k, _) in map.Children)
            if (k is YamlScalarNode { Value: { } name })
                result[name] = inner.Double(name, 1.0, min, max);
        return result;
    }

    /// <summary>A nested mapping; an absent key yields an empty mapping so defaults apply.</summary>
    public SectionReader Section(string key)
    {
        var node = Node(key);
        if (node is YamlMappingNode map) return new SectionReader(_tree, map, Key(key), _errors);
        if (node is not null)
            _errors.Add(_tree.Where(node), Key(key), "expected a mapping (a section of key: value lines)");
        return new SectionReader(_tree, new YamlMappingNode(), Key(key), _errors);
    }

    public IReadOnlyList<SectionReader> SectionList(string key)
    {
        var node = Node(key);
        if (node is null) return [];
        if (node is not YamlSequenceNode seq)
        {
            _errors.Add(_tree.Where(node), Key(key), "expected a list of mappings (each item starts with '- ')");
            return [];
        }
        var list = new List<SectionReader>();
        for (var i = 0; i < seq.Children.Count; i++)
        {
            if (seq.Children[i] is YamlMappingNode m) list.Add(new SectionReader(_tree, m, $"{Key(key)}.{i}", _errors));
            else _errors.Add(_tree.Where(seq.Children[i]), $"{Key(key)}.{i}", "expected a mapping");
        }
        return list;
    }

    /// <summary>The key path of this section (<c>data.sources.0</c>).</summary>
    public string Prefix => _prefix;

    /// <summary>"file:line" of a key, or of this section when the key is absent: for checks made after loading.</summary>
    public string WhereIs(string key) => Node(key) is { } n ? _tree.Where(n) : _tree.Where(_map);

    public void Error(string key, string message)
    {
        var node = Node(key);
        _errors.Add(node is null ? _tree.Where(_map) : _tree.Where(node), Key(key), message);
    }

    /// <summary>Call after reading every known key: anything left is a typo or an unsupported option.</summary>
    public void RejectUnknownKeys()
    {
        foreach (var (k, _) in _map.Children)
        {
            var name = (k as YamlScalarNode)?.Value ?? "?";
            if (_known.Contains(name)) continue;
            var hint = DidYouMean.Suggest(name, _known);
            var known = string.Join(", ", _known.Order(StringComparer.Ordinal));
            _errors.Add(_tree.WhereKey(_map, name), Key(name),
                hint is null ? $"unknown key; known keys here: {known}" : $"unknown key; did you mean '{hint}'? (known keys here: {known})");
        }
    }

    private static string Range(long min, long max) =>
        (min, max) switch
        {
            (int.MinValue, int.MaxValue) => "any integer",
            (_, int.MaxValue) => $">= {min}",
            _ => $"{min}..{max}",
        };

    private static string Fmt(double d) => d.ToString("G", CultureInfo.InvariantCulture);
}

public static class DidYouMean
{
    /// <summary>The closest candidate by edit distance, if it is close enough to be a plausible typo.</summary>
    public static string? Suggest(string input, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var c in candidates)
        {
            var d = Distance(input.ToLowerInvariant(), c.ToLowerInvariant());
            if (d < bestDistance) { bestDistance = d; best = c; }
        }
        if (best is null) return null;
        var limit = Math.Max(2, Math.Min(input.Length, best.Length) / 3);
        return bestDistance <= limit ? best : null;
    }

    public static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) prev[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
