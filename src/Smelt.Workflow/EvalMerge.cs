using System.Globalization;
using System.Text.Json;
using Smelt.Core;
using Smelt.Eval;

namespace Smelt.Workflow;

public sealed record MergeReport(string OutDirectory, int Shards, EvalSummary Summary, string SummaryPath, IReadOnlyList<string> Warnings);

/// <summary>
/// <c>smelt eval merge DIR... --out DIR</c>: combines the results.jsonl of shard runs into one results.jsonl and a summary.json
/// computed exactly as an unsharded run computes it (same pass@k estimator over the union of results). Refuses shards that
/// disagree on k values, clippy or sandbox, that overlap (the same sample twice), or that did not finish.
/// </summary>
public static class EvalMerge
{
    private static readonly string[] SameAcrossShards = ["sandbox", "rustc_version", "clippy_version", "crate_set"];
    /// <summary>Keys of summary.json that the merge recomputes; every other key is run information, carried over.</summary>
    private static readonly string[] MetricKeys = ["complete", "n_tasks", "n_samples", "pass_at_k", "compile_rate", "clippy_clean_rate", "avg_clippy_warnings",
        "status_counts", "error_codes", "clippy_lints", "secret_like_samples", "verbatim_leak_samples", "input_issues"];

    public static MergeReport Merge(IReadOnlyList<string> shardDirectories, string outDirectory, bool allowIncomplete = false)
    {
        if (shardDirectories.Count == 0) throw SmeltException.BadInput("eval merge: give at least one shard directory");
        var results = new List<SampleResult>();
        var seen = new Dictionary<(string, int), string>();
        var warnings = new List<string>();
        List<int>? ks = null;
        Dictionary<string, string>? common = null;
        var issues = 0;
        var complete = true;
        var shardSpecs = new List<string>();
        var runInfo = new List<(string Key, JsonElement Value)>();
        var full = Path.GetFullPath(outDirectory);
        foreach (var dir in shardDirectories)
        {
            if (Path.GetFullPath(dir) == full) throw SmeltException.BadInput($"eval merge: --out {outDirectory} is also one of the inputs");
            var shardSummary = Path.Combine(dir, "summary.json");
            var resultsPath = Path.Combine(dir, "results.jsonl");
            if (!File.Exists(shardSummary) || !File.Exists(resultsPath))
                throw SmeltException.BadInput($"{dir}: not an eval output directory (needs summary.json and results.jsonl from `smelt eval --out`)");
            using var doc = ReadJson(shardSummary);
            var s = doc.RootElement;
            if (s.TryGetProperty("complete", out var c) && c.ValueKind == JsonValueKind.False)
            {
                if (!allowIncomplete) throw SmeltException.BadInput($"{shardSummary}: this shard did not finish (complete: false); rerun it with `smelt eval --resume` (or pass --allow-incomplete)");
                complete = false;
            }
            var shardKs = s.TryGetProperty("pass_at_k", out var pk) && pk.ValueKind == JsonValueKind.Object
                ? pk.EnumerateObject().Select(p => int.Parse(p.Name, CultureInfo.InvariantCulture)).Order().ToList()
                : throw SmeltException.BadInput($"{shardSummary}: no pass_at_k object");
            if (ks is null) ks = shardKs;
            else if (!ks.SequenceEqual(shardKs))
                throw SmeltException.BadInput($"{shardSummary}: k values [{string.Join(",", shardKs)}] differ from the first shard's [{string.Join(",", ks)}]; evaluate every shard with the same --k");
            var info = SameAcrossShards.ToDictionary(k => k, k => s.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "");
            if (common is null) common = info;
            else
                foreach (var k in SameAcrossShards)
                    if (common[k] != info[k])
                        throw SmeltException.BadInput($"{shardSummary}: {k} is '{info[k]}' but the first shard has '{common[k]}'; shards must be evaluated the same way to be merged");
            foreach (var p in s.EnumerateObject())
                if (!MetricKeys.Contains(p.Name)) runInfo.Add((p.Name, p.Value.Clone()));
            issues += s.TryGetProperty("input_issues", out var ii) && ii.ValueKind == JsonValueKind.Number ? ii.GetInt32() : 0;
            var specPath = Path.Combine(dir, "shard.json");
            if (File.Exists(specPath))
            {
                using var spec = ReadJson(specPath);
                if (spec.RootElement.TryGetProperty("shard", out var sh) && sh.ValueKind == JsonValueKind.String) shardSpecs.Add(sh.GetString()!);
            }
            foreach (var line in Jsonl.Read(resultsPath))
            {
                if (!line.IsValid) { warnings.Add($"{line.Where}: {line.Error}; skipped"); continue; }
                var r = SampleResult.FromJson(line.Value!.Value) ?? throw SmeltException.BadInput($"{line.Where}: not a result line of `smelt eval`");
                if (seen.TryGetValue((r.TaskId, r.Sample), out var other))
                    throw SmeltException.BadInput($"{line.Where}: task '{r.TaskId}' sample {r.Sample} is also in {other}; the shards overlap (were they sliced with the same N?)");
                seen[(r.TaskId, r.Sample)] = dir;
                results.Add(r);
            }
        }
        CheckShardSet(shardSpecs, shardDirectories.Count, warnings);
        var clippy = !common!["clippy_version"].StartsWith("not run", StringComparison.Ordinal);
        var ordered = results.OrderBy(r => r.TaskId, StringComparer.Ordinal).ThenBy(r => r.Sample).ToList();
        var summary = EvalSummary.Build(ordered, ks!, issues, clippy, complete);
        Directory.CreateDirectory(outDirectory);
        AtomicFile.Write(Path.Combine(outDirectory, "results.jsonl"), tmp =>
        {
            using var w = new StreamWriter(tmp, false, new System.Text.UTF8Encoding(false)) { NewLine = "\n" };
            foreach (var r in ordered) w.WriteLine(r.ToJsonLine());
        });
        var run = new Dictionary<string, object>();
        foreach (var group in runInfo.GroupBy(r => r.Key))
        {
            var values = group.Select(g => g.Value).ToList();
            if (values.All(v => v.ValueKind == JsonValueKind.Number))
            {
                var numbers = values.Select(v => v.GetDouble()).Distinct().ToList();
                // Per-run amounts (seconds, samples evaluated) add up; settings that agree are kept as they are.
                run[group.Key] = numbers.Count == 1 && !group.Key.EndsWith("_seconds", StringComparison.Ordinal) && group.Key != "evaluated_now" ? numbers[0]
                    : group.Key.EndsWith("per_second", StringComparison.Ordinal) ? values.Average(v => v.GetDouble()) : values.Sum(v => v.GetDouble());
            }
            else
                run[group.Key] = string.Join(", ", values.Select(v => v.ValueKind == JsonValueKind.String ? v.GetString()! : v.GetRawText()).Distinct());
        }
        run["merged_from"] = string.Join(", ", shardDirectories.Select(d => Path.GetFileName(Path.GetFullPath(d).TrimEnd('/'))));
        run["shards"] = shardDirectories.Count;
        var summaryPath = Path.Combine(outDirectory, "summary.json");
        AtomicFile.WriteAllText(summaryPath, summary.ToJson(run));
        return new MergeReport(Path.GetFullPath(outDirectory), shardDirectories.Count, summary, summaryPath, warnings);
    }

    private static void CheckShardSet(List<string> specs, int dirs, List<string> warnings)
    {
        if (specs.Count == 0) return;
        if (specs.Count != dirs) { warnings.Add("some shard directories have no shard.json; could not check that every shard is present"); return; }
        var parsed = specs.Select(ShardSpec.Parse).ToList();
        var n = parsed[0].Count;
        if (parsed.Any(p => p.Count != n))
            throw SmeltException.BadInput($"eval merge: the shards were cut with different N ({string.Join(", ", specs)})");
        var dup = parsed.GroupBy(p => p.Index).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw SmeltException.BadInput($"eval merge: shard {dup.Key}/{n} is given twice");
        var missing = Enumerable.Range(0, n).Except(parsed.Select(p => p.Index)).ToList();
        if (missing.Count > 0)
            throw SmeltException.BadInput($"eval merge: shard(s) {string.Join(", ", missing.Select(m => $"{m}/{n}"))} are missing; a merged summary would not cover every task");
    }

    private static JsonDocument ReadJson(string path)
    {
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException ex) { throw SmeltException.BadInput($"{path}: not valid JSON ({ex.Message})"); }
    }
}
