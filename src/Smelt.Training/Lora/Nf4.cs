using TorchSharp;
using static TorchSharp.torch;

namespace Smelt.Training.Lora;

/// <summary>
/// 4-bit NormalFloat (NF4) quantisation as published with QLoRA: each block of <c>blockSize</c> weights is scaled by its
/// absolute maximum and every weight is stored as the index of the nearest of 16 code values (two per byte).
/// With double quantisation the per-block absmax scales (f32) are themselves stored as int8, blockwise over
/// <c>doubleQuantBlock</c> scales, after subtracting their mean (symmetric linear int8 with an f32 scale per block; the
/// bitsandbytes implementation uses a non-linear 8-bit map here, so the bytes differ but the storage cost is the same).
/// </summary>
public sealed class Nf4Tensor : IDisposable
{
    /// <summary>The 16 NF4 code values (QLoRA paper, Appendix E / bitsandbytes), ascending, exactly representable in f32.</summary>
    public static readonly float[] CodeValues =
    [
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    ];

    /// <summary>Half the widest gap between neighbouring code values: the worst-case error per weight, as a fraction of its block's absmax.</summary>
    public static readonly float MaxRelativeError = Enumerable.Range(0, 15).Max(i => CodeValues[i + 1] - CodeValues[i]) / 2;

    private Nf4Tensor(long[] shape, int blockSize, Tensor packed, Tensor? absmaxF32, Tensor? absmaxQ, Tensor? absmaxScale, float absmaxOffset, int dqBlock)
    {
        Shape = shape;
        BlockSize = blockSize;
        Packed = packed;
        AbsmaxF32 = absmaxF32;
        AbsmaxQ = absmaxQ;
        AbsmaxScale = absmaxScale;
        AbsmaxOffset = absmaxOffset;
        DoubleQuantBlock = dqBlock;
    }

    public long[] Shape { get; }
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
    public int BlockSize { get; }
    public int DoubleQuantBlock { get; }
    /// <summary>uint8, two 4-bit code indices per byte (high nibble first).</summary>
    public Tensor Packed { get; }
    /// <summary>Per-block absmax when double quantisation is off.</summary>
    public Tensor? AbsmaxF32 { get; }
    /// <summary>Per-block absmax minus <see cref="AbsmaxOffset"/>, as int8, when double quantisation is on.</summary>
    public Tensor? AbsmaxQ { get; }
    /// <summary>f32 scale per <see cref="DoubleQuantBlock"/> int8 absmax values.</summary>
    public Tensor? AbsmaxScale { get; }
    public float AbsmaxOffset { get; }

    /// <summary>Bytes held by the quantised representation (codes + scales + second-level scales).</summary>
    public long StorageBytes =>
        Packed.NumberOfElements + (AbsmaxF32?.NumberOfElements ?? 0) * 4 + (AbsmaxQ?.NumberOfElements ?? 0) + (AbsmaxScale?.NumberOfElements ?? 0) * 4 + 4;

    public static Nf4Tensor Quantize(Tensor weight, int blockSize = 64, bool doubleQuant = true, int doubleQuantBlock = 256)
    {
        if (blockSize % 2 != 0) throw new ArgumentException("block size must be even", nameof(blockSize));
        using var scope = NewDisposeScope();
        var shape = weight.shape;
        var flat = weight.detach().to(ScalarType.Float32).cpu().flatten();
        var n = flat.shape[0];
        var blocks = (n + blockSize - 1) / blockSize;
        var padded = n == blocks * blockSize ? flat : nn.functional.pad(flat, [0, blocks * blockSize - n]);
        var grid = padded.reshape(blocks, blockSize);
        var absmax = grid.abs().amax([1]);
        var safe = torch.where(absmax > 0, absmax, ones_like(absmax));
        var normalized = grid / safe.unsqueeze(1);

        // Nearest code value: count how many midpoints lie below each value (ties go to the upper code).
        var codes = tensor(CodeValues);
        var mids = (codes[TensorIndex.Slice(1, null)] + codes[TensorIndex.Slice(null, -1)]) / 2;
        var index = torch.bucketize(normalized.flatten(), mids, right: true).to(ScalarType.Int64);
        var pairs = index.reshape(-1, 2);
        var packed = (pairs[TensorIndex.Colon, 0] * 16 + pairs[TensorIndex.Colon, 1]).to(ScalarType.Byte);

        Tensor? f32 = null, q = null, scale = null;
        float offset = 0;
        if (doubleQuant)
        {
            offset = absmax.mean().item<float>();
            var centered = absmax - offset;
            var dqBlocks = (blocks + doubleQuantBlock - 1) / doubleQuantBlock;
            var c2 = centered.shape[0] == dqBlocks * doubleQuantBlock ? centered : nn.functional.pad(centered, [0, dqBlocks * doubleQuantBlock - blocks]);
            var g2 = c2.reshape(dqBlocks, doubleQuantBlock);
            var s2 = g2.abs().amax([1]) / 127f;
            var s2Safe = torch.where(s2 > 0, s2, ones_like(s2));
            q = (g2 / s2Safe.unsqueeze(1)).round().clamp(-127, 127).to(ScalarType.Int8).flatten()[TensorIndex.Slice(0, blocks)].contiguous();
            scale = s2;
        }
        else
        {
            f32 = absmax;
        }
        var result = new Nf4Tensor(shape, blockSize, packed.contiguous().MoveToOuterDisposeScope(), f32?.MoveToOuterDisposeScope(),
            q?.MoveToOuterDisposeScope(), scale?.MoveToOuterDisposeScope(), offset, doubleQuantBlock);
        return result;
    }

    /// <summary>The per-block scales as the forward pass uses them (after undoing double quantisation).</summary>
    public Tensor Absmax()
    {
        if (AbsmaxF32 is not null) return AbsmaxF32.alias();
        using var scope = NewDisposeScope();
        var blocks = AbsmaxQ!.shape[0];
        var perScale = AbsmaxScale!.repeat_interleave(DoubleQuantBlock)[TensorIndex.Slice(0, blocks)];
        return (AbsmaxQ.to(ScalarType.Float32) * perScale + AbsmaxOffset).MoveToOuterDisposeScope();
    }

    public Tensor Dequantize(ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var wide = Packed.to(ScalarType.Int64);
        var hi = wide.div(16, rounding_mode: RoundingMode.floor);
        var lo = wide.remainder(16);
        var index = stack([hi, lo], 1).flatten();
        var values = tensor(CodeValues).index_select(0, index).reshape(-1, BlockSize);
        var w = (values * Absmax().unsqueeze(1)).flatten()[TensorIndex.Slice(0, ElementCount)].reshape(Shape);
        return w.to(dtype).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Packed.Dispose();
        AbsmaxF32?.Dispose();
        AbsmaxQ?.Dispose();
        AbsmaxScale?.Dispose();
    }
}
