using System.Diagnostics;

namespace Smelt.Sandbox.Tests;

/// <summary>A fact that needs the tmpfs work-directory quota (host root that may mount).</summary>
public sealed class QuotaFactAttribute : FactAttribute
{
    public QuotaFactAttribute(string backend = "")
    {
        if (!DiskQuota.Enabled) Skip = "no hard disk quota here: " + DiskQuota.Description;
        else if (backend.Length > 0 && Smelt.TestSupport.TestEnvironment.FindOnPath(backend) is null) Skip = $"{backend} is not installed";
    }
}

/// <summary>The work-directory quota: real tmpfs mounts, resized around runs, released with the directory.</summary>
public sealed class DiskQuotaTests
{
    private static bool MountedAt(string path) =>
        File.ReadAllLines("/proc/self/mountinfo").Select(DiskQuota.ParseQuotaMount).Any(m => m?.Target == path);

    /// <summary>The optional fields of path's mountinfo line ("shared:N", "master:N"), or null when it is no mount point.</summary>
    private static string? Propagation(string path) =>
        File.ReadAllLines("/proc/self/mountinfo").Select(l => l.Split(' ')).Where(f => f.Length > 6 && f[4] == path)
            .Select(f => string.Join(' ', f.Skip(6).TakeWhile(x => x != "-"))).LastOrDefault();

    private static SandboxWorkDirectory NewWork(string label) => new(SandboxPaths.NewWorkDirectory(SandboxPaths.WorkRoot, label));

