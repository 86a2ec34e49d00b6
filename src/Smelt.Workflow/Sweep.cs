using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Smelt.Core;
using Smelt.Eval;
using Smelt.Model;
using Smelt.Training;
using Smelt.Training.Config;
using YamlDotNet.RepresentationModel;

namespace Smelt.Workflow;

/// <summary>One swept key: the values of a grid, or the values / range a random search draws from.</summary>
public sealed record SweepParameter(string Key, IReadOnlyList<string> Values, double? Min = null, double? Max = null, bool Log = false, bool Integer = false);

public sealed record SweepSpec
{
    public required string SpecPath { get; init; }
    public string? TrainConfig { get; init; }
    public required string OutputDir { get; init; }
    public string Method { get; init; } = "grid";
    public int Trials { get; init; } = 4;
    public int Seed { get; init; }
    public int Parallel { get; init; } = 1;
    /// <summary>val_loss | train_loss | pass@1</summary>
    public string Metric { get; init; } = "val_loss";
    public IReadOnlyList<string> Set { get; init; } = [];
    public IReadOnlyList<SweepParameter> Parameters { get; init; } = [];
    public bool EarlyStopping { get; init; }
    public int EarlyStoppingMinSteps { get; init; }
    public double EarlyStoppingTolerance { get; init; } = 0.1;
    public int? ThreadsPerTrial { get; init; }
    public string? EvalProblems { get; init; }
    public int EvalSamples { get; init; } = 1;
    public int EvalMaxNewTokens { get; init; } = 256;
    public EvalSettings Eval { get; init; } = new();

    public static SweepSpec Load(string path)
    {
        var s = Spec.Load(path);
        var parameters = new List<SweepParameter>();
        foreach (var (key, node, where) in s.Entries("parameters"))
        {
            switch (node)
            {
                case YamlSequenceNode seq when seq.Children.Count > 0:
                    parameters.Add(new SweepParameter(key, seq.Select(Spec.FlowText).ToList()));
                    break;
                case YamlMappingNode m:
                    string? Get(string k) => m.Children.TryGetValue(new YamlScalarNode(k), out var v) ? Spec.Scalar(v) : null;
                    var unknown = m.Children.Keys.Select(Spec.Scalar).Except(["min", "max", "log", "int"]).ToList();
                    if (unknown.Count > 0) { s.AddRaw($"{where}: parameters.{key}: unknown key '{unknown[0]}' (a range has min, max, log, int)"); break; }
                    if (!double.TryParse(Get("min"), NumberStyles.Float, CultureInfo.InvariantCulture, out var min) ||
                        !double.TryParse(Get("max"), NumberStyles.Float, CultureInfo.InvariantCulture, out var max) || !(min < max))
                    { s.AddRaw($"{where}: parameters.{key}: a range needs numbers min < max, e.g. {{min: 1.0e-4, max: 1.0e-2, log: true}}"); break; }
                    var log = Get("log") == "true";
                    if (log && min <= 0) { s.AddRaw($"{where}: parameters.{key}: a log range needs min > 0"); break; }
                    parameters.Add(new SweepParameter(key, [], min, max, log, Get("int") == "true"));
                    break;
                default:
                    s.AddRaw($"{where}: parameters.{key}: expected a non-empty list of values or a range {{min, max[, log]}}");
                    break;
            }
        }
        var es = s.Section("early_stopping");
        var eval = s.Section("eval");
        var method = s.Choice("method", "grid", "grid", "random");
        var spec = new SweepSpec
        {
            SpecPath = Path.GetFullPath(path),
            TrainConfig = s.OptPath("train_config"),
            OutputDir = s.OptPath("output_dir") ?? Path.Combine(s.Directory, "runs", "sweep"),
            Method = method,
            Trials = s.Int("trials", 4, 1, 100_000),
            Seed = s.Int("seed", 0, 0),
            Parallel = s.Int("parallel", 1, 1, 64),
            Metric = s.Choice("metric", "val_loss", "val_loss", "train_loss", "pass@1"),
            Set = s.StringList("set"),
            Parameters = parameters,
            EarlyStopping = es.Bool("enabled", es.Has("tolerance") || es.Has("min_steps")),
            EarlyStoppingMinSteps = es.Int("min_steps", 0, 0),
            EarlyStoppingTolerance = es.Double("tolerance", 0.1, 0, 100),
            ThreadsPerTrial = s.Has("threads_per_trial") ? s.Int("threads_per_trial", 1, 1, 1024) : null,
            EvalProblems = eval.OptPath("problems"),
            EvalSamples = eval.Int("samples", 1, 1, 1000),
            EvalMaxNewTokens = eval.Int("max_new_tokens", 256, 1, 100_000),
            Eval = new EvalSettings
            {
                Sandbox = eval.String("sandbox", "bwrap"),
                Workers = eval.Int("workers", Math.Max(1, Environment.ProcessorCount), 1, 1024),
                Clippy = eval.Bool("clippy", true),
                Crates = eval.Bool("crates", true) ? CrateSet.DefaultPinDirectory() : null,
                TimeoutSeconds = eval.Double("timeout", 10, 0.1, 3600),
            },
        };
        es.RejectUnknownKeys();
        eval.RejectUnknownKeys();
        s.RejectUnknownKeys();
        if (parameters.Count == 0) s.AddRaw($"{path}: parameters: at least one key to sweep is required, e.g. parameters: {{train.lr: [1.0e-3, 3.0e-4]}}");
        if (method == "grid" && parameters.Any(p => p.Values.Count == 0))
            s.AddRaw($"{path}: parameters: method grid needs lists of values; ranges ({{min, max}}) are for method: random");
        if (spec.Metric == "pass@1" && spec.EvalProblems is null)
            s.AddRaw($"{path}: metric pass@1 needs eval.problems (a problem file to generate for and evaluate)");
        s.ThrowIfErrors("sweep");
        return spec;
    }
}

