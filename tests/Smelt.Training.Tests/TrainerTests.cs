using Smelt.Core;
using Smelt.Model;
using Smelt.Training.Checkpoints;
using Smelt.Training.Config;
using Smelt.Training.Data;
using Smelt.Training.Logging;
using Smelt.Training.Lora;
using Smelt.Training.Optim;
using static TorchSharp.torch;

namespace Smelt.Training.Tests;

/// <summary>Examples held in memory, the same on every read (a re-readable stream like the real pipeline).</summary>
internal sealed class MemoryData(IReadOnlyList<Example> train, IReadOnlyList<Example>? validation = null) : IPhaseData
{
    public IEnumerable<Example> Train(PhaseSection phase, int epoch) => train;
    public IEnumerable<Example> Validation(PhaseSection phase) => validation ?? [];
}

internal static class Tiny
{
    public static ModelConfig Config(int vocab = 260, int maxPos = 128) => new()
    {
        VocabSize = vocab, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4, NumKeyValueHeads = 2,
        HeadDim = 8, MaxPositionEmbeddings = maxPos, EosTokenIds = [256],
    };

    public static LlamaForCausalLM Model(long seed = 11, ModelConfig? config = null)
    {
        TorchRuntime.EnsureLoaded();
        var m = new LlamaForCausalLM(config ?? Config());
        // A wide init: with the default 0.02 the frozen head (after the final RMSNorm) can only move logits by about ±0.6,
        // which caps what any adapter can learn on a random model.
        m.InitWeights(seed, std: 0.3);
        return m;
    }

    public static readonly string[] Snippets =
    [
        "fn add(a: i32, b: i32) -> i32 { a + b }",
        "fn square(x: u64) -> u64 { x * x }",
        "pub fn is_even(n: i64) -> bool { n % 2 == 0 }",
        "fn max3(a: i32, b: i32, c: i32) -> i32 { a.max(b).max(c) }",
    ];

    public static List<Example> Corpus() =>
        Snippets.Select((s, i) => new Example($"toy:{i}", ExampleKind.Raw, Text: s)).ToList();

    public static TrainConfig Cfg(string outDir, params string[] overrides)
    {
        var yaml = $"""
            model:
              path: tiny-in-memory
            data:
              sources:
                - path: in-memory
              max_seq_len: 64
            lora:
              r: 8
              alpha: 16
              dropout: 0.0
            train:
              max_steps: 30
              batch_size: 2
              lr: 2.0e-2
              warmup_steps: 2
              seed: 5
            logging:
              progress: never
            output:
              dir: {outDir}
              save_every: 0
            """;
        return ConfigLoader.LoadText(yaml, "test.yml", overrides);
    }

    public static string TempDir(string name) => Directory.CreateTempSubdirectory($"smelt-{name}-").FullName;
}

[Collection(TorchRngCollection.Name)]
public sealed class TrainerTests
{
    public TrainerTests() => TorchRuntime.EnsureLoaded();

    private static TrainResult Train(TrainConfig cfg, LlamaForCausalLM model, IPhaseData? data = null, bool resume = false) =>
        new Trainer(cfg, model, new ByteTokenizer(), data ?? new MemoryData(Tiny.Corpus()), new SilentProgress()).Run(resume);

    [Fact]
    public void Loss_decreases_on_a_memorisable_corpus_and_outputs_are_written()
    {
        var dir = Tiny.TempDir("train");
        var result = Train(Tiny.Cfg(dir), Tiny.Model());
        Assert.Equal(30, result.GlobalSteps);
        Assert.True(result.FinalLoss < result.FirstLoss * 0.5, $"loss {result.FirstLoss} -> {result.FinalLoss}");
        var metrics = MetricsLog.ReadAll(Path.Combine(dir, "metrics.jsonl"));
        Assert.Equal(Enumerable.Range(1, 30), metrics.Select(m => m.Step));
        Assert.All(metrics, m => Assert.True(m.TokensPerSecond > 0 && m.GradNorm > 0 && m.MemoryMb > 0));
        var schedule = new LrSchedule(2e-2, 2, 30, "cosine", 0);
        Assert.All(metrics, m => Assert.Equal(schedule.At(m.Step - 1), m.Lr, 12));
        var events = TensorBoardReader.Read(Directory.GetFiles(Path.Combine(dir, "tensorboard"), "events.out.tfevents.*").Single());
        Assert.Equal(31, events.Count);
        Assert.Equal((float)metrics[^1].Loss, events[^1].Scalars.Single(s => s.Tag == "train/loss").Value);
        Assert.True(File.Exists(Path.Combine(dir, "loss.png")));
        Assert.True(File.Exists(Path.Combine(dir, "config.resolved.yml")));
        ConfigLoader.LoadFile(Path.Combine(dir, "config.resolved.yml"));
        Assert.True(File.Exists(Path.Combine(result.AdapterDir, PeftAdapter.WeightsFile)));
        Assert.Single(new CheckpointStore(Path.Combine(dir, "checkpoints"), 2).Complete());
    }

