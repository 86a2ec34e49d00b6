using Smelt.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Smelt.Model.Tests;

public sealed class DropoutRandomTests
{
    public DropoutRandomTests() => TorchRuntime.EnsureLoaded();

    private static float[] Floats(Tensor t) { using var f = t.to(ScalarType.Float32); return f.data<float>().ToArray(); }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Parallel_simd_masks_equal_the_scalar_reference_at_any_offset(ScalarType dtype)
    {
        const double p = 0.3;
        var rng = new DropoutRandom(7);
        using (var skip = rng.Mask([5], p, dtype)) { } // an odd start, so vectors begin mid-stream
        var start = rng.Position;
        Assert.Equal(5UL, start);
        long[] shape = [3, 65536 + 13]; // several chunks and a ragged tail
        using var mask = rng.Mask(shape, p, dtype);
        Assert.Equal(start + 3UL * (65536 + 13), rng.Position);
        Assert.Equal(shape, mask.shape);
        Assert.Equal(dtype, mask.dtype);
        var values = Floats(mask);
        using var keepT = tensor(1f / (1 - (float)p)).to(dtype);
        var keep = Floats(keepT)[0]; // torch's own rounding of the scale to this dtype
        for (var i = 0; i < values.Length; i++)
            Assert.True(values[i] == (rng.Keeps(start + (ulong)i, p) ? keep : 0f), $"element {i}: {values[i]}");

        // Across a 2^32 boundary of the counter the vector path steps aside for the scalar one, and the stream stays the same.
        rng.Position = (1UL << 32) - 11;
        using var across = rng.Mask([40], p, dtype);
        var a = Floats(across);
        for (var i = 0; i < a.Length; i++) Assert.Equal(rng.Keeps((1UL << 32) - 11 + (ulong)i, p) ? keep : 0f, a[i]);
    }

    [Fact]
    public void The_stream_is_fixed_by_seed_and_position()
    {
        var a = new DropoutRandom(42);
        var b = new DropoutRandom(42);
        using var m1 = a.Mask([1000], 0.5, ScalarType.Float32);
        using var m2 = b.Mask([1000], 0.5, ScalarType.Float32);
        Assert.Equal(Floats(m1), Floats(m2));
        using var next = a.Mask([1000], 0.5, ScalarType.Float32);
        Assert.NotEqual(Floats(m1), Floats(next)); // the position moved on
        a.Position = 0;
        using var again = a.Mask([1000], 0.5, ScalarType.Float32);
        Assert.Equal(Floats(m1), Floats(again)); // rewinding replays the same mask
        using var other = new DropoutRandom(43).Mask([1000], 0.5, ScalarType.Float32);
        Assert.NotEqual(Floats(m1), Floats(other));
        a.Reseed(42);
        Assert.Equal(0UL, a.Position);
    }

    [Theory]
    [InlineData(0.05, 1)]
    [InlineData(0.3, 2)]
    [InlineData(0.5, 3)]
    public void Masks_drop_at_the_rate_asked_with_no_correlation_between_neighbours(double p, long seed)
    {
        const int n = 1 << 22;
        var rng = new DropoutRandom(seed);
        using var mask = rng.Mask([n], p, ScalarType.Float32);
        var v = Floats(mask);
        long dropped = 0, bothDropped = 0, strideBoth = 0;
        for (var i = 0; i < n; i++)
        {
            if (v[i] != 0) continue;
            dropped++;
            if (i + 1 < n && v[i + 1] == 0) bothDropped++;
            if (i + 8 < n && v[i + 8] == 0) strideBoth++; // the SIMD lane width
        }
        // Binomial bounds at 6 standard deviations: a fixed seed, so this either always passes or always fails.
        static void Near(double expected, long count, long trials, string what)
        {
            var sd = Math.Sqrt(trials * expected * (1 - expected));
            Assert.True(Math.Abs(count - trials * expected) < 6 * sd, $"{what}: {count} of {trials}, expected {trials * expected:F0} ± {sd:F0}");
        }
        Near(p, dropped, n, "dropped");
        Near(p * p, bothDropped, n - 1, "neighbours both dropped");
        Near(p * p, strideBoth, n - 8, "elements 8 apart both dropped");

        // Two consecutive masks are independent of each other.
        using var second = rng.Mask([n], p, ScalarType.Float32);
        var w = Floats(second);
        long both = 0;
        for (var i = 0; i < n; i++) if (v[i] == 0 && w[i] == 0) both++;
        Near(p * p, both, n, "same element of two masks both dropped");
    }

    [Fact]
    public void Apply_scales_kept_elements_and_the_gradient_flows_through_the_same_mask()
    {
        var rng = new DropoutRandom(5);
        using var x = randn(64, 33).requires_grad_(true);
        using var y = rng.Apply(x, 0.25);
        using var loss = y.sum();
        loss.backward();
        rng.Position = 0;
        using var mask = rng.Mask([64, 33], 0.25, ScalarType.Float32);
        var keep = 1 / 0.75f;
        Assert.Equal(Floats(mask), Floats(x.grad!));
        using var expected = x.detach() * mask;
        Assert.True(allclose(y.detach(), expected));
        Assert.Contains(Floats(mask), m => m == 0f);
        Assert.Contains(Floats(mask), m => m == keep);
        Assert.Throws<ArgumentOutOfRangeException>(() => rng.Mask([3], 1.0, ScalarType.Float32));
        Assert.Throws<ArgumentException>(() => rng.Mask([3], 0.5, ScalarType.Float64));
    }
}