public sealed record SweepTrial(int Index, string Id, IReadOnlyList<(string Key, string Value)> Assignment)
{
    public string AssignmentText => string.Join(" ", Assignment.Select(a => $"{a.Key}={a.Value}"));
    public string Hash => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(AssignmentText)))[..12];
}

public sealed record TrialResult
{
    public required string Id { get; init; }
    public required string Hash { get; init; }
    public required IReadOnlyList<(string Key, string Value)> Assignment { get; init; }
    /// <summary>finished | stopped_early | failed</summary>
    public required string Status { get; init; }
    public int Steps { get; init; }
    public double? TrainLoss { get; init; }
    public double? ValLoss { get; init; }
    public double? BestValLoss { get; init; }
    public double? PassAt1 { get; init; }
    public double? CompileRate { get; init; }
    public double? Metric { get; init; }
    public string? Error { get; init; }
    public IReadOnlyDictionary<int, double> ValCurve { get; init; } = new Dictionary<int, double>();
    public double Seconds { get; init; }

    public string ToJsonLine()
    {
        var o = new JsonObject
        {
            ["trial"] = Id, ["hash"] = Hash, ["status"] = Status,
            ["params"] = new JsonObject([.. Assignment.Select(a => new KeyValuePair<string, JsonNode?>(a.Key, a.Value))]),
            ["steps"] = Steps, ["train_loss"] = TrainLoss, ["val_loss"] = ValLoss, ["best_val_loss"] = BestValLoss,
            ["pass_at_1"] = PassAt1, ["compile_rate"] = CompileRate, ["metric"] = Metric, ["error"] = Error,
            ["val_curve"] = new JsonObject([.. ValCurve.OrderBy(kv => kv.Key).Select(kv => new KeyValuePair<string, JsonNode?>(kv.Key.ToString(CultureInfo.InvariantCulture), kv.Value))]),
            ["seconds"] = Math.Round(Seconds, 2),
        };
        return Redactor.Redact(o.ToJsonString());
    }

