namespace Smelt.Sandbox;

/// <summary>
/// Runs one untrusted command isolated from the host. Every compile, clippy run and test run in Smelt goes through this.
/// Implementations are thread-safe: callers run many requests concurrently.
/// </summary>
/// <remarks>
/// Path contract, identical for every backend so callers never special-case one:
/// <list type="bullet">
/// <item><see cref="SandboxRequest.WorkDirectory"/> (obtained from <see cref="CreateWorkDirectory"/>) is visible inside at the
/// same absolute path, writable, and is the current directory of the command.</item>
/// <item>Each of <see cref="SandboxRequest.ReadOnlyPaths"/> is visible inside at the same absolute path, read-only.</item>
/// <item>The backend adds only what a dynamically linked toolchain needs (<c>/usr</c>, <c>/lib*</c>, <c>/bin</c>, a minimal
/// <c>/etc</c>, <c>/dev/null</c> and friends, a private <c>/tmp</c>); nothing else of the host is visible.</item>
/// <item>The environment is an allow-list (PATH, HOME=/tmp, LANG, LC_ALL, TMPDIR) plus <see cref="SandboxRequest.Environment"/>;
/// nothing of the caller's environment leaks in, and secret-looking names are refused even when passed explicitly.</item>
/// <item>Files the program leaves behind are read with <see cref="SandboxWorkDirectory.ReadOutputFile"/>, never by following
/// paths the program controls.</item>
/// </list>
/// Backends: <see cref="BwrapSandbox"/>, <see cref="FirejailSandbox"/>, <see cref="DockerSandbox"/>, <see cref="UnsandboxedRunner"/>;
/// obtain one with <see cref="SandboxFactory.Create"/>. docs/sandbox.md describes what each enforces.
/// </remarks>
public interface ISandbox
{
    /// <summary>Backend name as the user types it: <c>bwrap</c>, <c>firejail</c>, <c>docker</c>, <c>none</c>.</summary>
    string Name { get; }

    /// <summary>A fresh, empty directory this backend can mount as a work directory. Dispose deletes it.</summary>
    SandboxWorkDirectory CreateWorkDirectory(string label);

