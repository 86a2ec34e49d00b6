using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Smelt.Sandbox;

public sealed record CheckItem(string Name, bool Passed, string Detail);

public sealed record SelfCheckReport(string Backend, IReadOnlyList<CheckItem> Items)
{
    public bool AllPassed => Items.Count > 0 && Items.All(i => i.Passed);
}

/// <summary>
/// <c>smelt sandbox check</c>: compiles a probe program inside the sandbox under test, then attacks the sandbox with it one
/// item at a time and judges each item from the host side (a listener that must see no connection, files that must not
/// change, a planted secret that must not appear, host processes that must stay invisible or must be gone).
/// </summary>
public static class SelfCheck
{
    public static IReadOnlyList<string> ItemNames { get; } =
    [
        "network blocked", "host filesystem read-only", "host secret unreadable", "environment scrubbed", "PID namespace",
        "process limit", "memory limit", "file-size limit", "disk limit", "timeout kills the process tree", "seccomp active",
        "session runs isolated",
    ];

    /// <param name="sysroot">Rust sysroot whose <c>bin/rustc</c> compiles the probe (inside the sandbox).</param>
    public static async Task<SelfCheckReport> RunAsync(ISandbox sandbox, string? sysroot, CancellationToken ct = default)
    {
        var items = new List<CheckItem>();
        using var work = sandbox.CreateWorkDirectory("selfcheck");
        string? probe = null;
        string? probeProblem = null;
        if (sysroot is null || !File.Exists(Path.Combine(sysroot, "bin", "rustc")))
            probeProblem = "no Rust toolchain found to build the probe (install rustup, or pass --rustc)";
        else
        {
            File.WriteAllText(Path.Combine(work.Path, "probe.rs"), ProbeSource());
            var compile = await sandbox.RunAsync(new SandboxRequest
            {
                Command = [Path.Combine(sysroot, "bin", "rustc"), "--edition", "2021", "-C", "linker=cc", "-C", "opt-level=1", "-C", "debuginfo=0", "probe.rs", "-o", "probe"],
                WorkDirectory = work.Path,
                ReadOnlyPaths = [sysroot],
                Limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(120), CpuTime = TimeSpan.FromSeconds(120), MemoryBytes = 4L << 30, MaxProcesses = 128 },
            }, ct);
            if (compile.Succeeded) probe = Path.Combine(work.Path, "probe");
            else probeProblem = $"the probe did not compile inside '{sandbox.Name}' ({compile.Outcome}): {SandboxFactory.Tail(compile.Stderr)}";
        }

        async Task<SandboxResult> Probe(string what, string arg, ResourceLimits? limits = null) =>
            await sandbox.RunAsync(new SandboxRequest { Command = [probe!, what, arg], WorkDirectory = work.Path, Limits = limits ?? new ResourceLimits { WallTime = TimeSpan.FromSeconds(20) } }, ct);

        void Add(string name, bool passed, string detail) => items.Add(new CheckItem(name, passed, Smelt.Core.Redactor.Redact(detail)));

        if (probe is null)
        {
            foreach (var name in ItemNames) Add(name, false, $"not run: {probeProblem}");
            return new SelfCheckReport(sandbox.Name, items);
        }