    /// <summary>Writes until the file system refuses; returns the bytes that went in.</summary>
    private static long Fill(string path, long upTo)
    {
        var block = new byte[1 << 20];
        long written = 0;
        try
        {
            using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1);
            while (written < upTo)
            {
                f.Write(block);
                f.Flush();
                written += block.Length;
            }
        }
        catch (IOException) { }
        return written;
    }

    [QuotaFact]
    public void A_work_directory_is_its_own_tmpfs_capped_during_a_run_and_roomy_outside_one()
    {
        using var work = NewWork("quota");
        var stats = Native.StatFs(work.Path);
        Assert.NotNull(stats);
        Assert.True(MountedAt(work.Path), "no smelt-quota mount at " + work.Path);
        Assert.True(stats.Value.Blocks * stats.Value.BlockSize >= DiskQuota.HostBytes);

        const long limit = 8L << 20;
        File.WriteAllBytes(Path.Combine(work.Path, "input.bin"), new byte[2 << 20]); // what Smelt put there before the run counts
        using (DiskQuota.Limit(work.Path, limit))
        {
            var during = Fill(Path.Combine(work.Path, "during.bin"), 64L << 20);
            Assert.InRange(during, 1, limit + DiskQuota.Slack - (2 << 20));
            Assert.True(DiskQuota.OverLimit(work.Path, limit));
        }
        Assert.Equal(32L << 20, Fill(Path.Combine(work.Path, "after.bin"), 32L << 20));
    }

    [QuotaFact]
    public void A_directory_already_over_the_limit_gets_a_cap_just_above_its_contents()
    {
        using var work = NewWork("quota-over");
        File.WriteAllBytes(Path.Combine(work.Path, "build.bin"), new byte[6 << 20]);
        using (DiskQuota.Limit(work.Path, 1L << 20))
        {
            var more = Fill(Path.Combine(work.Path, "more.bin"), 64L << 20);
            Assert.InRange(more, 1, DiskQuota.Slack);
            Assert.True(DiskQuota.OverLimit(work.Path, 1L << 20));
        }
    }

    [QuotaFact]
    public void Disposing_the_directory_unmounts_it_and_removes_it()
    {
        var work = NewWork("quota-gone");
        File.WriteAllText(Path.Combine(work.Path, "x.txt"), "x");
        Assert.True(MountedAt(work.Path));
        work.Dispose();
        Assert.False(MountedAt(work.Path));
        Assert.False(Directory.Exists(work.Path));
    }

    [QuotaFact]
    public void Mounts_left_by_a_process_that_is_gone_are_swept_and_a_live_ones_are_kept()
    {
        using var gone = Process.Start(new ProcessStartInfo("/bin/true"))!;
        gone.WaitForExit();
        using var alive = Process.Start(new ProcessStartInfo("/bin/sleep", "30"))!;
        var aliveStart = DiskQuota.StartTime(alive.Id);
        Assert.NotNull(aliveStart);
        string Stale(string source)
        {
            var dir = Path.Combine(SandboxPaths.WorkRoot, "stale-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            Assert.Null(Native.Mount(source, dir, "tmpfs", Native.MS_NOSUID | Native.MS_NODEV, "size=1m"));
            Assert.True(MountedAt(dir));
            return dir;
        }
        var dead = Stale($"smelt-quota-{gone.Id}-1");
        var reused = Stale($"smelt-quota-{alive.Id}-{aliveStart + 1}"); // the pid lives on in another process
        var live = Stale($"smelt-quota-{alive.Id}-{aliveStart}");
        try
        {
            DiskQuota.SweepStale([SandboxPaths.WorkRoot]);
            Assert.False(MountedAt(dead));
            Assert.False(Directory.Exists(dead));
            Assert.False(MountedAt(reused));
            Assert.True(MountedAt(live));
        }
        finally
        {
            alive.Kill();
            Native.Unmount(live);
            Directory.Delete(live);
        }
    }

    [QuotaFact]
    public void The_work_root_is_a_private_mount_point_and_a_session_runs_root_a_shared_one()
    {
        Assert.True(DiskQuota.Enabled);
        var own = Propagation(SandboxPaths.WorkRoot);
        Assert.NotNull(own);
        Assert.DoesNotContain("shared:", own);
        using var runs = new SandboxWorkDirectory(SandboxPaths.NewWorkDirectory(SandboxPaths.WorkRoot, "runs", QuotaMount.Shared));
        Assert.Contains("shared:", Propagation(runs.Path));
        using var plain = NewWork("plain");
        Assert.DoesNotContain("shared:", Propagation(plain.Path));
    }

    [QuotaFact]
    public void Overlapping_runs_in_one_directory_keep_the_largest_cap_until_the_last_ends()
    {
        using var work = NewWork("quota-overlap");
        var small = DiskQuota.Limit(work.Path, 4L << 20)!;
        var large = DiskQuota.Limit(work.Path, 32L << 20)!;
        Assert.Equal((32L << 20) + DiskQuota.Slack, DiskQuota.CapBytes(work.Path));
        large.Dispose();
        Assert.Equal((4L << 20) + DiskQuota.Slack, DiskQuota.CapBytes(work.Path));
        small.Dispose();
        Assert.Equal(DiskQuota.HostBytes, DiskQuota.CapBytes(work.Path));
        small.Dispose(); // twice: no effect
        Assert.Equal(DiskQuota.HostBytes, DiskQuota.CapBytes(work.Path));
    }

    [QuotaFact]
    public void A_directory_released_during_a_run_is_not_resized_and_never_reads_as_the_disk()
    {
        var work = NewWork("quota-released");
        var scope = DiskQuota.Limit(work.Path, 4L << 20)!;
        work.Dispose();
        Assert.Null(DiskQuota.UsedBytes(work.Path));
        scope.Dispose();
        Assert.False(Directory.Exists(work.Path));
    }

    [QuotaFact("bwrap")]
    public async Task A_bwrap_run_cannot_leave_more_than_its_limit_even_between_polls()
    {
        // One write far bigger than the limit, at memory speed: the tmpfs refuses the rest whether or not the poll came.
        var sandbox = SandboxFactory.Create("bwrap");
        using var work = sandbox.CreateWorkDirectory("quota-run");
        const long limit = 4L << 20;
        var r = await sandbox.RunAsync(new SandboxRequest
        {
            Command = ["/bin/sh", "-c", "head -c 100000000 /dev/zero > big.bin; echo exit=$?"],
            WorkDirectory = work.Path,
            Limits = new ResourceLimits { MaxDiskBytes = limit, MaxFileSizeBytes = 1L << 30, WallTime = TimeSpan.FromSeconds(30) },
        });
        Assert.True(r.DiskLimitExceeded, r.Outcome);
        Assert.InRange(new FileInfo(Path.Combine(work.Path, "big.bin")).Length, 0, limit + DiskQuota.Slack);
    }

    [Fact]
    public void Mountinfo_lines_are_parsed_for_smelt_quota_mounts_only()
    {
        Assert.Equal(new DiskQuota.QuotaMountInfo("/var/tmp/smelt-sandbox-0/run a-1", 4242, 987654), DiskQuota.ParseQuotaMount(
            @"812 35 0:93 / /var/tmp/smelt-sandbox-0/run\040a-1 rw,nosuid,nodev,relatime shared:400 - tmpfs smelt-quota-4242-987654 rw,size=16777216k,nr_inodes=131072,mode=700"));
        Assert.Equal(new DiskQuota.QuotaMountInfo("/var/tmp/b", 17, null), DiskQuota.ParseQuotaMount("9 8 0:1 / /var/tmp/b rw - tmpfs smelt-quota-17 rw"));
        Assert.Equal(new DiskQuota.QuotaMountInfo(@"/var/tmp/c\x", 17, null), DiskQuota.ParseQuotaMount(@"9 8 0:1 / /var/tmp/c\x rw - tmpfs smelt-quota-17 rw"));
        Assert.Null(DiskQuota.ParseQuotaMount("36 35 0:47 / /tmp rw,relatime - tmpfs tmpfs rw,size=1024k"));
        Assert.Null(DiskQuota.ParseQuotaMount("37 35 8:1 / /var/tmp/x rw - ext4 smelt-quota-12 rw"));
        Assert.Null(DiskQuota.ParseQuotaMount("38 35 0:48 / /var/tmp/y rw - tmpfs smelt-quota-x12 rw"));
        Assert.Null(DiskQuota.ParseQuotaMount("garbage"));
    }
}

