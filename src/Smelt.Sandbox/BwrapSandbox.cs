namespace Smelt.Sandbox;

/// <summary>
/// bubblewrap: new user, PID, network, IPC, UTS, mount (and cgroup) namespaces; a root made of read-only binds of
/// <c>/usr</c> (plus the <c>/bin</c>, <c>/lib*</c>, <c>/sbin</c> symlinks or binds), the few <c>/etc</c> files a linker
/// needs, the request's read-only paths, a sized private tmpfs <c>/tmp</c>, the work directory read-write, then the root
/// remounted read-only. <c>--new-session</c> (no TIOCSTI), <c>--die-with-parent</c>, uid/gid 65534 inside, every
/// capability dropped, nested user namespaces disabled, and the project's seccomp program loaded last.
/// </summary>
public sealed class BwrapSandbox : ISandbox
{
    public const int SandboxUid = 65534;
    private readonly string _bwrap;
    private readonly bool _useCgroups;

    public BwrapSandbox(string bwrapPath) : this(bwrapPath, useCgroups: true) { }

    /// <summary><paramref name="useCgroups"/> false only for the benchmark's cost breakdown.</summary>
    internal BwrapSandbox(string bwrapPath, bool useCgroups)
    {
        _bwrap = bwrapPath;
        _useCgroups = useCgroups;
    }

    public string Name => "bwrap";

    /// <summary>Set when a session could not start once: this sandbox's later sessions go straight to one launch per run.</summary>
    private volatile string? _sessionProblem;

    /// <summary>Why sessions are off for this sandbox, or null while they work.</summary>
    public string? SessionProblem => _sessionProblem;

    /// <summary>
    /// A supervisor session (see <see cref="BwrapSession"/>); one bwrap launch per run where sessions are switched off
    /// (<c>SMELT_SANDBOX_SESSIONS=0</c>) or cannot start here (said once, on stderr).
    /// </summary>
    public async Task<ISandboxSession> OpenSessionAsync(IReadOnlyList<string> readOnlyPaths, CancellationToken cancellationToken = default)
    {
        if (Environment.GetEnvironmentVariable("SMELT_SANDBOX_SESSIONS") == "0" || _sessionProblem is not null)
            return new PerRunSession(this, readOnlyPaths);
        try
        {
            return await BwrapSession.StartAsync(_bwrap, readOnlyPaths, cancellationToken);
        }
        catch (SandboxSetupException ex)
        {
            if (Interlocked.CompareExchange(ref _sessionProblem, ex.Message, null) is null)
                Console.Error.WriteLine($"warning: bwrap sessions are unavailable ({ex.Message}); every run gets its own bwrap launch instead (as isolated, slower)");
            return new PerRunSession(this, readOnlyPaths);
        }
    }

    /// <summary>/etc entries a dynamically linked toolchain needs (cc is an /etc/alternatives symlink on Debian).</summary>
    internal static readonly string[] EtcAllowList =
        ["alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime"];

    public SandboxWorkDirectory CreateWorkDirectory(string label) =>
        new(SandboxPaths.NewWorkDirectory(SandboxPaths.WorkRoot, label));

    public Task<SandboxResult> RunAsync(SandboxRequest request, CancellationToken cancellationToken = default)
    {
        List<string> argv;
        IReadOnlyDictionary<string, string> env;
        try
        {
            env = SandboxPaths.BuildEnvironment(request.Environment);
            argv = BuildArguments(_bwrap, request, env, seccompFd: 9, hostIsRoot: Native.IsRoot);
        }
        catch (SandboxSetupException ex)
        {
            return Task.FromResult(new SandboxResult { InfrastructureError = ex.Message });
        }
        return RunAsync(new LaunchSpec
        {
            Argv = argv,
            LauncherEnvironment = env,
            HostWorkDirectory = request.WorkDirectory,
            Limits = request.Limits,
            Stdin = request.Stdin,
            Fd9File = SeccompFilter.FilePath,
            Fd8File = Path.Combine(SandboxPaths.PrivateRoot, $"status-{Guid.NewGuid():N}.json"),
            UseCgroup = _useCgroups,
        }, cancellationToken);
    }

