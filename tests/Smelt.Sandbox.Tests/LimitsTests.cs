using Smelt.Core;

namespace Smelt.Sandbox.Tests;

/// <summary>Resource limits, output capture and the work-directory contract, against real backends.</summary>
public sealed class LimitsTests
{
    private static ISandbox Bwrap() => SandboxFactory.Create("bwrap");

    private static async Task<SandboxResult> Sh(ISandbox sandbox, string script, ResourceLimits? limits = null, byte[]? stdin = null, string? work = null)
    {
        using var w = work is null ? sandbox.CreateWorkDirectory("limits") : null;
        return await sandbox.RunAsync(new SandboxRequest
        {
            Command = ["/bin/sh", "-c", script], WorkDirectory = work ?? w!.Path, Limits = limits ?? new ResourceLimits(), Stdin = stdin,
        });
    }

    [SandboxFact("bwrap")]
    public async Task Stdin_is_delivered_and_exit_codes_come_back()
    {
        var r = await Sh(Bwrap(), "cat; exit 7", stdin: "line one\nline two\n"u8.ToArray());
        Assert.Equal(7, r.ExitCode);
        Assert.Null(r.Signal);
        Assert.Equal("line one\nline two\n", r.Stdout);
        Assert.Equal("exit code 7", r.Outcome);
    }

    [SandboxFact("bwrap")]
    public async Task A_signal_death_is_reported_as_a_signal()
    {
        var r = await Sh(Bwrap(), "kill -SEGV $$");
        Assert.Equal(11, r.Signal);
        Assert.Null(r.ExitCode);
    }

    [SandboxFact("bwrap")]
    public async Task Stderr_flood_is_capped_marked_and_stops_the_program()
    {
        var r = await Sh(Bwrap(), "while :; do echo 'error line error line error line' >&2; done", new ResourceLimits { MaxOutputBytes = 4096, WallTime = TimeSpan.FromSeconds(30) });
        Assert.True(r.StderrTruncated);
        Assert.True(r.OutputLimitExceeded);
        Assert.False(r.TimedOut);
        Assert.False(r.Succeeded);
        Assert.StartsWith("error line", r.Stderr);
        Assert.EndsWith("[smelt: output truncated after 4096 bytes]\n", r.Stderr);
        Assert.True(r.Stderr.Length <= 4096 + 60);
    }

    [SandboxFact("bwrap")]
    public async Task Wall_clock_limit_kills_the_tree()
    {
        using var work = Bwrap().CreateWorkDirectory("wall");
        var r = await Sh(Bwrap(), "trap '' TERM; (trap '' TERM; sleep 300) & sleep 300", new ResourceLimits { WallTime = TimeSpan.FromSeconds(1) }, work: work.Path);
        Assert.True(r.TimedOut);
        Assert.Equal(9, r.Signal);
        Assert.Null(r.ExitCode);
        Assert.Empty(await SelfCheck.HostProcessesWithAsync("sleep 300", TimeSpan.FromSeconds(3)));
    }