    [Fact]
    public void Saved_adapter_is_in_peft_format_and_reproduces_logits()
    {
        var dir = Tiny.TempDir("peft");
        var trained = Tiny.Model();
        var result = Train(Tiny.Cfg(dir, "train.max_steps=8", "lora.target_modules=[q_proj,v_proj,down_proj]", "lora.use_rslora=true"), trained);

        var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(result.AdapterDir, PeftAdapter.ConfigFile))).RootElement;
        Assert.Equal("LORA", json.GetProperty("peft_type").GetString());
        Assert.Equal("CAUSAL_LM", json.GetProperty("task_type").GetString());
        Assert.Equal(8, json.GetProperty("r").GetInt32());
        Assert.Equal(16, json.GetProperty("lora_alpha").GetDouble());
        Assert.True(json.GetProperty("use_rslora").GetBoolean());
        Assert.Equal("tiny-in-memory", json.GetProperty("base_model_name_or_path").GetString());
        Assert.Equal(["q_proj", "v_proj", "down_proj"], json.GetProperty("target_modules").EnumerateArray().Select(e => e.GetString()));
        using (var st = SafetensorsFile.Open(Path.Combine(result.AdapterDir, PeftAdapter.WeightsFile)))
        {
            Assert.Equal(2 * 3 * 2, st.Entries.Count);
            Assert.Equal([8L, 32L], st.Entries["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"].Shape);
            Assert.Equal([16L, 8L], st.Entries["base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"].Shape);
            Assert.Equal("F32", st.Entries["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"].DType);
        }

        using var ids = tensor(new long[] { 102, 110, 32, 97, 100, 100, 40, 97 }).unsqueeze(0);
        trained.eval();
        using var expected = trained.Forward(ids);
        var fresh = Tiny.Model();
        using var baseLogits = fresh.Forward(ids);
        Assert.True((expected - baseLogits).abs().max().item<float>() > 1e-3, "training changed the model");
        PeftAdapter.LoadInto(fresh, result.AdapterDir);
        fresh.eval();
        using var loaded = fresh.Forward(ids);
        Assert.True(allclose(expected, loaded, rtol: 1e-5, atol: 1e-5));
    }

    [Fact]
    public void Adapter_for_another_base_is_rejected_before_compute()
    {
        var dir = Tiny.TempDir("mismatch");
        var result = Train(Tiny.Cfg(dir, "train.max_steps=2"), Tiny.Model());
        var other = new LlamaForCausalLM(Tiny.Config() with { HiddenSize = 48, HeadDim = 12 });
        var ex = Assert.Throws<SmeltException>(() => PeftAdapter.LoadInto(other, result.AdapterDir));
        Assert.Contains("different base model", ex.Message);
        Assert.Contains("tiny-in-memory", ex.Message);
        // Without the fingerprint (e.g. an adapter from Python PEFT) the shape check still catches it.
        var cfgPath = Path.Combine(result.AdapterDir, PeftAdapter.ConfigFile);
        File.WriteAllText(cfgPath, File.ReadAllText(cfgPath).Replace("smelt_base_fingerprint", "other_key"));
        var ex2 = Assert.Throws<SmeltException>(() => PeftAdapter.LoadInto(other, result.AdapterDir));
        Assert.Contains("has shape [8, 32] but this base model needs [8, 48]", ex2.Message);
        Assert.Contains(other.named_modules(), m => m.name.EndsWith("q_proj") && m.module is TorchSharp.Modules.Linear); // untouched
    }

    [Fact]
    public void Resume_from_a_mid_run_checkpoint_ends_with_the_same_adapter()
    {
        var full = Tiny.TempDir("full");
        var overrides = new[] { "train.max_steps=12", "output.save_every=4", "output.keep_last=5", "lora.dropout=0.1" };
        Train(Tiny.Cfg(full, overrides), Tiny.Model());

        // Simulate a crash right after step 4's checkpoint: a second directory holding only that checkpoint, plus a
        // half-written one that must be ignored.
        var crashed = Tiny.TempDir("crashed");
        var ckpts = Path.Combine(crashed, "checkpoints");
        CopyDir(Path.Combine(full, "checkpoints", "step-000004"), Path.Combine(ckpts, "step-000004"));
        CopyDir(Path.Combine(full, "checkpoints", "step-000008"), Path.Combine(ckpts, "step-000008"));
        File.Delete(Path.Combine(ckpts, "step-000008", CheckpointStore.Marker));
        Assert.EndsWith("step-000004", new CheckpointStore(ckpts, 5).Latest());
        File.WriteAllLines(Path.Combine(crashed, "metrics.jsonl"), File.ReadLines(Path.Combine(full, "metrics.jsonl")).Take(6));

        var resumed = Train(Tiny.Cfg(crashed, overrides), Tiny.Model(), resume: true);
        Assert.True(resumed.Resumed);
        AssertSameAdapter(Path.Combine(full, "adapter"), resumed.AdapterDir, 1e-6f);
        Assert.Equal(Enumerable.Range(1, 12), MetricsLog.ReadAll(Path.Combine(crashed, "metrics.jsonl")).Select(m => m.Step));

        // Without --resume an existing run is never silently overwritten.
        var ex = Assert.Throws<SmeltException>(() => Train(Tiny.Cfg(crashed, overrides), Tiny.Model()));
        Assert.Contains("--resume", ex.Message);
    }

    [Fact]
    public void Checkpoints_hold_the_generator_state_and_a_resumed_run_continues_its_stream()
    {
        // Dropout is the only randomness in a step; the run seeds once, so only a restored state gives the same masks.
        var full = Tiny.TempDir("rng-full");
        var overrides = new[] { "train.max_steps=8", "output.save_every=3", "output.keep_last=5", "lora.dropout=0.3" };
        Train(Tiny.Cfg(full, overrides), Tiny.Model());
        static byte[] Rng(string run, int step)
        {
            using var f = SafetensorsFile.Open(Path.Combine(run, "checkpoints", CheckpointStore.NameFor(step), RngState.FileName));
            using var t = f.Read("cpu");
            using var d = f.Read("dropout");
            return [.. t.data<byte>().ToArray(), .. d.data<long>().ToArray().SelectMany(BitConverter.GetBytes)];
        }
        static long DropoutPosition(string run, int step)
        {
            using var f = SafetensorsFile.Open(Path.Combine(run, "checkpoints", CheckpointStore.NameFor(step), RngState.FileName));
            using var d = f.Read("dropout");
            return d.data<long>()[1];
        }
        Assert.True(DropoutPosition(full, 6) > DropoutPosition(full, 3)); // three steps of dropout masks moved the stream on

        var crashed = Tiny.TempDir("rng-crashed");
        CopyDir(Path.Combine(full, "checkpoints", "step-000003"), Path.Combine(crashed, "checkpoints", "step-000003"));
        using (var _ = randn(1000)) { } // whatever this process drew before, the resumed run continues from the checkpoint
        Train(Tiny.Cfg(crashed, overrides), Tiny.Model(), resume: true);
        Assert.Equal(Rng(full, 6), Rng(crashed, 6));
        Assert.Equal(Rng(full, 8), Rng(crashed, 8));
        AssertSameAdapter(Path.Combine(full, "adapter"), Path.Combine(crashed, "adapter"), 1e-6f);
        var a = MetricsLog.ReadAll(Path.Combine(full, "metrics.jsonl"));
        var b = MetricsLog.ReadAll(Path.Combine(crashed, "metrics.jsonl"));
        Assert.Equal(a.Skip(3).Select(m => m.Loss), b.Select(m => m.Loss));

        // A checkpoint from an earlier Smelt (re-seeded every step, no state file) is refused before the model is touched.
        var legacy = Tiny.TempDir("rng-legacy");
        var ck = Path.Combine(legacy, "checkpoints", "step-000003");
        CopyDir(Path.Combine(full, "checkpoints", "step-000003"), ck);
        File.Delete(Path.Combine(ck, RngState.FileName));
        var statePath = Path.Combine(ck, CheckpointStore.StateFile);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(statePath))!;
        json["rng_scheme"] = "torch.manual_seed(seed * 1000003 + global_step) before each optimizer step";
        File.WriteAllText(statePath, json.ToJsonString());
        var model = Tiny.Model();
        var ex = Assert.Throws<SmeltException>(() => Train(Tiny.Cfg(legacy, overrides), model, resume: true));
        Assert.Contains($"{ck}: no {RngState.FileName}", ex.Message);
        Assert.Contains("re-seeded dropout before every step", ex.Message);
        Assert.Contains("start over", ex.Message);
        Assert.Contains(model.named_modules(), m => m.name.EndsWith("q_proj") && m.module is TorchSharp.Modules.Linear); // no LoRA injected

        // A state file from the Smelt whose dropout drew from torch's generator (no 'dropout' tensor) is refused too.
        var older = Tiny.TempDir("rng-older");
        var ck2 = Path.Combine(older, "checkpoints", "step-000003");
        CopyDir(Path.Combine(full, "checkpoints", "step-000003"), ck2);
        Tensor cpu;
        using (var f = SafetensorsFile.Open(Path.Combine(ck2, RngState.FileName))) cpu = f.Read("cpu");
        using (cpu) SafetensorsWriter.Write(Path.Combine(ck2, RngState.FileName), [("cpu", cpu)], new Dictionary<string, string>());
        var exOlder = Assert.Throws<SmeltException>(() => Train(Tiny.Cfg(older, overrides), Tiny.Model(), resume: true));
        Assert.Contains($"{Path.Combine(ck2, RngState.FileName)}: no 'dropout' generator state", exOlder.Message);
        Assert.Contains("start over", exOlder.Message);

        // The same checkpoint without the file but saying it has one is called incomplete instead.
        json["rng_scheme"] = TrainState.Scheme;
        File.WriteAllText(statePath, json.ToJsonString());
        var ex3 = Assert.Throws<SmeltException>(() => Train(Tiny.Cfg(legacy, overrides), Tiny.Model(), resume: true));
        Assert.Contains($"{ck}: {RngState.FileName} is missing", ex3.Message);

        // A state file that is not a generator state names the file.
        using (var wrong = zeros(4))
        using (var dropout = tensor(new long[] { 1, 2 }))
            SafetensorsWriter.Write(Path.Combine(ck, RngState.FileName), [("cpu", wrong), ("dropout", dropout)]);
        var ex2 = Assert.Throws<SmeltException>(() => Train(Tiny.Cfg(legacy, overrides), Tiny.Model(), resume: true));
        Assert.Contains($"{Path.Combine(ck, RngState.FileName)}: expected a 1-D U8 tensor 'cpu'", ex2.Message);
        using (var state = random.get_rng_state())
        using (var wrongDropout = zeros(3))
            SafetensorsWriter.Write(Path.Combine(ck, RngState.FileName), [("cpu", state), ("dropout", wrongDropout)]);
        var ex4 = Assert.Throws<SmeltException>(() => Train(Tiny.Cfg(legacy, overrides), Tiny.Model(), resume: true));
        Assert.Contains($"{Path.Combine(ck, RngState.FileName)}: expected an I64 tensor 'dropout' of shape [2]", ex4.Message);
    }

    [Fact]
    public void Multi_phase_runs_its_own_schedule_from_the_previous_adapter()
    {
        var dir = Tiny.TempDir("phases");
        string[] phases =
        [
            "phases.0.name=broad", "phases.0.train.max_steps=6", "phases.1.name=curated", "phases.1.init_from=broad",
            "phases.1.train.max_steps=5", "phases.1.train.lr=5e-3", "phases.1.train.warmup_steps=1", "phases.1.train.schedule=linear",
            "phases.1.data.max_seq_len=32", "output.save_every=3",
        ];
        var cfg = Tiny.Cfg(dir, phases);
        var result = Train(cfg, Tiny.Model());
        Assert.Equal(11, result.GlobalSteps);
        var metrics = MetricsLog.ReadAll(Path.Combine(dir, "metrics.jsonl"));
        Assert.Equal(Enumerable.Range(1, 11), metrics.Select(m => m.Step));
        Assert.Equal(Enumerable.Repeat("broad", 6).Concat(Enumerable.Repeat("curated", 5)), metrics.Select(m => m.Phase));
        var p1 = new LrSchedule(2e-2, 2, 6, "cosine", 0);
        var p2 = new LrSchedule(5e-3, 1, 5, "linear", 0);
        for (var i = 0; i < 6; i++) Assert.Equal(p1.At(i), metrics[i].Lr, 12);
        for (var i = 0; i < 5; i++) Assert.Equal(p2.At(i), metrics[6 + i].Lr, 12); // phase 2's own warmup, from its step 0
        Assert.True(File.Exists(Path.Combine(dir, "phases", "broad", "adapter", PeftAdapter.WeightsFile)));
        Assert.True(File.Exists(Path.Combine(dir, "phases", "curated", "adapter", PeftAdapter.WeightsFile)));

        // Phase 2 started from phase 1's adapter: the first phase-2 loss is about where phase 1 ended, not back at the start.
        Assert.True(metrics[6].Loss < metrics[0].Loss * 0.8, $"phase 2 starts at {metrics[6].Loss}, phase 1 started at {metrics[0].Loss}");

        // Resuming inside phase 2 gives the same result as the uninterrupted run.
        var crashed = Tiny.TempDir("phases-crashed");
        CopyDir(Path.Combine(dir, "checkpoints", "step-000009"), Path.Combine(crashed, "checkpoints", "step-000009"));
        CopyDir(Path.Combine(dir, "phases", "broad"), Path.Combine(crashed, "phases", "broad"));
        var resumed = Train(Tiny.Cfg(crashed, phases), Tiny.Model(), resume: true);
        Assert.Equal(11, resumed.GlobalSteps);
        AssertSameAdapter(result.AdapterDir, resumed.AdapterDir, 1e-6f);
        var resumedMetrics = MetricsLog.ReadAll(Path.Combine(crashed, "metrics.jsonl"));
        Assert.Equal([10, 11], resumedMetrics.Select(m => m.Step));
        Assert.Equal(metrics[9].Lr, resumedMetrics[0].Lr, 12);
    }

    [Fact]
    public void Qlora_trains_and_its_frozen_projections_take_about_half_a_byte_per_parameter()
    {
        var dir = Tiny.TempDir("qlora");
        var result = Train(Tiny.Cfg(dir, "quantization.method=nf4", "train.max_steps=20"), Tiny.Model());
        Assert.True(result.FinalLoss < result.FirstLoss * 0.6, $"loss {result.FirstLoss} -> {result.FinalLoss}");
        Assert.InRange(result.Memory.QuantizedBytesPerParam, 0.5, 0.6);
        Assert.True(result.Memory.QuantizedParams > 0);
    }

    [Fact]
    public void Bad_setups_fail_before_any_compute()
    {
        var cfg = Tiny.Cfg(Tiny.TempDir("bad"), "data.max_seq_len=512");
        var ex = Assert.Throws<SmeltException>(() => Trainer.Preflight(cfg, Tiny.Config(maxPos: 128), new ByteTokenizer(), "models/x"));
        Assert.Contains("data.max_seq_len 512 exceeds the model's context of 128 positions", ex.Message);
        var small = Tiny.Config(vocab: 100);
        var ex2 = Assert.Throws<SmeltException>(() => Trainer.Preflight(Tiny.Cfg(Tiny.TempDir("bad2")), small, new ByteTokenizer(), "models/x"));
        Assert.Contains("vocab_size is 100", ex2.Message);
        Trainer.Preflight(Tiny.Cfg(Tiny.TempDir("ckpt"), "train.gradient_checkpointing=true", "lora.dropout=0.1"), Tiny.Config(), new ByteTokenizer(), "m");
        var ex3 = Assert.Throws<SmeltException>(() => Trainer.Preflight(Tiny.Cfg(Tiny.TempDir("bad3"), "train.gradient_checkpointing=true", "lora.dropout=0.1", "model.device=cuda"), Tiny.Config(), new ByteTokenizer(), "m"));
        Assert.Contains("train.gradient_checkpointing with lora.dropout 0.1 on cuda (model.device: cuda)", ex3.Message);

        var empty = Assert.Throws<SmeltException>(() => Train(Tiny.Cfg(Tiny.TempDir("empty")), Tiny.Model(), new MemoryData([])));
        Assert.Contains("produced no rows", empty.Message);
    }

    [Fact]
    public void Weight_decay_skips_norms_and_biases()
    {
        Assert.True(AdamW.DecaysByName("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
        Assert.False(AdamW.DecaysByName("model.layers.0.input_layernorm.weight"));
        Assert.False(AdamW.DecaysByName("model.norm.weight"));
        Assert.False(AdamW.DecaysByName("model.layers.0.self_attn.q_proj.bias"));

        // One AdamW step against the closed form: m = (1-b1) g, v = (1-b2) g^2, update = lr * mhat / (sqrt(vhat) + eps) + decay.
        var w = new TorchSharp.Modules.Parameter(tensor(new float[] { 1f, -2f }));
        var b = new TorchSharp.Modules.Parameter(tensor(new float[] { 0.5f }));
        (w * tensor(new float[] { 3f, 4f })).sum().add(b.sum() * 2).backward();
        using var opt = new AdamW([("x.weight", w), ("x.bias", b)], 0.9, 0.999, 1e-8, weightDecay: 0.1);
        opt.Step(0.01);
        Assert.Equal(1f * (1 - 0.001f) - 0.01f, w[0].item<float>(), 5);
        Assert.Equal(-2f * (1 - 0.001f) - 0.01f, w[1].item<float>(), 5);
        Assert.Equal(0.5f - 0.01f, b[0].item<float>(), 5); // no decay on the bias
    }

    internal static void AssertSameAdapter(string a, string b, float tolerance)
    {
        using var fa = SafetensorsFile.Open(Path.Combine(a, PeftAdapter.WeightsFile));
        using var fb = SafetensorsFile.Open(Path.Combine(b, PeftAdapter.WeightsFile));
        Assert.Equal(fa.Entries.Keys.Order(), fb.Entries.Keys.Order());
        foreach (var name in fa.Entries.Keys)
        {
            using var ta = fa.Read(name);
            using var tb = fb.Read(name);
            var diff = (ta - tb).abs().max().item<float>();
            Assert.True(diff <= tolerance, $"{name}: max difference {diff}");
        }
        using var anyB = fa.Read(fa.Entries.Keys.First(k => k.EndsWith("lora_B.weight")));
        Assert.True(anyB.abs().max().item<float>() > 0, "the adapter was actually trained (B moved away from zero)");
    }

    internal static void CopyDir(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from)) CopyDir(d, Path.Combine(to, Path.GetFileName(d)));
    }
}