        var hostScratch = Path.Combine(Path.GetDirectoryName(work.Path)!, $"selfcheck-host-{Guid.NewGuid():N}");
        Directory.CreateDirectory(hostScratch);
        try
        {
            // 1. network
            using (var listener = new TcpListener(IPAddress.Loopback, 0))
            {
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                var connect = await Probe("net", $"127.0.0.1:{port}");
                var dns = await Probe("dns", "example.com");
                var arrived = listener.Pending();
                var ok = !connect.Succeeded && !arrived && !dns.Succeeded;
                Add("network blocked", ok, $"connect to host 127.0.0.1:{port}: {First(connect.Stdout)}; listener saw a connection: {arrived}; DNS: {First(dns.Stdout)}");
            }

            // 2. host filesystem read-only
            {
                var targets = new[] { "/usr/.smelt-selfcheck", "/etc/.smelt-selfcheck", Path.Combine(hostScratch, "outside.txt"), Path.Combine(Path.GetDirectoryName(work.Path)!, "escape.txt") };
                var wrote = new List<string>();
                foreach (var t in targets)
                {
                    TryDelete(t); // a stale marker from an earlier unsandboxed check would read as a failure
                    var r = await Probe("write", t);
                    if (File.Exists(t)) wrote.Add(r.Succeeded ? t : t + " (appeared on the host)");
                    TryDelete(t); // the probe's marker file, if the backend let it through (e.g. --sandbox none)
                }
                Add("host filesystem read-only", wrote.Count == 0,
                    wrote.Count == 0 ? $"writes to /usr, /etc, a host directory and the work directory's parent all failed or stayed private" : "written on the host: " + string.Join(", ", wrote));
            }

            // 3. host secret
            {
                var secret = "smelt-selfcheck-secret-" + Guid.NewGuid().ToString("N");
                var secretFile = Path.Combine(hostScratch, "secret.txt");
                File.WriteAllText(secretFile, secret);
                // Also one in the user's home, where real tokens live (~/.cache/huggingface/token, ~/.aws/credentials).
                var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
                var homeSecret = Directory.Exists(home) ? Path.Combine(home, $".smelt-selfcheck-{Guid.NewGuid():N}") : null;
                try
                {
                    if (homeSecret is not null) File.WriteAllText(homeSecret, secret);
                    var leaks = new List<string>();
                    foreach (var path in new[] { secretFile, homeSecret, "/etc/shadow" }.OfType<string>())
                    {
                        var r = await Probe("read", path);
                        if (r.Succeeded || r.Stdout.Contains(secret, StringComparison.Ordinal)) leaks.Add(path);
                    }
                    Add("host secret unreadable", leaks.Count == 0, leaks.Count == 0
                        ? "files planted outside the allow-list (a host directory, the home directory) and /etc/shadow were not readable"
                        : "readable: " + string.Join(", ", leaks));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    Add("host secret unreadable", false, $"could not plant the test secret: {ex.Message}");
                }
                finally
                {
                    if (homeSecret is not null) TryDelete(homeSecret);
                }
            }

            // 4. environment
            {
                var name = "SMELT_SELFCHECK_TOKEN";
                var value = "selfcheck-" + Guid.NewGuid().ToString("N");
                Environment.SetEnvironmentVariable(name, value);
                try
                {
                    var r = await Probe("env", name);
                    var hf = Environment.GetEnvironmentVariable("HF_TOKEN") is { Length: > 0 } ? await Probe("env", "HF_TOKEN") : null;
                    var ok = !r.Succeeded && !r.Stdout.Contains(value, StringComparison.Ordinal) && hf?.Succeeded != true;
                    Add("environment scrubbed", ok, ok ? $"a variable set in Smelt's own environment ({name}) is not visible inside" : $"{name} or HF_TOKEN visible inside");
                }
                finally { Environment.SetEnvironmentVariable(name, null); }
            }

            // 5. PID namespace
            {
                var marker = "smelt-selfcheck-sentinel-" + Guid.NewGuid().ToString("N")[..12];
                using var sentinel = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "sleep 30", marker]) { RedirectStandardOutput = true })!;
                try
                {
                    var r = await Probe("procs", "");
                    var count = r.Stdout.Split('\n').FirstOrDefault(l => l.StartsWith("PROCESSES ", StringComparison.Ordinal)) ?? "PROCESSES ?";
                    var ok = r.Succeeded && !r.Stdout.Contains(marker, StringComparison.Ordinal);
                    Add("PID namespace", ok, ok ? $"host processes invisible ({count.ToLowerInvariant()} visible inside)" : $"a host process was visible ({count})");
                }
                finally { try { sentinel.Kill(); } catch (InvalidOperationException) { } }
            }

            // 6. process limit
            {
                var limit = 32;
                var r = await Probe("forkbomb", "", new ResourceLimits { WallTime = TimeSpan.FromSeconds(20), MaxProcesses = limit });
                var line = First(r.Stdout);
                var made = ParseInt(line, "FORKED ");
                var ok = made is not null && made < limit && !r.TimedOut;
                Add("process limit", ok, $"limit {limit}: {line}{(r.ProcessLimitExceeded ? " (pids cgroup refused forks)" : "")}");
            }

            // 7. memory limit
            {
                var r = await Probe("alloc", "1024", new ResourceLimits { WallTime = TimeSpan.FromSeconds(20), MemoryBytes = 256L << 20 });
                var ok = !r.Succeeded && !r.Stdout.Contains("ALLOCATED", StringComparison.Ordinal);
                Add("memory limit", ok, $"limit 256 MiB, tried 1 GiB: {First(r.Stdout)} ({r.Outcome})");
            }

            // 8. file-size limit
            {
                var big = Path.Combine(work.Path, "big.bin");
                var r = await Probe("fsize", (8L << 20).ToString(), new ResourceLimits { WallTime = TimeSpan.FromSeconds(20), MaxFileSizeBytes = 1L << 20 });
                var size = File.Exists(big) ? new FileInfo(big).Length : 0;
                var ok = !r.Succeeded && size <= 1L << 20;
                Add("file-size limit", ok, $"limit 1 MiB, tried 8 MiB: file is {size} bytes ({r.Outcome})");
                TryDelete(big);
            }

            // 8b. disk limit: one fast write far past it, spread over no more than the file-size limit allows
            {
                const long limit = 8L << 20;
                var r = await sandbox.RunAsync(new SandboxRequest
                {
                    Command = ["/bin/sh", "-c", "head -c 67108864 /dev/zero > disk-a.bin; head -c 67108864 /dev/zero > disk-b.bin; true"],
                    WorkDirectory = work.Path,
                    Limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(20), MaxDiskBytes = limit, MaxFileSizeBytes = 1L << 30 },
                }, ct);
                var left = new[] { "disk-a.bin", "disk-b.bin" }.Select(f => Path.Combine(work.Path, f)).Where(File.Exists).Sum(f => new FileInfo(f).Length);
                // Hard quota: never more than the cap. Poll only: the run must still be stopped and said to be.
                var ok = r.DiskLimitExceeded && !r.Succeeded && (!DiskQuota.Enabled || left <= limit + DiskQuota.Slack);
                Add("disk limit", ok, $"limit 8 MiB, tried 128 MiB: {left} bytes left ({r.Outcome}); {DiskQuota.Description}");
                TryDelete(Path.Combine(work.Path, "disk-a.bin"));
                TryDelete(Path.Combine(work.Path, "disk-b.bin"));
            }

            // 9. timeout kills the whole tree
            {
                var marker = "smelt-selfcheck-tree-" + Guid.NewGuid().ToString("N")[..12];
                var script = $"trap '' TERM; (trap '' TERM; sh -c 'trap \"\" TERM; sleep 300' {marker} &) ; sh -c 'trap \"\" TERM; sleep 300' {marker}-b & sleep 300";
                var r = await sandbox.RunAsync(new SandboxRequest { Command = ["/bin/sh", "-c", script], WorkDirectory = work.Path, Limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(1) } }, ct);
                var left = await HostProcessesWithAsync(marker, TimeSpan.FromSeconds(3));
                var ok = r.TimedOut && left.Count == 0;
                Add("timeout kills the process tree", ok, ok ? $"wall limit 1 s hit after {r.Elapsed.TotalSeconds:F1} s; no process of the tree (SIGTERM-ignoring, daemonized) survived" : $"timed out: {r.TimedOut}; survivors: {string.Join(", ", left)}");
                foreach (var pid in left) Native.Kill(pid);
            }

            // 10. seccomp
            {
                var r = await Probe("seccomp", "");
                Add("seccomp active", r.Succeeded, string.Join("; ", r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l != "SECCOMP-OK")));
            }

            // 11. sessions (how eval runs each sample's tests): the probe, read-only, from two concurrent runs of one session
            {
                var (ok, detail) = await SessionCheckAsync(sandbox, probe, ct);
                Add("session runs isolated", ok, detail);
            }
        }
        finally
        {
            try { Directory.Delete(hostScratch, true); } catch (IOException) { }
        }
        return new SelfCheckReport(sandbox.Name, items);
    }

    /// <summary>
    /// A session's runs must hold what a plain run holds (network, seccomp, PID namespace, read-only host) and must not see
    /// each other: one run leaves a file in its work directory, /tmp and /dev/shm and a live process; a concurrent run
    /// looks for all of them.
    /// </summary>
    private static async Task<(bool, string)> SessionCheckAsync(ISandbox sandbox, string probe, CancellationToken ct)
    {
        await using var session = await sandbox.OpenSessionAsync([Path.GetDirectoryName(probe)!], ct);
        var limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(20) };
        async Task<SandboxResult> Run(SandboxWorkDirectory wd, params string[] command) =>
            await session.RunAsync(new SandboxRequest { Command = command, WorkDirectory = wd.Path, ReadOnlyPaths = [Path.GetDirectoryName(probe)!], Limits = limits }, ct);
        using var a = session.CreateWorkDirectory("check-a");
        using var b = session.CreateWorkDirectory("check-b");
        var problems = new List<string>();
        foreach (var (what, arg) in new[] { ("net", "127.0.0.1:9"), ("seccomp", ""), ("write", "/usr/.smelt-selfcheck") })
        {
            var r = await Run(b, probe, what, arg);
            var held = what == "seccomp" ? r.Succeeded : !r.Succeeded && r.InfrastructureError is null;
            if (!held) problems.Add($"{what}: {r.Outcome} {First(r.Stdout)}");
        }
        TryDelete("/usr/.smelt-selfcheck");
        var marker = "smelt-check-" + Guid.NewGuid().ToString("N")[..12];
        var holder = Run(a, "/bin/sh", "-c", $"echo x > {marker}; echo x > /tmp/{marker}; echo x > /dev/shm/{marker}; (exec -a {marker} sleep 5) & sleep 5");
        await Task.Delay(1000, ct);
        var look = await Run(b, "/bin/sh", "-c",
            $"ls -a {Path.GetDirectoryName(a.Path)}; ls /tmp /dev/shm; for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done; id -u");
        await holder;
        if (look.InfrastructureError is not null) problems.Add("probe run: " + look.InfrastructureError);
        if (look.Stdout.Contains(marker, StringComparison.Ordinal)) problems.Add("a concurrent run's files or processes were visible");
        if (look.Stdout.Contains(Path.GetFileName(a.Path), StringComparison.Ordinal)) problems.Add("a concurrent run's work directory was visible");
        var mode = session.Mode == "supervisor" ? "one sandbox per session, fresh namespaces per run" : $"{session.Mode} launches";
        return problems.Count == 0
            ? (true, $"{mode}: network, seccomp and read-only host hold; a concurrent run's files, /tmp, /dev/shm and processes were invisible")
            : (false, $"{mode}: " + string.Join("; ", problems));
    }

    /// <summary>Host pids whose command line contains <paramref name="marker"/>, waiting up to <paramref name="grace"/> for them to vanish.</summary>
    internal static async Task<List<int>> HostProcessesWithAsync(string marker, TimeSpan grace)
    {
        var deadline = DateTime.UtcNow + grace;
        while (true)
        {
            var found = new List<int>();
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId) continue;
                try
                {
                    var cmd = File.ReadAllText(Path.Combine(dir, "cmdline"));
                    if (cmd.Contains(marker, StringComparison.Ordinal)) found.Add(pid);
                }
                catch (IOException) { }
                catch (UnauthorizedAccessException) { }
            }
            if (found.Count == 0 || DateTime.UtcNow > deadline) return found;
            await Task.Delay(50);
        }
    }

    public static string ProbeSource()
    {
        using var stream = typeof(SelfCheck).Assembly.GetManifestResourceStream("Smelt.Sandbox.probe.rs")
            ?? throw new InvalidOperationException("probe.rs resource missing from Smelt.Sandbox");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static string First(string s) => s.Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "(no output)";

    private static int? ParseInt(string line, string prefix)
    {
        if (!line.StartsWith(prefix, StringComparison.Ordinal)) return null;
        var rest = line[prefix.Length..].Split(' ')[0];
        return int.TryParse(rest, out var n) ? n : null;
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
