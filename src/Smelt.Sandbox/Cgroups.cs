namespace Smelt.Sandbox;

/// <summary>
/// Finds the cgroup controllers this machine offers for memory and process-count limits. Hosts differ: some have cgroup v2
/// with both controllers delegated, some (like the CI machine) have v1 <c>memory</c> and <c>pids</c> hierarchies and a v2
/// hierarchy without them. Each controller is looked up on its own and the first usable place wins.
/// </summary>
internal sealed class CgroupSupport
{
    public string? MemoryParent { get; }
    public bool MemoryIsV2 { get; }
    public string? PidsParent { get; }
    public bool PidsIsV2 { get; }
    public string Description { get; }

    private static readonly Lazy<CgroupSupport> Detected = new(() => new CgroupSupport("/proc/self/cgroup", "/proc/self/mountinfo"));
    public static CgroupSupport Current => Detected.Value;

    private static int _counter;

    internal CgroupSupport(string procCgroup, string mountInfo)
    {
        var mounts = ReadMounts(mountInfo);
        var membership = ReadMembership(procCgroup);
        (MemoryParent, MemoryIsV2) = Find("memory", mounts, membership);
        (PidsParent, PidsIsV2) = Find("pids", mounts, membership);
        Description = $"memory: {Describe(MemoryParent, MemoryIsV2)}; pids: {Describe(PidsParent, PidsIsV2)}";
        foreach (var parent in new[] { MemoryParent, PidsParent }.OfType<string>().Distinct())
            RemoveStale(parent);
    }

