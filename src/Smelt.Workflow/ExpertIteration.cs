using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Smelt.Core;
using Smelt.Eval;
using Smelt.Model;
using Smelt.Training;
using Smelt.Training.Config;

namespace Smelt.Workflow;

public sealed record SelectionRules
{
    /// <summary>For prompts without tests: the most clippy warnings a kept sample may have.</summary>
    public int MaxClippyWarnings { get; init; }
    /// <summary>At most this many distinct samples per prompt, so easy prompts do not dominate the data.</summary>
    public int MaxPerPrompt { get; init; } = 4;
    public int MinChars { get; init; } = 10;
    public int MaxChars { get; init; } = 20_000;
}

public sealed record ExpertIterationSpec
{
    public required string SpecPath { get; init; }
    public string? TrainConfig { get; init; }
    public IReadOnlyList<string> Set { get; init; } = [];
    public required string OutputDir { get; init; }
    public int Rounds { get; init; } = 2;
    public required string Prompts { get; init; }
    public string? EvalProblems { get; init; }
    public int SamplesPerPrompt { get; init; } = 4;
    public SamplingOptions Sampling { get; init; } = new();
    public int BatchSize { get; init; } = 8;
    public SelectionRules Selection { get; init; } = new();
    public EvalSettings Eval { get; init; } = new();
    public bool FinalEval { get; init; } = true;
    public int? Threads { get; init; }
    /// <summary>model (the base plus the previous round's adapter) | endpoint</summary>
    public string Generator { get; init; } = "model";
    public EndpointOptions? Endpoint { get; init; }

    public static ExpertIterationSpec Load(string path)
    {
        var s = Spec.Load(path);
        var sampling = s.Section("sampling");
        var select = s.Section("selection");
        var eval = s.Section("eval");
        var endpoint = s.Section("endpoint");
        var generator = s.Choice("generator", "model", "model", "endpoint");
        var prompts = s.OptPath("prompts");
        var spec = new ExpertIterationSpec
        {
            SpecPath = Path.GetFullPath(path),
            TrainConfig = s.OptPath("train_config"),
            Set = s.StringList("set"),
            OutputDir = s.OptPath("output_dir") ?? Path.Combine(s.Directory, "runs", "expert-iteration"),
            Rounds = s.Int("rounds", 2, 1, 1000),
            Prompts = prompts ?? "",
            EvalProblems = s.OptPath("eval_problems"),
            SamplesPerPrompt = s.Int("samples_per_prompt", 4, 1, 10_000),
            BatchSize = sampling.Int("batch_size", 8, 1, 4096),
            Sampling = new SamplingOptions
            {
                Temperature = sampling.Double("temperature", 0.8, 0, 10),
                TopP = sampling.Double("top_p", 0.95, 0, 1),
                TopK = sampling.Int("top_k", 0, 0),
                MaxNewTokens = sampling.Int("max_new_tokens", 256, 1, 1_000_000),
                Seed = sampling.Int("seed", 0, 0),
            },
            Selection = new SelectionRules
            {
                MaxClippyWarnings = select.Int("max_clippy_warnings", 0, 0),
                MaxPerPrompt = select.Int("max_per_prompt", 4, 1),
                MinChars = select.Int("min_chars", 10, 0),
                MaxChars = select.Int("max_chars", 20_000, 1),
            },
            Eval = new EvalSettings
            {
                Sandbox = eval.String("sandbox", "bwrap"),
                Workers = eval.Int("workers", Math.Max(1, Environment.ProcessorCount), 1, 1024),
                Clippy = eval.Bool("clippy", true),
                Crates = eval.Bool("crates", true) ? CrateSet.DefaultPinDirectory() : null,
                TimeoutSeconds = eval.Double("timeout", 10, 0.1, 3600),
            },
            FinalEval = s.Bool("final_eval", true),
            Threads = s.Has("threads") ? s.Int("threads", 1, 1, 1024) : null,
            Generator = generator,
            Endpoint = generator == "endpoint" ? new EndpointOptions
            {
                BaseUrl = endpoint.String("base_url", ""),
                Model = endpoint.String("model", ""),
                Api = endpoint.Choice("api", "chat", "chat", "completions"),
                ApiKeyEnv = endpoint.OptString("api_key_env"),
                Temperature = sampling.Double("temperature", 0.8, 0, 10),
                MaxTokens = sampling.Int("max_new_tokens", 256, 1, 1_000_000),
            } : null,
        };
        if (generator != "endpoint") foreach (var k in new[] { "base_url", "model", "api", "api_key_env" }) endpoint.OptString(k);
        foreach (var r in new[] { sampling, select, eval, endpoint }) r.RejectUnknownKeys();
        s.RejectUnknownKeys();
        if (prompts is null) s.AddRaw($"{path}: prompts: required (a problem file: task_id, prompt[, declaration], test)");
        else if (!File.Exists(prompts)) s.Error("prompts", $"{prompts} not found");
        if (spec.EvalProblems is { } ep && !File.Exists(ep)) s.Error("eval_problems", $"{ep} not found");
        if (generator == "endpoint" && (spec.Endpoint!.BaseUrl.Length == 0 || spec.Endpoint.Model.Length == 0))
            s.AddRaw($"{path}: generator endpoint needs endpoint.base_url and endpoint.model");
        if (spec.Selection.MinChars >= spec.Selection.MaxChars) select.Error("min_chars", "must be below max_chars");
        s.ThrowIfErrors("expert-iteration");
        return spec;
    }
}

