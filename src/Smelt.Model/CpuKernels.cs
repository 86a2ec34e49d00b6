// Hand-written CPU kernels for steps that libtorch runs as many separate passes over memory: RMSNorm, dropout, rotary
// embedding, SwiGLU and the loss's softmax gradient.
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Smelt.Model;

/// <summary>
/// RMSNorm as Hugging Face computes it (in f32, the normalised value rounded to the model dtype, then times the weight)
/// in one pass forward and one backward, for contiguous f32 and bf16 CPU tensors with a frozen weight. The composite
/// version (<see cref="RMSNorm"/>) is about fourteen passes with f32 temporaries: 2.0 ms against 0.3 ms forward and
/// backward at [1024, 768] bf16 here, 25 of them a step in the 100M preset. The backward pass recomputes the normalised
/// values from the input and the saved per-row 1/rms, so nothing beyond the input is kept.
/// </summary>
public sealed class FusedRmsNorm : SingleTensorFunction<FusedRmsNorm>
{
    public override string Name => nameof(FusedRmsNorm);

    /// <summary>Whether the kernel covers this case; otherwise use the composite ops.</summary>
    public static bool Supports(Tensor x, Tensor weight) =>
        x.device_type == DeviceType.CPU && !weight.requires_grad && x.dtype == weight.dtype && x.dtype is ScalarType.Float32 or ScalarType.BFloat16
        && Vector256.IsHardwareAccelerated && x.dim() >= 1 && x.shape[^1] > 0 && weight.dim() == 1 && weight.shape[0] == x.shape[^1]
        && CpuKernels.Spannable(x);

    /// <summary>Without a gradient to take (inference) the kernel runs directly, with no autograd node.</summary>
    public static Tensor Apply(Tensor x, Tensor weight, double eps)
    {
        if (x.requires_grad && is_grad_enabled()) return apply(x, weight, eps);
        using var scope = NewDisposeScope();
        return Compute(x.contiguous(), weight.contiguous(), eps).Y.MoveToOuterDisposeScope();
    }

    private static (Tensor Y, Tensor Rstd) Compute(Tensor x, Tensor weight, double eps)
    {
        var d = (int)x.shape[^1];
        var rows = x.NumberOfElements / d;
        var y = empty_like(x);
        var rstd = empty(rows, ScalarType.Float32);
        CpuKernels.RmsNormForward(x, weight, y, rstd, rows, d, (float)eps);
        return (y, rstd);
    }

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (x, weight, eps) = (((Tensor)vars[0]).contiguous(), ((Tensor)vars[1]).contiguous(), (double)vars[2]);
        var (y, rstd) = Compute(x, weight, eps);
        ctx.save_for_backward([x, weight, rstd]);
        return y;
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var (x, weight, rstd) = (saved[0], saved[1], saved[2]);
        using var g = gradOutput.contiguous();
        var d = (int)x.shape[^1];
        var dx = empty_like(x);
        CpuKernels.RmsNormBackward(g, x, weight, rstd, dx, x.NumberOfElements / d, d);
        return [dx, null!, null!];
    }
}

/// <summary>
/// Training dropout with masks from <see cref="DropoutRandom"/>, applied in one pass and never stored: the mask of an
/// element is a function of (seed, position), so the backward pass recomputes it from the position the forward pass drew.
/// Same values as <c>x · mask</c> with the mask in the tensor's dtype (kept elements times 1/(1−p) rounded to that dtype).
/// </summary>
internal sealed class FusedDropout : SingleTensorFunction<FusedDropout>
{
    public override string Name => nameof(FusedDropout);

    public static Tensor Apply(Tensor x, DropoutRandom.Stream stream)
    {
        if (x.requires_grad && is_grad_enabled()) return apply(x, stream);
        using var scope = NewDisposeScope();
        return Compute(x.contiguous(), stream).MoveToOuterDisposeScope();
    }

    private static Tensor Compute(Tensor x, DropoutRandom.Stream stream)
    {
        var y = empty_like(x);
        stream.Multiply(x, y);
        return y;
    }

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (x, stream) = (((Tensor)vars[0]).contiguous(), (DropoutRandom.Stream)vars[1]);
        ctx.save_data("stream", stream);
        return Compute(x, stream);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
    {
        var stream = (DropoutRandom.Stream)ctx.get_data("stream");
        using var g = gradOutput.contiguous();
        var dx = empty_like(g);
        stream.Multiply(g, dx);
        return [dx, null!];
    }
}

