using System.Diagnostics;
using Smelt.TestSupport;

namespace Smelt.Sandbox.Tests;

/// <summary>The real toolchain (sysroot binaries) as the eval side uses it, located once.</summary>
internal static class Rust
{
    private static readonly Lazy<string?> SysrootLazy = new(() =>
    {
        var rustc = TestEnvironment.FindOnPath("rustc");
        if (rustc is null) return null;
        var psi = new ProcessStartInfo(rustc, ["--print", "sysroot"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var s = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return p.ExitCode == 0 && Directory.Exists(s) ? s : null;
    });

    public static string Sysroot => SysrootLazy.Value ?? throw new InvalidOperationException("rustc not found");
    public static string Rustc => Path.Combine(Sysroot, "bin", "rustc");

    /// <summary>Compiles inside the sandbox (compilation is untrusted).</summary>
    public static Task<SandboxResult> CompileAsync(ISandbox sandbox, string workDir, string source, string output, params string[] extra) =>
        sandbox.RunAsync(new SandboxRequest
        {
            Command = [Rustc, "--edition", "2021", "-C", "linker=cc", "-C", "opt-level=0", "-C", "debuginfo=0", .. extra, source, "-o", output],
            WorkDirectory = workDir,
            ReadOnlyPaths = [Sysroot],
            Limits = CompileLimits,
        });

    public static ResourceLimits CompileLimits { get; } = new()
    {
        WallTime = TimeSpan.FromSeconds(120), CpuTime = TimeSpan.FromSeconds(120), MemoryBytes = 4L << 30, MaxProcesses = 128,
    };
}

/// <summary>A fact that needs a working backend and the Rust toolchain.</summary>
public sealed class SandboxFactAttribute : FactAttribute
{
    public SandboxFactAttribute(string backend, bool needsRust = false)
    {
        if (TestEnvironment.FindOnPath(backend) is null) Skip = $"{backend} is not installed ({SandboxFactory.InstallHint(backend)})";
        else if (needsRust && TestEnvironment.FindOnPath("rustc") is null) Skip = "rustc is not installed (run scripts/setup.sh)";
    }
}

public sealed class SandboxTheoryAttribute : TheoryAttribute
{
    public SandboxTheoryAttribute(string backend = "")
    {
        if (backend.Length > 0 && TestEnvironment.FindOnPath(backend) is null) Skip = $"{backend} is not installed ({SandboxFactory.InstallHint(backend)})";
    }
}
