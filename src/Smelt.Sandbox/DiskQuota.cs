using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Smelt.Sandbox;

/// <summary>How a new work directory is mounted: not at all, a private tmpfs, or a shared one (a session's runs root).</summary>
internal enum QuotaMount { None, Private, Shared }

/// <summary>
/// A hard cap on what a run can leave in its work directory. Where Smelt may mount (host root with CAP_SYS_ADMIN), every
/// work directory is a tmpfs of its own: roomy between runs, when only Smelt writes to it, and remounted to the run's
/// <see cref="ResourceLimits.MaxDiskBytes"/> (plus <see cref="Slack"/>, so that the poll still sees the overflow and says
/// so) while a run lasts, so a program writing at memory speed gets ENOSPC instead of outrunning the 100 ms poll. Its
/// pages are charged to the run's memory cgroup, like its <c>/tmp</c>. Elsewhere the poll of <see cref="Watchdog"/> is the
/// only bound, which a loaded machine can let a fast writer overshoot by a second's worth of writes.
/// <para>
/// A session's runs root is such a tmpfs too, made a shared mount so that the work directories mounted in it later reach
/// the session's mount namespace (bwrap makes its copies slaves). Mounts carry the owning process id as their source
/// (<c>smelt-quota-PID</c>); the first use sweeps those of processes that are gone.
/// </para>
/// </summary>
internal static class DiskQuota
{
    /// <summary>The size between runs: a bound for Smelt's own writes (sources, builds of crates), not a run's limit.</summary>
    public const long HostBytes = 16L << 30;
    public const long Slack = 1L << 20;
    /// <summary>Files and directories a work directory can hold: empty files cost no data pages, but inodes are memory too.</summary>
    public const long Inodes = 1L << 17;

    private static readonly Lazy<string?> Problem = new(Probe);
    private static readonly ConcurrentDictionary<string, Mounted> Mounts = new(StringComparer.Ordinal);
    private static readonly string Source = "smelt-quota-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);

    private sealed class Mounted
    {
        public readonly Lock Gate = new();
        public readonly List<long> Active = [];
    }

    /// <summary>How the error of a runs root that could not be made a shared mount begins.</summary>
    public const string NoSharedMount = "cannot make a shared mount of";

    /// <summary>True when work directories get a tmpfs quota here.</summary>
    public static bool Enabled => Problem.Value is null;

    /// <summary>One line for the self-check and the docs' "what is enforced here".</summary>
    public static string Description => Problem.Value is { } why
        ? $"polled every 100 ms (no hard quota: {why})"
        : "hard: each work directory is a tmpfs sized to the run's limit while it runs";

    /// <summary>Makes <paramref name="dir"/> (just created, empty) a tmpfs of its own; false where quotas are off.</summary>
    public static bool TryMount(string dir, bool shared = false)
    {
        if (!Enabled) return false;
        if (Native.Mount(Source, dir, "tmpfs", Native.MS_NOSUID | Native.MS_NODEV, Options(HostBytes, mode: true)) is { } error)
            throw new SandboxSetupException($"cannot mount the quota tmpfs on work directory '{dir}': {error} (set SMELT_SANDBOX_DISK_QUOTA=0 to poll instead)");
        if (shared && Native.Mount(null, dir, null, Native.MS_SHARED, null) is { } shareError)
        {
            Native.Unmount(dir);
            throw new SandboxSetupException($"{NoSharedMount} '{dir}': {shareError}");
        }
        Mounts[Path.GetFullPath(dir).TrimEnd('/')] = new Mounted();
        return true;
    }

    public static bool IsMounted(string dir) => Mounts.ContainsKey(Path.GetFullPath(dir).TrimEnd('/'));

    /// <summary>
    /// Caps <paramref name="dir"/> at <paramref name="maxBytes"/> (or what is already there, if more: the poll ends such a
    /// run at once) plus <see cref="Slack"/> until the returned scope is disposed; the largest cap of overlapping runs wins.
    /// Null when the directory has no quota mount.
    /// </summary>
    public static IDisposable? Limit(string dir, long maxBytes)
    {
        var key = Path.GetFullPath(dir).TrimEnd('/');
        if (!Mounts.TryGetValue(key, out var mounted)) return null;
        long cap;
        lock (mounted.Gate)
        {
            cap = Math.Max(maxBytes, UsedBytes(key) ?? 0) + Slack;
            mounted.Active.Add(cap);
            if (Resize(key, mounted.Active.Max()) is { } error)
            {
                mounted.Active.Remove(cap);
                throw new SandboxSetupException(error);
            }
        }
        return new Scope(key, mounted, cap);
    }

