using Smelt.Eval;
using Smelt.TestSupport;

namespace Smelt.Eval.Tests;

[Collection("toolchain")]
public sealed class SharedDataTests(EvalFixture fx) : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private const string HumanEvalX = "humaneval-rust/humaneval_x_rust.jsonl";

    [SharedDataFact(HumanEvalX)]
    public async Task All_164_HumanEval_X_canonical_solutions_pass()
    {
        if (TestEnvironment.FindOnPath("bwrap") is null || TestEnvironment.FindOnPath("rustc") is null)
            Assert.Fail("bwrap and rustc are required for this test (run scripts/setup.sh)");
        var outcome = await fx.RunAsync(_dir, TestEnvironment.SharedFile(HumanEvalX), null, new EvalOptions());
        var bad = outcome.Results.Where(r => r.Status != Status.Passed).Select(r => $"{r.TaskId}: {r.Status} {r.FirstError}").ToList();
        Assert.True(bad.Count == 0, string.Join("\n", bad));
        Assert.Equal(164, outcome.Summary.NTasks);
        Assert.Equal(1.0, outcome.Summary.PassAtKValues.Single(p => p.K == 1).Value);
        // Rust/32's test is commented out in the data set: reported, not hidden.
        Assert.Contains(outcome.Issues, i => i.Message.Contains("'Rust/32' defines no test", StringComparison.Ordinal));
        Assert.Equal(0, outcome.Results.Single(r => r.TaskId == "Rust/32").TestsRun);
        Assert.All(outcome.Results.Where(r => r.TaskId != "Rust/32"), r => Assert.True(r.TestsRun >= 1, r.TaskId));
        Assert.True(outcome.Results.Sum(r => r.ClippyWarnings ?? 0) > 0);
    }

    [SharedDataFact("humaneval-rust/humaneval_rust_164.jsonl")]
    public void Human_eval_rust_variants_parse()
    {
        var a = ProblemSet.Load(TestEnvironment.SharedFile("humaneval-rust/humaneval_rust_164.jsonl"));
        Assert.Equal(164, a.InOrder.Count);
        Assert.Equal(ProblemFormat.MultiPLE, a.Format);
        var v3 = TestEnvironment.SharedFile("humaneval-rust/humaneval_rust_v3_180.jsonl");
        if (File.Exists(v3))
        {
            var b = ProblemSet.Load(v3);
            Assert.Equal(180, b.InOrder.Count);
            Assert.Contains(b.InOrder, p => p.Edition == "2024");
        }
        var x = ProblemSet.Load(TestEnvironment.SharedFile(HumanEvalX));
        Assert.Equal(ProblemFormat.HumanEvalX, x.Format);
        Assert.All(x.InOrder, p => Assert.Equal(5, p.Uses.Count));
    }
}
