using Microsoft.Win32.SafeHandles;
using System.Text;
using System.Text.Json;
using Smelt.Core;
using TorchSharp;
using static TorchSharp.torch;

namespace Smelt.Model;

/// <summary>The element types a safetensors header may name, with their sizes and torch equivalents.</summary>
public static class SafetensorsDType
{
    private static readonly Dictionary<string, (int Size, ScalarType Torch)> Known = new(StringComparer.Ordinal)
    {
        ["F32"] = (4, ScalarType.Float32),
        ["F16"] = (2, ScalarType.Float16),
        ["BF16"] = (2, ScalarType.BFloat16),
        ["F64"] = (8, ScalarType.Float64),
        ["I64"] = (8, ScalarType.Int64),
        ["I32"] = (4, ScalarType.Int32),
        ["I16"] = (2, ScalarType.Int16),
        ["I8"] = (1, ScalarType.Int8),
        ["U8"] = (1, ScalarType.Byte),
        ["BOOL"] = (1, ScalarType.Bool),
    };

    public static bool IsKnown(string name) => Known.ContainsKey(name);
    public static int Size(string name) => Known[name].Size;
    public static ScalarType ToTorch(string name) => Known[name].Torch;

    public static string FromTorch(ScalarType type)
    {
        foreach (var (name, info) in Known)
            if (info.Torch == type) return name;
        throw new ArgumentException($"dtype {type} cannot be stored in safetensors by Smelt");
    }

    public static string KnownList => string.Join(", ", Known.Keys);
}

/// <summary>One tensor's entry in a safetensors header. <see cref="Begin"/>/<see cref="End"/> are relative to the data section.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