public sealed record RoundRow(int Round, string Model, int Samples, double? PassAt1, double? CompileRate, int Passing, int Kept, int TrainSteps, double? FinalLoss, string Status);

public sealed record ExpertIterationReport(string OutputDir, IReadOnlyList<RoundRow> Rows, string SummaryPath);

/// <summary>
/// <c>smelt expert-iteration</c> (rejection-sampling fine-tuning). Round r: sample N completions per prompt from the base
/// model plus round r-1's adapter; judge them in the sandbox with the eval harness; keep the ones that pass the tests (for
/// prompts without tests: compile, at most max_clippy_warnings, and the quality heuristics); deduplicate; cap per prompt;
/// write round-r/train.jsonl (prompt/gen records, the format <c>smelt train</c> reads); train a fresh adapter on the base
/// over the kept data of rounds 1..r. After the last round the final adapter is evaluated the same way.
/// Layout: OUT/round-NN/{samples.jsonl, eval/, train.jsonl, train/ (the run: adapter, metrics), state.json}, OUT/summary.json, OUT/summary.md.
/// Every stage is recorded in state.json when it completes, so a rerun continues where the last one stopped.
/// A round with nothing to keep stops the loop with a clear message; nothing is trained on an empty set.
/// </summary>
public sealed partial class ExpertIterationRunner(ExpertIterationSpec spec, ISampleSource? source = null, Action<string>? log = null)
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public async Task<ExpertIterationReport> RunAsync(CancellationToken ct = default)
    {
        // Everything that can be checked is checked before the first sample is drawn.
        var tasks = ProblemGeneration.ReadProblems(spec.Prompts);
        var problems = ProblemSet.Load(spec.Prompts);
        var baseConfig = TrainRunner.LoadConfig(spec.TrainConfig, [.. spec.Set, "logging.progress=never"]);
        var modelDir = baseConfig.Model.Path;
        if (!Directory.Exists(modelDir)) throw SmeltException.BadInput($"{spec.SpecPath}: the training config's model.path '{modelDir}' is not a directory");
        var sampler = source ?? (spec.Generator == "endpoint" ? new EndpointSampleSource(spec.Endpoint!) : new ModelSampleSource(modelDir, spec.Sampling, spec.BatchSize, baseConfig.Model.Device));
        Directory.CreateDirectory(spec.OutputDir);

        var rows = new List<RoundRow>();
        string? adapter = null;
        var datasets = new List<string>();
        for (var round = 1; round <= spec.Rounds; round++)
        {
            var dir = Path.Combine(spec.OutputDir, $"round-{round:D2}");
            Directory.CreateDirectory(dir);
            var state = RoundState.Load(dir);
            var modelName = adapter is null ? "base" : $"round {round - 1} adapter";

            if (!state.Has("generated"))
            {
                log?.Invoke($"round {round}: sampling {spec.SamplesPerPrompt} per prompt for {tasks.Count} prompts from the {modelName}");
                await sampler.GenerateAsync(tasks, Path.Combine(dir, "samples.jsonl"), spec.SamplesPerPrompt, adapter, ct);
                state.Mark("generated");
            }
            var outcome = await spec.Eval.RunAsync(spec.Prompts, Path.Combine(dir, "samples.jsonl"), Path.Combine(dir, "eval"), [1], ct);
            state.Mark("evaluated");
            var pass1 = outcome.Summary.PassAtKValues.FirstOrDefault(p => p.K == 1)?.ValueOverComputableTasks;

            var selected = Select(outcome.Results, problems, Path.Combine(dir, "samples.jsonl"));
            var trainJsonl = Path.Combine(dir, "train.jsonl");
            AtomicFile.WriteAllText(trainJsonl, string.Concat(selected.Select(s => JsonSerializer.Serialize(new Dictionary<string, string> { ["prompt"] = s.Prompt, ["gen"] = s.Completion, ["task_id"] = s.TaskId }, Relaxed) + "\n")));
            state.Mark("selected", new JsonObject { ["kept"] = selected.Count, ["passing"] = outcome.Results.Count(r => Keeps(r, problems)) });
            if (selected.Count == 0)
            {
                var counts = string.Join(", ", outcome.Summary.StatusCounts.Where(kv => kv.Value > 0).Select(kv => $"{kv.Key} {kv.Value}"));
                rows.Add(new RoundRow(round, modelName, outcome.Summary.NSamples, pass1, outcome.Summary.CompileRate, 0, 0, 0, null, "stopped: no passing samples"));
                WriteSummary(rows);
                throw new SmeltException($"round {round}: none of the {outcome.Summary.NSamples} samples from the {modelName} passed ({counts}), so there is nothing to train on; " +
                                         $"stopped before training (samples and verdicts are in {dir}). Try more samples_per_prompt, a higher sampling.temperature, easier prompts or a stronger base model",
                    ExitCodes.Failure);
            }
            datasets.Add(trainJsonl);

            var trainDir = Path.Combine(dir, "train");
            TrainResult? trained = null;
            if (!state.Has("trained"))
            {
                var sources = "[" + string.Join(", ", datasets.Select(d => $"{{path: '{d.Replace("'", "''")}', type: jsonl, name: {Path.GetFileName(Path.GetDirectoryName(d))}}}")) + "]";
                var cfg = TrainRunner.LoadConfig(spec.TrainConfig, [.. spec.Set, $"data.sources={sources}", $"output.dir={trainDir}", "logging.progress=never"]);
                log?.Invoke($"round {round}: training a fresh adapter on {selected.Count} new sample(s) ({datasets.Count} round(s) of data)");
                trained = TrainRunner.Run(cfg, resume: true, new SilentProgress(), spec.Threads, ct);
                state.Mark("trained", new JsonObject { ["steps"] = trained.GlobalSteps, ["final_loss"] = trained.FinalLoss });
            }
            adapter = Path.Combine(trainDir, "adapter");
            var loss = DirectoryInspector.ReadLoss(Path.Combine(trainDir, "metrics.jsonl"));
            rows.Add(new RoundRow(round, modelName, outcome.Summary.NSamples, pass1, outcome.Summary.CompileRate, state.Int("selected", "passing"), selected.Count,
                loss.Count > 0 ? loss[^1].Step : 0, loss.Count > 0 ? loss[^1].Loss : null, "trained"));
            state.Mark("done");
            WriteSummary(rows);
        }

        if (spec.FinalEval && adapter is not null)
        {
            var dir = Path.Combine(spec.OutputDir, "final-eval");
            Directory.CreateDirectory(dir);
            var problemsPath = spec.EvalProblems ?? spec.Prompts;
            var evalTasks = ProblemGeneration.ReadProblems(problemsPath);
            await sampler.GenerateAsync(evalTasks, Path.Combine(dir, "samples.jsonl"), spec.SamplesPerPrompt, adapter, ct);
            var outcome = await spec.Eval.RunAsync(problemsPath, Path.Combine(dir, "samples.jsonl"), Path.Combine(dir, "eval"), [1], ct);
            rows.Add(new RoundRow(spec.Rounds + 1, $"round {spec.Rounds} adapter", outcome.Summary.NSamples, outcome.Summary.PassAtKValues.FirstOrDefault(p => p.K == 1)?.ValueOverComputableTasks,
                outcome.Summary.CompileRate, outcome.Results.Count(r => r.Status == Status.Passed), 0, 0, null, "final evaluation"));
        }
        var summary = WriteSummary(rows);
        return new ExpertIterationReport(spec.OutputDir, rows, summary);
    }

    public sealed record Selected(string TaskId, string Prompt, string Completion);

    private bool Keeps(SampleResult r, ProblemSet problems)
    {
        if (!problems.ByTaskId.TryGetValue(r.TaskId, out var p)) return false;
        if (r.SecretLike.Count > 0) return false;
        if (p.HasTests) return r.Status == Status.Passed && r.TestsRun > 0;
        return r.CompileOk && r.Status == Status.Passed && r.ClippyWarnings is { } w && w <= spec.Selection.MaxClippyWarnings;
    }

    /// <summary>Kept samples: judged good, passing the heuristics, deduplicated (whitespace-insensitively) and capped per prompt.</summary>
    public IReadOnlyList<Selected> Select(IReadOnlyList<SampleResult> results, ProblemSet problems, string samplesPath)
    {
        var completions = new Dictionary<(string, int), string>();
        var prompts = ProblemGeneration.ReadProblems(spec.Prompts).ToDictionary(t => t.TaskId, t => t.Input, StringComparer.Ordinal);
        var perTask = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in Jsonl.Read(samplesPath))
        {
            if (!line.IsValid) continue;
            var o = line.Value!.Value;
            if (!o.TryGetProperty("task_id", out var id) || !o.TryGetProperty("completion", out var c)) continue;
            var t = id.GetString()!;
            var i = perTask.GetValueOrDefault(t);
            perTask[t] = i + 1;
            completions[(t, i)] = c.GetString()!;
        }
        var kept = new List<Selected>();
        var seen = new HashSet<(string, string)>();
        var count = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in results.OrderBy(r => r.TaskId, StringComparer.Ordinal).ThenBy(r => r.Sample))
        {
            if (!Keeps(r, problems) || !completions.TryGetValue((r.TaskId, r.Sample), out var text)) continue;
            if (!Heuristics(text)) continue;
            if (!seen.Add((r.TaskId, Whitespace().Replace(text, " ").Trim()))) continue;
            if (count.GetValueOrDefault(r.TaskId) >= spec.Selection.MaxPerPrompt) continue;
            count[r.TaskId] = count.GetValueOrDefault(r.TaskId) + 1;
            kept.Add(new Selected(r.TaskId, prompts.GetValueOrDefault(r.TaskId, ""), text));
        }
        return kept;
    }

    private bool Heuristics(string text)
    {
        var t = text.Trim();
        if (t.Length < spec.Selection.MinChars || t.Length > spec.Selection.MaxChars) return false;
        if (Placeholder().IsMatch(text)) return false; // todo!(), unimplemented!(), unsafe blocks
        var lines = text.Split('\n').Where(l => l.Trim().Length > 0).ToList();
        if (lines.Count >= 6 && lines.GroupBy(l => l.Trim()).Max(g => g.Count()) > lines.Count / 2) return false; // degenerate repetition
        return true;
    }

    private string WriteSummary(IReadOnlyList<RoundRow> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        var json = new JsonArray([.. rows.Select(r => (JsonNode)new JsonObject
        {
            ["round"] = r.Round, ["model"] = r.Model, ["samples"] = r.Samples, ["pass_at_1"] = r.PassAt1, ["compile_rate"] = r.CompileRate,
            ["passing"] = r.Passing, ["kept"] = r.Kept, ["train_steps"] = r.TrainSteps, ["final_loss"] = r.FinalLoss, ["status"] = r.Status,
        })]);
        var path = Path.Combine(spec.OutputDir, "summary.json");
        AtomicFile.WriteAllText(path, Redactor.Redact(new JsonObject { ["rounds"] = json }.ToJsonString(new JsonSerializerOptions { WriteIndented = true })) + "\n");
        var md = new StringBuilder("| round | sampled from | samples | pass@1 | compile rate | passing | kept | train steps | final loss | status |\n|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (var r in rows)
            md.Append(CultureInfo.InvariantCulture, $"| {r.Round} | {r.Model} | {r.Samples} | {SweepRunner.Fmt(r.PassAt1)} | {(r.CompileRate is { } c ? (c * 100).ToString("0.0", inv) + "%" : "n/a")} | {r.Passing} | {r.Kept} | {r.TrainSteps} | {SweepRunner.Fmt(r.FinalLoss)} | {r.Status} |\n");
        AtomicFile.WriteAllText(Path.Combine(spec.OutputDir, "summary.md"), Redactor.Redact(md.ToString()));
        return path;
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"\b(todo|unimplemented)!\s*\(|\bunsafe\s*\{")]
    private static partial Regex Placeholder();

    /// <summary>round-NN/state.json: the stages completed, written atomically after each.</summary>
    private sealed class RoundState
    {
        private readonly string _path;
        private readonly JsonObject _o;

        private RoundState(string path, JsonObject o) { _path = path; _o = o; }

        public static RoundState Load(string dir)
        {
            var path = Path.Combine(dir, "state.json");
            if (!File.Exists(path)) return new RoundState(path, new JsonObject());
            try { return new RoundState(path, JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? new JsonObject()); }
            catch (JsonException ex) { throw SmeltException.BadInput($"{path}: unreadable ({ex.Message}); delete it to redo this round"); }
        }

        public bool Has(string stage) => _o[stage] is not null;

        public int Int(string stage, string key) => _o[stage]?[key]?.GetValue<int>() ?? 0;

        public void Mark(string stage, JsonObject? details = null)
        {
            _o[stage] = details ?? new JsonObject();
            _o[stage]!["at"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture);
            AtomicFile.WriteAllText(_path, _o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        }
    }
}
