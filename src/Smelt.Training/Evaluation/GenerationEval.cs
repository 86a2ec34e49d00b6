using System.Diagnostics;
using System.Globalization;
using Smelt.Core;
using Smelt.Eval;
using Smelt.Model;
using Smelt.Sandbox;
using Smelt.Training.Config;
using static TorchSharp.torch;

namespace Smelt.Training.Evaluation;

/// <summary>Writes a samples file (<c>{task_id, completion}</c> per line, what <c>smelt eval</c> reads) for some problems.</summary>
public interface IEvalSampler
{
    /// <summary>Checks that can be made before any compute (prompt lengths against the context); throws a bad-input error.</summary>
    void Validate(IReadOnlyList<GenerationTask> tasks, SamplingOptions options);

    void Write(LlamaForCausalLM model, IReadOnlyList<GenerationTask> tasks, int samplesPerTask, SamplingOptions options, string samplesPath, CancellationToken ct);
}

/// <summary>The model being trained, adapters and all, sampled through <see cref="ProblemGeneration"/> as <c>smelt generate --problems</c> does.</summary>
public sealed class ModelEvalSampler(TextTokenizer tokenizer, ModelConfig config, int batchSize = 4) : IEvalSampler
{
    public void Validate(IReadOnlyList<GenerationTask> tasks, SamplingOptions options)
    {
        options.Validate();
        var longest = tasks.Select(t => (Task: t, Tokens: tokenizer.Encode(t.Input).Length)).MaxBy(x => x.Tokens);
        if (longest.Tokens + options.MaxNewTokens > config.MaxPositionEmbeddings)
            throw SmeltException.BadInput(
                $"eval.max_new_tokens: the prompt of {longest.Task.TaskId} is {longest.Tokens} tokens, and {longest.Tokens} + max_new_tokens {options.MaxNewTokens} " +
                $"exceeds the model's context of {config.MaxPositionEmbeddings} positions; lower eval.max_new_tokens or eval.num_problems");
    }

    public void Write(LlamaForCausalLM model, IReadOnlyList<GenerationTask> tasks, int samplesPerTask, SamplingOptions options, string samplesPath, CancellationToken ct) =>
        ProblemGeneration.Run(new TextGenerator(model, tokenizer), tasks, samplesPath, samplesPerTask, Math.Min(batchSize, samplesPerTask), options, ct: ct);
}

/// <summary>One generation + scoring round at a training step. <see cref="Status"/> is ok, failed or interrupted.</summary>
public sealed record StepEval(int Step, string Status, double? PassAt1, double? CompileRate, double? ClippyCleanRate, int Samples, string? Error, string Directory, TimeSpan Elapsed)
{
    public const string Ok = "ok";
    public const string Failed = "failed";
    public const string Interrupted = "interrupted";
}

/// <summary>
/// Periodic evaluation by generation: at the configured steps the current model (base + the adapters being trained)
/// completes the first <c>eval.num_problems</c> problems, greedy unless <c>eval.temperature</c> is set (seeded with
/// train.seed, the same at every step), and the completions are judged by Smelt.Eval's sandboxed harness exactly as
/// <c>smelt eval</c> judges them. Output: <c>output.dir/evals/step-N/</c> with samples.jsonl, results.jsonl and summary.json.
/// Everything that can be checked is checked in <see cref="Prepare"/>, before training starts. During training a failure
/// (the sandbox breaking, a sample hitting a sandbox error) is reported loudly and marks that step's eval failed; it
/// never stops the run. Generation leaves the model in the mode it found it and the torch random stream untouched.
/// </summary>
public sealed class GenerationEval
{
    private readonly EvalSection _cfg;
    private readonly IReadOnlyList<GenerationTask> _tasks;
    private readonly ISandbox _sandbox;
    private readonly IEvalSampler _sampler;
    private readonly SamplingOptions _sampling;
    private readonly ITrainProgress _progress;

    private GenerationEval(EvalSection cfg, IReadOnlyList<GenerationTask> tasks, ISandbox sandbox, IEvalSampler sampler, SamplingOptions sampling, ITrainProgress progress)
    {
        (_cfg, _tasks, _sandbox, _sampler, _sampling, _progress) = (cfg, tasks, sandbox, sampler, sampling, progress);
    }

