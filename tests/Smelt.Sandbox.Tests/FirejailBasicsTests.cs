namespace Smelt.Sandbox.Tests;

public sealed class FirejailBasicsTests
{
    [SandboxFact("firejail", needsRust: true)]
    public async Task Compiles_and_runs_with_the_sysroot_toolchain()
    {
        var sandbox = SandboxFactory.Create("firejail");
        using var work = sandbox.CreateWorkDirectory("fj-rustc");
        File.WriteAllText(Path.Combine(work.Path, "main.rs"), "fn main() { println!(\"{}\", std::env::var(\"HOME\").unwrap()); }");
        var compile = await Rust.CompileAsync(sandbox, work.Path, "main.rs", "main");
        Assert.True(compile.Succeeded, compile.Outcome + "\n" + compile.Stderr);
        var run = await sandbox.RunAsync(new SandboxRequest { Command = [Path.Combine(work.Path, "main")], WorkDirectory = work.Path });
        Assert.True(run.Succeeded, run.Outcome + run.Stderr);
        Assert.Equal("/tmp\n", run.Stdout);
    }

    [SandboxFact("firejail")]
    public async Task A_command_that_cannot_start_is_an_infrastructure_error_and_faking_one_is_not()
    {
        var sandbox = SandboxFactory.Create("firejail");
        using var work = sandbox.CreateWorkDirectory("fj-nostart");
        var missing = await sandbox.RunAsync(new SandboxRequest { Command = ["/usr/bin/no-such-program"], WorkDirectory = work.Path });
        Assert.NotNull(missing.InfrastructureError);
        var fake = await sandbox.RunAsync(new SandboxRequest { Command = ["/bin/sh", "-c", "echo 'Error: cannot sync with peer' >&2; exit 1"], WorkDirectory = work.Path });
        Assert.Null(fake.InfrastructureError);
        Assert.Equal(1, fake.ExitCode);
        Assert.Equal("Error: cannot sync with peer\n", fake.Stderr);
    }

    [SandboxFact("firejail")]
    public async Task Sees_only_its_own_work_directory_and_a_read_only_root()
    {
        var sandbox = SandboxFactory.Create("firejail");
        using var a = sandbox.CreateWorkDirectory("fj-a");
        using var b = sandbox.CreateWorkDirectory("fj-b");
        File.WriteAllText(Path.Combine(b.Path, "other.txt"), "other sample");
        var r = await sandbox.RunAsync(new SandboxRequest
        {
            Command = ["/bin/sh", "-c", $"pwd; cat {b.Path}/other.txt 2>/dev/null && echo SAW-OTHER; touch /usr/x /etc/x 2>/dev/null && echo WROTE-ROOT; ls /work /home /opt 2>/dev/null | head -3; echo ok > mine.txt; echo done"],
            WorkDirectory = a.Path,
        });
        Assert.True(r.Succeeded, r.Outcome + r.Stderr);
        Assert.StartsWith(a.Path + "\n", r.Stdout);
        Assert.DoesNotContain("SAW-OTHER", r.Stdout);
        Assert.DoesNotContain("WROTE-ROOT", r.Stdout);
        Assert.EndsWith("done\n", r.Stdout);
        Assert.Equal("ok\n", File.ReadAllText(Path.Combine(a.Path, "mine.txt")));
    }

    [Fact]
    public void Without_the_start_nonce_a_failed_run_is_an_infrastructure_error()
    {
        const string nonce = "smelt-started-abc";
        var setupFailed = FirejailSandbox.ClassifyStart(nonce, new SandboxResult { ExitCode = 1, Stderr = "Error: proc 12 cannot sync with peer: unexpected EOF\n" });
        Assert.Contains("firejail could not start the program", setupFailed.InfrastructureError);
        var ran = FirejailSandbox.ClassifyStart(nonce, new SandboxResult { ExitCode = 1, Stderr = nonce + "\nError: fake\n" });
        Assert.Null(ran.InfrastructureError);
        Assert.Equal("Error: fake\n", ran.Stderr);
        var timedOut = FirejailSandbox.ClassifyStart(nonce, new SandboxResult { TimedOut = true, Signal = 9 });
        Assert.Null(timedOut.InfrastructureError);
        var missing = FirejailSandbox.ClassifyStart(nonce, new SandboxResult { ExitCode = 127, Stderr = nonce + " cannot execute /opt/x\n" });
        Assert.Equal("cannot execute /opt/x inside firejail (missing, not executable, or not visible)", missing.InfrastructureError);
        // The program knows the nonce (its parent shell's argv) but writes only after the first line: it stays a program failure.
        var forged = FirejailSandbox.ClassifyStart(nonce, new SandboxResult { ExitCode = 127, Stderr = nonce + "\n" + nonce + " cannot execute /x\n" });
        Assert.Null(forged.InfrastructureError);
        Assert.Equal(127, forged.ExitCode);
    }

    [SandboxFact("firejail")]
    public async Task A_signal_death_is_a_signal_and_the_stderr_is_only_the_programs()
    {
        var sandbox = SandboxFactory.Create("firejail");
        using var work = sandbox.CreateWorkDirectory("segv");
        var r = await sandbox.RunAsync(new SandboxRequest { Command = ["/bin/sh", "-c", "echo before >&2; kill -SEGV $$"], WorkDirectory = work.Path });
        Assert.Equal(11, r.Signal);
        Assert.Equal("before\n", r.Stderr); // no "Segmentation fault" notice from the wrapping shell
        var echo = await sandbox.RunAsync(new SandboxRequest { Command = ["/bin/cat"], WorkDirectory = work.Path, Stdin = "stdin reaches it"u8.ToArray() });
        Assert.Equal("stdin reaches it", echo.Stdout);
        Assert.True(echo.Succeeded, echo.Outcome);
    }

    [SandboxFact("firejail")]
    public async Task A_program_that_leaves_a_child_behind_ends_with_it_and_the_child_is_gone()
    {
        var sandbox = SandboxFactory.Create("firejail");
        using var work = sandbox.CreateWorkDirectory("leftover");
        var marker = "smelt-fj-leftover-" + Guid.NewGuid().ToString("N")[..12];
        var r = await sandbox.RunAsync(new SandboxRequest
        {
            Command = ["/bin/sh", "-c", $"/bin/sh -c 'sleep 300; :' {marker} & echo started; exit 3"],
            WorkDirectory = work.Path,
            Limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(20) },
        });
        Assert.Null(r.InfrastructureError);
        Assert.False(r.TimedOut, r.Outcome); // without the wrapper's kill (or firejail's shutdown) firejail would wait for the sleep
        Assert.Equal(3, r.ExitCode);
        Assert.Equal("started\n", r.Stdout);
        Assert.Empty(await SelfCheck.HostProcessesWithAsync(marker, TimeSpan.FromSeconds(3)));
    }
}
