using Smelt.Model;
using TorchSharp;
using Smelt.Training.Data;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Smelt.Training;

/// <summary>The training loss: cross-entropy summed over a batch's target tokens (labels other than the ignore index).</summary>
public static class TokenLoss
{
    /// <summary>Largest float32 logits slice, in bytes: under glibc's 32 MiB ceiling for heap (rather than mmap) allocations.</summary>
    private const long SliceBytes = 24L << 20;
    private static readonly Scalar IgnoreIndex = Packer.IgnoreIndex.ToScalar(); // process-lifetime (see docs/model.md, TorchSharp Scalars)

    /// <summary>
    /// Only the target tokens go through the head (prompt tokens and padding have no label), a slice of them at a time so
    /// that no float32 logits tensor is larger than ~24 MiB: whole, [tokens x vocab] floats are hundreds of MiB (a 128k
    /// vocabulary: 0.5 GiB per 1,000 tokens). With autograd on, each slice's gradient is taken right away
    /// (<see cref="HeadCrossEntropy"/>), so no logits are kept for the backward pass. The sum equals the plain
    /// cross-entropy over whole logits up to float rounding.
    /// </summary>
    public static Tensor Summed(LlamaForCausalLM model, Batch batch) => Summed(model, batch, SliceBytes);

    internal static Tensor Summed(LlamaForCausalLM model, Batch batch, long sliceBytes)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Hidden(batch.InputIds, batch.PositionIds, batch.Mask);
        var labels = batch.Labels.view(-1);
        var targets = nonzero(labels.ne(IgnoreIndex)).view(-1);
        var flat = hidden.view(-1, hidden.shape[^1]).index_select(0, targets);
        var targetLabels = labels.index_select(0, targets);
        var rows = Math.Max(1, sliceBytes / (4L * model.Config.VocabSize));
        var weight = model.HeadWeight;
        var sum = is_grad_enabled() && (flat.requires_grad || weight.requires_grad)
            ? HeadCrossEntropy.Apply(flat, weight, targetLabels, rows)
            : HeadCrossEntropy.LossOnly(flat, weight, targetLabels, rows);
        return sum.MoveToOuterDisposeScope();
    }
}

/// <summary>
/// Cross-entropy of <c>hidden · weightᵀ</c> against labels, summed, as one autograd node that takes its gradient in the
/// forward pass, a slice of rows at a time: d loss / d logits = softmax − one-hot, which then goes straight through the
/// head's two products (into the hidden states and, when the head is trained, its weight). What it keeps for backward is
/// those two gradients, not the logits; backward scales them by the incoming gradient (the loss is linear in it).
/// Both products run in the model dtype; the softmax in float32 (on the CPU in one kernel, <see cref="FusedCrossEntropy"/>).
/// </summary>
internal sealed class HeadCrossEntropy : SingleTensorFunction<HeadCrossEntropy>
{
    public override string Name => nameof(HeadCrossEntropy);

    /// <param name="hidden">[N, hidden], rows with a label only</param>
    /// <param name="weight">[vocab, hidden]</param>
    /// <param name="labels">[N] token ids</param>
    public static Tensor Apply(Tensor hidden, Tensor weight, Tensor labels, long sliceRows) => apply(hidden, weight, labels, sliceRows);

    /// <summary>The same sum without gradients (validation, or nothing to train upstream).</summary>
    public static Tensor LossOnly(Tensor hidden, Tensor weight, Tensor labels, long sliceRows)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var sum = zeros(1, ScalarType.Float32, hidden.device).view([]);
        for (long start = 0; start < hidden.shape[0]; start += sliceRows)
        {
            var len = Math.Min(sliceRows, hidden.shape[0] - start);
            var logProbs = nn.functional.linear(hidden.narrow(0, start, len), weight).log_softmax(-1, ScalarType.Float32);
            sum.sub_(logProbs.gather(1, labels.narrow(0, start, len).unsqueeze(1)).sum());
        }
        return sum.MoveToOuterDisposeScope();
    }

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (hidden, weight, labels, sliceRows) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (long)vars[3]);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var n = hidden.shape[0];
        var gradHidden = hidden.requires_grad ? empty_like(hidden) : null;
        var gradWeight = weight.requires_grad ? zeros(weight.shape, ScalarType.Float32, weight.device) : null;
        var sum = 0.0;
        Tensor? minusOnes = null;
        for (long start = 0; start < n; start += sliceRows)
        {
            var len = Math.Min(sliceRows, n - start);
            var h = hidden.narrow(0, start, len);
            var sliceLabels = labels.narrow(0, start, len);
            var logits = nn.functional.linear(h, weight);                                       // [len, vocab], model dtype
            Tensor gm;
            if (FusedCrossEntropy.Supports(logits, sliceLabels))
            {
                sum += FusedCrossEntropy.GradientInPlace(logits, sliceLabels);                 // logits become softmax − one-hot
                gm = logits;
            }
            else
            {
                var target = sliceLabels.unsqueeze(1);
                var logProbs = logits.log_softmax(-1, ScalarType.Float32);
                sum -= logProbs.gather(1, target).sum().item<float>();
                var g = logProbs.exp_();                                                        // softmax
                minusOnes ??= ones(Math.Min(sliceRows, n), 1, ScalarType.Float32, hidden.device).neg_();
                g.scatter_add_(1, target, minusOnes.narrow(0, 0, len));                         // − one-hot
                gm = g.to(hidden.dtype);
            }
            gradHidden?.narrow(0, start, len).copy_(matmul(gm, weight));
            gradWeight?.add_(matmul(gm.t(), h), Scalars.One);
        }
        var saved = new List<Tensor>();
        if (gradHidden is not null) saved.Add(gradHidden.MoveToOuterDisposeScope());
        if (gradWeight is not null) saved.Add(gradWeight.MoveToOuterDisposeScope());
        ctx.save_for_backward(saved);
        ctx.save_data("has_hidden", gradHidden is not null);
        ctx.save_data("weight_dtype", weight.dtype);
        return tensor((float)sum).to(hidden.device).MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var hasHidden = (bool)ctx.get_data("has_hidden");
        var dHidden = hasHidden ? saved[0] * gradOutput : null;
        var dWeight = saved.Count > (hasHidden ? 1 : 0) ? (saved[^1] * gradOutput).to((ScalarType)ctx.get_data("weight_dtype")) : null;
        return [dHidden!, dWeight!, null!, null!];
    }
}
