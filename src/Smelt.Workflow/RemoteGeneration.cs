using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Polly;
using Polly.Retry;
using Smelt.Core;
using Smelt.Model;

namespace Smelt.Workflow;

public sealed record EndpointOptions
{
    /// <summary>e.g. http://127.0.0.1:8000/v1 ; the client appends /chat/completions or /completions.</summary>
    public required string BaseUrl { get; init; }
    public required string Model { get; init; }
    /// <summary>chat | completions</summary>
    public string Api { get; init; } = "chat";
    /// <summary>Name of the environment variable holding the API key (never the key itself); null: no Authorization header.</summary>
    public string? ApiKeyEnv { get; init; }
    public double Temperature { get; init; } = 0.8;
    public double TopP { get; init; } = 0.95;
    public int MaxTokens { get; init; } = 512;
    public IReadOnlyList<string> Stop { get; init; } = [];
    public string SystemPrompt { get; init; } =
        "You are an expert Rust programmer. Complete the Rust function the user gives. Reply with the complete function in one ```rust code block.";
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(120);
    public int MaxRetries { get; init; } = 5;
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Ask for all samples of a prompt in one request (the <c>n</c> parameter); off: one request per sample.</summary>
    public bool UseN { get; init; } = true;
}

/// <summary>
/// Draws samples from an OpenAI-compatible server (chat or completions API) and writes them as the samples JSONL that
/// <c>smelt eval</c> reads. Each task's samples are appended to <c>OUT.partial</c> as soon as they arrive, so a run that
/// fails (server refuses, times out, keeps answering 5xx after the retries) keeps them and a rerun asks only for the rest.
/// 429, 5xx, connection failures and timeouts are retried with exponential backoff (honouring Retry-After); other 4xx
/// fail at once with the server's message. The API key is read from the named environment variable and registered with
/// <see cref="Redactor"/>, so it never appears in messages or files.
/// </summary>
public sealed class RemoteGenerator : IDisposable
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly EndpointOptions _o;
    private readonly HttpClient _http;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
    private readonly Uri _endpoint;
    private int _attempts;

    public int Attempts => _attempts;

    public RemoteGenerator(EndpointOptions options, HttpMessageHandler? handler = null)
    {
        _o = options;
        if (options.Api is not ("chat" or "completions")) throw SmeltException.BadInput($"--api '{options.Api}': expected chat or completions");
        if (!Uri.TryCreate(options.BaseUrl.TrimEnd('/') + "/", UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
            throw SmeltException.BadInput($"--endpoint '{options.BaseUrl}': expected an http(s) base URL such as http://127.0.0.1:8000/v1");
        _endpoint = new Uri(baseUri, options.Api == "chat" ? "chat/completions" : "completions");
        if (string.IsNullOrWhiteSpace(options.Model)) throw SmeltException.BadInput("--remote-model: the model name the server serves is required");
        _http = handler is null ? new HttpClient() : new HttpClient(handler);
        _http.Timeout = Timeout.InfiniteTimeSpan; // per attempt, below
        if (options.ApiKeyEnv is { } env)
        {
            var key = Environment.GetEnvironmentVariable(env);
            if (string.IsNullOrEmpty(key)) throw SmeltException.BadInput($"--api-key-env {env}: the environment variable is not set (export {env}=... or leave --api-key-env out for servers without a key)");
            Redactor.Register(key);
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
        _pipeline = new ResiliencePipelineBuilder<HttpResponseMessage>()
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = Math.Max(0, options.MaxRetries),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = TimeSpan.FromSeconds(60),
                ShouldHandle = new PredicateBuilder<HttpResponseMessage>()
                    .Handle<HttpRequestException>()
                    .Handle<TimeoutRejected>()
                    .HandleResult(r => r.StatusCode == HttpStatusCode.TooManyRequests || (int)r.StatusCode >= 500),
                DelayGenerator = args =>
                {
                    var retryAfter = args.Outcome.Result?.Headers.RetryAfter?.Delta;
                    return ValueTask.FromResult(retryAfter is { } d && d < TimeSpan.FromSeconds(60) ? d : (TimeSpan?)null);
                },
                OnRetry = args =>
                {
                    args.Outcome.Result?.Dispose();
                    return default;
                },
            })
            .Build();
    }

    /// <summary>Thrown inside the pipeline when one attempt exceeds the request timeout (so it is retried, unlike the caller's cancellation).</summary>
    private sealed class TimeoutRejected(TimeSpan after) : Exception($"no answer within {after.TotalSeconds:0.#} s");

    public sealed record Progress(int Done, int Total, string TaskId, bool Resumed);

    public sealed record Summary(int Tasks, int Resumed, int Samples, string Output, int HttpAttempts);

    public async Task<Summary> RunAsync(IReadOnlyList<GenerationTask> tasks, string outPath, int samplesPerTask, Action<Progress>? progress = null, CancellationToken ct = default)
    {
        if (samplesPerTask < 1) throw SmeltException.BadInput($"--n {samplesPerTask}: must be at least 1");
        if (File.Exists(outPath)) throw SmeltException.BadInput($"--out {outPath}: already exists; delete it or choose another file (nothing was overwritten)");
        var partial = outPath + ".partial";
        var done = ResumeTasks(partial, samplesPerTask, tasks);
        var written = 0;
        using (var writer = new StreamWriter(partial, append: true, new UTF8Encoding(false)) { NewLine = "\n" })
        {
            for (var t = 0; t < tasks.Count; t++)
            {
                var task = tasks[t];
                if (done.Contains(task.TaskId)) { progress?.Invoke(new Progress(t + 1, tasks.Count, task.TaskId, true)); continue; }
                var completions = new List<string>();
                while (completions.Count < samplesPerTask)
                {
                    var want = _o.UseN ? samplesPerTask - completions.Count : 1;
                    try
                    {
                        completions.AddRange((await RequestAsync(task, want, ct)).Take(samplesPerTask - completions.Count));
                    }
                    catch (SmeltException ex)
                    {
                        writer.Flush();
                        throw new SmeltException($"{ex.Message}. Task '{task.TaskId}' ({t + 1}/{tasks.Count}) was not finished; the samples of the tasks already answered are kept in {partial}: run the same command again to continue from there",
                            ex.ExitCode, ex);
                    }
                }
                foreach (var c in completions)
                    writer.WriteLine(JsonSerializer.Serialize(new Dictionary<string, string> { ["task_id"] = task.TaskId, ["completion"] = c }, Relaxed));
                writer.Flush();
                written += completions.Count;
                progress?.Invoke(new Progress(t + 1, tasks.Count, task.TaskId, false));
            }
        }
        File.Move(partial, outPath);
        return new Summary(tasks.Count, done.Count, written + done.Count * samplesPerTask, outPath, _attempts);
    }

    /// <summary>One prompt, <paramref name="n"/> completions (the server may return fewer; the caller asks again).</summary>
    public async Task<IReadOnlyList<string>> RequestAsync(GenerationTask task, int n, CancellationToken ct)
    {
        var body = BuildBody(task.Input, n);
        HttpResponseMessage response;
        try
        {
            response = await _pipeline.ExecuteAsync(async token =>
            {
                Interlocked.Increment(ref _attempts);
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(token);
                attempt.CancelAfter(_o.RequestTimeout);
                try
                {
                    using var content = new StringContent(body, Encoding.UTF8, "application/json");
                    var r = await _http.PostAsync(_endpoint, content, attempt.Token);
                    await r.Content.LoadIntoBufferAsync(attempt.Token);
                    return r;
                }
                catch (OperationCanceledException) when (!token.IsCancellationRequested)
                {
                    throw new TimeoutRejected(_o.RequestTimeout);
                }
            }, ct);
        }
        catch (HttpRequestException ex)
        {
            throw SmeltException.Infrastructure($"endpoint {_endpoint}: {Redactor.Redact(ex.Message)} (gave up after {_o.MaxRetries + 1} attempts)");
        }
        catch (TimeoutRejected ex)
        {
            throw SmeltException.Infrastructure($"endpoint {_endpoint}: {ex.Message} (gave up after {_o.MaxRetries + 1} attempts; raise --request-timeout for slow servers)");
        }
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            if (!response.IsSuccessStatusCode)
            {
                var detail = ErrorMessage(text);
                var retried = response.StatusCode == HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500;
                throw new SmeltException($"endpoint {_endpoint}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}{(detail is null ? "" : ": " + detail)}" +
                                         (retried ? $" (gave up after {_o.MaxRetries + 1} attempts)" : ""),
                    retried ? ExitCodes.Infrastructure : ExitCodes.BadInput);
            }
            return ParseChoices(text);
        }
    }

    private string BuildBody(string prompt, int n)
    {
        var o = new JsonObject
        {
            ["model"] = _o.Model,
            ["temperature"] = _o.Temperature,
            ["top_p"] = _o.TopP,
            ["max_tokens"] = _o.MaxTokens,
        };
        if (n > 1) o["n"] = n;
        if (_o.Stop.Count > 0) o["stop"] = new JsonArray([.. _o.Stop.Select(s => (JsonNode)s)]);
        if (_o.Api == "chat")
            o["messages"] = new JsonArray(
                new JsonObject { ["role"] = "system", ["content"] = _o.SystemPrompt },
                new JsonObject { ["role"] = "user", ["content"] = prompt });
        else
            o["prompt"] = prompt;
        return o.ToJsonString(Relaxed);
    }

    private IReadOnlyList<string> ParseChoices(string text)
    {
        JsonNode? root;
        try { root = JsonNode.Parse(text); }
        catch (JsonException ex) { throw SmeltException.Infrastructure($"endpoint {_endpoint}: the answer is not JSON ({ex.Message})"); }
        if (root?["choices"] is not JsonArray choices || choices.Count == 0)
            throw SmeltException.Infrastructure($"endpoint {_endpoint}: the answer has no 'choices' (is this an OpenAI-compatible {_o.Api} endpoint?)");
        var list = new List<string>();
        foreach (var c in choices)
        {
            var value = _o.Api == "chat" ? c?["message"]?["content"] : c?["text"];
            if (value is JsonValue v && v.TryGetValue<string>(out var s)) list.Add(s);
            else throw SmeltException.Infrastructure($"endpoint {_endpoint}: a choice has no {(_o.Api == "chat" ? "message.content" : "text")} string");
        }
        return list;
    }

    private static string? ErrorMessage(string body)
    {
        try
        {
            var n = JsonNode.Parse(body);
            var m = n?["error"]?["message"] ?? n?["error"] ?? n?["message"];
            if (m is JsonValue v && v.TryGetValue<string>(out var s)) return Redactor.Redact(s.Length > 300 ? s[..300] : s);
        }
        catch (JsonException) { }
        var trimmed = body.Trim();
        return trimmed.Length == 0 ? null : Redactor.Redact(trimmed.Length > 200 ? trimmed[..200] : trimmed);
    }

    private static HashSet<string> ResumeTasks(string partial, int samplesPerTask, IReadOnlyList<GenerationTask> tasks)
        => PartialSamples.CompletedTasks(partial, samplesPerTask, tasks.Select(t => t.TaskId));

    public void Dispose() => _http.Dispose();
}
