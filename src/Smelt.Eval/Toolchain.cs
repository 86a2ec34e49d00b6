using System.Diagnostics;
using Smelt.Core;
using Smelt.Sandbox;

namespace Smelt.Eval;

/// <summary>
/// The real toolchain binaries under <c>rustc --print sysroot</c> (not the rustup proxies, which would need
/// <c>~/.rustup</c> and network-capable logic inside the sandbox).
/// </summary>
public sealed record Toolchain(string Sysroot, string Rustc, string ClippyDriver, string Cargo, string RustcVersion, string? ClippyVersion)
{
    /// <summary>Finds rustc (<paramref name="rustc"/>, <c>SMELT_RUSTC</c>, PATH, <c>~/.cargo/bin</c>) and asks it for its sysroot.</summary>
    public static string FindSysroot(string? rustc = null)
    {
        rustc ??= Environment.GetEnvironmentVariable("SMELT_RUSTC");
        rustc ??= FindOnPath("rustc") ?? throw SmeltException.Infrastructure(
            "rustc not found on PATH or in ~/.cargo/bin; install a Rust toolchain (e.g. rustup) or pass --rustc PATH");
        var psi = new ProcessStartInfo(rustc, ["--print", "sysroot"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        try
        {
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEnd();
            var stderr = p.StandardError.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0 || string.IsNullOrWhiteSpace(stdout))
                throw SmeltException.Infrastructure($"'{rustc} --print sysroot' failed (exit {p.ExitCode}): {stderr.Trim()}");
            return stdout.Trim();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw SmeltException.Infrastructure($"cannot run {rustc}: {ex.Message}");
        }
    }

    /// <summary>Locates the binaries and reads their versions by running them in the sandbox (which also proves the sandbox works).</summary>
    public static async Task<Toolchain> ProbeAsync(ISandbox sandbox, string sysroot, bool needClippy, CancellationToken ct)
    {
        var bin = Path.Combine(sysroot, "bin");
        var rustc = Path.Combine(bin, "rustc");
        var clippy = Path.Combine(bin, "clippy-driver");
        var cargo = Path.Combine(bin, "cargo");
        if (!File.Exists(rustc)) throw SmeltException.Infrastructure($"{rustc} does not exist (sysroot {sysroot})");
        if (needClippy && !File.Exists(clippy))
            throw SmeltException.Infrastructure($"{clippy} does not exist: install clippy (rustup component add clippy) or pass --no-clippy");
        var rv = await VersionAsync(sandbox, sysroot, rustc, ct);
        var cv = needClippy ? await VersionAsync(sandbox, sysroot, clippy, ct) : null;
        return new Toolchain(sysroot, rustc, clippy, cargo, rv, cv);
    }

    private static async Task<string> VersionAsync(ISandbox sandbox, string sysroot, string binary, CancellationToken ct)
    {
        using var wd = sandbox.CreateWorkDirectory("probe");
        var result = await sandbox.RunAsync(new SandboxRequest
        {
            Command = [binary, "--version"],
            WorkDirectory = wd.Path,
            ReadOnlyPaths = [sysroot],
            Limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(60), CpuTime = TimeSpan.FromSeconds(60), MemoryBytes = 4L << 30 },
        }, ct);
        if (result.InfrastructureError is not null)
            throw SmeltException.Infrastructure($"sandbox '{sandbox.Name}' could not run {binary}: {result.InfrastructureError}");
        if (!result.Succeeded)
            throw SmeltException.Infrastructure($"'{binary} --version' failed inside sandbox '{sandbox.Name}' (exit {result.ExitCode?.ToString() ?? "-"}, signal {result.Signal?.ToString() ?? "-"}): {Tail(result.Stderr)}");
        return result.Stdout.Trim();
    }

    internal static string Tail(string s, int max = 400) => s.Length <= max ? s.Trim() : "..." + s[^max..].Trim();

    internal static string? FindOnPath(string command)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Append(Path.Combine(home, ".cargo", "bin")))
        {
            var candidate = Path.Combine(dir, command);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
