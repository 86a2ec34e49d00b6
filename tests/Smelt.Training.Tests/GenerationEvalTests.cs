using System.Text.Json;
using Smelt.Core;
using Smelt.Eval;
using Smelt.Model;
using Smelt.Sandbox;
using Smelt.TestSupport;
using Smelt.Training.Config;
using Smelt.Training.Evaluation;
using Smelt.Training.Logging;
using static TorchSharp.torch;

namespace Smelt.Training.Tests;

/// <summary>Completions decided by the test, per eval round: the scoring path (sandbox, rustc, tests) is the real one.</summary>
internal sealed class ScriptedSampler(Func<int, GenerationTask, string> completion) : IEvalSampler
{
    public int Calls { get; private set; }
    public List<bool> ModelWasTraining { get; } = [];

    /// <summary>Called after each samples file is written (e.g. to break the sandbox from then on).</summary>
    public Action? AfterWrite { get; init; }

    public void Validate(IReadOnlyList<GenerationTask> tasks, SamplingOptions options) { }

    public void Write(LlamaForCausalLM model, IReadOnlyList<GenerationTask> tasks, int samplesPerTask, SamplingOptions options, string samplesPath, CancellationToken ct)
    {
        Calls++;
        ModelWasTraining.Add(model.training);
        using (var scope = NewDisposeScope()) rand(1000).sum().item<float>(); // a generator that draws from torch's stream
        File.WriteAllLines(samplesPath, tasks.SelectMany(t => Enumerable.Repeat(
            JsonSerializer.Serialize(new Dictionary<string, string> { ["task_id"] = t.TaskId, ["completion"] = completion(Calls, t) }), samplesPerTask)));
        AfterWrite?.Invoke();
    }
}

/// <summary>Delegates to a real sandbox until <see cref="Broken"/> is set, then fails every run the way a broken sandbox does.</summary>
internal sealed class BreakableSandbox(ISandbox inner) : ISandbox
{
    public volatile bool Broken;
    public string Name => inner.Name;
    public SandboxWorkDirectory CreateWorkDirectory(string label) => inner.CreateWorkDirectory(label);

    public Task<SandboxResult> RunAsync(SandboxRequest request, CancellationToken cancellationToken = default) =>
        Broken ? Task.FromResult(new SandboxResult { InfrastructureError = "injected failure: bwrap: setting up uid map: Permission denied" })
               : inner.RunAsync(request, cancellationToken);
}

/// <summary>
/// Tests that train with dropout or draw from torch's process-wide generator, and compare runs: they run alone, never
/// beside another test class whose manual_seed or draws would interleave with theirs. Building a model draws too
/// (nn.Linear and Embedding initialise their weights from it), so classes that only build models belong here as well.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchRngCollection
{
    public const string Name = "torch global RNG";
}

[Collection(TorchRngCollection.Name)]
public sealed class GenerationEvalTests
{
    public GenerationEvalTests() => TorchRuntime.EnsureLoaded();

    private static readonly string BundledProblems = Path.Combine(TestEnvironment.RepoRoot, "data", "problems", "smelt_rust_problems.jsonl");

    private static Dictionary<string, string> Canonical() =>
        File.ReadLines(BundledProblems).Select(l => JsonDocument.Parse(l).RootElement)
            .ToDictionary(o => o.GetProperty("task_id").GetString()!, o => o.GetProperty("canonical_solution").GetString()!);

    private static List<JsonElement> Lines(string path) => File.ReadLines(path).Select(l => JsonDocument.Parse(l).RootElement).ToList();