    public static TrialResult? FromJson(JsonElement o)
    {
        try
        {
            double? N(string k) => o.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
            return new TrialResult
            {
                Id = o.GetProperty("trial").GetString()!,
                Hash = o.GetProperty("hash").GetString()!,
                Status = o.GetProperty("status").GetString()!,
                Assignment = o.GetProperty("params").EnumerateObject().Select(p => (p.Name, p.Value.GetString()!)).ToList(),
                Steps = o.GetProperty("steps").GetInt32(),
                TrainLoss = N("train_loss"), ValLoss = N("val_loss"), BestValLoss = N("best_val_loss"), PassAt1 = N("pass_at_1"),
                CompileRate = N("compile_rate"), Metric = N("metric"),
                Error = o.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null,
                ValCurve = o.TryGetProperty("val_curve", out var c) && c.ValueKind == JsonValueKind.Object
                    ? c.EnumerateObject().ToDictionary(p => int.Parse(p.Name, CultureInfo.InvariantCulture), p => p.Value.GetDouble()) : new Dictionary<int, double>(),
                Seconds = N("seconds") ?? 0,
            };
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException) { return null; }
    }
}

public sealed record SweepReport(string OutputDir, IReadOnlyList<TrialResult> Ranked, int Ran, int Skipped, string Metric, string SweepJsonl);

/// <summary>
/// <c>smelt sweep</c>: a grid or random search over training-config keys with <c>--set</c> semantics. Every trial's config is
/// built and validated before the first trial starts (an unknown key stops the sweep with the loader's message). Each trial
/// trains into OUTPUT/trial-NNN; its result is appended to OUTPUT/sweep.jsonl when it ends, so a rerun skips trials that
/// already finished (an interrupted trial resumes from its last checkpoint). With early stopping, a trial whose validation
/// loss at a step is worse than (1 + tolerance) × the best any trial reached by that step is stopped.
/// </summary>
public sealed class SweepRunner(SweepSpec spec, Action<string>? log = null, ISampleSource? samples = null)
{
    private readonly ConcurrentDictionary<int, double> _bestAt = new();
    private readonly object _fileGate = new();

    public static IReadOnlyList<SweepTrial> Expand(SweepSpec spec)
    {
        var trials = new List<SweepTrial>();
        if (spec.Method == "grid")
        {
            IEnumerable<List<(string, string)>> combos = [[]];
            foreach (var p in spec.Parameters)
                combos = combos.SelectMany(c => p.Values.Select(v => new List<(string, string)>(c) { (p.Key, v) })).ToList();
            foreach (var c in combos) trials.Add(new SweepTrial(trials.Count, $"trial-{trials.Count:D3}", c));
        }
        else
        {
            var rng = new Random(spec.Seed);
            for (var i = 0; i < spec.Trials; i++)
            {
                var a = new List<(string, string)>();
                foreach (var p in spec.Parameters)
                {
                    if (p.Values.Count > 0) { a.Add((p.Key, p.Values[rng.Next(p.Values.Count)])); continue; }
                    var u = rng.NextDouble();
                    var v = p.Log ? Math.Exp(Math.Log(p.Min!.Value) + u * (Math.Log(p.Max!.Value) - Math.Log(p.Min.Value))) : p.Min!.Value + u * (p.Max!.Value - p.Min.Value);
                    a.Add((p.Key, p.Integer ? Math.Round(v).ToString(CultureInfo.InvariantCulture) : v.ToString("G6", CultureInfo.InvariantCulture)));
                }
                trials.Add(new SweepTrial(i, $"trial-{i:D3}", a));
            }
        }
        return trials;
    }

    private IReadOnlyList<string> Overrides(SweepTrial t) =>
        [.. spec.Set, .. t.Assignment.Select(a => $"{a.Key}={a.Value}"), $"output.dir={Path.Combine(spec.OutputDir, t.Id)}", "logging.progress=never"];