/// <summary>
/// Rotary embedding (<see cref="Rotary.Apply"/>) in one pass forward and one backward for f32/bf16 CPU tensors laid out
/// [B, T, H, hd] in memory (queries and keys as the projections produce them, viewed as [B, H, T, hd]), computed in f32 and
/// rounded once. The output is written contiguous [B, H, T, hd], so the attention's GEMMs read it without a copy; the
/// backward pass rotates the gradient by the opposite angle straight back into the projections' layout. Nothing is
/// saved but cos and sin.
/// </summary>
public sealed class FusedRotary : SingleTensorFunction<FusedRotary>
{
    public override string Name => nameof(FusedRotary);

    /// <summary>x [B, H, T, hd] with memory order [B, T, H, hd]; cos and sin [B or 1, 1, T, hd] contiguous, same dtype.</summary>
    public static bool Supports(Tensor x, Tensor cos, Tensor sin) =>
        x.device_type == DeviceType.CPU && x.dtype is ScalarType.Float32 or ScalarType.BFloat16 && Vector256.IsHardwareAccelerated
        && x.dim() == 4 && x.shape[^1] % 2 == 0 && cos.dtype == x.dtype && sin.dtype == x.dtype
        && cos.dim() == 4 && cos.shape[1] == 1 && cos.shape[2] == x.shape[2] && cos.shape[3] == x.shape[3] && (cos.shape[0] == 1 || cos.shape[0] == x.shape[0])
        && sin.shape.SequenceEqual(cos.shape) && cos.is_contiguous() && sin.is_contiguous() && x.transpose(1, 2).is_contiguous() && CpuKernels.Spannable(x);

    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) =>
        x.requires_grad && is_grad_enabled() ? apply(x, cos, sin) : Rotate(x, cos, sin);

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (x, cos, sin) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2]);
        ctx.save_for_backward([cos, sin]);
        return Rotate(x, cos, sin);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        using var g = gradOutput.contiguous(); // [B, H, T, hd], as the attention's GEMMs give it
        var dx = empty([g.shape[0], g.shape[2], g.shape[1], g.shape[3]], g.dtype);
        CpuKernels.Rotary(g, bthdSource: false, saved[0], saved[1], dx, inverse: true);
        using (dx) return [dx.transpose(1, 2), null!, null!]; // laid out like the input: [B, T, H, hd]
    }

    /// <summary>Reads x in its [B, T, H, hd] memory order and writes y contiguous [B, H, T, hd], the layout the attention's GEMMs read.</summary>
    private static Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        var y = empty(x.shape, x.dtype);
        using var bthd = x.transpose(1, 2);
        CpuKernels.Rotary(bthd, bthdSource: true, cos, sin, y, inverse: false);
        return y;
    }
}

/// <summary>
/// SwiGLU's <c>silu(a) · b</c> in one pass forward and one backward for contiguous f32/bf16 CPU tensors of equal shape,
/// computed in f32 and rounded once (the composite <see cref="LlamaMLP"/> form rounds twice). Saves a and b only.
/// </summary>
public sealed class FusedSwiGlu : SingleTensorFunction<FusedSwiGlu>
{
    public override string Name => nameof(FusedSwiGlu);

    public static bool Supports(Tensor a, Tensor b) =>
        a.device_type == DeviceType.CPU && a.dtype is ScalarType.Float32 or ScalarType.BFloat16 && b.dtype == a.dtype
        && a.shape.SequenceEqual(b.shape) && Vector256.IsHardwareAccelerated && CpuKernels.Spannable(a);

    public static Tensor Apply(Tensor a, Tensor b)
    {
        if ((a.requires_grad || b.requires_grad) && is_grad_enabled()) return apply(a, b);
        using var scope = NewDisposeScope();
        return Compute(a.contiguous(), b.contiguous()).MoveToOuterDisposeScope();
    }

    private static Tensor Compute(Tensor a, Tensor b)
    {
        var y = empty_like(a);
        CpuKernels.SwiGlu(a, b, y);
        return y;
    }

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (a, b) = (((Tensor)vars[0]).contiguous(), ((Tensor)vars[1]).contiguous());
        ctx.save_for_backward([a, b]);
        return Compute(a, b);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        using var g = gradOutput.contiguous();
        var (da, db) = (empty_like(saved[0]), empty_like(saved[1]));
        CpuKernels.SwiGluBackward(g, saved[0], saved[1], da, db);
        return [da, db];
    }
}

