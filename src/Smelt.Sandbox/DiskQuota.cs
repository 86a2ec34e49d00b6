using System.Collections.Concurrent;
using System.Globalization;

namespace Smelt.Sandbox;

/// <summary>
/// How a new work directory is mounted: not at all; a tmpfs of its own (<see cref="Plain"/>: it takes its parent's
/// propagation, private under the work roots, shared with the session under a session's runs root); or a tmpfs made a
/// shared mount (a session's runs root).
/// </summary>
internal enum QuotaMount { None, Plain, Shared }

/// <summary>
/// A hard cap on what a run can leave in its work directory. Where Smelt may mount (host root with CAP_SYS_ADMIN), every
/// work directory is a tmpfs of its own: roomy between runs, when only Smelt writes to it, and remounted to the run's
/// <see cref="ResourceLimits.MaxDiskBytes"/> (plus <see cref="Slack"/>, so that the poll still sees the overflow and says
/// so) while a run lasts, so a program writing at memory speed gets ENOSPC instead of outrunning the 100 ms poll. Its
/// pages are charged to the run's memory cgroup, like its <c>/tmp</c>, and counted in pages (a small file costs a page).
/// Elsewhere the poll of <see cref="Watchdog"/> is the only bound, which a loaded machine can let a fast writer overshoot by
/// a second's worth of writes.
/// <para>
/// The work roots are made private mount points first (a bind onto themselves), so that on a host whose <c>/</c> is shared
/// (systemd) these mounts reach no other mount namespace. A session's runs root is a tmpfs made a shared mount, so that the
/// work directories mounted in it later reach the session's namespace (bwrap makes its copies slaves), and their unmounts
/// too. Mounts carry the owning process as their source (<c>smelt-quota-PID-STARTTIME</c>); the first use sweeps those
/// of processes that are gone.
/// </para>
/// </summary>
internal static class DiskQuota
{
    /// <summary>The size between runs: a bound for Smelt's own writes (sources, builds of crates), not a run's limit.</summary>
    public const long HostBytes = 16L << 30;
    public const long Slack = 1L << 20;
    /// <summary>Files and directories a work directory can hold: empty files cost no data pages, but inodes are memory too.</summary>
    public const long Inodes = 1L << 17;
    private const string SourcePrefix = "smelt-quota-";

    private static readonly Lazy<string?> Problem = new(Probe);
    private static readonly ConcurrentDictionary<string, Mounted> Mounts = new(StringComparer.Ordinal);
    private static readonly string Source = $"{SourcePrefix}{Environment.ProcessId}-{StartTime(Environment.ProcessId) ?? 0}";
    private static int s_warned;

    private sealed class Mounted
    {
        public readonly Lock Gate = new();
        public readonly List<long> Active = [];
    }

    /// <summary>True when work directories get a tmpfs quota here.</summary>
    public static bool Enabled => Problem.Value is null;

    /// <summary>One line for the self-check and the docs' "what is enforced here".</summary>
    public static string Description => Problem.Value is { } why
        ? $"polled every 100 ms (no hard quota: {why})"
        : "hard: each work directory is a tmpfs sized to the run's limit while it runs";

    private static string Key(string dir) => Path.GetFullPath(dir).TrimEnd('/');

    /// <summary>
    /// Makes <paramref name="dir"/> (just created, empty) a tmpfs of its own. False where quotas are off, or when this one
    /// mount fails (said once on stderr; the directory is then a plain one, bounded by the poll).
    /// </summary>
    public static bool TryMount(string dir, bool shared = false)
    {
        if (!Enabled) return false;
        if (Native.Mount(Source, dir, "tmpfs", Native.MS_NOSUID | Native.MS_NODEV, Options(HostBytes, mode: true)) is { } error)
            return Warn($"cannot mount the quota tmpfs on work directory '{dir}': {error}");
        if (shared && Native.Mount(null, dir, null, Native.MS_SHARED, null) is { } shareError)
        {
            Native.Unmount(dir);
            return Warn($"cannot make '{dir}' a shared mount: {shareError}");
        }
        Mounts[Key(dir)] = new Mounted();
        return true;
    }

    private static bool Warn(string what)
    {
        if (Interlocked.Exchange(ref s_warned, 1) == 0)
            Console.Error.WriteLine($"warning: {what}; such work directories fall back to the 100 ms disk poll (said once)");
        return false;
    }

    public static bool IsMounted(string dir) => Mounts.ContainsKey(Key(dir));

    /// <summary>
    /// Caps <paramref name="dir"/> at <paramref name="maxBytes"/> (or what is already there, if more: the poll ends such a
    /// run at once) plus <see cref="Slack"/> until the returned scope is disposed; the largest cap of overlapping runs wins.
    /// Null when the directory has no quota mount.
    /// </summary>
    public static IDisposable? Limit(string dir, long maxBytes)
    {
        var key = Key(dir);
        if (!Mounts.TryGetValue(key, out var mounted)) return null;
        long cap;
        lock (mounted.Gate)
        {
            cap = Math.Min(Math.Max(maxBytes, UsedBytes(key) ?? 0), 1L << 50) + Slack;
            mounted.Active.Add(cap);
            if (Resize(key, mounted.Active.Max()) is { } error)
            {
                mounted.Active.Remove(cap);
                throw new SandboxSetupException(error);
            }
        }
        return new Scope(key, mounted, cap);
    }