    /// <summary>
    /// bwrap's status stream (<c>--json-status-fd</c>) carries an <c>exit-code</c> record only when the program itself ran
    /// and exited. Without it, and unless Smelt stopped the run, bwrap failed while setting up (a bind source missing,
    /// exec of the command failed, namespaces unavailable): an infrastructure error, never a program result, so that a
    /// sample cannot be scored as "failed" because the sandbox broke, nor fake a sandbox failure by printing "bwrap:".
    /// </summary>
    private static async Task<SandboxResult> RunAsync(LaunchSpec spec, CancellationToken cancellationToken)
    {
        try
        {
            var result = await ProcessRunner.RunAsync(spec, cancellationToken);
            if (result.InfrastructureError is not null || result.TimedOut || result.OutputLimitExceeded || result.DiskLimitExceeded || result.MemoryLimitExceeded)
                return result;
            var status = File.Exists(spec.Fd8File!) ? await File.ReadAllTextAsync(spec.Fd8File!, CancellationToken.None) : "";
            if (status.Contains("\"exit-code\"", StringComparison.Ordinal))
                return result;
            return result with { InfrastructureError = "bwrap could not start the program: " + SandboxFactory.Tail(result.Stderr) };
        }
        finally
        {
            try { File.Delete(spec.Fd8File!); } catch (IOException) { }
        }
    }

    internal static List<string> BuildArguments(string bwrap, SandboxRequest request, IReadOnlyDictionary<string, string> env, int? seccompFd, bool hostIsRoot)
    {
        RequestValidation.Validate(request);
        var a = new List<string> { bwrap };
        AddNamespaces(a);
        a.AddRange(["--disable-userns", "--cap-drop", "ALL", "--uid", SandboxUid.ToString(), "--gid", SandboxUid.ToString(), "--clearenv"]);
        foreach (var (k, v) in env) a.AddRange(["--setenv", k, v]);
        AddRoot(a, request.Limits.MaxDiskBytes);
        foreach (var ro in request.ReadOnlyPaths) a.AddRange(["--ro-bind", ro, ro]);
        a.AddRange(["--bind", request.WorkDirectory, request.WorkDirectory]);
        a.AddRange(["--remount-ro", "/", "--chdir", request.WorkDirectory]);
        if (seccompFd is { } fd) a.AddRange(["--seccomp", fd.ToString(), "--json-status-fd", "8"]);
        a.Add("--");
        // RLIMIT_NPROC is ignored for host uid 0 (the pids cgroup is the process limit then). For any other user it counts
        // per user namespace, so it is set inside, after bwrap's own forks: set outside it would count all the user's processes.
        if (!hostIsRoot) a.AddRange(["/usr/bin/prlimit", $"--nproc={request.Limits.MaxProcesses}", "--"]);
        a.AddRange(request.Command);
        return a;
    }

