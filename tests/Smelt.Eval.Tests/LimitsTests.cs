using Smelt.Core;
using Smelt.Eval;
using Smelt.Sandbox;
using Smelt.TestSupport;

namespace Smelt.Eval.Tests;

[Collection("toolchain")]
public sealed class LimitsTests(EvalFixture fx) : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private string Problems() => _dir.Write("p.jsonl", Fixtures.SumEvenX + "\n");

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task Running_out_of_memory_is_a_runtime_error()
    {
        var samples = _dir.Write("s.jsonl", string.Join("\n",
            Fixtures.Sample("T/sum_even", "    let v = vec![1u8; 1 << 40];\n    v.len() as i64\n}\n"),
            Fixtures.Sample("T/sum_even", "    let mut keep: Vec<Vec<u8>> = Vec::new();\n    loop { keep.push(vec![1u8; 1 << 24]); if keep.len() == usize::MAX { break; } }\n    keep.len() as i64\n}\n")) + "\n");
        var outcome = await fx.RunAsync(_dir, Problems(), samples,
            new EvalOptions { RunTimeout = TimeSpan.FromSeconds(20), RunMemoryBytes = 256L << 20 });
        Assert.All(outcome.Results, r =>
        {
            Assert.Equal(Status.RuntimeError, r.Status);
            Assert.True(r.CompileOk);
            Assert.Contains("memory", r.FirstError);
        });
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task A_sample_that_fills_its_disk_quota_does_not_pass_even_with_the_right_answer()
    {
        // 600 MB in files under the 64 MiB file limit, against the 512 MiB disk limit, write errors ignored: with the tmpfs
        // quota the writes fail (ENOSPC) and the tests pass and exit 0; with the poll the run is killed. Neither passes.
        var samples = _dir.Write("s.jsonl", Fixtures.Sample("T/sum_even",
            "    for i in 0..10 { let _ = std::fs::write(format!(\"fill-{i}.bin\"), vec![7u8; 60 << 20]); }\n    v.iter().filter(|x| *x % 2 == 0).sum()\n}\n") + "\n");
        var outcome = await fx.RunAsync(_dir, Problems(), samples, new EvalOptions { RunTimeout = TimeSpan.FromSeconds(30) });
        var r = Assert.Single(outcome.Results);
        Assert.Equal(Status.RuntimeError, r.Status);
        Assert.True(r.CompileOk);
        Assert.Contains("disk limit exceeded", r.FirstError);
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task A_compile_over_its_budget_is_a_compile_timeout()
    {
        // Compile-time evaluation that runs for minutes (the lint that would stop it is allowed), so the compile is over
        // its budget on any machine; a fast compile against a tiny budget would race the watchdog's 100 ms resolution.
        const string slowConst = "    #[allow(long_running_const_eval)]\n    const SPIN: u64 = { let mut i = 0u64; let mut s = 0u64; while i < 50_000_000_000 { s = s.wrapping_add(i ^ (s >> 3)); i += 1; } s };\n";
        var samples = _dir.Write("s.jsonl", Fixtures.Sample("T/sum_even", slowConst + "    v.iter().sum::<i64>() + (SPIN as i64 & 0)\n}\n") + "\n" +
                                            Fixtures.Sample("T/sum_even", slowConst + "    (SPIN as i64) & 0\n}\n") + "\n");
        var outcome = await fx.RunAsync(_dir, Problems(), samples, new EvalOptions { CompileTimeout = TimeSpan.FromMilliseconds(300) });
        Assert.All(outcome.Results, r =>
        {
            Assert.Equal(Status.Timeout, r.Status);
            Assert.Equal("compile", r.Phase);
            Assert.False(r.CompileOk);
        });
        Assert.Equal(ExitCodes.Ok, outcome.ExitCode);
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task Sandbox_failures_are_sandbox_errors_and_exit_code_3()
    {
        var samples = _dir.Write("s.jsonl", Fixtures.Sample("T/sum_even", "    v.iter().filter(|x| *x % 2 == 0).sum()\n}\n") + "\n");
        var request = new EvalRequest
        {
            ProblemsPath = Problems(), SamplesPath = samples, OutDirectory = Path.Combine(_dir.Path, "out"),
            CratesDirectory = Path.Combine(TestEnvironment.RepoRoot, "configs", "crates"),
        };
        var outcome = await EvalRunner.RunAsync(request, new FailingTestRuns(fx.Sandbox), null, CancellationToken.None);
        var r = Assert.Single(outcome.Results);
        Assert.Equal(Status.SandboxError, r.Status);
        Assert.Equal("run", r.Phase);
        Assert.Contains("injected", r.FirstError);
        Assert.Equal(ExitCodes.Infrastructure, outcome.ExitCode);
        Assert.Equal(1, outcome.Summary.StatusCounts[Status.SandboxError]);
    }

    /// <summary>The real sandbox, except that running a test binary reports an infrastructure failure.</summary>
    private sealed class FailingTestRuns(ISandbox inner) : ISandbox
    {
        public string Name => inner.Name;
        public SandboxWorkDirectory CreateWorkDirectory(string label) => inner.CreateWorkDirectory(label);

        public Task<SandboxResult> RunAsync(SandboxRequest request, CancellationToken cancellationToken = default) =>
            request.Command[0].EndsWith("/smelt_batch", StringComparison.Ordinal)
                ? Task.FromResult(new SandboxResult { InfrastructureError = "injected: mount failed" })
                : inner.RunAsync(request, cancellationToken);
    }
}
