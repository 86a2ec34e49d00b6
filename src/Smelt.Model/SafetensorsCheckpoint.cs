using System.Text.Json;
using System.Text.Json.Nodes;
using Smelt.Core;
using static TorchSharp.torch;

namespace Smelt.Model;

/// <summary>
/// The weights of a Hugging Face model directory: <c>model.safetensors</c>, or shards listed in
/// <c>model.safetensors.index.json</c> (<c>weight_map</c>: tensor name → shard file).
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";
    private static readonly string[] PickleExtensions = [".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"];

    private readonly Dictionary<string, SafetensorsFile> _byTensor;
    private readonly List<SafetensorsFile> _files;

    public string Directory { get; }
    public IReadOnlyCollection<string> Names => _byTensor.Keys;
    public IReadOnlyList<SafetensorsFile> Files => _files;

    private SafetensorsCheckpoint(string directory, List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> byTensor)
    {
        Directory = directory; _files = files; _byTensor = byTensor;
    }

    public static SafetensorsCheckpoint Open(string directory)
    {
        var single = Path.Combine(directory, SingleFile);
        var index = Path.Combine(directory, IndexFile);
        if (File.Exists(single))
        {
            var f = SafetensorsFile.Open(single);
            return new SafetensorsCheckpoint(directory, [f], f.Entries.Keys.ToDictionary(k => k, _ => f, StringComparer.Ordinal));
        }
        if (!File.Exists(index))
        {
            var pickles = System.IO.Directory.Exists(directory)
                ? System.IO.Directory.EnumerateFiles(directory).Select(Path.GetFileName).Where(n => PickleExtensions.Any(e => n!.EndsWith(e, StringComparison.OrdinalIgnoreCase))).ToArray()
                : [];
            if (pickles.Length > 0)
                throw SmeltException.BadInput($"{directory}: only pickle-based weights ({string.Join(", ", pickles.Take(3))}) and no safetensors. " +
                    "Smelt never loads pickle files: unpickling can run arbitrary code. Convert them on a machine you trust, e.g. " +
                    "`AutoModelForCausalLM.from_pretrained(dir).save_pretrained(out, safe_serialization=True)`, and point Smelt at the result.");
            throw SmeltException.BadInput($"{directory}: no {SingleFile} and no {IndexFile}; a model directory needs one of them");
        }
        var weightMap = ReadIndex(index);
        var files = new List<SafetensorsFile>();
        var byTensor = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var shardName in weightMap.Values.Distinct().Order(StringComparer.Ordinal))
            {
                var shardPath = SafePath.Combine(directory, shardName);
                if (!File.Exists(shardPath)) throw SmeltException.BadInput($"{index}: shard '{shardName}' is listed but {shardPath} does not exist");
                files.Add(SafetensorsFile.Open(shardPath));
            }
            var byName = files.ToDictionary(f => Path.GetFileName(f.Path), StringComparer.Ordinal);
            foreach (var (tensor, shardName) in weightMap)
            {
                var shard = byName[Path.GetFileName(SafePath.Combine(directory, shardName))];
                if (!shard.Entries.ContainsKey(tensor))
                    throw SmeltException.BadInput($"{index}: tensor '{tensor}' is mapped to {shardName}, which does not contain it");
                byTensor[tensor] = shard;
            }
            foreach (var f in files)
                foreach (var name in f.Entries.Keys)
                    if (!byTensor.ContainsKey(name))
                        throw SmeltException.BadInput($"{index}: {Path.GetFileName(f.Path)} holds tensor '{name}', which the weight_map does not list");
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
        return new SafetensorsCheckpoint(directory, files, byTensor);
    }

    private static Dictionary<string, string> ReadIndex(string index)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(index));
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw SmeltException.BadInput($"{index}: missing object 'weight_map'");
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String) throw SmeltException.BadInput($"{index}: weight_map.{p.Name} must be a file name");
                result[p.Name] = p.Value.GetString()!;
            }
            return result;
        }
        catch (JsonException ex)
        {
            throw SmeltException.BadInput($"{index}: not valid JSON: {ex.Message}");
        }
    }

    public bool Contains(string name) => _byTensor.ContainsKey(name);

    public SafetensorsEntry Entry(string name) => FileOf(name).Entry(name);

    public Tensor Read(string name) => FileOf(name).Read(name);

    public void CopyInto(string name, Tensor destination) => FileOf(name).CopyInto(name, destination);

    private SafetensorsFile FileOf(string name) =>
        _byTensor.TryGetValue(name, out var f) ? f
            : throw SmeltException.BadInput($"{Directory}: the weights have no tensor named '{name}'");

    /// <summary>
    /// Writes tensors as one <c>model.safetensors</c>, or, when they exceed <paramref name="maxShardBytes"/>, as
    /// <c>model-0000N-of-0000M.safetensors</c> shards plus the index. Tensors are assigned to shards in name order.
    /// </summary>
    public static void Write(string directory, IReadOnlyList<(string Name, Tensor Tensor)> tensors, long maxShardBytes = long.MaxValue,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        System.IO.Directory.CreateDirectory(directory);
        metadata ??= new Dictionary<string, string> { ["format"] = "pt" };
        var ordered = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        long Bytes(Tensor t) => t.numel() * t.element_size();
        var shards = new List<List<(string, Tensor)>> { new() };
        long current = 0;
        foreach (var t in ordered)
        {
            var size = Bytes(t.Tensor);
            if (shards[^1].Count > 0 && current + size > maxShardBytes) { shards.Add([]); current = 0; }
            shards[^1].Add(t);
            current += size;
        }
        if (shards.Count == 1)
        {
            SafetensorsWriter.Write(Path.Combine(directory, SingleFile), shards[0], metadata);
            return;
        }
        var weightMap = new JsonObject();
        for (var i = 0; i < shards.Count; i++)
        {
            var name = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            SafetensorsWriter.Write(Path.Combine(directory, name), shards[i], metadata);
            foreach (var (tensor, _) in shards[i]) weightMap[tensor] = name;
        }
        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = ordered.Sum(t => Bytes(t.Tensor)) },
            ["weight_map"] = weightMap,
        };
        AtomicFile.WriteAllText(Path.Combine(directory, IndexFile), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }
}
