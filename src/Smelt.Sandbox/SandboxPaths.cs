using System.Text;

namespace Smelt.Sandbox;

/// <summary>Host locations the sandbox layer uses, and the allow-listed environment every sandboxed program gets.</summary>
public static class SandboxPaths
{
    /// <summary>
    /// Work directories of the bwrap, docker and none backends live under <c>/var/tmp/smelt-sandbox-UID</c>
    /// (<c>SMELT_SANDBOX_ROOT</c> overrides): deliberately not under <c>/tmp</c>, which is a private tmpfs inside the sandbox,
    /// so that the parents of a work directory inside the sandbox are on the read-only root and a <c>../x</c> write fails.
    /// </summary>
    public static string WorkRoot => Root("SMELT_SANDBOX_ROOT", "/var/tmp");

    /// <summary>Firejail always mounts a fresh /var/tmp, and can whitelist paths under /tmp, so its work directories live there.</summary>
    public static string FirejailWorkRoot => Root("SMELT_SANDBOX_FIREJAIL_ROOT", "/tmp");

    /// <summary>Launcher files (the seccomp program): readable only by this user.</summary>
    internal static string PrivateRoot
    {
        get
        {
            var dir = Path.Combine(WorkRoot, ".smelt-private");
            EnsureDirectory(dir);
            return dir;
        }
    }

    private static string Root(string variable, string parent)
    {
        var overridden = Environment.GetEnvironmentVariable(variable);
        var dir = !string.IsNullOrWhiteSpace(overridden) ? Path.GetFullPath(overridden) : Path.Combine(parent, $"smelt-sandbox-{Native.EffectiveUid}");
        EnsureDirectory(dir);
        return dir;
    }

    internal static void EnsureDirectory(string dir)
    {
        Directory.CreateDirectory(dir);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    /// <summary>
    /// Creates <c>root/label-random</c> (mode 0700), a tmpfs of its own where <see cref="DiskQuota"/> is enabled (unless
    /// <paramref name="quota"/> says otherwise); <paramref name="label"/> is sanitized.
    /// </summary>
    internal static string NewWorkDirectory(string root, string label, QuotaMount quota = QuotaMount.Plain)
    {
        var clean = new StringBuilder();
        foreach (var ch in label.Take(40)) clean.Append(char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_' ? ch : '_');
        var path = Path.Combine(root, $"{(clean.Length == 0 ? "run" : clean)}-{Guid.NewGuid():N}");
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("the sandbox backends are Linux-only");
        Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (quota != QuotaMount.None) DiskQuota.TryMount(path, shared: quota == QuotaMount.Shared);
        return path;
    }

    /// <summary>
    /// The environment a sandboxed program sees: a fixed allow-list plus the caller's explicit additions. Names that look like
    /// secrets (TOKEN, SECRET, KEY...) are refused even when the caller passes them explicitly.
    /// </summary>
    public static IReadOnlyDictionary<string, string> BuildEnvironment(IReadOnlyDictionary<string, string> extra)
    {
        var env = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = "/usr/local/bin:/usr/bin:/bin",
            ["HOME"] = "/tmp",
            ["TMPDIR"] = "/tmp",
            ["LANG"] = "C.UTF-8",
            ["LC_ALL"] = "C.UTF-8",
        };
        foreach (var (key, value) in extra)
        {
            if (string.IsNullOrEmpty(key) || key.Contains('=') || key.Contains('\0') || value.Contains('\0'))
                throw new SandboxSetupException($"invalid environment variable name or value for '{key}'");
            if (Smelt.Core.Redactor.LooksSecretName(key))
                throw new SandboxSetupException($"refusing to pass '{key}' into the sandbox: its name looks like a secret");
            env[key] = value;
        }
        return env;
    }
}
