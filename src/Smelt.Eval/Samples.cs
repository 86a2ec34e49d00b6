using System.Text;
using System.Text.Json;
using Smelt.Core;

namespace Smelt.Eval;

/// <summary>One sample to evaluate. <see cref="RejectReason"/> is set for samples that are recorded but never compiled (over the caps, NUL bytes).</summary>
public sealed record EvalItem
{
    public required int Id { get; init; }
    public required Problem Problem { get; init; }
    public required int SampleIndex { get; init; }
    public required string Completion { get; init; }
    public required int Line { get; init; }
    public JsonElement? Extra { get; init; }
    public IReadOnlyList<string> SecretKinds { get; init; } = [];
    /// <summary>Longest verbatim run of training data in the completion (code tokens); null when no training set was given.</summary>
    public int? VerbatimRun { get; init; }
    public string? RejectReason { get; init; }

    public string CompletionHash => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(Completion)))[..16];
}

public sealed record SampleSet(IReadOnlyList<EvalItem> Items, IReadOnlyList<InputIssue> Issues);

public static class SampleLoader
{
    public const int MaxCompletionBytes = 256 * 1024;
    public const int MaxCompletionLines = 5000;
    private static readonly string[] IdKeys = ["sample_id", "completion_id"];

    /// <summary>Each problem's canonical solution as one sample (the problem file's self-check).</summary>
    public static SampleSet Canonical(ProblemSet problems)
    {
        var items = new List<EvalItem>();
        var issues = new List<InputIssue>();
        foreach (var p in problems.InOrder)
        {
            if (p.CanonicalSolution is null)
            {
                issues.Add(new InputIssue(p.SourceFile, p.SourceLine, $"task '{ProblemSet.Printable(p.TaskId)}' has no canonical_solution; skipped by --canonical"));
                continue;
            }
            items.Add(Make(items.Count, p, 0, p.CanonicalSolution, p.SourceLine, null, p.SourceFile, issues));
        }
        return new SampleSet(items, issues);
    }

    public static SampleSet Load(string path, ProblemSet problems)
    {
        var items = new List<EvalItem>();
        var issues = new List<InputIssue>();
        var perTask = new Dictionary<string, int>(StringComparer.Ordinal);
        var seenIds = new Dictionary<(string, string), int>();
        var seenText = new Dictionary<(string, string), int>();
        foreach (var line in Jsonl.Read(path))
        {
            if (!line.IsValid) { issues.Add(new InputIssue(path, line.LineNumber, line.Error! + "; line skipped")); continue; }
            var obj = line.Value!.Value;
            string taskId, completion;
            try
            {
                taskId = ProblemSet.RequiredString(obj, "task_id");
                completion = ProblemSet.RequiredString(obj, "completion");
            }
            catch (SmeltException ex) { issues.Add(new InputIssue(path, line.LineNumber, ex.Message + "; line skipped")); continue; }
            catch (InvalidOperationException) { issues.Add(new InputIssue(path, line.LineNumber, "a string is not valid Unicode (unpaired surrogate escape); line skipped")); continue; }
            if (!problems.ByTaskId.TryGetValue(taskId, out var problem))
            {
                issues.Add(new InputIssue(path, line.LineNumber, $"unknown task_id '{ProblemSet.Printable(taskId)}': not in the problems file; line skipped (is --problems the file these samples were generated for?)"));
                continue;
            }
            string? explicitId = null;
            foreach (var key in IdKeys)
                if (obj.TryGetProperty(key, out var v) && v.ValueKind is JsonValueKind.String or JsonValueKind.Number)
                { explicitId = key + "=" + v.ToString(); break; }
            if (explicitId is not null)
            {
                if (seenIds.TryGetValue((taskId, explicitId), out var firstLine))
                {
                    issues.Add(new InputIssue(path, line.LineNumber, $"duplicate sample: task '{ProblemSet.Printable(taskId)}' with {explicitId} already appeared on line {firstLine}; line skipped"));
                    continue;
                }
                seenIds[(taskId, explicitId)] = line.LineNumber;
            }
            else if (seenText.TryGetValue((taskId, completion), out var dupLine))
                issues.Add(new InputIssue(path, line.LineNumber, $"completion is identical to line {dupLine} for task '{ProblemSet.Printable(taskId)}'; evaluated again (identical samples are legitimate when sampling; add a sample_id to make duplicates an error)"));
            else
                seenText[(taskId, completion)] = line.LineNumber;

            var index = perTask.GetValueOrDefault(taskId);
            perTask[taskId] = index + 1;
            items.Add(Make(items.Count, problem, index, completion, line.LineNumber, Extra(obj), path, issues));
        }
        return new SampleSet(items, issues);
    }

    private static EvalItem Make(int id, Problem problem, int index, string completion, int line, JsonElement? extra, string file, List<InputIssue> issues)
    {
        string? reject = null;
        var bytes = Encoding.UTF8.GetByteCount(completion);
        var lines = completion.Count(c => c == '\n') + 1;
        if (bytes > MaxCompletionBytes) reject = $"completion is {bytes / 1024} KiB, over the {MaxCompletionBytes / 1024} KiB cap; not compiled";
        else if (lines > MaxCompletionLines) reject = $"completion has {lines} lines, over the {MaxCompletionLines}-line cap; not compiled";
        else if (completion.Contains('\0')) reject = "completion contains a NUL character; not compiled";
        if (reject is not null) issues.Add(new InputIssue(file, line, $"task '{ProblemSet.Printable(problem.TaskId)}': {reject} (recorded as 'rejected')"));
        else if (string.IsNullOrWhiteSpace(completion)) issues.Add(new InputIssue(file, line, $"task '{ProblemSet.Printable(problem.TaskId)}': completion is empty; evaluated (it cannot compile)"));
        return new EvalItem
        {
            Id = id, Problem = problem, SampleIndex = index, Completion = completion, Line = line, Extra = extra,
            SecretKinds = SecretScan.Find(completion), RejectReason = reject,
        };
    }

    private static JsonElement? Extra(JsonElement obj)
    {
        var extra = new Dictionary<string, JsonElement>();
        foreach (var p in obj.EnumerateObject())
            if (p.Name is not "task_id" and not "completion") extra[p.Name] = p.Value.Clone();
        return extra.Count == 0 ? null : JsonSerializer.SerializeToElement(extra);
    }
}