[Collection(TorchRngCollection.Name)]
public sealed class ValidationTests
{
    public ValidationTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void Validation_loss_is_measured_every_n_steps_and_logged()
    {
        var dir = Tiny.TempDir("val");
        var cfg = Tiny.Cfg(dir, "train.max_steps=10", "eval.every=5", "eval.validation_batches=1", "data.validation_fraction=0.2");
        var held = new List<Example> { new("val:0", ExampleKind.Raw, Text: "fn cube(x: i64) -> i64 { x * x * x }") };
        new Trainer(cfg, Tiny.Model(), new ByteTokenizer(), new MemoryData(Tiny.Corpus(), held), new SilentProgress()).Run(false);
        var metrics = MetricsLog.ReadAll(Path.Combine(dir, "metrics.jsonl"));
        Assert.Equal([5, 10], metrics.Where(m => m.ValLoss is not null).Select(m => m.Step));
        Assert.All(metrics.Where(m => m.ValLoss is not null), m => Assert.InRange(m.ValLoss!.Value, 0.01, 20));
        var events = TensorBoardReader.Read(Directory.GetFiles(Path.Combine(dir, "tensorboard")).Single());
        Assert.Equal(2, events.Count(e => e.Scalars.Any(s => s.Tag == "eval/loss")));
    }
}