/// <summary>Firejail next to bwrap sessions: their shared quota mounts must not reach firejail's setup.</summary>
public sealed class FirejailBesideSessionMountsTests
{
    [QuotaFact("firejail")]
    public async Task Firejail_starts_while_work_directories_are_mounted_under_a_shared_root()
    {
        using var root = new SandboxWorkDirectory(SandboxPaths.NewWorkDirectory(SandboxPaths.WorkRoot, "shared", QuotaMount.Shared));
        using var stop = new CancellationTokenSource();
        var churn = Task.Run(() =>
        {
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                using var w = new SandboxWorkDirectory(SandboxPaths.NewWorkDirectory(root.Path, "churn"));
                n++;
            }
            return n;
        });
        var sandbox = SandboxFactory.Create("firejail");
        var failures = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            using var work = sandbox.CreateWorkDirectory("beside");
            var r = await sandbox.RunAsync(new SandboxRequest { Command = ["/bin/true"], WorkDirectory = work.Path });
            if (!r.Succeeded) failures.Add(r.Outcome);
        }
        stop.Cancel();
        var mounts = await churn;
        Assert.True(mounts > 12, $"only {mounts} mounts were made while firejail ran");
        Assert.Empty(failures);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class QuotaFallbackCollection
{
    public const string Name = "session quota fallback (alone: it changes how sessions mount)";
}

[Collection(QuotaFallbackCollection.Name)]
public sealed class SessionQuotaFallbackTests
{
    [QuotaFact("bwrap")]
    public async Task A_session_whose_work_directory_mounts_do_not_reach_it_runs_without_them()
    {
        BwrapSession.RunsRootMount = QuotaMount.Plain;
        try
        {
            var sandbox = SandboxFactory.Create("bwrap");
            await using var session = await sandbox.OpenSessionAsync([]);
            Assert.Equal("supervisor", session.Mode);
            Assert.False(((BwrapSession)session).HasQuota);
            using var work = session.CreateWorkDirectory("fallback");
            Assert.False(DiskQuota.IsMounted(work.Path));
            var r = await session.RunAsync(new SandboxRequest { Command = ["/bin/sh", "-c", "echo seen > out.txt"], WorkDirectory = work.Path });
            Assert.True(r.Succeeded, r.Outcome);
            Assert.Equal("seen\n", File.ReadAllText(Path.Combine(work.Path, "out.txt")));
        }
        finally
        {
            BwrapSession.RunsRootMount = QuotaMount.Shared;
        }
        await using var normal = await SandboxFactory.Create("bwrap").OpenSessionAsync([]);
        Assert.True(((BwrapSession)normal).HasQuota, "a genuine session after the test's one must have the quota again");
    }
}
