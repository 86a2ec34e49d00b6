using Smelt.Core;

namespace Smelt.Hub.Tests;

public sealed class UnitTests
{
    [Theory]
    [InlineData("*.json", "config.json", true)]
    [InlineData("*.json", "sub/config.json", true)] // fnmatch: * crosses '/'
    [InlineData("*.json", "config.jsonl", false)]
    [InlineData("tokenizer/", "tokenizer/vocab.txt", true)]
    [InlineData("tokenizer/", "tokenizer.json", false)]
    [InlineData("model-0000?-of-00002.safetensors", "model-00001-of-00002.safetensors", true)]
    [InlineData("[ab].txt", "a.txt", true)]
    [InlineData("[!ab].txt", "a.txt", false)]
    [InlineData("a.b", "aXb", false)]
    public void Globs_follow_fnmatch(string glob, string path, bool expected) =>
        Assert.Equal(expected, new GlobFilter([glob], null).Matches(path));

    [Fact]
    public void Exclude_wins_over_include_and_no_include_means_everything()
    {
        var filter = new GlobFilter(null, ["*.bin"]);
        Assert.True(filter.Matches("model.safetensors"));
        Assert.False(filter.Matches("pytorch_model.bin"));
        Assert.False(new GlobFilter(["*"], ["*.md"]).Matches("README.md"));
    }

    [Theory]
    [InlineData("Qwen/Qwen2.5-Coder-0.5B", true)]
    [InlineData("gpt2", true)]
    [InlineData("meta-llama/Llama-3.1-8B-Instruct", true)]
    [InlineData("a/b/c", false)]
    [InlineData("../etc", false)]
    [InlineData("org--x/name", false)]
    [InlineData("org/na..me", false)]
    [InlineData("org/name with space", false)]
    [InlineData("", false)]
    public void Repo_ids_are_validated_like_the_hub_does(string id, bool valid) => Assert.Equal(valid, RepoId.IsValid(id));

    [Fact]
    public void Repo_ids_longer_than_96_characters_are_refused()
    {
        Assert.False(RepoId.IsValid("org/" + new string('x', 93)));
        var e = Assert.Throws<SmeltException>(() => RepoId.Parse("bad id"));
        Assert.Contains("not a valid hub repository id", e.Message);
        Assert.Equal("models--Qwen--Qwen2.5-Coder-0.5B", RepoId.Parse("Qwen/Qwen2.5-Coder-0.5B").CacheFolderName);
        Assert.Equal("datasets--org--data", RepoId.Parse("org/data", RepoType.Dataset).CacheFolderName);
        Assert.Equal(RepoType.Dataset, RepoId.ParseType("dataset"));
        Assert.Throws<SmeltException>(() => RepoId.ParseType("space"));
    }

    [Fact]
    public void Model_source_tells_local_paths_from_hub_ids()
    {
        var dir = Directory.CreateTempSubdirectory("smelt-src-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "org", "local-model"));
            var local = ModelSource.Resolve("org/local-model", dir);
            Assert.True(local.IsLocal);
            Assert.Equal(Path.Combine(dir, "org", "local-model"), local.LocalPath);

            var hub = ModelSource.Resolve("Qwen/Qwen2.5-Coder-0.5B", dir);
            Assert.False(hub.IsLocal);
            Assert.Equal("Qwen/Qwen2.5-Coder-0.5B", hub.HubId);

            Assert.Equal("org/local-model", ModelSource.Resolve("hf://org/local-model", dir).HubId);
            var missing = Assert.Throws<SmeltException>(() => ModelSource.Resolve("./no/such/dir", dir));
            Assert.Contains("does not exist", missing.Message);
            var neither = Assert.Throws<SmeltException>(() => ModelSource.Resolve("a/b/c", dir));
            Assert.Contains("neither an existing local path nor a valid hub id", neither.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Settings_follow_the_huggingface_hub_environment_variables()
    {
        Dictionary<string, string> env = new()
        {
            ["HOME"] = "/home/u",
            ["HF_ENDPOINT"] = "http://127.0.0.1:9/",
            ["HF_HUB_OFFLINE"] = "1",
            ["HF_TOKEN"] = "hf_" + "SettingsTokenAbcdefghijklmnopqrstuv01",
        };
        var s = HubSettings.FromEnvironment(k => env.TryGetValue(k, out var v) ? v : null);
        Assert.Equal("/home/u/.cache/huggingface", s.HfHome);
        Assert.Equal("/home/u/.cache/huggingface/hub", s.CacheDir);
        Assert.Equal("/home/u/.cache/huggingface/token", s.TokenPath);
        Assert.Equal(new Uri("http://127.0.0.1:9"), s.Endpoint);
        Assert.True(s.Offline);
        Assert.Equal("HF_TOKEN", s.TokenSource);
        Assert.Equal("x <REDACTED> y", Redactor.Redact($"x {env["HF_TOKEN"]} y"));

        env["HF_HOME"] = "/data/hf";
        env["HF_HUB_OFFLINE"] = "0";
        s = HubSettings.FromEnvironment(k => env.TryGetValue(k, out var v) ? v : null);
        Assert.Equal("/data/hf/hub", s.CacheDir);
        Assert.False(s.Offline);
        env["HF_HUB_CACHE"] = "/fast/cache";
        Assert.Equal("/fast/cache", HubSettings.FromEnvironment(k => env.TryGetValue(k, out var v) ? v : null).CacheDir);
        Assert.Equal(new Uri("https://huggingface.co"), HubSettings.FromEnvironment(_ => null).Endpoint);

        env["HF_ENDPOINT"] = "ftp://example";
        Assert.Throws<SmeltException>(() => HubSettings.FromEnvironment(k => env.TryGetValue(k, out var v) ? v : null));
    }

    [Fact]
    public async Task Unsafe_revisions_are_refused_before_touching_the_disk()
    {
        var settings = HubSettings.FromEnvironment(k => k == "HOME" ? "/nonexistent-home" : null);
        using var client = new HubClient(settings with { Offline = true });
        var e = await Assert.ThrowsAsync<SmeltException>(() => client.DownloadSnapshotAsync("org/name", revision: "../../x"));
        Assert.Contains("unsafe", e.Message);
        Assert.False(Directory.Exists("/nonexistent-home"));
    }
}
