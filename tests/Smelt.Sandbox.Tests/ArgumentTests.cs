namespace Smelt.Sandbox.Tests;

/// <summary>The exact command lines the backends build. Docker has no engine on CI: these are its only tests.</summary>
public sealed class ArgumentTests
{
    private static SandboxRequest Request(string work) => new()
    {
        Command = ["/opt/tc/bin/rustc", "--version"],
        WorkDirectory = work,
        ReadOnlyPaths = ["/usr/share"],
        Environment = new Dictionary<string, string> { ["RUSTC_BOOTSTRAP"] = "0" },
        Limits = new ResourceLimits
        {
            WallTime = TimeSpan.FromSeconds(5), CpuTime = TimeSpan.FromSeconds(3.2), MemoryBytes = 512L << 20, MaxProcesses = 40,
            MaxFileSizeBytes = 1L << 20, MaxOpenFiles = 100, MaxDiskBytes = 8L << 20,
        },
    };

    [Fact]
    public void Docker_argv_is_exactly_the_locked_down_run()
    {
        using var work = new TempDir();
        var request = Request(work.Path);
        var argv = DockerSandbox.BuildArguments("/usr/bin/docker", "debian:bookworm-slim", "smelt-x", request, SandboxPaths.BuildEnvironment(request.Environment));
        string[] expected =
        [
            "/usr/bin/docker", "run", "--rm", "-i", "--name", "smelt-x",
            "--network", "none",
            "--read-only",
            "--tmpfs", "/tmp:rw,nosuid,nodev,size=8388608,mode=1777",
            "--user", "65534:65534",
            "--security-opt", "no-new-privileges",
            "--cap-drop", "ALL",
            "--memory", "536870912",
            "--memory-swap", "536870912",
            "--cpus", "1",
            "--pids-limit", "40",
            "--ulimit", "cpu=4:5",
            "--ulimit", "fsize=1048576:1048576",
            "--ulimit", "nofile=100:100",
            "--ulimit", "core=0:0",
            "--hostname", "smelt",
            "--mount", "type=bind,source=/usr,target=/usr,readonly",
            "--mount", "type=bind,source=/usr/share,target=/usr/share,readonly",
            "--mount", $"type=bind,source={work.Path},target={work.Path}",
            "--workdir", work.Path,
            "--env", "HOME=/tmp", "--env", "LANG=C.UTF-8", "--env", "LC_ALL=C.UTF-8", "--env", "PATH=/usr/local/bin:/usr/bin:/bin",
            "--env", "RUSTC_BOOTSTRAP=0", "--env", "TMPDIR=/tmp",
            "debian:bookworm-slim",
            "/opt/tc/bin/rustc", "--version",
        ];
        Assert.Equal(expected, argv);
    }

    [Fact]
    public void Docker_refuses_paths_its_mount_syntax_cannot_carry()
    {
        using var work = new TempDir("a,b");
        var request = Request(work.Path);
        Assert.Throws<SandboxSetupException>(() => DockerSandbox.BuildArguments("docker", "img", "c", request, SandboxPaths.BuildEnvironment(request.Environment)));
    }

