using System.Diagnostics;

namespace Smelt.Sandbox;

/// <summary>Finds the Rust sysroot (for the self-check probe) the way the eval side does: rustc on PATH or ~/.cargo/bin, then <c>--print sysroot</c>.</summary>
public static class RustSysroot
{
    public static string? Find(string? rustc = null)
    {
        rustc ??= Environment.GetEnvironmentVariable("SMELT_RUSTC");
        if (rustc is null)
        {
            var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            rustc = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Append(Path.Combine(home, ".cargo", "bin")).Select(d => Path.Combine(d, "rustc")).FirstOrDefault(File.Exists);
        }
        if (rustc is null) return null;
        try
        {
            using var p = Process.Start(new ProcessStartInfo(rustc, ["--print", "sysroot"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var output = p.StandardOutput.ReadToEnd().Trim();
            p.StandardError.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 && Directory.Exists(output) ? output : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }
}
