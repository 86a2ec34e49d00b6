using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Smelt.Core;
using Smelt.Model;

namespace Smelt.Workflow.Tests;

/// <summary>A real HTTP server on 127.0.0.1 (HttpListener) whose answers each test scripts.</summary>
internal sealed class LoopbackServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly Func<HttpListenerContext, JsonNode, Task> _handler;
    private readonly Task _loop;
    public List<JsonNode> Requests { get; } = [];
    public List<string?> AuthHeaders { get; } = [];
    public string BaseUrl { get; }

    public LoopbackServer(Func<HttpListenerContext, JsonNode, Task> handler)
    {
        _handler = handler;
        var port = FreePort();
        BaseUrl = $"http://127.0.0.1:{port}/v1";
        _listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        _listener.Start();
        _loop = Task.Run(Loop);
    }

    public static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        var port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private async Task Loop()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            _ = Task.Run(async () =>
            {
                try
                {
                    using var reader = new StreamReader(ctx.Request.InputStream, Encoding.UTF8);
                    var body = JsonNode.Parse(await reader.ReadToEndAsync())!;
                    lock (Requests) { Requests.Add(body); AuthHeaders.Add(ctx.Request.Headers["Authorization"]); }
                    await _handler(ctx, body);
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or IOException) { }
            });
        }
    }

    public static async Task Reply(HttpListenerContext ctx, int status, string json, string? retryAfter = null)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        if (retryAfter is not null) ctx.Response.Headers["Retry-After"] = retryAfter;
        var bytes = Encoding.UTF8.GetBytes(json);
        await ctx.Response.OutputStream.WriteAsync(bytes);
        ctx.Response.Close();
    }

    public static string Chat(params string[] contents) =>
        JsonSerializer.Serialize(new { choices = contents.Select((c, i) => new { index = i, message = new { role = "assistant", content = c }, finish_reason = "stop" }) });

    public static string Completions(params string[] texts) =>
        JsonSerializer.Serialize(new { choices = texts.Select((t, i) => new { index = i, text = t, finish_reason = "stop" }) });

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}

