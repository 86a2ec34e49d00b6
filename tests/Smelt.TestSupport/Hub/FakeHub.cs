using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Smelt.TestSupport.Hub;

public sealed class FakeFile
{
    public required string Path { get; init; }
    private readonly byte[] _content = [];
    private string? _sha256;
    private string? _gitOid;

    public required byte[] Content
    {
        get => _content;
        init => _content = value;
    }

    public bool Lfs { get; init; }
    // computed once: the benchmark serves a 100 MB file and must measure the client, not the server's hashing
    public string Sha256 => _sha256 ??= Convert.ToHexStringLower(SHA256.HashData(Content));
    /// <summary>The git blob id, which the hub sends as ETag for regular files.</summary>
    public string GitOid => _gitOid ??= Convert.ToHexStringLower(SHA1.HashData(Encoding.ASCII.GetBytes($"blob {Content.Length}\0").Concat(Content).ToArray()));
}

public sealed class FakeRepo
{
    public required string Id { get; init; }
    public bool Dataset { get; init; }
    public string Commit { get; set; } = NewCommit();
    public Dictionary<string, string> Branches { get; } = new();
    public List<FakeFile> Files { get; } = [];
    /// <summary>Gated: answers 401 without a token and 403 with any token but <see cref="AllowedToken"/>.</summary>
    public bool Gated { get; init; }
    public string? AllowedToken { get; init; }
    /// <summary>Names listed in the file list that are not real files (path-traversal attempts).</summary>
    public List<string> ExtraListedNames { get; } = [];
    /// <summary>When set, the 403 body echoes the token that was sent (a careless server), to check it is masked.</summary>
    public bool EchoTokenInErrors { get; init; }

    public static string NewCommit() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
    public string Key => (Dataset ? "datasets/" : "models/") + Id;
}

/// <summary>
/// A hub in the URL layout of huggingface.co, on two loopback ports: the main host (API, resolve, LFS batch, commit) and a second
/// "CDN" host that serves LFS contents after a 302 and receives LFS uploads. Failure behaviours are switched on per test.
/// </summary>
public sealed class FakeHub : IAsyncDisposable
{
    public LoopbackHttpServer Main { get; }
    public LoopbackHttpServer Cdn { get; }
    private readonly ConcurrentDictionary<string, FakeRepo> _repos = new();
    private readonly ConcurrentDictionary<string, byte[]> _lfsStore = new();
    /// <summary>The next N responses with a file's contents are cut (connection dropped) after this many body bytes.</summary>
    private readonly ConcurrentDictionary<string, (long After, int Times)> _drops = new();
    /// <summary>Status answered by the next N requests whose path starts with a prefix.</summary>
    private readonly ConcurrentDictionary<string, (int Status, int Times)> _failures = new();
    private readonly ConcurrentDictionary<string, (long After, int Times)> _stalls = new();
    private readonly ConcurrentDictionary<string, byte[]> _corrupt = new();
    public ConcurrentQueue<string> Commits { get; } = new();
    /// <summary>Pause before sending file contents (to observe parallel downloads).</summary>
    public TimeSpan ContentDelay { get; set; }

    public FakeHub()
    {
        Main = new LoopbackHttpServer("main", HandleMainAsync);
        Cdn = new LoopbackHttpServer("cdn", HandleCdnAsync);
    }

    /// <summary>Serve the hub under this path (a mirror such as http://host/hf); the CDN host is unaffected.</summary>
    public string PathPrefix { get; set; } = "";
    public Uri Endpoint => new(Main.BaseUri, PathPrefix + "/");
    public IEnumerable<RecordedRequest> AllRequests => Main.Requests.Concat(Cdn.Requests);
    public int RequestCount => Main.Requests.Count + Cdn.Requests.Count;

    public FakeRepo Add(FakeRepo repo)
    {
        repo.Branches.TryAdd("main", repo.Commit);
        _repos[repo.Key] = repo;
        return repo;
    }

    public FakeRepo? Get(string key) => _repos.TryGetValue(key, out var r) ? r : null;

