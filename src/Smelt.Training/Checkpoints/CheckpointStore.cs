using System.Globalization;
using System.Text.Json;
using Smelt.Core;

namespace Smelt.Training.Checkpoints;

/// <summary>Where training stands: enough to continue exactly where a checkpoint was taken.</summary>
public sealed record TrainState
{
    public int GlobalStep { get; init; }
    public int PhaseIndex { get; init; }
    public string PhaseName { get; init; } = "";
    /// <summary>Optimizer steps taken in the current phase (its schedule position).</summary>
    public int PhaseStep { get; init; }
    /// <summary>Rows of the phase's training stream consumed so far (the data position).</summary>
    public long RowsConsumed { get; init; }
    public long TokensSeen { get; init; }
    public long OptimizerSteps { get; init; }
    public int Seed { get; init; }
    /// <summary>
    /// How randomness (LoRA dropout) continues on resume. Checkpoints written before Smelt saved the generator state say
    /// "torch.manual_seed(seed * 1000003 + global_step) before each optimizer step" here and have no rng_state.safetensors.
    /// </summary>
    public string RngScheme { get; init; } = Scheme;

    public const string Scheme = "torch.manual_seed(seed) and Smelt's dropout generator seeded once at the start; both CPU generator states are saved in rng_state.safetensors and restored on resume " +
                                 "(on CUDA, whose generator state TorchSharp cannot read, the CUDA generator is re-seeded from (seed, global_step) before each step)";
    public bool PhaseComplete { get; init; }
    public string ConfigSha256 { get; init; } = "";
}

/// <summary>
/// Checkpoint directories <c>checkpoints/step-000020</c>. Each is written into a temporary sibling, fsynced, completed by a
/// <c>COMPLETE</c> marker written last, then renamed into place, so a crash at any moment leaves either no checkpoint or a
/// whole one; directories without the marker are ignored (and cleaned up). Only the newest <c>keep</c> are kept.
/// </summary>
public sealed class CheckpointStore
{
    public const string Marker = "COMPLETE";
    public const string StateFile = "trainer_state.json";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public CheckpointStore(string root, int keep)
    {
        Root = root;
        Keep = keep;
    }

    public string Root { get; }
    public int Keep { get; }

    public static string NameFor(int step) => $"step-{step.ToString("D6", CultureInfo.InvariantCulture)}";

    /// <summary>Writes a checkpoint: <paramref name="writeContents"/> fills the temporary directory; returns the final path.</summary>
    public string Save(TrainState state, Action<string> writeContents)
    {
        Directory.CreateDirectory(Root);
        var final = Path.Combine(Root, NameFor(state.GlobalStep));
        var tmp = Path.Combine(Root, $".tmp-{NameFor(state.GlobalStep)}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmp);
        try
        {
            writeContents(tmp);
            File.WriteAllText(Path.Combine(tmp, StateFile), JsonSerializer.Serialize(state, Json));
            foreach (var f in Directory.GetFiles(tmp)) FsyncFile(f);
            File.WriteAllText(Path.Combine(tmp, Marker), $"step {state.GlobalStep}\n");
            FsyncFile(Path.Combine(tmp, Marker));
            if (Directory.Exists(final)) Directory.Delete(final, recursive: true); // a stale one from a run that resumed earlier
            Directory.Move(tmp, final);
        }
        catch
        {
            if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
            throw;
        }
        Prune();
        return final;
    }

    private static void FsyncFile(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        fs.Flush(flushToDisk: true);
    }

    /// <summary>Complete checkpoints, oldest first.</summary>
    public IReadOnlyList<string> Complete()
    {
        if (!Directory.Exists(Root)) return [];
        return Directory.GetDirectories(Root, "step-*")
            .Where(d => File.Exists(Path.Combine(d, Marker)) && File.Exists(Path.Combine(d, StateFile)))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    public string? Latest() => Complete().LastOrDefault();

    public static TrainState ReadState(string checkpoint)
    {
        var path = Path.Combine(checkpoint, StateFile);
        try
        {
            return JsonSerializer.Deserialize<TrainState>(File.ReadAllText(path), Json) ?? throw new JsonException("empty");
        }
        catch (JsonException ex)
        {
            throw SmeltException.BadInput($"{path}: unreadable trainer state ({ex.Message}); delete this checkpoint directory to resume from the previous one");
        }
    }

    private void Prune()
    {
        var complete = Complete();
        foreach (var old in complete.Take(Math.Max(0, complete.Count - Keep)))
            Directory.Delete(old, recursive: true);
        foreach (var leftover in Directory.GetDirectories(Root, ".tmp-*"))
            if (!leftover.Contains($"-{Environment.ProcessId}-", StringComparison.Ordinal))
                try { Directory.Delete(leftover, recursive: true); } catch (IOException) { }
        foreach (var partial in Directory.GetDirectories(Root, "step-*").Where(d => !File.Exists(Path.Combine(d, Marker))))
            try { Directory.Delete(partial, recursive: true); } catch (IOException) { }
    }
}
