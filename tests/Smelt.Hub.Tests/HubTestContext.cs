using System.Collections.Concurrent;
using Smelt.TestSupport.Hub;

namespace Smelt.Hub.Tests;

/// <summary>A fake hub plus an empty HF_HOME / Smelt cache in a temp folder, and helpers to build settings and clients against them.</summary>
public sealed class HubTestContext : IAsyncDisposable
{
    public const string GoodToken = "hf_" + "TestTokenAbcdefghijklmnopqrstuvwxyz0123";
    public const string WrongToken = "hf_" + "WrongTokenZyxwvutsrqponmlkjihgfedcba9876";

    public FakeHub Hub { get; } = new();
    public string Root { get; } = Directory.CreateTempSubdirectory("smelt-hub-test-").FullName;
    public string HfHome => Path.Combine(Root, "hf-home");
    public string CacheDir => Path.Combine(HfHome, "hub");
    public ConcurrentQueue<string> Log { get; } = new();

    public HubSettings Settings(string? token = null, bool offline = false, Dictionary<string, string>? extra = null)
    {
        var env = new Dictionary<string, string>
        {
            ["HOME"] = Path.Combine(Root, "home"),
            ["HF_HOME"] = HfHome,
            ["SMELT_CACHE"] = Path.Combine(Root, "smelt-cache"),
            ["HF_ENDPOINT"] = Hub.Endpoint.ToString(),
        };
        if (token is not null) env["HF_TOKEN"] = token;
        if (offline) env["HF_HUB_OFFLINE"] = "1";
        foreach (var (k, v) in extra ?? []) env[k] = v;
        return HubSettings.FromEnvironment(k => env.TryGetValue(k, out var v) ? v : null);
    }

    public HubClient Client(string? token = null, bool offline = false, int maxRetries = 3, bool allowCode = false, int parallel = 4, TimeSpan? idleTimeout = null) =>
        new(Settings(token, offline), new HubClientOptions
        {
            MaxRetries = maxRetries,
            RetryBaseDelay = TimeSpan.FromMilliseconds(5),
            RequestTimeout = TimeSpan.FromSeconds(20),
            IdleReadTimeout = idleTimeout ?? TimeSpan.FromSeconds(5),
            AllowCode = allowCode,
            MaxParallelDownloads = parallel,
            Log = Log.Enqueue,
        });

    public static byte[] Bytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    /// <summary>A small model repo: a regular JSON file, a nested text file and an LFS safetensors file served through the CDN host.</summary>
    public FakeRepo AddModel(string id = "acme/tiny-coder", bool gated = false, int weightsBytes = 300_000, bool echoToken = false)
    {
        var repo = new FakeRepo { Id = id, Gated = gated, AllowedToken = gated ? GoodToken : null, EchoTokenInErrors = echoToken };
        repo.Files.Add(new FakeFile { Path = "config.json", Content = "{\"model_type\":\"qwen2\",\"hidden_size\":64}"u8.ToArray() });
        repo.Files.Add(new FakeFile { Path = "tokenizer/vocab.txt", Content = "fn\nlet\nmut\n"u8.ToArray() });
        repo.Files.Add(new FakeFile { Path = "model.safetensors", Content = Bytes(weightsBytes, 7), Lfs = true });
        return Hub.Add(repo);
    }

    public string RepoDir(string id, string kind = "models") => Path.Combine(CacheDir, $"{kind}--{id.Replace("/", "--")}");

    /// <summary>Every text the tests could show a user: log lines plus the given extra strings.</summary>
    public IEnumerable<string> AllOutput(params string?[] extra) => Log.Concat(extra.Where(e => e is not null))!;

    public async ValueTask DisposeAsync()
    {
        await Hub.DisposeAsync();
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }
}
