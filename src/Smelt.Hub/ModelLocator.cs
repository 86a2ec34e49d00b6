namespace Smelt.Hub;

/// <summary>
/// The one call <c>train</c>, <c>generate</c> and <c>eval</c> make with a user-given model or dataset name: a local path is returned as is
/// (nothing is contacted), a hub id is downloaded into (or found in) the shared cache and its snapshot folder is returned.
/// </summary>
public static class ModelLocator
{
    public static async Task<string> ResolveAsync(string nameOrPath, RepoType repoType = RepoType.Model, string? revision = null,
        IReadOnlyList<string>? include = null, IReadOnlyList<string>? exclude = null, IDownloadProgress? progress = null,
        HubSettings? settings = null, HubClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        var source = ModelSource.Resolve(nameOrPath);
        if (source.IsLocal) return source.LocalPath!;
        using var client = new HubClient(settings ?? HubSettings.FromEnvironment(), options);
        return await client.DownloadSnapshotAsync(source.HubId!, repoType, revision, include, exclude, progress, cancellationToken).ConfigureAwait(false);
    }
}
