// Dropout masks for CPU tensors from a counter-based generator, drawn in parallel with SIMD.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace Smelt.Model;

/// <summary>
/// The random stream of training dropout on the CPU. libtorch's CPU <c>bernoulli_</c> draws one number per element through a
/// serial loop (its parallel MKL path is for Intel CPUs only), which took about a quarter of a bf16 LoRA training step here.
/// This generator is counter-based: element <c>i</c> of the stream is a fixed function of (seed, i), so a mask is filled by
/// all cores at once, and the whole state is two numbers, <see cref="Seed"/> and <see cref="Position"/> (elements drawn so
/// far), which checkpoints save and gradient checkpointing rewinds.
/// <para>
/// Element i keeps its value when <c>Hash(seed, i) &gt;= round(p · 2^32)</c>, a 32-bit hash (two rounds of the "lowbias32"
/// integer mixer with the seed keyed in); kept values are scaled by <c>1 / (1 - p)</c> rounded to the tensor's dtype, as
/// torch's own dropout does (it scales its mask in the input's dtype).
/// </para>
/// Drawing is thread-safe (concurrent users reserve disjoint stretches); rewinding (<see cref="Position"/>) and
/// <see cref="Reseed"/> are not, and belong to the run that owns the instance. A training run owns one
/// (<c>AdapterSet.Dropout</c>), so that runs side by side in one process (a parallel sweep) each draw the stream their seed gives.
/// </summary>
public sealed class DropoutRandom
{
    private const int ChunkElements = 1 << 16;
    private ulong _position;
    private uint _k0, _k1;

    public DropoutRandom(long seed) => Reseed(seed);

    /// <summary>For dropout outside a training run's own generator (a layer or adapter built without one).</summary>
    public static DropoutRandom Default { get; } = new(0);

    public long Seed { get; private set; }

    /// <summary>Elements drawn since <see cref="Reseed"/>; setting it rewinds or skips the stream.</summary>
    public ulong Position
    {
        get => Interlocked.Read(ref _position);
        set => Interlocked.Exchange(ref _position, value);
    }

    public void Reseed(long seed)
    {
        Seed = seed;
        // SplitMix64 of the seed gives the two 32-bit keys, so nearby seeds give unrelated streams.
        var z = unchecked((ulong)seed + 0x9E3779B97F4A7C15UL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        (_k0, _k1) = ((uint)z, (uint)(z >> 32));
        Position = 0;
    }

    /// <summary>
    /// Training dropout of a CPU tensor. f32 and bf16 take the fused kernel (<see cref="FusedDropout"/>: one pass, and the
    /// backward pass recomputes the mask instead of keeping it); other dtypes multiply by a <see cref="Mask"/>. Both give
    /// the same values, and autograd takes the gradient through the same mask.
    /// </summary>
    public Tensor Apply(Tensor x, double p)
    {
        if (x.device_type != DeviceType.CPU) throw new ArgumentException($"DropoutRandom draws CPU masks; the tensor is on {x.device}", nameof(x));
        if (p <= 0) return x.alias();
        if (x.dtype is ScalarType.Float32 or ScalarType.BFloat16 && Vector256.IsHardwareAccelerated)
            return FusedDropout.Apply(x, Reserve(x.NumberOfElements, p));
        using var mask = Mask(x.shape, p, x.dtype);
        return x * mask;
    }

    /// <summary>A fresh tensor of the given shape: 0 where an element is dropped, <c>1 / (1 - p)</c> (in <paramref name="dtype"/>) elsewhere.</summary>
    public Tensor Mask(long[] shape, double p, ScalarType dtype)
    {
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
            throw new ArgumentException($"dropout masks are f32, bf16 or f16, not {dtype}", nameof(dtype));
        var mask = empty(shape, dtype);
        Reserve(mask.NumberOfElements, p).WriteMask(mask);
        return mask;
    }

    /// <summary>Takes the next <paramref name="count"/> elements of the stream for one tensor's mask.</summary>
    public Stream Reserve(long count, double p)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in (0, 1)");
        var start = Interlocked.Add(ref _position, (ulong)count) - (ulong)count;
        return new Stream(_k0, _k1, start, count, Threshold(p), (float)(1.0 / (1.0 - p)));
    }

    private static uint Threshold(double p) => (uint)Math.Min(uint.MaxValue, Math.Round(p * 4294967296.0));

