namespace Smelt.Sandbox;

/// <summary>
/// Firejail (tested against 0.9.72): no network, its default seccomp list plus the calls this project denies, only AF_UNIX
/// sockets, all capabilities dropped, no-new-privileges, <c>--noroot</c>, a private /dev and /tmp, the root read-only, every
/// top-level host directory that is not system software hidden (or reduced to whitelisted paths), rlimits set by firejail.
/// </summary>
/// <remarks>
/// Lessons from 0.9.72 on this host: <c>--private-etc</c> fails in containers ("/etc/group: unmount: Invalid argument") so
/// /etc is reduced with <c>--whitelist</c>; blacklisting /run itself breaks firejail (it keeps state in /run/firejail) so its
/// entries are blacklisted one by one; /var/tmp is always replaced by a tmpfs, so work directories live under /tmp and are
/// whitelisted. Firejail runs the program as the invoking user: as root that is uid 0 without capabilities (see docs/sandbox.md).
/// </remarks>
public sealed class FirejailSandbox : ISandbox
{
    private readonly string _firejail;

    public FirejailSandbox(string firejailPath) => _firejail = firejailPath;

    public string Name => "firejail";

    internal static readonly string[] SystemTopLevel = ["bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc", "dev", "proc", "sys", "tmp", "run"];

    internal static readonly string[] ExtraDeniedSyscalls =
        ["ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "unshare", "setns", "keyctl", "add_key", "request_key",
         "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "open_by_handle_at", "name_to_handle_at"];

    public SandboxWorkDirectory CreateWorkDirectory(string label) =>
        new(SandboxPaths.NewWorkDirectory(SandboxPaths.FirejailWorkRoot, label));

    /// <summary>util-linux's unshare; missing, firejail starts unwrapped and a session mount made during its setup can fail it (said once).</summary>
    private static readonly Lazy<string?> Unshare = new(() =>
    {
        var found = new[] { "/usr/bin/unshare", "/bin/unshare" }.FirstOrDefault(File.Exists);
        if (found is null && DiskQuota.Enabled)
            Console.Error.WriteLine("warning: unshare (util-linux) not found: firejail runs may fail while bwrap sessions mount work directories (install util-linux)");
        return found;
    });

    public Task<SandboxResult> RunAsync(SandboxRequest request, CancellationToken cancellationToken = default)
    {
        List<string> argv;
        IReadOnlyDictionary<string, string> env;
        var nonce = $"smelt-started-{Guid.NewGuid():N}";
        try
        {
            env = SandboxPaths.BuildEnvironment(request.Environment);
            argv = BuildArguments(_firejail, request, HostTopLevel(), HostRunEntries(), CgroupSupport.Current.MemoryParent is not null, nonce);
            // Quota mounts of bwrap sessions are shared mounts (DiskQuota): one made while firejail sets up its whitelist
            // would propagate into its namespace, and firejail refuses a last mount that is not its own ("invalid
            // whitelist mount"). A private mount namespace of its own, entered first, receives no propagation.
            if (DiskQuota.Enabled && Unshare.Value is { } unshare) argv.InsertRange(0, [unshare, "--mount", "--propagation", "private", "--"]);
        }
        catch (SandboxSetupException ex)
        {
            return Task.FromResult(new SandboxResult { InfrastructureError = ex.Message });
        }
        return RunAsync(nonce, new LaunchSpec
        {
            Argv = argv,
            // firejail hands its own environment to the program: it gets exactly the allow-list.
            LauncherEnvironment = env,
            HostWorkDirectory = request.WorkDirectory,
            Limits = request.Limits,
            Stdin = request.Stdin,
            // firejail (setuid root) sets the rlimits itself; RLIMIT_NOFILE/AS on firejail's own setup could break it.
            ApplyRlimits = false,
        }, cancellationToken);
    }

    /// <summary>
    /// Firejail has no status channel. Its command is wrapped in a shell (<see cref="Wrapper"/>) given a fresh random
    /// nonce, which writes one line to stderr before the program starts: <c>NONCE</c> (the program is starting; the line
    /// is removed) or <c>NONCE cannot execute PATH</c> (it never ran: an infrastructure error). Without either, and unless
    /// Smelt stopped the run, firejail failed during setup: an infrastructure error too. Only the first line counts, and it
    /// is written before the program exists, so a program that learns the nonce (the shell stays its parent) cannot turn
    /// its own failure into a sandbox error.
    /// </summary>
    private static async Task<SandboxResult> RunAsync(string nonce, LaunchSpec spec, CancellationToken cancellationToken)
    {
        return ClassifyStart(nonce, await ProcessRunner.RunAsync(spec, cancellationToken));
    }

    internal static SandboxResult ClassifyStart(string nonce, SandboxResult result)
    {
        if (result.InfrastructureError is not null) return result;
        var line = nonce + "\n";
        if (result.Stderr.StartsWith(line, StringComparison.Ordinal))
            return result with { Stderr = result.Stderr[line.Length..] };
        if (result.Stderr.StartsWith(nonce + " cannot execute ", StringComparison.Ordinal))
            return result with { InfrastructureError = result.Stderr.Split('\n')[0][(nonce.Length + 1)..].Trim() + " inside firejail (missing, not executable, or not visible)", Stderr = "" };
        if (result.TimedOut || result.OutputLimitExceeded || result.DiskLimitExceeded || result.MemoryLimitExceeded)
            return result;
        return result with { InfrastructureError = "firejail could not start the program: " + SandboxFactory.Tail(result.Stderr) };
    }

    /// <summary>
    /// The shell around the program: check it can be executed, say so on stderr's first line, run it, then SIGKILL
    /// whatever it left behind in firejail's PID namespace (<c>kill -9 -1</c> spares only the shell and the namespace's
    /// init) and exit with its status. This replaces <c>--deterministic-shutdown</c>, which does the same kill but sleeps
    /// a fixed 100 ms between its SIGTERM and SIGKILL on every run, leftovers or not (firejail's monitor code; measured
    /// here: 146 ms a launch with it, 46 ms without). Without either, firejail waits for every process in the sandbox.
    /// The kill runs only when pid 1 is firejail's own (its PID namespace and /proc): anywhere else <c>kill -1</c> would
    /// reach every process the caller may signal, so a firejail that did not isolate PIDs gets a timeout, never that.
    /// </summary>
    internal const string Wrapper =
        // fd 3 is the real stderr and the shell's own stderr /dev/null, so that its notice of a signal death ("Segmentation
        // fault") cannot reach the program's stderr; the subshell gives the program the real one back, then execs it.
        "exec 3>&2 2>/dev/null; [ -x \"$1\" ] || { echo \"$0 cannot execute $1\" >&3; exit 127; }; echo \"$0\" >&3; " +
        "( exec 2>&3 3>&-; exec \"$@\" ); s=$?; read -r init < /proc/1/comm; [ \"$init\" = firejail ] && kill -9 -1; exit $s";

    internal static IReadOnlyList<string> HostTopLevel() =>
        Directory.EnumerateFileSystemEntries("/").Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal).ToList();