/// <summary>
/// Cross-entropy's value and its gradient with respect to the logits in one kernel, for contiguous f32/bf16 CPU logits
/// [rows, vocab] and int64 labels: each row becomes softmax(row) − one-hot(label), computed in f32 and rounded once to
/// the dtype, in place, and the sum of logsumexp(row) − row[label] is returned. One exp per element (AVX-512 where the
/// CPU has it); libtorch needs an f32 copy, log_softmax, exp, a scatter and a cast back.
/// </summary>
public static class FusedCrossEntropy
{
    public static bool Supports(Tensor logits, Tensor labels) =>
        logits.device_type == DeviceType.CPU && logits.dtype is ScalarType.Float32 or ScalarType.BFloat16 && logits.dim() == 2 && logits.is_contiguous()
        && logits.shape[1] > 0 && labels.dtype == ScalarType.Int64 && labels.dim() == 1 && labels.shape[0] == logits.shape[0] && labels.is_contiguous()
        && labels.device_type == DeviceType.CPU && CpuKernels.Spannable(logits) && Vector512.IsHardwareAccelerated;

    /// <summary>Overwrites <paramref name="logits"/> with the gradient of the summed loss; returns the summed loss.</summary>
    public static double GradientInPlace(Tensor logits, Tensor labels) => CpuKernels.CrossEntropyRows(logits, labels);
}

/// <summary>How Smelt's C# kernels spread work over the cores.</summary>
public static class CpuParallel
{
    /// <summary>
    /// Parallel.For over at most libtorch's intra-op thread count (so <c>--threads</c> and <c>torch.set_num_threads</c>
    /// bound the C# kernels too), except that a single task runs on the calling thread (decode steps, small prefills).
    /// </summary>
    public static void For(int tasks, Action<int> body)
    {
        if (tasks == 1) body(0);
        else if (tasks > 1) Parallel.For(0, tasks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) }, body);
    }
}

internal static unsafe class CpuKernels
{
    /// <summary>Elements one task takes: below this a kernel runs on the calling thread, whose dispatch would cost more.</summary>
    private const int TaskElements = 1 << 16;

    /// <summary>The C# kernels take spans of whole tensors: up to 2 GiB each (larger ones go the composite way).</summary>
    public static bool Spannable(Tensor t) => t.NumberOfElements * t.ElementSize <= int.MaxValue;

    /// <summary>Rows per task for rows of <paramref name="rowElements"/> elements, and the number of tasks.</summary>
    private static (long RowsPerTask, int Tasks) Split(long rows, long rowElements)
    {
        var per = Math.Max(1, TaskElements / Math.Max(1, rowElements));
        return (per, (int)((rows + per - 1) / per));
    }

    /// <summary>16 bf16 values at p as two f32 vectors (elements 0-7, 8-15).</summary>
    public static (Vector256<float>, Vector256<float>) LoadBf16(ushort* p)
    {
        var (lo, hi) = Vector256.Widen(Vector256.Load(p));
        return (Vector256.ShiftLeft(lo, 16).AsSingle(), Vector256.ShiftLeft(hi, 16).AsSingle());
    }

    /// <summary>Rounds two f32 vectors to bf16 (nearest, ties to even, as libtorch) and stores the 16 values at p.</summary>
    public static void StoreBf16(Vector256<float> a, Vector256<float> b, ushort* p) => Vector256.Store(Vector256.Narrow(RoundBits(a), RoundBits(b)), p);

    /// <summary>f32 → the bf16 nearest to it, returned as f32 (the value a bf16 tensor would hold).</summary>
    public static Vector256<float> RoundToBf16(Vector256<float> v) => Vector256.ShiftLeft(RoundBits(v), 16).AsSingle();

    private static Vector256<uint> RoundBits(Vector256<float> v)
    {
        var bits = v.AsUInt32();
        var rounded = Vector256.ShiftRightLogical(bits + Vector256.Create(0x7FFFu) + (Vector256.ShiftRightLogical(bits, 16) & Vector256.Create(1u)), 16);
        return Vector256.ConditionalSelect(Vector256.Equals(v, v).AsUInt32(), rounded, Vector256.Create(0x7FC0u)); // NaN → 0x7FC0, as libtorch
    }

