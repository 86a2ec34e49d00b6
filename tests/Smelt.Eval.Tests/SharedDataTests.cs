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

public sealed class ProblemLoadingTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Broken_problem_lines_are_reported_and_the_rest_load()
    {
        var truncated = Fixtures.Line(new Dictionary<string, string>
        {
            ["task_id"] = "T/truncated", ["prompt"] = "", ["declaration"] = "fn f() -> i32 {\n", ["canonical_solution"] = "    1\n}\n",
            ["test"] = "#[cfg(test)]\nmod tests {\n    use super::*;\n    // BEGIN_TESTS\n", ["example_test"] = "",
        });
        var noSignature = Fixtures.Line(new Dictionary<string, string>
        {
            ["task_id"] = "T/nosig", ["prompt"] = "", ["declaration"] = "use std::fmt;\n", ["canonical_solution"] = "", ["test"] = "", ["example_test"] = "",
        });
        var path = _dir.Write("p.jsonl", string.Join("\n", Fixtures.SumEvenX, "{oops", Fixtures.SumEvenX, truncated, noSignature,
            Fixtures.MainStyle, Fixtures.Line(new Dictionary<string, string> { ["task_id"] = "T/x", ["declaration"] = "fn f() {\n" })) + "\n");
        var set = ProblemSet.Load(path);
        Assert.Equal(["T/sum_even", "T/truncated"], set.InOrder.Select(p => p.TaskId));
        string Issue(int line) => string.Join(" | ", set.Issues.Where(i => i.Line == line).Select(i => i.ToString()));
        Assert.Contains("p.jsonl:2: malformed JSON", Issue(2));
        Assert.Contains("duplicate task_id 'T/sum_even' (first defined on line 1)", Issue(3));
        Assert.Contains("unbalanced delimiters", Issue(4));
        Assert.Contains("does not end with an open function signature", Issue(5));
        Assert.Contains("a problem file must use one format", Issue(6));
        Assert.Contains("missing key 'test'", Issue(7));
    }

    [Fact]
    public void A_file_without_usable_problems_is_bad_input()
    {
        var ex = Assert.Throws<Smelt.Core.SmeltException>(() => ProblemSet.Load(_dir.Write("p.jsonl", "{oops\n")));
        Assert.Equal(Smelt.Core.ExitCodes.BadInput, ex.ExitCode);
        Assert.Contains("p.jsonl: no usable problems; first problem: ", ex.Message);
        Assert.Contains(":1: malformed JSON", ex.Message);
        Assert.Throws<Smelt.Core.SmeltException>(() => ProblemSet.Load(Path.Combine(_dir.Path, "missing.jsonl")));
    }
}