    /// <summary>Run cgroups of a Smelt process that died without cleaning up (killed, crashed): their processes are killed, the directories removed.</summary>
    private static void RemoveStale(string parent)
    {
        try
        {
            foreach (var dir in Directory.EnumerateDirectories(parent, "smelt-*-*"))
            {
                var parts = Path.GetFileName(dir).Split('-');
                if (parts.Length != 3 || !int.TryParse(parts[1], out var owner) || owner == Environment.ProcessId) continue;
                if (Directory.Exists($"/proc/{owner}")) continue;
                using var stale = new RunCgroup(null, false, null, [dir]);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static string Describe(string? parent, bool v2) => parent is null ? "unavailable" : $"{(v2 ? "v2" : "v1")} at {parent}";

    /// <summary>Creates a fresh cgroup (one per controller) for one run; null parts when a controller is unavailable.</summary>
    public RunCgroup CreateRun(ResourceLimits limits)
    {
        var name = $"smelt-{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}";
        var dirs = new List<string>();
        string? memory = null, pids = null;
        try
        {
            if (MemoryParent is not null)
            {
                memory = Path.Combine(MemoryParent, name);
                Directory.CreateDirectory(memory);
                dirs.Add(memory);
                if (MemoryIsV2)
                {
                    File.WriteAllText(Path.Combine(memory, "memory.max"), limits.MemoryBytes.ToString());
                    TryWrite(Path.Combine(memory, "memory.swap.max"), "0");
                }
                else
                {
                    File.WriteAllText(Path.Combine(memory, "memory.limit_in_bytes"), limits.MemoryBytes.ToString());
                    TryWrite(Path.Combine(memory, "memory.memsw.limit_in_bytes"), limits.MemoryBytes.ToString());
                }
            }
            if (PidsParent is not null)
            {
                pids = PidsIsV2 && MemoryIsV2 && PidsParent == MemoryParent ? memory : Path.Combine(PidsParent, name);
                if (pids != memory) { Directory.CreateDirectory(pids!); dirs.Add(pids!); }
                File.WriteAllText(Path.Combine(pids!, "pids.max"), limits.MaxProcesses.ToString());
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            new RunCgroup(memory, MemoryIsV2, pids, dirs).Dispose();
            throw new SandboxSetupException($"cannot create a cgroup for the run ({Description}): {ex.Message}");
        }
        return new RunCgroup(memory, MemoryIsV2, pids, dirs);
    }

    private static void TryWrite(string path, string value)
    {
        try { if (File.Exists(path)) File.WriteAllText(path, value); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private static (string? Parent, bool V2) Find(string controller, List<Mount> mounts, Dictionary<string, string> membership)
    {
        // v1: a cgroup mount whose super options name the controller.
        foreach (var m in mounts.Where(m => m.FsType == "cgroup" && m.SuperOptions.Split(',').Contains(controller)))
        {
            var key = membership.Keys.FirstOrDefault(k => k.Split(',').Contains(controller));
            if (key is null) continue;
            var parent = Resolve(m, membership[key]);
            if (parent is not null && Writable(parent)) return (parent, false);
        }
        // v2: the unified mount, if our cgroup delegates the controller to children.
        foreach (var m in mounts.Where(m => m.FsType == "cgroup2"))
        {
            if (!membership.TryGetValue("", out var path)) continue;
            var parent = Resolve(m, path);
            if (parent is null) continue;
            var subtree = Path.Combine(parent, "cgroup.subtree_control");
            try
            {
                if (File.Exists(subtree) && File.ReadAllText(subtree).Split(' ', '\n').Contains(controller) && Writable(parent))
                    return (parent, true);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return (null, false);
    }

    private static string? Resolve(Mount m, string cgroupPath)
    {
        // The mount's root is the part of the hierarchy visible at the mount point (often "/", inside containers sometimes deeper).
        var rel = cgroupPath;
        if (m.Root != "/" && rel.StartsWith(m.Root, StringComparison.Ordinal)) rel = rel[m.Root.Length..];
        var full = Path.Combine(m.MountPoint, rel.TrimStart('/'));
        return Directory.Exists(full) ? full : Directory.Exists(m.MountPoint) && m.Root != "/" ? m.MountPoint : null;
    }

    private static bool Writable(string dir)
    {
        var probe = Path.Combine(dir, $"smelt-probe-{Environment.ProcessId}-{Interlocked.Increment(ref _counter)}");
        try
        {
            Directory.CreateDirectory(probe);
            Directory.Delete(probe);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return false; }
    }

    private sealed record Mount(string Root, string MountPoint, string FsType, string SuperOptions);

    private static List<Mount> ReadMounts(string mountInfo)
    {
        var result = new List<Mount>();
        if (!File.Exists(mountInfo)) return result;
        foreach (var line in File.ReadAllLines(mountInfo))
        {
            // 36 35 98:0 /root /mnt rw,noatime master:1 - cgroup cgroup rw,memory
            var dash = line.IndexOf(" - ", StringComparison.Ordinal);
            if (dash < 0) continue;
            var left = line[..dash].Split(' ');
            var right = line[(dash + 3)..].Split(' ');
            if (left.Length < 5 || right.Length < 3) continue;
            result.Add(new Mount(Unescape(left[3]), Unescape(left[4]), right[0], right[2]));
        }
        return result;
    }

    private static string Unescape(string s) => s.Replace("\\040", " ").Replace("\\011", "\t").Replace("\\012", "\n").Replace("\\134", "\\");

    private static Dictionary<string, string> ReadMembership(string procCgroup)
    {
        var result = new Dictionary<string, string>();
        if (!File.Exists(procCgroup)) return result;
        foreach (var line in File.ReadAllLines(procCgroup))
        {
            // hierarchy-id:controller-list:path
            var parts = line.Split(':', 3);
            if (parts.Length == 3) result[parts[1]] = parts[2];
        }
        return result;
    }
}

/// <summary>The per-run cgroup directories. Dispose kills whatever is still inside and removes them.</summary>
internal sealed class RunCgroup : IDisposable
{
    private readonly List<string> _dirs;
    public string? Memory { get; }
    public bool MemoryIsV2 { get; }
    public string? Pids { get; }

    public RunCgroup(string? memory, bool memoryIsV2, string? pids, List<string> dirs)
    {
        Memory = memory;
        MemoryIsV2 = memoryIsV2;
        Pids = pids;
        _dirs = dirs;
    }

    /// <summary>The <c>cgroup.procs</c> files the launcher writes its own pid into before it execs anything.</summary>
    public IReadOnlyList<string> ProcsFiles => _dirs.Select(d => Path.Combine(d, "cgroup.procs")).ToList();

    public bool IsEmpty => _dirs.Count == 0;

    /// <summary>SIGKILLs every process in the run's cgroups until none is left (a fork bomb is bounded by pids.max).</summary>
    public void KillAll()
    {
        foreach (var dir in _dirs)
        {
            var kill = Path.Combine(dir, "cgroup.kill");
            if (File.Exists(kill))
            {
                try { File.WriteAllText(kill, "1"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
            for (var round = 0; round < 200; round++)
            {
                var pids = ReadPids(dir);
                if (pids.Count == 0) break;
                foreach (var pid in pids) Native.Kill(pid);
                Thread.Sleep(round < 10 ? 1 : 10);
            }
        }
    }

    public bool HasProcesses => _dirs.Any(d => ReadPids(d).Count > 0);

    private static List<int> ReadPids(string dir)
    {
        try
        {
            return File.ReadAllLines(Path.Combine(dir, "cgroup.procs"))
                .Select(l => int.TryParse(l, out var p) ? p : 0).Where(p => p > 0).ToList();
        }
        catch (IOException) { return []; }
        catch (UnauthorizedAccessException) { return []; }
    }

    /// <summary>True when the memory controller saw the limit hit (v1 failcnt / OOM kill, v2 memory.events).</summary>
    public bool MemoryLimitHit()
    {
        if (Memory is null) return false;
        if (MemoryIsV2)
            return CounterAbove(Path.Combine(Memory, "memory.events"), "oom_kill") || CounterAbove(Path.Combine(Memory, "memory.events"), "max");
        return CounterAbove(Path.Combine(Memory, "memory.oom_control"), "oom_kill") || ReadLong(Path.Combine(Memory, "memory.failcnt")) > 0;
    }

    public bool ProcessLimitHit() => Pids is not null && CounterAbove(Path.Combine(Pids, "pids.events"), "max");

    private static bool CounterAbove(string file, string key)
    {
        try
        {
            if (!File.Exists(file)) return false;
            foreach (var line in File.ReadAllLines(file))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 2 && parts[0] == key && long.TryParse(parts[1], out var v)) return v > 0;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return false;
    }

    private static long ReadLong(string file)
    {
        try { return File.Exists(file) && long.TryParse(File.ReadAllText(file).Trim(), out var v) ? v : 0; }
        catch (IOException) { return 0; }
        catch (UnauthorizedAccessException) { return 0; }
    }

    public void Dispose()
    {
        KillAll();
        foreach (var dir in _dirs.AsEnumerable().Reverse())
        {
            for (var attempt = 0; attempt < 50 && Directory.Exists(dir); attempt++)
            {
                try { Directory.Delete(dir); }
                catch (IOException) { Thread.Sleep(5); KillAll(); }
                catch (UnauthorizedAccessException) { break; }
            }
        }
    }
}

/// <summary>The sandbox could not be set up (not the untrusted program's fault).</summary>
internal sealed class SandboxSetupException(string message) : Exception(message);