[Collection(TorchRngCollection.Name)]
public sealed class ModulesToSaveTests
{
    public ModulesToSaveTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void Embeddings_can_be_trained_in_full_and_round_trip_through_the_adapter()
    {
        var dir = Tiny.TempDir("mts");
        var trained = Tiny.Model();
        var before = trained.Model.EmbedTokens.weight!.detach().clone();
        var result = new Trainer(Tiny.Cfg(dir, "train.max_steps=6", "lora.modules_to_save=[embed_tokens]"), trained, new ByteTokenizer(),
            new MemoryData(Tiny.Corpus()), new SilentProgress()).Run(false);
        Assert.True((trained.Model.EmbedTokens.weight!.detach() - before).abs().max().item<float>() > 0, "the embedding was trained");
        using (var st = SafetensorsFile.Open(Path.Combine(result.AdapterDir, PeftAdapter.WeightsFile)))
            Assert.Equal([260L, 32L], st.Entries["base_model.model.model.embed_tokens.weight"].Shape);
        var json = File.ReadAllText(Path.Combine(result.AdapterDir, PeftAdapter.ConfigFile));
        Assert.Contains("\"modules_to_save\": [\n    \"embed_tokens\"\n  ]", json);

        using var ids = tensor(new long[] { 102, 110, 32, 97 }).unsqueeze(0);
        trained.eval();
        using var expected = trained.Forward(ids);
        var fresh = Tiny.Model();
        PeftAdapter.LoadInto(fresh, result.AdapterDir);
        fresh.eval();
        using var got = fresh.Forward(ids);
        Assert.True(allclose(expected, got, rtol: 1e-5, atol: 1e-5));

        var bad = Assert.Throws<SmeltException>(() => ConfigLoader.LoadText("model: {path: m}\ndata: {sources: [{path: x}]}\nlora: {modules_to_save: [norm]}\n", "c.yml"));
        Assert.Contains("lora.modules_to_save: 'norm' cannot be trained in full", bad.Message);
    }
}

