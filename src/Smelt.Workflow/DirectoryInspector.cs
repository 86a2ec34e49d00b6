using System.Text.Json;
using System.Text.Json.Nodes;
using Smelt.Core;
using Smelt.Training.Checkpoints;
using Smelt.Training.Lora;

namespace Smelt.Workflow;

/// <summary>What a directory is, as far as Smelt can tell from the files in it.</summary>
public enum DirectoryKind { TrainingRun, Checkpoint, Adapter, Model, Unknown }

public sealed record FileGroup(string Purpose, int Files, long Bytes);

public sealed record LossPoint(int Step, string Phase, double Loss, double? ValLoss);

public sealed record AdapterInfo(int R, double Alpha, double Dropout, IReadOnlyList<string> TargetModules, bool UseRslora, string BaseModel, string? BaseFingerprint, long Parameters);

public sealed record InspectReport
{
    public required string Directory { get; init; }
    public required DirectoryKind Kind { get; init; }
    public int? Step { get; init; }
    public string? Phase { get; init; }
    public int? PhaseStep { get; init; }
    public long? RowsConsumed { get; init; }
    public long? TokensSeen { get; init; }
    /// <summary>Epochs are not recorded by the trainer (it counts packed rows); null unless a state file carries one.</summary>
    public double? Epoch { get; init; }
    public IReadOnlyList<LossPoint> LossHistory { get; init; } = [];
    public AdapterInfo? Adapter { get; init; }
    public string? BaseModel { get; init; }
    public string? Architecture { get; init; }
    public long? ModelParameters { get; init; }
    public string? TorchDtype { get; init; }
    public IReadOnlyList<string> Checkpoints { get; init; } = [];
    public IReadOnlyList<FileGroup> Files { get; init; } = [];
    public long TotalBytes => Files.Sum(f => f.Bytes);
}

