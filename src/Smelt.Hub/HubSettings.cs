using Smelt.Core;

namespace Smelt.Hub;

/// <summary>
/// Where the hub is and where its cache lives, read from the same environment variables as huggingface_hub:
/// <c>HF_ENDPOINT</c>, <c>HF_HOME</c>, <c>HF_HUB_CACHE</c> (legacy <c>HUGGINGFACE_HUB_CACHE</c>), <c>HF_TOKEN</c> (legacy
/// <c>HUGGING_FACE_HUB_TOKEN</c>), <c>HF_TOKEN_PATH</c>, <c>HF_HUB_OFFLINE</c>.
/// </summary>
public sealed record HubSettings
{
    public const string DefaultEndpoint = "https://huggingface.co";

    public required Uri Endpoint { get; init; }
    public required string HfHome { get; init; }
    public required string CacheDir { get; init; }
    /// <summary>Where Smelt keeps the file list of each downloaded revision (outside the shared cache, so that stays identical to the Python layout).</summary>
    public required string ManifestDir { get; init; }
    public string? Token { get; init; }
    /// <summary>Where the token came from, for messages (never the token itself): e.g. "HF_TOKEN" or a file path.</summary>
    public string? TokenSource { get; init; }
    /// <summary>The token file that is consulted when <c>HF_TOKEN</c> is not set.</summary>
    public required string TokenPath { get; init; }
    public bool Offline { get; init; }

    public static HubSettings FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable);

    /// <summary>Reads settings through <paramref name="env"/> (tests pass a dictionary). The token, if any, is registered with <see cref="Redactor"/>.</summary>
    public static HubSettings FromEnvironment(Func<string, string?> env)
    {
        string? Get(string name) => env(name) is { Length: > 0 } v && !string.IsNullOrWhiteSpace(v) ? v.Trim() : null;

        var home = Get("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var xdgCache = Get("XDG_CACHE_HOME") ?? Path.Combine(home, ".cache");
        var hfHome = ExpandHome(Get("HF_HOME"), home) ?? Path.Combine(xdgCache, "huggingface");
        var cache = ExpandHome(Get("HF_HUB_CACHE") ?? Get("HUGGINGFACE_HUB_CACHE"), home) ?? Path.Combine(hfHome, "hub");
        var tokenPath = ExpandHome(Get("HF_TOKEN_PATH"), home) ?? Path.Combine(hfHome, "token");
        var smeltCache = ExpandHome(Get("SMELT_CACHE"), home) ?? Path.Combine(xdgCache, "smelt");

        var endpointText = (Get("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/');
        if (!Uri.TryCreate(endpointText, UriKind.Absolute, out var endpoint) || (endpoint.Scheme != "https" && endpoint.Scheme != "http"))
            throw SmeltException.BadInput($"HF_ENDPOINT '{RepoId.Printable(endpointText)}' is not an http(s) URL (e.g. https://huggingface.co)");

        string? token = Get("HF_TOKEN") ?? Get("HUGGING_FACE_HUB_TOKEN");
        string? source = token is null ? null : env("HF_TOKEN") is { Length: > 0 } ? "HF_TOKEN" : "HUGGING_FACE_HUB_TOKEN";
        if (token is null && File.Exists(tokenPath))
        {
            var fromFile = File.ReadAllText(tokenPath).Trim();
            if (fromFile.Length > 0)
            {
                token = fromFile;
                source = tokenPath;
            }
        }
        Redactor.Register(token);

        return new HubSettings
        {
            Endpoint = endpoint,
            HfHome = Path.GetFullPath(hfHome),
            CacheDir = Path.GetFullPath(cache),
            ManifestDir = Path.GetFullPath(Path.Combine(smeltCache, "hub-manifests")),
            Token = token,
            TokenSource = source,
            TokenPath = Path.GetFullPath(tokenPath),
            Offline = IsTrue(Get("HF_HUB_OFFLINE")),
        };
    }

    private static bool IsTrue(string? value) => value?.ToUpperInvariant() is "1" or "ON" or "YES" or "TRUE";

    private static string? ExpandHome(string? path, string home) =>
        path is null ? null : path == "~" ? home : path.StartsWith("~/", StringComparison.Ordinal) ? Path.Combine(home, path[2..]) : path;
}
