using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Smelt.Sandbox;

/// <summary>
/// One bubblewrap sandbox running the session supervisor (<c>supervisor.rs</c>), which starts each run in a new PID,
/// mount, IPC and network namespace of its own (and a Landlock domain scoping abstract unix sockets and signals where
/// the kernel has Landlock ABI 6): a fresh /proc (with bwrap's read-only covers), /tmp, /dev/shm and /dev/pts, /dev
/// read-only, only its own work directory visible,
/// its own cgroups, rlimits, every capability dropped, no_new_privs and the seccomp program, as a plain bwrap launch
/// has, and a user namespace of its own (uid 65534 inside, as bwrap's, with a limit of 0 further user namespaces). What
/// runs share is the read-only root, the UTS name, and the one bwrap launch they no longer each pay for.
/// </summary>
internal sealed class BwrapSession : ISandboxSession
{
    private const string Stage = "/.smelt-stage";
    private readonly Process _process;
    private readonly Stream _requests;
    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private readonly ConcurrentDictionary<uint, RunState> _runs = new();
    private readonly IReadOnlyList<string> _readOnly;
    private readonly string _runsRoot;
    private const string UnseenCanary = "the first run of a session wrote canary.txt where the host cannot see it";
    private static volatile bool s_quotaUnseen;
    /// <summary>Tests only: a plain (private) runs root, so that work directory mounts cannot reach the session (the fallback's test).</summary>
    internal static QuotaMount RunsRootMount = QuotaMount.Shared;

    /// <summary>Whether this session's work directories get quota mounts (off when they were seen not to reach the session).</summary>
    internal bool HasQuota { get; }
    private readonly Task _reader;
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource<string?> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile string? _failure;
    private int _nextId;

    public string Name => "bwrap";
    public string Mode => "supervisor";
    public string Description => $"supervisor, {_isolation}";
    private string _isolation = "";

    private BwrapSession(Process process, IReadOnlyList<string> readOnly, string runsRoot, bool quota)
    {
        HasQuota = quota;
        _process = process;
        _requests = process.StandardInput.BaseStream;
        _readOnly = readOnly;
        _runsRoot = runsRoot;
        _reader = Task.Run(ReadFramesAsync);
        _ = Task.Run(async () =>
        {
            var buffer = new char[4096];
            int n;
            while ((n = await process.StandardError.ReadAsync(buffer)) > 0)
                lock (_stderr) if (_stderr.Length < 16384) _stderr.Append(buffer, 0, n);
        });
    }

    /// <summary>Starts the sandbox and waits for the supervisor's "ready"; throws <see cref="SandboxSetupException"/> saying why not.</summary>
    public static async Task<BwrapSession> StartAsync(string bwrap, IReadOnlyList<string> readOnlyPaths, CancellationToken ct)
    {
        var quota = DiskQuota.Enabled && !s_quotaUnseen;
        try
        {
            return await StartAsync(bwrap, readOnlyPaths, quota, ct);
        }
        catch (SandboxSetupException ex) when (quota && ex.Message.StartsWith(UnseenCanary, StringComparison.Ordinal))
        {
            // Mount propagation into the session does not work on this kernel or container: sessions go without the
            // quota mounts (the poll still bounds their work directories), said once.
            if (RunsRootMount == QuotaMount.Shared) s_quotaUnseen = true;
            Console.Error.WriteLine("warning: work-directory quota mounts do not reach bwrap sessions here; session runs fall back to the 100 ms disk poll");
            return await StartAsync(bwrap, readOnlyPaths, quota: false, ct);
        }
    }