    public IReadOnlyList<GenerationTask> Tasks => _tasks;

    /// <summary>
    /// Reads the problems, creates the sandbox (<c>none</c> only with allow_unsandboxed, as <c>smelt eval</c> requires), and
    /// runs the toolchain inside it once and builds or finds the crate set, so a machine that cannot score fails now.
    /// </summary>
    public static GenerationEval Prepare(EvalSection cfg, long seed, IEvalSampler sampler, ITrainProgress progress, ISandbox? sandbox = null, CancellationToken ct = default)
    {
        if (!cfg.GenerationEnabled) throw new InvalidOperationException("generation eval is off (eval.generate_every: 0, generate_at_end: false)");
        var all = ProblemGeneration.ReadProblems(cfg.Problems);
        var problems = ProblemSet.Load(cfg.Problems);
        var tasks = cfg.NumProblems > 0 ? all.Take(cfg.NumProblems).ToList() : all.ToList();
        foreach (var t in tasks)
            if (!problems.ByTaskId.ContainsKey(t.TaskId))
                throw SmeltException.BadInput($"eval.problems: {cfg.Problems}:{t.Line}: task {t.TaskId} cannot be scored: " +
                                              (problems.Issues.FirstOrDefault(i => i.Line == t.Line)?.Message ?? "not a complete problem (prompt, test)"));
        var sampling = new SamplingOptions
        {
            Temperature = cfg.Temperature,
            MaxNewTokens = cfg.MaxNewTokens,
            Seed = seed,
            StopSequences = ProblemGeneration.DefaultStops,
            IncludeStopSequence = true,
        };
        sampler.Validate(tasks, sampling);

        if (sandbox is null)
        {
            if (cfg.Sandbox == "none" && !cfg.AllowUnsandboxed)
                throw SmeltException.BadInput("eval.sandbox: none needs eval.allow_unsandboxed: true");
            sandbox = SandboxFactory.Create(cfg.Sandbox, cfg.AllowUnsandboxed, new ProgressWriter(progress));
        }
        var toolchain = Toolchain.ProbeAsync(sandbox, Toolchain.FindSysroot(), cfg.Clippy, ct).GetAwaiter().GetResult();
        if (cfg.Crates)
            CrateSet.EnsureAsync(sandbox, toolchain, CrateSet.DefaultPinDirectory(), CrateSet.DefaultRegistry, m => progress.Message(Redactor.Redact(m)), ct).GetAwaiter().GetResult();
        progress.Message($"generation eval: {tasks.Count} problem(s) x {cfg.SamplesPerProblem} sample(s) from {cfg.Problems}, " +
                         $"{(cfg.GenerateEvery > 0 ? $"every {cfg.GenerateEvery} steps" : "")}{(cfg.GenerateEvery > 0 && cfg.GenerateAtEnd ? " and " : "")}{(cfg.GenerateAtEnd ? "at the end" : "")}, " +
                         $"scored in sandbox '{sandbox.Name}' ({toolchain.RustcVersion})");
        return new GenerationEval(cfg, tasks, sandbox, sampler, sampling, progress);
    }

    /// <summary>Whether an eval runs after global step <paramref name="step"/> (<paramref name="last"/>: the run's final step).</summary>
    public bool DueAt(int step, bool last) => (_cfg.GenerateEvery > 0 && step % _cfg.GenerateEvery == 0) || (last && _cfg.GenerateAtEnd);