    public void DropAfter(string path, long bytes, int times = 1) => _drops[path] = (bytes, times);
    /// <summary>The next N responses with a file's contents stop sending after this many bytes and hang (until the client gives up).</summary>
    public void StallAfter(string path, long bytes, int times = 1) => _stalls[path] = (bytes, times);
    /// <summary>Answer content requests with 200 and the whole file even when a Range was asked for.</summary>
    public bool IgnoreRange { get; set; }
    public void FailNext(string pathPrefix, int status, int times) => _failures[pathPrefix] = (status, times);
    /// <summary>Serve these bytes instead of the real content of an LFS file (the listing still says the real sha256).</summary>
    public void Corrupt(string path, byte[] served) => _corrupt[path] = served;

    // ------------------------------------------------------------------ main host

    private async Task HandleMainAsync(RecordedRequest req, ResponseWriter w)
    {
        if (await InjectedFailureAsync(req, w)) return;
        var path = Uri.UnescapeDataString(req.Path);
        if (PathPrefix.Length > 0)
        {
            if (!path.StartsWith(PathPrefix + "/", StringComparison.Ordinal))
            {
                await NotFoundAsync(w, "RepoNotFound");
                return;
            }
            path = path[PathPrefix.Length..];
        }
        if (path.StartsWith("/api/", StringComparison.Ordinal))
        {
            await HandleApiAsync(req, path, w);
            return;
        }
        if (req.Method == "POST" && path.EndsWith(".git/info/lfs/objects/batch", StringComparison.Ordinal))
        {
            await HandleLfsBatchAsync(req, path, w);
            return;
        }
        if (req.Method == "POST" && path == "/lfs-verify")
        {
            var body = JsonNode.Parse(req.Body)!;
            var ok = _lfsStore.ContainsKey(body["oid"]!.GetValue<string>());
            await w.RespondAsync(ok ? 200 : 404, "application/json", "{}"u8.ToArray());
            return;
        }
        var dataset = path.StartsWith("/datasets/", StringComparison.Ordinal);
        var rest = dataset ? path["/datasets/".Length..] : path[1..];
        var marker = rest.IndexOf("/resolve/", StringComparison.Ordinal);
        if (marker < 0)
        {
            await NotFoundAsync(w, "RepoNotFound");
            return;
        }
        var repo = Get((dataset ? "datasets/" : "models/") + rest[..marker]);
        if (repo is null)
        {
            await NotFoundAsync(w, "RepoNotFound");
            return;
        }
        if (await DeniedAsync(repo, req, w)) return;
        var revAndFile = rest[(marker + "/resolve/".Length)..];
        var slash = revAndFile.IndexOf('/');
        var rev = revAndFile[..slash];
        var filePath = revAndFile[(slash + 1)..];
        var commit = ResolveRevision(repo, rev);
        if (commit is null)
        {
            await NotFoundAsync(w, "RevisionNotFound");
            return;
        }
        var file = repo.Files.FirstOrDefault(f => f.Path == filePath);
        if (file is null)
        {
            await NotFoundAsync(w, "EntryNotFound");
            return;
        }
        var common = new List<KeyValuePair<string, string>> { new("X-Repo-Commit", commit) };
        if (file.Lfs)
        {
            common.Add(new("X-Linked-Etag", $"\"{file.Sha256}\""));
            common.Add(new("X-Linked-Size", file.Content.Length.ToString()));
            common.Add(new("ETag", $"\"{file.Sha256}\""));
            common.Add(new("Location", new Uri(Cdn.BaseUri, $"/blobs/{file.Sha256}?path={Uri.EscapeDataString(file.Path)}&sig=abc").ToString()));
            common.Add(new("Content-Length", "0"));
            await w.WriteHeadAsync(302, common);
            return;
        }
        common.Add(new("ETag", $"\"{file.GitOid}\""));
        await ServeContentAsync(req, w, file.Path, file.Content, common);
    }

