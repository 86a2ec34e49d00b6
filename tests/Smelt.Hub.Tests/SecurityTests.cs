using Smelt.Core;
using Smelt.TestSupport.Hub;

namespace Smelt.Hub.Tests;

public sealed class SecurityTests
{
    [Fact]
    public async Task A_gated_repository_without_a_token_explains_how_to_get_access()
    {
        await using var ctx = new HubTestContext();
        ctx.AddModel("meta-llama/Tiny-Gated", gated: true);
        using var client = ctx.Client();

        var e = await Assert.ThrowsAsync<SmeltException>(() => client.DownloadSnapshotAsync("meta-llama/Tiny-Gated"));

        Assert.Contains("HTTP 401", e.Message);
        Assert.Contains("gated", e.Message);
        Assert.Contains("Request access", e.Message);
        Assert.Contains(new Uri(ctx.Hub.Endpoint, "/meta-llama/Tiny-Gated").ToString(), e.Message);
        Assert.Contains("HF_TOKEN", e.Message);
        Assert.Contains(Path.Combine(ctx.HfHome, "token"), e.Message);
        Assert.Contains("No token was found", e.Message);
        Assert.Single(ctx.Hub.Main.Requests); // a 4xx is not retried
    }

    [Fact]
    public async Task A_gated_repository_with_a_refused_token_says_a_token_was_sent_and_never_shows_it()
    {
        await using var ctx = new HubTestContext();
        ctx.AddModel("meta-llama/Tiny-Gated", gated: true, echoToken: true);
        using var client = ctx.Client(token: HubTestContext.WrongToken);

        var e = await Assert.ThrowsAsync<SmeltException>(() => client.DownloadSnapshotAsync("meta-llama/Tiny-Gated"));

        Assert.Contains("HTTP 403", e.Message);
        Assert.Contains("gated", e.Message);
        Assert.Contains("from HF_TOKEN", e.Message);
        // the careless server echoed the token in its error body: it must come out masked
        Assert.Contains(Redactor.Mask, e.Message);
        Assert.DoesNotContain(HubTestContext.WrongToken, e.Message);
        Assert.DoesNotContain(HubTestContext.WrongToken, e.ToString());
        Assert.Equal("Bearer " + HubTestContext.WrongToken, ctx.Hub.Main.Requests.Single().Header("Authorization"));
    }

    [Fact]
    public async Task The_token_goes_to_the_endpoint_only_never_to_the_redirect_host_and_never_into_any_output()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel("meta-llama/Tiny-Gated", gated: true);
        ctx.Hub.FailNext("/blobs/", 503, 1); // a retry too, so retry logging is covered
        var progress = new TextProgress();
        string snapshot;
        using (var client = ctx.Client(token: HubTestContext.GoodToken))
            snapshot = await client.DownloadSnapshotAsync("meta-llama/Tiny-Gated", progress: progress);

        Assert.Equal(repo.Files[2].Content, File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.NotEmpty(ctx.Hub.Cdn.Requests);
        Assert.All(ctx.Hub.Cdn.Requests, r => Assert.Null(r.Header("Authorization")));
        Assert.All(ctx.Hub.Main.Requests, r => Assert.Equal("Bearer " + HubTestContext.GoodToken, r.Header("Authorization")));
        Assert.Contains(ctx.Hub.Main.Requests, r => r.Method == "HEAD"); // the 302 came from the endpoint, with the token
        foreach (var text in ctx.AllOutput(progress.ToString()))
            Assert.DoesNotContain(HubTestContext.GoodToken, text);
        // nothing written to disk (cache, manifests) contains the token
        foreach (var file in Directory.EnumerateFiles(ctx.Root, "*", SearchOption.AllDirectories).Where(File.Exists))
            Assert.DoesNotContain(HubTestContext.GoodToken, File.ReadAllText(file));
    }

    [Fact]
    public async Task The_token_is_read_from_the_token_file_under_HF_HOME()
    {
        await using var ctx = new HubTestContext();
        ctx.AddModel("meta-llama/Tiny-Gated", gated: true);
        Directory.CreateDirectory(ctx.HfHome);
        File.WriteAllText(Path.Combine(ctx.HfHome, "token"), HubTestContext.GoodToken + "\n");
        var settings = ctx.Settings();
        Assert.Equal(HubTestContext.GoodToken, settings.Token);
        Assert.Equal(Path.Combine(ctx.HfHome, "token"), settings.TokenSource);
        Assert.Equal(Redactor.Mask, Redactor.Redact(HubTestContext.GoodToken));

        using var client = new HubClient(settings, new HubClientOptions { RetryBaseDelay = TimeSpan.FromMilliseconds(5) });
        var snapshot = await client.DownloadSnapshotAsync("meta-llama/Tiny-Gated");
        Assert.True(File.Exists(Path.Combine(snapshot, "config.json")));
    }

