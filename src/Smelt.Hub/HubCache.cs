using System.Text.Json;
using System.Text.RegularExpressions;
using Smelt.Core;

namespace Smelt.Hub;

/// <summary>
/// The cache layout of huggingface_hub, so Python tools and Smelt share downloads:
/// <code>
/// {cache}/models--org--name/blobs/{etag}                 file contents, named by ETag (SHA-256 for LFS files, git blob id otherwise)
/// {cache}/models--org--name/blobs/{etag}.incomplete      a download in progress (resumed with a Range request)
/// {cache}/models--org--name/snapshots/{commit}/{path}    relative symlink to ../../blobs/{etag} (one more ../ per sub-folder)
/// {cache}/models--org--name/refs/{revision}              the commit a branch or tag pointed to, no trailing newline
/// {cache}/models--org--name/.no_exist/{commit}/{path}    empty marker: the hub said this file does not exist
/// {cache}/.locks/models--org--name/{etag}.lock           lock held while a blob is being written
/// </code>
/// </summary>
public sealed partial class HubCache
{
    public string Root { get; }
    public RepoId Repo { get; }
    public string RepoDir { get; }
    private readonly string _manifestDir;

    public HubCache(HubSettings settings, RepoId repo)
    {
        Root = settings.CacheDir;
        Repo = repo;
        RepoDir = Path.Combine(Root, repo.CacheFolderName);
        _manifestDir = Path.Combine(settings.ManifestDir, repo.CacheFolderName);
    }

    public string BlobsDir => Path.Combine(RepoDir, "blobs");

    public string SnapshotDir(string commit) => Path.Combine(RepoDir, "snapshots", RequireCommit(commit));

    /// <summary>The snapshot entry of <paramref name="relativePath"/>; throws if the server-given path is unsafe.</summary>
    public string PointerPath(string commit, string relativePath) => SafePath.Combine(SnapshotDir(commit), relativePath);

    public string BlobPath(string etag) => Path.Combine(BlobsDir, RequireEtag(etag));

    public string LockPath(string etag) => Path.Combine(Root, ".locks", Repo.CacheFolderName, RequireEtag(etag) + ".lock");

    public string NoExistPath(string commit, string relativePath) =>
        SafePath.Combine(Path.Combine(RepoDir, ".no_exist", RequireCommit(commit)), relativePath);

    public string RefPath(string revision) => SafePath.Combine(Path.Combine(RepoDir, "refs"), revision);

    public static bool IsCommitHash(string? revision) => revision is not null && CommitPattern().IsMatch(revision);

    /// <summary>The commit a revision resolves to using only the cache: a commit hash is itself, a branch or tag is read from <c>refs/</c>.</summary>
    public string? TryResolveCommit(string revision)
    {
        if (IsCommitHash(revision)) return revision;
        var refPath = RefPath(revision);
        if (!File.Exists(refPath)) return null;
        var commit = File.ReadAllText(refPath).Trim();
        return IsCommitHash(commit) ? commit : null;
    }

    public void WriteRef(string revision, string commit)
    {
        if (revision == commit) return;
        var path = RefPath(revision);
        if (File.Exists(path) && File.ReadAllText(path).Trim() == commit) return;
        AtomicFile.WriteAllText(path, commit);
    }

    /// <summary>True when the snapshot entry exists and its link resolves to a blob (a dangling link does not count).</summary>
    public static bool IsPresent(string pointerPath) => File.Exists(pointerPath);

    /// <summary>Links the snapshot entry to the blob with a relative symlink (like huggingface_hub), replacing any stale entry atomically.</summary>
    public void Link(string commit, string relativePath, string etag)
    {
        var pointer = PointerPath(commit, relativePath);
        var dir = Path.GetDirectoryName(pointer)!;
        Directory.CreateDirectory(dir);
        var target = Path.GetRelativePath(dir, BlobPath(etag));
        var existing = new FileInfo(pointer);
        if (existing.LinkTarget == target) return;
        var tmp = Path.Combine(dir, $".{Path.GetFileName(pointer)}.{Guid.NewGuid():N}.link");
        File.CreateSymbolicLink(tmp, target);
        File.Move(tmp, pointer, overwrite: true);
    }

    public void MarkMissing(string commit, string relativePath)
    {
        var path = NoExistPath(commit, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (File.Create(path)) { }
    }

    public bool IsMarkedMissing(string commit, string relativePath) => File.Exists(NoExistPath(commit, relativePath));

    // ---- manifests: the complete file list of a revision, so offline mode can tell a complete snapshot from a partial one ----

    private string ManifestPath(string commit) => Path.Combine(_manifestDir, RequireCommit(commit) + ".json");

    public void WriteManifest(string commit, IReadOnlyList<RepoFile> files)
    {
        var json = JsonSerializer.Serialize(new Manifest(Repo.Id, Repo.TypeName, commit, files.ToList()), JsonOptions);
        AtomicFile.WriteAllText(ManifestPath(commit), json);
    }

    public IReadOnlyList<RepoFile>? ReadManifest(string commit)
    {
        var path = ManifestPath(commit);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<Manifest>(File.ReadAllText(path), JsonOptions)?.Files;
        }
        catch (JsonException ex)
        {
            throw SmeltException.BadInput($"{path}: corrupt Smelt hub manifest ({ex.Message}); delete it and download again without HF_HUB_OFFLINE");
        }
    }

    private sealed record Manifest(string Repo, string Type, string Commit, List<RepoFile> Files);

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private static string RequireCommit(string commit) =>
        IsCommitHash(commit) ? commit : throw SmeltException.BadInput($"'{RepoId.Printable(commit)}' is not a commit hash (40 hex digits)");

    /// <summary>ETags become file names: only a single safe component is accepted.</summary>
    internal static string RequireEtag(string etag) =>
        EtagPattern().IsMatch(etag) ? etag : throw SmeltException.Infrastructure($"the hub sent an unusable ETag '{RepoId.Printable(etag)}' (expected a hash)");

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")]
    private static partial Regex EtagPattern();
}

/// <summary>One file of a repository revision as listed by the hub. <see cref="Sha256"/> is set for LFS files.</summary>
public sealed record RepoFile(string Path, long? Size, string? Sha256);