    private async Task HandleApiAsync(RecordedRequest req, string path, ResponseWriter w)
    {
        // /api/{models|datasets}/{id}/{revision|preupload|commit}/{rev}
        var parts = path["/api/".Length..].Split('/');
        var kind = parts[0];
        var opIndex = Array.FindIndex(parts, 1, p => p is "revision" or "preupload" or "commit");
        if (kind is not ("models" or "datasets") || opIndex < 2 || opIndex == parts.Length - 1)
        {
            await NotFoundAsync(w, "RepoNotFound");
            return;
        }
        var repo = Get(kind + "/" + string.Join('/', parts[1..opIndex]));
        var op = parts[opIndex];
        var rev = string.Join('/', parts[(opIndex + 1)..]);
        if (repo is null)
        {
            await NotFoundAsync(w, "RepoNotFound");
            return;
        }
        if (await DeniedAsync(repo, req, w)) return;
        if (op == "revision" && req.Method == "GET")
        {
            var commit = ResolveRevision(repo, rev);
            if (commit is null)
            {
                await NotFoundAsync(w, "RevisionNotFound");
                return;
            }
            var siblings = new JsonArray();
            foreach (var f in repo.Files)
            {
                var entry = new JsonObject { ["rfilename"] = f.Path, ["size"] = f.Content.Length };
                if (f.Lfs) entry["lfs"] = new JsonObject { ["sha256"] = f.Sha256, ["size"] = f.Content.Length, ["pointerSize"] = 134 };
                siblings.Add(entry);
            }
            foreach (var name in repo.ExtraListedNames) siblings.Add(new JsonObject { ["rfilename"] = name, ["size"] = 3 });
            var info = new JsonObject { ["id"] = repo.Id, ["sha"] = commit, ["private"] = false, ["gated"] = repo.Gated ? "manual" : false, ["siblings"] = siblings };
            await w.RespondAsync(200, "application/json", Encoding.UTF8.GetBytes(info.ToJsonString()));
            return;
        }
        if (RequireToken(req) is null)
        {
            await w.RespondAsync(401, "application/json", "{\"error\":\"Invalid credentials\"}"u8.ToArray());
            return;
        }
        if (op == "preupload" && req.Method == "POST")
        {
            var body = JsonNode.Parse(req.Body)!;
            var files = new JsonArray();
            foreach (var f in body["files"]!.AsArray())
            {
                var sample = Convert.FromBase64String(f!["sample"]!.GetValue<string>());
                var name = f["path"]!.GetValue<string>();
                var lfs = sample.Contains((byte)0) || name.EndsWith(".safetensors", StringComparison.Ordinal) || f["size"]!.GetValue<long>() > 10_000_000;
                files.Add(new JsonObject { ["path"] = name, ["uploadMode"] = lfs ? "lfs" : "regular", ["shouldIgnore"] = false });
            }
            await w.RespondAsync(200, "application/json", Encoding.UTF8.GetBytes(new JsonObject { ["files"] = files }.ToJsonString()));
            return;
        }
        if (op == "commit" && req.Method == "POST")
        {
            var lines = Encoding.UTF8.GetString(req.Body).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var added = new List<FakeFile>();
            foreach (var line in lines)
            {
                var node = JsonNode.Parse(line)!;
                var value = node["value"]!;
                switch (node["key"]!.GetValue<string>())
                {
                    case "header": Commits.Enqueue(value["summary"]!.GetValue<string>()); break;
                    case "file":
                        added.Add(new FakeFile { Path = value["path"]!.GetValue<string>(), Content = Convert.FromBase64String(value["content"]!.GetValue<string>()) });
                        break;
                    case "lfsFile":
                        if (!_lfsStore.TryGetValue(value["oid"]!.GetValue<string>(), out var bytes))
                        {
                            await w.RespondAsync(400, "application/json", "{\"error\":\"lfs object not uploaded\"}"u8.ToArray());
                            return;
                        }
                        added.Add(new FakeFile { Path = value["path"]!.GetValue<string>(), Content = bytes, Lfs = true });
                        break;
                    default:
                        await w.RespondAsync(400, "application/json", "{\"error\":\"unknown key\"}"u8.ToArray());
                        return;
                }
            }
            lock (repo)
            {
                repo.Files.RemoveAll(f => added.Any(a => a.Path == f.Path));
                repo.Files.AddRange(added);
                repo.Commit = FakeRepo.NewCommit();
                repo.Branches[rev] = repo.Commit;
            }
            var answer = new JsonObject { ["commitOid"] = repo.Commit, ["commitUrl"] = new Uri(Endpoint, $"/{repo.Id}/commit/{repo.Commit}").ToString() };
            await w.RespondAsync(200, "application/json", Encoding.UTF8.GetBytes(answer.ToJsonString()));
            return;
        }
        await NotFoundAsync(w, "RepoNotFound");
    }

