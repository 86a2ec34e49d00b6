using System.Diagnostics;
using Smelt.TestSupport;

namespace Smelt.Sandbox.Tests;

/// <summary>
/// bwrap sessions (the supervisor): each run must be isolated from the host and from the session's other runs as a plain
/// bwrap launch is, and must end with the same verdict. The runtime attack corpus runs against sessions too
/// (<see cref="AdversarialBwrapSessionTests"/>).
/// </summary>
public sealed class SessionTests : IAsyncLifetime
{
    private readonly ISandbox _bwrap = TestEnvironment.FindOnPath("bwrap") is null ? null! : SandboxFactory.Create("bwrap");
    private readonly string _shared = SandboxPaths.WorkRoot + "/session-ro-" + Guid.NewGuid().ToString("N");
    private ISandboxSession _session = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_shared);
        File.WriteAllText(Path.Combine(_shared, "data.txt"), "shared read-only data");
        if (_bwrap is null) return;
        _session = await _bwrap.OpenSessionAsync([_shared]);
    }

    public async Task DisposeAsync()
    {
        if (_session is not null) await _session.DisposeAsync();
        Directory.Delete(_shared, recursive: true);
    }

    private async Task<SandboxResult> Run(ISandbox sandbox, string script, ResourceLimits? limits = null, SandboxWorkDirectory? work = null, byte[]? stdin = null)
    {
        using var own = work is null ? sandbox.CreateWorkDirectory("sess") : null;
        return await sandbox.RunAsync(new SandboxRequest
        {
            Command = ["/bin/sh", "-c", script],
            WorkDirectory = (work ?? own!).Path,
            ReadOnlyPaths = [_shared],
            Limits = limits ?? new ResourceLimits { WallTime = TimeSpan.FromSeconds(20) },
            Stdin = stdin,
        });
    }

    [SandboxFact("bwrap")]
    public void A_session_uses_the_supervisor_here() => Assert.Equal("supervisor", _session.Mode);

    [SandboxFact("bwrap")]
    public async Task A_run_sees_the_same_world_as_a_plain_bwrap_run()
    {
        const string script =
            "id -u; id -g; hostname; pwd; cat " + "$RO/data.txt; echo; ls -a /tmp | wc -l; grep -c : /proc/net/dev; " +
            "grep -E '^(CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; echo $$; " +
            "if [ -w /usr ]; then echo usr-writable; fi; if touch /usr/x 2>/dev/null; then echo usr-touched; fi; " +
            "if unshare -U true 2>/dev/null; then echo userns; fi; env | sort";
        var plain = await Run(_bwrap, script.Replace("$RO", _shared));
        var session = await Run(_session, script.Replace("$RO", _shared));
        Assert.True(plain.Succeeded, plain.Outcome + plain.Stderr);
        Assert.True(session.Succeeded, session.Outcome + session.Stderr);
        // Everything but the work directory's name (line 4, and $PWD) is identical; it is a fresh directory in both.
        var p = plain.Stdout.Split('\n');
        var s = session.Stdout.Split('\n');
        Assert.Equal(p.Length, s.Length);
        for (var i = 0; i < p.Length; i++)
            if (i != 3 && !p[i].StartsWith("PWD=", StringComparison.Ordinal)) Assert.True(p[i] == s[i], $"line {i + 1}: plain '{p[i]}' vs session '{s[i]}'");
        Assert.Equal("65534", s[0]);
        Assert.Contains("CapEff:\t0000000000000000", s);
        Assert.Contains("CapBnd:\t0000000000000000", s);
        Assert.Contains("NoNewPrivs:\t1", s);
        Assert.Contains("Seccomp:\t2", s);
        Assert.DoesNotContain("userns", s);
        Assert.DoesNotContain("usr-touched", s);
    }

    [SandboxFact("bwrap")]
    public async Task Verdicts_equal_those_of_plain_bwrap_runs()
    {
        var cases = new (string Script, byte[]? Stdin)[]
        {
            ("echo out; echo err >&2; exit 3", null),
            ("kill -SEGV $$", null),
            ("read line; echo \"got $line\"; exit 0", "hello\n"u8.ToArray()),
            ("cat > /dev/null; echo drained", new byte[1 << 20]),
            ("printf 'tab\\tand unicode é\\n'", null),
            ("sleep 1 & echo background-left-behind", null),
            ("/nonexistent-program", null),
        };
        foreach (var (script, stdin) in cases)
        {
            var plain = await Run(_bwrap, script, stdin: stdin);
            var session = await Run(_session, script, stdin: stdin);
            Assert.True(plain.ExitCode == session.ExitCode && plain.Signal == session.Signal && plain.Stdout == session.Stdout && plain.Stderr == session.Stderr,
                $"'{script}': plain {plain.Outcome} [{plain.Stdout}|{plain.Stderr}] vs session {session.Outcome} [{session.Stdout}|{session.Stderr}]");
            Assert.Null(session.InfrastructureError);
        }
    }

    [SandboxFact("bwrap")]
    public async Task Concurrent_runs_cannot_see_or_reach_each_other()
    {
        await using var session = await BwrapSession.StartAsync(SandboxFactory.Find("bwrap")!, [_shared], CancellationToken.None);
        Assert.Contains("netns-per-run", session.Description);
        using var a = session.CreateWorkDirectory("a");
        using var b = session.CreateWorkDirectory("b");
        var marker = "smelt-session-marker-" + Guid.NewGuid().ToString("N")[..10];
        // Run A leaves traces everywhere a neighbour could look: its work directory, /tmp, /dev/shm, a process, a socket.
        var holder = Run(session,
            $"echo secret > mine.txt; echo secret > /tmp/{marker}; echo secret > /dev/shm/{marker}; " +
            $"(exec -a {marker} sleep 30) & " +
            (TestEnvironment.FindOnPath("python3") is null ? "" :
                $"python3 -c \"import socket,time; s=socket.socket(socket.AF_UNIX); s.bind('\\0{marker}'); s.listen(); time.sleep(30)\" & ") +
            "sleep 30", new ResourceLimits { WallTime = TimeSpan.FromSeconds(8) }, a);
        await Task.Delay(1500);
        var probe = await Run(session,
            $"ls {Path.GetDirectoryName(a.Path)}; ls {a.Path} 2>&1; cat /tmp/{marker} /dev/shm/{marker} 2>&1; " +
            $"for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done | grep -c '^{marker}'; " +
            (TestEnvironment.FindOnPath("python3") is null ? "" :
                $"python3 -c \"import socket; s=socket.socket(socket.AF_UNIX); s.connect('\\0{marker}'); print('CONNECTED')\" 2>&1 | tail -1; ") +
            "echo done", work: b);
        var first = await holder;
        Assert.True(first.TimedOut, first.Outcome);
        Assert.True(probe.Succeeded, probe.Outcome + probe.Stderr);
        var lines = probe.Stdout.Split('\n');
        Assert.Equal(Path.GetFileName(b.Path), lines[0]); // the runs root shows only the run's own directory
        Assert.DoesNotContain("secret", probe.Stdout);
        Assert.DoesNotContain("CONNECTED", probe.Stdout);
        Assert.Contains("0", lines); // no process of run A in run B's /proc
        Assert.Equal("secret\n", File.ReadAllText(Path.Combine(a.Path, "mine.txt")));
    }

    /// <summary>
    /// The program's uid maps back to the caller's (root for a root host), so kernel files that check only permissions must
    /// be covered read-only as bwrap covers them, and the session's shared /dev must give a run no place to leave anything
    /// (a file, a socket, a symlink) for a neighbour.
    /// </summary>
    [SandboxFact("bwrap")]
    public async Task Kernel_files_and_dev_are_read_only_in_a_run()
    {
        const string script =
            "for f in /proc/sysrq-trigger /proc/irq/default_smp_affinity /proc/sys/kernel/hostname /proc/bus/pci/devices; do " +
            "if [ -e $f ] && [ -w $f ]; then echo WRITABLE $f; fi; done; " +
            "touch /dev/smelt-left 2>/dev/null && echo CREATED-FILE; mkfifo /dev/smelt-fifo 2>/dev/null && echo CREATED-FIFO; " +
            "ln -s /tmp /dev/smelt-link 2>/dev/null && echo CREATED-LINK; rm -f /dev/stdout 2>/dev/null && echo REMOVED-STDOUT; " +
            "echo ok > /dev/null && echo devnull-ok; echo ok > /dev/shm/x && echo shm-ok; ls /dev/pts | tr '\n' ' '; echo";
        var r = await Run(_session, script);
        Assert.True(r.Succeeded, r.Outcome + r.Stderr);
        Assert.DoesNotContain("WRITABLE", r.Stdout);
        Assert.DoesNotContain("CREATED", r.Stdout);
        Assert.DoesNotContain("REMOVED", r.Stdout);
        Assert.Contains("devnull-ok", r.Stdout);
        Assert.Contains("shm-ok", r.Stdout);
        Assert.Contains("ptmx", r.Stdout); // a pseudo-terminal instance of the run's own: no other run's ptys
        var next = await Run(_session, "ls /dev/shm; ls /dev | grep -c smelt");
        Assert.Equal("0\n", next.Stdout); // the previous run's /dev/shm file is gone with it; nothing of it in /dev
    }

    /// <summary>
    /// Network namespaces are pooled and handed to one run at a time: what a run bound there is gone before the next run
    /// gets the namespace (sequential runs of a session reuse the same one).
    /// </summary>
    [SandboxFact("bwrap")]
    public async Task A_reused_network_namespace_holds_nothing_of_the_run_before()
    {
        if (TestEnvironment.FindOnPath("python3") is null) return;
        var name = "smelt-netns-" + Guid.NewGuid().ToString("N")[..10];
        const string bind = "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind('\\0' + sys.argv[1]); s.listen(); print('bound', open('/proc/self/net/unix').read().count(sys.argv[1]))";
        for (var i = 0; i < 3; i++)
        {
            var r = await _session.RunAsync(new SandboxRequest
            {
                Command = ["/usr/bin/python3", "-c", bind, name],
                WorkDirectory = _session.CreateWorkDirectory("netns").Path,
                Limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(20) },
            });
            Assert.True(r.Succeeded, $"run {i}: {r.Outcome} {r.Stderr}"); // EADDRINUSE if an earlier run's name were still bound
            Assert.Equal("bound 1\n", r.Stdout); // only its own socket is listed
        }
    }

    [SandboxFact("bwrap")]
    public async Task A_timed_out_run_leaves_nothing_behind_and_the_session_goes_on()
    {
        using var work = _session.CreateWorkDirectory("spin");
        var r = await Run(_session, "(trap '' TERM; while :; do :; done) & (sleep 60) & wait",
            new ResourceLimits { WallTime = TimeSpan.FromSeconds(1), CpuTime = TimeSpan.FromSeconds(30) }, work);
        Assert.True(r.TimedOut, r.Outcome);
        var survivors = await SelfCheck.HostProcessesWithAsync(work.Path, TimeSpan.FromSeconds(5));
        Assert.Empty(survivors);
        var after = await Run(_session, "echo alive");
        Assert.Equal("alive\n", after.Stdout);
    }

    [SandboxFact("bwrap")]
    public async Task Limits_hold_per_run()
    {
        var output = await Run(_session, "yes smelt | head -c 5000000",
            new ResourceLimits { WallTime = TimeSpan.FromSeconds(20), MaxOutputBytes = 100_000 });
        Assert.True(output.OutputLimitExceeded && output.StdoutTruncated, output.Outcome);
        Assert.True(output.Stdout.Length < 100_200);

        var cpu = await Run(_session, "while :; do :; done",
            new ResourceLimits { WallTime = TimeSpan.FromSeconds(20), CpuTime = TimeSpan.FromSeconds(1) });
        Assert.True(cpu.CpuLimitExceeded, cpu.Outcome);

        var file = await Run(_session, "head -c 3000000 /dev/zero > big.bin",
            new ResourceLimits { WallTime = TimeSpan.FromSeconds(20), MaxFileSizeBytes = 1 << 20 });
        Assert.True(file.DiskLimitExceeded || file.ExitCode != 0, file.Outcome);

        var tmp = await Run(_session, "head -c 3000000 /dev/zero > /tmp/big.bin",
            new ResourceLimits { WallTime = TimeSpan.FromSeconds(20), MaxDiskBytes = 1 << 20 });
        Assert.NotEqual(0, tmp.ExitCode); // the private /tmp is sized to the disk limit
    }

    [SandboxFact("bwrap")]
    public async Task Requests_outside_the_session_are_refused_as_infrastructure_errors()
    {
        using var foreign = _bwrap.CreateWorkDirectory("foreign");
        var r = await _session.RunAsync(new SandboxRequest { Command = ["/bin/true"], WorkDirectory = foreign.Path });
        Assert.Contains("not created by this session", r.InfrastructureError);

        using var own = _session.CreateWorkDirectory("own");
        var ro = await _session.RunAsync(new SandboxRequest { Command = ["/bin/true"], WorkDirectory = own.Path, ReadOnlyPaths = ["/etc"] });
        Assert.Contains("not opened with the session", ro.InfrastructureError);
    }

    [SandboxFact("bwrap")]
    public async Task A_dead_supervisor_fails_runs_as_infrastructure_errors_never_as_verdicts()
    {
        await using var session = await _bwrap.OpenSessionAsync([_shared]);
        Assert.Equal("supervisor", session.Mode);
        using var work = session.CreateWorkDirectory("victim");
        var running = Run(session, "sleep 20", work: work);
        await Task.Delay(500);
        // The supervisor is the only program of its bwrap; killing it is what a crash would look like.
        var supervisors = Process.GetProcesses().Where(p =>
        {
            try { return File.ReadAllText($"/proc/{p.Id}/cmdline").Contains("/supervisor-", StringComparison.Ordinal) && File.ReadAllText($"/proc/{p.Id}/cmdline").Contains(Path.GetDirectoryName(work.Path)!, StringComparison.Ordinal); }
            catch (IOException) { return false; }
        }).ToList();
        Assert.NotEmpty(supervisors);
        foreach (var p in supervisors) Native.Kill(p.Id);
        var r = await running;
        Assert.NotNull(r.InfrastructureError);
        var later = await Run(session, "echo never");
        Assert.NotNull(later.InfrastructureError);
    }

    [SandboxFact("bwrap")]
    public async Task A_session_that_cannot_start_falls_back_to_one_launch_per_run_and_says_why()
    {
        var broken = new BwrapSandbox("/nonexistent/bwrap");
        await using var session = await broken.OpenSessionAsync([_shared]);
        Assert.Equal("per-run", session.Mode);
        Assert.Contains("/nonexistent/bwrap", broken.SessionProblem);
        await using var again = await broken.OpenSessionAsync([_shared]); // decided once per sandbox, not retried per batch
        Assert.Equal("per-run", again.Mode);
    }

    [SandboxFact("bwrap")]
    public async Task Many_concurrent_runs_each_get_their_own_result()
    {
        var runs = Enumerable.Range(0, 64).Select(i => Run(_session, $"echo run-{i}; exit {i % 7}")).ToList();
        var results = await Task.WhenAll(runs);
        for (var i = 0; i < results.Length; i++)
        {
            Assert.Equal($"run-{i}\n", results[i].Stdout);
            Assert.Equal(i % 7, results[i].ExitCode);
        }
    }
}
