using Smelt.Data.Filters;
using Smelt.Data.Rust;

namespace Smelt.Data;

/// <summary>A run of at least <see cref="VerbatimLeakIndex.MinRunTokens"/> normalised tokens that also occurs in the training data.</summary>
public sealed record VerbatimRun(int Start, int End, int Tokens);

/// <summary>
/// Finds long verbatim runs of training data in a model completion. Every window of <see cref="MinRunTokens"/>
/// normalised tokens (code tokens and comment words, whitespace ignored) of the training set is indexed by a rolling
/// hash; a completion's windows are looked up, and consecutive hits are merged into runs. Memory: one 8-byte hash (plus
/// hash-set overhead, about 24 bytes in all) per training token position.
/// </summary>
public sealed class VerbatimLeakIndex
{
    private readonly HashSet<ulong> _windows = [];

    public int MinRunTokens { get; }
    public long IndexedWindows => _windows.Count;

    public VerbatimLeakIndex(int minRunTokens = 50)
    {
        if (minRunTokens < 4) throw new ArgumentOutOfRangeException(nameof(minRunTokens), "a verbatim run needs at least 4 tokens");
        MinRunTokens = minRunTokens;
    }

    public static VerbatimLeakIndex Build(IEnumerable<TrainingRecord> records, int minRunTokens = 50)
    {
        var index = new VerbatimLeakIndex(minRunTokens);
        foreach (var r in records) index.Add(r.AllText);
        return index;
    }

    public void Add(string trainingText)
    {
        foreach (var h in NGrams.Rolling(CodeTokens.CodeAndWords(trainingText), MinRunTokens)) _windows.Add(h);
    }

    /// <summary>Maximal runs in <paramref name="completion"/>, as character spans, longest first.</summary>
    public IReadOnlyList<VerbatimRun> FindRuns(string completion)
    {
        var spans = new List<(int Start, int End)>();
        var tokens = CodeTokens.CodeAndWords(completion, spans);
        var windows = NGrams.Rolling(tokens, MinRunTokens);
        var runs = new List<VerbatimRun>();
        var i = 0;
        while (i < windows.Length)
        {
            if (!_windows.Contains(windows[i])) { i++; continue; }
            var first = i;
            while (i + 1 < windows.Length && _windows.Contains(windows[i + 1])) i++;
            var lastToken = i + MinRunTokens - 1;
            runs.Add(new VerbatimRun(spans[first].Start, spans[lastToken].End, lastToken - first + 1));
            i++;
        }
        return runs.OrderByDescending(r => r.Tokens).ToArray();
    }

    /// <summary>Length in tokens of the longest verbatim run, 0 when there is none of at least <see cref="MinRunTokens"/>.</summary>
    public int LongestRun(string completion) => FindRuns(completion).FirstOrDefault()?.Tokens ?? 0;
}
