using System.Text;
using System.Text.Json;
using Smelt.Core;

namespace Smelt.Eval;

public sealed record PassAtKValue(int K, double? Value, int ComputableTasks, IReadOnlyList<string> NotComputableTasks, double? ValueOverComputableTasks);

/// <summary>Aggregates over all results: summary.json.</summary>
public sealed record EvalSummary
{
    public required int NTasks { get; init; }
    public required int NSamples { get; init; }
    public required IReadOnlyList<PassAtKValue> PassAtKValues { get; init; }
    public required double? CompileRate { get; init; }
    public required double? ClippyCleanRate { get; init; }
    public required double? AvgClippyWarnings { get; init; }
    public required IReadOnlyDictionary<string, int> StatusCounts { get; init; }
    public required IReadOnlyDictionary<string, int> ErrorCodes { get; init; }
    public required IReadOnlyDictionary<string, int> ClippyLints { get; init; }
    public required int SecretLikeSamples { get; init; }
    /// <summary>Samples with a verbatim run of training data; null when no training set was given.</summary>
    public int? VerbatimLeakSamples { get; init; }
    public required int InputIssues { get; init; }
    public bool Complete { get; init; } = true;

    public static EvalSummary Build(IReadOnlyList<SampleResult> results, IReadOnlyList<int> ks, int inputIssues, bool clippy, bool complete)
    {
        var byTask = results.GroupBy(r => r.TaskId, StringComparer.Ordinal)
            .Select(g => (Task: g.Key, N: g.Count(), C: g.Count(r => r.Status == Status.Passed))).ToList();
        var pass = new List<PassAtKValue>();
        foreach (var k in ks.Distinct().Order())
        {
            var values = byTask.Select(t => (t.Task, V: PassAtK.Estimate(t.N, t.C, k))).ToList();
            var missing = values.Where(v => v.V is null).Select(v => v.Task).ToList();
            var ok = values.Where(v => v.V is not null).Select(v => v.V!.Value).ToList();
            double? over = ok.Count > 0 ? ok.Average() : null;
            pass.Add(new PassAtKValue(k, missing.Count == 0 ? over : null, ok.Count, missing, over));
        }
        var compiled = results.Where(r => r.CompileOk).ToList();
        var counts = Status.All.ToDictionary(s => s, s => results.Count(r => r.Status == s));
        var codes = results.SelectMany(r => r.ErrorCodes).GroupBy(c => c).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count());
        var lints = results.SelectMany(r => r.ClippyLints).GroupBy(c => c).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count());
        var withClippy = compiled.Where(r => r.ClippyWarnings is not null).ToList();
        return new EvalSummary
        {
            NTasks = byTask.Count,
            NSamples = results.Count,
            PassAtKValues = pass,
            CompileRate = results.Count == 0 ? null : (double)compiled.Count / results.Count,
            ClippyCleanRate = !clippy || withClippy.Count == 0 ? null : (double)withClippy.Count(r => r.ClippyWarnings == 0) / withClippy.Count,
            AvgClippyWarnings = !clippy || withClippy.Count == 0 ? null : withClippy.Average(r => r.ClippyWarnings!.Value),
            StatusCounts = counts,
            ErrorCodes = codes,
            ClippyLints = lints,
            SecretLikeSamples = results.Count(r => r.SecretLike.Count > 0),
            VerbatimLeakSamples = results.Any(r => r.VerbatimRun is not null) ? results.Count(r => r.VerbatimRun > 0) : null,
            InputIssues = inputIssues,
            Complete = complete,
        };
    }

    /// <summary><paramref name="run"/> values are strings or numbers (int, long, double).</summary>
    public string ToJson(IReadOnlyDictionary<string, object> run)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteBoolean("complete", Complete);
            w.WriteNumber("n_tasks", NTasks);
            w.WriteNumber("n_samples", NSamples);
            w.WriteStartObject("pass_at_k");
            foreach (var p in PassAtKValues)
            {
                w.WriteStartObject(p.K.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Num(w, "value", p.Value);
                w.WriteNumber("computable_tasks", p.ComputableTasks);
                w.WriteNumber("not_computable_tasks", p.NotComputableTasks.Count);
                if (p.NotComputableTasks.Count > 0)
                {
                    w.WriteString("note", $"k={p.K} is larger than the number of samples of {p.NotComputableTasks.Count} task(s); value is null, value_over_computable_tasks averages the others");
                    w.WriteStartArray("not_computable_task_ids");
                    foreach (var t in p.NotComputableTasks.Take(50)) w.WriteStringValue(t);
                    w.WriteEndArray();
                }
                Num(w, "value_over_computable_tasks", p.ValueOverComputableTasks);
                w.WriteEndObject();
            }
            w.WriteEndObject();
            Num(w, "compile_rate", CompileRate);
            Num(w, "clippy_clean_rate", ClippyCleanRate);
            Num(w, "avg_clippy_warnings", AvgClippyWarnings);
            Map(w, "status_counts", StatusCounts);
            Map(w, "error_codes", ErrorCodes);
            Map(w, "clippy_lints", ClippyLints);
            w.WriteNumber("secret_like_samples", SecretLikeSamples);
            if (VerbatimLeakSamples is { } vl) w.WriteNumber("verbatim_leak_samples", vl); else w.WriteNull("verbatim_leak_samples");
            w.WriteNumber("input_issues", InputIssues);
            foreach (var (k, v) in run)
            {
                switch (v)
                {
                    case int i: w.WriteNumber(k, i); break;
                    case long l: w.WriteNumber(k, l); break;
                    case double d: w.WriteNumber(k, Math.Round(d, 3)); break;
                    default: w.WriteString(k, v.ToString()); break;
                }
            }
            w.WriteEndObject();
        }
        return Redactor.Redact(Encoding.UTF8.GetString(ms.ToArray())) + "\n";
    }

    private static void Num(Utf8JsonWriter w, string name, double? v)
    {
        if (v is { } d) w.WriteNumber(name, Math.Round(d, 6)); else w.WriteNull(name);
    }

    private static void Map(Utf8JsonWriter w, string name, IReadOnlyDictionary<string, int> map)
    {
        w.WriteStartObject(name);
        foreach (var (k, v) in map) w.WriteNumber(k, v);
        w.WriteEndObject();
    }
}
