using System.Text.Json;
using Smelt.Core;
using Smelt.Model;
using Smelt.TestSupport;

namespace Smelt.Workflow.Tests;

/// <summary>
/// Replays the bundled demo completions (real, mixed-quality Rust: some pass, some fail, some do not compile) as if a model
/// had produced them, so a round has something to keep. Records which adapter each call would have sampled from.
/// </summary>
internal sealed class ReplaySource : ISampleSource
{
    public List<string?> Adapters { get; } = [];

    public Task GenerateAsync(IReadOnlyList<GenerationTask> tasks, string outPath, int n, string? adapterDirectory, CancellationToken ct)
    {
        Adapters.Add(adapterDirectory);
        if (File.Exists(outPath)) return Task.CompletedTask;
        var byTask = File.ReadAllLines(TinyWorld.BundledSamples).Where(l => l.Trim().Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement).GroupBy(o => o.GetProperty("task_id").GetString()!)
            .ToDictionary(g => g.Key, g => g.Select(o => o.GetProperty("completion").GetString()!).ToList());
        var lines = new List<string>();
        foreach (var t in tasks)
            for (var i = 0; i < n; i++)
                lines.Add(JsonSerializer.Serialize(new { task_id = t.TaskId, completion = byTask[t.TaskId][i % byTask[t.TaskId].Count] }));
        File.WriteAllText(outPath, string.Join("\n", lines) + "\n");
        return Task.CompletedTask;
    }
}