/// <summary>
/// A safetensors file whose header has been fully validated on open: every offset lies inside the file, entries do not
/// overlap and leave no holes, and each byte length equals shape × dtype size. Tensor data is streamed with positional
/// reads straight into the destination tensor's memory, so loading never holds a second copy of the weights (no
/// managed buffer, and no mapping whose pages would count against the process).
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    /// <summary>Headers beyond this size are refused (the reference implementation uses the same limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly SafeFileHandle _handle;
    private readonly long _dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafetensorsFile(string path, SafeFileHandle handle, long dataStart,
        Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path; _handle = handle; _dataStart = dataStart; Entries = entries; Metadata = metadata;
    }

    public static SafetensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw SmeltException.BadInput($"{path}: file not found");
        var length = new FileInfo(path).Length;
        if (length < 8) throw Bad(path, $"file is {length} bytes, too short for a safetensors header (truncated?)");
        byte[] headerBytes;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            Span<byte> lenBytes = stackalloc byte[8];
            fs.ReadExactly(lenBytes);
            var headerLen = BitConverter.ToUInt64(lenBytes);
            if (headerLen > MaxHeaderBytes) throw Bad(path, $"header length {headerLen} exceeds the {MaxHeaderBytes}-byte limit (not a safetensors file?)");
            if ((long)headerLen > length - 8) throw Bad(path, $"header length {headerLen} runs past the end of the {length}-byte file (truncated?)");
            headerBytes = new byte[headerLen];
            fs.ReadExactly(headerBytes);
        }
        var dataStart = 8 + headerBytes.LongLength;
        var dataLength = length - dataStart;
        var (entries, metadata) = ParseHeader(path, headerBytes, dataLength);
        return new SafetensorsFile(path, File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read), dataStart, entries, metadata);
    }

    private static (Dictionary<string, SafetensorsEntry>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        JsonDocument doc;
        try
        {
            var text = new UTF8Encoding(false, true).GetString(header);
            doc = JsonDocument.Parse(text.TrimEnd(' '));
        }
        catch (Exception ex) when (ex is JsonException or DecoderFallbackException)
        {
            throw Bad(path, $"header is not valid UTF-8 JSON: {ex.Message}");
        }
        using var _ = doc;
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad(path, "header is not a JSON object");
        var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (prop.Name == "__metadata__")
            {
                if (prop.Value.ValueKind != JsonValueKind.Object) throw Bad(path, "__metadata__ must be an object of strings");
                foreach (var m in prop.Value.EnumerateObject())
                {
                    if (m.Value.ValueKind != JsonValueKind.String) throw Bad(path, $"__metadata__.{m.Name} must be a string");
                    metadata[m.Name] = m.Value.GetString()!;
                }
                continue;
            }
            entries[prop.Name] = ParseEntry(path, prop.Name, prop.Value, dataLength);
        }
        long expected = 0;
        SafetensorsEntry? previous = null;
        foreach (var e in entries.Values.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin < expected)
                throw Bad(path, $"tensor '{e.Name}' (bytes {e.Begin}..{e.End}) overlaps tensor '{previous!.Name}' (bytes {previous.Begin}..{previous.End})");
            if (e.Begin > expected)
                throw Bad(path, $"bytes {expected}..{e.Begin} of the data section belong to no tensor (a hole before '{e.Name}')");
            expected = e.End;
            previous = e;
        }
        if (expected != dataLength)
            throw Bad(path, $"the header describes {expected} bytes of tensor data but the file holds {dataLength}");
        return (entries, metadata);
    }

    private static SafetensorsEntry ParseEntry(string path, string name, JsonElement value, long dataLength)
    {
        string Where() => $"tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object) throw Bad(path, $"{Where()}: entry is not an object");
        if (!value.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Bad(path, $"{Where()}: missing string 'dtype'");
        var dtype = dt.GetString()!;
        if (!SafetensorsDType.IsKnown(dtype)) throw Bad(path, $"{Where()}: unsupported dtype '{dtype}' (known: {SafetensorsDType.KnownList})");
        if (!value.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw Bad(path, $"{Where()}: missing array 'shape'");
        var shape = new List<long>();
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var n) || n < 0)
                throw Bad(path, $"{Where()}: shape must hold non-negative integers, found {d.GetRawText()}");
            shape.Add(n);
        }
        if (!value.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad(path, $"{Where()}: 'data_offsets' must be [begin, end]");
        var begin = off[0].TryGetInt64(out var b) ? b : -1;
        var end = off[1].TryGetInt64(out var en) ? en : -1;
        if (begin < 0 || end < begin) throw Bad(path, $"{Where()}: invalid data_offsets [{off[0].GetRawText()}, {off[1].GetRawText()}]");
        if (end > dataLength)
            throw Bad(path, $"{Where()}: data_offsets end at byte {end} but the data section holds only {dataLength} bytes (truncated file or lying header)");
        long elements;
        try { elements = shape.Aggregate(1L, (a, x) => checked(a * x)); elements = checked(elements * SafetensorsDType.Size(dtype)); }
        catch (OverflowException) { throw Bad(path, $"{Where()}: shape [{string.Join(", ", shape)}] is too large"); }
        if (elements != end - begin)
            throw Bad(path, $"{Where()}: shape [{string.Join(", ", shape)}] of {dtype} needs {elements} bytes but data_offsets span {end - begin}");
        return new SafetensorsEntry(name, dtype, [.. shape], begin, end);
    }

    private static SmeltException Bad(string path, string what) => SmeltException.BadInput($"{path}: {what}");

    public SafetensorsEntry Entry(string name) =>
        Entries.TryGetValue(name, out var e) ? e : throw Bad(Path, $"no tensor named '{name}'");

    /// <summary>Reads a tensor into a new CPU tensor of the stored dtype.</summary>
    public Tensor Read(string name)
    {
        var e = Entry(name);
        var t = empty(e.Shape, SafetensorsDType.ToTorch(e.DType));
        CopyBytes(e, t);
        return t;
    }

    /// <summary>
    /// Copies a tensor into <paramref name="destination"/> (same shape; any floating dtype and device). When dtypes match on CPU
    /// the bytes go straight from the mapping into the destination's storage; otherwise one temporary of this tensor's size is used.
    /// </summary>
    public void CopyInto(string name, Tensor destination)
    {
        var e = Entry(name);
        if (!destination.shape.SequenceEqual(e.Shape))
            throw Bad(Path, $"tensor '{name}' has shape [{string.Join(", ", e.Shape)}] but the model expects [{string.Join(", ", destination.shape)}] (config.json does not match the weights?)");
        using var noGrad = no_grad();
        if (destination.dtype == SafetensorsDType.ToTorch(e.DType) && destination.device_type == DeviceType.CPU && destination.is_contiguous())
        {
            CopyBytes(e, destination);
            return;
        }
        using var tmp = Read(name);
        destination.copy_(tmp);
    }

    private void CopyBytes(SafetensorsEntry e, Tensor destination)
    {
        if (e.ByteLength == 0) return;
        if (e.ByteLength > int.MaxValue) throw Bad(Path, $"tensor '{e.Name}' is larger than 2 GiB, which Smelt does not load");
        var target = destination.bytes; // a view of the (contiguous, CPU) tensor's own memory
        if (target.Length != e.ByteLength)
            throw new InvalidOperationException($"tensor '{e.Name}': destination holds {target.Length} bytes, the file {e.ByteLength}");
        var done = 0;
        while (done < target.Length)
        {
            var n = RandomAccess.Read(_handle, target[done..], _dataStart + e.Begin + done);
            if (n == 0) throw Bad(Path, $"tensor '{e.Name}': the file ended early (truncated while open?)");
            done += n;
        }
    }

    public void Dispose() => _handle.Dispose();
}

/// <summary>Writes safetensors files: tensors in name order, header padded with spaces to an 8-byte boundary.</summary>
public static class SafetensorsWriter
{
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var duplicate = list.GroupBy(t => t.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"tensor name '{duplicate.Key}' appears twice");
        var header = BuildHeader(list, metadata);
        AtomicFile.Write(path, tmp =>
        {
            using var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
            fs.Write(BitConverter.GetBytes((ulong)header.Length));
            fs.Write(header);
            foreach (var (_, t) in list)
            {
                using var cpu = t.detach().cpu().contiguous();
                fs.Write(cpu.bytes);
            }
        });
    }

    private static byte[] BuildHeader(List<(string Name, Tensor Tensor)> list, IReadOnlyDictionary<string, string>? metadata)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(k, v);
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in list)
            {
                var dtype = SafetensorsDType.FromTorch(t.dtype);
                var bytes = t.numel() * SafetensorsDType.Size(dtype);
                w.WriteStartObject(name);
                w.WriteString("dtype", dtype);
                w.WriteStartArray("shape");
                foreach (var d in t.shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
        }
        var json = ms.ToArray();
        var padded = (json.Length + 7) / 8 * 8;
        var header = new byte[padded];
        json.CopyTo(header, 0);
        header.AsSpan(json.Length).Fill((byte)' ');
        return header;
    }
}