    private async Task HandleLfsBatchAsync(RecordedRequest req, string path, ResponseWriter w)
    {
        if (RequireToken(req) is null)
        {
            await w.RespondAsync(401, "application/json", "{\"message\":\"Invalid credentials\"}"u8.ToArray());
            return;
        }
        var body = JsonNode.Parse(req.Body)!;
        var objects = new JsonArray();
        foreach (var o in body["objects"]!.AsArray())
        {
            var oid = o!["oid"]!.GetValue<string>();
            var size = o["size"]!.GetValue<long>();
            var entry = new JsonObject { ["oid"] = oid, ["size"] = size };
            if (!_lfsStore.ContainsKey(oid))
                entry["actions"] = new JsonObject
                {
                    ["upload"] = new JsonObject { ["href"] = new Uri(Cdn.BaseUri, $"/upload/{oid}?sig=xyz").ToString(), ["header"] = new JsonObject { ["X-Upload-Sig"] = "s1" } },
                    ["verify"] = new JsonObject { ["href"] = new Uri(Endpoint, "/lfs-verify").ToString() },
                };
            objects.Add(entry);
        }
        await w.RespondAsync(200, "application/vnd.git-lfs+json", Encoding.UTF8.GetBytes(new JsonObject { ["transfer"] = "basic", ["objects"] = objects }.ToJsonString()));
    }

    // ------------------------------------------------------------------ CDN host

    private async Task HandleCdnAsync(RecordedRequest req, ResponseWriter w)
    {
        if (await InjectedFailureAsync(req, w)) return;
        var path = req.Path;
        if (req.Method == "PUT" && path.StartsWith("/upload/", StringComparison.Ordinal))
        {
            var oid = path["/upload/".Length..];
            if (Convert.ToHexStringLower(SHA256.HashData(req.Body)) != oid || req.Header("X-Upload-Sig") != "s1")
            {
                await w.RespondAsync(400, "text/plain", "bad upload"u8.ToArray());
                return;
            }
            _lfsStore[oid] = req.Body;
            await w.RespondAsync(200, "text/plain", []);
            return;
        }
        if (path.StartsWith("/blobs/", StringComparison.Ordinal))
        {
            var sha = path["/blobs/".Length..];
            var file = _repos.Values.SelectMany(r => r.Files).FirstOrDefault(f => f.Lfs && f.Sha256 == sha);
            if (file is null)
            {
                await w.RespondAsync(404, "text/plain", "no such blob"u8.ToArray());
                return;
            }
            var content = _corrupt.TryGetValue(file.Path, out var bad) ? bad : file.Content;
            await ServeContentAsync(req, w, file.Path, content, [new("ETag", $"\"{sha}\"")]);
            return;
        }
        await w.RespondAsync(404, "text/plain", "not found"u8.ToArray());
    }

    // ------------------------------------------------------------------ helpers

