namespace Smelt.Sandbox.Tests;

public sealed class BwrapBasicsTests
{
    private static ISandbox Bwrap() => SandboxFactory.Create("bwrap");

    [SandboxFact("bwrap")]
    public async Task Runs_a_program_in_its_work_directory_with_an_allow_listed_environment()
    {
        Environment.SetEnvironmentVariable("SMELT_TEST_LEAK_CHECK", "should-not-leak");
        var sandbox = Bwrap();
        using var work = sandbox.CreateWorkDirectory("basics");
        File.WriteAllText(Path.Combine(work.Path, "in.txt"), "hello from host");
        var result = await sandbox.RunAsync(new SandboxRequest
        {
            Command = ["/bin/sh", "-c", "pwd; cat in.txt; echo; env | sort; id -u; echo out > out.txt"],
            WorkDirectory = work.Path,
            Environment = new Dictionary<string, string> { ["EXTRA"] = "given" },
        });
        Assert.True(result.Succeeded, result.Outcome + result.Stderr);
        var lines = result.Stdout.Split('\n');
        Assert.Equal(work.Path, lines[0]);
        Assert.Equal("hello from host", lines[1]);
        Assert.Contains("HOME=/tmp", lines);
        Assert.Contains("EXTRA=given", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("SMELT_TEST_LEAK_CHECK", StringComparison.Ordinal));
        Assert.Contains("65534", lines);
        Assert.Equal("out\n", File.ReadAllText(Path.Combine(work.Path, "out.txt")));
    }

    [SandboxFact("bwrap", needsRust: true)]
    public async Task Compiles_with_the_sysroot_rustc_and_runs_the_binary_inside()
    {
        var sandbox = Bwrap();
        using var work = sandbox.CreateWorkDirectory("rustc");
        File.WriteAllText(Path.Combine(work.Path, "main.rs"), "fn main() { println!(\"{}\", (1..=10).sum::<u32>()); }");
        var compile = await Rust.CompileAsync(sandbox, work.Path, "main.rs", "main");
        Assert.True(compile.Succeeded, compile.Outcome + "\n" + compile.Stderr);
        var run = await sandbox.RunAsync(new SandboxRequest { Command = [Path.Combine(work.Path, "main")], WorkDirectory = work.Path });
        Assert.True(run.Succeeded, run.Outcome + run.Stderr);
        Assert.Equal("55\n", run.Stdout);
    }

    [SandboxFact("bwrap")]
    public async Task Concurrent_runs_are_isolated_from_each_other()
    {
        var sandbox = Bwrap();
        var works = Enumerable.Range(0, 6).Select(i => sandbox.CreateWorkDirectory($"conc{i}")).ToList();
        try
        {
            for (var i = 0; i < works.Count; i++) File.WriteAllText(Path.Combine(works[i].Path, "mine.txt"), $"sample {i}");
            var others = works.Select(w => w.Path).ToList();
            var tasks = works.Select((w, i) => sandbox.RunAsync(new SandboxRequest
            {
                Command = ["/bin/sh", "-c", "cat mine.txt; for d in \"$@\"; do [ \"$d\" != \"$PWD\" ] && ls \"$d\" 2>/dev/null && echo SAW-OTHER; done; true", "sh", .. others],
                WorkDirectory = w.Path,
            })).ToList();
            var results = await Task.WhenAll(tasks);
            for (var i = 0; i < results.Length; i++)
            {
                Assert.True(results[i].Succeeded, $"{i}: {results[i].Outcome} out={results[i].Stdout} err={results[i].Stderr} mem={results[i].MemoryLimitExceeded}");
                Assert.Equal($"sample {i}", results[i].Stdout.Trim());
            }
        }
        finally
        {
            foreach (var w in works) w.Dispose();
        }
    }
}
