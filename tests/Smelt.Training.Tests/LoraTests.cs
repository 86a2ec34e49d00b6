using Smelt.Model;
using Smelt.Training.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace Smelt.Training.Tests;

[Collection(TorchRngCollection.Name)]
public sealed class LoraTests
{
    public LoraTests() => TorchRuntime.EnsureLoaded();

    [Fact]
    public void Nf4_is_exact_on_codebook_values_and_within_the_bound_elsewhere()
    {
        // Every block holds each code value times a per-block absmax: quantisation must reproduce it exactly.
        var scales = new float[] { 0.5f, 1.0f, 3.25f, 0.01f };
        var data = new float[scales.Length * 64];
        for (var b = 0; b < scales.Length; b++)
            for (var i = 0; i < 64; i++) data[b * 64 + i] = Nf4Tensor.CodeValues[(i * 7 + b) % 16] * scales[b];
        using var exact = tensor(data).reshape(8, 32);
        using var q = Nf4Tensor.Quantize(exact, 64, doubleQuant: false);
        using var back = q.Dequantize();
        Assert.Equal(0f, (back - exact).abs().max().item<float>());

        // Random weights: every element within half the widest code gap times its block's absmax.
        using var g = new Generator(7);
        using var w = randn([64, 200], generator: g);
        foreach (var dq in new[] { false, true })
        {
            using var qw = Nf4Tensor.Quantize(w, 64, dq, 256);
            using var deq = qw.Dequantize();
            var flat = nn.functional.pad(w.flatten(), [0, (64 - w.NumberOfElements % 64) % 64]).reshape(-1, 64);
            var absmax = flat.abs().amax([1]);
            var err = nn.functional.pad((deq - w).abs().flatten(), [0, (64 - w.NumberOfElements % 64) % 64]).reshape(-1, 64);
            // Double quantisation perturbs each absmax by at most half an int8 step of its second-level block.
            var slack = dq ? (absmax - absmax.mean()).abs().max().item<float>() / 127f / 2 * 1.01f : 0f;
            var bound = absmax * Nf4Tensor.MaxRelativeError * 1.0001f + slack + 1e-6f;
            Assert.True((err <= bound.unsqueeze(1)).all().item<bool>(), $"double_quant={dq}: error above the NF4 bound");
            var rel = ((deq - w).pow(2).mean() / w.pow(2).mean()).item<float>();
            Assert.InRange(rel, 0.001f, 0.02f); // a 4-bit code on Gaussian weights: ~1% relative MSE, never zero
        }
        Assert.Equal(0.1519f, Nf4Tensor.MaxRelativeError, 3);
    }

    /// <summary>Dequantisation written with plain torch ops: unpack the nibbles, look the codes up, scale by the block absmax.</summary>
    private static Tensor ReferenceDequantize(Nf4Tensor q, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var wide = q.Packed.to(ScalarType.Int64);
        var index = stack([wide.div(16, rounding_mode: RoundingMode.floor), wide.remainder(16)], 1).flatten();
        var values = tensor(Nf4Tensor.CodeValues).index_select(0, index).reshape(-1, q.BlockSize);
        var w = (values * q.Absmax().unsqueeze(1)).flatten()[TensorIndex.Slice(0, q.ElementCount)].reshape(q.Shape);
        return w.to(dtype).MoveToOuterDisposeScope();
    }