    [RequiresCommandFact("bwrap", "rustc")]
    public void Scoring_is_real_known_correct_completions_pass_and_known_wrong_ones_fail()
    {
        var dir = Tiny.TempDir("geneval");
        var cfg = Tiny.Cfg(dir, "train.max_steps=2", "eval.generate_every=1", "eval.num_problems=3", "eval.crates=false");
        Assert.Equal(Path.GetFullPath(BundledProblems), cfg.Eval.Problems); // the default when generation is on
        var canonical = Canonical();
        // Round 1: each problem's canonical solution. Round 2: a body that compiles and panics in every test.
        var sampler = new ScriptedSampler((round, t) => round == 1 ? canonical[t.TaskId] : "    unimplemented!()\n}\n");
        var progress = new SilentProgress();
        var eval = GenerationEval.Prepare(cfg.Eval, cfg.Train.Seed, sampler, progress);
        var result = new Trainer(cfg, Tiny.Model(), new ByteTokenizer(), new MemoryData(Tiny.Corpus()), progress, eval).Run(resume: false);

        Assert.Equal(2, result.GlobalSteps);
        Assert.Equal([false, false], sampler.ModelWasTraining);
        var metrics = MetricsLog.ReadAll(Path.Combine(dir, "metrics.jsonl"));
        Assert.Equal(["ok", "ok"], metrics.Select(m => m.EvalStatus));
        Assert.Equal(1.0, metrics[0].EvalPassAt1);
        Assert.Equal(1.0, metrics[0].EvalCompileRate);
        Assert.Equal(0.0, metrics[1].EvalPassAt1);
        Assert.Equal(1.0, metrics[1].EvalCompileRate);
        Assert.NotNull(metrics[0].EvalClippyCleanRate);
        Assert.Contains("\"eval/pass@1\":1", File.ReadLines(Path.Combine(dir, "metrics.jsonl")).First());

        // The harness's own files, with its verdicts.
        foreach (var step in new[] { 1, 2 })
            foreach (var file in new[] { "samples.jsonl", "results.jsonl", "summary.json" })
                Assert.True(File.Exists(Path.Combine(dir, "evals", $"step-{step}", file)), $"evals/step-{step}/{file}");
        Assert.All(Lines(Path.Combine(dir, "evals", "step-1", "results.jsonl")), r => Assert.Equal(Status.Passed, r.GetProperty("status").GetString()));
        var wrong = Lines(Path.Combine(dir, "evals", "step-2", "results.jsonl"));
        Assert.Equal(3, wrong.Count);
        Assert.All(wrong, r => Assert.Equal(Status.Failed, r.GetProperty("status").GetString()));
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "evals", "step-2", "summary.json"))).RootElement;
        Assert.Equal("bwrap", summary.GetProperty("sandbox").GetString());
        Assert.Equal(3, summary.GetProperty("n_tasks").GetInt32());

        var events = TensorBoardReader.Read(Directory.GetFiles(Path.Combine(dir, "tensorboard"), "events.out.tfevents.*").Single());
        var pass = events.SelectMany(e => e.Scalars.Where(s => s.Tag == "eval/pass@1").Select(s => (e.Step, s.Value))).ToList();
        Assert.Equal([(1L, 1f), (2L, 0f)], pass);
        Assert.Contains(progress.Messages, m => m.StartsWith("eval at step 1: pass@1 1.000, compile rate 100.0%", StringComparison.Ordinal));
        var run = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))).RootElement.GetProperty("generation_evals");
        Assert.Equal(2, run.GetArrayLength());
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public void A_broken_sandbox_marks_the_eval_failed_the_run_goes_on_and_training_is_unchanged()
    {
        var overrides = new[] { "train.max_steps=4", "lora.dropout=0.2", "eval.num_problems=2", "eval.crates=false" };
        var sandbox = new BreakableSandbox(SandboxFactory.Create("bwrap"));
        var sampler = new ScriptedSampler((_, _) => "    unimplemented!()\n}\n") { AfterWrite = () => sandbox.Broken = true };
        var withEval = Tiny.TempDir("geneval-broken");
        var cfg = Tiny.Cfg(withEval, [.. overrides, "eval.generate_every=2"]);
        var progress = new SilentProgress();
        var eval = GenerationEval.Prepare(cfg.Eval, cfg.Train.Seed, sampler, progress, sandbox); // the sandbox still works here
        var model = Tiny.Model();
        var result = new Trainer(cfg, model, new ByteTokenizer(), new MemoryData(Tiny.Corpus()), progress, eval).Run(resume: false);

        Assert.Equal(4, result.GlobalSteps);
        var metrics = MetricsLog.ReadAll(Path.Combine(withEval, "metrics.jsonl"));
        var evals = metrics.Where(m => m.EvalStatus is not null).ToList();
        Assert.Equal([2, 4], evals.Select(m => m.Step));
        Assert.All(evals, m =>
        {
            Assert.Equal(StepEval.Failed, m.EvalStatus);
            Assert.Null(m.EvalPassAt1);
            Assert.Contains("injected failure", m.EvalError);
        });
        Assert.Contains("injected failure", File.ReadAllText(Path.Combine(withEval, "evals", "step-2", "error.txt")));
        Assert.Contains(progress.Messages, m => m.StartsWith("WARNING: eval at step 2 FAILED (training continues", StringComparison.Ordinal));

        // Generating between steps (eval mode, torch draws) changed nothing about training: the same adapter as a run without it.
        var plain = Tiny.TempDir("geneval-plain");
        var reference = new Trainer(Tiny.Cfg(plain, overrides), Tiny.Model(), new ByteTokenizer(), new MemoryData(Tiny.Corpus()), new SilentProgress()).Run(resume: false);
        TrainerTests.AssertSameAdapter(reference.AdapterDir, result.AdapterDir, 1e-6f);
        var plainLoss = MetricsLog.ReadAll(Path.Combine(plain, "metrics.jsonl")).Select(m => m.Loss).ToList();
        Assert.Equal(plainLoss.Count, metrics.Count);
        for (var i = 0; i < plainLoss.Count; i++) Assert.Equal(plainLoss[i], metrics[i].Loss, 6);

        // And directly: the torch stream after an eval is the one before it, and the model's mode is restored.
        model.train();
        manual_seed(1234);
        var expected = rand(8).data<float>().ToArray();
        manual_seed(1234);
        eval.Run(99, withEval, model, CancellationToken.None);
        Assert.Equal(expected, rand(8).data<float>().ToArray());
        Assert.True(model.training);
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public void A_tiny_training_run_generates_with_its_model_and_scores_in_the_sandbox()
    {
        var root = Tiny.TempDir("geneval-run");
        var modelDir = Path.Combine(root, "model");
        ModelPresets.Init("tiny", modelDir, seed: 1, corpus: null);
        var dataFile = Path.Combine(root, "data.jsonl");
        File.WriteAllLines(dataFile, Enumerable.Range(0, 12).Select(i =>
            JsonSerializer.Serialize(new { prompt = $"/// Returns {i} times x.\nfn times_{i}(x: u32) -> u32 {{\n", gen = $"    x * {i}\n}}\n" })));
        var outDir = Path.Combine(root, "run");
        var cfg = ConfigLoader.LoadText($$"""
            model:
              path: {{modelDir}}
            data:
              sources:
                - path: {{dataFile}}
              max_seq_len: 64
              filters: { min_chars: 5, dedup_near: false }
            lora: { r: 4, alpha: 8 }
            train: { max_steps: 4, batch_size: 2, warmup_steps: 1, lr: 5.0e-3 }
            eval:
              generate_every: 3
              generate_at_end: true
              num_problems: 2
              max_new_tokens: 24
            logging: { progress: never }
            output: { dir: {{outDir}}, save_every: 0 }
            """, "run.yml");
        var progress = new SilentProgress();
        var result = TrainRunner.Run(cfg, resume: false, progress);

        Assert.Equal(4, result.GlobalSteps);
        var metrics = MetricsLog.ReadAll(Path.Combine(outDir, "metrics.jsonl"));
        Assert.Equal([3, 4], metrics.Where(m => m.EvalStatus is not null).Select(m => m.Step));
        foreach (var step in new[] { 3, 4 })
        {
            var dir = Path.Combine(outDir, "evals", $"step-{step}");
            var samples = Lines(Path.Combine(dir, "samples.jsonl"));
            Assert.Equal(["Smelt/0", "Smelt/1"], samples.Select(s => s.GetProperty("task_id").GetString()));
            var results = Lines(Path.Combine(dir, "results.jsonl"));
            Assert.Equal(2, results.Count);
            Assert.All(results, r => Assert.Contains(r.GetProperty("status").GetString(), Status.All));
            var m = metrics.Single(x => x.Step == step);
            Assert.Equal(StepEval.Ok, m.EvalStatus);
            var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "summary.json"))).RootElement;
            Assert.Equal(summary.GetProperty("pass_at_k").GetProperty("1").GetProperty("value").GetDouble(), m.EvalPassAt1!.Value);
            Assert.Equal(summary.GetProperty("compile_rate").GetDouble(), m.EvalCompileRate!.Value);
            Assert.Equal(results.Count(r => r.GetProperty("status").GetString() == Status.Passed) / 2.0, m.EvalPassAt1!.Value);
        }
    }

    [Fact]
    public void Eval_settings_are_checked_before_anything_runs()
    {
        var none = Assert.Throws<SmeltException>(() => Tiny.Cfg(Tiny.TempDir("cfg"), "eval.generate_every=5", "eval.sandbox=none"));
        Assert.Contains("--set eval.sandbox=none: eval.sandbox: none runs the model's code directly", none.Message);
        Tiny.Cfg(Tiny.TempDir("cfg"), "eval.generate_every=5", "eval.sandbox=none", "eval.allow_unsandboxed=true");

        var greedy = Assert.Throws<SmeltException>(() => Tiny.Cfg(Tiny.TempDir("cfg"), "eval.generate_every=5", "eval.samples_per_problem=4"));
        Assert.Contains("eval.samples_per_problem: 4 greedy samples would all be the same", greedy.Message);
        var missing = Assert.Throws<SmeltException>(() => Tiny.Cfg(Tiny.TempDir("cfg"), "eval.generate_at_end=true", "eval.problems=/nonexistent/problems.jsonl"));
        Assert.Contains("eval.problems: /nonexistent/problems.jsonl: file not found", missing.Message);
        var typo = Assert.Throws<SmeltException>(() => Tiny.Cfg(Tiny.TempDir("cfg"), "eval.generate_evry=5"));
        Assert.Contains("did you mean 'generate_every'?", typo.Message);
        Assert.Equal("", Tiny.Cfg(Tiny.TempDir("cfg")).Eval.Problems); // off: nothing filled in, nothing required

        // Prompts that cannot fit the context with max_new_tokens are refused before the sandbox is even created.
        var modelDir = Path.Combine(Tiny.TempDir("geneval-ctx"), "model");
        ModelPresets.Init("tiny", modelDir, seed: 1, corpus: null);
        using var tokenizer = TextTokenizer.Load(modelDir);
        var cfg = Tiny.Cfg(Tiny.TempDir("cfg"), "eval.generate_every=5", "eval.max_new_tokens=2000", "eval.sandbox=docker");
        var context = Assert.Throws<SmeltException>(() =>
            GenerationEval.Prepare(cfg.Eval, 1, new ModelEvalSampler(tokenizer, ModelConfig.Load(modelDir)), new SilentProgress()));
        Assert.StartsWith("eval.max_new_tokens: the prompt of Smelt/", context.Message);
        Assert.Contains("exceeds the model's context of 2048 positions", context.Message);
    }
}
