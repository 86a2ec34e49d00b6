using Smelt.Data.Secrets;

namespace Smelt.Data;

/// <summary>What <see cref="CompletionLeakCheck"/> found in one model completion.</summary>
public sealed record CompletionLeak(IReadOnlyList<string> SecretKinds, int LongestVerbatimRun, int MinRunTokens)
{
    public bool HasSecret => SecretKinds.Count > 0;
    public bool HasVerbatimRun => LongestVerbatimRun >= MinRunTokens && MinRunTokens > 0;
    public bool HasLeak => HasSecret || HasVerbatimRun;
}

/// <summary>
/// The output side of leakage measurement, for <c>smelt eval</c>: does a completion contain a secret-like string
/// (any scanner kind, PII included), and, when a training set was indexed, a long verbatim run of training data?
/// </summary>
public sealed class CompletionLeakCheck(SecretScanner scanner, VerbatimLeakIndex? trainingIndex = null)
{
    public CompletionLeak Check(string completion)
    {
        var kinds = scanner.Scan(completion).Select(f => f.Kind).Distinct().Order(StringComparer.Ordinal).ToArray();
        var run = trainingIndex?.LongestRun(completion) ?? 0;
        return new CompletionLeak(kinds, run, trainingIndex?.MinRunTokens ?? 0);
    }
}
