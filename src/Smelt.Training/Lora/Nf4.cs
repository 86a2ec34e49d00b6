using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
        _offset = absmaxOffset.ToScalar();
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
    private readonly Scalar _offset; // held for the tensor's lifetime: TorchSharp frees temporary Scalars from a finalizer (docs/model.md)

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
        return (AbsmaxQ.to(ScalarType.Float32) * perScale).add(_offset, Scalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The weight in <paramref name="dtype"/>: each code value times its block's absmax, in f32, rounded once to the dtype.
    /// Filled directly from the packed bytes: per block a 16-entry table of those products, looked up 16 codes at a
    /// time with a byte shuffle (SSSE3) on all cores, a scalar loop elsewhere. A training step dequantises every frozen
    /// projection twice (forward and backward, see <see cref="Nf4Linear"/>), so this runs at memory speed.
    /// </summary>
    public Tensor Dequantize(ScalarType dtype = ScalarType.Float32)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
        {
            using var f32 = Dequantize(ScalarType.Float32);
            return f32.to(dtype);
        }
        using var scope = NewDisposeScope();
        var absmaxT = Absmax().contiguous();
        var blocks = absmaxT.shape[0];
        if (blocks * BlockSize * (long)(dtype == ScalarType.Float32 ? 4 : 2) > int.MaxValue)
            throw new NotSupportedException($"NF4 dequantisation of {blocks * BlockSize} elements: one tensor of over 2 GiB; no linear layer is that large");
        var padded = empty(blocks * BlockSize, dtype);
        var width = dtype == ScalarType.Float32 ? 4 : 2;
        unsafe
        {
            fixed (byte* codes = Packed.bytes)
            fixed (byte* scales = absmaxT.bytes)
            fixed (byte* outBytes = padded.bytes)
            {
                var (c, a, o, block) = ((nint)codes, (nint)scales, (nint)outBytes, BlockSize);
                const int BlocksPerTask = 1024;
                Smelt.Model.CpuParallel.For((int)((blocks + BlocksPerTask - 1) / BlocksPerTask), task =>
                {
                    var end = Math.Min(blocks, (task + 1L) * BlocksPerTask);
                    for (var b = task * (long)BlocksPerTask; b < end; b++)
                        DequantizeBlock((byte*)c + b * block / 2, block / 2, ((float*)a)[b], dtype, (byte*)o + b * block * width);
                });
            }
        }
        var w = padded.shape[0] == ElementCount ? padded.view(Shape) : padded.narrow(0, 0, ElementCount).reshape(Shape);
        return w.MoveToOuterDisposeScope();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void DequantizeBlock(byte* codes, int bytes, float absmax, ScalarType dtype, byte* dst)
    {
        if (dtype == ScalarType.BFloat16 && bytes % 16 == 0 && Ssse3.IsSupported && Vector256.IsHardwareAccelerated && float.IsFinite(absmax))
        {
            var (low, high) = Bf16Planes(absmax);
            Shuffle16(codes, bytes, low, high, (ushort*)dst);
            return;
        }
        // The 16 products as bit patterns of the output dtype, split into byte planes for the shuffle.
        Span<uint> table = stackalloc uint[16];
        for (var k = 0; k < 16; k++)
        {
            var v = CodeValues[k] * absmax;
            table[k] = dtype switch
            {
                ScalarType.Float32 => BitConverter.SingleToUInt32Bits(v),
                ScalarType.BFloat16 => Smelt.Model.Bf16.FromSingle(v),
                _ => BitConverter.HalfToUInt16Bits((Half)v),
            };
        }
        var width = dtype == ScalarType.Float32 ? 4 : 2;
        var j = 0;
        if (Ssse3.IsSupported)
            j = width == 2 ? Shuffle16(codes, bytes, table, (ushort*)dst) : Shuffle32(codes, bytes, table, (uint*)dst);
        for (; j < bytes; j++)
        {
            var b = codes[j];
            if (width == 2) { ((ushort*)dst)[2 * j] = (ushort)table[b >> 4]; ((ushort*)dst)[2 * j + 1] = (ushort)table[b & 15]; }
            else { ((uint*)dst)[2 * j] = table[b >> 4]; ((uint*)dst)[2 * j + 1] = table[b & 15]; }
        }
    }

    private static Vector128<byte> Plane(ReadOnlySpan<uint> table, int shift)
    {
        Span<byte> plane = stackalloc byte[16];
        for (var k = 0; k < 16; k++) plane[k] = (byte)(table[k] >> shift);
        return Vector128.Create((ReadOnlySpan<byte>)plane);
    }

    /// <summary>Code indices in element order for 16 packed bytes: the high nibble of each byte comes first.</summary>
    private static unsafe (Vector128<byte> First, Vector128<byte> Second) Indices(byte* src)
    {
        var v = Sse2.LoadVector128(src);
        var low4 = Vector128.Create((byte)0x0F);
        var hi = Sse2.And(Sse2.ShiftRightLogical(v.AsUInt16(), 4).AsByte(), low4);
        var lo = Sse2.And(v, low4);
        return (Sse2.UnpackLow(hi, lo), Sse2.UnpackHigh(hi, lo));
    }

    private static readonly Vector256<float> CodesLow = Vector256.Create(CodeValues.AsSpan(0, 8));
    private static readonly Vector256<float> CodesHigh = Vector256.Create(CodeValues.AsSpan(8, 8));

    /// <summary>The bf16 table's two byte planes straight from vectors: 16 products, rounded to bf16, low and high bytes apart.</summary>
    private static (Vector128<byte> Low, Vector128<byte> High) Bf16Planes(float absmax)
    {
        var scale = Vector256.Create(absmax);
        var a = Bf16Bits((CodesLow * scale).AsUInt32());
        var b = Bf16Bits((CodesHigh * scale).AsUInt32());
        var ab = Vector256.Narrow(a, b); // 16 bf16 values in code order
        var (lo, hi) = (ab.GetLower(), ab.GetUpper());
        var byteMask = Vector128.Create((ushort)0xFF);
        return (Sse2.PackUnsignedSaturate((lo & byteMask).AsInt16(), (hi & byteMask).AsInt16()),
                Sse2.PackUnsignedSaturate(Vector128.ShiftRightLogical(lo, 8).AsInt16(), Vector128.ShiftRightLogical(hi, 8).AsInt16()));
    }

    private static Vector256<uint> Bf16Bits(Vector256<uint> bits) =>
        Vector256.ShiftRightLogical(bits + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(bits, 16) & Vector256.Create(1u)), 16);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe int Shuffle16(byte* codes, int bytes, ReadOnlySpan<uint> table, ushort* dst)
    {
        var (t0, t1) = (Plane(table, 0), Plane(table, 8));
        return Shuffle16(codes, bytes, t0, t1, dst);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe int Shuffle16(byte* codes, int bytes, Vector128<byte> t0, Vector128<byte> t1, ushort* dst)
    {
        var j = 0;
        for (; j + 16 <= bytes; j += 16)
        {
            var (first, second) = Indices(codes + j);
            Store16(first, t0, t1, dst + 2 * j);
            Store16(second, t0, t1, dst + 2 * j + 16);
        }
        return j;
    }

    private static unsafe void Store16(Vector128<byte> idx, Vector128<byte> t0, Vector128<byte> t1, ushort* dst)
    {
        var b0 = Ssse3.Shuffle(t0, idx);
        var b1 = Ssse3.Shuffle(t1, idx);
        Sse2.Store((byte*)dst, Sse2.UnpackLow(b0, b1));
        Sse2.Store((byte*)(dst + 8), Sse2.UnpackHigh(b0, b1));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe int Shuffle32(byte* codes, int bytes, ReadOnlySpan<uint> table, uint* dst)
    {
        var (t0, t1, t2, t3) = (Plane(table, 0), Plane(table, 8), Plane(table, 16), Plane(table, 24));
        var j = 0;
        for (; j + 16 <= bytes; j += 16)
        {
            var (first, second) = Indices(codes + j);
            Store32(first, t0, t1, t2, t3, dst + 2 * j);
            Store32(second, t0, t1, t2, t3, dst + 2 * j + 16);
        }
        return j;
    }

    private static unsafe void Store32(Vector128<byte> idx, Vector128<byte> t0, Vector128<byte> t1,
        Vector128<byte> t2, Vector128<byte> t3, uint* dst)
    {
        var b0 = Ssse3.Shuffle(t0, idx);
        var b1 = Ssse3.Shuffle(t1, idx);
        var b2 = Ssse3.Shuffle(t2, idx);
        var b3 = Ssse3.Shuffle(t3, idx);
        var low01 = Sse2.UnpackLow(b0, b1).AsUInt16();
        var high01 = Sse2.UnpackHigh(b0, b1).AsUInt16();
        var low23 = Sse2.UnpackLow(b2, b3).AsUInt16();
        var high23 = Sse2.UnpackHigh(b2, b3).AsUInt16();
        Sse2.Store((byte*)dst, Sse2.UnpackLow(low01, low23).AsByte());
        Sse2.Store((byte*)(dst + 4), Sse2.UnpackHigh(low01, low23).AsByte());
        Sse2.Store((byte*)(dst + 8), Sse2.UnpackLow(high01, high23).AsByte());
        Sse2.Store((byte*)(dst + 12), Sse2.UnpackHigh(high01, high23).AsByte());
    }

    public void Dispose()
    {
        Packed.Dispose();
        AbsmaxF32?.Dispose();
        AbsmaxQ?.Dispose();
        AbsmaxScale?.Dispose();
    }
}