    internal static IReadOnlyList<string> HostRunEntries() =>
        Directory.Exists("/run") ? Directory.EnumerateFileSystemEntries("/run").Select(p => Path.GetFileName(p)).Order(StringComparer.Ordinal).ToList() : [];

    internal static List<string> BuildArguments(string firejail, SandboxRequest request, IReadOnlyList<string> hostTopLevel, IReadOnlyList<string> hostRunEntries, bool memoryCgroup, string? startNonce = null)
    {
        RequestValidation.Validate(request);
        var l = request.Limits;
        var a = new List<string>
        {
            firejail, "--quiet", "--noprofile",
            "--net=none", "--protocol=unix",
            "--seccomp=" + string.Join(",", ExtraDeniedSyscalls),
            "--caps.drop=all", "--nonewprivs", "--noroot", "--nogroups",
            "--private-dev", "--private-tmp", "--nosound", "--no3d", "--notv", "--nodvd", "--novideo", "--nou2f", "--x11=none",
            "--hostname=smelt", "--deterministic-exit-code",
            $"--rlimit-cpu={Math.Max(1, (long)Math.Ceiling(l.CpuTime.TotalSeconds))}",
            $"--rlimit-as={(memoryCgroup ? l.MemoryBytes * 2 : l.MemoryBytes)}",
            $"--rlimit-fsize={l.MaxFileSizeBytes}",
            $"--rlimit-nofile={l.MaxOpenFiles}",
            $"--rlimit-nproc={l.MaxProcesses}",
        };
        var visible = request.ReadOnlyPaths.Append(request.WorkDirectory).Select(p => Path.GetFullPath(p).TrimEnd('/')).ToList();
        foreach (var etc in BwrapSandbox.EtcAllowList) a.Add($"--whitelist=/etc/{etc}");
        foreach (var top in hostTopLevel)
        {
            if (top.Contains(',') || top.Contains('\n')) throw new SandboxSetupException($"cannot express host path /{top} to firejail");
            var prefix = "/" + top;
            var inside = visible.Where(v => v == prefix || v.StartsWith(prefix + "/", StringComparison.Ordinal)).ToList();
            if (top is "etc" or "run") continue;
            if (SystemTopLevel.Contains(top) && top != "tmp") continue;
            if (inside.Count > 0) a.AddRange(inside.Select(v => $"--whitelist={v}"));
            else if (top != "tmp") a.Add($"--blacklist={prefix}");
        }
        foreach (var run in hostRunEntries.Where(e => e != "firejail")) a.Add($"--blacklist=/run/{run}");
        // Whitelisting puts a writable tmpfs on the top directory; make those read-only too (only the work directory is writable).
        a.Add("--read-only=/");
        a.Add("--read-only=/etc");
        foreach (var top in hostTopLevel.Where(t => t is not "tmp" and not "etc" && a.Any(x => x.StartsWith($"--whitelist=/{t}/", StringComparison.Ordinal))))
            a.Add($"--read-only=/{top}");
        foreach (var ro in request.ReadOnlyPaths) a.Add($"--read-only={Path.GetFullPath(ro)}");
        a.Add($"--read-write={Path.GetFullPath(request.WorkDirectory)}");
        a.Add("--");
        if (startNonce is not null) a.AddRange(["/bin/sh", "-c", Wrapper, startNonce]);
        a.AddRange(request.Command);
        return a;
    }
}
