using Smelt.Training.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace Smelt.Training.Tests;

/// <summary>A bf16 parameter (a bf16 model's modules_to_save) trained through AdamW's f32 master copy.</summary>
public sealed class AdamWPrecisionTests
{
    private static TorchSharp.Modules.Parameter Bf16Param(float value) =>
        new(full(4, value, dtype: ScalarType.BFloat16), requires_grad: true);

    [Fact]
    public void Updates_below_bf16_resolution_accumulate_in_the_master_copy()
    {
        var p = Bf16Param(1.0f);
        using var opt = new AdamW([("w", p)], 0.9, 0.999, 1e-8, weightDecay: 0);
        for (var i = 0; i < 100; i++)
        {
            p.grad = ones(4, dtype: ScalarType.BFloat16);
            // Each Adam step moves the weight by ~lr = 1e-4, far below bf16's spacing of 2^-7 near 1.0: applied to the
            // bf16 weight directly, every step would round back to 1.0.
            opt.Step(1e-4);
        }
        Assert.Equal(ScalarType.BFloat16, p.dtype);
        var value = p.to(ScalarType.Float32).mean().item<float>();
        Assert.InRange(value, 0.985f, 0.995f);
        Assert.Contains(opt.StateTensors(), t => t.Name == "w.master_f32");
    }

    [Fact]
    public void Gradient_norm_and_clipping_work_on_bf16_gradients()
    {
        var p = Bf16Param(0f);
        using var opt = new AdamW([("w", p)], 0.9, 0.999, 1e-8, weightDecay: 0);
        p.grad = full(4, 3.0f, dtype: ScalarType.BFloat16);
        var norm = opt.ClipGradNorm(1.0);
        Assert.Equal(6.0, norm, 3); // sqrt(4 * 9)
        Assert.Equal(0.5f, p.grad!.to(ScalarType.Float32)[0].item<float>(), 2);
    }

    [Fact]
    public void The_master_copy_round_trips_through_the_checkpointed_state()
    {
        var p = Bf16Param(1.0f);
        var opt = new AdamW([("w", p)], 0.9, 0.999, 1e-8, weightDecay: 0);
        for (var i = 0; i < 30; i++)
        {
            p.grad = ones(4, dtype: ScalarType.BFloat16);
            opt.Step(1e-4);
        }
        var saved = opt.StateTensors().ToDictionary(t => t.Name, t => t.Tensor.clone());
        var master = saved["w.master_f32"].clone();
        opt.Dispose();

        var q = Bf16Param(1.0f);
        using var resumed = new AdamW([("w", q)], 0.9, 0.999, 1e-8, weightDecay: 0);
        resumed.LoadState(30, name => saved[name].clone());
        Assert.True(resumed.StateTensors().Single(t => t.Name == "w.master_f32").Tensor.eq(master).all().item<bool>());
        Assert.True(q.eq(master.to(ScalarType.BFloat16)).all().item<bool>());
    }
}