    /// <summary>A reserved stretch of the stream: one tensor's mask, which can be written or applied any number of times.</summary>
    public sealed record Stream(uint K0, uint K1, ulong Start, long Count, uint Threshold, float Scale)
    {
        private int Chunks => (int)((Count + ChunkElements - 1) / ChunkElements);

        /// <summary>Elements per piece of a tensor handed to the kernels (spans stop at 2 GiB); settable for tests.</summary>
        internal static long PieceElements { get; set; } = 1L << 28;

        internal void WriteMask(Tensor mask) => InPieces(mask, mask, (s, _, piece) => piece.WriteMaskWhole(s));

        /// <summary>dst = src · mask for contiguous f32 or bf16 tensors of <see cref="Count"/> elements (bf16: the product rounded once).</summary>
        internal void Multiply(Tensor src, Tensor dst)
        {
            if (src.NumberOfElements != Count || dst.NumberOfElements != Count) throw new ArgumentException($"the stream covers {Count} elements, not {src.NumberOfElements}");
            InPieces(src, dst, (s, d, piece) => piece.MultiplyWhole(s, d));
        }

        /// <summary>Runs <paramref name="body"/> on flat pieces of at most 2^28 elements, each with its stretch of the stream.</summary>
        private void InPieces(Tensor a, Tensor b, Action<Tensor, Tensor, Stream> body)
        {
            if (Count <= PieceElements) { body(a, b, this); return; }
            using var fa = a.view(-1);
            using var fb = b.view(-1);
            for (long off = 0; off < Count; off += PieceElements)
            {
                var len = Math.Min(PieceElements, Count - off);
                using var pa = fa.narrow(0, off, len);
                using var pb = fb.narrow(0, off, len);
                body(pa, pb, this with { Start = Start + (ulong)off, Count = len });
            }
        }

        private unsafe void WriteMaskWhole(Tensor mask)
        {
            fixed (byte* basePtr = mask.bytes)
            {
                var ptr = (nint)basePtr;
                if (mask.dtype == ScalarType.Float32)
                {
                    var keep = BitConverter.SingleToUInt32Bits(Scale);
                    CpuParallel.For(Chunks, c => Fill32((uint*)ptr, Count, c, Start, K0, K1, Threshold, keep));
                }
                else
                {
                    var keep = mask.dtype == ScalarType.Float16 ? BitConverter.HalfToUInt16Bits((Half)Scale) : Bf16.FromSingle(Scale);
                    CpuParallel.For(Chunks, c => Fill16((ushort*)ptr, Count, c, Start, K0, K1, Threshold, keep));
                }
            }
        }

        private unsafe void MultiplyWhole(Tensor src, Tensor dst)
        {
            fixed (byte* s = src.bytes) fixed (byte* d = dst.bytes)
            {
                var (sp, dp) = ((nint)s, (nint)d);
                if (src.dtype == ScalarType.Float32)
                    CpuParallel.For(Chunks, c => Multiply32((float*)sp, (float*)dp, Count, c, Start, K0, K1, Threshold, Scale));
                else
                {
                    var scale = CpuKernels.RoundToBf16Scalar(Scale); // torch scales its mask in the tensor's dtype
                    CpuParallel.For(Chunks, c => Multiply16((ushort*)sp, (ushort*)dp, Count, c, Start, K0, K1, Threshold, scale));
                }
            }
        }
    }

    /// <summary>Whether element <paramref name="index"/> of this stream is kept at probability p of dropping (the scalar reference of the SIMD fill).</summary>
    public bool Keeps(ulong index, double p) => Hash(_k0, _k1, index) >= Threshold(p);

    private static uint Mix(uint x)
    {
        x ^= x >> 16; x *= 0x7FEB352Du;
        x ^= x >> 15; x *= 0x846CA68Bu;
        return x ^ (x >> 16);
    }

    private static Vector256<uint> Mix(Vector256<uint> x)
    {
        x ^= Vector256.ShiftRightLogical(x, 16); x *= Vector256.Create(0x7FEB352Du);
        x ^= Vector256.ShiftRightLogical(x, 15); x *= Vector256.Create(0x846CA68Bu);
        return x ^ Vector256.ShiftRightLogical(x, 16);
    }

