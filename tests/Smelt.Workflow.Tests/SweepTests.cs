using System.Globalization;
using Smelt.Core;

namespace Smelt.Workflow.Tests;

[Collection("tiny")]
public sealed class SweepTests(TinyWorld world) : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private string SweepFile(string body, int steps = 6)
    {
        TinyWorld.WriteConfig(_dir, world.ModelDir, world.DataPath, _dir.File("unused"), steps);
        return _dir.Write("sweep.yml", "train_config: train.yml\noutput_dir: sweep\n" + body);
    }

    [Fact]
    public async Task A_grid_runs_every_trial_ranks_by_validation_loss_and_a_rerun_trains_nothing()
    {
        var path = SweepFile("method: grid\nmetric: val_loss\nset:\n  - lora.r=2\nparameters:\n  train.lr: [2.0e-3, 1.0e-2]\n  lora.alpha: [4]\n");
        var spec = SweepSpec.Load(path);
        var report = await new SweepRunner(spec).RunAsync();
        Assert.Equal(2, report.Ran);
        Assert.Equal(2, report.Ranked.Count);
        Assert.All(report.Ranked, r => Assert.Equal("finished", r.Status));
        Assert.All(report.Ranked, r => Assert.NotNull(r.ValLoss));
        Assert.True(report.Ranked[0].Metric <= report.Ranked[1].Metric);
        Assert.All(report.Ranked, r => Assert.Equal(6, r.Steps));
        // Each trial trained with its own values in its own directory.
        foreach (var r in report.Ranked)
        {
            var resolved = File.ReadAllText(Path.Combine(_dir.File("sweep"), r.Id, "config.resolved.yml"));
            var lr = r.Assignment.Single(a => a.Key == "train.lr").Value;
            Assert.Contains($"lr: {double.Parse(lr, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture)}", resolved.Replace("lr: 0.002", "lr: 0.002"));
            Assert.Contains("  r: 2", resolved);
            Assert.True(File.Exists(Path.Combine(_dir.File("sweep"), r.Id, "adapter", "adapter_model.safetensors")));
        }
        var lines = File.ReadAllLines(report.SweepJsonl);
        Assert.Equal(2, lines.Length);
        var table = File.ReadAllText(_dir.File("sweep/sweep_table.md"));
        Assert.Contains("| 1 | " + report.Ranked[0].Id, table);

        var stamp = File.GetLastWriteTimeUtc(Path.Combine(_dir.File("sweep"), "trial-000", "metrics.jsonl"));
        var again = await new SweepRunner(SweepSpec.Load(path)).RunAsync();
        Assert.Equal(0, again.Ran);
        Assert.Equal(2, again.Skipped);
        Assert.Equal(2, File.ReadAllLines(report.SweepJsonl).Length);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(Path.Combine(_dir.File("sweep"), "trial-000", "metrics.jsonl")));
        Assert.Equal(report.Ranked.Select(r => r.Id), again.Ranked.Select(r => r.Id));
    }

    [Fact]
    public async Task Trials_run_two_at_a_time_each_in_its_own_directory()
    {
        var path = SweepFile("metric: train_loss\nparallel: 2\nthreads_per_trial: 1\nparameters:\n  lora.r: [2, 4, 8]\n", steps: 3);
        var report = await new SweepRunner(SweepSpec.Load(path)).RunAsync();
        Assert.Equal(3, report.Ran);
        Assert.All(report.Ranked, r => Assert.Equal("finished", r.Status));
        Assert.All(report.Ranked, r => Assert.NotNull(r.TrainLoss));
        Assert.Equal(3, File.ReadAllLines(report.SweepJsonl).Length);
        foreach (var r in report.Ranked)
        {
            var adapter = DirectoryInspector.Inspect(Path.Combine(_dir.File("sweep"), r.Id, "adapter")).Adapter!;
            Assert.Equal(r.Assignment.Single().Value, adapter.R.ToString(CultureInfo.InvariantCulture));
        }
        Assert.Equal(report.Ranked.Select(r => r.TrainLoss).Order(), report.Ranked.Select(r => r.TrainLoss)); // ranked ascending
    }

    [Fact]
    public async Task Trials_side_by_side_train_exactly_as_they_do_one_at_a_time()
    {
        // With dropout on, each trial draws masks: from its own generator, so a neighbour's draws cannot change its stream.
        // (With one process-wide generator this fails whenever the two trials overlap, which 8 steps each all but ensures;
        // asserting the overlap itself would make the test depend on the thread pool's timing.)
        TinyWorld.WriteConfig(_dir, world.ModelDir, world.DataPath, _dir.File("unused"), steps: 8);
        const string body = "metric: train_loss\nthreads_per_trial: 1\nset:\n  - lora.dropout=0.3\nparameters:\n  lora.r: [2, 4]\n";
        var together = await new SweepRunner(SweepSpec.Load(_dir.Write("par.yml", "train_config: train.yml\noutput_dir: par\nparallel: 2\n" + body))).RunAsync();
        var alone = await new SweepRunner(SweepSpec.Load(_dir.Write("seq.yml", "train_config: train.yml\noutput_dir: seq\nparallel: 1\n" + body))).RunAsync();
        Assert.Equal(2, together.Ran);
        foreach (var id in new[] { "trial-000", "trial-001" })
        {
            var a = File.ReadAllBytes(Path.Combine(_dir.File("par"), id, "adapter", "adapter_model.safetensors"));
            var b = File.ReadAllBytes(Path.Combine(_dir.File("seq"), id, "adapter", "adapter_model.safetensors"));
            Assert.True(a.AsSpan().SequenceEqual(b), $"{id}: the adapter trained beside another trial differs from the one trained alone");
            Assert.Equal(alone.Ranked.Single(r => r.Id == id).TrainLoss, together.Ranked.Single(r => r.Id == id).TrainLoss);
        }
    }

    [Fact]
    public async Task An_unknown_sweep_key_fails_before_any_trial_runs()
    {
        var path = SweepFile("parameters:\n  train.lr: [1.0e-3]\n  train.lrr: [1.0e-3, 2.0e-3]\n");
        var spec = SweepSpec.Load(path);
        var ex = await Assert.ThrowsAsync<SmeltException>(() => new SweepRunner(spec).RunAsync());
        Assert.Equal(ExitCodes.BadInput, ex.ExitCode);
        Assert.Contains("train.lrr", ex.Message);
        Assert.Contains("no trial was run", ex.Message);
        Assert.False(Directory.Exists(_dir.File("sweep")));
    }

    [Fact]
    public void A_malformed_sweep_file_names_the_line_and_key()
    {
        var path = SweepFile("metod: grid\nparallel: 0\nparameters:\n  train.lr: {min: 1, max: 0.1}\n");
        var ex = Assert.Throws<SmeltException>(() => SweepSpec.Load(path));
        Assert.Contains("sweep.yml:3: unknown key 'metod' (did you mean 'method'?)", ex.Message);
        Assert.Contains("parallel: 0 is out of range", ex.Message);
        Assert.Contains("min < max", ex.Message);
    }

    [Fact]
    public async Task A_trial_far_behind_is_stopped_early_by_validation_loss()
    {
        var path = SweepFile("metric: val_loss\nearly_stopping:\n  tolerance: 0.01\n  min_steps: 6\nparameters:\n  train.lr: [3.0e-2, 1.0e-6]\n", steps: 12);
        var report = await new SweepRunner(SweepSpec.Load(path)).RunAsync();
        var good = report.Ranked.Single(r => r.Id == "trial-000");
        var bad = report.Ranked.Single(r => r.Id == "trial-001");
        Assert.True(good.Status == "finished", $"{good.Status}: {good.Error} {string.Join(",", good.ValCurve)} / bad {string.Join(",", bad.ValCurve)}");
        Assert.Equal(12, good.Steps);
        Assert.True(bad.Status == "stopped_early", $"{bad.Status}: good {string.Join(",", good.ValCurve)} / bad {string.Join(",", bad.ValCurve)}");
        Assert.True(bad.Steps < 12, $"stopped at {bad.Steps}");
        Assert.Contains("worse than", bad.Error);
        Assert.Equal("trial-000", report.Ranked[0].Id);
    }

    [Smelt.TestSupport.RequiresCommandFact("bwrap", "rustc", "clippy-driver")]
    public async Task The_pass_at_1_metric_samples_from_each_trial_adapter_and_judges_in_the_sandbox()
    {
        var samples = File.ReadAllLines(TinyWorld.BundledSamples).Where(l => l.Trim().Length > 0).ToList();
        var ids = samples.Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("task_id").GetString()!).Distinct().Take(3).ToHashSet();
        var problems = File.ReadAllLines(TinyWorld.BundledProblems).Where(l => ids.Contains(System.Text.Json.JsonDocument.Parse(l).RootElement.GetProperty("task_id").GetString()!));
        _dir.Write("eval-problems.jsonl", string.Join("\n", problems) + "\n");
        var path = SweepFile("metric: pass@1\nparameters:\n  train.lr: [2.0e-3]\neval:\n  problems: eval-problems.jsonl\n  samples: 2\n  workers: 2\n  crates: false\n  timeout: 5\n", steps: 2);
        var source = new ReplaySource();
        var report = await new SweepRunner(SweepSpec.Load(path), samples: source).RunAsync();
        var trial = Assert.Single(report.Ranked);
        Assert.True(trial.Status == "finished", trial.Error);
        Assert.Equal([Path.Combine(_dir.File("sweep"), "trial-000", "adapter")], source.Adapters);
        using var summary = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir.File("sweep"), "trial-000", "eval", "summary.json")));
        var expected = summary.RootElement.GetProperty("pass_at_k").GetProperty("1").GetProperty("value").GetDouble();
        Assert.Equal(expected, trial.PassAt1!.Value, 5); // summary.json rounds to 6 decimals
        Assert.Equal(trial.PassAt1, trial.Metric);
        Assert.InRange(expected, 0.01, 0.99); // the replayed samples mix passing and failing ones
        Assert.NotNull(trial.CompileRate);
    }

    [Fact]
    public void Random_search_draws_reproducibly_inside_the_ranges()
    {
        var path = SweepFile("method: random\ntrials: 5\nseed: 3\nparameters:\n  train.lr: {min: 1.0e-4, max: 1.0e-2, log: true}\n  lora.r: [2, 4, 8]\n  train.warmup_steps: {min: 0, max: 3, int: true}\n");
        var spec = SweepSpec.Load(path);
        var a = SweepRunner.Expand(spec);
        var b = SweepRunner.Expand(SweepSpec.Load(path));
        Assert.Equal(5, a.Count);
        Assert.Equal(a.Select(t => t.AssignmentText), b.Select(t => t.AssignmentText));
        Assert.All(a, t =>
        {
            var lr = double.Parse(t.Assignment.Single(x => x.Key == "train.lr").Value, CultureInfo.InvariantCulture);
            Assert.InRange(lr, 1e-4, 1e-2);
            Assert.Contains(t.Assignment.Single(x => x.Key == "lora.r").Value, new[] { "2", "4", "8" });
            Assert.Contains(t.Assignment.Single(x => x.Key == "train.warmup_steps").Value, new[] { "0", "1", "2", "3" });
        });
        Assert.True(a.Select(t => t.AssignmentText).Distinct().Count() > 1);
        // Every drawn config is valid for the trainer.
        Assert.Equal(5, new SweepRunner(spec).Plan().Count);
    }
}
