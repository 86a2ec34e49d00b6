using static TorchSharp.torch;

namespace Smelt.Training.Optim;

/// <summary>
/// AdamW (decoupled weight decay, bias-corrected moments), written out so its whole state can be checkpointed and
/// restored bit for bit. Parameters whose names mark them as norms or biases get no weight decay. Moments are f32; a
/// parameter stored in a narrower type (a bf16 model's modules_to_save) is updated through an f32 master copy, so
/// updates smaller than its last bit are not lost, and the master copy is part of the checkpointed state.
/// </summary>
public sealed class AdamW : IDisposable
{
    private readonly List<(string Name, TorchSharp.Modules.Parameter Param, Tensor M, Tensor V, bool Decay, Tensor? Master)> _slots = [];

    public AdamW(IEnumerable<(string Name, TorchSharp.Modules.Parameter Param)> parameters, double beta1, double beta2, double eps, double weightDecay)
    {
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
        WeightDecay = weightDecay;
        foreach (var (name, p) in parameters)
            _slots.Add((name, p, zeros_like(p, dtype: ScalarType.Float32), zeros_like(p, dtype: ScalarType.Float32), DecaysByName(name),
                p.dtype == ScalarType.Float32 ? null : p.detach().to(ScalarType.Float32)));
    }

    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Eps { get; }
    public double WeightDecay { get; }
    /// <summary>Optimizer steps taken so far (drives bias correction).</summary>
    public long Steps { get; private set; }

    public static bool DecaysByName(string name)
    {
        var n = name.ToLowerInvariant();
        return !(n.EndsWith(".bias") || n.Contains("norm") || n.EndsWith("bias"));
    }

    public IEnumerable<(string Name, bool Decay)> Groups => _slots.Select(s => (s.Name, s.Decay));

    public void Step(double lr)
    {
        Steps++;
        var bc1 = 1 - Math.Pow(Beta1, Steps);
        var bc2 = 1 - Math.Pow(Beta2, Steps);
        using var noGrad = no_grad();
        foreach (var (_, p, m, v, decay, master) in _slots)
        {
            if (p.grad is not { } grad) continue;
            using var scope = NewDisposeScope();
            var g = master is null ? grad : grad.to(ScalarType.Float32);
            var w = master ?? p;
            if (decay && WeightDecay > 0) w.mul_(1 - lr * WeightDecay);
            m.mul_(Beta1).add_(g, alpha: 1 - Beta1);
            v.mul_(Beta2).addcmul_(g, g, value: 1 - Beta2);
            var denom = (v / bc2).sqrt_().add_(Eps);
            w.addcdiv_(m, denom, value: -lr / bc1);
            if (master is not null) p.copy_(master);
        }
    }

    public void ZeroGrad()
    {
        foreach (var s in _slots)
            if (s.Param.grad is { } g) { g.zero_(); }
    }

    /// <summary>Global L2 norm of all gradients; scales them down to <paramref name="maxNorm"/> when above it (0: no clipping).</summary>
    public double ClipGradNorm(double maxNorm)
    {
        using var noGrad = no_grad();
        double sq = 0;
        foreach (var s in _slots)
            if (s.Param.grad is { } g) sq += g.to(ScalarType.Float32).pow(2).sum().item<float>();
        var norm = Math.Sqrt(sq);
        if (maxNorm > 0 && norm > maxNorm)
        {
            var factor = maxNorm / (norm + 1e-6);
            foreach (var s in _slots)
                s.Param.grad?.mul_(factor);
        }
        return norm;
    }

    /// <summary>Moment tensors under stable names, for the checkpoint.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> StateTensors()
    {
        foreach (var s in _slots)
        {
            yield return ($"{s.Name}.exp_avg", s.M);
            yield return ($"{s.Name}.exp_avg_sq", s.V);
            if (s.Master is not null) yield return ($"{s.Name}.master_f32", s.Master);
        }
    }

    public void LoadState(long steps, Func<string, Tensor> read)
    {
        using var noGrad = no_grad();
        foreach (var s in _slots)
        {
            using var m = read($"{s.Name}.exp_avg");
            using var v = read($"{s.Name}.exp_avg_sq");
            s.M.copy_(m);
            s.V.copy_(v);
            if (s.Master is not null)
            {
                using var master = read($"{s.Name}.master_f32");
                s.Master.copy_(master);
                s.Param.copy_(master);
            }
        }
        Steps = steps;
    }

    public void Dispose()
    {
        foreach (var s in _slots) { s.M.Dispose(); s.V.Dispose(); s.Master?.Dispose(); }
    }
}