    [Theory]
    [InlineData(64, true)]
    [InlineData(64, false)]
    [InlineData(48, true)]  // 24 bytes a block: the shuffle path and the scalar tail in every block
    [InlineData(256, false)]
    public void Nf4_fast_dequantisation_equals_the_plain_torch_computation_bit_for_bit(int block, bool doubleQuant)
    {
        using var g = new Generator(11);
        foreach (var shape in new long[][] { [64, 192], [7, 50], [3, 1000] }) // whole blocks, and ragged last blocks
        {
            using var w = randn(shape, generator: g) * 0.05;
            using var q = Nf4Tensor.Quantize(w, block, doubleQuant, 256);
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16, ScalarType.Float16, ScalarType.Float64 })
            {
                using var fast = q.Dequantize(dtype);
                using var reference = ReferenceDequantize(q, dtype);
                Assert.Equal(shape, fast.shape);
                Assert.Equal(dtype, fast.dtype);
                Assert.True(fast.eq(reference).all().item<bool>(), $"block {block}, dq {doubleQuant}, shape [{string.Join(",", shape)}], {dtype}: max |difference| " +
                                                   $"{(fast.to(ScalarType.Float64) - reference.to(ScalarType.Float64)).abs().max().item<double>()}");
            }
        }
    }

    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void Nf4_linear_gradient_equals_that_through_the_dequantised_weight(ScalarType dtype)
    {
        // The backward pass dequantises the weight again instead of keeping it; the input gradient must be the same.
        manual_seed(4);
        var linear = nn.Linear(128, 96, hasBias: true);
        var q = new Nf4Linear(linear, 64, true, 256);
        using var deq = q.Weight.Dequantize(dtype);
        using var x0 = randn(3, 5, 128).to(dtype);
        using var upstream = randn(3, 5, 96).to(dtype);
        var x1 = x0.detach().requires_grad_(true);
        var x2 = x0.detach().requires_grad_(true);
        using (var y = q.forward(x1)) y.backward([upstream]);
        using (var y = nn.functional.linear(x2, deq, linear.bias!.to(dtype))) y.backward([upstream]);
        Assert.True(x1.grad!.abs().max().to(ScalarType.Float32).item<float>() > 0);
        Assert.True(allclose(x1.grad!, x2.grad!, 1e-5, 1e-5), $"max |difference| {(x1.grad! - x2.grad!).abs().max().to(ScalarType.Float32).item<float>()}");
        using (no_grad())
        using (var y = q.forward(x0))
        using (var e = nn.functional.linear(x0, deq, linear.bias!.to(dtype)))
            Assert.True(allclose(y, e, 1e-5, 1e-5));
    }

    [Fact]
    public void Nf4_storage_is_about_half_a_byte_per_parameter()
    {
        using var w = randn(512, 1024);
        using var q = Nf4Tensor.Quantize(w, 64, doubleQuant: true, 256);
        var bytesPerParam = (double)q.StorageBytes / w.NumberOfElements;
        Assert.InRange(bytesPerParam, 0.5, 0.52);
        using var q2 = Nf4Tensor.Quantize(w, 64, doubleQuant: false);
        Assert.True(q2.StorageBytes > q.StorageBytes);
    }

    [Fact]
    public void Lora_with_zero_B_leaves_outputs_unchanged_and_only_adapter_gets_gradients()
    {
        manual_seed(1);
        var linear = nn.Linear(32, 16);
        using var x = randn(4, 32);
        using var expected = linear.forward(x).detach();
        using var g = new Generator(3);
        var lora = LoraLinear.Wrap(linear, r: 4, alpha: 8, dropout: 0.0, rsLora: false, g);
        Assert.Equal(0f, lora.B.abs().max().item<float>());
        Assert.True(lora.A.abs().max().item<float>() > 0);
        Assert.True(lora.A.abs().max().item<float>() <= 1 / MathF.Sqrt(32));
        using var y = lora.forward(x);
        Assert.Equal(0f, (y - expected).abs().max().item<float>());

        y.pow(2).sum().backward();
        Assert.Null(linear.weight!.grad);
        Assert.Null(linear.bias!.grad);
        // With B = 0 the gradient reaches B (through A's output) but not yet A.
        Assert.True(lora.B.grad!.abs().sum().item<float>() > 0);
        var trainable = lora.parameters().Where(p => p.requires_grad).ToList();
        Assert.Equal(2, trainable.Count);
        Assert.Equal(["base_layer.weight", "base_layer.bias", "lora_A.weight", "lora_B.weight"], lora.named_parameters().Select(p => p.name));
    }

    [Fact]
    public void Lora_scaling_and_rslora()
    {
        var linear = nn.Linear(8, 8, hasBias: false);
        Assert.Equal(2.0, LoraLinear.Wrap(linear, 8, 16, 0, false).Scaling);
        Assert.Equal(16 / Math.Sqrt(8), LoraLinear.Wrap(nn.Linear(8, 8), 8, 16, 0, true).Scaling, 12);
        var l = LoraLinear.Wrap(nn.Linear(8, 8, hasBias: false), 2, 4, 0, false);
        using (no_grad()) l.B.copy_(ones(8, 2));
        using var x = randn(3, 8);
        using var manual = x.matmul(((LoraLinear)l).BaseLayer.parameters().First().t()) + x.matmul(l.A.t()).matmul(l.B.t()) * 2.0;
        using var y = l.forward(x);
        Assert.True(allclose(y, manual, 1e-5, 1e-6));
    }

    [Fact]
    public void Nf4_linear_forward_matches_dequantised_weight_and_trains_lora_on_top()
    {
        manual_seed(2);
        var linear = nn.Linear(128, 64);
        var q = new Nf4Linear(linear, 64, true, 256);
        using var x = randn(5, 128);
        using var deq = q.Weight.Dequantize();
        using var expected = nn.functional.linear(x, deq, linear.bias);
        using var y = q.forward(x);
        Assert.True(allclose(y, expected, 1e-5, 1e-5));
        using var full = linear.forward(x);
        Assert.True((y - full).abs().max().item<float>() < 0.1f * full.abs().max().item<float>());
        Assert.Empty(q.parameters());

        var lora = new LoraLinear(q, 128, 64, 4, 8, 0, false);
        lora.forward(x).sum().backward();
        Assert.NotNull(lora.B.grad);
    }
}
