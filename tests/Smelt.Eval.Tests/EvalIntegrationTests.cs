using System.Text;
using System.Text.Json;
using Smelt.Core;
using Smelt.Eval;
using Smelt.TestSupport;

namespace Smelt.Eval.Tests;

/// <summary>Real rustc/clippy-driver inside real bubblewrap.</summary>
[Collection("toolchain")]
public sealed class EvalIntegrationTests(EvalFixture fx) : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private const string Good = "    v.iter().filter(|x| *x % 2 == 0).sum()\n}\n";

    /// <summary>A correct answer in every shape a model produces.</summary>
    public static readonly string[] CorrectShapes =
    [
        Good,
        "    v.iter().filter(|x| *x % 2 == 0).sum()\n",
        "fn sum_even(v: Vec<i64>) -> i64 {\n    let mut s = 0;\n    for x in v { if x % 2 == 0 { s += x; } }\n    s\n}\n",
        "use std::collections::HashSet;\nfn is_even(x: i64) -> bool { x % 2 == 0 }\nfn sum_even(v: Vec<i64>) -> i64 { let _h: HashSet<i64> = HashSet::new(); v.into_iter().filter(|&x| is_even(x)).sum() }\n",
        "Here is the solution:\n\n```rust\nfn sum_even(v: Vec<i64>) -> i64 {\n    v.iter().filter(|x| *x % 2 == 0).sum()\n}\n```\n\nIt keeps the even numbers.",
        "```rust\nfn sum_even(v: Vec<i64>) -> i64 {\n    v.iter().filter(|x| *x % 2 == 0).sum()\n}\n\nfn main() {\n    println!(\"{}\", sum_even(vec![2, 3]));\n}\n```\n",
        Good + "\nfn main() {\n    println!(\"{}\", sum_even(vec![1]));\n}\n",
        "fn sum_even(v: Vec<i64>) -> i64 {\n    v.iter().filter(|x| *x % 2 == 0).sum()\n",
        "fn sum_even(v: Vec<i64>) -> i64 { v.iter().filter(|x| *x % 2 == 0).sum() }\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn mine() { assert!(false); }\n}\n",
        "    let _brace = \"}\"; let _c = '{'; // }\n    v.iter().filter(|x| *x % 2 == 0).sum()\n}\n",
        "~~~\n    v.iter().filter(|x| *x % 2 == 0).sum()\n}\n~~~\n",
    ];

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task A_correct_answer_in_every_shape_passes()
    {
        var problems = _dir.Write("p.jsonl", Fixtures.SumEvenX + "\n");
        var samples = _dir.Write("s.jsonl", string.Join("\n", CorrectShapes.Select(c => Fixtures.Sample("T/sum_even", c))) + "\n");
        var outcome = await fx.RunAsync(_dir, problems, samples);
        var bad = outcome.Results.Where(r => r.Status != Status.Passed).Select(r => $"sample {r.Sample}: {r.Status} {r.FirstError}").ToList();
        Assert.True(bad.Count == 0, string.Join("\n", bad));
        Assert.Equal(CorrectShapes.Length, outcome.Results.Count);
        Assert.All(outcome.Results, r => Assert.True(r.TestsRun >= 1));
        Assert.Equal(ExitCodes.Ok, outcome.ExitCode);
    }

    /// <summary>name, completion, expected status.</summary>
    private static readonly (string Name, string Completion, string Status)[] Kinds =
    [
        ("pass", Good, Status.Passed),
        ("pass-clippy", "    let mut s = 0;\n    for i in 0..v.len() { if v[i] % 2 == 0 { s = s + v[i]; } }\n    return s;\n}\n", Status.Passed),
        ("wrong", "    v.iter().sum()\n}\n", Status.Failed),
        ("panic", "    v[100]\n}\n", Status.Failed),
        ("type-error", "    v.iter().sum::<i32>()\n}\n", Status.CompileError),
        ("undefined", "    missing_helper(v)\n}\n", Status.CompileError),
        ("borrow", "    let mut w = v; let r = &w; w.push(1); r.len() as i64\n}\n", Status.CompileError),
        ("syntax", "    let x = ;\n    x\n}\n", Status.CompileError),
        ("exit", "    std::process::exit(0)\n}\n", Status.RuntimeError),
        ("stack", "    fn deep(n: u64) -> u64 { if n == u64::MAX { 0 } else { 1 + deep(n + 1) } }\n    deep(0) as i64\n}\n", Status.RuntimeError),
    ];

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task Statuses_are_right_and_do_not_depend_on_batching()
    {
        var lines = new List<string>();
        var expected = new List<(string Name, string Status)>();
        for (var copy = 0; copy < 5; copy++)
            foreach (var (name, completion, status) in Kinds)
            {
                lines.Add(Fixtures.Sample("T/sum_even", completion, new Dictionary<string, object> { ["kind"] = name, ["copy"] = copy }));
                expected.Add((name, status));
            }
        var problems = _dir.Write("p.jsonl", Fixtures.SumEvenX + "\n");
        var samples = _dir.Write("s.jsonl", string.Join("\n", lines) + "\n");
        Assert.Equal(50, lines.Count);

        using var batchedDir = new TempDir();
        using var aloneDir = new TempDir();
        var batched = await fx.RunAsync(batchedDir, problems, samples, new EvalOptions { RunTimeout = TimeSpan.FromSeconds(3), Workers = 1, MaxBatchSize = 50 });
        var alone = await fx.RunAsync(aloneDir, problems, samples, new EvalOptions { RunTimeout = TimeSpan.FromSeconds(3), MaxBatchSize = 1 });

        Assert.Contains(batched.Results, r => r.BatchSize == 50 - 5 * 4); // the compiling ones shared one build
        Assert.All(alone.Results, r => Assert.Equal(1, r.BatchSize));
        var b = batched.Results.ToDictionary(r => r.Sample);
        var a = alone.Results.ToDictionary(r => r.Sample);
        for (var i = 0; i < 50; i++)
        {
            var (name, status) = expected[i];
            Assert.True(status == b[i].Status, $"sample {i} ({name}) in a batch of 50: expected {status}, got {b[i].Status} ({b[i].FirstError})");
            Assert.True(status == a[i].Status, $"sample {i} ({name}) alone: expected {status}, got {a[i].Status} ({a[i].FirstError})");
            Assert.Equal(a[i].ErrorCodes, b[i].ErrorCodes);
            Assert.Equal(a[i].ClippyWarnings, b[i].ClippyWarnings);
            Assert.Equal(a[i].ClippyLints, b[i].ClippyLints);
        }
        var byKind = batched.Results.GroupBy(r => expected[r.Sample].Name).ToDictionary(g => g.Key, g => g.First());
        Assert.Contains("E0308", byKind["type-error"].ErrorCodes);
        Assert.Contains("E0425", byKind["undefined"].ErrorCodes);
        Assert.Contains("E0502", byKind["borrow"].ErrorCodes);
        Assert.Equal(0, byKind["pass"].ClippyWarnings);
        Assert.Contains("clippy::needless_return", byKind["pass-clippy"].ClippyLints);
        Assert.Contains("clippy::needless_range_loop", byKind["pass-clippy"].ClippyLints);
        Assert.True(byKind["pass-clippy"].ClippyWarnings >= 3);
        Assert.Equal("stack overflow", byKind["stack"].FirstError);
        Assert.StartsWith("panicked:", byKind["wrong"].FirstError);
        Assert.Equal(10, batched.Summary.StatusCounts[Status.Failed]);
        Assert.Equal(0.6, batched.Summary.CompileRate!.Value, 6);
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task Without_clippy_there_are_no_lint_counts()
    {
        var problems = _dir.Write("p.jsonl", Fixtures.SumEvenX + "\n");
        var samples = _dir.Write("s.jsonl", Fixtures.Sample("T/sum_even", Kinds[1].Completion) + "\n" + Fixtures.Sample("T/sum_even", "    x\n}\n") + "\n");
        var outcome = await fx.RunAsync(_dir, problems, samples, new EvalOptions { Clippy = false });
        var r = outcome.Results.OrderBy(x => x.Sample).ToList();
        Assert.Equal([Status.Passed, Status.CompileError], r.Select(x => x.Status));
        Assert.Null(r[0].ClippyWarnings);
        Assert.Empty(r[0].ClippyLints);
        Assert.Contains("E0425", r[1].ErrorCodes);
        Assert.Null(outcome.Summary.ClippyCleanRate);
        Assert.Null(outcome.Toolchain.ClippyVersion);
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task Infinite_loops_time_out_alone_and_in_a_batch()
    {
        var problems = _dir.Write("p.jsonl", Fixtures.SumEvenX + "\n");
        var samples = _dir.Write("s.jsonl", string.Join("\n",
            Fixtures.Sample("T/sum_even", "    loop {}\n}\n"),
            Fixtures.Sample("T/sum_even", Good),
            Fixtures.Sample("T/sum_even", "    let mut x = 0i64; while x >= 0 { x = (x + 1) % 7; } x\n}\n")) + "\n");
        var options = new EvalOptions { RunTimeout = TimeSpan.FromSeconds(2) };
        var batched = await fx.RunAsync(_dir, problems, samples, options with { MaxBatchSize = 3, Workers = 1 });
        using var d2 = new TempDir();
        var alone = await fx.RunAsync(d2, problems, samples, options with { MaxBatchSize = 1 });
        foreach (var outcome in new[] { batched, alone })
        {
            var r = outcome.Results.OrderBy(x => x.Sample).ToList();
            Assert.Equal([Status.Timeout, Status.Passed, Status.Timeout], r.Select(x => x.Status));
            Assert.Equal("run", r[0].Phase);
            Assert.True(r[0].CompileOk);
        }
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task Main_style_tests_crates_and_both_formats_work()
    {
        var px = _dir.Write("x.jsonl", Fixtures.SumEvenX + "\n" + Fixtures.RegexX + "\n");
        var canonical = await fx.RunAsync(_dir, px, null);
        Assert.All(canonical.Results, r => Assert.Equal(Status.Passed, r.Status));
        Assert.Equal(2, canonical.Results.Count);

        using var d2 = new TempDir();
        var pm = d2.Write("m.jsonl", Fixtures.MainStyle + "\n");
        var samples = d2.Write("s.jsonl", string.Join("\n",
            Fixtures.Sample("M/triple", "    x * 3\n}\n"),
            Fixtures.Sample("M/triple", "    x + 3\n}\n"),
            Fixtures.Sample("M/triple", "```rust\nfn triple(x: i32) -> i32 {\n    x * 3\n}\nfn main() { println!(\"{}\", triple(1)); }\n```")) + "\n");
        var main = await fx.RunAsync(d2, pm, samples);
        Assert.Equal([Status.Passed, Status.Failed, Status.Passed], main.Results.OrderBy(r => r.Sample).Select(r => r.Status));
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task Bad_input_is_reported_with_file_and_line_and_the_rest_is_evaluated()
    {
        var problems = _dir.Write("p.jsonl", Fixtures.SumEvenX + "\n");
        var sb = new MemoryStream();
        void L(string s) { var b = Encoding.UTF8.GetBytes(s + "\n"); sb.Write(b); }
        L(Fixtures.Sample("T/sum_even", Good));                                    // 1 ok
        L("{\"task_id\": \"T/sum_even\", \"completion\": ");                      // 2 malformed
        L(Fixtures.Sample("T/nope", Good));                                        // 3 unknown task
        L(Fixtures.Sample("T/sum_even", ""));                                      // 4 empty -> evaluated, compile_error
        L(Fixtures.Sample("T/sum_even", new string('x', 300 * 1024)));             // 5 enormous -> rejected
        L(Fixtures.Sample("T/sum_even", string.Concat(Enumerable.Repeat("//\n", 5001)))); // 6 too many lines -> rejected
        sb.Write([0x7b, 0x00, 0x7d, 0x0a]);                                        // 7 raw NUL byte
        sb.Write([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]);                      // 8 invalid UTF-8
        L(Fixtures.Sample("T/sum_even", "    0\u0000\n}\n"));                     // 9 escaped NUL -> rejected
        L(Fixtures.Sample("T/sum_even", Good, new Dictionary<string, object> { ["sample_id"] = 7 })); // 10
        L(Fixtures.Sample("T/sum_even", "    1\n}\n", new Dictionary<string, object> { ["sample_id"] = 7 })); // 11 duplicate id
        L(Fixtures.Sample("T/sum_even", Good));                                    // 12 identical to line 1: warned, evaluated
        L("[1, 2]");                                                               // 13 not an object
        L("{\"task_id\": 5, \"completion\": \"x\"}");                              // 14 wrong type
        var samples = _dir.WriteBytes("s.jsonl", sb.ToArray());

        var outcome = await fx.RunAsync(_dir, problems, samples);
        string Issue(int line) => Assert.Single(outcome.Issues, i => i.Line == line).ToString();
        Assert.Contains("s.jsonl:2: malformed JSON", Issue(2));
        Assert.Contains("unknown task_id 'T/nope'", Issue(3));
        Assert.Contains("empty", Issue(4));
        Assert.Contains("256 KiB cap", Issue(5));
        Assert.Contains("5000-line cap", Issue(6));
        Assert.Contains("NUL byte", Issue(7));
        Assert.Contains("not valid UTF-8", Issue(8));
        Assert.Contains("NUL character", Issue(9));
        Assert.Contains("duplicate sample", Issue(11));
        Assert.Contains("line 10", Issue(11));
        Assert.Contains("identical to line 1", Issue(12));
        Assert.Contains("expected a JSON object", Issue(13));
        Assert.Contains("key 'task_id' must be a string", Issue(14));

        var byLine = outcome.Results.ToDictionary(r => r.Line);
        Assert.Equal([1, 4, 5, 6, 9, 10, 12], byLine.Keys.Order());
        Assert.Equal(Status.Passed, byLine[1].Status);
        Assert.Equal(Status.CompileError, byLine[4].Status);
        Assert.Equal(Status.Rejected, byLine[5].Status);
        Assert.Equal(Status.Rejected, byLine[6].Status);
        Assert.Equal(Status.Rejected, byLine[9].Status);
        Assert.Equal(Status.Passed, byLine[10].Status);
        Assert.Equal(7, byLine[10].Extra!.Value.GetProperty("sample_id").GetInt32());
        Assert.Equal(Status.Passed, byLine[12].Status);
        Assert.Equal(ExitCodes.Ok, outcome.ExitCode);
        var issuesFile = File.ReadAllLines(Path.Combine(_dir.Path, "out", "issues.jsonl"));
        Assert.Equal(outcome.Issues.Count, issuesFile.Length);
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task Task_ids_are_data_never_paths()
    {
        const string hostile = "../../../../tmp/smelt-escape-probe";
        var line = Fixtures.SumEvenX.Replace("\"T/sum_even\"", JsonSerializer.Serialize(hostile));
        var problems = _dir.Write("p.jsonl", line + "\n" + Fixtures.SumEvenX.Replace("\"T/sum_even\"", "\"/etc/passwd\"") + "\n");
        var samples = _dir.Write("s.jsonl", Fixtures.Sample(hostile, Good) + "\n" + Fixtures.Sample("/etc/passwd", "    0\n}\n") + "\n");
        var before = File.ReadAllText("/etc/passwd");
        var outcome = await fx.RunAsync(_dir, problems, samples);
        Assert.Equal(Status.Passed, outcome.Results.Single(r => r.TaskId == hostile).Status);
        Assert.Equal(Status.Failed, outcome.Results.Single(r => r.TaskId == "/etc/passwd").Status);
        Assert.False(File.Exists("/tmp/smelt-escape-probe"));
        Assert.False(Directory.Exists("/tmp/smelt-escape-probe"));
        Assert.Equal(before, File.ReadAllText("/etc/passwd"));
        Assert.Equal(["issues.jsonl", "results.jsonl", "summary.json"], Directory.GetFileSystemEntries(Path.Combine(_dir.Path, "out")).Select(Path.GetFileName).Order());
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task Secret_like_completions_are_flagged_counted_and_masked()
    {
        var problems = _dir.Write("p.jsonl", Fixtures.SumEvenX + "\n");
        const string aws = "AKIA" + "ABCDEFGHIJKLMNOP";
        const string hf = "hf_" + "abcdefghijklmnopqrstuvwxyzABCDEFGH";
        var samples = _dir.Write("s.jsonl", string.Join("\n",
            Fixtures.Sample("T/sum_even", $"    let _k = \"{aws}\";\n    {aws}\n}}\n"),
            Fixtures.Sample("T/sum_even", $"    // token {hf}\n    0\n}}\n"),
            Fixtures.Sample("T/sum_even", "    // -----BEGIN RSA PRIVATE KEY-----\n    0\n}\n"),
            Fixtures.Sample("T/sum_even", Good)) + "\n");
        var outcome = await fx.RunAsync(_dir, problems, samples);
        Assert.Equal(3, outcome.Summary.SecretLikeSamples);
        var summary = JsonDocument.Parse(File.ReadAllText(outcome.SummaryPath)).RootElement;
        Assert.Equal(3, summary.GetProperty("secret_like_samples").GetInt32());
        var results = File.ReadAllText(Path.Combine(_dir.Path, "out", "results.jsonl"));
        Assert.DoesNotContain(aws, results);   // the compiler's message quotes the identifier
        Assert.DoesNotContain(hf, results);
        Assert.Contains("aws_access_key_id", results);
        Assert.Contains(Redactor.Mask, results);
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task Verbatim_runs_of_the_training_set_are_flagged_and_counted()
    {
        var problems = _dir.Write("p.jsonl", Fixtures.SumEvenX + "\n");
        // A memorised training record: the completion below repeats its body word for word.
        const string memorised = "    let mut total = 0i64;\n    for value in v.iter() {\n        if value % 2 == 0 {\n            total += *value;\n        }\n    }\n    // keep the running total of the even values and hand it back to the caller unchanged\n    total\n}\n";
        var training = _dir.Write("train.jsonl", string.Join("\n",
            System.Text.Json.JsonSerializer.Serialize(new { prompt = "Sum the evens.", gen = "fn sum_even(v: Vec<i64>) -> i64 {\n" + memorised }),
            System.Text.Json.JsonSerializer.Serialize(new { text = "fn unrelated() -> u8 { 7 }" })) + "\n");
        var samples = _dir.Write("s.jsonl", string.Join("\n", Fixtures.Sample("T/sum_even", memorised), Fixtures.Sample("T/sum_even", Good)) + "\n");
        var outcome = await fx.RunAsync(_dir, problems, samples, trainingData: training, verbatimTokens: 20);
        var bySample = outcome.Results.OrderBy(r => r.Sample).ToArray();
        Assert.True(bySample[0].VerbatimRun >= 20, $"memorised completion: run {bySample[0].VerbatimRun}");
        Assert.Equal(0, bySample[1].VerbatimRun);
        Assert.Equal(Status.Passed, bySample[0].Status);
        var summary = JsonDocument.Parse(File.ReadAllText(outcome.SummaryPath)).RootElement;
        Assert.Equal(1, summary.GetProperty("verbatim_leak_samples").GetInt32());

        var plain = await fx.RunAsync(_dir, problems, samples);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(File.ReadAllText(plain.SummaryPath)).RootElement.GetProperty("verbatim_leak_samples").ValueKind);
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task An_interrupted_run_keeps_its_results_and_resume_finishes_it()
    {
        var problems = _dir.Write("p.jsonl", Fixtures.SumEvenX + "\n");
        var samples = _dir.Write("s.jsonl", string.Join("\n", Enumerable.Range(0, 6).Select(i =>
            Fixtures.Sample("T/sum_even", i % 2 == 0 ? Good : "    loop {}\n}\n"))) + "\n");
        using var cts = new CancellationTokenSource();
        var options = new EvalOptions { RunTimeout = TimeSpan.FromSeconds(5), MaxBatchSize = 6, Workers = 1 };
        var resultsPath = Path.Combine(_dir.Path, "out", "results.jsonl");
        var run = fx.RunAsync(_dir, problems, samples, options, ct: cts.Token);
        // Cancel once the first verdicts are on disk.
        for (var i = 0; i < 600 && !(File.Exists(resultsPath) && File.ReadAllLines(resultsPath).Length >= 1); i++) await Task.Delay(50);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
        var kept = File.ReadAllLines(resultsPath);
        Assert.InRange(kept.Length, 1, 5);
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir.Path, "out", "summary.json"))).RootElement;
        Assert.False(summary.GetProperty("complete").GetBoolean());
        Assert.Equal(kept.Length, summary.GetProperty("n_samples").GetInt32());

        await Assert.ThrowsAsync<SmeltException>(() => EvalRunner.RunAsync(new EvalRequest
        {
            ProblemsPath = problems, SamplesPath = samples, OutDirectory = Path.Combine(_dir.Path, "out"),
        }, fx.Sandbox, null, CancellationToken.None));

        var resumed = await fx.RunAsync(_dir, problems, samples, options with { RunTimeout = TimeSpan.FromSeconds(1) }, resume: true);
        Assert.Equal(6, resumed.Results.Count);
        Assert.Equal(6, File.ReadAllLines(resultsPath).Length);
        Assert.Equal(3, resumed.Summary.StatusCounts[Status.Passed]);
        Assert.Equal(3, resumed.Summary.StatusCounts[Status.Timeout]);

        // A changed completion is evaluated again; unchanged ones keep their verdicts.
        var lines = File.ReadAllLines(samples);
        lines[0] = Fixtures.Sample("T/sum_even", "    v.iter().sum()\n}\n");
        File.WriteAllLines(samples, lines);
        var again = await fx.RunAsync(_dir, problems, samples, options with { RunTimeout = TimeSpan.FromSeconds(1) }, resume: true);
        Assert.Equal(Status.Failed, again.Results.Single(r => r.Sample == 0).Status);
        Assert.Equal(2, again.Summary.StatusCounts[Status.Passed]);
        Assert.Equal(6, File.ReadAllLines(resultsPath).Length);
    }
}
