using System.Text.Json;
using Smelt.Core;

namespace Smelt.Data.Secrets;

public sealed record LabelledText(string Id, string Text, IReadOnlyList<(string Kind, string Value)> Expected);

public sealed record KindScore(string Kind, int TruePositives, int FalsePositives, int FalseNegatives)
{
    public double Precision => TruePositives + FalsePositives == 0 ? 1 : (double)TruePositives / (TruePositives + FalsePositives);
    public double Recall => TruePositives + FalseNegatives == 0 ? 1 : (double)TruePositives / (TruePositives + FalseNegatives);
}

public sealed record ScannerScore(IReadOnlyList<KindScore> ByKind, IReadOnlyList<string> Mistakes)
{
    public int TruePositives => ByKind.Sum(k => k.TruePositives);
    public int FalsePositives => ByKind.Sum(k => k.FalsePositives);
    public int FalseNegatives => ByKind.Sum(k => k.FalseNegatives);
    public double Precision => TruePositives + FalsePositives == 0 ? 1 : (double)TruePositives / (TruePositives + FalsePositives);
    public double Recall => TruePositives + FalseNegatives == 0 ? 1 : (double)TruePositives / (TruePositives + FalseNegatives);
}

/// <summary>
/// Precision and recall of the scanner on a labelled corpus (JSONL: <c>text</c>, <c>expected</c>: [{kind, value}]).
/// A finding is a true positive when an expected finding of the same kind overlaps its span; every other finding is a
/// false positive, every unmatched expectation a false negative.
/// </summary>
public static class ScannerEvaluation
{
    public static IReadOnlyList<LabelledText> LoadCorpus(string path)
    {
        var list = new List<LabelledText>();
        if (!File.Exists(path)) throw SmeltException.BadInput($"{path}: file not found");
        using var file = File.OpenRead(path);
        // The labelled corpus is kept gzipped (its planted values are credential-shaped on purpose).
        using Stream stream = path.EndsWith(".gz", StringComparison.Ordinal) ? new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionMode.Decompress) : file;
        foreach (var line in Jsonl.Read(stream, path))
        {
            if (!line.IsValid) throw SmeltException.BadInput($"{line.Where}: {line.Error}");
            var o = line.Value!.Value;
            if (!o.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String) throw SmeltException.BadInput($"{line.Where}: needs a string 'text'");
            var expected = new List<(string, string)>();
            if (o.TryGetProperty("expected", out var e) && e.ValueKind == JsonValueKind.Array)
                foreach (var x in e.EnumerateArray()) expected.Add((x.GetProperty("kind").GetString()!, x.GetProperty("value").GetString()!));
            var id = o.TryGetProperty("id", out var idv) ? idv.ToString() : line.LineNumber.ToString(System.Globalization.CultureInfo.InvariantCulture);
            list.Add(new LabelledText(id, t.GetString()!, expected));
        }
        return list;
    }

    public static ScannerScore Evaluate(IEnumerable<LabelledText> corpus, SecretScanner scanner)
    {
        var tp = new Dictionary<string, int>();
        var fp = new Dictionary<string, int>();
        var fn = new Dictionary<string, int>();
        var mistakes = new List<string>();
        static void Inc(Dictionary<string, int> d, string k) => d[k] = d.GetValueOrDefault(k) + 1;
        foreach (var item in corpus)
        {
            var findings = scanner.Scan(item.Text).ToList();
            var matched = new bool[findings.Count];
            foreach (var (kind, value) in item.Expected)
            {
                var start = item.Text.IndexOf(value, StringComparison.Ordinal);
                var end = start + value.Length;
                var hit = findings.FindIndex(f => f.Kind == kind && f.Start < end && start < f.End);
                if (start >= 0 && hit >= 0 && !matched[hit]) { matched[hit] = true; Inc(tp, kind); }
                else { Inc(fn, kind); mistakes.Add($"record {item.Id}: missed {kind}"); }
            }
            for (var i = 0; i < findings.Count; i++)
                if (!matched[i])
                {
                    Inc(fp, findings[i].Kind);
                    mistakes.Add($"record {item.Id}: false {findings[i].Kind} '{findings[i].Preview(item.Text)}'");
                }
        }
        var kinds = tp.Keys.Concat(fp.Keys).Concat(fn.Keys).Distinct().OrderBy(k => k, StringComparer.Ordinal);
        return new ScannerScore(kinds.Select(k => new KindScore(k, tp.GetValueOrDefault(k), fp.GetValueOrDefault(k), fn.GetValueOrDefault(k))).ToArray(), mistakes);
    }
}
