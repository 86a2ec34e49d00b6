using System.Text;
using System.Text.RegularExpressions;
using Smelt.Core;
using Smelt.Data;
using Smelt.Hub;
using Smelt.Training.Config;

namespace Smelt.Training.Data;

/// <summary>A <c>hub:</c> data source as resolved: the commit its revision pointed to and the snapshot files read from it.</summary>
public sealed record HubDataset(string Repo, string RequestedRevision, string Commit, string SnapshotDirectory, IReadOnlyList<string> Files);

/// <summary>
/// Fetches the <c>hub:</c> data sources of a config through Smelt.Hub (repo type dataset, the shared Python cache layout,
/// HF_TOKEN or the token file, offline mode, retries) before any compute. Files are chosen by the source's <c>files</c>
/// globs (default: every .jsonl, .jsonl.gz and .parquet file) and <c>split</c>, and checked to be readable before a byte
/// of them is downloaded. Each source's revision is then pinned to the commit it resolved to, so the resolved config
/// (config.resolved.yml) names the exact data; the token is never part of it.
/// </summary>
public static class HubDatasets
{
    public static readonly string[] DefaultPatterns = ["*.jsonl", "*.jsonl.gz", "*.parquet"];

    public static bool Any(TrainConfig cfg) => HubSources(cfg).Any();

    /// <summary>Resolves every hub source once (phases may share one) and returns them by source.</summary>
    public static IReadOnlyDictionary<SourceSection, HubDataset> Resolve(TrainConfig cfg, HubSettings? settings, ITrainProgress progress,
        HubClientOptions? options = null, CancellationToken ct = default)
    {
        var resolved = new Dictionary<SourceSection, HubDataset>(ReferenceEqualityComparer.Instance);
        var sources = HubSources(cfg).ToList();
        if (sources.Count == 0) return resolved;
        settings ??= HubSettings.FromEnvironment();
        using var client = new HubClient(settings, (options ?? new HubClientOptions()) with { Log = m => progress.Message(Redactor.Redact($"hub: {m}")) });
        foreach (var source in sources)
        {
            if (source.Origin.Length == 0) source.Origin = $"data.sources[{source.Name}]"; // built in code, not loaded from a file
            var dataset = ResolveOne(client, source, ct);
            resolved[source] = dataset;
            source.Revision = dataset.Commit;
            progress.Message($"data source '{source.Name}': {dataset.Repo} (dataset) at {(dataset.RequestedRevision == dataset.Commit ? "commit" : $"'{dataset.RequestedRevision}' = commit")} " +
                             $"{dataset.Commit}, {dataset.Files.Count} file(s): {Names(dataset.Files)}");
        }
        return resolved;
    }

    private static IEnumerable<SourceSection> HubSources(TrainConfig cfg) =>
        cfg.EffectivePhases().SelectMany(p => p.Data.Sources).Where(s => s.Hub.Length > 0).Distinct(ReferenceEqualityComparer.Instance).Cast<SourceSection>();

    private static HubDataset ResolveOne(HubClient client, SourceSection s, CancellationToken ct)
    {
        var patterns = s.Files.Count > 0 ? s.Files : [.. DefaultPatterns];
        var filter = new GlobFilter(patterns, null);
        var repo = RepoId.Parse(s.Hub, RepoType.Dataset);
        try
        {
            // The file list: from the hub, or offline from the list Smelt kept when it downloaded that commit.
            string? commit;
            IReadOnlyList<string>? listed;
            if (client.Settings.Offline)
            {
                var cache = new HubCache(client.Settings, repo);
                commit = cache.TryResolveCommit(s.Revision);
                listed = commit is null ? null : cache.ReadManifest(commit)?.Select(f => f.Path).ToList();
            }
            else
            {
                var (head, all) = Run(() => client.GetRevisionAsync(repo, s.Revision, ct));
                (commit, listed) = (head, all.Select(f => f.Path).ToList());
            }
            if (listed is null)
            {
                // Offline without a file list (never downloaded here, or written by another tool): the hub client says what
                // is missing, or returns what the snapshot holds.
                var cached = Run(() => client.DownloadAsync(s.Hub, RepoType.Dataset, s.Revision, patterns, null, null, ct));
                return new HubDataset(s.Hub, s.Revision, cached.Commit, cached.SnapshotPath, Choose(s, cached.Commit, cached.Files, filter, patterns));
            }
            // Checked before a byte is downloaded; then exactly these files are fetched (offline: found) at the requested
            // revision, which also records refs/<revision> for later offline runs.
            var wanted = Choose(s, commit!, listed, filter, patterns);
            var snapshot = Run(() => client.DownloadAsync(s.Hub, RepoType.Dataset, s.Revision, wanted.Select(EscapeGlob).ToList(), null, null, ct));
            if (snapshot.Commit != commit)
                throw SmeltException.Infrastructure($"{s.Origin}.hub: {s.Hub} moved from commit {commit} to {snapshot.Commit} while it was being fetched; run again");
            var missing = wanted.Except(snapshot.Files, StringComparer.Ordinal).ToList();
            if (missing.Count > 0)
                throw SmeltException.Infrastructure($"{s.Origin}.hub: {s.Hub} at commit {commit} lists {Names(missing)} but they were not fetched; run again");
            return new HubDataset(s.Hub, s.Revision, commit!, snapshot.SnapshotPath, wanted);
        }
        catch (SmeltException ex) when (!ex.Message.StartsWith(s.Origin, StringComparison.Ordinal))
        {
            throw new SmeltException($"{s.Origin}.hub: {ex.Message}", ex.ExitCode, ex);
        }
    }

