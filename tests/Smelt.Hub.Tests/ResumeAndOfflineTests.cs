using Smelt.Core;

namespace Smelt.Hub.Tests;

public sealed class ResumeAndOfflineTests
{
    [Fact]
    public async Task A_dropped_connection_is_resumed_with_a_range_request()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel(weightsBytes: 3_000_000);
        ctx.Hub.DropAfter("model.safetensors", 1_000_000, times: 1);
        using var client = ctx.Client();

        var snapshot = await client.DownloadSnapshotAsync("acme/tiny-coder");

        Assert.Equal(repo.Files[2].Content, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        var gets = ctx.Hub.Cdn.Requests.Where(r => r.Method == "GET").ToList();
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Header("Range"));
        // The server cuts the connection after sending 1,000,000 bytes; how many of them reach the client before the
        // reset is up to the TCP stack, so the resume point is anything above zero and up to the cut.
        var range = gets[1].Header("Range");
        Assert.NotNull(range);
        Assert.Matches("^bytes=[0-9]+-$", range);
        var from = long.Parse(range!["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(from, 1, 1_000_000);
    }

    [Fact]
    public async Task An_interrupted_run_keeps_the_partial_file_and_the_next_run_resumes_it()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel(weightsBytes: 2_000_000);
        ctx.Hub.DropAfter("model.safetensors", 700_000, times: 100);
        using (var failing = ctx.Client(maxRetries: 1))
        {
            var e = await Assert.ThrowsAsync<SmeltException>(() => failing.DownloadSnapshotAsync("acme/tiny-coder"));
            Assert.Equal(ExitCodes.Infrastructure, e.ExitCode);
            Assert.Contains("resume", e.Message);
        }
        var sha = repo.Files[2].Sha256;
        var incomplete = Path.Combine(ctx.RepoDir("acme/tiny-coder"), "blobs", sha + ".incomplete");
        // two attempts (the first try and one retry), each cut after 700 000 bytes, the retry resuming where the first stopped
        Assert.Equal(1_400_000, new FileInfo(incomplete).Length);
        Assert.False(File.Exists(Path.Combine(ctx.RepoDir("acme/tiny-coder"), "blobs", sha)));
        // the small files that did arrive are kept
        Assert.True(File.Exists(Path.Combine(ctx.RepoDir("acme/tiny-coder"), "snapshots", repo.Commit, "config.json")));

        ctx.Hub.DropAfter("model.safetensors", 0, times: 0);
        var cdnBefore = ctx.Hub.Cdn.Requests.Count;
        using var client = ctx.Client();
        var snapshot = await client.DownloadSnapshotAsync("acme/tiny-coder");

        Assert.Equal(repo.Files[2].Content, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.False(File.Exists(incomplete));
        var resumed = ctx.Hub.Cdn.Requests.Skip(cdnBefore).Single();
        Assert.Equal("bytes=1400000-", resumed.Header("Range"));
    }

    [Fact]
    public async Task A_stalled_transfer_times_out_and_is_resumed()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel(weightsBytes: 1_000_000);
        ctx.Hub.StallAfter("model.safetensors", 400_000, times: 1);
        using var client = ctx.Client(idleTimeout: TimeSpan.FromMilliseconds(300));

        var snapshot = await client.DownloadSnapshotAsync("acme/tiny-coder");

        Assert.Equal(repo.Files[2].Content, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        var gets = ctx.Hub.Cdn.Requests.Where(r => r.Method == "GET").ToList();
        Assert.True(gets.Count >= 2, $"{gets.Count} GET(s)"); // more only if a heavily loaded machine also stalls a later attempt
        Assert.Null(gets[0].Header("Range"));
        Assert.Equal("bytes=400000-", gets[1].Header("Range"));
        Assert.Contains(ctx.Log, l => l.Contains("no data received"));
    }

    [Fact]
    public async Task A_server_that_ignores_range_gets_the_file_rewritten_from_the_start()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel();
        var blobs = Path.Combine(ctx.RepoDir("acme/tiny-coder"), "blobs");
        Directory.CreateDirectory(blobs);
        File.WriteAllBytes(Path.Combine(blobs, repo.Files[2].Sha256 + ".incomplete"), HubTestContext.Bytes(1000, 99)); // stale garbage
        ctx.Hub.IgnoreRange = true;
        using var client = ctx.Client();

        var snapshot = await client.DownloadSnapshotAsync("acme/tiny-coder");

        Assert.Equal("bytes=1000-", ctx.Hub.Cdn.Requests.Single().Header("Range"));
        Assert.Equal(repo.Files[2].Content, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
    }

    [Fact]
    public async Task Two_files_with_the_same_content_share_one_blob_downloaded_once()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.Hub.Add(new TestSupport.Hub.FakeRepo { Id = "acme/twins" });
        var bytes = HubTestContext.Bytes(500_000, 5);
        repo.Files.Add(new TestSupport.Hub.FakeFile { Path = "a.safetensors", Content = bytes, Lfs = true });
        repo.Files.Add(new TestSupport.Hub.FakeFile { Path = "b/a.safetensors", Content = bytes, Lfs = true });
        using var client = ctx.Client(parallel: 2);

        var snapshot = await client.DownloadSnapshotAsync("acme/twins");

        Assert.Single(ctx.Hub.Cdn.Requests);
        Assert.Single(Directory.GetFiles(Path.Combine(ctx.RepoDir("acme/twins"), "blobs")));
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(snapshot, "a.safetensors")));
        Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(snapshot, "b/a.safetensors")));
    }

    [Fact]
    public async Task A_corrupted_lfs_file_fails_its_sha256_check_and_never_enters_the_cache()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel();
        var bad = (byte[])repo.Files[2].Content.Clone();
        bad[1234] ^= 0xFF;
        ctx.Hub.Corrupt("model.safetensors", bad);
        using var client = ctx.Client();

        var e = await Assert.ThrowsAsync<SmeltException>(() => client.DownloadSnapshotAsync("acme/tiny-coder"));

        Assert.Contains("SHA-256 mismatch", e.Message);
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains(repo.Files[2].Sha256, e.Message);
        var blobs = Path.Combine(ctx.RepoDir("acme/tiny-coder"), "blobs");
        Assert.False(File.Exists(Path.Combine(blobs, repo.Files[2].Sha256)));
        Assert.Empty(Directory.GetFiles(blobs, "*.incomplete"));
        Assert.False(File.Exists(Path.Combine(ctx.RepoDir("acme/tiny-coder"), "snapshots", repo.Commit, "model.safetensors")));
    }

    [Fact]
    public async Task Offline_a_complete_snapshot_is_returned_without_any_request()
    {
        await using var ctx = new HubTestContext();
        ctx.AddModel();
        string online;
        using (var client = ctx.Client()) online = await client.DownloadSnapshotAsync("acme/tiny-coder");
        var before = ctx.Hub.RequestCount;

        using var offline = ctx.Client(offline: true);
        var path = await offline.DownloadSnapshotAsync("acme/tiny-coder");

        Assert.Equal(online, path);
        Assert.Equal(before, ctx.Hub.RequestCount);
        Assert.True(File.Exists(Path.Combine(path, "model.safetensors")));
    }

    [Fact]
    public async Task Offline_an_incomplete_snapshot_names_what_is_missing_and_fails()
    {
        await using var ctx = new HubTestContext();
        ctx.AddModel();
        using (var client = ctx.Client()) await client.DownloadSnapshotAsync("acme/tiny-coder", include: ["config.json"]);
        var before = ctx.Hub.RequestCount;

        using var offline = ctx.Client(offline: true);
        var e = await Assert.ThrowsAsync<SmeltException>(() => offline.DownloadSnapshotAsync("acme/tiny-coder"));

        Assert.NotEqual(ExitCodes.Ok, e.ExitCode);
        Assert.Contains("HF_HUB_OFFLINE", e.Message);
        Assert.Contains("incomplete", e.Message);
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("tokenizer/vocab.txt", e.Message);
        Assert.DoesNotContain("config.json", e.Message);
        Assert.Equal(before, ctx.Hub.RequestCount);

        // the part that is there can still be used offline
        var partial = await offline.DownloadAsync("acme/tiny-coder", include: ["config.json"]);
        Assert.Equal(["config.json"], partial.Files);
    }

    [Fact]
    public async Task Offline_a_repository_never_downloaded_says_so()
    {
        await using var ctx = new HubTestContext();
        ctx.AddModel();
        using var offline = ctx.Client(offline: true);

        var e = await Assert.ThrowsAsync<SmeltException>(() => offline.DownloadSnapshotAsync("acme/tiny-coder", revision: "main"));

        Assert.Contains("not in the cache", e.Message);
        Assert.Contains("revision 'main'", e.Message);
        Assert.Equal(0, ctx.Hub.RequestCount);
    }

    [Fact]
    public async Task Offline_a_snapshot_written_by_another_tool_is_used_as_it_is()
    {
        await using var ctx = new HubTestContext();
        // Lay out the cache by hand, the way the Python client would, with no Smelt manifest.
        var commit = new string('a', 40);
        var repoDir = ctx.RepoDir("acme/from-python");
        Directory.CreateDirectory(Path.Combine(repoDir, "blobs"));
        Directory.CreateDirectory(Path.Combine(repoDir, "refs"));
        Directory.CreateDirectory(Path.Combine(repoDir, "snapshots", commit));
        File.WriteAllText(Path.Combine(repoDir, "refs", "main"), commit);
        File.WriteAllText(Path.Combine(repoDir, "blobs", "0123abcd"), "{}");
        File.CreateSymbolicLink(Path.Combine(repoDir, "snapshots", commit, "config.json"), "../../blobs/0123abcd");
        using var offline = ctx.Client(offline: true);

        var result = await offline.DownloadAsync("acme/from-python");

        Assert.Equal(["config.json"], result.Files);
        Assert.Contains(result.Notes, n => n.Contains("completeness cannot be checked"));
        Assert.Equal(0, ctx.Hub.RequestCount);
    }
}