/// <summary>
/// Reads a training run directory (output.dir), one checkpoint (checkpoints/step-N), a PEFT adapter directory or a Hugging
/// Face model directory and reports what it holds without loading any weights (safetensors headers only).
/// </summary>
public static class DirectoryInspector
{
    public static InspectReport Inspect(string directory)
    {
        if (!Directory.Exists(directory)) throw SmeltException.BadInput($"{directory}: directory not found");
        var dir = Path.GetFullPath(directory);
        var has = (string name) => File.Exists(Path.Combine(dir, name));
        var kind = has(CheckpointStore.StateFile) && has(CheckpointStore.Marker) ? DirectoryKind.Checkpoint
            : has("config.resolved.yml") || has("metrics.jsonl") || System.IO.Directory.Exists(Path.Combine(dir, "checkpoints")) ? DirectoryKind.TrainingRun
            : has(PeftAdapter.ConfigFile) ? DirectoryKind.Adapter
            : has("config.json") ? DirectoryKind.Model
            : DirectoryKind.Unknown;

        TrainState? state = null;
        var checkpoints = new List<string>();
        if (kind == DirectoryKind.Checkpoint) state = CheckpointStore.ReadState(dir);
        if (kind == DirectoryKind.TrainingRun)
        {
            var store = new CheckpointStore(Path.Combine(dir, "checkpoints"), int.MaxValue);
            checkpoints.AddRange(store.Complete().Select(Path.GetFileName)!);
            if (store.Latest() is { } latest) state = CheckpointStore.ReadState(latest);
        }

        var adapterDir = kind switch
        {
            DirectoryKind.Adapter => dir,
            DirectoryKind.Checkpoint or DirectoryKind.TrainingRun when File.Exists(Path.Combine(dir, "adapter", PeftAdapter.ConfigFile)) => Path.Combine(dir, "adapter"),
            _ => null,
        };
        AdapterInfo? adapter = adapterDir is null ? null : ReadAdapter(adapterDir);

        string? arch = null, dtype = null;
        long? parameters = null;
        if (kind == DirectoryKind.Model)
        {
            var config = Smelt.Model.ModelConfig.Load(dir);
            arch = config.Architecture;
            dtype = config.TorchDtype;
            parameters = config.ParameterCount();
        }

        var metricsPath = kind == DirectoryKind.Checkpoint ? Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(dir)!)!, "metrics.jsonl") : Path.Combine(dir, "metrics.jsonl");
        var history = File.Exists(metricsPath) ? ReadLoss(metricsPath, kind == DirectoryKind.Checkpoint ? state?.GlobalStep : null) : [];

        return new InspectReport
        {
            Directory = dir,
            Kind = kind,
            Step = state?.GlobalStep ?? history.LastOrDefault()?.Step,
            Phase = state?.PhaseName,
            PhaseStep = state?.PhaseStep,
            RowsConsumed = state?.RowsConsumed,
            TokensSeen = state?.TokensSeen,
            LossHistory = history,
            Adapter = adapter,
            BaseModel = adapter?.BaseModel,
            Architecture = arch,
            TorchDtype = dtype,
            ModelParameters = parameters,
            Checkpoints = checkpoints,
            Files = GroupFiles(dir),
        };
    }

    private static AdapterInfo ReadAdapter(string dir)
    {
        var (lora, baseModel, fingerprint) = PeftAdapter.ReadConfig(dir);
        long count = 0;
        var weights = Path.Combine(dir, PeftAdapter.WeightsFile);
        if (File.Exists(weights))
        {
            using var f = Smelt.Model.SafetensorsFile.Open(weights);
            count = f.Entries.Values.Sum(e => e.ElementCount);
        }
        return new AdapterInfo(lora.R, lora.Alpha, lora.Dropout, lora.TargetModules, lora.UseRslora, baseModel, fingerprint, count);
    }

    /// <summary>Loss per logged step; lines past <paramref name="upToStep"/> (after the checkpoint) are left out.</summary>
    public static IReadOnlyList<LossPoint> ReadLoss(string metricsPath, int? upToStep = null)
    {
        var points = new List<LossPoint>();
        foreach (var line in Jsonl.Read(metricsPath))
        {
            if (!line.IsValid) continue;
            var o = line.Value!.Value;
            if (!o.TryGetProperty("step", out var s) || s.ValueKind != JsonValueKind.Number) continue;
            if (!o.TryGetProperty("loss", out var l) || l.ValueKind != JsonValueKind.Number) continue;
            var step = s.GetInt32();
            if (upToStep is { } max && step > max) continue;
            double? val = o.TryGetProperty("val_loss", out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
            var phase = o.TryGetProperty("phase", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString()! : "";
            points.Add(new LossPoint(step, phase, l.GetDouble(), val));
        }
        return points;
    }

    public static string PurposeOf(string relative)
    {
        var name = Path.GetFileName(relative);
        var top = relative.Split('/')[0];
        if (top == "tensorboard" || name is "metrics.jsonl" or "loss.png" or "summary.json" or "filter_report.json" || name.EndsWith(".log", StringComparison.Ordinal)) return "logs";
        if (name == "optimizer.safetensors") return "optimizer";
        if (name == PeftAdapter.WeightsFile) return "adapter weights";
        if (name.StartsWith("tokenizer", StringComparison.Ordinal) || name is "special_tokens_map.json" or "vocab.json" or "merges.txt") return "tokenizer";
        if (name.EndsWith(".safetensors", StringComparison.Ordinal) || name.EndsWith(".bin", StringComparison.Ordinal)) return "weights";
        if (name.EndsWith(".json", StringComparison.Ordinal) || name.EndsWith(".yml", StringComparison.Ordinal) || name.EndsWith(".yaml", StringComparison.Ordinal)
            || name == CheckpointStore.Marker) return "config/state";
        return "other";
    }

    private static IReadOnlyList<FileGroup> GroupFiles(string dir) =>
        System.IO.Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories)
            .Select(f => (Purpose: PurposeOf(Path.GetRelativePath(dir, f)), Bytes: new FileInfo(f).Length))
            .GroupBy(f => f.Purpose)
            .Select(g => new FileGroup(g.Key, g.Count(), g.Sum(x => x.Bytes)))
            .OrderByDescending(g => g.Bytes)
            .ToList();

    public static string ToJson(InspectReport r)
    {
        var o = new JsonObject
        {
            ["directory"] = r.Directory,
            ["kind"] = r.Kind.ToString(),
            ["step"] = r.Step,
            ["epoch"] = r.Epoch,
            ["phase"] = r.Phase,
            ["phase_step"] = r.PhaseStep,
            ["rows_consumed"] = r.RowsConsumed,
            ["tokens_seen"] = r.TokensSeen,
            ["base_model"] = r.BaseModel,
            ["architecture"] = r.Architecture,
            ["torch_dtype"] = r.TorchDtype,
            ["model_parameters"] = r.ModelParameters,
            ["checkpoints"] = new JsonArray([.. r.Checkpoints.Select(c => (JsonNode)c)]),
            ["loss_history"] = new JsonArray([.. r.LossHistory.Select(p => (JsonNode)new JsonObject
            {
                ["step"] = p.Step, ["phase"] = p.Phase, ["loss"] = Math.Round(p.Loss, 6), ["val_loss"] = p.ValLoss is { } v ? Math.Round(v, 6) : null,
            })]),
            ["files"] = new JsonArray([.. r.Files.Select(f => (JsonNode)new JsonObject { ["purpose"] = f.Purpose, ["files"] = f.Files, ["bytes"] = f.Bytes })]),
            ["total_bytes"] = r.TotalBytes,
        };
        if (r.Adapter is { } a)
            o["adapter"] = new JsonObject
            {
                ["r"] = a.R, ["lora_alpha"] = a.Alpha, ["lora_dropout"] = a.Dropout, ["use_rslora"] = a.UseRslora,
                ["target_modules"] = new JsonArray([.. a.TargetModules.Select(t => (JsonNode)t)]),
                ["base_model_name_or_path"] = a.BaseModel, ["base_fingerprint"] = a.BaseFingerprint, ["parameters"] = a.Parameters,
            };
        return Redactor.Redact(o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