    private static uint Hash(uint k0, uint k1, ulong index) => Mix(Mix((uint)index ^ k0) ^ Mix((uint)(index >> 32) + k1));

    private static readonly Vector256<uint> Lanes = Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);

    /// <summary>Eight consecutive hashes from <paramref name="index"/>, or false when they would cross a 2^32 boundary (scalar then).</summary>
    private static bool Hash8(uint k0, uint k1, ulong index, out Vector256<uint> h)
    {
        var lo = (uint)index;
        if (!Vector256.IsHardwareAccelerated || lo > uint.MaxValue - 7) { h = default; return false; }
        h = Mix(Mix((Vector256.Create(lo) + Lanes) ^ Vector256.Create(k0)) ^ Vector256.Create(Mix((uint)(index >> 32) + k1)));
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Fill32(uint* dst, long n, int chunk, ulong start, uint k0, uint k1, uint threshold, uint keep)
    {
        long i = (long)chunk * ChunkElements, end = Math.Min(n, i + ChunkElements);
        var (t, kv) = (Vector256.Create(threshold), Vector256.Create(keep));
        for (; i + 8 <= end && Hash8(k0, k1, start + (ulong)i, out var h); i += 8)
            Vector256.Store(Vector256.ConditionalSelect(Vector256.LessThan(h, t), Vector256<uint>.Zero, kv), dst + i);
        for (; i < end; i++) dst[i] = Hash(k0, k1, start + (ulong)i) < threshold ? 0 : keep;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Fill16(ushort* dst, long n, int chunk, ulong start, uint k0, uint k1, uint threshold, ushort keep)
    {
        long i = (long)chunk * ChunkElements, end = Math.Min(n, i + ChunkElements);
        var (t, kv) = (Vector256.Create(threshold), Vector256.Create((uint)keep));
        while (i + 16 <= end && Hash8(k0, k1, start + (ulong)i, out var lo) && Hash8(k0, k1, start + (ulong)i + 8, out var hi))
        {
            var a = Vector256.ConditionalSelect(Vector256.LessThan(lo, t), Vector256<uint>.Zero, kv);
            var b = Vector256.ConditionalSelect(Vector256.LessThan(hi, t), Vector256<uint>.Zero, kv);
            Vector256.Store(Vector256.Narrow(a, b), dst + i);
            i += 16;
        }
        for (; i < end; i++) dst[i] = Hash(k0, k1, start + (ulong)i) < threshold ? (ushort)0 : keep;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Multiply32(float* src, float* dst, long n, int chunk, ulong start, uint k0, uint k1, uint threshold, float scale)
    {
        long i = (long)chunk * ChunkElements, end = Math.Min(n, i + ChunkElements);
        var (t, sv) = (Vector256.Create(threshold), Vector256.Create(scale));
        for (; i + 8 <= end && Hash8(k0, k1, start + (ulong)i, out var h); i += 8)
            Vector256.Store(Vector256.ConditionalSelect(Vector256.LessThan(h, t).AsSingle(), Vector256<float>.Zero, Vector256.Load(src + i) * sv), dst + i);
        for (; i < end; i++) dst[i] = Hash(k0, k1, start + (ulong)i) < threshold ? 0f : src[i] * scale;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Multiply16(ushort* src, ushort* dst, long n, int chunk, ulong start, uint k0, uint k1, uint threshold, float scale)
    {
        long i = (long)chunk * ChunkElements, end = Math.Min(n, i + ChunkElements);
        var (t, sv) = (Vector256.Create(threshold), Vector256.Create(scale));
        while (i + 16 <= end && Hash8(k0, k1, start + (ulong)i, out var lo) && Hash8(k0, k1, start + (ulong)i + 8, out var hi))
        {
            var (a, b) = CpuKernels.LoadBf16(src + i);
            CpuKernels.StoreBf16(Vector256.ConditionalSelect(Vector256.LessThan(lo, t).AsSingle(), Vector256<float>.Zero, a * sv),
                                 Vector256.ConditionalSelect(Vector256.LessThan(hi, t).AsSingle(), Vector256<float>.Zero, b * sv), dst + i);
            i += 16;
        }
        for (; i < end; i++)
            dst[i] = Hash(k0, k1, start + (ulong)i) < threshold ? (ushort)0 : Bf16.FromSingle(BitConverter.UInt32BitsToSingle((uint)src[i] << 16) * scale);
    }
}