    /// <summary>
    /// The sandbox of a session (see <see cref="BwrapSession"/>): the same namespaces and root as a single run, but the
    /// supervisor is uid 0 of the user namespace and keeps the three capabilities it needs to build each run's namespaces
    /// (CAP_SYS_ADMIN for namespaces and mounts, CAP_SETPCAP to empty the bounding set, CAP_SETFCAP to map uid 65534 of
    /// each run's own user namespace onto itself, whose limit on further user namespaces replaces --disable-userns); every
    /// run drops them all before it execs. The seccomp program is loaded by each run, not by bwrap. The runs root and the cgroup parents are writable for the supervisor only: each run
    /// sees its own work directory and no cgroup file.
    /// </summary>
    internal static List<string> SessionArguments(string bwrap, IReadOnlyList<string> readOnlyPaths, string runsRoot, string supervisor,
        string seccompFile, IReadOnlyList<string> cgroupMounts)
    {
        var a = new List<string> { bwrap };
        AddNamespaces(a);
        a.AddRange(["--cap-drop", "ALL", "--cap-add", "CAP_SYS_ADMIN", "--cap-add", "CAP_SETPCAP", "--cap-add", "CAP_SETFCAP",
            "--uid", "0", "--gid", "0", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin"]);
        AddRoot(a, 1L << 20);
        foreach (var ro in readOnlyPaths.Append(supervisor).Append(seccompFile)) a.AddRange(["--ro-bind", ro, ro]);
        a.AddRange(["--bind", runsRoot, runsRoot]);
        foreach (var m in cgroupMounts) a.AddRange(["--bind", m, m]);
        // /dev read-only for every run of the session (each mounts its own /dev/shm and /dev/pts on top).
        a.AddRange(["--dir", "/.smelt-stage", "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/", "--", supervisor, seccompFile, runsRoot]);
        a.AddRange(cgroupMounts);
        return a;
    }

    private static void AddNamespaces(List<string> a) => a.AddRange([
        "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--die-with-parent", "--new-session", "--hostname", "smelt",
    ]);

    private static void AddRoot(List<string> a, long tmpBytes)
    {
        a.AddRange(["--ro-bind", "/usr", "/usr"]);
        foreach (var top in new[] { "bin", "sbin", "lib", "lib32", "lib64", "libx32" })
        {
            var host = "/" + top;
            var info = new DirectoryInfo(host);
            if (info.LinkTarget is { } target) a.AddRange(["--symlink", target, host]);
            else if (info.Exists) a.AddRange(["--ro-bind", host, host]);
        }
        foreach (var e in EtcAllowList) a.AddRange(["--ro-bind-try", "/etc/" + e, "/etc/" + e]);
        a.AddRange(["--proc", "/proc", "--dev", "/dev"]);
        a.AddRange(["--perms", "1777", "--size", tmpBytes.ToString(), "--tmpfs", "/tmp"]);
    }
}

internal static class RequestValidation
{
    public static void Validate(SandboxRequest request)
    {
        if (request.Command.Count == 0 || string.IsNullOrEmpty(request.Command[0]))
            throw new SandboxSetupException("empty command");
        if (!Path.IsPathRooted(request.Command[0]))
            throw new SandboxSetupException($"command '{request.Command[0]}' must be an absolute path valid inside the sandbox");
        if (request.Command.Any(c => c.Contains('\0')))
            throw new SandboxSetupException("command argument contains a NUL byte");
        if (!Path.IsPathRooted(request.WorkDirectory) || !Directory.Exists(request.WorkDirectory))
            throw new SandboxSetupException($"work directory '{request.WorkDirectory}' does not exist (create it with CreateWorkDirectory)");
        if (Path.GetFullPath(request.WorkDirectory).TrimEnd('/') is "" or "/usr" or "/etc" or "/proc" or "/dev")
            throw new SandboxSetupException($"work directory '{request.WorkDirectory}' is not allowed");
        foreach (var ro in request.ReadOnlyPaths)
        {
            if (!Path.IsPathRooted(ro) || ro.Contains('\0'))
                throw new SandboxSetupException($"read-only path '{ro}' must be absolute");
            if (!Directory.Exists(ro) && !File.Exists(ro))
                throw new SandboxSetupException($"read-only path '{ro}' does not exist on this machine");
            if (Path.GetFullPath(ro).TrimEnd('/') == "")
                throw new SandboxSetupException("the host root cannot be a read-only path: name the directories the program needs");
        }
        if (request.Limits.WallTime <= TimeSpan.Zero || request.Limits.MemoryBytes <= 0 || request.Limits.MaxProcesses <= 0 ||
            request.Limits.MaxOutputBytes <= 0 || request.Limits.MaxFileSizeBytes <= 0 || request.Limits.MaxOpenFiles <= 0 || request.Limits.MaxDiskBytes <= 0)
            throw new SandboxSetupException("resource limits must all be positive");
    }
}
