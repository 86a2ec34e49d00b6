using System.Diagnostics;
using System.Text.Json;
using Smelt.Core;
using Smelt.Sandbox;

namespace Smelt.Eval;

public sealed record EvalRequest
{
    public required string ProblemsPath { get; init; }
    /// <summary>Null with <see cref="Canonical"/>.</summary>
    public string? SamplesPath { get; init; }
    public bool Canonical { get; init; }
    public required string OutDirectory { get; init; }
    public IReadOnlyList<int> Ks { get; init; } = [1];
    public EvalOptions Options { get; init; } = new();
    /// <summary>Crate-set pin directory; null disables external crates.</summary>
    public string? CratesDirectory { get; init; } = CrateSet.DefaultPinDirectory();
    public string CrateRegistry { get; init; } = CrateSet.DefaultRegistry;
    public string? Rustc { get; init; }
    /// <summary>Continue an existing results.jsonl instead of refusing to touch it.</summary>
    public bool Resume { get; init; }
    public bool Overwrite { get; init; }
    /// <summary>Training set (JSONL, Parquet or a directory of sources): completions are checked for long verbatim runs of it.</summary>
    public string? TrainingDataPath { get; init; }
    /// <summary>Shortest run, in code tokens, that counts as verbatim training data.</summary>
    public int VerbatimMinTokens { get; init; } = 50;
}

public sealed record EvalOutcome(EvalSummary Summary, IReadOnlyList<SampleResult> Results, IReadOnlyList<InputIssue> Issues, int ExitCode, Toolchain Toolchain, string SummaryPath);

/// <summary>Hooks for the terminal front end: all optional.</summary>
public sealed class EvalProgress
{
    public Action<string>? Log { get; init; }
    public Action<int>? Started { get; init; }
    public Action<SampleResult>? Result { get; init; }
}

/// <summary>The whole of <c>smelt eval</c> minus flag parsing and rendering: load, build crates, evaluate, write outputs.</summary>
public static class EvalRunner
{
    public static async Task<EvalOutcome> RunAsync(EvalRequest request, ISandbox sandbox, EvalProgress? progress, CancellationToken ct)
    {
        progress ??= new EvalProgress();
        var clock = Stopwatch.StartNew();
        if (request.Canonical == (request.SamplesPath is not null))
            throw SmeltException.BadInput("pass exactly one of --samples FILE or --canonical");
        foreach (var k in request.Ks)
            if (k < 1) throw SmeltException.BadInput($"--k values must be at least 1 (got {k})");

        var problems = ProblemSet.Load(request.ProblemsPath);
        var samples = request.Canonical ? SampleLoader.Canonical(problems) : SampleLoader.Load(request.SamplesPath!, problems);
        if (request.TrainingDataPath is not null)
        {
            if (request.VerbatimMinTokens < 8) throw SmeltException.BadInput($"--verbatim-tokens {request.VerbatimMinTokens}: must be at least 8");
            var index = SecretScan.IndexTrainingData(request.TrainingDataPath, request.VerbatimMinTokens);
            samples = samples with { Items = samples.Items.Select(i => i with { VerbatimRun = index.LongestRun(i.Completion) }).ToList() };
        }
        var issues = problems.Issues.Concat(samples.Issues).ToList();
        if (samples.Items.Count == 0)
            throw SmeltException.BadInput($"{request.SamplesPath ?? request.ProblemsPath}: no sample could be evaluated" +
                                          (issues.Count > 0 ? $"; first problem: {issues[0]}" : ""));

        Directory.CreateDirectory(request.OutDirectory);
        var resultsPath = Path.Combine(request.OutDirectory, "results.jsonl");
        var previous = PreviousResults(resultsPath, request);
        // A previous verdict is kept only for the same task, sample index and completion, and never a sandbox_error.
        var done = new Dictionary<(string, int), SampleResult>();
        foreach (var r in previous.Where(r => r.Status != Status.SandboxError)) done[(r.TaskId, r.Sample)] = r;
        bool Kept(EvalItem i) => done.TryGetValue((i.Problem.TaskId, i.SampleIndex), out var r) && r.CompletionHash == i.CompletionHash;
        var todo = samples.Items.Where(i => !Kept(i)).ToList();
        var kept = samples.Items.Where(Kept).Select(i => done[(i.Problem.TaskId, i.SampleIndex)]).ToList();

        WriteIssues(Path.Combine(request.OutDirectory, "issues.jsonl"), issues);
        var sysroot = Toolchain.FindSysroot(request.Rustc);
        var toolchain = await Toolchain.ProbeAsync(sandbox, sysroot, request.Options.Clippy, ct);
        CrateSet? crates = null;
        if (request.CratesDirectory is not null)
            crates = await CrateSet.EnsureAsync(sandbox, toolchain, request.CratesDirectory, request.CrateRegistry, progress.Log, ct);

        var results = new List<SampleResult>(kept);
        var gate = new object();
        progress.Started?.Invoke(samples.Items.Count);
        foreach (var r in kept) progress.Result?.Invoke(r);
        var complete = false;
        var evalClock = Stopwatch.StartNew();
        using (var writer = new ResultsWriter(resultsPath, kept))
        {
            var evaluator = new Evaluator(sandbox, toolchain, crates, request.Options);
            try
            {
                await evaluator.RunAsync(todo, r =>
                {
                    writer.Write(r);
                    lock (gate) results.Add(r);
                    progress.Result?.Invoke(r);
                }, ct);
                complete = true;
            }
            finally
            {
                // Even when interrupted, the summary describes what was computed.
                List<SampleResult> snapshot;
                lock (gate) snapshot = [.. results];
                var partial = EvalSummary.Build(snapshot, request.Ks, issues.Count, request.Options.Clippy, complete);
                AtomicFile.WriteAllText(Path.Combine(request.OutDirectory, "summary.json"),
                    partial.ToJson(RunInfo(request, sandbox, toolchain, crates, clock.Elapsed, evalClock.Elapsed, snapshot.Count - kept.Count, evaluator.TestRunModes)));
            }
        }
        var summary = EvalSummary.Build(results, request.Ks, issues.Count, request.Options.Clippy, complete: true);
        var exit = summary.StatusCounts[Status.SandboxError] > 0 ? ExitCodes.Infrastructure : ExitCodes.Ok;
        return new EvalOutcome(summary, results, issues, exit, toolchain, Path.Combine(request.OutDirectory, "summary.json"));
    }