    private sealed class Scope(string dir, Mounted mounted, long cap) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 1) return;
            lock (mounted.Gate)
            {
                mounted.Active.Remove(cap);
                // Released already (the directory was disposed while a run was still in it): nothing left to resize.
                if (!Mounts.ContainsKey(dir)) return;
                if (Resize(dir, mounted.Active.Count == 0 ? HostBytes : mounted.Active.Max()) is { } error)
                    Console.Error.WriteLine($"warning: {error}; Smelt's next writes there may hit the last run's cap");
            }
        }
    }

    private static string? Resize(string dir, long bytes) =>
        Native.Mount(null, dir, null, Native.MS_REMOUNT | Native.MS_NOSUID | Native.MS_NODEV, Options(bytes, mode: false)) is { } error
            ? $"cannot resize the quota tmpfs of '{dir}' to {bytes} bytes: {error}"
            : null;

    private static string Options(long bytes, bool mode) =>
        $"size={bytes},nr_inodes={Inodes}" + (mode ? ",mode=0700" : "");

    /// <summary>Bytes in use on the directory's own tmpfs (pages, so many small files count fully); null without a quota mount.</summary>
    public static long? UsedBytes(string dir) =>
        IsMounted(dir) && Native.StatFs(dir) is { } s ? (s.Blocks - s.FreeBlocks) * s.BlockSize : null;

    /// <summary>True when a quota'd directory is full: out of pages or of inodes.</summary>
    public static bool IsFull(string dir, long maxBytes)
    {
        if (!IsMounted(dir) || Native.StatFs(dir) is not { } s) return false;
        return (s.Blocks - s.FreeBlocks) * s.BlockSize > maxBytes || s.FreeFiles == 0;
    }

    /// <summary>Unmounts a quota'd directory (its contents go with it); false when it had none.</summary>
    public static bool Release(string dir)
    {
        var key = Path.GetFullPath(dir).TrimEnd('/');
        if (!Mounts.TryRemove(key, out _)) return false;
        Native.Unmount(key);
        return true;
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        if (Environment.GetEnvironmentVariable("SMELT_SANDBOX_DISK_QUOTA") == "0") return "SMELT_SANDBOX_DISK_QUOTA=0";
        if (!Native.IsRoot) return "mounting a tmpfs needs root on the host";
        SweepStale();
        var probe = Path.Combine(SandboxPaths.WorkRoot, ".quota-probe-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(probe);
        try
        {
            var error = Native.Mount(Source, probe, "tmpfs", Native.MS_NOSUID | Native.MS_NODEV, Options(1 << 20, mode: true));
            if (error is not null) return $"mount(2) of a tmpfs was refused: {error}";
            Native.Unmount(probe);
            return null;
        }
        finally
        {
            try { Directory.Delete(probe); } catch (IOException) { }
        }
    }

    /// <summary>Unmounts the quota mounts of Smelt processes that are gone (a crash, a kill), which would hold memory until reboot.</summary>
    internal static void SweepStale()
    {
        string[] lines;
        try { lines = File.ReadAllLines("/proc/self/mountinfo"); }
        catch (IOException) { return; }
        var roots = new[] { SandboxPaths.WorkRoot, SandboxPaths.FirejailWorkRoot };
        // Deepest first: a session's work directories before its runs root.
        foreach (var (target, pid) in lines.Select(ParseQuotaMount).OfType<(string, int)>().OrderByDescending(m => m.Item1.Length))
        {
            if (!roots.Any(r => target.StartsWith(r + "/", StringComparison.Ordinal)) || Alive(pid)) continue;
            Native.Unmount(target);
            try { Directory.Delete(target, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>(mount point, owner pid) of a line of /proc/self/mountinfo when it is a Smelt quota tmpfs.</summary>
    internal static (string, int)? ParseQuotaMount(string line)
    {
        // "36 35 0:47 / /var/tmp/x rw,nosuid - tmpfs smelt-quota-123 rw,size=..."
        var fields = line.Split(' ');
        var dash = Array.IndexOf(fields, "-");
        if (dash < 0 || dash + 2 >= fields.Length || fields.Length < 5 || fields[dash + 1] != "tmpfs") return null;
        const string prefix = "smelt-quota-";
        var source = fields[dash + 2];
        if (!source.StartsWith(prefix, StringComparison.Ordinal) ||
            !int.TryParse(source.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) return null;
        return (UnescapeMountPath(fields[4]), pid);
    }

    /// <summary>mountinfo writes space, tab, newline and backslash in paths as three-digit octal escapes.</summary>
    private static string UnescapeMountPath(string s)
    {
        if (!s.Contains('\\')) return s;
        var sb = new System.Text.StringBuilder();
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 3 < s.Length && s.AsSpan(i + 1, 3).IndexOfAnyExcept("01234567") < 0)
            {
                sb.Append((char)Convert.ToInt32(s.Substring(i + 1, 3), 8));
                i += 3;
            }
            else sb.Append(s[i]);
        }
        return sb.ToString();
    }

    private static bool Alive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try { using var p = Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }
}