    private async Task ServeContentAsync(RecordedRequest req, ResponseWriter w, string filePath, byte[] content, List<KeyValuePair<string, string>> headers)
    {
        long start = 0;
        var status = 200;
        if (!IgnoreRange && req.Header("Range") is { } range && range.StartsWith("bytes=", StringComparison.Ordinal))
        {
            var spec = range["bytes=".Length..].Split('-');
            start = long.Parse(spec[0]);
            if (start >= content.Length)
            {
                await w.RespondAsync(416, "text/plain", [], [new("Content-Range", $"bytes */{content.Length}")]);
                return;
            }
            status = 206;
            headers.Add(new("Content-Range", $"bytes {start}-{content.Length - 1}/{content.Length}"));
        }
        headers.Add(new("Accept-Ranges", "bytes"));
        headers.Add(new("Content-Type", "application/octet-stream"));
        headers.Add(new("Content-Length", (content.Length - start).ToString()));
        if (req.Method != "HEAD" && ContentDelay > TimeSpan.Zero) await Task.Delay(ContentDelay);
        await w.WriteHeadAsync(status, headers);
        if (req.Method == "HEAD") return;
        if (_drops.TryGetValue(filePath, out var drop) && drop.Times > 0 && content.Length - start > drop.After)
        {
            _drops[filePath] = (drop.After, drop.Times - 1);
            await w.WriteBodyAsync(content.AsMemory((int)start, (int)drop.After));
            await Task.Delay(50);
            w.Abort();
            return;
        }
        if (_stalls.TryGetValue(filePath, out var stall) && stall.Times > 0 && content.Length - start > stall.After)
        {
            _stalls[filePath] = (stall.After, stall.Times - 1);
            await w.WriteBodyAsync(content.AsMemory((int)start, (int)stall.After));
            await Task.Delay(TimeSpan.FromSeconds(30)).ContinueWith(_ => { });
            w.Abort();
            return;
        }
        const int chunk = 1 << 20;
        for (var offset = start; offset < content.Length; offset += chunk)
            await w.WriteBodyAsync(content.AsMemory((int)offset, (int)Math.Min(chunk, content.Length - offset)));
    }

    private async Task<bool> InjectedFailureAsync(RecordedRequest req, ResponseWriter w)
    {
        foreach (var (prefix, (status, times)) in _failures)
        {
            if (times <= 0 || !Uri.UnescapeDataString(req.Path).StartsWith(prefix, StringComparison.Ordinal)) continue;
            _failures[prefix] = (status, times - 1);
            await w.RespondAsync(status, "application/json", "{\"error\":\"injected failure\"}"u8.ToArray());
            return true;
        }
        return false;
    }

    private static string? RequireToken(RecordedRequest req)
    {
        var auth = req.Header("Authorization");
        return auth is not null && auth.StartsWith("Bearer ", StringComparison.Ordinal) ? auth["Bearer ".Length..] : null;
    }

    private static async Task<bool> DeniedAsync(FakeRepo repo, RecordedRequest req, ResponseWriter w)
    {
        if (!repo.Gated) return false;
        var token = RequireToken(req);
        if (token is not null && token == repo.AllowedToken) return false;
        var status = token is null ? 401 : 403;
        var message = token is null
            ? $"Access to model {repo.Id} is restricted. You must have access to it and be authenticated to access it. Please log in."
            : repo.EchoTokenInErrors ? $"Access to model {repo.Id} is restricted and token {token} is not in the authorized list." : $"Access to model {repo.Id} is restricted and you are not in the authorized list.";
        var body = JsonSerializer.SerializeToUtf8Bytes(new { error = message });
        await w.RespondAsync(status, "application/json", body, [new("X-Error-Code", "GatedRepo")]);
        return true;
    }

    private static async Task NotFoundAsync(ResponseWriter w, string code) =>
        await w.RespondAsync(404, "application/json", Encoding.UTF8.GetBytes($"{{\"error\":\"{code}\"}}"), [new("X-Error-Code", code)]);

    private static string? ResolveRevision(FakeRepo repo, string rev) =>
        repo.Branches.TryGetValue(rev, out var c) ? c : rev == repo.Commit || repo.Branches.ContainsValue(rev) ? rev : null;

    public async ValueTask DisposeAsync()
    {
        await Main.DisposeAsync();
        await Cdn.DisposeAsync();
    }
}
