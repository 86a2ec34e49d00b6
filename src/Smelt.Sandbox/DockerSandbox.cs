namespace Smelt.Sandbox;

/// <summary>
/// Docker through its CLI: no network, read-only root, a sized tmpfs /tmp, the work directory bind-mounted read-write at the
/// same path, the request's read-only paths (and the host /usr, so the host toolchain's shared libraries match) bind-mounted
/// read-only, memory/swap/CPU/pids limits, rlimits, uid 65534, no-new-privileges, every capability dropped.
/// Never retried with more privileges or network when a run fails.
/// </summary>
/// <remarks>Not exercised against a real engine on the development machine (none is installed); its argv is unit-tested.</remarks>
public sealed class DockerSandbox : ISandbox
{
    /// <summary>Debian 12 matches the host libraries bound from /usr on the reference machine; <c>SMELT_DOCKER_IMAGE</c> overrides.</summary>
    public static string DefaultImage => Environment.GetEnvironmentVariable("SMELT_DOCKER_IMAGE") is { Length: > 0 } i ? i : "debian:bookworm-slim";

    private readonly string _docker;
    private readonly string _image;

    public DockerSandbox(string dockerPath, string image)
    {
        _docker = dockerPath;
        _image = image;
    }

    public string Name => "docker";

    public SandboxWorkDirectory CreateWorkDirectory(string label) =>
        new(SandboxPaths.NewWorkDirectory(SandboxPaths.WorkRoot, label));

    public Task<SandboxResult> RunAsync(SandboxRequest request, CancellationToken cancellationToken = default)
    {
        var container = $"smelt-{Environment.ProcessId}-{Guid.NewGuid():N}";
        List<string> argv;
        IReadOnlyDictionary<string, string> env;
        try
        {
            env = SandboxPaths.BuildEnvironment(request.Environment);
            argv = BuildArguments(_docker, _image, container, request, env);
        }
        catch (SandboxSetupException ex)
        {
            return Task.FromResult(new SandboxResult { InfrastructureError = ex.Message });
        }
        var launcherEnv = new Dictionary<string, string>(StringComparer.Ordinal) { ["PATH"] = "/usr/local/bin:/usr/bin:/bin" };
        foreach (var k in new[] { "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CONTEXT", "HOME" })
            if (Environment.GetEnvironmentVariable(k) is { } v) launcherEnv[k] = v;
        return RunAndClassifyAsync(new LaunchSpec
        {
            Argv = argv,
            LauncherEnvironment = launcherEnv,
            HostWorkDirectory = request.WorkDirectory,
            Limits = request.Limits,
            Stdin = request.Stdin,
            ApplyRlimits = false,
            UseCgroup = false,
            OnKill = () => KillContainer(container),
        }, cancellationToken);
    }

    /// <summary><c>docker run</c> exits 125 when the engine itself failed (daemon down, image missing): that is no program result.</summary>
    private static async Task<SandboxResult> RunAndClassifyAsync(LaunchSpec spec, CancellationToken cancellationToken)
    {
        var result = await ProcessRunner.RunAsync(spec, cancellationToken);
        return result.ExitCode == 125 && result.InfrastructureError is null
            ? result with { InfrastructureError = "docker could not run the container: " + SandboxFactory.Tail(result.Stderr) }
            : result;
    }

    /// <summary>Null when <c>docker info</c> reaches an engine, else what went wrong.</summary>
    internal static string? EngineProblem(string docker)
    {
        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(docker, ["info", "--format", "{{.ServerVersion}}"])
            {
                RedirectStandardOutput = true, RedirectStandardError = true,
            })!;
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = p.StandardOutput.ReadToEndAsync();
            if (!p.WaitForExit(15_000)) { p.Kill(true); return "`docker info` did not answer within 15 s"; }
            return p.ExitCode == 0 ? null : SandboxFactory.Tail(stderr.Result.Trim().Length > 0 ? stderr.Result : stdout.Result);
        }
        catch (System.ComponentModel.Win32Exception ex) { return ex.Message; }
    }

    private void KillContainer(string container)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(_docker, ["rm", "-f", container])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        });
        p?.WaitForExit(10_000);
    }

    internal static List<string> BuildArguments(string docker, string image, string container, SandboxRequest request, IReadOnlyDictionary<string, string> env)
    {
        RequestValidation.Validate(request);
        var l = request.Limits;
        foreach (var p in request.ReadOnlyPaths.Append(request.WorkDirectory))
            if (p.Contains(',') || p.Contains('='))
                throw new SandboxSetupException($"path '{p}' cannot be expressed as a docker --mount (contains ',' or '=')");
        var cpu = Math.Max(1, (long)Math.Ceiling(l.CpuTime.TotalSeconds));
        var a = new List<string>
        {
            docker, "run", "--rm", "-i", "--name", container,
            "--network", "none",
            "--read-only",
            "--tmpfs", $"/tmp:rw,nosuid,nodev,size={l.MaxDiskBytes},mode=1777",
            "--user", $"{BwrapSandbox.SandboxUid}:{BwrapSandbox.SandboxUid}",
            "--security-opt", "no-new-privileges",
            "--cap-drop", "ALL",
            "--memory", l.MemoryBytes.ToString(),
            "--memory-swap", l.MemoryBytes.ToString(),
            "--cpus", "1",
            "--pids-limit", l.MaxProcesses.ToString(),
            "--ulimit", $"cpu={cpu}:{cpu + 1}",
            "--ulimit", $"fsize={l.MaxFileSizeBytes}:{l.MaxFileSizeBytes}",
            "--ulimit", $"nofile={l.MaxOpenFiles}:{l.MaxOpenFiles}",
            "--ulimit", "core=0:0",
            "--hostname", "smelt",
            "--mount", "type=bind,source=/usr,target=/usr,readonly",
        };
        foreach (var ro in request.ReadOnlyPaths) a.AddRange(["--mount", $"type=bind,source={ro},target={ro},readonly"]);
        a.AddRange(["--mount", $"type=bind,source={request.WorkDirectory},target={request.WorkDirectory}"]);
        a.AddRange(["--workdir", request.WorkDirectory]);
        foreach (var (k, v) in env) a.AddRange(["--env", $"{k}={v}"]);
        a.Add(image);
        a.AddRange(request.Command);
        return a;
    }
}