    [Fact]
    public void Firejail_argv_hides_every_non_system_top_level_directory()
    {
        using var work = new TempDir();
        var ro = Path.Combine("/var/tmp", "smelt-fj-argv-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(ro);
        try
        {
        var request = Request(work.Path) with { ReadOnlyPaths = [ro] };
        string[] top = ["bin", "boot", "dev", "etc", "home", "lib", "lib64", "opt", "proc", "root", "run", "secret.txt", "srv", "sys", "tmp", "usr", "var", "work"];
        var argv = FirejailSandbox.BuildArguments("/usr/bin/firejail", request, top, ["firejail", "secrets", "user"], memoryCgroup: true);
        foreach (var required in new[]
                 {
                     "--net=none", "--protocol=unix", "--caps.drop=all", "--nonewprivs", "--noroot", "--private-dev", "--private-tmp",
                     "--read-only=/", "--read-only=/etc", "--read-only=/var", $"--read-only={ro}", "--deterministic-exit-code",
                     "--rlimit-cpu=4", $"--rlimit-as={1L << 30}", "--rlimit-fsize=1048576", "--rlimit-nofile=100", "--rlimit-nproc=40",
                     $"--whitelist={ro}", $"--whitelist={work.Path}", $"--read-write={work.Path}",
                     "--whitelist=/etc/alternatives", "--blacklist=/run/secrets", "--blacklist=/run/user",
                 })
            Assert.Contains(required, argv);
        foreach (var hidden in new[] { "boot", "home", "opt", "srv", "root", "work", "secret.txt" })
            Assert.Contains($"--blacklist=/{hidden}", argv);
        foreach (var kept in new[] { "usr", "bin", "lib", "proc", "dev", "sys", "etc", "run", "var", "tmp" })
            Assert.DoesNotContain($"--blacklist=/{kept}", argv);
        Assert.DoesNotContain("--blacklist=/run/firejail", argv);
        Assert.Single(argv, a => a.StartsWith("--seccomp=", StringComparison.Ordinal) && a.Contains("ptrace") && a.Contains("unshare") && a.Contains("bpf"));
        Assert.Equal(["--", "/opt/tc/bin/rustc", "--version"], argv[^3..]);
        }
        finally
        {
            Directory.Delete(ro);
        }
    }

    [Fact]
    public void Bwrap_argv_isolates_and_binds_exactly_what_is_asked()
    {
        using var work = new TempDir();
        var request = Request(work.Path);
        var argv = BwrapSandbox.BuildArguments("/usr/bin/bwrap", request, SandboxPaths.BuildEnvironment(request.Environment), seccompFd: 9, hostIsRoot: true);
        var joined = string.Join(' ', argv);
        foreach (var flag in new[] { "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--disable-userns", "--die-with-parent", "--new-session", "--clearenv" })
            Assert.Contains(flag, argv);
        Assert.Contains("--cap-drop ALL", joined);
        Assert.Contains("--uid 65534 --gid 65534", joined);
        Assert.Contains("--ro-bind /usr/share /usr/share", joined);
        Assert.Contains($"--bind {work.Path} {work.Path}", joined);
        Assert.Contains("--perms 1777 --size 8388608 --tmpfs /tmp", joined);
        Assert.Contains("--remount-ro /", joined);
        Assert.Contains("--seccomp 9 --json-status-fd 8", joined);
        Assert.Contains("--setenv RUSTC_BOOTSTRAP 0", joined);
        Assert.DoesNotContain("--ro-bind / /", joined);
        Assert.EndsWith("-- /opt/tc/bin/rustc --version", joined);
        var nonRoot = BwrapSandbox.BuildArguments("/usr/bin/bwrap", request, SandboxPaths.BuildEnvironment(request.Environment), 9, hostIsRoot: false);
        Assert.EndsWith("-- /usr/bin/prlimit --nproc=40 -- /opt/tc/bin/rustc --version", string.Join(' ', nonRoot));
    }

    [Fact]
    public void Launcher_joins_cgroups_before_exec_and_sets_rlimits()
    {
        using var work = new TempDir();
        var spec = new LaunchSpec
        {
            Argv = ["/usr/bin/bwrap", "--", "/bin/true"], LauncherEnvironment = new Dictionary<string, string> { ["PATH"] = "/usr/bin" },
            HostWorkDirectory = work.Path, Limits = Request(work.Path).Limits, Fd9File = "/x/seccomp.bpf",
        };
        var psi = ProcessRunner.BuildStartInfo(spec, new RunCgroup("/cg/mem/r1", false, "/cg/pids/r1", ["/cg/mem/r1", "/cg/pids/r1"]));
        var args = psi.ArgumentList.ToList();
        Assert.Equal("-c", args[0]);
        var script = args[1];
        Assert.StartsWith("n=2; while", script);
        foreach (var limit in new[] { "ulimit -S -t 4 ", "ulimit -H -t 5 ", "ulimit -v 1048576 ", "ulimit -f 2048 ", "ulimit -n 100 ", "ulimit -c 0 " })
            Assert.Contains(limit, script);
        Assert.True(script.IndexOf("echo $$", StringComparison.Ordinal) < script.IndexOf("ulimit", StringComparison.Ordinal), "cgroup join must come first");
        Assert.EndsWith("9<\"$f\"", script);
        Assert.Equal(["smelt-launcher", "/cg/mem/r1/cgroup.procs", "/cg/pids/r1/cgroup.procs", "/x/seccomp.bpf", "/usr/bin/bwrap", "--", "/bin/true"], args[2..]);
        Assert.Equal(["PATH"], psi.Environment.Keys);
    }

    [Fact]
    public void Secret_looking_environment_names_are_refused_even_when_passed_explicitly()
    {
        Assert.Throws<SandboxSetupException>(() => SandboxPaths.BuildEnvironment(new Dictionary<string, string> { ["HF_TOKEN"] = "x" }));
        Assert.Throws<SandboxSetupException>(() => SandboxPaths.BuildEnvironment(new Dictionary<string, string> { ["A=B"] = "x" }));
        var env = SandboxPaths.BuildEnvironment(new Dictionary<string, string>());
        Assert.Equal(["HOME", "LANG", "LC_ALL", "PATH", "TMPDIR"], env.Keys);
    }
}

internal sealed class TempDir : IDisposable
{
    public string Path { get; }

    public TempDir(string suffix = "")
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "smelt-sbx-test-" + Guid.NewGuid().ToString("N") + suffix);
        Directory.CreateDirectory(Path);
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, true); } catch (IOException) { }
    }
}
