using System.Text.Json.Nodes;
using Smelt.Core;
using Smelt.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Smelt.Model.Tests;

public sealed class LlamaTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("smelt-llama-");
    public LlamaTests() => TorchRuntime.EnsureLoaded();
    public void Dispose() => _dir.Delete(true);

    internal static readonly RefConfig Gqa = new(Vocab: 19, Hidden: 16, Intermediate: 24, Layers: 2, Heads: 4, KvHeads: 2, HeadDim: 4, Tied: false, QkvBias: false);
    internal static readonly RefConfig Llama3Tied = new(Vocab: 23, Hidden: 12, Intermediate: 20, Layers: 2, Heads: 2, KvHeads: 1, HeadDim: 8, Tied: true, QkvBias: false,
        Llama3: new Llama3Rope(Factor: 8, Low: 1, High: 8, Original: 64));
    internal static readonly RefConfig Qwen = new(Vocab: 17, Hidden: 12, Intermediate: 16, Layers: 1, Heads: 3, KvHeads: 1, HeadDim: 4, Tied: true, QkvBias: true,
        Eps: 1e-6, Theta: 1_000_000, Arch: "Qwen2ForCausalLM");

    internal static readonly RefConfig MistralWindow = new(Vocab: 19, Hidden: 16, Intermediate: 24, Layers: 2, Heads: 4, KvHeads: 2, HeadDim: 4, Tied: false, QkvBias: false,
        Arch: "MistralForCausalLM", Window: 3);

    /// <summary>Deterministic weights from a small LCG (not torch's RNG), so the reference and the model see identical numbers.</summary>
    internal static Dictionary<string, float[]> Weights(RefConfig c, uint seed = 12345)
    {
        var state = seed;
        float[] Rand(int n, float scale)
        {
            var a = new float[n];
            for (var i = 0; i < n; i++) { state = state * 1664525 + 1013904223; a[i] = ((state >> 8) / (float)(1 << 24) - 0.5f) * 2 * scale; }
            return a;
        }
        float[] Norm(int n) => Rand(n, 0.2f).Select(v => 1 + v).ToArray();
        var w = new Dictionary<string, float[]> { ["model.embed_tokens.weight"] = Rand(c.Vocab * c.Hidden, 1f), ["model.norm.weight"] = Norm(c.Hidden) };
        if (!c.Tied) w["lm_head.weight"] = Rand(c.Vocab * c.Hidden, 0.5f);
        for (var l = 0; l < c.Layers; l++)
        {
            var p = $"model.layers.{l}.";
            w[p + "input_layernorm.weight"] = Norm(c.Hidden);
            w[p + "post_attention_layernorm.weight"] = Norm(c.Hidden);
            w[p + "self_attn.q_proj.weight"] = Rand(c.Heads * c.HeadDim * c.Hidden, 0.5f);
            w[p + "self_attn.k_proj.weight"] = Rand(c.KvHeads * c.HeadDim * c.Hidden, 0.5f);
            w[p + "self_attn.v_proj.weight"] = Rand(c.KvHeads * c.HeadDim * c.Hidden, 0.5f);
            w[p + "self_attn.o_proj.weight"] = Rand(c.Hidden * c.Heads * c.HeadDim, 0.3f);
            if (c.QkvBias)
            {
                w[p + "self_attn.q_proj.bias"] = Rand(c.Heads * c.HeadDim, 0.3f);
                w[p + "self_attn.k_proj.bias"] = Rand(c.KvHeads * c.HeadDim, 0.3f);
                w[p + "self_attn.v_proj.bias"] = Rand(c.KvHeads * c.HeadDim, 0.3f);
            }
            w[p + "mlp.gate_proj.weight"] = Rand(c.Intermediate * c.Hidden, 0.5f);
            w[p + "mlp.up_proj.weight"] = Rand(c.Intermediate * c.Hidden, 0.5f);
            w[p + "mlp.down_proj.weight"] = Rand(c.Hidden * c.Intermediate, 0.3f);
        }
        return w;
    }

    internal static long[] ShapeOf(RefConfig c, string name)
    {
        var n = name.Split('.')[^2];
        var bias = name.EndsWith(".bias");
        return n switch
        {
            "embed_tokens" or "lm_head" => [c.Vocab, c.Hidden],
            "norm" or "input_layernorm" or "post_attention_layernorm" => [c.Hidden],
            "q_proj" => bias ? [c.Heads * c.HeadDim] : [c.Heads * c.HeadDim, c.Hidden],
            "k_proj" or "v_proj" => bias ? [c.KvHeads * c.HeadDim] : [c.KvHeads * c.HeadDim, c.Hidden],
            "o_proj" => [c.Hidden, c.Heads * c.HeadDim],
            "gate_proj" or "up_proj" => [c.Intermediate, c.Hidden],
            "down_proj" => [c.Hidden, c.Intermediate],
            _ => throw new ArgumentException(name),
        };
    }

    /// <summary>Writes a Hugging Face style model directory by hand (config.json written as JSON text, not via ModelConfig).</summary>
    internal static string WriteModelDir(string dir, RefConfig c, Dictionary<string, float[]> w, string dtype = "float32")
    {
        Directory.CreateDirectory(dir);
        var cfg = new JsonObject
        {
            ["architectures"] = new JsonArray(c.Arch),
            ["model_type"] = c.Arch switch { "Qwen2ForCausalLM" => "qwen2", "MistralForCausalLM" => "mistral", _ => "llama" },
            ["sliding_window"] = c.Window,
            ["vocab_size"] = c.Vocab, ["hidden_size"] = c.Hidden, ["intermediate_size"] = c.Intermediate,
            ["num_hidden_layers"] = c.Layers, ["num_attention_heads"] = c.Heads, ["num_key_value_heads"] = c.KvHeads,
            ["head_dim"] = c.HeadDim, ["rms_norm_eps"] = c.Eps, ["rope_theta"] = c.Theta, ["tie_word_embeddings"] = c.Tied,
            ["max_position_embeddings"] = 512, ["torch_dtype"] = dtype, ["bos_token_id"] = 1, ["eos_token_id"] = 2,
        };
        if (c.Llama3 is { } r)
            cfg["rope_scaling"] = new JsonObject { ["rope_type"] = "llama3", ["factor"] = r.Factor, ["low_freq_factor"] = r.Low, ["high_freq_factor"] = r.High, ["original_max_position_embeddings"] = (int)r.Original };
        File.WriteAllText(Path.Combine(dir, "config.json"), cfg.ToJsonString());
        var tensors = w.Select(kv => (kv.Key, tensor(kv.Value).reshape(ShapeOf(c, kv.Key)))).ToList();
        SafetensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors);
        return dir;
    }

    private static readonly int[] Prompt = [1, 5, 9, 3, 14, 7, 0, 11, 2, 6];

    public static TheoryData<string> Cases => new() { "gqa", "llama3-rope-tied-mqa", "qwen2-bias", "mistral-sliding-window" };
    private static RefConfig Case(string name) => name switch
    {
        "gqa" => Gqa, "llama3-rope-tied-mqa" => Llama3Tied, "mistral-sliding-window" => MistralWindow, _ => Qwen,
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Logits_match_an_independent_reference(string name)
    {
        var c = Case(name);
        var w = Weights(c);
        using var m = LlamaForCausalLM.Load(WriteModelDir(Path.Combine(_dir.FullName, name), c, w));
        var tokens = Prompt.Select(t => t % c.Vocab).ToArray();
        var expected = new ReferenceLlama(c, w).Logits(tokens);
        using var logits = m.Forward(tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0));
        Assert.Equal(new long[] { 1, tokens.Length, c.Vocab }, logits.shape);
        var actual = logits.data<float>().ToArray();
        var maxDiff = 0.0;
        for (var t = 0; t < tokens.Length; t++)
            for (var v = 0; v < c.Vocab; v++)
                maxDiff = Math.Max(maxDiff, Math.Abs(actual[t * c.Vocab + v] - expected[t][v]));
        Assert.True(maxDiff < 2e-4, $"max |logit difference| {maxDiff}");
        // The logits must be informative (not all equal), or the comparison above would prove little.
        Assert.True(expected[^1].Max() - expected[^1].Min() > 0.5);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Explicit_attention_and_the_fused_kernel_agree_in_values_and_gradients(string name)
    {
        // Short sequences take the explicit q·kᵀ → softmax → ·v path (the reference test above covers it); this one makes
        // the other model take the fused kernel everywhere and compares logits, weight gradients and KV-cached decoding.
        var c = Case(name);
        var w = Weights(c);
        var dir = WriteModelDir(Path.Combine(_dir.FullName, name + "-paths"), c, w);
        using var explicitPath = LlamaForCausalLM.Load(dir);
        using var fused = LlamaForCausalLM.Load(dir);
        foreach (var layer in fused.Model.Layers) layer.SelfAttn.ExplicitScoresMaxBytes = 0;
        var ids = tensor(Prompt.Select(t => (long)(t % c.Vocab)).ToArray()).unsqueeze(0);
        Tensor Grad(LlamaForCausalLM m)
        {
            using var logits = m.Forward(ids);
            using var loss = (logits * logits).sum();
            loss.backward();
            return m.Model.Layers[0].SelfAttn.QProj.parameters().First().grad!;
        }
        using (var a = explicitPath.Forward(ids))
        using (var b = fused.Forward(ids))
            Assert.True(allclose(a, b, rtol: 1e-4, atol: 1e-5), $"max |difference| {(a - b).abs().max().item<float>()}");
        var ga = Grad(explicitPath);
        var gb = Grad(fused);
        Assert.True(ga.abs().max().item<float>() > 0);
        Assert.True(allclose(ga, gb, rtol: 1e-3, atol: 1e-4), $"q_proj gradient: max |difference| {(ga - gb).abs().max().item<float>()}");
        using var cache = new KvCache(fused.Config, 1, 16, fused.DType, fused.Device);
        using var noGrad = no_grad();
        using var prefill = fused.Forward(ids.narrow(1, 0, 4), cache: cache);
        var steps = new List<Tensor> { prefill };
        for (var t = 4; t < Prompt.Length; t++) steps.Add(fused.Forward(ids.narrow(1, t, 1), cache: cache));
        using var all = explicitPath.Forward(ids);
        Assert.True(allclose(all, cat(steps, 1), rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void Rope_scaling_changes_logits_so_the_reference_check_covers_it()
    {
        var w = Weights(Llama3Tied);
        var tokens = Prompt.Select(t => t % Llama3Tied.Vocab).ToArray();
        var scaled = new ReferenceLlama(Llama3Tied, w).Logits(tokens);
        var plain = new ReferenceLlama(Llama3Tied with { Llama3 = null }, w).Logits(tokens);
        Assert.True(Math.Abs(scaled[^1][0] - plain[^1][0]) + Math.Abs(scaled[^1][1] - plain[^1][1]) > 1e-3);
        // All three branches of the Llama-3 rule are exercised by head_dim 8, theta 1e4, original 64, low 1, high 8.
        var s = new RopeScaling("llama3", 8, 1, 8, 64);
        double F(int i) => Math.Pow(1e4, -2.0 * i / 8);
        Assert.Equal(F(0), Rotary.ScaledInverseFrequency(F(0), s), 12);
        Assert.Equal(F(3) / 8, Rotary.ScaledInverseFrequency(F(3), s), 12);
        var mid = Rotary.ScaledInverseFrequency(F(1), s);
        Assert.True(mid < F(1) && mid > F(1) / 8);
    }

    [Fact]
    public void Sliding_window_matters_and_survives_the_kv_cache()
    {
        var w = Weights(MistralWindow);
        var tokens = Prompt.Select(t => t % MistralWindow.Vocab).ToArray();
        var windowed = new ReferenceLlama(MistralWindow, w).Logits(tokens);
        var full = new ReferenceLlama(MistralWindow with { Window = null }, w).Logits(tokens);
        Assert.True(Math.Abs(windowed[^1][0] - full[^1][0]) > 1e-3);
        using var m = LlamaForCausalLM.Load(WriteModelDir(Path.Combine(_dir.FullName, "swa"), MistralWindow, w));
        Assert.Equal(3, m.Config.SlidingWindow);
        var ids = tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0);
        using var all = m.Forward(ids);
        using var cache = new KvCache(m.Config, 1, 16, m.DType, m.Device);
        var steps = Enumerable.Range(0, tokens.Length).Select(t => m.Forward(ids.narrow(1, t, 1), cache: cache)).ToList();
        Assert.True(allclose(all, cat(steps, 1), rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void Bf16_model_stays_close_to_the_reference()
    {
        var w = Weights(Gqa);
        using var m = LlamaForCausalLM.Load(WriteModelDir(Path.Combine(_dir.FullName, "bf"), Gqa, w), dtype: ScalarType.BFloat16);
        Assert.Equal(ScalarType.BFloat16, m.DType);
        var tokens = Prompt.Select(t => t % Gqa.Vocab).ToArray();
        var expected = new ReferenceLlama(Gqa, w).Logits(tokens);
        var actual = m.Forward(tensor(tokens.Select(t => (long)t).ToArray()).unsqueeze(0)).data<float>().ToArray();
        var maxDiff = Enumerable.Range(0, tokens.Length * Gqa.Vocab).Max(i => Math.Abs(actual[i] - expected[i / Gqa.Vocab][i % Gqa.Vocab]));
        var scale = expected.SelectMany(r => r).Max(Math.Abs);
        Assert.True(maxDiff < 0.08 * scale, $"bf16 max diff {maxDiff} vs logit scale {scale}");
    }

    [Fact]
    public void Kv_cached_logits_equal_uncached_logits()
    {
        var w = Weights(Gqa);
        using var m = LlamaForCausalLM.Load(WriteModelDir(Path.Combine(_dir.FullName, "kv"), Gqa, w));
        var ids = tensor(Prompt.Select(t => (long)(t % Gqa.Vocab)).ToArray()).unsqueeze(0);
        using var full = m.Forward(ids);
        using var cache = new KvCache(m.Config, 1, 32, m.DType, m.Device);
        using var first = m.Forward(ids.narrow(1, 0, 4), cache: cache);
        Assert.Equal(4, cache.Length);
        var pieces = new List<Tensor> { first };
        for (var t = 4; t < Prompt.Length; t++) pieces.Add(m.Forward(ids.narrow(1, t, 1), cache: cache));
        using var stitched = cat(pieces, 1);
        Assert.True(allclose(full, stitched, rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void Left_padded_batch_row_equals_the_unpadded_sequence()
    {
        var w = Weights(Gqa);
        using var m = LlamaForCausalLM.Load(WriteModelDir(Path.Combine(_dir.FullName, "pad"), Gqa, w));
        long[] a = [1, 5, 9, 3, 14, 7], b = [4, 8, 2];
        var batch = tensor(new long[] { 1, 5, 9, 3, 14, 7, 0, 0, 0, 4, 8, 2 }).view(2, 6);
        var mask = tensor(new long[] { 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1 }).view(2, 6);
        var pos = tensor(new long[] { 0, 1, 2, 3, 4, 5, 0, 0, 0, 0, 1, 2 }).view(2, 6);
        using var logits = m.Forward(batch, pos, mask);
        Assert.False(logits.isnan().any().item<bool>());
        using var alone = m.Forward(tensor(b).unsqueeze(0));
        Assert.True(allclose(logits[1].narrow(0, 3, 3), alone[0], rtol: 1e-4, atol: 1e-5));
        using var aloneA = m.Forward(tensor(a).unsqueeze(0));
        Assert.True(allclose(logits[0], aloneA[0], rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void Packed_sequences_with_a_block_diagonal_mask_equal_separate_runs()
    {
        var w = Weights(Llama3Tied);
        using var m = LlamaForCausalLM.Load(WriteModelDir(Path.Combine(_dir.FullName, "packed"), Llama3Tied, w));
        long[] a = [1, 5, 9, 3], b = [4, 8, 2, 7, 6];
        var (mask, pos) = LlamaForCausalLM.PackedCausalMask([a.Length, b.Length]);
        using var packed = m.Forward(tensor(a.Concat(b).ToArray()).unsqueeze(0), pos, mask);
        using var ra = m.Forward(tensor(a).unsqueeze(0));
        using var rb = m.Forward(tensor(b).unsqueeze(0));
        Assert.True(allclose(packed[0].narrow(0, 0, a.Length), ra[0], rtol: 1e-4, atol: 1e-5));
        Assert.True(allclose(packed[0].narrow(0, a.Length, b.Length), rb[0], rtol: 1e-4, atol: 1e-5));
        // Without the mask the second segment would see the first: the outputs must then differ.
        using var leaky = m.Forward(tensor(a.Concat(b).ToArray()).unsqueeze(0), pos);
        Assert.False(allclose(leaky[0].narrow(0, a.Length, b.Length), rb[0], rtol: 1e-4, atol: 1e-5));
    }

    [Fact]
    public void Parameter_names_are_hugging_face_names()
    {
        using var m = new LlamaForCausalLM(ModelConfig.Parse(JsonNode.Parse(TinyConfigJson(tied: false))!.AsObject(), "config.json"));
        var names = m.state_dict().Keys.ToHashSet();
        Assert.Contains("model.embed_tokens.weight", names);
        Assert.Contains("model.layers.1.self_attn.q_proj.weight", names);
        Assert.Contains("model.layers.0.self_attn.o_proj.weight", names);
        Assert.Contains("model.layers.0.mlp.gate_proj.weight", names);
        Assert.Contains("model.layers.0.input_layernorm.weight", names);
        Assert.Contains("model.layers.0.post_attention_layernorm.weight", names);
        Assert.Contains("model.norm.weight", names);
        Assert.Contains("lm_head.weight", names);
        Assert.Equal(2 * 9 + 3, names.Count);
        Assert.Equal(m.Config.ParameterCount(), m.parameters().Sum(p => p.numel()));
    }

    private sealed class Counting : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> base_layer;
        public int Calls;
        public Counting(nn.Module<Tensor, Tensor> inner) : base("Counting") { base_layer = inner; RegisterComponents(); }
        public override Tensor forward(Tensor x) { Calls++; return base_layer.forward(x); }
    }

    [Fact]
    public void Projections_can_be_replaced_by_any_module()
    {
        var w = Weights(Gqa);
        using var m = LlamaForCausalLM.Load(WriteModelDir(Path.Combine(_dir.FullName, "swap"), Gqa, w));
        var ids = tensor(new long[] { 1, 2, 3 }).unsqueeze(0);
        using var before = m.Forward(ids);
        var wrappers = new List<Counting>();
        m.ReplaceProjections((name, current) => { var c = new Counting(current); wrappers.Add(c); return c; });
        Assert.Equal(Gqa.Layers * 7, wrappers.Count);
        Assert.Equal(14, m.ProjectionNames().Count());
        using var after = m.Forward(ids);
        Assert.True(allclose(before, after));
        Assert.All(wrappers, c => Assert.Equal(1, c.Calls));
        Assert.Contains("model.layers.0.self_attn.q_proj.base_layer.weight", m.state_dict().Keys);
        Assert.DoesNotContain("model.layers.0.self_attn.q_proj.weight", m.state_dict().Keys);
        // Replacing with a different module changes the output.
        m.Model.Layers[0].Mlp.DownProj = nn.Linear(Gqa.Intermediate, Gqa.Hidden, hasBias: false);
        using (no_grad()) ((TorchSharp.Modules.Linear)m.Model.Layers[0].Mlp.DownProj).weight!.zero_();
        using var changed = m.Forward(ids);
        Assert.False(allclose(before, changed));
    }

    [Fact]
    public void Weights_that_do_not_match_the_config_are_reported()
    {
        var w = Weights(Gqa);
        var dir = WriteModelDir(Path.Combine(_dir.FullName, "mismatch"), Gqa, w);
        var cfg = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
        cfg["num_hidden_layers"] = 3;
        File.WriteAllText(Path.Combine(dir, "config.json"), cfg.ToJsonString());
        var ex = Assert.Throws<SmeltException>(() => LlamaForCausalLM.Load(dir));
        Assert.Contains("model.layers.2", ex.Message);
        cfg["num_hidden_layers"] = 2;
        cfg["intermediate_size"] = 25;
        File.WriteAllText(Path.Combine(dir, "config.json"), cfg.ToJsonString());
        ex = Assert.Throws<SmeltException>(() => LlamaForCausalLM.Load(dir));
        Assert.Contains("gate_proj", ex.Message);
        Assert.Contains("shape", ex.Message);
    }

    [Fact]
    public void Save_then_load_round_trips_including_shards()
    {
        var w = Weights(Gqa);
        using var m = LlamaForCausalLM.Load(WriteModelDir(Path.Combine(_dir.FullName, "src"), Gqa, w));
        var outDir = Path.Combine(_dir.FullName, "saved");
        m.Save(outDir, maxShardBytes: 4096);
        Assert.True(File.Exists(Path.Combine(outDir, SafetensorsCheckpoint.IndexFile)));
        using var back = LlamaForCausalLM.Load(outDir);
        var ids = tensor(new long[] { 3, 1, 4, 1, 5 }).unsqueeze(0);
        Assert.Equal(m.Forward(ids).bytes.ToArray(), back.Forward(ids).bytes.ToArray());
    }

    internal static string TinyConfigJson(bool tied) =>
        $$"""{"architectures":["LlamaForCausalLM"],"vocab_size":32,"hidden_size":16,"intermediate_size":32,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"tie_word_embeddings":{{(tied ? "true" : "false")}}}""";
}