    [SandboxFact("bwrap")]
    public async Task Cancellation_kills_the_run_and_throws()
    {
        var sandbox = Bwrap();
        using var work = sandbox.CreateWorkDirectory("cancel");
        var marker = "smelt-cancel-" + Guid.NewGuid().ToString("N")[..10];
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sandbox.RunAsync(new SandboxRequest
        {
            Command = ["/bin/sh", "-c", "sleep 300", marker], WorkDirectory = work.Path, Limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(60) },
        }, cts.Token));
        Assert.Empty(await SelfCheck.HostProcessesWithAsync(marker, TimeSpan.FromSeconds(3)));
    }

    [SandboxFact("bwrap")]
    public async Task File_size_limit_stops_a_large_write()
    {
        using var work = Bwrap().CreateWorkDirectory("fsize");
        var r = await Sh(Bwrap(), "head -c 10000000 /dev/zero > big.bin", new ResourceLimits { MaxFileSizeBytes = 1 << 20 }, work: work.Path);
        Assert.False(r.Succeeded);
        Assert.True(r.DiskLimitExceeded, r.Outcome);
        Assert.Equal(1 << 20, new FileInfo(Path.Combine(work.Path, "big.bin")).Length);
    }

    [SandboxFact("bwrap")]
    public async Task Private_tmp_is_sized()
    {
        var r = await Sh(Bwrap(), "head -c 3000000 /dev/zero > /tmp/fill || echo FULL", new ResourceLimits { MaxDiskBytes = 1 << 20 });
        Assert.Contains("FULL", r.Stdout);
    }

    [SandboxFact("bwrap")]
    public async Task Open_files_limit_applies()
    {
        var r = await Sh(Bwrap(), "ulimit -n", new ResourceLimits { MaxOpenFiles = 77 });
        Assert.Equal("77", r.Stdout.Trim());
    }

    [SandboxFact("bwrap")]
    public async Task Cpu_limit_stops_a_spinning_program()
    {
        var r = await Sh(Bwrap(), "while :; do :; done", new ResourceLimits { CpuTime = TimeSpan.FromSeconds(1), WallTime = TimeSpan.FromSeconds(60) });
        Assert.True(r.CpuLimitExceeded || r.TimedOut, r.Outcome);
        Assert.False(r.Succeeded);
    }

    [MemoryCgroupFact]
    public async Task Memory_cgroup_is_created_with_the_limit_and_removed_after_the_run()
    {
        var support = CgroupSupport.Current;
        const long limit = (300L << 20) + 4096 * 7;
        var sandbox = Bwrap();
        var run = Sh(sandbox, "sleep 2", new ResourceLimits { MemoryBytes = limit });
        string? seen = null;
        for (var i = 0; i < 150 && seen is null; i++)
        {
            await Task.Delay(20);
            foreach (var dir in Directory.EnumerateDirectories(support.MemoryParent!, $"smelt-{Environment.ProcessId}-*"))
            {
                try
                {
                    if (File.ReadAllText(Path.Combine(dir, "memory.limit_in_bytes")).Trim() == limit.ToString() &&
                        File.ReadAllText(Path.Combine(dir, "cgroup.procs")).Trim().Length > 0)
                        seen = dir;
                }
                catch (IOException) { }
            }
        }
        var r = await run;
        Assert.True(r.Succeeded, r.Outcome);
        Assert.NotNull(seen);
        Assert.False(Directory.Exists(seen), "the run's cgroup was not removed");
    }

    [MemoryCgroupFact(needsRust: true)]
    public async Task Memory_cgroup_stops_a_program_below_the_address_space_cap()
    {
        var sandbox = Bwrap();
        using var work = sandbox.CreateWorkDirectory("oom");
        File.WriteAllText(Path.Combine(work.Path, "probe.rs"), SelfCheck.ProbeSource());
        var c = await Rust.CompileAsync(sandbox, work.Path, "probe.rs", "probe");
        Assert.True(c.Succeeded, c.Stderr);
        // RLIMIT_AS is 2 x 192 MiB here, so touching 320 MiB is only stopped by the cgroup.
        var r = await sandbox.RunAsync(new SandboxRequest
        {
            Command = [Path.Combine(work.Path, "probe"), "alloc", "320"], WorkDirectory = work.Path,
            Limits = new ResourceLimits { MemoryBytes = 192L << 20 },
        });
        Assert.False(r.Succeeded);
        Assert.DoesNotContain("ALLOCATED", r.Stdout);
        Assert.True(r.MemoryLimitExceeded, r.Outcome + r.Stdout);
    }

    [SandboxFact("bwrap")]
    public async Task Disk_quota_kills_a_program_spreading_writes_over_many_files()
    {
        using var work = Bwrap().CreateWorkDirectory("quota");
        var r = await Sh(Bwrap(), "i=0; while :; do head -c 1000000 /dev/zero > f$i; i=$((i+1)); done",
            new ResourceLimits { MaxDiskBytes = 8L << 20, MaxFileSizeBytes = 1L << 20, WallTime = TimeSpan.FromSeconds(60) }, work: work.Path);
        Assert.True(r.DiskLimitExceeded, r.Outcome);
        Assert.False(r.TimedOut);
    }

    [SandboxFact("bwrap")]
    public async Task Bad_requests_are_infrastructure_errors_not_program_failures()
    {
        var sandbox = Bwrap();
        using var work = sandbox.CreateWorkDirectory("bad");
        var relative = await sandbox.RunAsync(new SandboxRequest { Command = ["sh", "-c", "true"], WorkDirectory = work.Path });
        Assert.Contains("absolute path", relative.InfrastructureError);
        var missing = await sandbox.RunAsync(new SandboxRequest { Command = ["/bin/true"], WorkDirectory = work.Path, ReadOnlyPaths = ["/no/such/dir"] });
        Assert.Contains("/no/such/dir", missing.InfrastructureError);
        var secret = await sandbox.RunAsync(new SandboxRequest { Command = ["/bin/true"], WorkDirectory = work.Path, Environment = new Dictionary<string, string> { ["AWS_SECRET_ACCESS_KEY"] = "x" } });
        Assert.Contains("AWS_SECRET_ACCESS_KEY", secret.InfrastructureError);
        Assert.False(missing.Succeeded);
        Assert.StartsWith("sandbox error:", missing.Outcome);
    }

    [SandboxFact("bwrap")]
    public async Task A_command_that_cannot_start_is_an_infrastructure_error_and_faking_one_is_not()
    {
        var sandbox = Bwrap();
        using var work = sandbox.CreateWorkDirectory("nostart");
        var missing = await sandbox.RunAsync(new SandboxRequest { Command = ["/usr/bin/no-such-program"], WorkDirectory = work.Path });
        Assert.NotNull(missing.InfrastructureError);
        Assert.Contains("no-such-program", missing.InfrastructureError);
        var fake = await sandbox.RunAsync(new SandboxRequest { Command = ["/bin/sh", "-c", "echo bwrap: cannot mount >&2; exit 1"], WorkDirectory = work.Path });
        Assert.Null(fake.InfrastructureError);
        Assert.Equal(1, fake.ExitCode);
        var killed = await sandbox.RunAsync(new SandboxRequest { Command = ["/bin/sh", "-c", "kill -KILL $$"], WorkDirectory = work.Path });
        Assert.Null(killed.InfrastructureError);
        Assert.Equal(9, killed.Signal);
    }

    [SandboxFact("bwrap")]
    public async Task A_limit_the_host_cannot_grant_is_an_infrastructure_error()
    {
        // Above fs.nr_open (at most 2^30 on any kernel): nobody may set it, so the run must not start at all.
        var r = await Sh(Bwrap(), "echo SHOULD-NOT-RUN", new ResourceLimits { MaxOpenFiles = int.MaxValue });
        Assert.NotNull(r.InfrastructureError);
        Assert.Contains("open files", r.InfrastructureError);
        Assert.DoesNotContain("SHOULD-NOT-RUN", r.Stdout);
    }

    [SandboxFact("bwrap")]
    public async Task Output_files_are_read_safely()
    {
        var sandbox = Bwrap();
        using var work = sandbox.CreateWorkDirectory("outputs");
        var r = await Sh(sandbox, "echo fine > ok.txt; mkdir d; echo nested > d/n.txt; ln -s /etc/hostname link.txt; ln -s /etc dirlink; mkfifo fifo; head -c 5000 /dev/zero > big.bin", work: work.Path);
        Assert.True(r.Succeeded, r.Outcome + r.Stderr);
        Assert.Equal("fine\n", System.Text.Encoding.UTF8.GetString(work.ReadOutputFile("ok.txt")));
        Assert.Equal("nested\n", System.Text.Encoding.UTF8.GetString(work.ReadOutputFile("d/n.txt")));
        Assert.Throws<SmeltException>(() => work.ReadOutputFile("link.txt"));
        Assert.Throws<SmeltException>(() => work.ReadOutputFile("dirlink/hostname"));
        Assert.Throws<SmeltException>(() => work.ReadOutputFile("fifo"));
        Assert.Throws<SmeltException>(() => work.ReadOutputFile("../x"));
        Assert.Throws<SmeltException>(() => work.ReadOutputFile("/etc/passwd"));
        Assert.Throws<SmeltException>(() => work.ReadOutputFile("big.bin", maxBytes: 100));
    }

    [Fact]
    public async Task None_backend_still_limits_and_kills_its_tree()
    {
        var sandbox = SandboxFactory.Create("none", allowUnsandboxed: true, new StringWriter());
        using var work = sandbox.CreateWorkDirectory("none-tree");
        var marker = "smelt-none-tree-" + Guid.NewGuid().ToString("N")[..10];
        var r = await sandbox.RunAsync(new SandboxRequest
        {
            Command = ["/bin/sh", "-c", $"trap '' TERM; setsid sh -c 'trap \"\" TERM; sleep 300' {marker} & sleep 300"],
            WorkDirectory = work.Path, Limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(1) },
        });
        Assert.True(r.TimedOut);
        var left = await SelfCheck.HostProcessesWithAsync(marker, TimeSpan.FromSeconds(3));
        foreach (var pid in left) Native.Kill(pid);
        if (CgroupSupport.Current.PidsParent is not null || CgroupSupport.Current.MemoryParent is not null)
            Assert.Empty(left);
    }
}