[Collection("tiny")]
public sealed class ExpertIterationTests(TinyWorld world) : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private string Prompts(int? take = null)
    {
        var ids = File.ReadAllLines(TinyWorld.BundledSamples).Where(l => l.Trim().Length > 0)
            .Select(l => JsonDocument.Parse(l).RootElement.GetProperty("task_id").GetString()!).Distinct().Take(take ?? int.MaxValue).ToHashSet();
        var lines = File.ReadAllLines(TinyWorld.BundledProblems).Where(l => ids.Contains(JsonDocument.Parse(l).RootElement.GetProperty("task_id").GetString()!));
        return _dir.Write("prompts.jsonl", string.Join("\n", lines) + "\n");
    }

    private string SpecFile(int rounds, int samples, int maxNewTokens = 24)
    {
        TinyWorld.WriteConfig(_dir, world.ModelDir, world.DataPath, _dir.File("unused"), steps: 4);
        return _dir.Write("ei.yml", $"""
            train_config: train.yml
            set:
              - eval.every=0
              - data.validation_fraction=0
            output_dir: ei
            rounds: {rounds}
            prompts: prompts.jsonl
            samples_per_prompt: {samples}
            sampling:
              temperature: 0.8
              max_new_tokens: {maxNewTokens}
              batch_size: 4
            selection:
              max_per_prompt: 2
            eval:
              sandbox: bwrap
              workers: 2
              crates: false
              timeout: 5
            """);
    }

    [RequiresCommandFact("bwrap", "rustc", "clippy-driver")]
    public async Task Rounds_keep_only_passing_deduplicated_samples_train_each_adapter_and_resume_without_redoing_work()
    {
        Prompts();
        var spec = ExpertIterationSpec.Load(SpecFile(rounds: 2, samples: 3));
        var source = new ReplaySource();
        var report = await new ExpertIterationRunner(spec, source).RunAsync();

        Assert.Equal(3, report.Rows.Count); // two rounds and the final evaluation
        Assert.All(report.Rows.Take(2), r => Assert.Equal("trained", r.Status));
        Assert.All(report.Rows, r => Assert.NotNull(r.PassAt1));
        var ei = _dir.File("ei");
        Assert.Equal([null, Path.Combine(ei, "round-01", "train", "adapter"), Path.Combine(ei, "round-02", "train", "adapter")], source.Adapters);

        // What was kept: exactly the passing samples, each distinct completion once per task, at most max_per_prompt.
        var results = Jsonl.Read(Path.Combine(ei, "round-01", "eval", "results.jsonl")).Select(l => Smelt.Eval.SampleResult.FromJson(l.Value!.Value)!).ToList();
        var samples = Jsonl.Read(Path.Combine(ei, "round-01", "samples.jsonl")).Select(l => (Task: l.Value!.Value.GetProperty("task_id").GetString()!, Text: l.Value!.Value.GetProperty("completion").GetString()!)).ToList();
        var byTaskIndex = samples.GroupBy(s => s.Task).SelectMany(g => g.Select((s, i) => (s.Task, i, s.Text))).ToDictionary(x => (x.Task, x.i), x => x.Text);
        // results.jsonl is in completion order (runs finish concurrently); selection goes by sample index, as does this.
        var passing = results.Where(r => r.Status == Smelt.Eval.Status.Passed).OrderBy(r => r.Sample).Select(r => (r.TaskId, byTaskIndex[(r.TaskId, r.Sample)]))
            .DistinctBy(x => (x.TaskId, System.Text.RegularExpressions.Regex.Replace(x.Item2, @"\s+", " ").Trim())) // the selection's own rule
            .GroupBy(x => x.TaskId).SelectMany(g => g.Take(2)).OrderBy(x => x.TaskId, StringComparer.Ordinal).ThenBy(x => x.Item2, StringComparer.Ordinal).ToList();
        var kept = Jsonl.Read(Path.Combine(ei, "round-01", "train.jsonl")).Select(l => (l.Value!.Value.GetProperty("task_id").GetString()!, l.Value!.Value.GetProperty("gen").GetString()!))
            .OrderBy(x => x.Item1, StringComparer.Ordinal).ThenBy(x => x.Item2, StringComparer.Ordinal).ToList();
        Assert.NotEmpty(kept);
        Assert.True(kept.Count < samples.Count);
        Assert.Equal(passing, kept);
        Assert.Equal(report.Rows[0].Kept, kept.Count);
        Assert.All(Jsonl.Read(Path.Combine(ei, "round-01", "train.jsonl")), l => Assert.Contains("fn ", l.Value!.Value.GetProperty("prompt").GetString()));

        // Round 2 trains a fresh adapter on the data of both rounds; each round's adapter and metrics are kept.
        var resolved2 = File.ReadAllText(Path.Combine(ei, "round-02", "train", "config.resolved.yml"));
        Assert.Contains("round-01/train.jsonl", resolved2);
        Assert.Contains("round-02/train.jsonl", resolved2);
        foreach (var r in new[] { "round-01", "round-02" })
        {
            Assert.True(File.Exists(Path.Combine(ei, r, "train", "adapter", "adapter_model.safetensors")));
            Assert.Equal(4, DirectoryInspector.ReadLoss(Path.Combine(ei, r, "train", "metrics.jsonl")).Count);
        }
        var md = File.ReadAllText(Path.Combine(ei, "summary.md"));
        Assert.Contains("| 1 | base |", md);
        Assert.Contains("| 3 | round 2 adapter |", md);

        // Resume: nothing is generated, evaluated or trained again.
        var stamp = File.GetLastWriteTimeUtc(Path.Combine(ei, "round-02", "train", "metrics.jsonl"));
        var again = new ReplaySource();
        var second = await new ExpertIterationRunner(ExpertIterationSpec.Load(spec.SpecPath), again).RunAsync();
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(ei, "round-02", "train", "metrics.jsonl")));
        Assert.Single(again.Adapters); // only the final evaluation's call, which finds its samples already there
        Assert.Equal(report.Rows.Select(r => (r.Round, r.PassAt1, r.Kept)), second.Rows.Select(r => (r.Round, r.PassAt1, r.Kept)));
    }

    [RequiresCommandFact("bwrap", "rustc", "clippy-driver")]
    public async Task A_round_with_no_passing_samples_stops_with_a_clear_message_and_trains_nothing()
    {
        Prompts(take: 3);
        var spec = ExpertIterationSpec.Load(SpecFile(rounds: 2, samples: 2));
        // The real tiny model (randomly initialised) through the real generator: its Rust does not compile.
        var ex = await Assert.ThrowsAsync<SmeltException>(() => new ExpertIterationRunner(spec).RunAsync());
        Assert.Equal(ExitCodes.Failure, ex.ExitCode);
        Assert.Contains("round 1: none of the 6 samples from the base passed", ex.Message);
        Assert.Contains("nothing to train on", ex.Message);
        var round = _dir.File("ei/round-01");
        Assert.True(File.Exists(Path.Combine(round, "samples.jsonl")));
        Assert.Equal(6, File.ReadAllLines(Path.Combine(round, "samples.jsonl")).Length);
        Assert.True(File.Exists(Path.Combine(round, "eval", "results.jsonl")));
        Assert.False(Directory.Exists(Path.Combine(round, "train")));
        Assert.False(Directory.Exists(_dir.File("ei/round-02")));
        Assert.Contains("stopped: no passing samples", File.ReadAllText(_dir.File("ei/summary.md")));
    }

    [RequiresCommandFact("bwrap", "rustc", "clippy-driver")]
    public async Task Samples_can_come_from_an_openai_compatible_endpoint()
    {
        var prompts = Prompts(take: 4);
        // The served "model" answers each prompt with the bundled demo completions for that task.
        var inputs = ProblemGeneration.ReadProblems(prompts).ToDictionary(t => t.Input, t => t.TaskId);
        var byTask = File.ReadAllLines(TinyWorld.BundledSamples).Where(l => l.Trim().Length > 0).Select(l => JsonDocument.Parse(l).RootElement)
            .GroupBy(o => o.GetProperty("task_id").GetString()!).ToDictionary(g => g.Key, g => g.Select(o => o.GetProperty("completion").GetString()!).ToList());
        using var server = new LoopbackServer((ctx, body) =>
        {
            var task = inputs[body["messages"]![1]!["content"]!.GetValue<string>()];
            var n = body["n"]?.GetValue<int>() ?? 1;
            return LoopbackServer.Reply(ctx, 200, LoopbackServer.Chat([.. Enumerable.Range(0, n).Select(i => byTask[task][i % byTask[task].Count])]));
        });
        var spec = File.ReadAllText(SpecFile(rounds: 1, samples: 2)).Replace("rounds: 1", $"rounds: 1\nfinal_eval: false\ngenerator: endpoint\nendpoint:\n  base_url: {server.BaseUrl}\n  model: teacher");
        var path = _dir.Write("ei-endpoint.yml", spec);
        var report = await new ExpertIterationRunner(ExpertIterationSpec.Load(path)).RunAsync();
        var row = Assert.Single(report.Rows);
        Assert.Equal("trained", row.Status);
        Assert.True(row.Kept > 0);
        Assert.Equal(4, server.Requests.Count);
        Assert.All(server.Requests, r => Assert.Equal("teacher", r["model"]!.GetValue<string>()));
        Assert.True(File.Exists(_dir.File("ei/round-01/train/adapter/adapter_model.safetensors")));
    }

    [Fact]
    public void Selection_drops_completions_that_differ_only_in_whitespace_and_caps_each_prompt()
    {
        var prompts = Prompts(take: 1);
        var task = JsonDocument.Parse(File.ReadLines(prompts).First()).RootElement.GetProperty("task_id").GetString()!;
        var runner = new ExpertIterationRunner(ExpertIterationSpec.Load(SpecFile(rounds: 1, samples: 4)));
        string[] completions =
        [
            "    let total = a + b;\n    total\n}",
            "    let total = a + b;\n\n        total\n}\n",   // the first one, re-indented: a duplicate
            "    let total = b + a;\n    total\n}",           // different code
            "    let sum = a + b;\n    sum\n}",               // different again, but over max_per_prompt (2)
        ];
        var samples = _dir.Write("sel-samples.jsonl", string.Join("\n", completions.Select(c => JsonSerializer.Serialize(new { task_id = task, completion = c }))) + "\n");
        var results = completions.Select((_, i) => new Smelt.Eval.SampleResult
        {
            TaskId = task, Sample = i, Line = i + 1, Status = Smelt.Eval.Status.Passed, CompileOk = true, TestOk = true, TestsRun = 3, ClippyWarnings = 0,
        }).ToList();
        var kept = runner.Select(results, Smelt.Eval.ProblemSet.Load(prompts), samples);
        Assert.Equal([completions[0], completions[2]], kept.Select(k => k.Completion));
        Assert.All(kept, k => Assert.Equal(task, k.TaskId));
    }

    [Fact]
    public void A_bad_expert_iteration_config_is_reported_with_lines_before_anything_runs()
    {
        var path = _dir.Write("bad.yml", "rounds: 0\nprompt: x.jsonl\nsampling:\n  temprature: 0.5\n");
        var ex = Assert.Throws<SmeltException>(() => ExpertIterationSpec.Load(path));
        Assert.Contains("rounds: 0 is out of range", ex.Message);
        Assert.Contains("bad.yml:2: unknown key 'prompt' (did you mean 'prompts'?)", ex.Message);
        Assert.Contains("unknown key 'sampling.temprature' (did you mean 'sampling.temperature'?)", ex.Message);
        Assert.Contains("prompts: required", ex.Message);
    }
}
