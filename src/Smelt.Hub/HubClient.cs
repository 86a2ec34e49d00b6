using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Smelt.Core;

namespace Smelt.Hub;

/// <summary>
/// Downloads repository snapshots from the Hugging Face Hub into the cache shared with huggingface_hub, and uploads folders when asked.
/// Thread-safe; one instance can serve several downloads.
/// </summary>
public sealed partial class HubClient : IDisposable
{
    private readonly HubSettings _settings;
    private readonly HubClientOptions _options;
    private readonly HubHttp _http;

    public HubClient(HubSettings settings, HubClientOptions? options = null)
    {
        _settings = settings;
        _options = options ?? new HubClientOptions();
        _http = new HubHttp(settings, _options);
        Redactor.Register(settings.Token);
    }

    public HubSettings Settings => _settings;

    /// <summary>Downloads (or finds in the cache) the files of a revision and returns the local snapshot folder.</summary>
    public async Task<string> DownloadSnapshotAsync(string repoId, RepoType repoType = RepoType.Model, string? revision = null,
        IReadOnlyList<string>? include = null, IReadOnlyList<string>? exclude = null, IDownloadProgress? progress = null,
        CancellationToken cancellationToken = default) =>
        (await DownloadAsync(repoId, repoType, revision, include, exclude, progress, cancellationToken).ConfigureAwait(false)).SnapshotPath;

    public async Task<SnapshotResult> DownloadAsync(string repoId, RepoType repoType = RepoType.Model, string? revision = null,
        IReadOnlyList<string>? include = null, IReadOnlyList<string>? exclude = null, IDownloadProgress? progress = null,
        CancellationToken cancellationToken = default)
    {
        try
        {
            return await DownloadCoreAsync(repoId, repoType, revision, include, exclude, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (HubHttp.IsTransient(e, cancellationToken))
        {
            throw GaveUp(e);
        }
    }

    /// <summary>A transient failure that outlived every retry becomes an infrastructure error for the user.</summary>
    private SmeltException GaveUp(Exception e) => SmeltException.Infrastructure(
        $"the hub at {_settings.Endpoint} kept failing after {_options.MaxRetries} retries: {Redactor.Redact(HubHttp.Describe(e))}. " +
        "Files already downloaded stay in the cache and partial files resume on the next run.", e);

    private async Task<SnapshotResult> DownloadCoreAsync(string repoId, RepoType repoType, string? revision,
        IReadOnlyList<string>? include, IReadOnlyList<string>? exclude, IDownloadProgress? progress, CancellationToken cancellationToken)
    {
        var repo = RepoId.Parse(repoId, repoType);
        revision = string.IsNullOrWhiteSpace(revision) ? "main" : revision.Trim();
        var cache = new HubCache(_settings, repo);
        cache.RefPath(revision); // validates the revision as a path component before anything touches the disk
        var filter = new GlobFilter(include, exclude);

        if (_settings.Offline) return Offline(cache, revision, filter);

        // A commit hash whose snapshot is complete in the cache needs no request at all.
        if (HubCache.IsCommitHash(revision) && cache.ReadManifest(revision) is { } known)
        {
            var (wanted, notes) = Select(repo, revision, known, filter);
            if (wanted.All(f => HubCache.IsPresent(cache.PointerPath(revision, f.Path))))
                return Finish(cache, revision, wanted, 0, notes);
        }

        var (commit, all) = await GetRevisionAsync(repo, revision, cancellationToken).ConfigureAwait(false);
        foreach (var f in all) ValidateServerPath(cache, repo, commit, f.Path);
        cache.WriteManifest(commit, all);
        cache.WriteRef(revision, commit);

        var (files, policyNotes) = Select(repo, revision, all, filter);
        foreach (var note in policyNotes) _options.Log?.Invoke(note);
        if (files.Count == 0)
            _options.Log?.Invoke($"no file of {repo} at revision '{revision}' matches the --include/--exclude patterns");

        var downloaded = 0;
        await Parallel.ForEachAsync(files,
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, _options.MaxParallelDownloads), CancellationToken = cancellationToken },
            async (file, ct) =>
            {
                if (await FetchFileAsync(cache, commit, revision, file, progress, ct).ConfigureAwait(false))
                    Interlocked.Increment(ref downloaded);
            }).ConfigureAwait(false);
        return Finish(cache, commit, files, downloaded, policyNotes);
    }