/// <summary>Needs bwrap and a memory cgroup controller this user can create children in (v1 or delegated v2).</summary>
public sealed class HardCpuKillTests
{
    private static readonly ResourceLimits Limits = new() { CpuTime = TimeSpan.FromSeconds(2) };

    [Theory]
    [InlineData(9, false, false, 3.5, true)]   // SIGKILL after the CPU budget, not ours, not memory: the hard RLIMIT_CPU kill
    [InlineData(9, true, false, 3.5, false)]   // Smelt killed it (timeout, output cap): not a CPU-limit kill
    [InlineData(9, false, true, 3.5, false)]   // the memory limit explains it
    [InlineData(9, false, false, 0.5, false)]  // too early to have used the budget on one core
    [InlineData(11, false, false, 3.5, false)] // a segfault is not a CPU-limit kill
    [InlineData(null, false, false, 3.5, false)]
    public void Classifies_only_the_hard_limit_kill(int? signal, bool ours, bool memory, double seconds, bool expected) =>
        Assert.Equal(expected, ProcessRunner.HardCpuKill(signal, ours, memory, TimeSpan.FromSeconds(seconds), Limits));
}

public sealed class MemoryCgroupFactAttribute : FactAttribute
{
    public MemoryCgroupFactAttribute(bool needsRust = false)
    {
        if (Smelt.TestSupport.TestEnvironment.FindOnPath("bwrap") is null) Skip = "bwrap is not installed";
        else if (needsRust && Smelt.TestSupport.TestEnvironment.FindOnPath("rustc") is null) Skip = "rustc is not installed";
        else if (CgroupSupport.Current.MemoryParent is null) Skip = $"no usable memory cgroup controller here ({CgroupSupport.Current.Description})";
    }
}
