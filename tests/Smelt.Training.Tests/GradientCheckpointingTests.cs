using Smelt.Model;
using Smelt.Training.Config;
using Smelt.Training.Data;
using Smelt.Training.Logging;
using Smelt.Training.Lora;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Smelt.Training.Tests;

/// <summary>Records, for every call, whether autograd was on, and passes the call through to the wrapped module.</summary>
internal sealed class GradModeProbe : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> inner;

    public GradModeProbe(nn.Module<Tensor, Tensor> wrapped) : base(nameof(GradModeProbe))
    {
        inner = wrapped;
        register_module("inner", inner);
    }

    public List<bool> Calls { get; } = [];

    public override Tensor forward(Tensor x)
    {
        Calls.Add(is_grad_enabled());
        return inner.forward(x);
    }
}

[Collection(TorchRngCollection.Name)]
public sealed class GradientCheckpointingTests
{
    private readonly ITestOutputHelper _out;

    public GradientCheckpointingTests(ITestOutputHelper output)
    {
        _out = output;
        TorchRuntime.EnsureLoaded();
    }

    /// <summary>Two packed rows of random tokens (two documents in the first, so the block-diagonal mask matters).</summary>
    private static Batch Rows()
    {
        var rng = new Random(4);
        TokenizedDoc Doc(int n) => new("d", Enumerable.Range(0, n).Select(_ => rng.Next(256)).ToArray(), Enumerable.Repeat(true, n).ToArray());
        return Batch.From(new Packer(24, 0).Pack([Doc(10), Doc(14), Doc(24)]).ToList());
    }

    private static AdapterSet Adapted(LlamaForCausalLM model, bool nf4, bool trainEmbeddings, double dropout = 0.2)
    {
        var lora = new LoraSection { R = 4, Alpha = 8, Dropout = dropout, ModulesToSave = trainEmbeddings ? ["embed_tokens"] : [] };
        var adapters = AdapterSet.Inject(model, lora, new QuantizationSection { Method = nf4 ? "nf4" : "none" }, seed: 2);
        // B starts at zero, which would leave every A gradient zero: give B values so both get real gradients.
        using (no_grad())
        using (var g = new Generator(9))
            foreach (var (_, layer) in adapters.Layers) layer.B.copy_(randn(layer.B.shape, generator: g) * 0.1);
        model.train();
        return adapters;
    }

