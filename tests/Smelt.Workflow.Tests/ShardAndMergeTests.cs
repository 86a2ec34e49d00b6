using System.Text.Json;
using Smelt.Core;
using Smelt.Eval;
using Smelt.Sandbox;
using Smelt.TestSupport;

namespace Smelt.Workflow.Tests;

public sealed class ShardAndMergeTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Shard_specs_parse_and_reject_bad_input_clearly()
    {
        Assert.Equal(new ShardSpec(2, 4), ShardSpec.Parse("2/4"));
        Assert.Contains("out of range", Assert.Throws<SmeltException>(() => ShardSpec.Parse("4/4")).Message);
        Assert.Contains("expected i/N", Assert.Throws<SmeltException>(() => ShardSpec.Parse("1-4")).Message);
        Assert.Contains("at least 1", Assert.Throws<SmeltException>(() => ShardSpec.Parse("0/0")).Message);
        Assert.Throws<SmeltException>(() => ShardSpec.Parse("-1/3"));
    }

    [Fact]
    public void Shards_partition_the_tasks_deterministically_and_keep_every_sample_of_a_task_together()
    {
        var ids = Enumerable.Range(0, 500).Select(i => $"Rust/{i}").ToList();
        var n = 7;
        var owners = ids.ToDictionary(id => id, id => Enumerable.Range(0, n).Single(i => new ShardSpec(i, n).Contains(id)));
        Assert.All(Enumerable.Range(0, n), i => Assert.InRange(owners.Values.Count(o => o == i), 40, 110)); // roughly balanced
        Assert.Equal(owners, ids.ToDictionary(id => id, id => ShardSpec.ShardOf(id, n))); // the same answer every time

        var samples = _dir.Write("s.jsonl", string.Join("\n", ids.Take(50).SelectMany(id => new[] { 0, 1, 2 }.Select(k =>
            JsonSerializer.Serialize(new { task_id = id, completion = $"c{k}" })))) + "\nnot json\n");
        var kept = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var r = ShardSlicer.Slice(samples, _dir.File($"s{i}.jsonl"), new ShardSpec(i, 3));
            var lines = File.ReadAllLines(r.Output);
            kept.AddRange(lines);
            foreach (var line in lines.Where(l => l.StartsWith('{')))
                Assert.Equal(i, ShardSpec.ShardOf(JsonDocument.Parse(line).RootElement.GetProperty("task_id").GetString()!, 3));
        }
        Assert.Equal(File.ReadAllLines(samples).Order(), kept.Order()); // every line exactly once (the bad one in shard 0)
        Assert.Contains("not json", File.ReadAllLines(_dir.File("s0.jsonl")));
    }

    /// <summary>Nine bundled problems with the bundled demo completions (some pass, some fail, some do not compile).</summary>
    private (string Problems, string Samples) BundledSubset()
    {
        var samples = File.ReadAllLines(TinyWorld.BundledSamples).Where(l => l.Trim().Length > 0).ToList();
        var ids = samples.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("task_id").GetString()!).ToHashSet();
        var problems = File.ReadAllLines(TinyWorld.BundledProblems).Where(l => ids.Contains(JsonDocument.Parse(l).RootElement.GetProperty("task_id").GetString()!)).ToList();
        return (_dir.Write("problems.jsonl", string.Join("\n", problems) + "\n"), _dir.Write("samples.jsonl", string.Join("\n", samples) + "\n"));
    }

    private static EvalRequest Request(string problems, string samples, string outDir) => new()
    {
        ProblemsPath = problems,
        SamplesPath = samples,
        OutDirectory = outDir,
        Ks = [1, 2],
        Options = new EvalOptions { Workers = 2, RunTimeout = TimeSpan.FromSeconds(5) },
        CratesDirectory = null,
        Overwrite = true,
    };

    private static readonly string[] RunInfoKeys = ["problems", "problems_sha256", "samples", "samples_sha256", "workers", "wall_seconds", "eval_seconds", "samples_per_second", "merged_from", "shards", "evaluated_now"];

    [RequiresCommandFact("bwrap", "rustc", "clippy-driver")]
    public async Task Merged_shard_summaries_equal_the_unsharded_run()
    {
        var (problems, samples) = BundledSubset();
        var sandbox = SandboxFactory.Create("bwrap");
        var whole = await EvalRunner.RunAsync(Request(problems, samples, _dir.File("whole")), sandbox, null, CancellationToken.None);
        Assert.True(whole.Summary.StatusCounts[Status.Passed] > 0 && whole.Summary.StatusCounts[Status.Passed] < whole.Summary.NSamples,
            "the bundled demo samples should mix passing and failing ones");

        const int n = 3;
        var dirs = new List<string>();
        for (var i = 0; i < n; i++)
        {
            var dir = _dir.File($"shard{i}");
            var request = ShardSlicer.ForShard(Request(problems, samples, dir), $"{i}/{n}");
            var shardOutcome = await EvalRunner.RunAsync(request, sandbox, null, CancellationToken.None);
            Assert.True(shardOutcome.Summary.NTasks < whole.Summary.NTasks);
            dirs.Add(dir);
        }
        var merged = EvalMerge.Merge(dirs, _dir.File("merged"));

        using var a = JsonDocument.Parse(File.ReadAllText(whole.SummaryPath));
        using var b = JsonDocument.Parse(File.ReadAllText(merged.SummaryPath));
        var wholeProps = a.RootElement.EnumerateObject().Where(p => !RunInfoKeys.Contains(p.Name)).ToDictionary(p => p.Name, p => p.Value.GetRawText());
        var mergedProps = b.RootElement.EnumerateObject().Where(p => !RunInfoKeys.Contains(p.Name)).ToDictionary(p => p.Name, p => p.Value.GetRawText());
        var differing = wholeProps.Keys.Union(mergedProps.Keys).Where(k => wholeProps.GetValueOrDefault(k) != mergedProps.GetValueOrDefault(k))
            .Select(k => $"{k}: {wholeProps.GetValueOrDefault(k)} vs {mergedProps.GetValueOrDefault(k)}").ToList();
        Assert.True(differing.Count == 0, string.Join("\n", differing));
        Assert.Equal(whole.Summary.NSamples, merged.Summary.NSamples);

        // And sample by sample: the same verdicts.
        static string Key(SampleResult r) => $"{r.TaskId}#{r.Sample}:{r.Status}:{r.CompileOk}:{r.TestOk}:{r.ClippyWarnings}";
        var mergedResults = Jsonl.Read(Path.Combine(merged.OutDirectory, "results.jsonl")).Select(l => SampleResult.FromJson(l.Value!.Value)!).ToList();
        Assert.Equal(whole.Results.Select(Key).Order(), mergedResults.Select(Key).Order());

        // A missing shard is an error, not a silently smaller summary.
        var ex = Assert.Throws<SmeltException>(() => EvalMerge.Merge(dirs.Take(2).ToList(), _dir.File("merged-2")));
        Assert.Contains("missing", ex.Message);
        // The same shard twice is an overlap.
        Assert.Throws<SmeltException>(() => EvalMerge.Merge([dirs[0], dirs[0], dirs[1], dirs[2]], _dir.File("merged-dup")));
    }

    [Fact]
    public void Merging_refuses_unfinished_shards_and_mismatched_settings()
    {
        string Shard(string name, bool complete, string ks, string sandbox)
        {
            var d = _dir.File(name);
            Directory.CreateDirectory(d);
            File.WriteAllText(Path.Combine(d, "summary.json"), $$"""{"complete": {{(complete ? "true" : "false")}}, "pass_at_k": {{{ks}}}, "sandbox": "{{sandbox}}", "clippy_version": "clippy 0.1", "input_issues": 0}""");
            File.WriteAllText(Path.Combine(d, "results.jsonl"), "");
            return d;
        }
        var ok = Shard("a", true, "\"1\": {}", "bwrap");
        Assert.Contains("did not finish", Assert.Throws<SmeltException>(() => EvalMerge.Merge([ok, Shard("b", false, "\"1\": {}", "bwrap")], _dir.File("o1"))).Message);
        Assert.Contains("same --k", Assert.Throws<SmeltException>(() => EvalMerge.Merge([ok, Shard("c", true, "\"1\": {}, \"10\": {}", "bwrap")], _dir.File("o2"))).Message);
        Assert.Contains("sandbox", Assert.Throws<SmeltException>(() => EvalMerge.Merge([ok, Shard("d", true, "\"1\": {}", "firejail")], _dir.File("o3"))).Message);
        Assert.Contains("not an eval output directory", Assert.Throws<SmeltException>(() => EvalMerge.Merge([_dir.File("nothing")], _dir.File("o4"))).Message);
    }
}