    /// <summary>Builds and validates every trial's config; throws (naming the trial and key) before anything runs.</summary>
    public IReadOnlyList<(SweepTrial Trial, TrainConfig Config)> Plan()
    {
        var trials = Expand(spec);
        var planned = new List<(SweepTrial, TrainConfig)>();
        foreach (var t in trials)
        {
            try { planned.Add((t, TrainRunner.LoadConfig(spec.TrainConfig, Overrides(t)))); }
            catch (SmeltException ex)
            {
                throw SmeltException.BadInput($"{spec.SpecPath}: {t.Id} ({t.AssignmentText}) has an invalid training config; no trial was run:\n  {ex.Message}");
            }
        }
        if (spec.EarlyStopping)
            foreach (var (t, cfg) in planned)
                if (cfg.Eval.Every <= 0)
                    throw SmeltException.BadInput($"{spec.SpecPath}: early_stopping needs validation loss, but {t.Id} has eval.every 0; add e.g. set: [eval.every=10, data.validation_fraction=0.05]");
        if (spec.Metric == "val_loss")
            foreach (var (t, cfg) in planned)
                if (cfg.Eval.Every <= 0)
                    throw SmeltException.BadInput($"{spec.SpecPath}: metric val_loss needs eval.every > 0 (and data.validation_fraction > 0) in {t.Id}'s config; add them under set:");
        return planned;
    }

    public async Task<SweepReport> RunAsync(CancellationToken ct = default)
    {
        var planned = Plan();
        Directory.CreateDirectory(spec.OutputDir);
        var jsonl = Path.Combine(spec.OutputDir, "sweep.jsonl");
        var previous = ReadPrevious(jsonl);
        foreach (var r in previous.Values) Observe(r.ValCurve);
        var done = planned.Where(p => previous.TryGetValue(p.Trial.Id, out var r) && r.Hash == p.Trial.Hash && r.Status is "finished" or "stopped_early").Select(p => p.Trial.Id).ToHashSet();
        foreach (var p in planned.Where(p => previous.TryGetValue(p.Trial.Id, out var r) && r.Hash != p.Trial.Hash))
            throw SmeltException.BadInput($"{jsonl}: {p.Trial.Id} was run with other parameters than the sweep config now gives ({p.Trial.AssignmentText}); use a new output_dir for a changed sweep");
        if (done.Count > 0) log?.Invoke($"resuming: {done.Count} of {planned.Count} trial(s) already finished, not rerun");
        var todo = planned.Where(p => !done.Contains(p.Trial.Id)).ToList();
        var results = new ConcurrentBag<TrialResult>(previous.Values.Where(r => done.Contains(r.Id)));
        using var gate = new SemaphoreSlim(spec.Parallel);
        var threads = spec.ThreadsPerTrial ?? Math.Max(1, Environment.ProcessorCount / spec.Parallel);
        var tasks = todo.Select(async p =>
        {
            await gate.WaitAsync(ct);
            try
            {
                var r = await Task.Run(() => RunTrialAsync(p.Trial, p.Config, threads, ct), ct);
                results.Add(r);
                lock (_fileGate) File.AppendAllText(jsonl, r.ToJsonLine() + "\n");
                log?.Invoke($"{r.Id} {r.Status}: {p.Trial.AssignmentText} -> {spec.Metric} {Fmt(r.Metric)}{(r.Error is null ? "" : " (" + r.Error + ")")}");
            }
            finally { gate.Release(); }
        }).ToList();
        await Task.WhenAll(tasks);
        var ranked = Rank(results.ToList(), spec.Metric, planned.Select(p => p.Trial.Id).ToList());
        WriteTable(Path.Combine(spec.OutputDir, "sweep_table.md"), ranked, spec.Metric);
        return new SweepReport(spec.OutputDir, ranked, todo.Count, done.Count, spec.Metric, jsonl);
    }

    public static IReadOnlyList<TrialResult> Rank(IReadOnlyList<TrialResult> results, string metric, List<string>? order = null)
    {
        var higherIsBetter = metric == "pass@1";
        int Group(TrialResult r) => r.Status == "finished" && r.Metric is not null ? 0 : r.Status == "stopped_early" ? 1 : 2;
        return results
            .OrderBy(Group)
            .ThenBy(r => r.Metric is { } m ? (higherIsBetter ? -m : m) : double.MaxValue)
            .ThenBy(r => order?.IndexOf(r.Id) ?? 0)
            .ToList();
    }

