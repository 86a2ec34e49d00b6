using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Smelt.Core;

namespace Smelt.Hub;

public sealed partial class HubClient
{
    private const string LfsMediaType = "application/vnd.git-lfs+json";

    private sealed record LocalFile(string FullPath, string RepoPath, long Size, string Sha256, byte[] Sample);

    /// <summary>
    /// Uploads every file under <paramref name="folder"/> as one commit, the way huggingface_hub does it: <c>preupload</c> asks which files go
    /// through LFS, those are sent with the LFS batch API (basic transfer), then <c>commit/{revision}</c> receives NDJSON lines (base64
    /// content for regular files, sha256 pointers for LFS files). Needs a token; runs only when called. Refuses to upload a file that
    /// contains the token. <c>.git/</c> and <c>.cache/</c> folders and symbolic links are left out.
    /// </summary>
    public async Task<UploadResult> UploadFolderAsync(string folder, string repoId, RepoType repoType = RepoType.Model, string? revision = null,
        string? commitMessage = null, CancellationToken cancellationToken = default)
    {
        try
        {
            return await UploadCoreAsync(folder, repoId, repoType, revision, commitMessage, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (HubHttp.IsTransient(e, cancellationToken))
        {
            throw GaveUp(e);
        }
    }

    private async Task<UploadResult> UploadCoreAsync(string folder, string repoId, RepoType repoType, string? revision,
        string? commitMessage, CancellationToken cancellationToken)
    {
        var repo = RepoId.Parse(repoId, repoType);
        revision = string.IsNullOrWhiteSpace(revision) ? "main" : revision.Trim();
        if (_settings.Offline)
            throw SmeltException.BadInput("offline mode (HF_HUB_OFFLINE=1) is on: uploading needs the network; unset HF_HUB_OFFLINE to upload");
        if (_settings.Token is null)
            throw SmeltException.BadInput(
                $"uploading to {repo} needs a token with write access: set HF_TOKEN or put the token in {_settings.TokenPath} ($HF_HOME/token). " +
                "Create one at https://huggingface.co/settings/tokens");
        var root = Path.GetFullPath(folder);
        if (!Directory.Exists(root)) throw SmeltException.BadInput($"{root}: folder to upload does not exist");

        var files = new List<LocalFile>();
        foreach (var (full, relative) in EnumerateUploadFiles(root))
            files.Add(await DescribeAsync(full, relative, cancellationToken).ConfigureAwait(false));
        if (files.Count == 0) throw SmeltException.BadInput($"{root}: nothing to upload (the folder has no regular files)");

        var modes = await PreuploadAsync(repo, revision, files, cancellationToken).ConfigureAwait(false);
        var lfs = files.Where(f => modes.TryGetValue(f.RepoPath, out var m) && m == "lfs").ToList();
        var regular = files.Except(lfs).ToList();
        if (lfs.Count > 0) await UploadLfsAsync(repo, revision, lfs, cancellationToken).ConfigureAwait(false);
        return await CommitAsync(repo, revision, commitMessage ?? $"Upload {files.Count} file(s) with smelt", regular, lfs, cancellationToken).ConfigureAwait(false);
    }

    private static IEnumerable<(string Full, string Relative)> EnumerateUploadFiles(string root)
    {
        var pending = new Stack<string>();
        pending.Push(root);
        while (pending.Count > 0)
        {
            var dir = pending.Pop();
            foreach (var entry in Directory.EnumerateFileSystemEntries(dir).Order(StringComparer.Ordinal))
            {
                var info = new FileInfo(entry);
                if (info.LinkTarget is not null) continue; // symlinks could point anywhere on this machine
                var relative = Path.GetRelativePath(root, entry).Replace('\\', '/');
                if (Directory.Exists(entry))
                {
                    if (info.Name is ".git" or ".cache") continue;
                    pending.Push(entry);
                }
                else
                {
                    SafePath.Combine(root, relative);
                    yield return (entry, relative);
                }
            }
        }
    }

    private async Task<LocalFile> DescribeAsync(string full, string relative, CancellationToken ct)
    {
        var token = Encoding.UTF8.GetBytes(_settings.Token!);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var sample = new MemoryStream();
        var buffer = new byte[1 << 20];
        var carry = Array.Empty<byte>();
        long size = 0;
        await using var input = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        int n;
        while ((n = await input.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
        {
            sha.AppendData(buffer, 0, n);
            if (sample.Length < 512) sample.Write(buffer, 0, (int)Math.Min(n, 512 - sample.Length));
            var window = carry.Concat(buffer.Take(n)).ToArray();
            if (window.AsSpan().IndexOf(token) >= 0)
                throw SmeltException.BadInput(
                    $"{full} contains your hub token; refusing to upload anything. Remove the token from the file (tokens belong in HF_TOKEN or $HF_HOME/token) and run again.");
            carry = window.Length >= token.Length ? window[^(token.Length - 1)..] : window;
            size += n;
        }
        return new LocalFile(full, relative, size, Convert.ToHexStringLower(sha.GetHashAndReset()), sample.ToArray());
    }

    private async Task<Dictionary<string, string>> PreuploadAsync(RepoId repo, string revision, List<LocalFile> files, CancellationToken ct)
    {
        var url = ApiUrl($"/api/{repo.TypePlural}/{repo.Id}/preupload/{Uri.EscapeDataString(revision)}");
        var payload = new JsonObject
        {
            ["files"] = new JsonArray(files.Select(f => (JsonNode)new JsonObject
            {
                ["path"] = f.RepoPath,
                ["sample"] = Convert.ToBase64String(f.Sample),
                ["size"] = f.Size,
            }).ToArray()),
        };
        var answer = await PostJsonAsync(repo, revision, url, payload.ToJsonString(), "application/json", retry: true, ct).ConfigureAwait(false);
        var modes = new Dictionary<string, string>(StringComparer.Ordinal);
        if (answer["files"] is JsonArray list)
            foreach (var item in list)
                if (item?["path"]?.GetValue<string>() is { } p && item["uploadMode"]?.GetValue<string>() is { } mode)
                    modes[p] = mode;
        foreach (var f in files)
            if (!modes.ContainsKey(f.RepoPath))
                throw SmeltException.Infrastructure($"the hub's preupload answer for {repo} does not say how to upload '{f.RepoPath}'");
        return modes;
    }

    private async Task UploadLfsAsync(RepoId repo, string revision, List<LocalFile> files, CancellationToken ct)
    {
        var url = ApiUrl($"/{repo.UrlPrefix}.git/info/lfs/objects/batch");
        var payload = new JsonObject
        {
            ["operation"] = "upload",
            ["transfers"] = new JsonArray("basic"),
            ["objects"] = new JsonArray(files.Select(f => (JsonNode)new JsonObject { ["oid"] = f.Sha256, ["size"] = f.Size }).ToArray()),
            ["hash_algo"] = "sha256",
            ["ref"] = new JsonObject { ["name"] = revision },
        };
        var answer = await PostJsonAsync(repo, revision, url, payload.ToJsonString(), LfsMediaType, retry: true, ct).ConfigureAwait(false);
        if (answer["objects"] is not JsonArray objects)
            throw SmeltException.Infrastructure($"the hub's LFS batch answer for {repo} has no 'objects'");
        foreach (var f in files)
        {
            var obj = objects.FirstOrDefault(o => o?["oid"]?.GetValue<string>() == f.Sha256)
                      ?? throw SmeltException.Infrastructure($"the hub's LFS batch answer for {repo} omits '{f.RepoPath}'");
            if (obj["error"] is JsonObject error)
                throw SmeltException.BadInput($"the hub refused the LFS upload of '{f.RepoPath}': {Redactor.Redact(error["message"]?.ToString())} (code {error["code"]})");
            if (obj["actions"]?["upload"] is not JsonObject upload) continue; // the hub already has these bytes
            if (upload["header"]?["chunk_size"] is not null)
                throw SmeltException.BadInput($"'{f.RepoPath}' ({f.Size} bytes) needs the hub's multipart LFS transfer, which Smelt does not implement; upload it with huggingface-cli");
            await PutLfsAsync(repo, revision, f, upload, ct).ConfigureAwait(false);
            if (obj["actions"]?["verify"] is JsonObject verify)
            {
                var verifyUrl = new Uri(verify["href"]!.GetValue<string>());
                var body = new JsonObject { ["oid"] = f.Sha256, ["size"] = f.Size }.ToJsonString();
                await PostJsonAsync(repo, revision, verifyUrl, body, LfsMediaType, retry: true, ct, ActionHeaders(verify)).ConfigureAwait(false);
            }
        }
    }

    private static List<KeyValuePair<string, string>> ActionHeaders(JsonObject action) =>
        action["header"] is JsonObject headers
            ? headers.Where(h => h.Value is JsonValue).Select(h => KeyValuePair.Create(h.Key, h.Value!.ToString())).ToList()
            : [];

    private async Task PutLfsAsync(RepoId repo, string revision, LocalFile file, JsonObject upload, CancellationToken ct)
    {
        var href = upload["href"]?.GetValue<string>() ?? throw SmeltException.Infrastructure($"the hub's LFS upload action for '{file.RepoPath}' has no href");
        var url = new Uri(href);
        var headers = ActionHeaders(upload);
        await _http.Retry.ExecuteAsync(async t =>
        {
            using var response = await _http.SendAsync(HttpMethod.Put, url, r =>
            {
                r.Content = new StreamContent(new FileStream(file.FullPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16));
                r.Content.Headers.ContentLength = file.Size;
                foreach (var (k, v) in headers)
                    if (!r.Headers.TryAddWithoutValidation(k, v)) r.Content.Headers.TryAddWithoutValidation(k, v);
            }, RedirectMode.SameOriginOnly, t).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) throw await _http.ErrorAsync(response, repo, revision, file.RepoPath, t).ConfigureAwait(false);
        }, ct).ConfigureAwait(false);
    }

    private async Task<UploadResult> CommitAsync(RepoId repo, string revision, string message, List<LocalFile> regular, List<LocalFile> lfs, CancellationToken ct)
    {
        var ndjson = new StringBuilder();
        void Line(JsonObject o) => ndjson.Append(o.ToJsonString()).Append('\n');
        Line(new JsonObject { ["key"] = "header", ["value"] = new JsonObject { ["summary"] = message, ["description"] = "" } });
        foreach (var f in regular)
        {
            var bytes = await File.ReadAllBytesAsync(f.FullPath, ct).ConfigureAwait(false);
            Line(new JsonObject { ["key"] = "file", ["value"] = new JsonObject { ["content"] = Convert.ToBase64String(bytes), ["path"] = f.RepoPath, ["encoding"] = "base64" } });
        }
        foreach (var f in lfs)
            Line(new JsonObject { ["key"] = "lfsFile", ["value"] = new JsonObject { ["path"] = f.RepoPath, ["algo"] = "sha256", ["oid"] = f.Sha256, ["size"] = f.Size } });
        var url = ApiUrl($"/api/{repo.TypePlural}/{repo.Id}/commit/{Uri.EscapeDataString(revision)}");
        // Not retried: a commit whose answer was lost may already exist, and committing twice is worse than reporting the failure.
        var answer = await PostJsonAsync(repo, revision, url, ndjson.ToString(), "application/x-ndjson", retry: false, ct).ConfigureAwait(false);
        return new UploadResult(answer["commitOid"]?.ToString(), answer["commitUrl"]?.ToString(),
            regular.Select(f => f.RepoPath).ToList(), lfs.Select(f => f.RepoPath).ToList());
    }

    private async Task<JsonObject> PostJsonAsync(RepoId repo, string revision, Uri url, string body, string mediaType, bool retry, CancellationToken ct,
        IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        async ValueTask<JsonObject> Once(CancellationToken t)
        {
            using var response = await _http.SendAsync(HttpMethod.Post, url, r =>
            {
                r.Content = new StringContent(body, Encoding.UTF8);
                r.Content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
                if (mediaType == LfsMediaType) r.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(LfsMediaType));
                foreach (var (k, v) in headers ?? []) r.Headers.TryAddWithoutValidation(k, v);
            }, RedirectMode.SameOriginOnly, t).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode) throw await _http.ErrorAsync(response, repo, revision, null, t).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(t).ConfigureAwait(false);
            if (string.IsNullOrWhiteSpace(text)) return new JsonObject();
            try
            {
                return JsonNode.Parse(text) as JsonObject ?? throw SmeltException.Infrastructure($"the hub answered {url.AbsolutePath} with JSON that is not an object");
            }
            catch (JsonException e)
            {
                throw SmeltException.Infrastructure($"the hub answered {url.AbsolutePath} with something that is not JSON ({e.Message})");
            }
        }
        return retry ? await _http.Retry.ExecuteAsync(Once, ct).ConfigureAwait(false) : await Once(ct).ConfigureAwait(false);
    }
}