    /// <summary>
    /// Runs the command. Never throws for anything the untrusted program does (crash, timeout, output flood): that is
    /// reported in the result. A failure of the sandbox itself is reported as <see cref="SandboxResult.InfrastructureError"/>.
    /// </summary>
    Task<SandboxResult> RunAsync(SandboxRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens a session for many short runs that read the same <paramref name="readOnlyPaths"/> (e.g. the tests of one
    /// compiled batch). Every run of a session is isolated from the host and from every other run exactly as a plain
    /// <see cref="RunAsync"/> is; a backend may only make the launches cheaper. Work directories of a session's runs must
    /// come from the session's own <see cref="CreateWorkDirectory"/>, and a request may only name read-only paths inside
    /// <paramref name="readOnlyPaths"/>. The default is one ordinary launch per run.
    /// </summary>
    Task<ISandboxSession> OpenSessionAsync(IReadOnlyList<string> readOnlyPaths, CancellationToken cancellationToken = default) =>
        Task.FromResult<ISandboxSession>(new PerRunSession(this, readOnlyPaths));
}

/// <summary>Runs that share a launch (see <see cref="ISandbox.OpenSessionAsync"/>). Dispose ends every run still going.</summary>
public interface ISandboxSession : ISandbox, IAsyncDisposable
{
    /// <summary>How runs are started: <c>supervisor</c> (one sandbox, a fresh set of namespaces per run) or <c>per-run</c>.</summary>
    string Mode { get; }

    /// <summary>Mode plus how runs are kept apart, for the record (e.g. <c>supervisor, landlock-abi-7</c>).</summary>
    string Description => Mode;
}

/// <summary>The default session: one ordinary launch of the backend per run.</summary>
internal sealed class PerRunSession(ISandbox backend, IReadOnlyList<string> readOnlyPaths) : ISandboxSession
{
    public string Name => backend.Name;
    public string Mode => "per-run";
    public SandboxWorkDirectory CreateWorkDirectory(string label) => backend.CreateWorkDirectory(label);

    public Task<SandboxResult> RunAsync(SandboxRequest request, CancellationToken cancellationToken = default) =>
        SessionPaths.Outside(request.ReadOnlyPaths, readOnlyPaths) is { } outside
            ? Task.FromResult(new SandboxResult { InfrastructureError = $"read-only path '{outside}' was not opened with the session" })
            : backend.RunAsync(request, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

internal static class SessionPaths
{
    /// <summary>The first of <paramref name="requested"/> that is neither one of <paramref name="opened"/> nor inside one.</summary>
    public static string? Outside(IReadOnlyList<string> requested, IReadOnlyList<string> opened) =>
        requested.FirstOrDefault(r =>
        {
            var full = Path.GetFullPath(r).TrimEnd('/');
            return !opened.Any(o =>
            {
                var root = Path.GetFullPath(o).TrimEnd('/');
                return full == root || full.StartsWith(root + "/", StringComparison.Ordinal);
            });
        });
}

public sealed record ResourceLimits
{
    public TimeSpan WallTime { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan CpuTime { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>Memory (cgroup where available) / address space (RLIMIT_AS) limit.</summary>
    public long MemoryBytes { get; init; } = 2L << 30;
    public int MaxProcesses { get; init; } = 64;
    public long MaxFileSizeBytes { get; init; } = 64L << 20;
    public int MaxOpenFiles { get; init; } = 256;
    /// <summary>Cap per captured stream; output beyond it is discarded and the result marked truncated.</summary>
    public int MaxOutputBytes { get; init; } = 1 << 20;
    /// <summary>
    /// Total bytes the program may leave in its work directory (polled while it runs; the tree is killed when it is exceeded)
    /// and the size of its private <c>/tmp</c> (a tmpfs, where the backend supports sizing it).
    /// </summary>
    public long MaxDiskBytes { get; init; } = 512L << 20;
}

public sealed record SandboxRequest
{
    /// <summary>Program (absolute path, valid inside the sandbox) and its arguments. Arguments are passed as argv, never through a shell.</summary>
    public required IReadOnlyList<string> Command { get; init; }
    public required string WorkDirectory { get; init; }
    public IReadOnlyList<string> ReadOnlyPaths { get; init; } = [];
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();
    public ResourceLimits Limits { get; init; } = new();
    public byte[]? Stdin { get; init; }
}

public sealed record SandboxResult
{
    /// <summary>Exit code when the program exited normally.</summary>
    public int? ExitCode { get; init; }
    /// <summary>Terminating signal when the program was killed by one (e.g. 9 after a limit, 11 on a segfault).</summary>
    public int? Signal { get; init; }
    /// <summary>Wall-clock limit hit; the whole process tree was killed.</summary>
    public bool TimedOut { get; init; }
    public bool CpuLimitExceeded { get; init; }
    public bool MemoryLimitExceeded { get; init; }
    /// <summary>The tree was killed because stdout or stderr went past <see cref="ResourceLimits.MaxOutputBytes"/>.</summary>
    public bool OutputLimitExceeded { get; init; }
    /// <summary>The process-count limit refused at least one fork (pids cgroup counter).</summary>
    public bool ProcessLimitExceeded { get; init; }
    /// <summary>The program was stopped by the per-file size limit (SIGXFSZ) or filled its work directory past <see cref="ResourceLimits.MaxDiskBytes"/>.</summary>
    public bool DiskLimitExceeded { get; init; }
    public bool StdoutTruncated { get; init; }
    public bool StderrTruncated { get; init; }
    public string Stdout { get; init; } = "";
    public string Stderr { get; init; } = "";
    public TimeSpan Elapsed { get; init; }
    /// <summary>Set when the sandbox itself failed (could not start, mount failed...). The program's outcome is then unknown.</summary>
    public string? InfrastructureError { get; init; }

    /// <summary>Exited 0 within its limits. A program that filled its disk quota and still exited 0 did not succeed.</summary>
    public bool Succeeded => InfrastructureError is null && !TimedOut && !DiskLimitExceeded && ExitCode == 0;

    /// <summary>A short human-readable reason why the run did not succeed, or "ok".</summary>
    public string Outcome =>
        InfrastructureError is not null ? $"sandbox error: {InfrastructureError}"
        : TimedOut ? "wall-clock limit exceeded (process tree killed)"
        : OutputLimitExceeded ? "output limit exceeded (process tree killed)"
        : MemoryLimitExceeded ? "memory limit exceeded"
        : CpuLimitExceeded ? "CPU-time limit exceeded"
        : DiskLimitExceeded ? "disk limit exceeded"
        : ProcessLimitExceeded && ExitCode != 0 ? $"process limit reached; {Exit}"
        : ExitCode == 0 ? "ok"
        : Exit;

    private string Exit => Signal is { } s ? $"killed by signal {s}" : $"exit code {ExitCode}";
}

/// <summary>A per-run host directory; disposing it removes it and everything in it.</summary>
public sealed class SandboxWorkDirectory : IDisposable
{
    public string Path { get; }
    private readonly Action<string>? _cleanup;

    public SandboxWorkDirectory(string path, Action<string>? cleanup = null)
    {
        Path = path;
        _cleanup = cleanup;
    }

    /// <summary>
    /// Reads a file the untrusted program left in this directory, refusing anything that could make the host follow the
    /// program's choices: <c>..</c> or absolute names, symlinks anywhere on the way, non-regular files, files over <paramref name="maxBytes"/>.
    /// </summary>
    public byte[] ReadOutputFile(string relative, long maxBytes = 16L << 20)
    {
        var full = Smelt.Core.SafePath.Combine(Path, relative);
        var current = System.IO.Path.GetFullPath(Path);
        foreach (var segment in relative.Split('/'))
        {
            current = System.IO.Path.Combine(current, segment);
            var info = new FileInfo(current);
            if (info.LinkTarget is not null)
                throw Smelt.Core.SmeltException.Infrastructure($"refusing to read '{relative}' from the sandbox work directory: '{segment}' is a symlink");
        }
        using var handle = Native.OpenReadNoFollow(full)
            ?? throw Smelt.Core.SmeltException.Infrastructure($"refusing to read '{relative}' from the sandbox work directory: it is missing or a symlink");
        using var stream = new FileStream(handle, FileAccess.Read, 1);
        if (!stream.CanSeek)
            throw Smelt.Core.SmeltException.Infrastructure($"refusing to read '{relative}' from the sandbox work directory: not a regular file");
        if (stream.Length > maxBytes)
            throw Smelt.Core.SmeltException.Infrastructure($"refusing to read '{relative}' from the sandbox work directory: {stream.Length} bytes is over the {maxBytes}-byte cap");
        var buffer = new byte[stream.Length];
        stream.ReadExactly(buffer);
        return buffer;
    }

    public void Dispose()
    {
        try
        {
            // A quota'd directory is a tmpfs: unmounting it frees its contents at once, then the empty mount point goes.
            DiskQuota.Release(Path);
            if (_cleanup is not null) _cleanup(Path);
            else if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
