using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Smelt.Core;

namespace Smelt.Data;

public sealed class SourceReport
{
    public required string Name { get; init; }
    public long Read { get; set; }
    public long Malformed { get; set; }
    /// <summary>The first problems (file:line: what is wrong), so a user can fix them.</summary>
    public List<string> Problems { get; } = [];
}

public sealed class StageReport
{
    public required string Stage { get; init; }
    public long In { get; set; }
    public long Out { get; set; }
}

/// <summary>
/// What the pipeline did: records read per source, skipped as malformed (with the first locations), kept and dropped per
/// stage and per reason, modified per reason (stripped test code, redactions), secret findings per kind and
/// contamination per evaluation task. Renders as a table and saves as JSON.
/// </summary>
public sealed class FilterReport
{
    public const int MaxProblemsKept = 20;

    public List<SourceReport> Sources { get; } = [];
    public List<StageReport> Stages { get; } = [];
    public SortedDictionary<string, long> Dropped { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, long> Modified { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, long> SecretFindings { get; } = new(StringComparer.Ordinal);
    public SortedDictionary<string, long> ContaminatedByTask { get; } = new(StringComparer.Ordinal);
    /// <summary>Records that passed every filter (before task-type sampling).</summary>
    public long Kept { get; set; }
    /// <summary>Records emitted, including oversampling copies.</summary>
    public long Emitted { get; set; }

    public long TotalRead => Sources.Sum(s => s.Read);
    public long TotalMalformed => Sources.Sum(s => s.Malformed);

    public void Drop(string reason) => Dropped[reason] = Dropped.GetValueOrDefault(reason) + 1;
    public void Modify(string reason, long by = 1) => Modified[reason] = Modified.GetValueOrDefault(reason) + by;

    public string ToTable()
    {
        var sb = new StringBuilder();
        var rows = new List<(string, string)>();
        foreach (var s in Sources)
            rows.Add(($"source {s.Name}", $"{s.Read} read, {s.Malformed} malformed (skipped)"));
        foreach (var st in Stages)
            rows.Add(($"stage {st.Stage}", $"{st.In} in, {st.Out} out, {st.In - st.Out} dropped"));
        foreach (var (k, v) in Dropped) rows.Add(($"  dropped {k}", v.ToString(CultureInfo.InvariantCulture)));
        foreach (var (k, v) in Modified) rows.Add(($"  modified {k}", v.ToString(CultureInfo.InvariantCulture)));
        foreach (var (k, v) in SecretFindings) rows.Add(($"  secrets found {k}", v.ToString(CultureInfo.InvariantCulture)));
        foreach (var (k, v) in ContaminatedByTask.OrderByDescending(x => x.Value).Take(10)) rows.Add(($"  contaminated by {k}", v.ToString(CultureInfo.InvariantCulture)));
        rows.Add(("kept", Kept.ToString(CultureInfo.InvariantCulture)));
        rows.Add(("emitted (with task-type sampling)", Emitted.ToString(CultureInfo.InvariantCulture)));
        var width = rows.Max(r => r.Item1.Length);
        sb.AppendLine($"{"data".PadRight(width)}  count");
        sb.AppendLine(new string('-', width + 2 + 12));
        foreach (var (a, b) in rows) sb.AppendLine($"{a.PadRight(width)}  {b}");
        foreach (var s in Sources.Where(s => s.Problems.Count > 0))
        {
            sb.AppendLine($"first problems in {s.Name}:");
            foreach (var p in s.Problems) sb.AppendLine($"  {p}");
        }
        return sb.ToString();
    }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public void Save(string path) => AtomicFile.WriteAllText(path, Redactor.Redact(ToJson()) + "\n");
}