    private static async Task<BwrapSession> StartAsync(string bwrap, IReadOnlyList<string> readOnlyPaths, bool quota, CancellationToken ct)
    {
        var (supervisor, problem) = await SupervisorBinary.GetAsync();
        if (supervisor is null) throw new SandboxSetupException(problem!);
        foreach (var ro in readOnlyPaths)
            if (!Path.IsPathRooted(ro) || (!Directory.Exists(ro) && !File.Exists(ro)))
                throw new SandboxSetupException($"read-only path '{ro}' does not exist on this machine");
        var runsRoot = SandboxPaths.NewWorkDirectory(SandboxPaths.WorkRoot, "session", quota ? RunsRootMount : QuotaMount.None);
        quota &= DiskQuota.IsMounted(runsRoot); // its mount failed (said): this session's work directories go without
        Process process;
        try
        {
            var cgroups = CgroupSupport.Current;
            var cgroupMounts = new[] { cgroups.MemoryParent, cgroups.PidsParent }.OfType<string>().Distinct().ToList();
            var seccomp = SeccompFilter.FilePath;
            var argv = BwrapSandbox.SessionArguments(bwrap, readOnlyPaths, runsRoot, supervisor, seccomp, cgroupMounts);
            var psi = new ProcessStartInfo(argv[0])
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
                WorkingDirectory = runsRoot,
            };
            foreach (var a in argv.Skip(1)) psi.ArgumentList.Add(a);
            psi.Environment.Clear();
            psi.Environment["PATH"] = "/usr/bin:/bin";
            process = new Process { StartInfo = psi };
            try { await Spawner.StartAsync(process); }
            catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
            {
                process.Dispose();
                throw new SandboxSetupException($"cannot start {bwrap}: {ex.Message}");
            }
        }
        catch
        {
            DiskQuota.Release(runsRoot);
            try { Directory.Delete(runsRoot, recursive: true); } catch (IOException) { }
            throw;
        }
        var session = new BwrapSession(process, readOnlyPaths, runsRoot, quota);
        string? failure;
        try
        {
            var ready = await Task.WhenAny(session._ready.Task, Task.Delay(TimeSpan.FromSeconds(30), ct));
            failure = ready == session._ready.Task ? await session._ready.Task : "the session supervisor did not report ready within 30 s";
        }
        catch (OperationCanceledException)
        {
            await session.DisposeAsync();
            throw;
        }
        // One run before any real one: a kernel or cgroup setup that refuses a step of the per-run setup (joining the run's
        // cgroups from inside, a mount, the user namespace) makes the whole session fall back to plain launches here,
        // instead of turning every sample into a sandbox error later.
        failure ??= await session.CanaryAsync(ct);
        if (failure is not null)
        {
            await session.DisposeAsync();
            throw new SandboxSetupException(failure);
        }
        return session;
    }

    public SandboxWorkDirectory CreateWorkDirectory(string label) =>
        new(SandboxPaths.NewWorkDirectory(_runsRoot, label, HasQuota ? QuotaMount.Plain : QuotaMount.None));

    private async Task<string?> CanaryAsync(CancellationToken ct)
    {
        using var work = CreateWorkDirectory("canary");
        var r = await RunAsync(new SandboxRequest
        {
            Command = ["/bin/sh", "-c", "echo ok > canary.txt && cat canary.txt"],
            WorkDirectory = work.Path,
            Limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(20) },
        }, ct);
        // The host reads back what the run wrote: a work directory mount that did not reach the session would leave it unseen.
        bool seen;
        try { seen = work.ReadOutputFile("canary.txt").AsSpan().SequenceEqual("ok\n"u8); }
        catch (Smelt.Core.SmeltException) { seen = false; }
        return r.InfrastructureError is { } infra ? $"the first run of a session failed: {infra}"
            : r.Succeeded && r.Stdout == "ok\n" && !seen ? UnseenCanary + " (work directory mounts do not reach the session)"
            : r.Succeeded && r.Stdout == "ok\n" ? null
            : $"the first run of a session did not behave ({r.Outcome}): {SandboxFactory.Tail(r.Stderr)}";
    }

    public async Task<SandboxResult> RunAsync(SandboxRequest request, CancellationToken cancellationToken = default)
    {
        var stopwatch = Stopwatch.StartNew();
        IReadOnlyDictionary<string, string> env;
        try
        {
            RequestValidation.Validate(request);
            env = SandboxPaths.BuildEnvironment(request.Environment);
            if (Path.GetDirectoryName(Path.GetFullPath(request.WorkDirectory).TrimEnd('/')) != _runsRoot)
                throw new SandboxSetupException($"work directory '{request.WorkDirectory}' was not created by this session (use its CreateWorkDirectory)");
            if (SessionPaths.Outside(request.ReadOnlyPaths, _readOnly) is { } outside)
                throw new SandboxSetupException($"read-only path '{outside}' was not opened with the session");
        }
        catch (SandboxSetupException ex)
        {
            return ProcessRunner.Infra(ex.Message, stopwatch);
        }
        if (_failure is { } failed) return ProcessRunner.Infra(failed, stopwatch);

        RunCgroup? cgroup = null;
        var id = (uint)Interlocked.Increment(ref _nextId);
        try
        {
            cgroup = CgroupSupport.Current.CreateRun(request.Limits);
            var state = new RunState(request.Limits.MaxOutputBytes);
            _runs[id] = state;
            state.OnOverflow = () => { state.OutputOverflow = true; Kill(id, state, cgroup); };
            using var quota = DiskQuota.Limit(request.WorkDirectory, request.Limits.MaxDiskBytes);
            await SendAsync(RunRequest(id, request, env, cgroup));
            var watch = Watchdog.Watch(request.WorkDirectory, request.Limits.WallTime, request.Limits.MaxDiskBytes,
                onTimeout: () => { state.TimedOut = true; Kill(id, state, cgroup); },
                onDiskFull: () => { state.DiskOverflow = true; Kill(id, state, cgroup); });
            (string? Status, string? Failure) end;
            using (cancellationToken.Register(() => Kill(id, state, cgroup)))
                end = await state.Done.Task;
            Watchdog.Stop(watch);
            cgroup.KillAll();
            if (DiskQuota.OverLimit(request.WorkDirectory, request.Limits.MaxDiskBytes)) state.DiskOverflow = true;
            cancellationToken.ThrowIfCancellationRequested();
            if (end.Failure is not null) return ProcessRunner.Infra(end.Failure, stopwatch);
            return Result(end.Status!, state, cgroup, request.Limits, stopwatch);
        }
        catch (SandboxSetupException ex)
        {
            return ProcessRunner.Infra(ex.Message, stopwatch);
        }
        finally
        {
            _runs.TryRemove(id, out _);
            cgroup?.Dispose();
        }
    }

    private static SandboxResult Result(string status, RunState state, RunCgroup cgroup, ResourceLimits limits, Stopwatch stopwatch)
    {
        var parts = status.Split(' ');
        var value = parts.Length == 2 && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1;
        var end = new ProcessRunner.RunEnd(parts[0] == "exit" ? value : null, parts[0] == "signal" ? value : null, state.TimedOut,
            state.Killed == 1, state.OutputOverflow, state.DiskOverflow, stopwatch.Elapsed);
        return ProcessRunner.Verdict(end, state.Stdout, state.Stderr, cgroup, limits);
    }

    private byte[] RunRequest(uint id, SandboxRequest request, IReadOnlyDictionary<string, string> env, RunCgroup cgroup)
    {
        var l = request.Limits;
        var fields = new List<string>
        {
            "run", id.ToString(CultureInfo.InvariantCulture), Path.GetFullPath(request.WorkDirectory).TrimEnd('/'),
            l.MaxDiskBytes.ToString(CultureInfo.InvariantCulture),
            Math.Max(1, (long)Math.Ceiling(l.CpuTime.TotalSeconds)).ToString(CultureInfo.InvariantCulture),
            ProcessRunner.AddressSpaceLimit(l, cgroup).ToString(CultureInfo.InvariantCulture),
            l.MaxFileSizeBytes.ToString(CultureInfo.InvariantCulture),
            l.MaxOpenFiles.ToString(CultureInfo.InvariantCulture),
            // RLIMIT_NPROC does nothing for host root (the pids cgroup is the limit then); for anyone else it counts per user namespace.
            (Native.IsRoot ? 0 : l.MaxProcesses).ToString(CultureInfo.InvariantCulture),
        };
        var procs = cgroup.ProcsFiles;
        fields.Add(procs.Count.ToString(CultureInfo.InvariantCulture));
        fields.AddRange(procs);
        fields.Add(env.Count.ToString(CultureInfo.InvariantCulture));
        fields.AddRange(env.Select(e => $"{e.Key}={e.Value}"));
        fields.Add(request.Command.Count.ToString(CultureInfo.InvariantCulture));
        fields.AddRange(request.Command);
        var buffer = new MemoryStream();
        foreach (var f in fields) Netstring(buffer, Encoding.UTF8.GetBytes(f));
        Netstring(buffer, request.Stdin ?? []);
        return buffer.ToArray();
    }

    private static void Netstring(MemoryStream to, ReadOnlySpan<byte> bytes)
    {
        to.Write(Encoding.ASCII.GetBytes(bytes.Length.ToString(CultureInfo.InvariantCulture) + ":"));
        to.Write(bytes);
        to.WriteByte((byte)',');
    }

    private async Task SendAsync(byte[] message)
    {
        await _writeGate.WaitAsync();
        try
        {
            await _requests.WriteAsync(message);
            await _requests.FlushAsync();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            throw new SandboxSetupException(_failure ?? $"the session supervisor is gone: {ex.Message}");
        }
        finally { _writeGate.Release(); }
    }

    /// <summary>Ends a run: the supervisor kills its PID namespace; the cgroup sweep catches anything on the way out.</summary>
    private void Kill(uint id, RunState state, RunCgroup cgroup)
    {
        if (Interlocked.Exchange(ref state.Killed, 1) == 1) return;
        var message = new MemoryStream();
        Netstring(message, "kill"u8);
        Netstring(message, Encoding.ASCII.GetBytes(id.ToString(CultureInfo.InvariantCulture)));
        _ = Task.Run(async () =>
        {
            try { await SendAsync(message.ToArray()); } catch (SandboxSetupException) { }
            cgroup.KillAll();
            // Killing init ends the run's namespaces and with them every writer of its pipes. A run still open long after
            // that means something held on to them: the result is not trusted, and neither is the session.
            if (await Task.WhenAny(state.Done.Task, Task.Delay(KillGrace)) != state.Done.Task)
            {
                const string why = "a run did not end after it was killed; the session is closed";
                _failure ??= why;
                state.Done.TrySetResult((null, why));
            }
        });
    }

    private static readonly TimeSpan KillGrace = TimeSpan.FromSeconds(10);

    private async Task ReadFramesAsync()
    {
        var stream = _process.StandardOutput.BaseStream;
        var header = new byte[9];
        try
        {
            while (true)
            {
                if (!await ReadExactlyOrEndAsync(stream, header)) break;
                var kind = (char)header[0];
                var id = BinaryPrimitives.ReadUInt32LittleEndian(header.AsSpan(1));
                var length = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(5));
                if (length is < 0 or > (1 << 20) + 16) { Fail($"the session supervisor sent a frame of {length} bytes"); break; }
                var payload = new byte[length];
                if (!await ReadExactlyOrEndAsync(stream, payload)) break;
                switch (kind)
                {
                    case 'R':
                        _isolation = Encoding.UTF8.GetString(payload).Replace("ready ", "", StringComparison.Ordinal);
                        _ready.TrySetResult(null);
                        break;
                    case 'F': Fail("the session supervisor failed: " + Encoding.UTF8.GetString(payload)); break;
                    case 'o': if (_runs.TryGetValue(id, out var o) && o.Stdout.Append(payload)) o.OnOverflow(); break;
                    case 'e': if (_runs.TryGetValue(id, out var e) && e.Stderr.Append(payload)) e.OnOverflow(); break;
                    case 'x': if (_runs.TryGetValue(id, out var x)) x.Done.TrySetResult((Encoding.ASCII.GetString(payload), null)); break;
                    case 'f': if (_runs.TryGetValue(id, out var f)) f.Done.TrySetResult((null, "the sandbox could not start the program: " + Encoding.UTF8.GetString(payload))); break;
                    default: Fail($"the session supervisor sent an unknown frame '{kind}'"); return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException) { }
        string tail;
        lock (_stderr) tail = _stderr.ToString();
        Fail("the session supervisor exited" + (tail.Length > 0 ? ": " + SandboxFactory.Tail(tail) : ""));
    }

    private void Fail(string message)
    {
        _failure ??= message;
        _ready.TrySetResult(message);
        foreach (var run in _runs.Values) run.Done.TrySetResult((null, _failure));
    }

    private static async Task<bool> ReadExactlyOrEndAsync(Stream stream, byte[] buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read));
            if (n == 0) return false;
            read += n;
        }
        return true;
    }

    public async ValueTask DisposeAsync()
    {
        _failure ??= "the session is closed";
        try
        {
            // Closing the request pipe ends the supervisor, which kills every run still going; bwrap's --die-with-parent and
            // the kill below cover a supervisor that does not answer.
            try { _requests.Close(); } catch (IOException) { }
            var exited = _process.WaitForExitAsync();
            if (await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(5))) != exited)
                try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            await exited;
            await _reader;
            _process.Dispose();
        }
        finally
        {
            DiskQuota.Release(_runsRoot); // with every work directory still mounted in it
            try { Directory.Delete(_runsRoot, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private sealed class RunState(int cap)
    {
        public readonly TaskCompletionSource<(string? Status, string? Failure)> Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public readonly CappedOutput Stdout = new(cap);
        public readonly CappedOutput Stderr = new(cap);
        public Action OnOverflow = () => { };
        public volatile bool TimedOut;
        public volatile bool OutputOverflow;
        public volatile bool DiskOverflow;
        public int Killed;
    }
}