    private static float Bf16ToSingle(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    public static float RoundToBf16Scalar(float v) => Bf16ToSingle(Bf16.FromSingle(v));

    public static void RmsNormForward(Tensor x, Tensor weight, Tensor y, Tensor rstd, long rows, int d, float eps)
    {
        fixed (byte* xp = x.bytes) fixed (byte* wp = weight.bytes) fixed (byte* yp = y.bytes) fixed (byte* rp = rstd.bytes)
        {
            var (xa, wa, ya, ra, bf16) = ((nint)xp, (nint)wp, (nint)yp, (nint)rp, x.dtype == ScalarType.BFloat16);
            var (per, tasks) = Split(rows, d);
            CpuParallel.For(tasks, task =>
            {
                var end = Math.Min(rows, (task + 1L) * per);
                for (var r = task * per; r < end; r++)
                {
                    if (bf16) RmsRowBf16((ushort*)xa + r * d, (ushort*)wa, (ushort*)ya + r * d, (float*)ra + r, d, eps);
                    else RmsRowF32((float*)xa + r * d, (float*)wa, (float*)ya + r * d, (float*)ra + r, d, eps);
                }
            });
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RmsRowBf16(ushort* x, ushort* w, ushort* y, float* rstd, int d, float eps)
    {
        var acc = Vector256<float>.Zero;
        var i = 0;
        for (; i + 16 <= d; i += 16) { var (a, b) = LoadBf16(x + i); acc += a * a + b * b; }
        var sum = Vector256.Sum(acc);
        for (var j = i; j < d; j++) { var h = Bf16ToSingle(x[j]); sum += h * h; }
        var r = 1f / MathF.Sqrt(sum / d + eps);
        *rstd = r;
        var rv = Vector256.Create(r);
        for (i = 0; i + 16 <= d; i += 16)
        {
            var (a, b) = LoadBf16(x + i);
            var (wa, wb) = LoadBf16(w + i);
            StoreBf16(RoundToBf16(a * rv) * wa, RoundToBf16(b * rv) * wb, y + i);
        }
        for (; i < d; i++) y[i] = Bf16.FromSingle(RoundToBf16Scalar(Bf16ToSingle(x[i]) * r) * Bf16ToSingle(w[i]));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RmsRowF32(float* x, float* w, float* y, float* rstd, int d, float eps)
    {
        var acc = Vector256<float>.Zero;
        var i = 0;
        for (; i + 8 <= d; i += 8) { var a = Vector256.Load(x + i); acc += a * a; }
        var sum = Vector256.Sum(acc);
        for (var j = i; j < d; j++) sum += x[j] * x[j];
        var r = 1f / MathF.Sqrt(sum / d + eps);
        *rstd = r;
        var rv = Vector256.Create(r);
        for (i = 0; i + 8 <= d; i += 8) Vector256.Store(Vector256.Load(w + i) * (Vector256.Load(x + i) * rv), y + i);
        for (; i < d; i++) y[i] = w[i] * (x[i] * r);
    }

    /// <summary>dx = r · (dn − n · mean(dn · n)) with n = x · r and dn = g · w, per row (r = the saved 1/rms).</summary>
    public static void RmsNormBackward(Tensor g, Tensor x, Tensor weight, Tensor rstd, Tensor dx, long rows, int d)
    {
        fixed (byte* gp = g.bytes) fixed (byte* xp = x.bytes) fixed (byte* wp = weight.bytes) fixed (byte* rp = rstd.bytes) fixed (byte* dp = dx.bytes)
        {
            var (ga, xa, wa, ra, da, bf16) = ((nint)gp, (nint)xp, (nint)wp, (nint)rp, (nint)dp, x.dtype == ScalarType.BFloat16);
            var (per, tasks) = Split(rows, d);
            CpuParallel.For(tasks, task =>
            {
                var end = Math.Min(rows, (task + 1L) * per);
                for (var r = task * per; r < end; r++)
                {
                    if (bf16) RmsBackRowBf16((ushort*)ga + r * d, (ushort*)xa + r * d, (ushort*)wa, ((float*)ra)[r], (ushort*)da + r * d, d);
                    else RmsBackRowF32((float*)ga + r * d, (float*)xa + r * d, (float*)wa, ((float*)ra)[r], (float*)da + r * d, d);
                }
            });
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RmsBackRowBf16(ushort* g, ushort* x, ushort* w, float r, ushort* dx, int d)
    {
        var acc = Vector256<float>.Zero;
        var i = 0;
        for (; i + 16 <= d; i += 16)
        {
            var (ga, gb) = LoadBf16(g + i); var (xa, xb) = LoadBf16(x + i); var (wa, wb) = LoadBf16(w + i);
            acc += ga * wa * xa + gb * wb * xb;
        }
        var dot = Vector256.Sum(acc);
        for (var j = i; j < d; j++) dot += Bf16ToSingle(g[j]) * Bf16ToSingle(w[j]) * Bf16ToSingle(x[j]);
        var c = dot * r * r / d; // mean(dn · n) / r, so that n · mean(dn · n) = x · c
        var (rv, cv) = (Vector256.Create(r), Vector256.Create(c));
        for (i = 0; i + 16 <= d; i += 16)
        {
            var (ga, gb) = LoadBf16(g + i); var (xa, xb) = LoadBf16(x + i); var (wa, wb) = LoadBf16(w + i);
            StoreBf16(rv * (ga * wa - xa * cv), rv * (gb * wb - xb * cv), dx + i);
        }
        for (; i < d; i++) dx[i] = Bf16.FromSingle(r * (Bf16ToSingle(g[i]) * Bf16ToSingle(w[i]) - Bf16ToSingle(x[i]) * c));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RmsBackRowF32(float* g, float* x, float* w, float r, float* dx, int d)
    {
        var acc = Vector256<float>.Zero;
        var i = 0;
        for (; i + 8 <= d; i += 8) acc += Vector256.Load(g + i) * Vector256.Load(w + i) * Vector256.Load(x + i);
        var dot = Vector256.Sum(acc);
        for (var j = i; j < d; j++) dot += g[j] * w[j] * x[j];
        var c = dot * r * r / d;
        var (rv, cv) = (Vector256.Create(r), Vector256.Create(c));
        for (i = 0; i + 8 <= d; i += 8)
            Vector256.Store(rv * (Vector256.Load(g + i) * Vector256.Load(w + i) - Vector256.Load(x + i) * cv), dx + i);
        for (; i < d; i++) dx[i] = r * (g[i] * w[i] - x[i] * c);
    }
    /// <summary>y = x·cos + rotate_half(x)·sin over rows of x laid out [B, T, H, hd]; inverse: the transpose (for gradients).</summary>
    /// <param name="x">contiguous, [B, T, H, hd] when <paramref name="bthdSource"/> (y then [B, H, T, hd]), else the other way round</param>
    public static void Rotary(Tensor x, bool bthdSource, Tensor cos, Tensor sin, Tensor y, bool inverse)
    {
        long b = x.shape[0], t = bthdSource ? x.shape[1] : x.shape[2], h = bthdSource ? x.shape[2] : x.shape[1];
        var d = (int)x.shape[3];
        var cosBatch = cos.shape[0] != 1;
        fixed (byte* xp = x.bytes) fixed (byte* cp = cos.bytes) fixed (byte* sp = sin.bytes) fixed (byte* yp = y.bytes)
        {
            var (xa, ca, sa, ya, bf16) = ((nint)xp, (nint)cp, (nint)sp, (nint)yp, x.dtype == ScalarType.BFloat16);
            var rows = b * t;
            var (per, tasks) = Split(rows, h * d);
            CpuParallel.For(tasks, task =>
            {
                var end = Math.Min(rows, (task + 1L) * per);
                for (var r = task * per; r < end; r++)
                {
                    var angle = (cosBatch ? r : r % t) * d; // cos/sin row of (batch, position)
                    var (batch, pos) = (r / t, r % t);
                    for (var head = 0L; head < h; head++)
                    {
                        var bthd = (r * h + head) * d;
                        var bhtd = ((batch * h + head) * t + pos) * d;
                        var (src, dst) = bthdSource ? (bthd, bhtd) : (bhtd, bthd);
                        if (bf16) RotateBf16((ushort*)xa + src, (ushort*)ca + angle, (ushort*)sa + angle, (ushort*)ya + dst, d / 2, inverse);
                        else RotateF32((float*)xa + src, (float*)ca + angle, (float*)sa + angle, (float*)ya + dst, d / 2, inverse);
                    }
                }
            });
        }
    }

    // Forward: y1 = x1·c1 − x2·s1, y2 = x2·c2 + x1·s2. Inverse: y1 = x1·c1 + x2·s2, y2 = x2·c2 − x1·s1.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RotateBf16(ushort* x, ushort* c, ushort* s, ushort* y, int half, bool inverse)
    {
        var i = 0;
        for (; i + 16 <= half; i += 16)
        {
            var (x1a, x1b) = LoadBf16(x + i); var (x2a, x2b) = LoadBf16(x + half + i);
            var (c1a, c1b) = LoadBf16(c + i); var (c2a, c2b) = LoadBf16(c + half + i);
            var (s1a, s1b) = LoadBf16(s + i); var (s2a, s2b) = LoadBf16(s + half + i);
            if (!inverse)
            {
                StoreBf16(x1a * c1a - x2a * s1a, x1b * c1b - x2b * s1b, y + i);
                StoreBf16(x2a * c2a + x1a * s2a, x2b * c2b + x1b * s2b, y + half + i);
            }
            else
            {
                StoreBf16(x1a * c1a + x2a * s2a, x1b * c1b + x2b * s2b, y + i);
                StoreBf16(x2a * c2a - x1a * s1a, x2b * c2b - x1b * s1b, y + half + i);
            }
        }
        for (; i < half; i++)
        {
            float x1 = Bf16ToSingle(x[i]), x2 = Bf16ToSingle(x[half + i]), c1 = Bf16ToSingle(c[i]), c2 = Bf16ToSingle(c[half + i]);
            float s1 = Bf16ToSingle(s[i]), s2 = Bf16ToSingle(s[half + i]);
            y[i] = Bf16.FromSingle(inverse ? x1 * c1 + x2 * s2 : x1 * c1 - x2 * s1);
            y[half + i] = Bf16.FromSingle(inverse ? x2 * c2 - x1 * s1 : x2 * c2 + x1 * s2);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RotateF32(float* x, float* c, float* s, float* y, int half, bool inverse)
    {
        var i = 0;
        for (; i + 8 <= half; i += 8)
        {
            var (x1, x2) = (Vector256.Load(x + i), Vector256.Load(x + half + i));
            var (c1, c2) = (Vector256.Load(c + i), Vector256.Load(c + half + i));
            var (s1, s2) = (Vector256.Load(s + i), Vector256.Load(s + half + i));
            Vector256.Store(inverse ? x1 * c1 + x2 * s2 : x1 * c1 - x2 * s1, y + i);
            Vector256.Store(inverse ? x2 * c2 - x1 * s1 : x2 * c2 + x1 * s2, y + half + i);
        }
        for (; i < half; i++)
        {
            float x1 = x[i], x2 = x[half + i];
            y[i] = inverse ? x1 * c[i] + x2 * s[half + i] : x1 * c[i] - x2 * s[i];
            y[half + i] = inverse ? x2 * c[half + i] - x1 * s[i] : x2 * c[half + i] + x1 * s[half + i];
        }
    }


    private static Vector256<float> Sigmoid(Vector256<float> a) => Vector256<float>.One / (Vector256<float>.One + Exp(-a));

    /// <summary>
    /// e^x for f32 lanes, within 2 ulp over the normal range (.NET 10's Vector256.Exp measured slower here than scalar
    /// MathF.Exp): x = n·ln2 + f with |f| ≤ ln2/2 (ln2 split in two for the reduction), e^f by its degree-7 Taylor
    /// polynomial, times 2^n built in the exponent bits. Inputs are clamped to [−87.3, 88.3] (results stay normal).
    /// </summary>
    // Shared by both widths: the clamp that keeps results normal, log2(e), and ln 2 split into an exact high part and the rest.
    private const float ExpMin = -87.3f, ExpMax = 88.3f, Log2E = 1.44269504088896341f, Ln2Hi = 0.693145751953125f, Ln2Lo = 1.42860682030941723e-6f;

    public static Vector256<float> Exp(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(ExpMin)), Vector256.Create(ExpMax));
        var n = Vector256.Round(x * Vector256.Create(Log2E));
        var f = x - n * Vector256.Create(Ln2Hi) - n * Vector256.Create(Ln2Lo);
        var p = Vector256.Create(1f / 5040);
        p = p * f + Vector256.Create(1f / 720);
        p = p * f + Vector256.Create(1f / 120);
        p = p * f + Vector256.Create(1f / 24);
        p = p * f + Vector256.Create(1f / 6);
        p = p * f + Vector256.Create(0.5f);
        p = p * f + Vector256<float>.One;
        p = p * f + Vector256<float>.One;
        var scale = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        return p * scale;
    }

    /// <summary>y = silu(a) · b, elementwise.</summary>
    public static void SwiGlu(Tensor a, Tensor b, Tensor y)
    {
        var n = a.NumberOfElements;
        fixed (byte* ap = a.bytes) fixed (byte* bp = b.bytes) fixed (byte* yp = y.bytes)
        {
            var (aa, ba, ya, bf16) = ((nint)ap, (nint)bp, (nint)yp, a.dtype == ScalarType.BFloat16);
            CpuParallel.For((int)((n + TaskElements - 1) / TaskElements), task =>
            {
                long i = (long)task * TaskElements, end = Math.Min(n, i + TaskElements);
                if (bf16) SwiGluBf16((ushort*)aa, (ushort*)ba, (ushort*)ya, i, end);
                else SwiGluF32((float*)aa, (float*)ba, (float*)ya, i, end);
            });
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SwiGluBf16(ushort* pa, ushort* pb, ushort* py, long i, long end)
    {
        for (; i + 16 <= end; i += 16)
        {
            var (a0, a1) = LoadBf16(pa + i); var (b0, b1) = LoadBf16(pb + i);
            StoreBf16(a0 * Sigmoid(a0) * b0, a1 * Sigmoid(a1) * b1, py + i);
        }
        for (; i < end; i++) { var v = Bf16ToSingle(pa[i]); py[i] = Bf16.FromSingle(v / (1 + MathF.Exp(-v)) * Bf16ToSingle(pb[i])); }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SwiGluF32(float* pa, float* pb, float* py, long i, long end)
    {
        for (; i + 8 <= end; i += 8) { var v = Vector256.Load(pa + i); Vector256.Store(v * Sigmoid(v) * Vector256.Load(pb + i), py + i); }
        for (; i < end; i++) py[i] = pa[i] / (1 + MathF.Exp(-pa[i])) * pb[i];
    }

    /// <summary>da = g · b · σ(a)(1 + a(1 − σ(a))), db = g · silu(a).</summary>
    public static void SwiGluBackward(Tensor g, Tensor a, Tensor b, Tensor da, Tensor db)
    {
        var n = a.NumberOfElements;
        fixed (byte* gp = g.bytes) fixed (byte* ap = a.bytes) fixed (byte* bp = b.bytes) fixed (byte* dap = da.bytes) fixed (byte* dbp = db.bytes)
        {
            var (ga, aa, ba, daa, dba, bf16) = ((nint)gp, (nint)ap, (nint)bp, (nint)dap, (nint)dbp, a.dtype == ScalarType.BFloat16);
            CpuParallel.For((int)((n + TaskElements - 1) / TaskElements), task =>
            {
                long i = (long)task * TaskElements, end = Math.Min(n, i + TaskElements);
                if (bf16) SwiGluBackBf16((ushort*)ga, (ushort*)aa, (ushort*)ba, (ushort*)daa, (ushort*)dba, i, end);
                else SwiGluBackF32((float*)ga, (float*)aa, (float*)ba, (float*)daa, (float*)dba, i, end);
            });
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SwiGluBackBf16(ushort* pg, ushort* pa, ushort* pb, ushort* pda, ushort* pdb, long i, long end)
    {
        var one = Vector256<float>.One;
        for (; i + 16 <= end; i += 16)
        {
            var (g0, g1) = LoadBf16(pg + i); var (a0, a1) = LoadBf16(pa + i); var (b0, b1) = LoadBf16(pb + i);
            var (s0, s1) = (Sigmoid(a0), Sigmoid(a1));
            StoreBf16(g0 * b0 * s0 * (one + a0 * (one - s0)), g1 * b1 * s1 * (one + a1 * (one - s1)), pda + i);
            StoreBf16(g0 * a0 * s0, g1 * a1 * s1, pdb + i);
        }
        for (; i < end; i++)
        {
            float gv = Bf16ToSingle(pg[i]), av = Bf16ToSingle(pa[i]), bv = Bf16ToSingle(pb[i]), sv = 1 / (1 + MathF.Exp(-av));
            pda[i] = Bf16.FromSingle(gv * bv * sv * (1 + av * (1 - sv)));
            pdb[i] = Bf16.FromSingle(gv * av * sv);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SwiGluBackF32(float* pg, float* pa, float* pb, float* pda, float* pdb, long i, long end)
    {
        var one = Vector256<float>.One;
        for (; i + 8 <= end; i += 8)
        {
            var (gv, av, bv) = (Vector256.Load(pg + i), Vector256.Load(pa + i), Vector256.Load(pb + i));
            var sv = Sigmoid(av);
            Vector256.Store(gv * bv * sv * (one + av * (one - sv)), pda + i);
            Vector256.Store(gv * av * sv, pdb + i);
        }
        for (; i < end; i++)
        {
            var sv = 1 / (1 + MathF.Exp(-pa[i]));
            pda[i] = pg[i] * pb[i] * sv * (1 + pa[i] * (1 - sv));
            pdb[i] = pg[i] * pa[i] * sv;
        }
    }

    /// <summary>e^x for 16 f32 lanes: <see cref="Exp(Vector256{float})"/> on AVX-512.</summary>
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(ExpMin)), Vector512.Create(ExpMax));
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        var f = x - n * Vector512.Create(Ln2Hi) - n * Vector512.Create(Ln2Lo);
        var p = Vector512.Create(1f / 5040);
        p = p * f + Vector512.Create(1f / 720);
        p = p * f + Vector512.Create(1f / 120);
        p = p * f + Vector512.Create(1f / 24);
        p = p * f + Vector512.Create(1f / 6);
        p = p * f + Vector512.Create(0.5f);
        p = p * f + Vector512<float>.One;
        p = p * f + Vector512<float>.One;
        return p * Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
    }

    private static Vector512<float> LoadBf16x16(ushort* p)
    {
        var (lo, hi) = LoadBf16(p);
        return Vector512.Create(lo, hi);
    }

    [ThreadStatic] private static float[]? _row;

    /// <summary>Rows of logits → softmax − one-hot in place; returns Σ logsumexp − logit[label] (summed in row order).</summary>
    public static double CrossEntropyRows(Tensor logits, Tensor labels)
    {
        long rows = logits.shape[0];
        var v = (int)logits.shape[1];
        var losses = new double[rows];
        var bad = -1L;
        fixed (byte* lp = logits.bytes) fixed (byte* tp = labels.bytes)
        {
            var (la, ta, bf16) = ((nint)lp, (nint)tp, logits.dtype == ScalarType.BFloat16);
            var (per, tasks) = Split(rows, v);
            CpuParallel.For(tasks, task =>
            {
                var end = Math.Min(rows, (task + 1L) * per);
                if (bf16 && (_row is null || _row.Length < v)) _row = new float[v];
                for (var r = task * per; r < end; r++)
                {
                    var label = ((long*)ta)[r];
                    if (label < 0 || label >= v) { Interlocked.CompareExchange(ref bad, label, -1L); continue; }
                    if (bf16) fixed (float* e = _row) losses[r] = CrossEntropyRowBf16((ushort*)la + r * v, e, v, (int)label);
                    else losses[r] = CrossEntropyRowF32((float*)la + r * v, v, (int)label);
                }
            });
        }
        if (bad != -1L) throw new ArgumentOutOfRangeException(nameof(labels), bad, $"a label is outside the vocabulary [0, {v})");
        var sum = 0.0;
        foreach (var l in losses) sum += l;
        return sum;
    }

    /// <summary>One row, bf16: max, then e = exp(x − max) into the f32 scratch row (summed), then e / Σ rounded into x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double CrossEntropyRowBf16(ushort* x, float* e, int v, int label)
    {
        var mv = Vector512.Create(float.NegativeInfinity);
        var i = 0;
        for (; i + 16 <= v; i += 16) mv = Vector512.Max(mv, LoadBf16x16(x + i));
        var max = MaxOf(Vector256.Max(mv.GetLower(), mv.GetUpper()));
        for (var j = i; j < v; j++) max = MathF.Max(max, Bf16ToSingle(x[j]));
        var m = Vector512.Create(max);
        var acc = Vector512<float>.Zero;
        for (i = 0; i + 16 <= v; i += 16) { var ev = Exp(LoadBf16x16(x + i) - m); Vector512.Store(ev, e + i); acc += ev; }
        var sum = (double)Vector512.Sum(acc);
        for (var j = i; j < v; j++) { e[j] = MathF.Exp(Bf16ToSingle(x[j]) - max); sum += e[j]; }
        var loss = max + Math.Log(sum) - Bf16ToSingle(x[label]);
        var inv = (float)(1 / sum);
        var iv = Vector512.Create(inv);
        for (i = 0; i + 16 <= v; i += 16) { var p = Vector512.Load(e + i) * iv; StoreBf16(p.GetLower(), p.GetUpper(), x + i); }
        for (; i < v; i++) x[i] = Bf16.FromSingle(e[i] * inv);
        x[label] = Bf16.FromSingle(e[label] * inv - 1);
        return loss;
    }

    /// <summary>One row, f32: the same, with the exponentials kept in place of the logits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static double CrossEntropyRowF32(float* x, int v, int label)
    {
        var mv = Vector512.Create(float.NegativeInfinity);
        var i = 0;
        for (; i + 16 <= v; i += 16) mv = Vector512.Max(mv, Vector512.Load(x + i));
        var max = MaxOf(Vector256.Max(mv.GetLower(), mv.GetUpper()));
        for (var j = i; j < v; j++) max = MathF.Max(max, x[j]);
        var target = x[label];
        var m = Vector512.Create(max);
        var acc = Vector512<float>.Zero;
        for (i = 0; i + 16 <= v; i += 16) { var ev = Exp(Vector512.Load(x + i) - m); Vector512.Store(ev, x + i); acc += ev; }
        var sum = (double)Vector512.Sum(acc);
        for (var j = i; j < v; j++) { x[j] = MathF.Exp(x[j] - max); sum += x[j]; }
        var inv = (float)(1 / sum);
        var iv = Vector512.Create(inv);
        for (i = 0; i + 16 <= v; i += 16) Vector512.Store(Vector512.Load(x + i) * iv, x + i);
        for (; i < v; i++) x[i] *= inv;
        x[label] -= 1;
        return max + Math.Log(sum) - target;
    }

    private static float MaxOf(Vector256<float> v)
    {
        var max = float.NegativeInfinity;
        for (var j = 0; j < 8; j++) max = MathF.Max(max, v[j]);
        return max;
    }
}
