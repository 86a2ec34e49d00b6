using System.Text.Json;
using Smelt.Core;
using Smelt.Data.Rust;

namespace Smelt.Data.Filters;

/// <summary>Rolling polynomial hashes of every window of <c>n</c> consecutive token hashes.</summary>
public static class NGrams
{
    private const ulong Base = 0x100000001B3UL;

    public static ulong[] Rolling(IReadOnlyList<ulong> tokens, int n)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n));
        if (tokens.Count < n) return [];
        var result = new ulong[tokens.Count - n + 1];
        ulong pow = 1;
        for (var i = 1; i < n; i++) pow *= Base;
        ulong h = 0;
        for (var i = 0; i < n; i++) h = h * Base + tokens[i];
        result[0] = h;
        for (var i = n; i < tokens.Count; i++)
        {
            h = (h - tokens[i - n] * pow) * Base + tokens[i];
            result[i - n + 1] = h;
        }
        return result;
    }
}

public sealed record EvalProblem(string TaskId, string Text);

/// <summary>
/// Evaluation problems (HumanEval-style JSONL: <c>task_id</c>, <c>prompt</c>, <c>declaration</c>, <c>canonical_solution</c>)
/// as n-gram sets over normalised tokens (code tokens plus comment words, so docstrings count). n-grams shared by more
/// than <see cref="DecontaminationOptions.MaxProblemsPerNGram"/> problems are boilerplate and ignored.
/// </summary>
public sealed class EvalNGramIndex
{
    private readonly Dictionary<ulong, int[]> _owners = [];
    private readonly int[] _sizes;

    public IReadOnlyList<string> TaskIds { get; }
    public int NGram { get; }
    public int IgnoredBoilerplate { get; }

    public EvalNGramIndex(IReadOnlyList<EvalProblem> problems, int n, int maxProblemsPerNGram)
    {
        NGram = n;
        TaskIds = problems.Select(p => p.TaskId).ToArray();
        var owners = new Dictionary<ulong, List<int>>();
        for (var i = 0; i < problems.Count; i++)
            foreach (var g in NGrams.Rolling(CodeTokens.CodeAndWords(problems[i].Text), n).Distinct())
            {
                if (!owners.TryGetValue(g, out var list)) owners[g] = list = [];
                list.Add(i);
            }
        _sizes = new int[problems.Count];
        foreach (var (g, list) in owners)
        {
            if (list.Count > maxProblemsPerNGram) { IgnoredBoilerplate++; continue; }
            _owners[g] = [.. list];
            foreach (var p in list) _sizes[p]++;
        }
    }

    public int Count => _owners.Count;

    /// <summary>For a text, the problem it overlaps most: shared n-gram count and the fraction of that problem's n-grams.</summary>
    public (int Problem, int Shared, double Fraction) BestOverlap(string text)
    {
        var shared = new Dictionary<int, int>();
        foreach (var g in NGrams.Rolling(CodeTokens.CodeAndWords(text), NGram).Distinct())
            if (_owners.TryGetValue(g, out var ps))
                foreach (var p in ps) shared[p] = shared.GetValueOrDefault(p) + 1;
        var best = (Problem: -1, Shared: 0, Fraction: 0.0);
        foreach (var (p, count) in shared)
        {
            var fraction = _sizes[p] == 0 ? 0 : (double)count / _sizes[p];
            if (fraction > best.Fraction || (fraction == best.Fraction && count > best.Shared)) best = (p, count, fraction);
        }
        return best;
    }

    public static IReadOnlyList<EvalProblem> LoadProblems(string path)
    {
        var problems = new List<EvalProblem>();
        foreach (var line in Jsonl.Read(path))
        {
            if (!line.IsValid) throw SmeltException.BadInput($"{line.Where}: evaluation file line is unusable for decontamination: {line.Error}");
            var o = line.Value!.Value;
            string Field(string k) => o.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
            var text = string.Join("\n", new[] { Field("prompt"), Field("declaration"), Field("canonical_solution") }.Where(s => s.Length > 0));
            if (text.Length == 0)
                throw SmeltException.BadInput($"{line.Where}: evaluation problem has none of 'prompt', 'declaration', 'canonical_solution' as strings");
            var id = Field("task_id");
            problems.Add(new EvalProblem(id.Length > 0 ? id : $"{Path.GetFileName(path)}:{line.LineNumber}", text));
        }
        if (problems.Count == 0) throw SmeltException.BadInput($"{path}: no evaluation problems to decontaminate against");
        return problems;
    }
}

/// <summary>
/// Drops a record that overlaps an evaluation problem: it shares at least <see cref="DecontaminationOptions.MinOverlapFraction"/>
/// of the problem's n-grams, or at least <see cref="DecontaminationOptions.MinSharedNGrams"/> of them. The whole record
/// (prompt and response) is compared.
/// </summary>
public sealed class DecontaminationStage(EvalNGramIndex index, DecontaminationOptions options) : IRecordStage
{
    public string Name => "decontamination";

    public StageOutcome Apply(TrainingRecord record, FilterReport report)
    {
        var (problem, shared, fraction) = index.BestOverlap(record.AllText);
        if (problem < 0 || shared == 0) return StageOutcome.Keep(record);
        if (fraction < options.MinOverlapFraction && shared < options.MinSharedNGrams) return StageOutcome.Keep(record);
        var task = index.TaskIds[problem];
        report.ContaminatedByTask[task] = report.ContaminatedByTask.GetValueOrDefault(task) + 1;
        return StageOutcome.DropFor("decontamination:eval_overlap");
    }
}
