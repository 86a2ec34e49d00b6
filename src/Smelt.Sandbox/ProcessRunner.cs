using System.Diagnostics;
using System.Text;

namespace Smelt.Sandbox;

/// <summary>What a backend hands to <see cref="ProcessRunner"/>: the full host argv (e.g. <c>bwrap ... -- cmd</c>) and how to wrap it.</summary>
internal sealed record LaunchSpec
{
    public required IReadOnlyList<string> Argv { get; init; }
    /// <summary>Environment of the backend process itself (not of the program, which the backend sets up).</summary>
    public required IReadOnlyDictionary<string, string> LauncherEnvironment { get; init; }
    public required string HostWorkDirectory { get; init; }
    public required ResourceLimits Limits { get; init; }
    public byte[]? Stdin { get; init; }
    /// <summary>Set RLIMIT_CPU/AS/FSIZE/NOFILE/CORE on the launcher so that everything below inherits them.</summary>
    public bool ApplyRlimits { get; init; } = true;
    /// <summary>A file the launcher opens as fd 9 for the backend (bwrap's <c>--seccomp 9</c>; dash only redirects single-digit fds).</summary>
    public string? Fd9File { get; init; }
    /// <summary>A file the launcher creates as fd 8 for the backend to write status into (bwrap's <c>--json-status-fd 8</c>).</summary>
    public string? Fd8File { get; init; }
    public bool UseCgroup { get; init; } = true;
    /// <summary>Extra clean-up on timeout/kill (e.g. <c>docker kill</c>).</summary>
    public Action? OnKill { get; init; }
}

/// <summary>
/// Starts a backend process through a tiny <c>/bin/sh</c> launcher that first moves itself into the run's cgroups (so every
/// descendant is accounted from its first instruction: no race with a fast fork), then sets the run's rlimits and
/// execs the backend. Captures output with a cap, enforces the wall clock, polls the work directory size,
/// and kills the whole tree (cgroup sweep + the backend's own PID namespace) at the end of every run.
/// </summary>
internal static class ProcessRunner
{
    private const string LauncherFailure = "smelt-launcher-failed:";
    public const string TruncationMark = "\n[smelt: output truncated after {0} bytes]\n";