    /// <summary>The cap in force on a quota'd directory (its tmpfs size), or null.</summary>
    internal static long? CapBytes(string dir) => Stats(dir) is { } s ? s.Blocks * s.BlockSize : null;

    /// <summary>statfs of a quota'd directory's own tmpfs; null without a quota mount, or when the path no longer is one
    /// (released meanwhile: never the disk's figures instead).</summary>
    private static Native.FsStats? Stats(string dir) =>
        IsMounted(dir) && Native.StatFs(dir) is { Type: Native.TmpfsMagic } s ? s : null;

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

    /// <summary>Bytes in use on the directory's own tmpfs (pages, so many small files count fully); null as for <see cref="Stats"/>.</summary>
    public static long? UsedBytes(string dir) => Stats(dir) is { } s ? (s.Blocks - s.FreeBlocks) * s.BlockSize : null;

    /// <summary>
    /// Whether a work directory holds more than <paramref name="maxBytes"/> (the tmpfs's pages, or out of inodes; without a
    /// quota mount, a size walk): the watchdog's poll, and once more after every run, so that a run that overshot
    /// between two polls is still reported.
    /// </summary>
    public static bool OverLimit(string dir, long maxBytes)
    {
        if (!IsMounted(dir)) return Watchdog.DiskUsage(dir, maxBytes) > maxBytes;
        return Stats(dir) is { } s && ((s.Blocks - s.FreeBlocks) * s.BlockSize > maxBytes || s.FreeFiles == 0);
    }

    /// <summary>Unmounts a quota'd directory (its contents go with it); false when it had none.</summary>
    public static bool Release(string dir)
    {
        var key = Key(dir);
        if (!Mounts.TryRemove(key, out _)) return false;
        Native.Unmount(key);
        return true;
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux()) return "not Linux";
        if (Environment.GetEnvironmentVariable("SMELT_SANDBOX_DISK_QUOTA") == "0") return "SMELT_SANDBOX_DISK_QUOTA=0";
        if (!Native.IsRoot) return "mounting a tmpfs needs root on the host";
        var roots = new[] { SandboxPaths.WorkRoot, SandboxPaths.FirejailWorkRoot };
        foreach (var root in roots)
            if (MakePrivateMountPoint(root) is { } why) return why;
        SweepStale(roots);
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

    /// <summary>
    /// Binds <paramref name="root"/> onto itself once (a later process finds it a mount point already) and makes it private:
    /// mounts made under it then propagate nowhere, whatever the host's <c>/</c> is.
    /// </summary>
    private static string? MakePrivateMountPoint(string root)
    {
        if (!MountPoints().Contains(root) && Native.Mount(root, root, null, Native.MS_BIND, null) is { } bindError)
            return $"cannot bind the work root '{root}' onto itself: {bindError}";
        return Native.Mount(null, root, null, Native.MS_PRIVATE, null) is { } error
            ? $"cannot make the work root '{root}' a private mount: {error}"
            : null;
    }

    private static HashSet<string> MountPoints()
    {
        try
        {
            return File.ReadLines("/proc/self/mountinfo").Select(l => l.Split(' ')).Where(f => f.Length > 4)
                .Select(f => UnescapeMountPath(f[4])).ToHashSet(StringComparer.Ordinal);
        }
        catch (IOException) { return []; }
    }

    /// <summary>Unmounts the quota mounts of Smelt processes that are gone (a crash, a kill), which would hold memory until reboot.</summary>
    internal static void SweepStale(IReadOnlyList<string> roots)
    {
        string[] lines;
        try { lines = File.ReadAllLines("/proc/self/mountinfo"); }
        catch (IOException) { return; }
        // Deepest first: a session's work directories before its runs root.
        foreach (var m in lines.Select(ParseQuotaMount).OfType<QuotaMountInfo>().OrderByDescending(m => m.Target.Length))
        {
            if (!roots.Any(r => m.Target.StartsWith(r + "/", StringComparison.Ordinal)) || Alive(m.Pid, m.StartTime)) continue;
            Native.Unmount(m.Target);
            try { Directory.Delete(m.Target, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    internal sealed record QuotaMountInfo(string Target, int Pid, long? StartTime);

    /// <summary>The mount point and owner of a line of /proc/self/mountinfo when it is a Smelt quota tmpfs.</summary>
    internal static QuotaMountInfo? ParseQuotaMount(string line)
    {
        // "36 35 0:47 / /var/tmp/x rw,nosuid - tmpfs smelt-quota-123-456789 rw,size=..."
        var fields = line.Split(' ');
        var dash = Array.IndexOf(fields, "-");
        if (dash < 5 || dash + 2 >= fields.Length || fields[dash + 1] != "tmpfs") return null;
        var source = fields[dash + 2];
        if (!source.StartsWith(SourcePrefix, StringComparison.Ordinal)) return null;
        var parts = source[SourcePrefix.Length..].Split('-');
        if (parts.Length is < 1 or > 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) return null;
        long? start = null;
        if (parts.Length == 2)
        {
            if (!long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var s)) return null;
            start = s;
        }
        return new QuotaMountInfo(UnescapeMountPath(fields[4]), pid, start);
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

    /// <summary>Field 22 of /proc/PID/stat (start time in clock ticks since boot): with the pid, it names one process.</summary>
    internal static long? StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields from 3 on; the name may hold spaces
            return long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var t) ? t : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    private static bool Alive(int pid, long? startTime)
    {
        if (pid == Environment.ProcessId) return true;
        var now = StartTime(pid);
        return now is not null && (startTime is null || now == startTime);
    }
}
