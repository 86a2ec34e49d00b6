using Smelt.Core;
using Smelt.TestSupport.Hub;

namespace Smelt.Hub.Tests;

public sealed class UploadTests
{
    private static string MakeAdapterFolder(HubTestContext ctx)
    {
        var dir = Path.Combine(ctx.Root, "adapter");
        Directory.CreateDirectory(Path.Combine(dir, "nested"));
        Directory.CreateDirectory(Path.Combine(dir, ".git"));
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), "{\"r\":8,\"lora_alpha\":16}");
        File.WriteAllText(Path.Combine(dir, "README.md"), "---\nlicense: apache-2.0\n---\n# tiny adapter\n");
        File.WriteAllBytes(Path.Combine(dir, "adapter_model.safetensors"), HubTestContext.Bytes(50_000, 11));
        File.WriteAllText(Path.Combine(dir, "nested", "notes.txt"), "trained with smelt");
        File.WriteAllText(Path.Combine(dir, ".git", "HEAD"), "ref: refs/heads/main");
        return dir;
    }

    [Fact]
    public async Task Upload_commits_regular_files_inline_and_binaries_through_lfs_then_downloads_back()
    {
        await using var ctx = new HubTestContext();
        ctx.Hub.Add(new FakeRepo { Id = "me/tiny-adapter" });
        var dir = MakeAdapterFolder(ctx);
        using var client = ctx.Client(token: HubTestContext.GoodToken);

        var result = await client.UploadFolderAsync(dir, "me/tiny-adapter", commitMessage: "first adapter");

        Assert.Equal(["adapter_model.safetensors"], result.LfsFiles);
        Assert.Equal(["README.md", "adapter_config.json", "nested/notes.txt"], result.RegularFiles.Order(StringComparer.Ordinal).ToArray());
        var repo = ctx.Hub.Get("models/me/tiny-adapter")!;
        Assert.Equal(repo.Commit, result.CommitOid);
        Assert.Equal(["first adapter"], ctx.Hub.Commits);
        Assert.DoesNotContain(repo.Files, f => f.Path.StartsWith(".git", StringComparison.Ordinal));
        // the LFS bytes went to the second host, without the token
        var put = Assert.Single(ctx.Hub.Cdn.Requests);
        Assert.Equal("PUT", put.Method);
        Assert.Null(put.Header("Authorization"));
        Assert.All(ctx.Hub.Main.Requests, r => Assert.Equal("Bearer " + HubTestContext.GoodToken, r.Header("Authorization")));
        Assert.Contains(ctx.Hub.Main.Requests, r => r.Path == "/lfs-verify");

        var snapshot = await client.DownloadSnapshotAsync("me/tiny-adapter");
        foreach (var name in new[] { "adapter_config.json", "README.md", "adapter_model.safetensors", "nested/notes.txt" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir, name)), File.ReadAllBytes(Path.Combine(snapshot, name)));
    }

    [Fact]
    public async Task Uploading_again_skips_lfs_bytes_the_hub_already_has()
    {
        await using var ctx = new HubTestContext();
        ctx.Hub.Add(new FakeRepo { Id = "me/tiny-adapter" });
        var dir = MakeAdapterFolder(ctx);
        using var client = ctx.Client(token: HubTestContext.GoodToken);
        await client.UploadFolderAsync(dir, "me/tiny-adapter");
        File.WriteAllText(Path.Combine(dir, "README.md"), "# updated card\n");

        await client.UploadFolderAsync(dir, "me/tiny-adapter");

        Assert.Single(ctx.Hub.Cdn.Requests); // only the first upload sent the weights
        Assert.Equal("# updated card\n"u8.ToArray(), ctx.Hub.Get("models/me/tiny-adapter")!.Files.Single(f => f.Path == "README.md").Content);
    }

    [Fact]
    public async Task Upload_without_a_token_says_how_to_provide_one_and_sends_nothing()
    {
        await using var ctx = new HubTestContext();
        ctx.Hub.Add(new FakeRepo { Id = "me/tiny-adapter" });
        var dir = MakeAdapterFolder(ctx);
        using var client = ctx.Client();

        var e = await Assert.ThrowsAsync<SmeltException>(() => client.UploadFolderAsync(dir, "me/tiny-adapter"));

        Assert.Contains("needs a token", e.Message);
        Assert.Contains("HF_TOKEN", e.Message);
        Assert.Equal(0, ctx.Hub.RequestCount);
    }

    [Fact]
    public async Task A_file_containing_the_token_is_never_uploaded()
    {
        await using var ctx = new HubTestContext();
        ctx.Hub.Add(new FakeRepo { Id = "me/tiny-adapter" });
        var dir = MakeAdapterFolder(ctx);
        // the token straddles the 1 MiB read boundary, so the chunked scan is exercised
        var card = new byte[(1 << 20) + 100];
        Array.Fill(card, (byte)'x');
        System.Text.Encoding.ASCII.GetBytes(HubTestContext.GoodToken).CopyTo(card, (1 << 20) - 10);
        File.WriteAllBytes(Path.Combine(dir, "README.md"), card);
        using var client = ctx.Client(token: HubTestContext.GoodToken);

        var e = await Assert.ThrowsAsync<SmeltException>(() => client.UploadFolderAsync(dir, "me/tiny-adapter"));

        Assert.Contains("README.md", e.Message);
        Assert.Contains("contains your hub token", e.Message);
        Assert.DoesNotContain(HubTestContext.GoodToken, e.Message);
        Assert.Equal(0, ctx.Hub.RequestCount);
    }

    [Fact]
    public async Task Upload_refused_by_the_hub_reports_the_status()
    {
        await using var ctx = new HubTestContext();
        var dir = MakeAdapterFolder(ctx);
        using var client = ctx.Client(token: HubTestContext.GoodToken);

        var e = await Assert.ThrowsAsync<SmeltException>(() => client.UploadFolderAsync(dir, "me/not-created"));

        Assert.Contains("me/not-created", e.Message);
        Assert.Contains("404", e.Message);
        Assert.Empty(ctx.Hub.Cdn.Requests);
    }
}
