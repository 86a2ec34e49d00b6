namespace Smelt.Sandbox.Tests;

/// <summary>Controller discovery from fake /proc/self/cgroup and mountinfo files describing the hosts we meet.</summary>
public sealed class CgroupDetectionTests
{
    [Fact]
    public void V1_memory_and_pids_with_a_v2_hierarchy_lacking_them_like_this_machine()
    {
        using var root = new TempDir();
        var mem = Directory.CreateDirectory(Path.Combine(root.Path, "memory", "process_api", "abc")).FullName;
        var pids = Directory.CreateDirectory(Path.Combine(root.Path, "pids")).FullName;
        var unified = Directory.CreateDirectory(Path.Combine(root.Path, "unified")).FullName;
        File.WriteAllText(Path.Combine(unified, "cgroup.subtree_control"), "\n");
        var mountinfo = Path.Combine(root.Path, "mountinfo");
        File.WriteAllLines(mountinfo,
        [
            $"35 31 0:32 / {root.Path}/memory rw,relatime - cgroup cgroup rw,memory",
            $"39 31 0:36 / {root.Path}/pids rw,relatime - cgroup cgroup rw,pids",
            $"41 31 0:38 / {root.Path}/unified rw,relatime - cgroup2 cgroup2 rw",
        ]);
        var cgroup = Path.Combine(root.Path, "cgroup");
        File.WriteAllLines(cgroup, ["8:pids:/", "4:memory:/process_api/abc", "0::/"]);
        var support = new CgroupSupport(cgroup, mountinfo);
        Assert.Equal(mem, support.MemoryParent);
        Assert.False(support.MemoryIsV2);
        Assert.Equal(pids.TrimEnd('/'), support.PidsParent!.TrimEnd('/'));
        Assert.False(support.PidsIsV2);
    }

    [Fact]
    public void Run_cgroups_left_by_a_dead_smelt_process_are_removed_and_live_ones_kept()
    {
        using var root = new TempDir();
        var pids = Directory.CreateDirectory(Path.Combine(root.Path, "pids")).FullName;
        var dead = Directory.CreateDirectory(Path.Combine(pids, "smelt-999999999-1")).FullName; // no such pid
        var live = Directory.CreateDirectory(Path.Combine(pids, $"smelt-{Environment.ProcessId}-1")).FullName;
        var other = Directory.CreateDirectory(Path.Combine(pids, "not-ours")).FullName;
        var mountinfo = Path.Combine(root.Path, "mountinfo");
        File.WriteAllLines(mountinfo, [$"39 31 0:36 / {pids} rw,relatime - cgroup cgroup rw,pids"]);
        var cgroup = Path.Combine(root.Path, "cgroup");
        File.WriteAllLines(cgroup, ["8:pids:/"]);
        _ = new CgroupSupport(cgroup, mountinfo);
        Assert.False(Directory.Exists(dead));
        Assert.True(Directory.Exists(live));
        Assert.True(Directory.Exists(other));
    }

    [Fact]
    public void V2_with_delegated_controllers()
    {
        using var root = new TempDir();
        var mine = Directory.CreateDirectory(Path.Combine(root.Path, "user.slice", "me")).FullName;
        File.WriteAllText(Path.Combine(mine, "cgroup.subtree_control"), "cpu memory pids\n");
        var mountinfo = Path.Combine(root.Path, "mountinfo");
        File.WriteAllLines(mountinfo, [$"30 1 0:26 / {root.Path} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate"]);
        var cgroup = Path.Combine(root.Path, "cgroup");
        File.WriteAllLines(cgroup, ["0::/user.slice/me"]);
        var support = new CgroupSupport(cgroup, mountinfo);
        Assert.Equal(mine, support.MemoryParent);
        Assert.True(support.MemoryIsV2);
        Assert.Equal(mine, support.PidsParent);
    }

    [Fact]
    public void Nothing_usable_means_no_cgroup_limits_not_a_crash()
    {
        using var root = new TempDir();
        var mountinfo = Path.Combine(root.Path, "mountinfo");
        File.WriteAllLines(mountinfo, [$"30 1 0:26 / {root.Path} rw - cgroup2 cgroup2 rw"]);
        var cgroup = Path.Combine(root.Path, "cgroup");
        File.WriteAllLines(cgroup, ["0::/"]);
        var support = new CgroupSupport(cgroup, mountinfo);
        Assert.Null(support.MemoryParent);
        Assert.Null(support.PidsParent);
        Assert.Contains("unavailable", support.Description);
    }
}
