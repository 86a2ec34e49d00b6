using Smelt.Core;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Smelt.Training.Config;

/// <summary>
/// The parsed YAML document plus where every node came from (a file line, or a <c>--set</c> override),
/// so that every validation error can name its origin.
/// </summary>
public sealed class YamlTree
{
    private readonly Dictionary<YamlNode, string> _origins = new(ReferenceEqualityComparer.Instance);

    public YamlTree(string file, YamlMappingNode root)
    {
        File = file;
        Root = root;
    }

    public string File { get; }
    public YamlMappingNode Root { get; }

    public static YamlTree Load(string path)
    {
        if (!System.IO.File.Exists(path))
            throw SmeltException.BadInput($"{path}: config file not found");
        return Parse(System.IO.File.ReadAllText(path), path);
    }

    public static YamlTree Parse(string text, string name)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            throw SmeltException.BadInput($"{name}:{ex.Start.Line}: invalid YAML: {Inner(ex).Message}");
        }
        if (stream.Documents.Count == 0)
            return new YamlTree(name, new YamlMappingNode());
        if (stream.Documents[0].RootNode is YamlScalarNode { Value: null or "" })
            return new YamlTree(name, new YamlMappingNode());
        if (stream.Documents[0].RootNode is not YamlMappingNode map)
            throw SmeltException.BadInput($"{name}:{stream.Documents[0].RootNode.Start.Line}: the config must be a mapping of sections (model:, data:, lora:, train:, ...)");
        return new YamlTree(name, map);
    }

    private static Exception Inner(Exception ex) => ex.InnerException is YamlException inner ? Inner(inner) : ex;

    /// <summary>"file:line" for nodes from the file, "--set key=value" for overridden ones.</summary>
    public string Where(YamlNode node) =>
        _origins.TryGetValue(node, out var origin) ? origin : $"{File}:{node.Start.Line}";

    /// <summary>Where a mapping key is; used for unknown keys.</summary>
    public string WhereKey(YamlMappingNode map, string key)
    {
        foreach (var (k, v) in map.Children)
            if (k is YamlScalarNode s && s.Value == key)
                return _origins.ContainsKey(v) ? _origins[v] : $"{File}:{k.Start.Line}";
        return Where(map);
    }

    /// <summary>
    /// Applies <c>a.b.c=value</c>. The value is parsed as YAML (so <c>[q_proj,v_proj]</c> is a list and <c>1e-4</c> a number).
    /// Numeric path segments index into lists (<c>phases.1.train.lr=1e-5</c>). Unknown keys are left for validation to reject.
    /// </summary>
    public void ApplyOverride(string assignment)
    {
        var eq = assignment.IndexOf('=');
        if (eq <= 0)
            throw SmeltException.BadInput($"--set {assignment}: expected key=value, e.g. --set train.lr=1e-4");
        var path = assignment[..eq].Trim();
        var valueText = assignment[(eq + 1)..];
        var segments = path.Split('.');
        if (segments.Any(s => s.Length == 0))
            throw SmeltException.BadInput($"--set {assignment}: malformed key '{path}' (use dots between names, e.g. train.lr)");

        YamlNode value;
        try
        {
            var parsed = Parse("v: " + valueText, "--set");
            value = parsed.Root.Children[new YamlScalarNode("v")];
        }
        catch (SmeltException)
        {
            value = new YamlScalarNode(valueText);
        }
        var origin = $"--set {assignment}";
        Mark(value, origin);

        YamlNode current = Root;
        for (var i = 0; i < segments.Length; i++)
        {
            var last = i == segments.Length - 1;
            var seg = segments[i];
            switch (current)
            {
                case YamlMappingNode map:
                {
                    var key = new YamlScalarNode(seg);
                    if (last) { map.Children[key] = value; return; }
                    if (!map.Children.TryGetValue(key, out var next) || next is YamlScalarNode { Value: null or "" })
                    {
                        next = int.TryParse(segments[i + 1], out _) ? new YamlSequenceNode() : new YamlMappingNode();
                        Mark(next, origin);
                        map.Children[key] = next;
                    }
                    current = next;
                    break;
                }
                case YamlSequenceNode seq:
                {
                    if (!int.TryParse(seg, out var index) || index < 0 || index > seq.Children.Count)
                        throw SmeltException.BadInput($"--set {assignment}: '{seg}' is not a valid index into the list at '{string.Join('.', segments[..i])}' (it has {seq.Children.Count} items)");
                    if (index == seq.Children.Count)
                    {
                        var fresh = new YamlMappingNode();
                        Mark(fresh, origin);
                        seq.Children.Add(fresh);
                    }
                    if (last) { seq.Children[index] = value; return; }
                    current = seq.Children[index];
                    break;
                }
                default:
                    throw SmeltException.BadInput($"--set {assignment}: '{string.Join('.', segments[..i])}' is a single value, not a section, so '{seg}' cannot be set under it");
            }
        }
    }

    private void Mark(YamlNode node, string origin)
    {
        _origins[node] = origin;
        switch (node)
        {
            case YamlMappingNode m:
                foreach (var (k, v) in m.Children) { _origins[k] = origin; Mark(v, origin); }
                break;
            case YamlSequenceNode s:
                foreach (var c in s.Children) Mark(c, origin);
                break;
        }
    }
}