    /// <summary>The files a source reads: matching its globs and split, all in a readable format, in ordinal path order.</summary>
    private static List<string> Choose(SourceSection s, string commit, IReadOnlyList<string> listed, GlobFilter filter, IReadOnlyList<string> patterns)
    {
        var split = s.Split.Length > 0 ? SplitPattern(s.Split) : null;
        var chosen = listed.Where(filter.Matches).Where(p => split is null || split.IsMatch(p)).Order(StringComparer.Ordinal).ToList();
        var key = s.Files.Count > 0 ? "files" : s.Split.Length > 0 ? "split" : "hub";
        if (chosen.Count == 0)
        {
            var readable = listed.Where(p => DataFiles.FormatOf(p) is not null).Order(StringComparer.Ordinal).ToList();
            var what = $"[{string.Join(", ", patterns)}]{(s.Split.Length > 0 ? $" with split '{s.Split}'" : "")}";
            throw SmeltException.BadInput(
                $"{s.Origin}.{key}: no file of {s.Hub} (dataset) at commit {commit} matches {what}. " +
                (readable.Count > 0 ? $"Its data files are: {Names(readable)}; " : $"It has no .jsonl/.jsonl.gz/.json/.parquet file at all (files: {Names(listed.Order(StringComparer.Ordinal).ToList())}); ") +
                "set data.sources[].files to globs that match them (e.g. files: ['data/train-*.parquet'])");
        }
        var unreadable = chosen.Where(p => DataFiles.FormatOf(p) is null).ToList();
        if (unreadable.Count > 0)
            throw SmeltException.BadInput(
                $"{s.Origin}.{key}: {Names(unreadable)} of {s.Hub} cannot be read as training data (smelt reads {string.Join(", ", DataFiles.Readable)}); " +
                "narrow files to the data files (e.g. files: ['data/*.parquet']). Nothing was downloaded.");
        return chosen;
    }

    /// <summary>A file belongs to split S when S appears in its path as a word: <c>train.jsonl</c>, <c>data/train-00000-of-00002.parquet</c>, <c>train/part0.jsonl</c>.</summary>
    public static Regex SplitPattern(string split) =>
        new($@"(^|[/_.\- ]){Regex.Escape(split)}([/_.\- 0-9]|$)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    /// <summary>An exact file name as an fnmatch pattern (<c>*</c>, <c>?</c> and <c>[</c> bracketed).</summary>
    public static string EscapeGlob(string path)
    {
        var sb = new StringBuilder(path.Length);
        foreach (var c in path) sb.Append(c is '*' or '?' or '[' ? $"[{c}]" : c.ToString());
        return sb.ToString();
    }

    private static T Run<T>(Func<Task<T>> call)
    {
        try
        {
            return call().GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is not SmeltException and not OperationCanceledException)
        {
            // GetRevisionAsync retries transient failures itself; what still escapes is the hub being unreachable.
            throw SmeltException.Infrastructure($"could not reach the hub: {Redactor.Redact(ex.Message)}. Check HF_ENDPOINT and the network, or set HF_HUB_OFFLINE=1 to use the cache", ex);
        }
    }

    private static string Names(IReadOnlyList<string> files) =>
        string.Join(", ", files.Take(10)) + (files.Count > 10 ? $", and {files.Count - 10} more" : "");
}
