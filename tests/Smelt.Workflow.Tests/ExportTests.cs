using System.Text.Json.Nodes;
using Smelt.Core;
using Smelt.Model;
using Smelt.Training.Config;
using Smelt.Training.Lora;
using static TorchSharp.torch;

namespace Smelt.Workflow.Tests;

[Collection("tiny")]
public sealed class ExportTests(TinyWorld world) : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static readonly long[] Ids = [1, 17, 300, 42, 99, 5, 260, 7, 1000, 3, 64, 128];

    /// <summary>An adapter with large random B (a freshly initialised one has B = 0 and would hide a broken merge).</summary>
    private string MakeAdapter(string name, string quant, int seed)
    {
        using var model = LlamaForCausalLM.Load(world.ModelDir, ScalarType.Float32);
        var lora = new LoraSection { R = 4, Alpha = 8, Dropout = 0 };
        var adapters = AdapterSet.Inject(model, lora, new QuantizationSection { Method = quant }, seed);
        using (no_grad())
        {
            var g = new TorchSharp.torch.Generator((ulong)seed);
            foreach (var (_, layer) in adapters.Layers) layer.B.normal_(0, 0.05, g);
        }
        var dir = _dir.File(name + "/adapter");
        PeftAdapter.Save(dir, adapters, world.ModelDir);
        // The run's resolved config sits one level above the adapter, as `smelt train` writes it.
        File.WriteAllText(_dir.File(name + "/config.resolved.yml"), $"quantization:\n  method: {quant}\n  block_size: 64\n  double_quant: true\n  double_quant_block: 256\n");
        return dir;
    }

    private static float[] Logits(LlamaForCausalLM m)
    {
        using var noGrad = no_grad();
        using var ids = tensor(Ids, [1, Ids.Length]);
        using var logits = m.Forward(ids);
        return logits.to(ScalarType.Float32).data<float>().ToArray();
    }

    private static double MaxDiff(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();

    private float[] BaseWithAdapter(string adapterDir, string quant)
    {
        using var m = LlamaForCausalLM.Load(world.ModelDir, ScalarType.Float32);
        PeftAdapter.LoadInto(m, adapterDir, new QuantizationSection { Method = quant });
        m.eval();
        return Logits(m);
    }

    [Fact]
    public void Merged_f32_logits_equal_base_plus_adapter_and_the_sharded_output_loads_back()
    {
        var adapter = MakeAdapter("plain", "none", 3);
        var expected = BaseWithAdapter(adapter, "none");
        float[] baseOnly;
        using (var b = LlamaForCausalLM.Load(world.ModelDir, ScalarType.Float32)) baseOnly = Logits(b);
        Assert.True(MaxDiff(expected, baseOnly) > 1e-2, "the adapter must change the logits for this test to mean anything");

        var outDir = _dir.File("merged");
        var report = MergeExporter.Export(adapter, outDir, new ExportOptions { DType = "f32", MaxShardBytes = 1_000_000 });
        Assert.True(report.Shards > 1);
        Assert.Equal(4 * 7, report.MergedProjections); // 4 layers × 7 projections
        Assert.False(report.DequantizedNf4);
        Assert.True(File.Exists(Path.Combine(outDir, SafetensorsCheckpoint.IndexFile)));
        long biggestTensor;
        using (var st = SafetensorsCheckpoint.Open(outDir)) biggestTensor = st.Names.Max(n => st.Entry(n).ByteLength);
        Assert.True(report.LargestShardBytes <= Math.Max(1_000_000, biggestTensor) + 16384, $"largest shard {report.LargestShardBytes} B");
        foreach (var f in new[] { "config.json", "tokenizer.json", "tokenizer_config.json", "generation_config.json" })
            Assert.True(File.Exists(Path.Combine(outDir, f)), f);
        Assert.Equal("float32", ModelConfig.Load(outDir).TorchDtype);

        using var merged = LlamaForCausalLM.Load(outDir);
        var got = Logits(merged);
        Assert.True(MaxDiff(expected, got) < 1e-4, $"max |merged - (base+adapter)| = {MaxDiff(expected, got)}");
        using var tok = TextTokenizer.Load(outDir);
        tok.CheckMatches(merged.Config, outDir);
    }

    [Fact]
    public void A_qlora_adapter_is_merged_into_the_dequantised_nf4_base()
    {
        var adapter = MakeAdapter("qlora", "nf4", 5);
        var expected = BaseWithAdapter(adapter, "nf4");
        var outDir = _dir.File("merged-nf4");
        var report = MergeExporter.Export(adapter, outDir, new ExportOptions { DType = "f32" }); // auto: reads ../config.resolved.yml
        Assert.True(report.DequantizedNf4);
        using var merged = LlamaForCausalLM.Load(outDir);
        var got = Logits(merged);
        Assert.True(MaxDiff(expected, got) < 1e-3, $"max diff {MaxDiff(expected, got)}");

        // Merging into the full-precision weights instead gives a measurably different model: the NF4 step matters.
        var plainDir = _dir.File("merged-nf4-as-plain");
        MergeExporter.Export(adapter, plainDir, new ExportOptions { DType = "f32", BaseQuantization = "none" });
        using var plain = LlamaForCausalLM.Load(plainDir);
        Assert.True(MaxDiff(expected, Logits(plain)) > 10 * MaxDiff(expected, got));
    }

    [Fact]
    public void A_bf16_export_stores_bf16_and_stays_close()
    {
        var adapter = MakeAdapter("bf16", "none", 9);
        var expected = BaseWithAdapter(adapter, "none");
        var outDir = _dir.File("merged-bf16");
        MergeExporter.Export(adapter, outDir, new ExportOptions { DType = "bf16" });
        Assert.Equal("bfloat16", ModelConfig.Load(outDir).TorchDtype);
        using (var st = SafetensorsCheckpoint.Open(outDir))
            Assert.All(st.Names, n => Assert.Equal("BF16", st.Entry(n).DType));
        using var merged = LlamaForCausalLM.Load(outDir, ScalarType.Float32);
        var got = Logits(merged);
        Assert.True(MaxDiff(expected, got) < 0.1, $"max diff {MaxDiff(expected, got)}");
    }

    [Fact]
    public void An_adapter_without_a_base_is_refused_before_any_work()
    {
        var adapter = MakeAdapter("nobase", "none", 1);
        var cfgPath = Path.Combine(adapter, PeftAdapter.ConfigFile);
        var cfg = JsonNode.Parse(File.ReadAllText(cfgPath))!;
        cfg["base_model_name_or_path"] = "";
        File.WriteAllText(cfgPath, cfg.ToJsonString());
        var outDir = _dir.File("out-nobase");
        var ex = Assert.Throws<SmeltException>(() => MergeExporter.Export(adapter, outDir, new ExportOptions()));
        Assert.Equal(ExitCodes.BadInput, ex.ExitCode);
        Assert.Contains("base_model_name_or_path is missing", ex.Message);
        Assert.Contains("--base", ex.Message);
        Assert.False(Directory.Exists(outDir));

        cfg["base_model_name_or_path"] = "some-org/missing-model";
        File.WriteAllText(cfgPath, cfg.ToJsonString());
        ex = Assert.Throws<SmeltException>(() => MergeExporter.Export(adapter, outDir, new ExportOptions()));
        Assert.Contains("smelt hub download some-org/missing-model", ex.Message);
    }

    [Fact]
    public void A_base_of_another_architecture_is_refused_before_any_work()
    {
        var adapter = MakeAdapter("mismatch", "none", 2);
        var other = _dir.File("other-base");
        var config = ModelConfig.Load(world.ModelDir) with { NumHiddenLayers = 2 };
        using (var m = new LlamaForCausalLM(config)) m.Save(other);
        var outDir = _dir.File("out-mismatch");
        var ex = Assert.Throws<SmeltException>(() => MergeExporter.Export(adapter, outDir, new ExportOptions { BaseDirectory = other }));
        Assert.Contains("different base", ex.Message);
        Assert.False(Directory.Exists(outDir));
    }

    [Fact]
    public void Sizes_and_dtypes_parse_or_fail_clearly()
    {
        Assert.Equal(2_000_000_000, MergeExporter.ParseSize("2GB"));
        Assert.Equal(500L << 20, MergeExporter.ParseSize("500MiB"));
        Assert.Equal(1234, MergeExporter.ParseSize("1234"));
        Assert.Contains("unknown unit", Assert.Throws<SmeltException>(() => MergeExporter.ParseSize("3XB")).Message);
        Assert.Contains("bf16, f16 or f32", Assert.Throws<SmeltException>(() => MergeExporter.ParseDType("int8")).Message);
    }
}
