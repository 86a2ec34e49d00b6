using Smelt.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Smelt.Model.Tests;

public sealed class FusedKernelTests
{
    public FusedKernelTests() => TorchRuntime.EnsureLoaded();

    private static float MaxDiff(Tensor a, Tensor b) => (a.to(ScalarType.Float32) - b.to(ScalarType.Float32)).abs().max().item<float>();
    private static float MaxAbs(Tensor a) => a.to(ScalarType.Float32).abs().max().item<float>();

    [Theory]
    [InlineData(ScalarType.Float32, 768)]
    [InlineData(ScalarType.BFloat16, 768)]
    [InlineData(ScalarType.Float32, 37)]  // rows shorter than a vector, and a ragged tail
    [InlineData(ScalarType.BFloat16, 53)]
    public void Fused_rmsnorm_equals_the_composite_ops_forward_and_backward(ScalarType dtype, int d)
    {
        using var g = new Generator(3);
        using var weight = (1 + randn([d], generator: g) * 0.3).to(dtype);
        using var x0 = (randn([3, 70, d], generator: g) * 2).to(dtype);
        using var upstream = randn([3, 70, d], generator: g).to(dtype);
        Assert.True(FusedRmsNorm.Supports(x0, weight));

        var x1 = x0.detach().requires_grad_(true);
        var x2 = x0.detach().requires_grad_(true);
        using var fused = FusedRmsNorm.Apply(x1, weight, 1e-5);
        using var composite = RMSNorm.Composite(x2, weight, 1e-5.ToScalar());
        fused.backward([upstream]);
        composite.backward([upstream]);

        // f32: the sums differ only in their order. bf16: a value next to a rounding boundary may land one bf16 step away,
        // and the composite backward rounds g·w to bf16 first, which the kernel does not.
        var (valueTol, gradTol) = dtype == ScalarType.Float32 ? (1e-5f, 1e-5f) : (1f / 64, 1f / 32);
        Assert.Equal(composite.shape, fused.shape);
        Assert.Equal(dtype, fused.dtype);
        Assert.True(MaxDiff(fused, composite) <= valueTol * MaxAbs(composite), $"values: max |difference| {MaxDiff(fused, composite)}");
        Assert.True(MaxAbs(x2.grad!) > 0);
        Assert.True(MaxDiff(x1.grad!, x2.grad!) <= gradTol * MaxAbs(x2.grad!), $"gradients: max |difference| {MaxDiff(x1.grad!, x2.grad!)} of {MaxAbs(x2.grad!)}");
        if (dtype == ScalarType.BFloat16)
        {
            using var same = fused.eq(composite).to(ScalarType.Float32).mean();
            Assert.True(same.item<float>() > 0.99f, $"only {same.item<float>():P2} of bf16 values equal the composite's");
        }

        // A trained weight, or a tensor that is not on the CPU in f32/bf16, goes the composite way.
        using var trained = weight.detach().clone().requires_grad_(true);
        Assert.False(FusedRmsNorm.Supports(x0, trained));
        using var f64 = x0.to(ScalarType.Float64);
        Assert.False(FusedRmsNorm.Supports(f64, weight.to(ScalarType.Float64)));
    }

