using Smelt.Eval;
using Smelt.TestSupport;

namespace Smelt.Eval.Tests;

/// <summary>The project's own problem set (data/problems), so the default run works without the shared data.</summary>
[Collection("toolchain")]
public sealed class BundledProblemsTests(EvalFixture fx) : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static string Bundled(string name) => Path.Combine(TestEnvironment.RepoRoot, "data", "problems", name);

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task Every_bundled_canonical_solution_passes()
    {
        var outcome = await fx.RunAsync(_dir, Bundled("smelt_rust_problems.jsonl"), null, new EvalOptions());
        var bad = outcome.Results.Where(r => r.Status != Status.Passed).Select(r => $"{r.TaskId}: {r.Status} {r.FirstError}").ToList();
        Assert.True(bad.Count == 0, string.Join("\n", bad));
        Assert.True(outcome.Results.Count >= 40, $"only {outcome.Results.Count} bundled problems");
        Assert.Empty(outcome.Issues);
        Assert.Contains(outcome.Results, r => r.TaskId == "Smelt/7"); // a fn main style test
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task Demo_samples_get_the_statuses_their_author_intended()
    {
        // The expectations are the ones written next to each sample in data/problems/build_samples_demo.py.
        string[] expected =
        [
            Status.Passed, Status.Passed, Status.Passed, Status.Failed,        // Smelt/0: three shapes, one wrong
            Status.Passed, Status.Failed,                                      // Smelt/7 (fn main tests)
            Status.Passed, Status.CompileError, Status.Timeout,                // Smelt/22
            Status.Passed, Status.Failed,                                      // Smelt/28
            Status.Passed, Status.Failed,                                      // Smelt/13 (fenced with prose)
            Status.Passed, Status.Failed,                                      // Smelt/33
            Status.Passed, Status.Failed,                                      // Smelt/40
            Status.Passed, Status.CompileError,                                // Smelt/19 (unlabelled fence; E0499)
            Status.Timeout,                                                    // Smelt/43
        ];
        var outcome = await fx.RunAsync(_dir, Bundled("smelt_rust_problems.jsonl"), Bundled("smelt_rust_samples_demo.jsonl"),
            new EvalOptions { RunTimeout = TimeSpan.FromSeconds(2) });
        var byLine = outcome.Results.OrderBy(r => r.Line).ToList();
        Assert.Equal(expected.Length, byLine.Count);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(expected[i] == byLine[i].Status, $"line {byLine[i].Line} ({byLine[i].TaskId}): expected {expected[i]}, got {byLine[i].Status} ({byLine[i].FirstError})");
        Assert.Contains("E0499", byLine[18].ErrorCodes);
    }
}
