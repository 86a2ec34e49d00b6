// Dropout masks for CPU tensors from a counter-based generator, drawn in parallel with SIMD.
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
/// Like torch's default generator, <see cref="Default"/> is process-wide: concurrent users draw disjoint stretches of it.
/// </summary>
public sealed class DropoutRandom
{
    private const int ChunkElements = 1 << 16;
    private ulong _position;
    private uint _k0, _k1;

    public DropoutRandom(long seed) => Reseed(seed);

    /// <summary>The generator LoRA dropout draws from; the trainer seeds it from train.seed.</summary>
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

    /// <summary>Training dropout of a CPU tensor: <c>x · mask</c>, so autograd takes the gradient through the same mask.</summary>
    public Tensor Apply(Tensor x, double p)
    {
        if (x.device_type != DeviceType.CPU) throw new ArgumentException($"DropoutRandom draws CPU masks; the tensor is on {x.device}", nameof(x));
        if (p <= 0) return x.alias();
        using var mask = Mask(x.shape, p, x.dtype);
        return x * mask;
    }

    /// <summary>A fresh tensor of the given shape: 0 where an element is dropped, <c>1 / (1 - p)</c> (in <paramref name="dtype"/>) elsewhere.</summary>
    public Tensor Mask(long[] shape, double p, ScalarType dtype)
    {
        if (!(p > 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in (0, 1)");
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
            throw new ArgumentException($"dropout masks are f32, bf16 or f16, not {dtype}", nameof(dtype));
        var threshold = (uint)Math.Min(uint.MaxValue, Math.Round(p * 4294967296.0));
        var scale = (float)(1.0 / (1.0 - p));
        var mask = empty(shape, dtype);
        var n = mask.NumberOfElements;
        var start = Interlocked.Add(ref _position, (ulong)n) - (ulong)n;
        var (k0, k1) = (_k0, _k1);
        var chunks = (int)((n + ChunkElements - 1) / ChunkElements);
        var data = mask.bytes;
        unsafe
        {
            fixed (byte* basePtr = data)
            {
                var ptr = (nint)basePtr;
                switch (dtype)
                {
                    case ScalarType.Float32:
                        var f32 = BitConverter.SingleToUInt32Bits(scale);
                        Parallel.For(0, chunks, c => Fill32((uint*)ptr, n, c, start, k0, k1, threshold, f32));
                        break;
                    default:
                        var bits = dtype == ScalarType.Float16 ? BitConverter.HalfToUInt16Bits((Half)scale) : Bf16Bits(scale);
                        Parallel.For(0, chunks, c => Fill16((ushort*)ptr, n, c, start, k0, k1, threshold, bits));
                        break;
                }
            }
        }
        return mask;
    }

    /// <summary>Whether element <paramref name="index"/> of this stream is kept at probability p of dropping (the scalar reference of the SIMD fill).</summary>
    public bool Keeps(ulong index, double p) => Hash(_k0, _k1, index) >= (uint)Math.Min(uint.MaxValue, Math.Round(p * 4294967296.0));

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

    private static unsafe void Fill32(uint* dst, long n, int chunk, ulong start, uint k0, uint k1, uint threshold, uint keep)
    {
        long i = (long)chunk * ChunkElements, end = Math.Min(n, i + ChunkElements);
        var (t, kv) = (Vector256.Create(threshold), Vector256.Create(keep));
        for (; i + 8 <= end && Hash8(k0, k1, start + (ulong)i, out var h); i += 8)
            Vector256.Store(Vector256.ConditionalSelect(Vector256.LessThan(h, t), Vector256<uint>.Zero, kv), dst + i);
        for (; i < end; i++) dst[i] = Hash(k0, k1, start + (ulong)i) < threshold ? 0 : keep;
    }

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

    /// <summary>f32 to bf16 bits, rounding to nearest even (as torch's conversion does for finite values).</summary>
    internal static ushort Bf16Bits(float value)
    {
        var bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16);
    }
}
