namespace Smelt.Training.Optim;

/// <summary>
/// Linear warmup from 0 to the peak, then cosine or linear decay to <c>peak * minRatio</c> at <c>totalSteps</c>, or constant.
/// <see cref="At"/> takes the 0-based index of the optimizer step about to be taken, so step 0 of a warmup gets a small, non-zero rate.
/// The schedule is a pure function of the step: resuming at step k gives exactly the rate an uninterrupted run used at k.
/// </summary>
public sealed class LrSchedule
{
    public LrSchedule(double peak, int warmupSteps, int totalSteps, string kind, double minRatio)
    {
        if (peak <= 0) throw new ArgumentOutOfRangeException(nameof(peak));
        if (totalSteps < 1) throw new ArgumentOutOfRangeException(nameof(totalSteps));
        if (warmupSteps < 0 || warmupSteps > totalSteps) throw new ArgumentOutOfRangeException(nameof(warmupSteps));
        if (kind is not ("cosine" or "linear" or "constant")) throw new ArgumentException($"unknown schedule '{kind}'", nameof(kind));
        Peak = peak;
        WarmupSteps = warmupSteps;
        TotalSteps = totalSteps;
        Kind = kind;
        MinRatio = minRatio;
    }

    public double Peak { get; }
    public int WarmupSteps { get; }
    public int TotalSteps { get; }
    public string Kind { get; }
    public double MinRatio { get; }

    public double At(int step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        if (Kind == "constant") return Peak;
        var decaySteps = Math.Max(1, TotalSteps - WarmupSteps);
        var progress = Math.Clamp((double)(step - WarmupSteps) / decaySteps, 0, 1);
        var factor = Kind == "cosine" ? 0.5 * (1 + Math.Cos(Math.PI * progress)) : 1 - progress;
        return Peak * (MinRatio + (1 - MinRatio) * factor);
    }
}