    [Fact]
    public void The_model_norm_module_uses_the_kernel_and_still_matches_the_composite()
    {
        using var norm = new RMSNorm(96, 1e-6);
        using (no_grad()) norm.Weight.copy_(linspace(0.5, 1.5, 96));
        norm.Weight.requires_grad = false;
        using var x = randn(4, 96);
        Assert.True(FusedRmsNorm.Supports(x, norm.Weight));
        using var viaModule = norm.forward(x);
        using var composite = RMSNorm.Composite(x, norm.Weight, 1e-6.ToScalar());
        Assert.True(allclose(viaModule, composite, 1e-5, 1e-6));
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void Fused_dropout_equals_multiplying_by_the_mask_and_recomputes_it_for_the_gradient(ScalarType dtype)
    {
        const double p = 0.2;
        var rng = new DropoutRandom(21);
        using var x0 = randn(33, 100).to(dtype);
        using var upstream = randn(33, 100).to(dtype);
        var x = x0.detach().requires_grad_(true);
        using var y = rng.Apply(x, p);
        var after = rng.Position;
        Assert.Equal(3300UL, after);
        y.backward([upstream]);

        rng.Position = 0;
        using var mask = rng.Mask([33, 100], p, dtype);
        using var expected = x0 * mask;
        using var expectedGrad = upstream * mask;
        Assert.True(y.eq(expected).all().item<bool>(), $"values: max |difference| {MaxDiff(y, expected)}");
        Assert.True(x.grad!.eq(expectedGrad).all().item<bool>(), $"gradient: max |difference| {MaxDiff(x.grad!, expectedGrad)}");
        Assert.Equal(after, rng.Position); // the backward pass did not draw: it recomputed the forward pass's mask
        using var zeros = mask.eq(0).to(ScalarType.Float32).mean();
        Assert.InRange(zeros.item<float>(), 0.1f, 0.3f);

        // A non-contiguous input gives the same as its contiguous copy at the same stream position.
        var t = x0.t();
        rng.Position = 0;
        using var fromView = rng.Apply(t, p);
        rng.Position = 0;
        using var fromCopy = rng.Apply(t.contiguous(), p);
        Assert.True(fromView.eq(fromCopy).all().item<bool>());
    }

    [Theory]
    [InlineData(ScalarType.Float32, 64, 1)]
    [InlineData(ScalarType.BFloat16, 64, 3)]
    [InlineData(ScalarType.Float32, 20, 3)]  // half = 10: vector part and scalar tail
    [InlineData(ScalarType.BFloat16, 40, 1)]
    public void Fused_rotary_equals_the_composite_forward_and_backward(ScalarType dtype, int headDim, int cosBatch)
    {
        using var g = new Generator(5);
        long b = 3, t = 17, h = 4;
        using var angles = rand([cosBatch, 1, t, headDim], generator: g) * 6;
        using var cos = angles.cos().to(dtype);
        using var sin = angles.sin().to(dtype);
        // Laid out [B, T, H, hd] and viewed [B, H, T, hd], as the projections produce queries and keys.
        using var x0 = randn([b, t, h, headDim], generator: g).to(dtype);
        using var upstream = randn([b, h, t, headDim], generator: g).to(dtype);
        var x1 = x0.detach().requires_grad_(true);
        var x2 = x0.detach().requires_grad_(true);
        Assert.True(FusedRotary.Supports(x1.transpose(1, 2), cos, sin));
        using var fused = FusedRotary.Apply(x1.transpose(1, 2), cos, sin);
        using var composite = Rotary.Composite(x2.transpose(1, 2), cos, sin);
        fused.backward([upstream]);
        composite.backward([upstream]);
        var tol = dtype == ScalarType.Float32 ? 1e-5f : 1f / 64; // bf16: the composite rounds three times, the kernel once
        Assert.Equal(composite.shape, fused.shape);
        Assert.True(MaxDiff(fused, composite) <= tol * MaxAbs(composite), $"values: {MaxDiff(fused, composite)}");
        Assert.True(MaxDiff(x1.grad!, x2.grad!) <= tol * MaxAbs(x2.grad!), $"gradients: {MaxDiff(x1.grad!, x2.grad!)}");
        Assert.True(MaxAbs(x2.grad!) > 0);
        // A contiguous [B, H, T, hd] tensor is not in the kernel's memory order: the composite handles it.
        using var plain = randn(b, h, t, headDim).to(dtype);
        Assert.False(FusedRotary.Supports(plain, cos, sin));
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void Fused_swiglu_equals_silu_times_up_forward_and_backward(ScalarType dtype)
    {
        using var g = new Generator(6);
        using var a0 = (randn([5, 3, 203], generator: g) * 4).to(dtype); // a ragged tail; large |a| saturates the sigmoid
        using var b0 = randn([5, 3, 203], generator: g).to(dtype);
        using var upstream = randn([5, 3, 203], generator: g).to(dtype);
        var (a1, b1, a2, b2) = (a0.detach().requires_grad_(true), b0.detach().requires_grad_(true), a0.detach().requires_grad_(true), b0.detach().requires_grad_(true));
        using var fused = FusedSwiGlu.Apply(a1, b1);
        using var composite = nn.functional.silu(a2) * b2;
        fused.backward([upstream]);
        composite.backward([upstream]);
        var tol = dtype == ScalarType.Float32 ? 1e-5f : 1f / 64;
        Assert.True(MaxDiff(fused, composite) <= tol * MaxAbs(composite), $"values: {MaxDiff(fused, composite)}");
        Assert.True(MaxDiff(a1.grad!, a2.grad!) <= tol * MaxAbs(a2.grad!), $"gate gradient: {MaxDiff(a1.grad!, a2.grad!)}");
        Assert.True(MaxDiff(b1.grad!, b2.grad!) <= tol * MaxAbs(b2.grad!), $"up gradient: {MaxDiff(b1.grad!, b2.grad!)}");
    }

    [Fact]
    public void Vector_exp_is_within_two_ulp_of_the_double_result_over_the_normal_range()
    {
        var worst = 0.0;
        var rng = new Random(8);
        for (var i = 0; i < 20000; i++)
        {
            var xs = new float[8];
            for (var j = 0; j < 8; j++) xs[j] = (float)(rng.NextDouble() * 174 - 87);
            xs[0] = i % 3 == 0 ? 0f : xs[0];
            var got = CpuKernels.Exp(System.Runtime.Intrinsics.Vector256.Create(xs));
            for (var j = 0; j < 8; j++)
            {
                var exact = Math.Exp(xs[j]);
                var ulp = (double)MathF.BitIncrement((float)exact) - (float)exact;
                worst = Math.Max(worst, Math.Abs(got[j] - exact) / ulp);
            }
        }
        Assert.True(worst <= 2, $"worst error {worst:F2} ulp");
        // Saturation instead of overflow or NaN at the ends.
        var ends = CpuKernels.Exp(System.Runtime.Intrinsics.Vector256.Create(-1000f, -88f, 89f, 1000f, 0f, 1f, -1f, 10f));
        Assert.True(ends[0] > 0 && ends[0] < 1e-37f && float.IsFinite(ends[3]) && ends[3] > 1e38f);
        Assert.Equal(1f, ends[4]);
    }

    [Fact]
    public void Bf16_rounding_maps_every_nan_to_the_canonical_one_and_rounds_ties_to_even()
    {
        foreach (var bits in new uint[] { 0x7FC00000, 0xFFC00000, 0x7FFFFFFF, 0xFFFFFFFF, 0x7F800001 })
            Assert.Equal(0x7FC0, Bf16.FromSingle(BitConverter.UInt32BitsToSingle(bits)));
        Assert.Equal(0x3F80, Bf16.FromSingle(1f));
        Assert.Equal(0x3F80, Bf16.FromSingle(BitConverter.UInt32BitsToSingle(0x3F808000))); // a tie: to the even 0x3F80
        Assert.Equal(0x3F82, Bf16.FromSingle(BitConverter.UInt32BitsToSingle(0x3F818000))); // a tie: to the even 0x3F82
        Assert.Equal(0x7F80, Bf16.FromSingle(float.PositiveInfinity));
        // The vector rounding gives the same, NaN payloads included.
        var input = new uint[] { 0x7FFFFFFF, 0xFFFFFFFF, 0x3F808000, 0x3F818000, 0x7F800000, 0xFF800000, 0x40490FDB, 0x00000000,
                                 0x80000000, 0x7F7FFFFF, 0x3F800001, 0xBF818000, 0x7FC00001, 0x12345678, 0x87654321, 0x3EAAAAAB };
        var floats = input.Select(BitConverter.UInt32BitsToSingle).ToArray();
        var output = new ushort[16];
        unsafe
        {
            fixed (ushort* o = output)
                CpuKernels.StoreBf16(System.Runtime.Intrinsics.Vector256.Create(floats.AsSpan(0, 8)), System.Runtime.Intrinsics.Vector256.Create(floats.AsSpan(8, 8)), o);
        }
        Assert.Equal(floats.Select(Bf16.FromSingle).ToArray(), output);
    }

    [Fact]
    public void Kernels_use_at_most_libtorchs_thread_count()
    {
        var before = get_num_threads();
        try
        {
            set_num_threads(1);
            var threads = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();
            CpuParallel.For(16, _ => { threads[Environment.CurrentManagedThreadId] = true; Thread.Sleep(2); });
            Assert.Single(threads);
        }
        finally { set_num_threads(before); }
    }

    [Fact]
    public void Dropout_over_several_pieces_equals_dropout_in_one()
    {
        // Tensors above 2^28 elements go to the kernels in pieces (a span stops at 2 GiB); here with pieces of 1000.
        var rng = new DropoutRandom(31);
        using var x = randn(37, 101).to(ScalarType.BFloat16);
        using var whole = rng.Apply(x, 0.3);
        var saved = DropoutRandom.Stream.PieceElements;
        try
        {
            DropoutRandom.Stream.PieceElements = 1000;
            rng.Position = 0;
            using var pieces = rng.Apply(x, 0.3);
            rng.Position = 0;
            using var mask = rng.Mask([37, 101], 0.3, ScalarType.BFloat16);
            Assert.True(whole.eq(pieces).all().item<bool>());
            Assert.True(pieces.eq(x * mask).all().item<bool>());
        }
        finally { DropoutRandom.Stream.PieceElements = saved; }
    }

    [Theory]
    [InlineData(ScalarType.Float32, 1003)]
    [InlineData(ScalarType.BFloat16, 1003)] // a ragged tail after the vectors
    [InlineData(ScalarType.BFloat16, 4096)]
    public void Fused_cross_entropy_equals_log_softmax_and_its_gradient(ScalarType dtype, int vocab)
    {
        using var g = new Generator(12);
        using var logits0 = (randn([37, vocab], generator: g) * 4).to(dtype);
        using var labels = randint(0, vocab, [37], generator: g);
        using var logProbs = logits0.log_softmax(-1, ScalarType.Float32);
        var expectedLoss = -logProbs.gather(1, labels.unsqueeze(1)).sum().item<float>();
        using var expectedGrad = logProbs.exp().scatter_add(1, labels.unsqueeze(1), -ones(37, 1)).to(dtype);

        using var logits = logits0.clone();
        Assert.True(FusedCrossEntropy.Supports(logits, labels));
        var loss = FusedCrossEntropy.GradientInPlace(logits, labels);
        Assert.Equal(expectedLoss, loss, expectedLoss * 1e-5);
        var tol = dtype == ScalarType.Float32 ? 1e-6f : 1f / 128; // bf16: rounded once here, from f32 values that differ in the last bits
        Assert.True(MaxDiff(logits, expectedGrad) <= tol, $"gradient: max |difference| {MaxDiff(logits, expectedGrad)}");
        using var rowSums = logits.to(ScalarType.Float32).sum(1);
        Assert.True(rowSums.abs().max().item<float>() < (dtype == ScalarType.Float32 ? 1e-5f : 0.05f)); // softmax − one-hot sums to 0

        using var bad = labels.clone();
        bad[3] = tensor((long)vocab);
        Assert.Throws<ArgumentOutOfRangeException>(() => FusedCrossEntropy.GradientInPlace(logits0.clone(), bad));
    }
}
