using System.Diagnostics;
using System.Security.Cryptography;

namespace Smelt.Sandbox;

/// <summary>
/// The session supervisor (<c>Supervisor/supervisor.rs</c>, embedded), compiled once per machine with the Rust toolchain
/// the harness already needs and cached under the private sandbox root, named by the hash of its source. It is Smelt's
/// own code, so it is compiled on the host; nothing the model wrote goes near it.
/// </summary>
internal static class SupervisorBinary
{
    private static readonly Lazy<Task<(string? Path, string? Problem)>> Built = new(BuildAsync);

    /// <summary>The binary's path, or why there is none (no rustc, compile error).</summary>
    public static Task<(string? Path, string? Problem)> GetAsync() => Built.Value;

    internal static string Source()
    {
        using var stream = typeof(SupervisorBinary).Assembly.GetManifestResourceStream("Smelt.Sandbox.supervisor.rs")
            ?? throw new InvalidOperationException("supervisor.rs resource missing from Smelt.Sandbox");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static async Task<(string?, string?)> BuildAsync()
    {
        var source = Source();
        var hash = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(source + System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture)))[..16];
        var target = Path.Combine(SandboxPaths.PrivateRoot, $"supervisor-{hash}");
        if (File.Exists(target)) return (target, null);
        var sysroot = RustSysroot.Find();
        if (sysroot is null) return (null, "no Rust toolchain found to build the session supervisor");
        var dir = Path.Combine(SandboxPaths.PrivateRoot, $"supervisor-build-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            var src = Path.Combine(dir, "supervisor.rs");
            await File.WriteAllTextAsync(src, source);
            var psi = new ProcessStartInfo(Path.Combine(sysroot, "bin", "rustc"))
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir,
            };
            foreach (var a in new[] { "--edition", "2021", "-C", "opt-level=2", "-C", "panic=abort", "-C", "debuginfo=0", "-C", "strip=symbols", "supervisor.rs", "-o", "supervisor" })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            await p.StandardOutput.ReadToEndAsync();
            await p.WaitForExitAsync();
            if (p.ExitCode != 0) return (null, "the session supervisor did not compile: " + SandboxFactory.Tail(await stderr));
            // Another Smelt process may have raced us to the same name; either file is the same program.
            File.Move(Path.Combine(dir, "supervisor"), target, overwrite: true);
            return (target, null);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            return (null, "cannot build the session supervisor: " + ex.Message);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }
}