[Collection(TorchRngCollection.Name)]
public sealed class GenerateHookTests
{
    public GenerateHookTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void The_generate_adapter_hook_loads_a_trained_adapter()
    {
        var dir = Tiny.TempDir("hook");
        var trained = Tiny.Model();
        var result = new Trainer(Tiny.Cfg(dir, "train.max_steps=4"), trained, new ByteTokenizer(), new MemoryData(Tiny.Corpus()), new SilentProgress()).Run(false);
        using var ids = tensor(new long[] { 102, 110, 32 }).unsqueeze(0);
        trained.eval();
        using var expected = trained.Forward(ids);

        var fresh = Tiny.Model();
        new PeftAdapterLoader().Apply(fresh, result.AdapterDir); // what AdapterRegistry.Apply calls for `smelt generate --adapter`
        Assert.False(fresh.training);
        using var got = fresh.Forward(ids);
        Assert.True(allclose(expected, got, rtol: 1e-5, atol: 1e-5));
        var missing = Assert.Throws<SmeltException>(() => new PeftAdapterLoader().Apply(Tiny.Model(), dir));
        Assert.Contains("not a PEFT adapter", missing.Message);
    }
}

[Collection(TorchRngCollection.Name)]
public sealed class InjectionTests
{
    public InjectionTests() => TorchRuntime.EnsureLoaded();