    /// <summary>One forward and backward at a given seed; the gradients of every trainable tensor, and the generator state after.</summary>
    private static (List<Tensor> Grads, byte[] RngAfter) Gradients(LlamaForCausalLM model, AdapterSet adapters, Batch batch, bool checkpointing, long seed)
    {
        foreach (var (_, p) in adapters.Parameters()) p.grad?.zero_();
        model.GradientCheckpointing = checkpointing;
        manual_seed(seed);
        adapters.Dropout.Reseed(seed);
        using (var scope = NewDisposeScope())
        {
            var logits = model.Forward(batch.InputIds, batch.PositionIds, batch.Mask);
            var loss = nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), batch.Labels.view(-1), ignore_index: Packer.IgnoreIndex, reduction: nn.Reduction.Sum);
            loss.backward();
        }
        using var state = random.get_rng_state();
        return (adapters.Parameters().Select(p => p.Param.grad!.detach().to(ScalarType.Float32).clone()).ToList(),
            [.. state.data<byte>().ToArray(), .. BitConverter.GetBytes(adapters.Dropout.Position)]);
    }

    private static float MaxDiff(List<Tensor> a, List<Tensor> b) => a.Zip(b).Max(p => (p.First - p.Second).abs().max().item<float>());
    private static float MaxAbs(List<Tensor> a) => a.Max(t => t.abs().max().item<float>());

    [Theory]
    [InlineData(false, false, "f32")]
    [InlineData(true, false, "f32")]
    [InlineData(false, true, "f32")]
    [InlineData(false, false, "bf16")]
    [InlineData(true, true, "bf16")]
    public void Adapter_gradients_with_checkpointing_equal_those_without(bool nf4, bool trainEmbeddings, string dtype)
    {
        var model = Tiny.Model();
        if (dtype == "bf16") model.to(ScalarType.BFloat16);
        var adapters = Adapted(model, nf4, trainEmbeddings);
        using var batch = Rows();

        var (plain, rngPlain) = Gradients(model, adapters, batch, checkpointing: false, seed: 7);
        var (ckpt, rngCkpt) = Gradients(model, adapters, batch, checkpointing: true, seed: 7);
        var (otherSeed, _) = Gradients(model, adapters, batch, checkpointing: false, seed: 8);

        Assert.All(plain, g => Assert.True(g.abs().max().item<float>() > 0, "every trainable tensor gets a gradient"));
        Assert.All(ckpt, g => Assert.True(g.abs().max().item<float>() > 0, "every trainable tensor gets a gradient with checkpointing"));
        var scale = MaxAbs(plain);
        // Dropout matters here: another seed moves the gradients by far more than the tolerance below.
        var bySeed = MaxDiff(plain, otherSeed);
        var byCheckpointing = MaxDiff(plain, ckpt);
        var tolerance = dtype == "f32" ? 1e-6f * scale : 1e-3f * scale;
        _out.WriteLine($"max |grad| {scale}; max difference: checkpointing {byCheckpointing}, another dropout seed {bySeed}");
        Assert.True(bySeed > 100 * tolerance, $"dropout barely changes the gradients ({bySeed} vs scale {scale})");
        Assert.True(byCheckpointing <= tolerance, $"checkpointed gradients differ by {byCheckpointing} (scale {scale}, tolerance {tolerance})");
        // The recompute put the generator back: the random stream after the step is the one without checkpointing.
        Assert.Equal(rngPlain, rngCkpt);
    }

    [Fact]
    public void Checkpointed_forward_keeps_no_graph_and_backward_recomputes_every_layer()
    {
        var model = Tiny.Model();
        var adapters = Adapted(model, nf4: false, trainEmbeddings: false);
        var probes = new List<GradModeProbe>();
        model.ReplaceProjections((name, current) =>
        {
            if (!name.EndsWith("mlp.up_proj", StringComparison.Ordinal)) return null;
            var probe = new GradModeProbe(current);
            probes.Add(probe);
            return probe;
        });
        Assert.Equal(model.Config.NumHiddenLayers, probes.Count);
        using var batch = Rows();

        Gradients(model, adapters, batch, checkpointing: false, seed: 1);
        Assert.All(probes, p => Assert.Equal([true], p.Calls));
        probes.ForEach(p => p.Calls.Clear());

        Gradients(model, adapters, batch, checkpointing: true, seed: 1);
        // Each layer ran once with autograd off (nothing recorded) and once more, recording, inside backward.
        Assert.All(probes, p => Assert.Equal([false, true], p.Calls));
        probes.ForEach(p => p.Calls.Clear());

        // Without autograd (validation, generation) checkpointing has nothing to save and is not used.
        using (no_grad()) { using var _ = model.Forward(batch.InputIds, batch.PositionIds, batch.Mask); }
        Assert.All(probes, p => Assert.Equal([false], p.Calls));
    }

    [Theory]
    [InlineData("none")]
    [InlineData("nf4")]
    public void Training_with_checkpointing_gives_the_same_losses_and_adapter(string quant)
    {
        string Run(bool checkpointing)
        {
            var dir = Tiny.TempDir($"ckpt-{quant}-{checkpointing}");
            var cfg = Tiny.Cfg(dir, "train.max_steps=6", "lora.dropout=0.1", $"quantization.method={quant}", $"train.gradient_checkpointing={(checkpointing ? "true" : "false")}");
            new Trainer(cfg, Tiny.Model(), new ByteTokenizer(), new MemoryData(Tiny.Corpus()), new SilentProgress()).Run(resume: false);
            return dir;
        }
        var plain = Run(false);
        var ckpt = Run(true);
        var a = MetricsLog.ReadAll(Path.Combine(plain, "metrics.jsonl"));
        var b = MetricsLog.ReadAll(Path.Combine(ckpt, "metrics.jsonl"));
        Assert.Equal(6, b.Count);
        for (var i = 0; i < a.Count; i++) Assert.Equal(a[i].Loss, b[i].Loss, 5);
        Assert.True(a[^1].Loss < a[0].Loss, "the run learns something");
        TrainerTests.AssertSameAdapter(Path.Combine(plain, "adapter"), Path.Combine(ckpt, "adapter"), 1e-5f);
    }
}