    private SnapshotResult Finish(HubCache cache, string commit, List<RepoFile> files, int downloaded, List<string> notes)
    {
        var dir = cache.SnapshotDir(commit);
        Directory.CreateDirectory(dir);
        return new SnapshotResult(dir, commit, files.Select(f => f.Path).ToList(), downloaded, files.Count - downloaded, notes);
    }

    private (List<RepoFile> Files, List<string> Notes) Select(RepoId repo, string revision, IReadOnlyList<RepoFile> all, GlobFilter filter)
    {
        var selected = all.Where(f => filter.Matches(f.Path)).ToList();
        return ModelFilePolicy.Apply(repo, revision, all, selected, _options.AllowCode);
    }

    private static void ValidateServerPath(HubCache cache, RepoId repo, string commit, string path)
    {
        try
        {
            cache.PointerPath(commit, path);
        }
        catch (SmeltException e)
        {
            throw SmeltException.Infrastructure(
                $"the file list of {repo} at commit {commit} contains an unsafe name ({e.Message}); nothing was downloaded. " +
                "A genuine hub never sends such names: check HF_ENDPOINT.");
        }
    }

    // ---------------- offline ----------------

    private SnapshotResult Offline(HubCache cache, string revision, GlobFilter filter)
    {
        var repo = cache.Repo;
        var commit = cache.TryResolveCommit(revision) ?? throw new SmeltException(
            $"offline mode (HF_HUB_OFFLINE=1): revision '{revision}' of {repo} is not in the cache {cache.RepoDir} " +
            $"(no refs/{revision} and it is not a commit hash). Run once without HF_HUB_OFFLINE=1 to download it.", ExitCodes.Failure);
        var snapshot = cache.SnapshotDir(commit);
        var manifest = cache.ReadManifest(commit);
        if (manifest is null)
        {
            // Written by another tool (e.g. Python): the full file list is unknown, so use what is there.
            var present = Directory.Exists(snapshot)
                ? Directory.EnumerateFiles(snapshot, "*", SearchOption.AllDirectories)
                    .Where(File.Exists)
                    .Select(p => new RepoFile(Path.GetRelativePath(snapshot, p).Replace('\\', '/'), null, null)).ToList()
                : [];
            var (files, notes) = Select(repo, revision, present, filter);
            if (files.Count == 0)
                throw new SmeltException(
                    $"offline mode (HF_HUB_OFFLINE=1): the cache has no file of {repo} at revision '{revision}' (commit {commit}) matching the request " +
                    $"in {snapshot}. Run without HF_HUB_OFFLINE=1 to download it.", ExitCodes.Failure);
            var note = $"offline: the snapshot {commit} was not downloaded by Smelt, so its completeness cannot be checked; using the {files.Count} file(s) present";
            _options.Log?.Invoke(note);
            notes.Add(note);
            return Finish(cache, commit, files, 0, notes);
        }
        var (wanted, policyNotes) = Select(repo, revision, manifest, filter);
        var missing = wanted.Where(f => !HubCache.IsPresent(cache.PointerPath(commit, f.Path))).ToList();
        if (missing.Count > 0)
        {
            var names = string.Join(", ", missing.Take(10).Select(f => f.Path)) + (missing.Count > 10 ? $", and {missing.Count - 10} more" : "");
            throw new SmeltException(
                $"offline mode (HF_HUB_OFFLINE=1): the cached snapshot of {repo} at revision '{revision}' (commit {commit}) is incomplete: " +
                $"{missing.Count} of {wanted.Count} file(s) missing: {names}. Run without HF_HUB_OFFLINE=1 to finish the download.", ExitCodes.Failure);
        }
        return Finish(cache, commit, wanted, 0, policyNotes);
    }

    // ---------------- repository info ----------------