public sealed class RemoteGenerationTests : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private static readonly GenerationTask[] Tasks =
    [
        new("T/0", "fn add(a: i32, b: i32) -> i32 {\n", 1),
        new("T/1", "fn neg(a: i32) -> i32 {\n", 2),
        new("T/2", "fn zero() -> i32 {\n", 3),
    ];

    private static EndpointOptions Options(string url, string api = "chat", int retries = 3, double timeoutSeconds = 10) => new()
    {
        BaseUrl = url, Model = "served-model", Api = api, MaxRetries = retries, RetryBaseDelay = TimeSpan.FromMilliseconds(20),
        RequestTimeout = TimeSpan.FromSeconds(timeoutSeconds), MaxTokens = 64, Temperature = 0.2,
    };

    private static List<(string Task, string Completion)> ReadSamples(string path) =>
        Jsonl.Read(path).Select(l => (l.Value!.Value.GetProperty("task_id").GetString()!, l.Value!.Value.GetProperty("completion").GetString()!)).ToList();

    [Fact]
    public async Task Chat_samples_are_written_in_the_format_eval_reads_with_the_key_sent_and_never_shown()
    {
        const string key = "sk-test-7d2f9a1c4b8e6f3a";
        Environment.SetEnvironmentVariable("SMELT_TEST_REMOTE_KEY", key);
        try
        {
            using var server = new LoopbackServer((ctx, body) =>
            {
                var n = body["n"]?.GetValue<int>() ?? 1;
                var prompt = body["messages"]![1]!["content"]!.GetValue<string>();
                return LoopbackServer.Reply(ctx, 200, LoopbackServer.Chat([.. Enumerable.Range(0, n).Select(i => $"```rust\n{prompt}    0 // {i}\n}}\n```")]));
            });
            using var gen = new RemoteGenerator(Options(server.BaseUrl) with { ApiKeyEnv = "SMELT_TEST_REMOTE_KEY" });
            var outPath = _dir.File("samples.jsonl");
            var summary = await gen.RunAsync(Tasks, outPath, samplesPerTask: 2);
            Assert.Equal(6, summary.Samples);
            var samples = ReadSamples(outPath);
            Assert.Equal(["T/0", "T/0", "T/1", "T/1", "T/2", "T/2"], samples.Select(s => s.Task));
            Assert.StartsWith("```rust\nfn add(a: i32, b: i32) -> i32 {\n", samples[0].Completion);
            Assert.Equal(3, server.Requests.Count); // n=2 in one request per task
            Assert.All(server.Requests, r => Assert.Equal("served-model", r["model"]!.GetValue<string>()));
            Assert.All(server.Requests, r => Assert.Equal("system", r["messages"]![0]!["role"]!.GetValue<string>()));
            Assert.All(server.AuthHeaders, h => Assert.Equal("Bearer " + key, h));
            Assert.Equal(Redactor.Mask, Redactor.Redact(key));
            Assert.False(File.Exists(outPath + ".partial"));
        }
        finally { Environment.SetEnvironmentVariable("SMELT_TEST_REMOTE_KEY", null); }
    }

    [Fact]
    public async Task The_completions_api_sends_the_prompt_and_reads_text()
    {
        using var server = new LoopbackServer((ctx, body) =>
            LoopbackServer.Reply(ctx, 200, LoopbackServer.Completions("    a + b\n}\n")));
        using var gen = new RemoteGenerator(Options(server.BaseUrl, api: "completions") with { UseN = false, Stop = ["\n}"] });
        var outPath = _dir.File("c.jsonl");
        await gen.RunAsync(Tasks[..1], outPath, samplesPerTask: 3);
        Assert.Equal(3, server.Requests.Count); // UseN off: one request per sample
        Assert.All(server.Requests, r => Assert.Equal(Tasks[0].Input, r["prompt"]!.GetValue<string>()));
        Assert.Equal("\n}", server.Requests[0]["stop"]![0]!.GetValue<string>());
        Assert.All(ReadSamples(outPath), s => Assert.Equal("    a + b\n}\n", s.Completion));
    }

    [Fact]
    public async Task Rate_limits_and_server_errors_are_retried_with_backoff()
    {
        var calls = 0;
        using var server = new LoopbackServer((ctx, body) =>
        {
            var c = Interlocked.Increment(ref calls);
            return c switch
            {
                1 => LoopbackServer.Reply(ctx, 429, """{"error": {"message": "slow down"}}""", retryAfter: "0"),
                2 => LoopbackServer.Reply(ctx, 503, """{"error": "overloaded"}"""),
                _ => LoopbackServer.Reply(ctx, 200, LoopbackServer.Chat("ok")),
            };
        });
        using var gen = new RemoteGenerator(Options(server.BaseUrl));
        var outPath = _dir.File("r.jsonl");
        await gen.RunAsync(Tasks[..1], outPath, 1);
        Assert.Equal(3, gen.Attempts);
        Assert.Equal("ok", ReadSamples(outPath).Single().Completion);
    }

    [Fact]
    public async Task A_server_that_keeps_failing_gives_a_clear_error_and_the_samples_received_are_kept_for_a_rerun()
    {
        var failing = true;
        using var server = new LoopbackServer((ctx, body) =>
        {
            var prompt = body["messages"]![1]!["content"]!.GetValue<string>();
            return failing && prompt.StartsWith("fn neg", StringComparison.Ordinal)
                ? LoopbackServer.Reply(ctx, 500, """{"error": {"message": "internal"}}""")
                : LoopbackServer.Reply(ctx, 200, LoopbackServer.Chat("answer"));
        });
        var outPath = _dir.File("k.jsonl");
        using (var gen = new RemoteGenerator(Options(server.BaseUrl, retries: 2)))
        {
            var ex = await Assert.ThrowsAsync<SmeltException>(() => gen.RunAsync(Tasks, outPath, 1));
            Assert.Equal(ExitCodes.Infrastructure, ex.ExitCode);
            Assert.Contains("HTTP 500", ex.Message);
            Assert.Contains("gave up after 3 attempts", ex.Message);
            Assert.Contains("kept in", ex.Message);
            Assert.Equal(3, gen.Attempts - 1); // one for T/0, three for T/1
        }
        Assert.False(File.Exists(outPath));
        Assert.Equal(["T/0"], ReadSamples(outPath + ".partial").Select(s => s.Task));

        failing = false;
        server.Requests.Clear();
        using (var gen = new RemoteGenerator(Options(server.BaseUrl)))
        {
            var summary = await gen.RunAsync(Tasks, outPath, 1);
            Assert.Equal(1, summary.Resumed);
        }
        Assert.Equal(2, server.Requests.Count); // T/0 was not asked again
        Assert.Equal(["T/0", "T/1", "T/2"], ReadSamples(outPath).Select(s => s.Task));
    }

    [Fact]
    public async Task A_refused_connection_is_retried_then_reported()
    {
        var url = $"http://127.0.0.1:{LoopbackServer.FreePort()}/v1"; // nothing listens there
        using var gen = new RemoteGenerator(Options(url, retries: 2));
        var ex = await Assert.ThrowsAsync<SmeltException>(() => gen.RunAsync(Tasks, _dir.File("x.jsonl"), 1));
        Assert.Equal(ExitCodes.Infrastructure, ex.ExitCode);
        Assert.Equal(3, gen.Attempts);
        Assert.Contains("gave up after 3 attempts", ex.Message);
    }

    [Fact]
    public async Task A_server_that_never_answers_times_out_per_attempt()
    {
        using var server = new LoopbackServer(async (ctx, body) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(5));
            await LoopbackServer.Reply(ctx, 200, LoopbackServer.Chat("late"));
        });
        using var gen = new RemoteGenerator(Options(server.BaseUrl, retries: 1, timeoutSeconds: 0.3));
        var ex = await Assert.ThrowsAsync<SmeltException>(() => gen.RunAsync(Tasks, _dir.File("t.jsonl"), 1));
        Assert.Contains("no answer within 0.3 s", ex.Message);
        Assert.Equal(2, gen.Attempts);
    }

    [Fact]
    public async Task A_client_error_is_not_retried_and_its_message_is_redacted()
    {
        const string key = "sk-leaky-0a1b2c3d4e5f6789";
        Environment.SetEnvironmentVariable("SMELT_TEST_LEAKY_KEY", key);
        try
        {
            using var server = new LoopbackServer((ctx, body) =>
                LoopbackServer.Reply(ctx, 401, JsonSerializer.Serialize(new { error = new { message = $"invalid key {key}" } })));
            using var gen = new RemoteGenerator(Options(server.BaseUrl) with { ApiKeyEnv = "SMELT_TEST_LEAKY_KEY" });
            var ex = await Assert.ThrowsAsync<SmeltException>(() => gen.RunAsync(Tasks, _dir.File("u.jsonl"), 1));
            Assert.Equal(1, gen.Attempts);
            Assert.Contains("HTTP 401", ex.Message);
            Assert.DoesNotContain(key, ex.Message);
        }
        finally { Environment.SetEnvironmentVariable("SMELT_TEST_LEAKY_KEY", null); }
    }

    [Fact]
    public void A_missing_key_variable_and_a_bad_url_are_bad_input()
    {
        Assert.Contains("not set", Assert.Throws<SmeltException>(() => new RemoteGenerator(Options("http://127.0.0.1:1/v1") with { ApiKeyEnv = "SMELT_NO_SUCH_VAR_42" })).Message);
        Assert.Contains("http(s) base URL", Assert.Throws<SmeltException>(() => new RemoteGenerator(Options("ftp://x"))).Message);
    }
}
