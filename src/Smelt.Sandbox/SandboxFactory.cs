using Smelt.Core;

namespace Smelt.Sandbox;

/// <summary>Turns a backend name (<c>auto|bwrap|firejail|docker|none</c>) into a ready <see cref="ISandbox"/>, or a clear exit-3 error.</summary>
public static class SandboxFactory
{
    public static IReadOnlyList<string> Names { get; } = ["auto", "bwrap", "firejail", "docker", "none"];

    /// <summary>Strongest first: what <c>auto</c> tries.</summary>
    public static IReadOnlyList<string> AutoOrder { get; } = ["bwrap", "firejail", "docker"];

    private static readonly Lock AutoGate = new();
    private static ISandbox? _auto;

    /// <summary>
    /// <c>none</c> requires <paramref name="allowUnsandboxed"/> and then warns on every run. <c>auto</c> picks the first of
    /// <see cref="AutoOrder"/> that is installed and passes <see cref="QuickCheck"/>; it never picks <c>none</c>.
    /// Throws <see cref="SmeltException"/> with exit code 3 for an unknown, missing or failing backend.
    /// </summary>
    public static ISandbox Create(string name, bool allowUnsandboxed = false, TextWriter? warnings = null)
    {
        if (name is "bwrap" or "firejail" or "auto") WarnIfNoProcessLimit(warnings ?? Console.Error);
        switch (name)
        {
            case "none":
                if (!allowUnsandboxed)
                    throw SmeltException.Infrastructure(
                        "--sandbox none would run untrusted model code directly on this machine; it is for development only. " +
                        "Pass --allow-unsandboxed together with --sandbox none if you really mean it, or install bubblewrap (apt-get install bubblewrap).");
                return new UnsandboxedRunner(warnings);
            case "bwrap":
                return new BwrapSandbox(Require("bwrap"));
            case "firejail":
                return new FirejailSandbox(Require("firejail"));
            case "docker":
                var docker = Require("docker");
                if (DockerSandbox.EngineProblem(docker) is { } problem)
                    throw SmeltException.Infrastructure($"sandbox backend 'docker': the docker CLI is installed but the engine is not usable: {problem}. {InstallHint("docker")}");
                return new DockerSandbox(docker, DockerSandbox.DefaultImage);
            case "auto":
                lock (AutoGate)
                    return _auto ??= PickAuto();
            default:
                throw SmeltException.Infrastructure($"unknown sandbox backend '{name}'; choose one of: {string.Join(", ", Names)}");
        }
    }

    private static int _warnedNoProcessLimit;

    /// <summary>As root, RLIMIT_NPROC is not enforced: without a pids cgroup only the wall clock bounds a fork bomb. Said once per process.</summary>
    private static void WarnIfNoProcessLimit(TextWriter warnings)
    {
        if (!Native.IsRoot || CgroupSupport.Current.PidsParent is not null) return;
        if (Interlocked.Exchange(ref _warnedNoProcessLimit, 1) == 1) return;
        lock (warnings)
            warnings.WriteLine("warning: running as root without a usable pids cgroup: the sandbox's process-count limit is not enforced " +
                               "(RLIMIT_NPROC does not apply to uid 0); fork bombs are stopped only by the wall-clock limit. See docs/sandbox.md.");
    }

    private static ISandbox PickAuto()
    {
        var problems = new List<string>();
        foreach (var name in AutoOrder)
        {
            if (Find(name) is null) { problems.Add($"{name}: not installed ({InstallHint(name)})"); continue; }
            var sandbox = Create(name);
            var failure = QuickCheck(sandbox).GetAwaiter().GetResult();
            if (failure is null) return sandbox;
            problems.Add($"{name}: self-check failed: {failure}");
        }
        throw SmeltException.Infrastructure(
            "no sandbox backend is usable (auto never falls back to running code unsandboxed):\n  " + string.Join("\n  ", problems) +
            "\nInstall bubblewrap (apt-get install bubblewrap) and run `smelt sandbox check` for details.");
    }

    /// <summary>
    /// A fast smoke test (one launch, shell only): the backend starts a program, the environment is scrubbed, the network
    /// namespace has no interface but loopback, /usr is read-only and a seccomp filter is active. Returns null when it holds.
    /// The full check with a compiled probe is <see cref="SelfCheck"/>.
    /// </summary>
    public static async Task<string?> QuickCheck(ISandbox sandbox, CancellationToken cancellationToken = default)
    {
        using var work = sandbox.CreateWorkDirectory("quickcheck");
        const string script =
            "echo start; env | sort | tr '\\n' ' '; echo; " +
            "if [ -w /usr ]; then echo usr-writable; fi; " +
            "grep -c : /proc/net/dev; grep '^Seccomp:' /proc/self/status; echo end";
        var result = await sandbox.RunAsync(new SandboxRequest
        {
            Command = ["/bin/sh", "-c", script],
            WorkDirectory = work.Path,
            Limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(20) },
        }, cancellationToken);
        if (result.InfrastructureError is not null) return result.InfrastructureError;
        if (!result.Succeeded) return $"a shell did not run inside it ({result.Outcome}): {Tail(result.Stderr)}";
        var lines = result.Stdout.Split('\n', StringSplitOptions.TrimEntries);
        if (lines.FirstOrDefault() != "start" || !lines.Contains("end")) return $"unexpected output: {Tail(result.Stdout)}";
        if (lines.Contains("usr-writable")) return "/usr is writable inside the sandbox";
        foreach (var (key, _) in Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().Select(e => ((string)e.Key, e.Value)))
            if (Redactor.LooksSecretName(key) && result.Stdout.Contains(key + "=", StringComparison.Ordinal))
                return $"the caller's {key} is visible inside the sandbox";
        // /proc/net/dev: 2 header lines + lo when the network namespace is empty (the header lines contain ':'? no: only interfaces do)
        if (lines.Any(l => int.TryParse(l, out var n) && n > 1) && sandbox.Name != "none") return "network interfaces besides loopback are visible";
        if (sandbox.Name != "none" && !lines.Any(l => l.StartsWith("Seccomp:", StringComparison.Ordinal) && l.EndsWith('2'))) return "no seccomp filter is active";
        return null;
    }

    internal static string Tail(string s, int max = 300) => s.Length <= max ? s.Trim() : "..." + s[^max..].Trim();

    private static string Require(string command) =>
        Find(command) ?? throw SmeltException.Infrastructure($"sandbox backend '{command}' is not installed: {InstallHint(command)}");

    public static string InstallHint(string backend) => backend switch
    {
        "bwrap" => "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap)",
        "firejail" => "install firejail (Debian/Ubuntu: apt-get install firejail)",
        "docker" => "install Docker Engine (https://docs.docker.com/engine/install/) and make sure `docker info` works for this user",
        _ => "",
    };

    internal static string? Find(string command)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/bin", "/bin", "/usr/local/bin"]))
        {
            var candidate = Path.Combine(dir, command);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
