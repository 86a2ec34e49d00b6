using System.Text.Json;
using System.Text.Json.Serialization;
using Smelt.Core;

namespace Smelt.Training.Logging;

/// <summary>One logged optimizer step. The <c>eval/*</c> fields are written only at steps with a generation eval.</summary>
public sealed record StepMetrics(
    int Step, string Phase, double Loss, double Lr, double GradNorm, double TokensPerSecond, long Tokens, double MemoryMb, double ElapsedSeconds,
    double? ValLoss = null,
    [property: JsonPropertyName("eval/status"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? EvalStatus = null,
    [property: JsonPropertyName("eval/pass@1"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? EvalPassAt1 = null,
    [property: JsonPropertyName("eval/compile_rate"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? EvalCompileRate = null,
    [property: JsonPropertyName("eval/clippy_clean_rate"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? EvalClippyCleanRate = null,
    [property: JsonPropertyName("eval/error"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? EvalError = null);

/// <summary>
/// <c>metrics.jsonl</c>: one JSON object per logging step, flushed as written. On resume the lines past the checkpoint's
/// step (written by the interrupted process after its last checkpoint) are dropped so the file reads as one clean run.
/// </summary>
public sealed class MetricsLog : IDisposable
{
    private static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private readonly StreamWriter _writer;

    public MetricsLog(string path, int resumeFromStep)
    {
        Path = path;
        var kept = new List<string>();
        if (resumeFromStep > 0 && File.Exists(path))
            foreach (var line in Jsonl.Read(path))
                if (line.Value is { } v && v.TryGetProperty("step", out var s) && s.GetInt32() <= resumeFromStep)
                    kept.Add(v.GetRawText());
        if (resumeFromStep > 0) AtomicFile.WriteAllText(path, kept.Count == 0 ? "" : string.Join('\n', kept) + "\n");
        _writer = new StreamWriter(new FileStream(path, resumeFromStep > 0 ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read));
    }

    public string Path { get; }

    public void Write(StepMetrics m)
    {
        _writer.WriteLine(JsonSerializer.Serialize(m, Options));
        _writer.Flush();
    }

    public static IReadOnlyList<StepMetrics> ReadAll(string path) =>
        Jsonl.Read(path).Where(l => l.IsValid).Select(l => l.Value!.Value.Deserialize<StepMetrics>(Options)!).ToList();

    public void Dispose() => _writer.Dispose();
}