    [Theory]
    [InlineData("../escape.txt")]
    [InlineData("sub/../../escape.txt")]
    [InlineData("/etc/passwd")]
    [InlineData("a//b")]
    [InlineData("back\\slash")]
    public async Task A_hostile_file_list_is_refused_before_anything_is_downloaded(string name)
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel();
        repo.ExtraListedNames.Add(name);
        using var client = ctx.Client();

        var e = await Assert.ThrowsAsync<SmeltException>(() => client.DownloadSnapshotAsync("acme/tiny-coder"));

        Assert.Contains("unsafe", e.Message);
        Assert.Contains("nothing was downloaded", e.Message);
        Assert.Single(ctx.Hub.Main.Requests); // only the listing
        Assert.Empty(ctx.Hub.Cdn.Requests);
        Assert.False(File.Exists(Path.Combine(ctx.RepoDir("acme/tiny-coder"), "snapshots", "escape.txt")));
        Assert.False(File.Exists(Path.Combine(ctx.RepoDir("acme/tiny-coder"), "escape.txt")));
        Assert.False(Directory.Exists(Path.Combine(ctx.RepoDir("acme/tiny-coder"), "blobs")));
    }

    [Fact]
    public async Task A_model_with_only_pickle_weights_is_refused_with_a_way_out()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.Hub.Add(new FakeRepo { Id = "old/pickled" });
        repo.Files.Add(new FakeFile { Path = "config.json", Content = "{}"u8.ToArray() });
        repo.Files.Add(new FakeFile { Path = "pytorch_model.bin", Content = HubTestContext.Bytes(1000, 1), Lfs = true });
        using var client = ctx.Client();

        var e = await Assert.ThrowsAsync<SmeltException>(() => client.DownloadSnapshotAsync("old/pickled"));

        Assert.Contains("pytorch_model.bin", e.Message);
        Assert.Contains("pickle", e.Message);
        Assert.Contains("execute arbitrary code", e.Message);
        Assert.Contains("safe_serialization=True", e.Message);
        Assert.DoesNotContain(ctx.Hub.Main.Requests, r => r.Path.Contains("/resolve/"));
    }

    [Fact]
    public async Task Pickle_files_are_skipped_when_safetensors_exist_and_code_only_when_asked()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel();
        repo.Files.Add(new FakeFile { Path = "pytorch_model.bin", Content = HubTestContext.Bytes(1000, 1), Lfs = true });
        repo.Files.Add(new FakeFile { Path = "modeling_custom.py", Content = "import os\nos.system('echo pwned')\n"u8.ToArray() });
        using (var client = ctx.Client())
        {
            var result = await client.DownloadAsync("acme/tiny-coder");
            Assert.DoesNotContain("pytorch_model.bin", result.Files);
            Assert.DoesNotContain("modeling_custom.py", result.Files);
            Assert.False(File.Exists(Path.Combine(result.SnapshotPath, "modeling_custom.py")));
            Assert.Contains(result.Notes, n => n.Contains("modeling_custom.py") && n.Contains("--allow-code"));
            Assert.Contains(result.Notes, n => n.Contains("pytorch_model.bin") && n.Contains("safetensors"));
            Assert.DoesNotContain(ctx.Hub.AllRequests, r => r.Path.Contains("modeling_custom.py") || r.Path.Contains("pytorch_model.bin"));
        }
        using (var client = ctx.Client(allowCode: true))
        {
            var result = await client.DownloadAsync("acme/tiny-coder");
            Assert.Contains("modeling_custom.py", result.Files);
            Assert.True(File.Exists(Path.Combine(result.SnapshotPath, "modeling_custom.py")));
            Assert.DoesNotContain("pytorch_model.bin", result.Files);
        }
    }

    private sealed class TextProgress : IDownloadProgress
    {
        private readonly System.Text.StringBuilder _text = new();

        public IFileProgress Begin(string path, long? totalBytes)
        {
            lock (_text) _text.AppendLine($"begin {path} {totalBytes}");
            return new Handle(this, path);
        }

        public override string ToString()
        {
            lock (_text) return _text.ToString();
        }

        private sealed class Handle(TextProgress owner, string path) : IFileProgress
        {
            public void Report(long bytesOnDisk) { lock (owner._text) owner._text.AppendLine($"{path} {bytesOnDisk}"); }
            public void Finish(FileOutcome outcome) { lock (owner._text) owner._text.AppendLine($"{path} {outcome}"); }
        }
    }
}
