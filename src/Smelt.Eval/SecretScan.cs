using Smelt.Data;
using Smelt.Data.Secrets;

namespace Smelt.Eval;

/// <summary>
/// Leakage measured on the output side: secret-like strings in completions (models reproduce credentials from their
/// training data), with the data pipeline's scanner (every kind it knows, PII included), and, when a training set is
/// given, long verbatim runs of it.
/// </summary>
public static class SecretScan
{
    private static readonly SecretScanner Scanner = new();

    /// <summary>Secret kinds found. A bare PEM private-key header counts too: a model that starts writing a key is leaking, even if the body is cut off.</summary>
    public static IReadOnlyList<string> Find(string text)
    {
        var kinds = Scanner.Scan(text).Select(f => f.Kind);
        if (text.Contains("PRIVATE KEY-----", StringComparison.Ordinal) && text.Contains("-----BEGIN ", StringComparison.Ordinal))
            kinds = kinds.Append(SecretKinds.PrivateKey);
        return kinds.Distinct().Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Replaces every finding with <see cref="Smelt.Core.Redactor.Mask"/>.</summary>
    public static string Mask(string text)
    {
        var findings = Scanner.Scan(text).OrderByDescending(f => f.Start).ToArray();
        var sb = new System.Text.StringBuilder(text);
        var limit = int.MaxValue;
        foreach (var f in findings)
        {
            if (f.End > limit) continue; // overlaps one already masked
            sb.Remove(f.Start, f.Length).Insert(f.Start, Smelt.Core.Redactor.Mask);
            limit = f.Start;
        }
        return sb.ToString();
    }

    /// <summary>Indexes a training set (JSONL records or a directory of source files) for verbatim-run detection.</summary>
    public static VerbatimLeakIndex IndexTrainingData(string path, int minRunTokens)
    {
        var index = new VerbatimLeakIndex(minRunTokens);
        foreach (var item in DataPipeline.CreateSource(new SourceOptions { Path = path }).Read())
            if (item.Record is { } r) index.Add(r.AllText);
        return index;
    }
}