    /// <summary>
    /// How the run was made. Input files are named by file name and SHA-256 (enough to tell which file it was, without
    /// writing local directory names into results that get shared).
    /// </summary>
    private static Dictionary<string, object> RunInfo(EvalRequest request, ISandbox sandbox, Toolchain tc, CrateSet? crates,
        TimeSpan total, TimeSpan eval, int evaluated, IReadOnlyCollection<string> testRunModes) => new()
    {
        ["sandbox"] = sandbox.Name,
        ["test_runs"] = testRunModes.Count == 0 ? "none" : string.Join(", ", testRunModes.Order(StringComparer.Ordinal)),
        ["rustc_version"] = tc.RustcVersion,
        ["clippy_version"] = tc.ClippyVersion ?? "not run (--no-clippy)",
        ["problems"] = Path.GetFileName(request.ProblemsPath),
        ["problems_sha256"] = Sha256Of(request.ProblemsPath),
        ["samples"] = request.Canonical ? "canonical solutions" : Path.GetFileName(request.SamplesPath!),
        ["samples_sha256"] = request.Canonical ? "" : Sha256Of(request.SamplesPath!),
        ["crate_set"] = crates is null ? "none (--no-crates)" : $"{string.Join(", ", crates.Externs.Select(e => e.Name))} (key {crates.Key})",
        ["workers"] = request.Options.Workers,
        ["max_batch_size"] = request.Options.MaxBatchSize,
        ["wall_seconds"] = total.TotalSeconds,
        ["eval_seconds"] = eval.TotalSeconds,
        ["evaluated_now"] = evaluated,
        ["samples_per_second"] = eval.TotalSeconds > 0 ? Math.Round(evaluated / eval.TotalSeconds, 2) : 0.0,
    };

    private static string Sha256Of(string path)
    {
        try
        {
            using var stream = File.OpenRead(path);
            return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
        }
        catch (IOException) { return "unreadable"; }
    }

    private static List<SampleResult> PreviousResults(string path, EvalRequest request)
    {
        if (!File.Exists(path) || new FileInfo(path).Length == 0) return [];
        if (request.Overwrite) return [];
        if (!request.Resume)
            throw SmeltException.BadInput($"{path} already exists: pass --resume to keep its results and evaluate only what is missing, or --overwrite to start again (or choose another --out)");
        var list = new List<SampleResult>();
        foreach (var line in Jsonl.Read(path))
        {
            if (!line.IsValid) continue; // a line cut by an interruption: that sample is simply evaluated again
            var r = SampleResult.FromJson(line.Value!.Value);
            if (r is not null) list.Add(r);
        }
        return list;
    }

    private static void WriteIssues(string path, IReadOnlyList<InputIssue> issues)
    {
        AtomicFile.Write(path, tmp =>
        {
            using var w = new StreamWriter(tmp);
            foreach (var i in issues)
                w.WriteLine(Redactor.Redact(JsonSerializer.Serialize(new Dictionary<string, object> { ["file"] = i.File, ["line"] = i.Line, ["message"] = i.Message })));
        });
    }
}
