using System.Runtime.InteropServices;
using Smelt.Core;
using Smelt.Model;
using static TorchSharp.torch;

namespace Smelt.Training.Checkpoints;

/// <summary>
/// The CPU generators' states in a checkpoint: <c>rng_state.safetensors</c> holds a U8 tensor <c>cpu</c> (what
/// <c>torch.get_rng_state()</c> returns) and an I64 tensor <c>dropout</c> [seed, position] of the run's
/// <see cref="Lora.AdapterSet.Dropout"/>, which LoRA dropout on the CPU draws from. A run seeds both once from train.seed; a resumed run puts these states back,
/// so dropout continues the same random stream as an uninterrupted run.
/// </summary>
public static class RngState
{
    public const string FileName = "rng_state.safetensors";
    private const string CpuTensor = "cpu";
    private const string DropoutTensor = "dropout";

    public static void Save(string checkpointDir, DropoutRandom dropoutGenerator)
    {
        using var state = random.get_rng_state();
        using var dropout = tensor(new[] { dropoutGenerator.Seed, unchecked((long)dropoutGenerator.Position) });
        SafetensorsWriter.Write(Path.Combine(checkpointDir, FileName), [(CpuTensor, state), (DropoutTensor, dropout)],
            new Dictionary<string, string> { [CpuTensor] = "torch CPU default generator (get_rng_state)", [DropoutTensor] = "Smelt DropoutRandom of the run: seed, position" });
    }

    /// <summary>Before any compute: a checkpoint without the file comes from a Smelt that re-seeded every step instead.</summary>
    public static void RequireIn(string checkpointDir, TrainState state)
    {
        var path = Path.Combine(checkpointDir, FileName);
        if (File.Exists(path))
        {
            using var file = SafetensorsFile.Open(path);
            if (file.Entries.ContainsKey(DropoutTensor)) return;
            throw SmeltException.BadInput($"{path}: no '{DropoutTensor}' generator state. This checkpoint was written by an earlier Smelt, whose LoRA dropout " +
                                          "drew from torch's generator; this version draws CPU dropout masks from its own parallel generator, so it cannot continue " +
                                          $"that run exactly. Finish the run with the Smelt that started it, or start over: remove {Path.GetDirectoryName(checkpointDir)} " +
                                          "or choose another output.dir (--set output.dir=...)");
        }
        if (state.RngScheme == TrainState.Scheme)
            throw SmeltException.BadInput($"{checkpointDir}: {FileName} is missing although {CheckpointStore.StateFile} says it was saved; delete this checkpoint directory to resume from the previous one");
        throw SmeltException.BadInput($"{checkpointDir}: no {FileName}. This checkpoint was written by an earlier Smelt, which re-seeded dropout " +
                                      $"before every step (rng_scheme in {CheckpointStore.StateFile}: \"{state.RngScheme}\"); this version saves and restores the " +
                                      "generator state instead, so it cannot continue that run exactly. Finish the run with the Smelt that started it, or start " +
                                      $"over: remove {Path.GetDirectoryName(checkpointDir)} or choose another output.dir (--set output.dir=...)");
    }

    public static void Restore(string checkpointDir, DropoutRandom dropoutGenerator)
    {
        var path = Path.Combine(checkpointDir, FileName);
        using var file = SafetensorsFile.Open(path);
        if (!file.Entries.TryGetValue(CpuTensor, out var entry) || entry.DType != "U8" || entry.Shape.Length != 1)
            throw SmeltException.BadInput($"{path}: expected a 1-D U8 tensor '{CpuTensor}' (the torch CPU generator state); delete this checkpoint directory to resume from the previous one");
        if (!file.Entries.TryGetValue(DropoutTensor, out var d) || d.DType != "I64" || d.Shape is not [2])
            throw SmeltException.BadInput($"{path}: expected an I64 tensor '{DropoutTensor}' of shape [2] (seed, position); delete this checkpoint directory to resume from the previous one");
        using (var dropout = file.Read(DropoutTensor))
        {
            var v = dropout.data<long>().ToArray();
            dropoutGenerator.Reseed(v[0]);
            dropoutGenerator.Position = unchecked((ulong)v[1]);
        }
        using var state = file.Read(CpuTensor);
        try { random.set_rng_state(state); }
        catch (ExternalException ex)
        {
            throw SmeltException.BadInput($"{path}: libtorch rejected the generator state ({ex.Message.Split('\n')[0]}); delete this checkpoint directory to resume from the previous one");
        }
    }
}