    private async Task<TrialResult> RunTrialAsync(SweepTrial trial, TrainConfig cfg, int threads, CancellationToken ct)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var outDir = Path.GetFullPath(cfg.Output.Dir);
        var metricsPath = Path.Combine(outDir, "metrics.jsonl");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var progress = new EarlyStopProgress(metricsPath, spec.EarlyStopping ? this : null, stop);
        string status;
        string? error = null;
        try
        {
            TrainRunner.Run(cfg, resume: true, progress, threads, stop.Token);
            status = "finished";
        }
        catch (OperationCanceledException) when (progress.Stopped && !ct.IsCancellationRequested)
        {
            status = "stopped_early";
            error = progress.Reason;
        }
        catch (SmeltException ex)
        {
            status = "failed";
            error = ex.Message;
        }
        var curve = ReadCurve(metricsPath);
        var loss = File.Exists(metricsPath) ? DirectoryInspector.ReadLoss(metricsPath) : [];
        Observe(curve.Val);
        double? pass = null, compile = null;
        if (status == "finished" && spec.Metric == "pass@1")
        {
            var (p, c) = await PassAt1Async(cfg, outDir, ct);
            pass = p;
            compile = c;
        }
        var valLoss = curve.Val.Count > 0 ? curve.Val.MaxBy(kv => kv.Key).Value : (double?)null;
        var train = loss.Count > 0 ? loss[^1].Loss : (double?)null;
        return new TrialResult
        {
            Id = trial.Id, Hash = trial.Hash, Assignment = trial.Assignment, Status = status, Error = error,
            Steps = loss.Count > 0 ? loss[^1].Step : 0, TrainLoss = train, ValLoss = valLoss,
            BestValLoss = curve.Val.Count > 0 ? curve.Val.Values.Min() : null, PassAt1 = pass, CompileRate = compile,
            Metric = spec.Metric switch { "val_loss" => valLoss, "train_loss" => train, _ => pass },
            ValCurve = curve.Val, Seconds = clock.Elapsed.TotalSeconds,
        };
    }

    private async Task<(double? Pass, double? Compile)> PassAt1Async(TrainConfig cfg, string outDir, CancellationToken ct)
    {
        var tasks = ProblemGeneration.ReadProblems(spec.EvalProblems!);
        var source = samples ?? new ModelSampleSource(cfg.Model.Path, new SamplingOptions { Temperature = spec.EvalSamples == 1 ? 0 : 0.8, MaxNewTokens = spec.EvalMaxNewTokens, Seed = spec.Seed });
        var samplesPath = Path.Combine(outDir, "eval", "samples.jsonl");
        Directory.CreateDirectory(Path.GetDirectoryName(samplesPath)!);
        await source.GenerateAsync(tasks, samplesPath, spec.EvalSamples, Path.Combine(outDir, "adapter"), ct);
        var outcome = await spec.Eval.RunAsync(spec.EvalProblems!, samplesPath, Path.Combine(outDir, "eval"), [1], ct);
        return (outcome.Summary.PassAtKValues.FirstOrDefault(p => p.K == 1)?.Value, outcome.Summary.CompileRate);
    }

    private void Observe(IReadOnlyDictionary<int, double> curve)
    {
        foreach (var (step, v) in curve) _bestAt.AddOrUpdate(step, v, (_, old) => Math.Min(old, v));
    }

    /// <summary>The best validation loss any trial has reached by <paramref name="step"/>, or null when none has a value that early.</summary>
    internal double? BestBy(int step)
    {
        var values = _bestAt.Where(kv => kv.Key <= step).Select(kv => kv.Value).ToList();
        return values.Count == 0 ? null : values.Min();
    }

    internal (bool Stop, string? Reason) Judge(int step, double valLoss)
    {
        if (step < spec.EarlyStoppingMinSteps) return (false, null);
        var best = BestBy(step);
        if (best is { } b && valLoss > b * (1 + spec.EarlyStoppingTolerance))
            return (true, $"validation loss {valLoss:F4} at step {step} is worse than {1 + spec.EarlyStoppingTolerance:0.##} × the best so far ({b:F4})");
        _bestAt.AddOrUpdate(step, valLoss, (_, old) => Math.Min(old, valLoss));
        return (false, null);
    }

    private static (Dictionary<int, double> Val, int Steps) ReadCurve(string metricsPath)
    {
        var val = new Dictionary<int, double>();
        if (!File.Exists(metricsPath)) return (val, 0);
        var steps = 0;
        foreach (var p in DirectoryInspector.ReadLoss(metricsPath))
        {
            steps = p.Step;
            if (p.ValLoss is { } v) val[p.Step] = v;
        }
        return (val, steps);
    }

    private static Dictionary<string, TrialResult> ReadPrevious(string jsonl)
    {
        var d = new Dictionary<string, TrialResult>(StringComparer.Ordinal);
        if (!File.Exists(jsonl)) return d;
        foreach (var line in Jsonl.Read(jsonl))
            if (line.IsValid && TrialResult.FromJson(line.Value!.Value) is { } r) d[r.Id] = r; // the last line of a trial wins
        return d;
    }

    public static string Fmt(double? v) => v is { } d ? d.ToString("0.0000", CultureInfo.InvariantCulture) : "n/a";

    public static void WriteTable(string path, IReadOnlyList<TrialResult> ranked, string metric)
    {
        var sb = new StringBuilder();
        var keys = ranked.SelectMany(r => r.Assignment.Select(a => a.Key)).Distinct().ToList();
        sb.Append("| rank | trial | status | ").Append(string.Join(" | ", keys)).Append($" | {metric} | train loss | val loss | steps |\n");
        sb.Append("|---|---|---|").Append(string.Concat(keys.Select(_ => "---|"))).Append("---|---|---|---|\n");
        for (var i = 0; i < ranked.Count; i++)
        {
            var r = ranked[i];
            var values = keys.Select(k => r.Assignment.FirstOrDefault(a => a.Key == k).Value ?? "");
            sb.Append($"| {i + 1} | {r.Id} | {r.Status} | ").Append(string.Join(" | ", values))
              .Append($" | {Fmt(r.Metric)} | {Fmt(r.TrainLoss)} | {Fmt(r.ValLoss)} | {r.Steps} |\n");
        }
        AtomicFile.WriteAllText(path, Redactor.Redact(sb.ToString()));
    }

    /// <summary>Passes progress through, and after each logged validation loss asks the sweep whether this trial is hopeless.</summary>
    private sealed class EarlyStopProgress(string metricsPath, SweepRunner? judge, CancellationTokenSource stop) : ITrainProgress
    {
        private int _lastJudged;
        public bool Stopped { get; private set; }
        public string? Reason { get; private set; }

        public void BeginPhase(string name, int totalSteps, int doneSteps) { }
        public void Message(string line) { }

        public void Step(int doneSteps, double loss, double lr, double tokensPerSecond)
        {
            if (judge is null || Stopped || !File.Exists(metricsPath)) return;
            var last = LastValLoss();
            if (last is not { } l || l.Step <= _lastJudged) return;
            _lastJudged = l.Step;
            var (halt, reason) = judge.Judge(l.Step, l.Val);
            if (!halt) return;
            Stopped = true;
            Reason = reason;
            stop.Cancel();
        }

        private (int Step, double Val)? LastValLoss()
        {
            (int, double)? found = null;
            using var fs = new FileStream(metricsPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            foreach (var line in Jsonl.Read(fs, metricsPath))
                if (line.IsValid && line.Value!.Value.TryGetProperty("val_loss", out var v) && v.ValueKind == JsonValueKind.Number)
                    found = (line.Value.Value.GetProperty("step").GetInt32(), v.GetDouble());
            return found;
        }
    }
}