    [Theory]
    [InlineData("none")]
    [InlineData("nf4")]
    public void Whole_model_zero_B_keeps_logits_and_only_adapters_receive_gradients(string method)
    {
        var model = Tiny.Model();
        using var ids = tensor(new long[] { 1, 5, 9, 200, 17, 3 }).unsqueeze(0);
        // Frozen first, as injection leaves the base: the norms then take the same (fused) kernel before and after.
        foreach (var p in model.parameters()) p.requires_grad = false;
        using var before = model.Forward(ids).detach();
        var adapters = AdapterSet.Inject(model, new LoraSection { R = 4, Alpha = 8, Dropout = 0 }, new QuantizationSection { Method = method }, 1);
        Assert.Equal(2 * 7, adapters.Layers.Count);
        using var after = model.Forward(ids);
        if (method == "none") Assert.Equal(0f, (after - before).abs().max().item<float>());
        else
        {
            // NF4 + zero B equals the base model with every projection replaced by its dequantised NF4 weight.
            var reference = Tiny.Model();
            reference.ReplaceProjections((_, m) =>
            {
                var linear = (TorchSharp.Modules.Linear)m;
                using var q = Nf4Tensor.Quantize(linear.weight!, 64, true, 256);
                using var deq = q.Dequantize();
                using (no_grad()) linear.weight!.copy_(deq);
                return null;
            });
            using var expected = reference.Forward(ids);
            Assert.True(allclose(after, expected, rtol: 1e-4, atol: 1e-4));
            Assert.True((after - before).abs().max().item<float>() > 0, "quantisation is lossy");
        }

        after.logsumexp(-1).sum().backward();
        var withGrad = model.named_parameters().Where(p => p.parameter.grad is not null).Select(p => p.name).ToList();
        Assert.NotEmpty(withGrad);
        Assert.All(withGrad, n => Assert.Matches(@"\.lora_[AB]\.weight$", n));
        Assert.All(model.named_parameters().Where(p => !p.name.Contains(".lora_")), p => Assert.False(p.parameter.requires_grad, p.name));
    }
}
