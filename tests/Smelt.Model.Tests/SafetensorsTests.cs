using System.Text;
using System.Text.Json;
using Smelt.Core;
using Smelt.Model;
using static TorchSharp.torch;

namespace Smelt.Model.Tests;

public sealed class SafetensorsTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("smelt-st-");
    public SafetensorsTests() => TorchRuntime.EnsureLoaded();
    public void Dispose() => _dir.Delete(true);
    private string P(string name) => Path.Combine(_dir.FullName, name);

    private static List<(string, Tensor)> Sample()
    {
        var g = manual_seed(7);
        var bf = randn(3, 5).to(ScalarType.BFloat16);
        var f16 = randn(4, 2, 3).to(ScalarType.Float16);
        var f32 = randn(6);
        f32[2] = tensor(float.NaN);
        f32[3] = tensor(float.NegativeInfinity);
        return [("b.weight", bf), ("a.bias", f16), ("z.f32", f32), ("empty", zeros(0, 4)), ("scalar", tensor(3.5f))];
    }

    [Fact]
    public void Round_trip_is_bit_identical_and_rewriting_gives_the_same_file()
    {
        var tensors = Sample();
        SafetensorsWriter.Write(P("a.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        using (var f = SafetensorsFile.Open(P("a.safetensors")))
        {
            Assert.Equal("pt", f.Metadata["format"]);
            foreach (var (name, t) in tensors)
            {
                using var back = f.Read(name);
                Assert.Equal(t.dtype, back.dtype);
                Assert.Equal(t.shape, back.shape);
                Assert.Equal(t.bytes.ToArray(), back.bytes.ToArray());
            }
            SafetensorsWriter.Write(P("b.safetensors"), f.Entries.Keys.Select(n => (n, f.Read(n))).ToList(), f.Metadata);
        }
        Assert.Equal(File.ReadAllBytes(P("a.safetensors")), File.ReadAllBytes(P("b.safetensors")));
    }

    [Fact]
    public void Header_is_8_byte_aligned_space_padded_and_sorted()
    {
        SafetensorsWriter.Write(P("a.safetensors"), Sample());
        var bytes = File.ReadAllBytes(P("a.safetensors"));
        var n = (long)BitConverter.ToUInt64(bytes, 0);
        Assert.Equal(0, n % 8);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.StartsWith("{", header);
        Assert.Matches("} *$", header);
        using var doc = JsonDocument.Parse(header);
        var names = doc.RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal).ToList(), names);
        var bf = doc.RootElement.GetProperty("b.weight");
        Assert.Equal("BF16", bf.GetProperty("dtype").GetString());
        Assert.Equal(new long[] { 3, 5 }, bf.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray());
    }

    [Fact]
    public void Reads_a_file_built_by_hand_to_the_specification()
    {
        // Two tensors written by hand: an F32 [2] = {1, -2} and a BF16 [1] = 1.0 (0x3F80).
        var json = "{\"__metadata__\":{\"k\":\"v\"},\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"y\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[8,10]}}";
        var data = new List<byte>();
        data.AddRange(BitConverter.GetBytes(1f));
        data.AddRange(BitConverter.GetBytes(-2f));
        data.AddRange([0x80, 0x3F]);
        WriteRaw(P("h.safetensors"), json, data.ToArray());
        using var f = SafetensorsFile.Open(P("h.safetensors"));
        Assert.Equal(new float[] { 1, -2 }, f.Read("x").data<float>().ToArray());
        Assert.Equal(1.0f, f.Read("y").to(ScalarType.Float32).item<float>());
        Assert.Equal("v", f.Metadata["k"]);
    }

    [Theory]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8, "data section holds only 8 bytes")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes but data_offsets span 8")]
    [InlineData("{\"x\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "needs 4 bytes")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "overlaps")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "belong to no tensor")]
    [InlineData("{\"x\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "unsupported dtype 'Q4'")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "non-negative")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, "invalid data_offsets")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets")]
    [InlineData("{\"x\": [1,2", 4, "not valid UTF-8 JSON")]
    [InlineData("[1,2]", 0, "not a JSON object")]
    public void Lying_or_corrupt_headers_are_rejected_with_the_file_and_tensor_named(string json, int dataBytes, string expected)
    {
        WriteRaw(P("bad.safetensors"), json, new byte[dataBytes]);
        var ex = Assert.Throws<SmeltException>(() => SafetensorsFile.Open(P("bad.safetensors")));
        Assert.Contains(P("bad.safetensors"), ex.Message);
        Assert.Contains(expected, ex.Message);
        Assert.Equal(ExitCodes.BadInput, ex.ExitCode);
    }

    [Fact]
    public void Truncated_file_is_rejected()
    {
        SafetensorsWriter.Write(P("a.safetensors"), Sample());
        var bytes = File.ReadAllBytes(P("a.safetensors"));
        foreach (var cut in new[] { 3, 20, bytes.Length - 1 })
        {
            File.WriteAllBytes(P("t.safetensors"), bytes[..cut]);
            var ex = Assert.Throws<SmeltException>(() => SafetensorsFile.Open(P("t.safetensors")));
            Assert.Contains("t.safetensors", ex.Message);
            Assert.Contains("truncated", ex.Message);
        }
    }

    [Fact]
    public void Huge_header_length_is_rejected_before_reading()
    {
        File.WriteAllBytes(P("h.safetensors"), BitConverter.GetBytes(ulong.MaxValue - 3));
        var ex = Assert.Throws<SmeltException>(() => SafetensorsFile.Open(P("h.safetensors")));
        Assert.Contains("exceeds", ex.Message);
    }

    [Fact]
    public void Sharded_checkpoint_round_trips_with_an_index()
    {
        var tensors = Enumerable.Range(0, 6).Select(i => ($"layer.{i}.w", randn(16, 16).to(i % 2 == 0 ? ScalarType.BFloat16 : ScalarType.Float32))).ToList();
        var dir = P("sharded");
        SafetensorsCheckpoint.Write(dir, tensors, maxShardBytes: 1500);
        Assert.False(File.Exists(Path.Combine(dir, "model.safetensors")));
        var shards = Directory.GetFiles(dir, "model-*-of-*.safetensors").Select(Path.GetFileName).Order().ToArray();
        Assert.True(shards.Length >= 3, $"expected several shards, got {shards.Length}");
        Assert.Equal($"model-00001-of-{shards.Length:D5}.safetensors", shards[0]);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, SafetensorsCheckpoint.IndexFile)));
        Assert.Equal(tensors.Sum(t => t.Item2.numel() * t.Item2.element_size()), doc.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        using var ck = SafetensorsCheckpoint.Open(dir);
        Assert.Equal(tensors.Count, ck.Names.Count);
        foreach (var (name, t) in tensors)
            Assert.Equal(t.bytes.ToArray(), ck.Read(name).bytes.ToArray());
        // CopyInto converts dtype when the destination differs.
        using var dest = zeros(16, 16, dtype: ScalarType.Float32);
        ck.CopyInto("layer.0.w", dest);
        Assert.Equal(tensors[0].Item2.to(ScalarType.Float32).bytes.ToArray(), dest.bytes.ToArray());
    }

    [Fact]
    public void Index_naming_a_missing_shard_or_tensor_is_reported()
    {
        var dir = P("sharded");
        SafetensorsCheckpoint.Write(dir, [("a", randn(64)), ("b", randn(64))], maxShardBytes: 300);
        var indexPath = Path.Combine(dir, SafetensorsCheckpoint.IndexFile);
        var original = File.ReadAllText(indexPath);

        File.WriteAllText(indexPath, original.Replace("model-00002-of-00002", "model-00009-of-00002"));
        var ex = Assert.Throws<SmeltException>(() => SafetensorsCheckpoint.Open(dir));
        Assert.Contains("model-00009-of-00002.safetensors", ex.Message);
        Assert.Contains("does not exist", ex.Message);

        File.WriteAllText(indexPath, original.Replace("\"b\"", "\"c\""));
        ex = Assert.Throws<SmeltException>(() => SafetensorsCheckpoint.Open(dir));
        Assert.Contains("'c'", ex.Message);

        File.WriteAllText(indexPath, original.Replace("model-00002-of-00002", "../../etc/passwd"));
        ex = Assert.Throws<SmeltException>(() => SafetensorsCheckpoint.Open(dir));
        Assert.Contains("unsafe", ex.Message);

        File.WriteAllText(indexPath, "{ not json");
        ex = Assert.Throws<SmeltException>(() => SafetensorsCheckpoint.Open(dir));
        Assert.Contains(SafetensorsCheckpoint.IndexFile, ex.Message);
    }

    [Fact]
    public void A_directory_with_only_pickle_weights_is_refused_and_never_read()
    {
        var dir = P("pickled");
        Directory.CreateDirectory(dir);
        // Not a real pickle: it must not be opened at all, so its content does not matter.
        File.WriteAllText(Path.Combine(dir, "pytorch_model.bin"), "not read");
        var ex = Assert.Throws<SmeltException>(() => SafetensorsCheckpoint.Open(dir));
        Assert.Contains("pytorch_model.bin", ex.Message);
        Assert.Contains("pickle", ex.Message);
        Assert.Contains("safe_serialization=True", ex.Message);

        var empty = P("empty-model");
        Directory.CreateDirectory(empty);
        ex = Assert.Throws<SmeltException>(() => SafetensorsCheckpoint.Open(empty));
        Assert.DoesNotContain("pickle", ex.Message);
    }

    [Fact]
    public void Shape_mismatch_on_load_names_the_tensor()
    {
        SafetensorsWriter.Write(P("a.safetensors"), [("w", randn(2, 3))]);
        using var f = SafetensorsFile.Open(P("a.safetensors"));
        var ex = Assert.Throws<SmeltException>(() => f.CopyInto("w", zeros(3, 2)));
        Assert.Contains("'w'", ex.Message);
        Assert.Contains("[2, 3]", ex.Message);
    }

    private static void WriteRaw(string path, string json, byte[] data)
    {
        var header = Encoding.UTF8.GetBytes(json);
        using var fs = File.Create(path);
        fs.Write(BitConverter.GetBytes((ulong)header.Length));
        fs.Write(header);
        fs.Write(data);
    }
}
