using Smelt.Model;
using Smelt.Training.Config;
using Smelt.Training.Data;
using Smelt.Training.Lora;
using static TorchSharp.torch;

namespace Smelt.Training.Tests;

/// <summary>The loss taken a slice of target tokens at a time, with its gradient taken in the forward pass, equals the plain
/// cross-entropy over whole logits, and so do its gradients (into the adapters, the embedding and a trained head).</summary>
[Collection(TorchRngCollection.Name)]
public sealed class TokenLossTests
{
    public TokenLossTests() => TorchRuntime.EnsureLoaded();

    private static Batch Rows()
    {
        var rng = new Random(5);
        TokenizedDoc Doc(int n, bool prompt) => new("d", Enumerable.Range(0, n).Select(_ => rng.Next(256)).ToArray(),
            Enumerable.Range(0, n).Select(i => !prompt || i > n / 2).ToArray());
        return Batch.From(new Packer(24, 0).Pack([Doc(10, false), Doc(14, true), Doc(24, false), Doc(7, true)]).ToList());
    }

    private static (double Loss, List<Tensor> Grads) Run(LlamaForCausalLM model, AdapterSet adapters, Batch batch, Func<Tensor> loss)
    {
        foreach (var (_, p) in adapters.Parameters()) p.grad?.zero_();
        double value;
        using (var scope = NewDisposeScope())
        {
            var l = loss();
            l.backward();
            value = l.item<float>();
        }
        return (value, adapters.Parameters().Select(p => p.Param.grad!.detach().clone()).ToList());
    }

    [Theory]
    [InlineData(false, "embed_tokens")] // the head frozen
    [InlineData(true, "embed_tokens")]  // tied: the trained embedding is the head, its gradient comes from both ends
    [InlineData(false, "lm_head")]      // a trained untied head
    public void Sliced_loss_and_gradients_equal_the_whole_logits_ones(bool tied, string trained)
    {
        manual_seed(3);
        var model = Tiny.Model(config: Tiny.Config() with { TieWordEmbeddings = tied });
        var lora = new LoraSection { R = 4, Alpha = 8, Dropout = 0, ModulesToSave = [trained] };
        var adapters = AdapterSet.Inject(model, lora, new QuantizationSection(), seed: 2);
        using (no_grad())
        using (var g = new Generator(9))
            foreach (var (_, layer) in adapters.Layers) layer.B.copy_(randn(layer.B.shape, generator: g) * 0.1);
        model.train();
        using var batch = Rows();
        var vocab = model.Config.VocabSize;

        var whole = Run(model, adapters, batch, () =>
        {
            var logits = model.Forward(batch.InputIds, batch.PositionIds, batch.Mask);
            return nn.functional.cross_entropy(logits.view(-1, vocab), batch.Labels.view(-1), ignore_index: Packer.IgnoreIndex, reduction: nn.Reduction.Sum);
        });
        // 5 rows a slice: the 48 tokens of the batch in 10 slices, the last one short, some holding only masked labels.
        var sliced = Run(model, adapters, batch, () => TokenLoss.Summed(model, batch, sliceBytes: 5 * 4L * vocab));
        var single = Run(model, adapters, batch, () => TokenLoss.Summed(model, batch));

        Assert.Equal(trained == "lm_head" || tied, model.HeadWeight.requires_grad);
        Assert.True(whole.Loss > 0);
        Assert.Equal(whole.Loss, sliced.Loss, 3);
        Assert.Equal(whole.Loss, single.Loss, 3);
        foreach (var (w, s) in whole.Grads.Zip(sliced.Grads).Concat(whole.Grads.Zip(single.Grads)))
        {
            Assert.True(w.abs().max().item<float>() > 0);
            Assert.True((w - s).abs().max().item<float>() <= 1e-5f * Math.Max(1f, w.abs().max().item<float>()));
        }
    }
}
