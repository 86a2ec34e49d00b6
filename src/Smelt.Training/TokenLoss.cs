using Smelt.Model;
using Smelt.Training.Data;
using static TorchSharp.torch;

namespace Smelt.Training;

/// <summary>The training loss: cross-entropy summed over a batch's target tokens (labels other than the ignore index).</summary>
public static class TokenLoss
{
    /// <summary>Largest float32 logits slice, in bytes: under glibc's 32 MiB ceiling for heap (rather than mmap) allocations.</summary>
    private const long SliceBytes = 24L << 20;

    /// <summary>
    /// The head and the loss are taken a slice of tokens at a time, so that no float32 logits tensor is larger than
    /// ~24 MiB. Whole, [tokens x vocab] floats are hundreds of MiB (a 128k vocabulary: 0.5 GiB per 1,000 tokens), which
    /// glibc maps and unmaps from the kernel on every step: zeroing fresh pages was most of the kernel time of a bf16
    /// 100M-model step here. The sum is the same up to float rounding; only the allocations are smaller.
    /// </summary>
    public static Tensor Summed(LlamaForCausalLM model, Batch batch) => Summed(model, batch, SliceBytes);

    internal static Tensor Summed(LlamaForCausalLM model, Batch batch, long sliceBytes)
    {
        using var scope = NewDisposeScope();
        var hidden = model.Hidden(batch.InputIds, batch.PositionIds, batch.Mask);
        var flat = hidden.view(-1, hidden.shape[^1]);
        var labels = batch.Labels.view(-1);
        var rows = flat.shape[0];
        var slice = Math.Max(1, sliceBytes / (4L * model.Config.VocabSize));
        Tensor? sum = null;
        for (long start = 0; start < rows; start += slice)
        {
            var len = Math.Min(slice, rows - start);
            var part = nn.functional.cross_entropy(model.Logits(flat.narrow(0, start, len)), labels.narrow(0, start, len),
                ignore_index: Packer.IgnoreIndex, reduction: nn.Reduction.Sum);
            sum = sum is null ? part : sum + part;
        }
        return sum!.MoveToOuterDisposeScope();
    }
}