    /// <summary>Endpoint + path by string concatenation, like huggingface_hub, so an HF_ENDPOINT with a path prefix (a mirror) keeps it.</summary>
    private Uri ApiUrl(string relative) => new(_settings.Endpoint.ToString().TrimEnd('/') + relative);

    private Uri ResolveUrl(RepoId repo, string revision, string path) =>
        ApiUrl($"/{repo.UrlPrefix}/resolve/{Uri.EscapeDataString(revision)}/{string.Join('/', path.Split('/').Select(Uri.EscapeDataString))}");

    /// <summary>The commit a revision points to and its complete file list (<c>GET /api/{models|datasets}/{repo}/revision/{revision}</c>).</summary>
    public async Task<(string Commit, List<RepoFile> Files)> GetRevisionAsync(RepoId repo, string revision, CancellationToken ct)
    {
        if (_settings.Offline)
            throw new SmeltException($"offline mode (HF_HUB_OFFLINE=1): cannot ask the hub about {repo}", ExitCodes.Failure);
        var url = ApiUrl($"/api/{repo.TypePlural}/{repo.Id}/revision/{Uri.EscapeDataString(revision)}?blobs=true");
        return await _http.Retry.ExecuteAsync(async t =>
        {
            using var response = await _http.SendAsync(HttpMethod.Get, url, null, RedirectMode.SameOriginOnly, t).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) throw await _http.ErrorAsync(response, repo, revision, null, t).ConfigureAwait(false);
            var body = await response.Content.ReadAsByteArrayAsync(t).ConfigureAwait(false);
            return ParseRevision(repo, revision, body);
        }, ct).ConfigureAwait(false);
    }

    private static (string, List<RepoFile>) ParseRevision(RepoId repo, string revision, byte[] body)
    {
        string Bad(string why) => $"the hub's answer for {repo} at revision '{revision}' is unusable: {why}";
        try
        {
            using var doc = JsonDocument.Parse(body);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw SmeltException.Infrastructure(Bad("not a JSON object"));
            var sha = root.TryGetProperty("sha", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
            if (!HubCache.IsCommitHash(sha)) throw SmeltException.Infrastructure(Bad($"'sha' is not a commit hash ('{RepoId.Printable(sha)}')"));
            var files = new List<RepoFile>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            if (root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in siblings.EnumerateArray())
                {
                    var name = item.TryGetProperty("rfilename", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString() : null;
                    if (string.IsNullOrEmpty(name)) throw SmeltException.Infrastructure(Bad("a sibling has no 'rfilename'"));
                    if (!seen.Add(name)) continue;
                    long? size = item.TryGetProperty("size", out var sz) && sz.TryGetInt64(out var v) ? v : null;
                    string? sha256 = null;
                    if (item.TryGetProperty("lfs", out var lfs) && lfs.ValueKind == JsonValueKind.Object)
                    {
                        sha256 = (lfs.TryGetProperty("sha256", out var h) || lfs.TryGetProperty("oid", out h)) && h.ValueKind == JsonValueKind.String
                            ? h.GetString()?.ToLowerInvariant() : null;
                        if (sha256 is not null && (sha256.Length != 64 || !sha256.All(char.IsAsciiHexDigitLower)))
                            throw SmeltException.Infrastructure(Bad($"'{RepoId.Printable(name)}' has an invalid LFS sha256"));
                        if (lfs.TryGetProperty("size", out var ls) && ls.TryGetInt64(out var lv)) size = lv;
                    }
                    files.Add(new RepoFile(name, size, sha256));
                }
            }
            return (sha!, files);
        }
        catch (JsonException e)
        {
            throw SmeltException.Infrastructure(Bad($"not JSON ({e.Message})"));
        }
    }

    // ---------------- one file ----------------

    private sealed record FileMetadata(string Etag, long? Size, string? Commit, bool Linked);

    /// <returns>true when bytes were downloaded, false when the file came from the cache.</returns>
    private async Task<bool> FetchFileAsync(HubCache cache, string commit, string revision, RepoFile file, IDownloadProgress? progress, CancellationToken ct)
    {
        var pointer = cache.PointerPath(commit, file.Path);
        if (HubCache.IsPresent(pointer))
        {
            progress?.Begin(file.Path, file.Size).Finish(FileOutcome.Cached);
            return false;
        }
        var handle = progress?.Begin(file.Path, file.Size);
        try
        {
            var url = ResolveUrl(cache.Repo, commit, file.Path);
            var meta = await _http.Retry.ExecuteAsync(async t => await HeadAsync(cache, commit, revision, file.Path, url, t).ConfigureAwait(false), ct).ConfigureAwait(false);
            var size = meta.Size ?? file.Size;
            var expectedSha = file.Sha256 ?? (meta.Linked && meta.Etag.Length == 64 && meta.Etag.All(char.IsAsciiHexDigitLower) ? meta.Etag : null);
            var blob = cache.BlobPath(meta.Etag);
            var outcome = FileOutcome.Linked;
            if (!File.Exists(blob))
            {
                await using var fileLock = await AcquireLockAsync(cache.LockPath(meta.Etag), ct).ConfigureAwait(false);
                if (!File.Exists(blob))
                {
                    await DownloadBlobAsync(cache, revision, file.Path, url, blob, size, expectedSha, handle, ct).ConfigureAwait(false);
                    outcome = FileOutcome.Downloaded;
                }
            }
            cache.Link(commit, file.Path, meta.Etag);
            handle?.Finish(outcome);
            return outcome == FileOutcome.Downloaded;
        }
        catch
        {
            handle?.Finish(FileOutcome.Failed);
            throw;
        }
    }

    private async Task<FileMetadata> HeadAsync(HubCache cache, string commit, string revision, string path, Uri url, CancellationToken ct)
    {
        using var response = await _http.SendAsync(HttpMethod.Head, url,
            r => r.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity")), RedirectMode.SameOriginOnly, ct).ConfigureAwait(false);
        var redirected = HubHttp.IsRedirect(response.StatusCode);
        if (!redirected && !response.IsSuccessStatusCode)
        {
            if (response.StatusCode == HttpStatusCode.NotFound) cache.MarkMissing(commit, path);
            throw await _http.ErrorAsync(response, cache.Repo, revision, path, ct).ConfigureAwait(false);
        }
        var linkedEtag = HubHttp.Header(response, "X-Linked-Etag");
        var rawEtag = linkedEtag ?? HubHttp.Header(response, "ETag");
        if (string.IsNullOrWhiteSpace(rawEtag))
            throw SmeltException.Infrastructure($"the hub sent no ETag for '{path}' in {cache.Repo}: cannot place it in the cache (is HF_ENDPOINT a hub?)");
        var etag = HubCache.RequireEtag(NormalizeEtag(rawEtag));
        long? size = long.TryParse(HubHttp.Header(response, "X-Linked-Size"), out var linkedSize) ? linkedSize
            : redirected ? null : response.Content.Headers.ContentLength;
        return new FileMetadata(etag, size, HubHttp.Header(response, "X-Repo-Commit"), linkedEtag is not null);
    }

    private static string NormalizeEtag(string etag)
    {
        etag = etag.Trim();
        if (etag.StartsWith("W/", StringComparison.Ordinal)) etag = etag[2..];
        return etag.Trim('"');
    }

    private async Task DownloadBlobAsync(HubCache cache, string revision, string path, Uri url, string blob, long? size, string? expectedSha,
        IFileProgress? handle, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(blob)!);
        var incomplete = blob + ".incomplete";
        // The SHA-256 is computed while the bytes arrive (a resumed file first hashes the part already on disk), so a fresh download
        // is read from the network once and never read back.
        var actual = await _http.Retry.ExecuteAsync(async t =>
        {
            var have = File.Exists(incomplete) ? new FileInfo(incomplete).Length : 0;
            if (size is { } s && have > s)
            {
                File.Delete(incomplete);
                have = 0;
            }
            if (size is { } whole && have == whole && have > 0) return expectedSha is null ? null : await HashFileAsync(incomplete, t).ConfigureAwait(false);
            handle?.Report(have);
            using var response = await _http.SendAsync(HttpMethod.Get, url, r =>
            {
                r.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
                if (have > 0) r.Headers.Range = new RangeHeaderValue(have, null);
            }, RedirectMode.FollowAll, t).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                File.Delete(incomplete);
                throw new TransientHubException($"the server refused to resume '{path}' at byte {have}; starting it again");
            }
            if (!response.IsSuccessStatusCode) throw await _http.ErrorAsync(response, cache.Repo, revision, path, t).ConfigureAwait(false);
            var append = response.StatusCode == HttpStatusCode.PartialContent;
            if (append && response.Content.Headers.ContentRange?.From != have)
            {
                File.Delete(incomplete);
                throw new TransientHubException($"the server resumed '{path}' at the wrong offset; starting it again");
            }
            if (!append) have = 0;
            using var hash = expectedSha is null ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            if (hash is not null && have > 0) await HashPrefixAsync(incomplete, have, hash, t).ConfigureAwait(false);
            await using var body = await response.Content.ReadAsStreamAsync(t).ConfigureAwait(false);
            await using (var output = new FileStream(incomplete, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                await CopyAsync(body, output, have, hash, handle, t).ConfigureAwait(false);
                output.Flush(flushToDisk: true);
            }
            var length = new FileInfo(incomplete).Length;
            if (size is { } expected && length < expected)
                throw new TransientHubException($"the connection closed after {length} of {expected} bytes of '{path}'");
            if (size is { } limit && length > limit)
            {
                File.Delete(incomplete);
                throw new TransientHubException($"the server sent {length} bytes for '{path}', more than the {limit} announced");
            }
            return hash is null ? null : Convert.ToHexStringLower(hash.GetHashAndReset());
        }, ct).ConfigureAwait(false);

        if (expectedSha is not null && actual != expectedSha)
        {
            File.Delete(incomplete);
            throw SmeltException.Infrastructure(
                $"SHA-256 mismatch for '{path}' of {cache.Repo}: expected {expectedSha}, got {actual}. The download was corrupted " +
                "(or the server is not serving what it lists); the bad copy was deleted, nothing was added to the cache. Run the command again.");
        }
        if (File.Exists(blob)) File.Delete(incomplete);
        else File.Move(incomplete, blob);
    }

    private static async Task<string> HashFileAsync(string path, CancellationToken ct)
    {
        await using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(input, ct).ConfigureAwait(false));
    }

    private static async Task HashPrefixAsync(string path, long length, IncrementalHash hash, CancellationToken ct)
    {
        await using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        var buffer = new byte[1 << 20];
        var left = length;
        while (left > 0)
        {
            var n = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), ct).ConfigureAwait(false);
            if (n == 0) throw new IOException($"{path} shrank while being resumed");
            hash.AppendData(buffer, 0, n);
            left -= n;
        }
    }

    private async Task CopyAsync(Stream body, FileStream output, long start, IncrementalHash? hash, IFileProgress? handle, CancellationToken ct)
    {
        var buffer = new byte[1 << 17];
        var done = start;
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(ct);
        while (true)
        {
            idle.CancelAfter(_options.IdleReadTimeout);
            int n;
            try
            {
                n = await body.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new TimeoutException($"no data received for {_options.IdleReadTimeout.TotalSeconds:0} s");
            }
            if (n == 0) return;
            await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            hash?.AppendData(buffer, 0, n);
            done += n;
            handle?.Report(done);
        }
    }

    /// <summary>
    /// The same lock file huggingface_hub uses ({cache}/.locks/{repo}/{etag}.lock). On Linux .NET takes an advisory flock for FileShare.None,
    /// which is what Python's filelock takes too, so a Python download of the same blob and ours never interleave.
    /// </summary>
    private static async Task<FileStream> AcquireLockAsync(string path, CancellationToken ct)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(30);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, ct).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw SmeltException.Infrastructure($"could not take the cache lock {path} within 30 minutes (another download holds it?): {e.Message}");
            }
        }
    }

    public void Dispose() => _http.Dispose();
}
