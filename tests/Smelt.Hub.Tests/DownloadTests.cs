using Smelt.Core;
using Smelt.TestSupport.Hub;

namespace Smelt.Hub.Tests;

public sealed class DownloadTests
{
    [Fact]
    public async Task Cache_layout_is_the_one_huggingface_hub_documents()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel();
        using var client = ctx.Client();

        var snapshot = await client.DownloadSnapshotAsync("acme/tiny-coder");

        var repoDir = ctx.RepoDir("acme/tiny-coder");
        Assert.Equal(Path.Combine(repoDir, "snapshots", repo.Commit), snapshot);
        // refs/main holds the commit hash, no newline
        Assert.Equal(repo.Commit, File.ReadAllText(Path.Combine(repoDir, "refs", "main")));
        foreach (var file in repo.Files)
        {
            var etag = file.Lfs ? file.Sha256 : file.GitOid;
            var blob = Path.Combine(repoDir, "blobs", etag);
            Assert.True(File.Exists(blob), $"blob {etag} for {file.Path}");
            Assert.Equal(file.Content, File.ReadAllBytes(blob));
            var pointer = Path.Combine(snapshot, file.Path);
            var link = new FileInfo(pointer).LinkTarget;
            var depth = file.Path.Count(c => c == '/');
            Assert.Equal(string.Concat(Enumerable.Repeat("../", depth + 2)) + "blobs/" + etag, link);
            Assert.Equal(file.Content, File.ReadAllBytes(pointer));
            Assert.True(File.Exists(Path.Combine(ctx.CacheDir, ".locks", "models--acme--tiny-coder", etag + ".lock")));
        }
        Assert.Empty(Directory.GetFiles(Path.Combine(repoDir, "blobs"), "*.incomplete"));
        Assert.Equal(new[] { "blobs", "refs", "snapshots" }, Directory.GetDirectories(repoDir).Select(d => Path.GetFileName(d)!).Order().ToArray());
    }

    [Fact]
    public async Task Files_already_in_the_cache_are_not_fetched_again()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel();
        using var client = ctx.Client();
        await client.DownloadSnapshotAsync("acme/tiny-coder");
        var mainBefore = ctx.Hub.Main.Requests.Count;
        var cdnBefore = ctx.Hub.Cdn.Requests.Count;

        var again = await client.DownloadAsync("acme/tiny-coder");
        var newRequests = ctx.Hub.Main.Requests.Skip(mainBefore).ToList();
        Assert.Equal(cdnBefore, ctx.Hub.Cdn.Requests.Count);
        Assert.Equal(0, again.Downloaded);
        Assert.Equal(3, again.FromCache);
        Assert.Single(newRequests); // only the revision lookup: the branch may have moved
        Assert.StartsWith("/api/models/acme/tiny-coder/revision/main", newRequests[0].Target);

        // By commit hash, a complete snapshot needs no request at all.
        var count = ctx.Hub.RequestCount;
        var byCommit = await client.DownloadSnapshotAsync("acme/tiny-coder", revision: repo.Commit);
        Assert.Equal(count, ctx.Hub.RequestCount);
        Assert.EndsWith(repo.Commit, byCommit);
    }

    [Fact]
    public async Task Same_content_in_a_new_commit_is_linked_not_downloaded()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel();
        using var client = ctx.Client();
        var first = await client.DownloadAsync("acme/tiny-coder");
        var oldCommit = repo.Commit;
        repo.Commit = FakeRepo.NewCommit();
        repo.Branches["main"] = repo.Commit;
        var cdnBefore = ctx.Hub.Cdn.Requests.Count;

        var second = await client.DownloadAsync("acme/tiny-coder");

        Assert.NotEqual(first.SnapshotPath, second.SnapshotPath);
        Assert.Equal(cdnBefore, ctx.Hub.Cdn.Requests.Count); // the 300 kB weights were not transferred again
        Assert.Equal(repo.Commit, File.ReadAllText(Path.Combine(ctx.RepoDir("acme/tiny-coder"), "refs", "main")));
        Assert.True(Directory.Exists(Path.Combine(ctx.RepoDir("acme/tiny-coder"), "snapshots", oldCommit)));
        Assert.Equal(File.ReadAllBytes(Path.Combine(first.SnapshotPath, "model.safetensors")), File.ReadAllBytes(Path.Combine(second.SnapshotPath, "model.safetensors")));
    }

    [Fact]
    public async Task Model_locator_downloads_hub_ids_and_passes_local_paths_through()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel();
        var settings = ctx.Settings();

        var fromHub = await ModelLocator.ResolveAsync("acme/tiny-coder", settings: settings);
        Assert.Equal(Path.Combine(ctx.RepoDir("acme/tiny-coder"), "snapshots", repo.Commit), fromHub);

        var before = ctx.Hub.RequestCount;
        var local = await ModelLocator.ResolveAsync(fromHub, settings: settings);
        Assert.Equal(fromHub, local);
        Assert.Equal(before, ctx.Hub.RequestCount);
    }

    [Fact]
    public async Task An_endpoint_with_a_path_prefix_keeps_it()
    {
        await using var ctx = new HubTestContext();
        ctx.Hub.PathPrefix = "/mirror/hf";
        var repo = ctx.AddModel();
        using var client = ctx.Client(token: HubTestContext.GoodToken);

        var snapshot = await client.DownloadSnapshotAsync("acme/tiny-coder");

        Assert.Equal(repo.Files[2].Content, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.All(ctx.Hub.Main.Requests, r => Assert.StartsWith("/mirror/hf/", r.Path));
        Assert.All(ctx.Hub.Main.Requests, r => Assert.NotNull(r.Header("Authorization")));
        Assert.All(ctx.Hub.Cdn.Requests, r => Assert.Null(r.Header("Authorization")));
    }

    [Fact]
    public async Task Datasets_use_their_own_urls_and_cache_folder()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.Hub.Add(new FakeRepo { Id = "acme/rust-snippets", Dataset = true });
        repo.Files.Add(new FakeFile { Path = "data/train.jsonl", Content = "{\"prompt\":\"fn main\"}\n"u8.ToArray() });
        repo.Files.Add(new FakeFile { Path = "data/train.parquet", Content = HubTestContext.Bytes(5000, 3), Lfs = true });
        using var client = ctx.Client();

        var snapshot = await client.DownloadSnapshotAsync("acme/rust-snippets", RepoType.Dataset);

        Assert.Equal(Path.Combine(ctx.RepoDir("acme/rust-snippets", "datasets"), "snapshots", repo.Commit), snapshot);
        Assert.Equal(repo.Files[1].Content, File.ReadAllBytes(Path.Combine(snapshot, "data/train.parquet")));
        Assert.Contains(ctx.Hub.Main.Requests, r => r.Path.StartsWith("/api/datasets/acme/rust-snippets/revision/main", StringComparison.Ordinal));
        Assert.Contains(ctx.Hub.Main.Requests, r => r.Path.StartsWith("/datasets/acme/rust-snippets/resolve/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Include_and_exclude_globs_select_files()
    {
        await using var ctx = new HubTestContext();
        ctx.AddModel();
        using var client = ctx.Client();

        var result = await client.DownloadAsync("acme/tiny-coder", include: ["*.json", "tokenizer/"], exclude: ["*.txt"]);

        Assert.Equal(["config.json"], result.Files);
        Assert.True(File.Exists(Path.Combine(result.SnapshotPath, "config.json")));
        Assert.False(File.Exists(Path.Combine(result.SnapshotPath, "model.safetensors")));
        Assert.DoesNotContain(ctx.Hub.AllRequests, r => r.Path.Contains("model.safetensors") || r.Path.StartsWith("/blobs/"));
    }

    [Fact]
    public async Task Progress_is_reported_per_file_up_to_its_size()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel();
        using var client = ctx.Client();
        var progress = new RecordingProgress();

        await client.DownloadSnapshotAsync("acme/tiny-coder", progress: progress);
        await client.DownloadSnapshotAsync("acme/tiny-coder", progress: progress);

        var weights = progress.Files.Where(f => f.Path == "model.safetensors").ToList();
        Assert.Equal(2, weights.Count);
        Assert.Equal(repo.Files[2].Content.Length, weights[0].Total);
        Assert.Equal(repo.Files[2].Content.Length, weights[0].Last);
        Assert.Equal(FileOutcome.Downloaded, weights[0].Outcome);
        Assert.Equal(FileOutcome.Cached, weights[1].Outcome);
    }

    [Fact]
    public async Task Several_files_download_in_parallel()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.Hub.Add(new FakeRepo { Id = "acme/many" });
        for (var i = 0; i < 6; i++)
            repo.Files.Add(new FakeFile { Path = $"shard-{i}.safetensors", Content = HubTestContext.Bytes(200_000, i), Lfs = true });
        ctx.Hub.ContentDelay = TimeSpan.FromMilliseconds(300);
        using var client = ctx.Client(parallel: 3);

        await client.DownloadSnapshotAsync("acme/many");

        Assert.InRange(ctx.Hub.Cdn.MaxConcurrent, 2, 3);
    }

    [Fact]
    public async Task A_request_for_a_missing_repository_names_it_and_is_not_retried()
    {
        await using var ctx = new HubTestContext();
        using var client = ctx.Client();

        var e = await Assert.ThrowsAsync<SmeltException>(() => client.DownloadSnapshotAsync("acme/nothing-here"));

        Assert.Contains("acme/nothing-here", e.Message);
        Assert.Contains("'main'", e.Message);
        Assert.Contains("404", e.Message);
        Assert.Equal(ExitCodes.BadInput, e.ExitCode);
        Assert.Single(ctx.Hub.Main.Requests);
    }

    [Fact]
    public async Task A_missing_revision_is_named()
    {
        await using var ctx = new HubTestContext();
        ctx.AddModel();
        using var client = ctx.Client();

        var e = await Assert.ThrowsAsync<SmeltException>(() => client.DownloadSnapshotAsync("acme/tiny-coder", revision: "v9-does-not-exist"));

        Assert.Contains("revision 'v9-does-not-exist'", e.Message);
        Assert.Contains("acme/tiny-coder", e.Message);
        Assert.Single(ctx.Hub.Main.Requests);
    }

    [Fact]
    public async Task A_listed_file_that_404s_is_named_and_marked_in_no_exist()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel();
        repo.ExtraListedNames.Add("ghost.json");
        using var client = ctx.Client();

        var e = await Assert.ThrowsAsync<SmeltException>(() => client.DownloadSnapshotAsync("acme/tiny-coder"));

        Assert.Contains("'ghost.json'", e.Message);
        Assert.Contains("acme/tiny-coder", e.Message);
        Assert.Contains("main", e.Message);
        Assert.True(File.Exists(Path.Combine(ctx.RepoDir("acme/tiny-coder"), ".no_exist", repo.Commit, "ghost.json")));
        Assert.Single(ctx.Hub.Main.Requests, r => r.Path.EndsWith("/ghost.json", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Server_errors_are_retried_with_backoff_then_succeed()
    {
        await using var ctx = new HubTestContext();
        ctx.AddModel();
        ctx.Hub.FailNext("/api/models/acme/tiny-coder", 503, 2);
        ctx.Hub.FailNext("/blobs/", 429, 1);
        using var client = ctx.Client(maxRetries: 3);

        var snapshot = await client.DownloadSnapshotAsync("acme/tiny-coder");

        Assert.True(File.Exists(Path.Combine(snapshot, "model.safetensors")));
        Assert.Equal(3, ctx.Hub.Main.Requests.Count(r => r.Path.StartsWith("/api/", StringComparison.Ordinal)));
        Assert.Contains(ctx.Log, l => l.Contains("retry") && l.Contains("503"));
        Assert.Contains(ctx.Log, l => l.Contains("retry") && l.Contains("429"));
        Assert.Equal(2, ctx.Hub.Cdn.Requests.Count(r => r.Path.StartsWith("/blobs/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Persistent_server_errors_end_in_an_infrastructure_error_after_the_retries()
    {
        await using var ctx = new HubTestContext();
        ctx.AddModel();
        ctx.Hub.FailNext("/api/models/acme/tiny-coder", 500, 100);
        using var client = ctx.Client(maxRetries: 2);

        var e = await Assert.ThrowsAsync<SmeltException>(() => client.DownloadSnapshotAsync("acme/tiny-coder"));

        Assert.Contains("HTTP 500", e.Message);
        Assert.Equal(ExitCodes.Infrastructure, e.ExitCode);
        Assert.Equal(3, ctx.Hub.Main.Requests.Count);
    }

    private sealed class RecordingProgress : IDownloadProgress
    {
        public List<Entry> Files { get; } = [];

        public IFileProgress Begin(string path, long? totalBytes)
        {
            var e = new Entry(path, totalBytes);
            lock (Files) Files.Add(e);
            return e;
        }

        public sealed class Entry(string path, long? total) : IFileProgress
        {
            public string Path => path;
            public long? Total => total;
            public long Last { get; private set; }
            public FileOutcome? Outcome { get; private set; }
            public void Report(long bytesOnDisk) => Last = bytesOnDisk;
            public void Finish(FileOutcome outcome) => Outcome = outcome;
        }
    }
}
