using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Polly;
using Polly.Retry;
using Smelt.Core;

namespace Smelt.Hub;

/// <summary>A failure worth retrying: 5xx, 429, a dropped connection, a stalled or truncated transfer.</summary>
public sealed class TransientHubException(string message, Exception? inner = null) : Exception(message, inner);

internal enum RedirectMode
{
    /// <summary>Follow every redirect (downloads of file contents; the token is dropped on a hop to another host).</summary>
    FollowAll,
    /// <summary>Follow only redirects within the endpoint; a redirect elsewhere is returned so its headers can be read (like huggingface_hub's HEAD).</summary>
    SameOriginOnly,
}

/// <summary>
/// HTTP plumbing for the hub: manual redirects so the token goes only to the configured endpoint's origin (scheme, host, port),
/// error mapping to user messages, and the retry pipeline (exponential backoff with jitter on transient failures, never on 4xx other than 429).
/// </summary>
internal sealed class HubHttp : IDisposable
{
    private const int MaxRedirects = 10;
    private readonly HttpClient _client;
    private readonly HubSettings _settings;
    private readonly HubClientOptions _options;

    public ResiliencePipeline Retry { get; }

    public HubHttp(HubSettings settings, HubClientOptions options)
    {
        _settings = settings;
        _options = options;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = options.RequestTimeout,
            UseCookies = false,
        };
        _client = new HttpClient(handler) { Timeout = options.RequestTimeout };
        _client.DefaultRequestHeaders.UserAgent.ParseAdd("smelt/0.1");
        Retry = new ResiliencePipelineBuilder()
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = Math.Max(1, options.MaxRetries),
                Delay = options.RetryBaseDelay,
                MaxDelay = TimeSpan.FromSeconds(30),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                ShouldHandle = args => ValueTask.FromResult(
                    args.Outcome.Exception is { } e && IsTransient(e, args.Context.CancellationToken)),
                OnRetry = args =>
                {
                    options.Log?.Invoke($"retry {args.AttemptNumber + 1}/{options.MaxRetries} in {args.RetryDelay.TotalSeconds:0.##}s after: {Describe(args.Outcome.Exception)}");
                    return default;
                },
            })
            .Build();
    }

    public static bool IsTransient(Exception e, CancellationToken callerToken) => e switch
    {
        TransientHubException => true,
        TimeoutException => true,
        HttpRequestException h => h.StatusCode is null || (int)h.StatusCode >= 500,
        HttpIOException => true,
        IOException io => io.InnerException is SocketException or HttpIOException,
        SocketException => true,
        OperationCanceledException => !callerToken.IsCancellationRequested, // HttpClient's own timeout
        _ => false,
    };

    public static string Describe(Exception? e) => e switch
    {
        null => "unknown error",
        OperationCanceledException => "the request timed out",
        _ when e.InnerException is SocketException s => $"{e.Message} ({s.SocketErrorCode})",
        _ => e.Message,
    };

    public bool IsEndpointOrigin(Uri url) =>
        string.Equals(url.Scheme, _settings.Endpoint.Scheme, StringComparison.OrdinalIgnoreCase) &&
        string.Equals(url.IdnHost, _settings.Endpoint.IdnHost, StringComparison.OrdinalIgnoreCase) &&
        url.Port == _settings.Endpoint.Port;

    /// <summary>Sends a request, handling redirects by hand. The Authorization header is attached on each hop only if that hop is the endpoint's origin.</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, Uri url, Action<HttpRequestMessage>? configure, RedirectMode mode, CancellationToken ct)
    {
        for (var hop = 0; ; hop++)
        {
            using var request = new HttpRequestMessage(method, url);
            configure?.Invoke(request);
            if (_settings.Token is { } token && IsEndpointOrigin(url))
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
            if (!IsRedirect(response.StatusCode)) return response;
            var location = response.Headers.Location;
            if (location is null) return response;
            var next = location.IsAbsoluteUri ? location : new Uri(url, location);
            if (next.Scheme is not ("http" or "https"))
            {
                response.Dispose();
                throw SmeltException.Infrastructure($"the hub redirected {url.AbsolutePath} to an unsupported URL scheme '{next.Scheme}'");
            }
            if (mode == RedirectMode.SameOriginOnly && !IsEndpointOrigin(next)) return response;
            if (hop >= MaxRedirects)
            {
                response.Dispose();
                throw SmeltException.Infrastructure($"too many redirects while fetching {url.AbsolutePath}");
            }
            response.Dispose();
            if (method == HttpMethod.Post) method = HttpMethod.Get;
            url = next;
        }
    }

    public static bool IsRedirect(HttpStatusCode code) => (int)code is 301 or 302 or 303 or 307 or 308;

    public static string? Header(HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var values)) return values.FirstOrDefault();
        if (response.Content.Headers.TryGetValues(name, out var cvalues)) return cvalues.FirstOrDefault();
        return null;
    }

    /// <summary>Turns a failed response into the exception the user sees (or a transient one that the retry pipeline handles).</summary>
    public async Task<Exception> ErrorAsync(HttpResponseMessage response, RepoId repo, string revision, string? file, CancellationToken ct)
    {
        var status = (int)response.StatusCode;
        var code = Header(response, "X-Error-Code");
        var serverMessage = Header(response, "X-Error-Message") ?? await ReadSnippetAsync(response, ct).ConfigureAwait(false);
        var detail = string.IsNullOrWhiteSpace(serverMessage) ? "" : $" The hub said: {Redactor.Redact(serverMessage)}";
        if (status >= 500 || status == 429 || status == 408)
            return new TransientHubException($"HTTP {status} from the hub for {Where(repo, revision, file)}.{detail}");
        return status switch
        {
            401 or 403 => SmeltException.BadInput(GatedMessage(repo, status, code) + detail),
            404 => SmeltException.BadInput(NotFoundMessage(repo, revision, file, code) + detail),
            _ => SmeltException.BadInput($"the hub refused the request for {Where(repo, revision, file)} (HTTP {status}{(code is null ? "" : ", " + code)}).{detail}"),
        };
    }

    private static string Where(RepoId repo, string revision, string? file) =>
        file is null ? $"{repo} at revision '{revision}'" : $"'{file}' in {repo} at revision '{revision}'";

    public string GatedMessage(RepoId repo, int status, string? code)
    {
        var page = _settings.Endpoint.ToString().TrimEnd('/') + "/" + repo.UrlPrefix;
        var what = code switch
        {
            "GatedRepo" => "the repository is gated: its authors require each user to request access",
            "RepoNotFound" => "the repository is gated or private (or does not exist)",
            _ => "the repository is gated or private",
        };
        var tokenState = _settings.Token is null
            ? $"No token was found: HF_TOKEN is not set and {_settings.TokenPath} does not exist."
            : $"A token (from {_settings.TokenSource}) was sent, but the hub did not accept it for this repository: check that your access request was approved and that the token is valid and has read permission.";
        return $"access to {repo} was refused (HTTP {status}{(code is null ? "" : ", " + code)}): {what}. " +
               $"Request access on the repository page {page} (log in, read and accept the conditions), then give Smelt a token with read access: " +
               $"set HF_TOKEN, or put the token in the token file {_settings.TokenPath} ($HF_HOME/token). {tokenState}";
    }

    private string NotFoundMessage(RepoId repo, string revision, string? file, string? code) => code switch
    {
        "RevisionNotFound" => $"revision '{revision}' of {repo} not found (HTTP 404): check the branch, tag or commit given with --revision",
        "EntryNotFound" => $"file '{file}' not found in {repo} at revision '{revision}' (HTTP 404)",
        _ when file is not null => $"file '{file}' not found in {repo} at revision '{revision}' (HTTP 404)",
        _ => $"repository {repo} or its revision '{revision}' not found on {_settings.Endpoint} (HTTP 404): check the id (namespace/name), --repo-type ({repo.TypeName}) and --revision",
    };

    private static async Task<string?> ReadSnippetAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            var buffer = new byte[2048];
            await using var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            var n = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
            var text = System.Text.Encoding.UTF8.GetString(buffer, 0, n).Trim();
            if (text.StartsWith('{'))
            {
                try
                {
                    using var doc = System.Text.Json.JsonDocument.Parse(text);
                    if (doc.RootElement.TryGetProperty("error", out var err) && err.ValueKind == System.Text.Json.JsonValueKind.String)
                        text = err.GetString() ?? text;
                }
                catch (System.Text.Json.JsonException) { }
            }
            return RepoId.Printable(text.Length > 300 ? text[..300] + "..." : text);
        }
        catch (Exception e) when (e is IOException or HttpRequestException or OperationCanceledException)
        {
            return null;
        }
    }

    public void Dispose() => _client.Dispose();
}