    public StepEval Run(int step, string outputDir, LlamaForCausalLM model, CancellationToken ct)
    {
        var dir = Path.Combine(outputDir, "evals", $"step-{step}");
        var clock = Stopwatch.StartNew();
        try
        {
            // A directory already there was left by a run killed after its last checkpoint: this step is being redone.
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            Directory.CreateDirectory(dir);
            var samples = Path.Combine(dir, "samples.jsonl");
            Generate(model, samples, ct);
            var ks = new[] { 1, _cfg.SamplesPerProblem }.Distinct().ToList();
            var request = new EvalRequest
            {
                ProblemsPath = _cfg.Problems,
                SamplesPath = samples,
                OutDirectory = dir,
                Ks = ks,
                Options = new EvalOptions
                {
                    Clippy = _cfg.Clippy,
                    RunTimeout = TimeSpan.FromSeconds(_cfg.Timeout),
                    CompileTimeout = TimeSpan.FromSeconds(_cfg.CompileTimeout),
                },
                CratesDirectory = _cfg.Crates ? CrateSet.DefaultPinDirectory() : null,
                Overwrite = true,
            };
            var outcome = EvalRunner.RunAsync(request, _sandbox, new EvalProgress { Log = m => _progress.Message(Redactor.Redact($"eval: {m}")) }, ct).GetAwaiter().GetResult();
            var s = outcome.Summary;
            var sandboxErrors = s.StatusCounts.GetValueOrDefault(Status.SandboxError);
            if (outcome.ExitCode == ExitCodes.Infrastructure || sandboxErrors > 0)
            {
                var first = outcome.Results.FirstOrDefault(r => r.Status == Status.SandboxError)?.FirstError;
                return Fail(step, dir, clock, s.NSamples, $"{sandboxErrors} of {s.NSamples} sample(s) hit a sandbox error, so the verdicts cannot be trusted: {first}");
            }
            var result = new StepEval(step, StepEval.Ok, s.PassAtKValues.First(p => p.K == 1).Value, s.CompileRate, s.ClippyCleanRate, s.NSamples, null, dir, clock.Elapsed);
            _progress.Message($"eval at step {step}: pass@1 {Fmt(result.PassAt1)}, compile rate {Pct(result.CompileRate)}, clippy-clean {Pct(result.ClippyCleanRate)} " +
                              $"({s.NSamples} samples, {clock.Elapsed.TotalSeconds:F1} s) -> {dir}");
            return result;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            _progress.Message($"eval at step {step}: interrupted");
            return new StepEval(step, StepEval.Interrupted, null, null, null, 0, "interrupted", dir, clock.Elapsed);
        }
        catch (Exception ex)
        {
            // Whatever broke (the sandbox, the toolchain, the disk), hours of training are not thrown away for it.
            return Fail(step, dir, clock, 0, ex is SmeltException ? ex.Message : $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    private void Generate(LlamaForCausalLM model, string samplesPath, CancellationToken ct)
    {
        var wasTraining = model.training;
        // Generation draws from System.Random streams of its own, but the torch generator is saved and restored too, so
        // nothing done here can shift dropout or any other torch draw of the training steps.
        using var rng = TorchSharp.torch.random.get_rng_state();
        model.eval();
        try
        {
            _sampler.Write(model, _tasks, _cfg.SamplesPerProblem, _sampling, samplesPath, ct);
        }
        finally
        {
            TorchSharp.torch.random.set_rng_state(rng);
            model.train(wasTraining);
        }
    }

    private StepEval Fail(int step, string dir, Stopwatch clock, int samples, string error)
    {
        error = Redactor.Redact(error);
        try { File.WriteAllText(Path.Combine(dir, "error.txt"), error + "\n"); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        _progress.Message($"WARNING: eval at step {step} FAILED (training continues; marked failed in metrics.jsonl and {dir}/error.txt): {error}");
        return new StepEval(step, StepEval.Failed, null, null, null, samples, error, dir, clock.Elapsed);
    }

    private static string Fmt(double? v) => v is { } d ? d.ToString("0.000", CultureInfo.InvariantCulture) : "n/a";
    private static string Pct(double? v) => v is { } d ? (d * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "n/a";

    /// <summary>Sandbox warnings (e.g. running unsandboxed) go to the training progress output, line by line.</summary>
    private sealed class ProgressWriter(ITrainProgress progress) : TextWriter
    {
        private readonly System.Text.StringBuilder _line = new();
        public override System.Text.Encoding Encoding => System.Text.Encoding.UTF8;

        public override void Write(char value)
        {
            if (value == '\n') { progress.Message(_line.ToString()); _line.Clear(); }
            else _line.Append(value);
        }
    }
}