    public static async Task<SandboxResult> RunAsync(LaunchSpec spec, CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        RunCgroup? cgroup = null;
        try
        {
            if (spec.UseCgroup) cgroup = CgroupSupport.Current.CreateRun(spec.Limits);
            using var quota = DiskQuota.Limit(spec.HostWorkDirectory, spec.Limits.MaxDiskBytes);
            var psi = BuildStartInfo(spec, cgroup);
            using var process = new Process { StartInfo = psi };
            try { await Spawner.StartAsync(process); }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                return Infra($"cannot start {spec.Argv[0]}: {ex.Message}", stopwatch);
            }
            return await SuperviseAsync(process, spec, cgroup, stopwatch, cancellationToken);
        }
        catch (SandboxSetupException ex)
        {
            return Infra(ex.Message, stopwatch);
        }
        finally
        {
            cgroup?.Dispose();
        }
    }

    internal static ProcessStartInfo BuildStartInfo(LaunchSpec spec, RunCgroup? cgroup)
    {
        var script = new StringBuilder();
        var args = new List<string>();
        var procs = cgroup?.ProcsFiles ?? [];
        // $1..$n: cgroup.procs files; then the optional fd-9 file; then argv.
        script.Append($"n={procs.Count}; ");
        script.Append($"while [ \"$n\" -gt 0 ]; do echo $$ > \"$1\" || {{ echo \"{LauncherFailure} cannot join cgroup $1\" >&2; exit 125; }}; shift; n=$((n-1)); done; ");
        args.AddRange(procs);
        var redirect = "";
        if (spec.Fd9File is not null)
        {
            script.Append("f=$1; shift; ");
            args.Add(spec.Fd9File);
            redirect += " 9<\"$f\"";
        }
        if (spec.Fd8File is not null)
        {
            script.Append("s=$1; shift; ");
            args.Add(spec.Fd8File);
            redirect += " 8>\"$s\"";
        }
        if (spec.ApplyRlimits)
        {
            // Shell builtins rather than an exec of prlimit: one exec less per launch (measured ~1-5 ms). POSIX-mode shells
            // (dash, bash as sh) count -f in 512-byte blocks and -v in KiB. The CPU soft limit goes first (soft <= hard).
            var l = spec.Limits;
            var cpu = Math.Max(1, (long)Math.Ceiling(l.CpuTime.TotalSeconds));
            var limits = new (string Flag, long Value, string What)[]
            {
                ("-S -t", cpu, "CPU time"), ("-H -t", cpu + 1, "CPU time"),
                ("-v", Math.Max(1, AddressSpaceLimit(l, cgroup) / 1024), "address space"),
                ("-f", Math.Max(1, l.MaxFileSizeBytes / 512), "file size"),
                ("-n", l.MaxOpenFiles, "open files"),
                ("-c", 0, "core size"),
            };
            foreach (var (flag, value, what) in limits)
                script.Append($"ulimit {flag} {value} || {{ echo \"{LauncherFailure} cannot set the {what} limit to {value} (ulimit {flag})\" >&2; exit 125; }}; ");
        }
        script.Append($"exec \"$@\"{redirect}");
        var psi = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = spec.HostWorkDirectory,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(script.ToString());
        psi.ArgumentList.Add("smelt-launcher");
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var a in spec.Argv) psi.ArgumentList.Add(a);
        psi.Environment.Clear();
        foreach (var (k, v) in spec.LauncherEnvironment) psi.Environment[k] = v;
        return psi;
    }

    /// <summary>
    /// RLIMIT_AS: the memory limit itself when no memory cgroup is available; twice it when the cgroup enforces resident
    /// memory, because toolchains reserve far more address space than they touch (rustc, LLVM thread stacks) and the
    /// address-space cap is then only the fast-fail guard against huge single allocations.
    /// </summary>
    internal static long AddressSpaceLimit(ResourceLimits limits, RunCgroup? cgroup) =>
        cgroup?.Memory is not null ? limits.MemoryBytes * 2 : limits.MemoryBytes;

    private static async Task<SandboxResult> SuperviseAsync(Process process, LaunchSpec spec, RunCgroup? cgroup, Stopwatch stopwatch, CancellationToken cancellationToken)
    {
        var limits = spec.Limits;
        var killed = 0;
        var outputOverflow = false;
        var diskOverflow = false;
        void KillTree()
        {
            if (Interlocked.Exchange(ref killed, 1) == 1) return;
            try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } catch (System.ComponentModel.Win32Exception) { }
            cgroup?.KillAll();
            try { spec.OnKill?.Invoke(); } catch (Exception) { }
        }

        var stdout = new CappedReader(process.StandardOutput.BaseStream, limits.MaxOutputBytes, () => { outputOverflow = true; KillTree(); });
        var stderr = new CappedReader(process.StandardError.BaseStream, limits.MaxOutputBytes, () => { outputOverflow = true; KillTree(); });
        var stdoutTask = stdout.RunAsync();
        var stderrTask = stderr.RunAsync();
        var stdinTask = WriteStdinAsync(process, spec.Stdin);

        var timedOut = false;
        var watch = Watchdog.Watch(spec.HostWorkDirectory, limits.WallTime, limits.MaxDiskBytes,
            onTimeout: () => { timedOut = true; KillTree(); },
            onDiskFull: () => { diskOverflow = true; KillTree(); });
        using (cancellationToken.Register(KillTree))
        {
            await process.WaitForExitAsync(CancellationToken.None);
        }
        Watchdog.Stop(watch);
        // Anything the program left behind (a daemonized child) dies now; then the pipes close.
        cgroup?.KillAll();
        if (DiskQuota.OverLimit(spec.HostWorkDirectory, limits.MaxDiskBytes)) diskOverflow = true;
        var drained = Task.WhenAll(stdoutTask, stderrTask);
        if (await Task.WhenAny(drained, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None)) != drained)
        {
            KillTree();
            stdout.Abandon();
            stderr.Abandon();
        }
        try { await stdinTask; } catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException) { }
        cancellationToken.ThrowIfCancellationRequested();

        var code = process.ExitCode;
        var stderrText = stderr.Text();
        if (code == 125 && stderrText.Contains(LauncherFailure, StringComparison.Ordinal))
            return Infra(stderrText.Trim(), stopwatch);

        int? signal = code is > 128 and < 160 ? code - 128 : null;
        return Verdict(new RunEnd(signal is null ? code : null, signal, timedOut, killed == 1, outputOverflow, diskOverflow, stopwatch.Elapsed),
            stdout.Output, stderr.Output, cgroup, limits);
    }

    /// <summary>How a run ended, as either launch path (a launcher process, a session's supervisor) observed it.</summary>
    internal sealed record RunEnd(int? Exit, int? Signal, bool TimedOut, bool KilledBySmelt, bool OutputOverflow, bool DiskOverflow, TimeSpan Elapsed);

    /// <summary>The result of a run that ended: which limit, if any, ended it, read from the signal, the cgroup and the flags.</summary>
    internal static SandboxResult Verdict(RunEnd end, CappedOutput stdout, CappedOutput stderr, RunCgroup? cgroup, ResourceLimits limits)
    {
        var stderrText = stderr.Text();
        var signal = end.Signal;
        var memoryHit = cgroup?.MemoryLimitHit() == true ||
                        (signal is 6 or 9 or 11 && stderrText.Contains("memory allocation of", StringComparison.Ordinal));
        return new SandboxResult
        {
            ExitCode = end.TimedOut ? null : end.Exit,
            Signal = end.TimedOut ? Native.SIGKILL : signal,
            TimedOut = end.TimedOut,
            CpuLimitExceeded = signal == 24 || HardCpuKill(signal, end.KilledBySmelt, memoryHit, end.Elapsed, limits),
            MemoryLimitExceeded = memoryHit,
            ProcessLimitExceeded = cgroup?.ProcessLimitHit() == true,
            DiskLimitExceeded = end.DiskOverflow || signal == 25,
            OutputLimitExceeded = end.OutputOverflow,
            StdoutTruncated = stdout.Truncated,
            StderrTruncated = stderr.Truncated,
            Stdout = stdout.Text(),
            Stderr = stderrText,
            Elapsed = end.Elapsed,
        };
    }

    /// <summary>
    /// RLIMIT_CPU's hard limit (soft + 1 s) ends a program that survives SIGXCPU with SIGKILL. A SIGKILL that Smelt did
    /// not send, that no memory limit explains, after at least the CPU budget of wall time, is that kill. (A program
    /// using several cores can reach its CPU budget sooner; it is then reported as killed by signal 9, still not passing.)
    /// </summary>
    internal static bool HardCpuKill(int? signal, bool killedBySmelt, bool memoryHit, TimeSpan elapsed, ResourceLimits limits) =>
        signal == Native.SIGKILL && !killedBySmelt && !memoryHit && elapsed >= limits.CpuTime;

    private static async Task WriteStdinAsync(Process process, byte[]? stdin)
    {
        try
        {
            if (stdin is { Length: > 0 })
                await process.StandardInput.BaseStream.WriteAsync(stdin);
        }
        catch (IOException) { }
        finally
        {
            try { process.StandardInput.Close(); } catch (IOException) { }
        }
    }

    internal static SandboxResult Infra(string message, Stopwatch stopwatch) =>
        new() { InfrastructureError = Smelt.Core.Redactor.Redact(message), Elapsed = stopwatch.Elapsed };

    /// <summary>Keeps the first <c>cap</c> bytes of a stream, drains the rest, and calls back once when the cap is passed.</summary>
    /// <summary>Drains a stream into a <see cref="CappedOutput"/>.</summary>
    private sealed class CappedReader(Stream stream, int cap, Action onOverflow)
    {
        private volatile bool _abandoned;
        public CappedOutput Output { get; } = new(cap);
        public bool Truncated => Output.Truncated;

        public async Task RunAsync()
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (!_abandoned)
                {
                    var n = await stream.ReadAsync(buffer);
                    if (n == 0) break;
                    if (Output.Append(buffer.AsSpan(0, n))) onOverflow();
                }
            }
            catch (IOException) { }
            catch (ObjectDisposedException) { }
        }

        public void Abandon()
        {
            _abandoned = true;
            try { stream.Dispose(); } catch (IOException) { }
        }

        public string Text() => Output.Text();
    }
}

/// <summary>Keeps the first <c>cap</c> bytes of a run's stream and marks the text when more arrived.</summary>
internal sealed class CappedOutput(int cap)
{
    private readonly MemoryStream _kept = new();
    public bool Truncated { get; private set; }

    /// <summary>Keeps what fits; true exactly once, for the chunk that went past the cap.</summary>
    public bool Append(ReadOnlySpan<byte> data)
    {
        lock (_kept)
        {
            var room = cap - (int)_kept.Length;
            if (room > 0) _kept.Write(data[..Math.Min(room, data.Length)]);
            if (data.Length <= room || Truncated) return false;
            Truncated = true;
            return true;
        }
    }

    public string Text()
    {
        lock (_kept)
        {
            var text = Encoding.UTF8.GetString(_kept.GetBuffer(), 0, (int)_kept.Length);
            return Truncated ? text + string.Format(System.Globalization.CultureInfo.InvariantCulture, ProcessRunner.TruncationMark, cap) : text;
        }
    }
}
