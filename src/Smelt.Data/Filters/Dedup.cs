using Smelt.Data.Rust;

namespace Smelt.Data.Filters;

/// <summary>
/// Exact duplicates after normalisation: the code's tokens with whitespace and comments ignored (plus the prompt, for
/// instruction records). Keeps the first occurrence. Memory: 16 bytes per kept record.
/// </summary>
public sealed class ExactDedupStage : IRecordStage
{
    private readonly HashSet<UInt128> _seen = [];

    public string Name => "dedup_exact";

    public StageOutcome Apply(TrainingRecord record, FilterReport report) =>
        _seen.Add(Key(record)) ? StageOutcome.Keep(record) : StageOutcome.DropFor("dedup:exact");

    public static UInt128 Key(TrainingRecord record)
    {
        ulong a = 0x51_7C_C1_B7_27_22_0A_95UL, b = 0x2545F4914F6CDD1DUL;
        a = Hash.Combine(a, (ulong)record.Kind);
        b = Hash.Combine(b, (ulong)record.Kind);
        if (record.Prompt is not null)
        {
            var p = Hash.Chars(record.Prompt.Trim());
            a = Hash.Combine(a, p);
            b = Hash.Combine(b, p ^ 0xFFFF);
        }
        foreach (var t in CodeTokens.Code(record.CodeText))
        {
            a = Hash.Combine(a, t);
            b = Hash.Combine(b, t ^ 0xA5A5A5A5A5A5A5A5UL);
        }
        return new UInt128(a, b);
    }
}

/// <summary>
/// Near duplicates by MinHash over token shingles with LSH banding. A record whose estimated Jaccard similarity with an
/// earlier kept record reaches <see cref="DedupOptions.NearThreshold"/> is dropped. Candidates come from
/// <see cref="DedupOptions.Bands"/> bands of <see cref="DedupOptions.RowsPerBand"/> rows: a pair with similarity s becomes
/// a candidate with probability 1 - (1 - s^r)^b (≈ 0.99 at s = 0.8 for 16 × 8), and candidates are confirmed against the
/// full signature. Seeded: the same seed gives the same decisions. Memory: 4 bytes per permutation per kept record plus
/// the band tables.
/// </summary>
public sealed class NearDedupStage : IRecordStage
{
    private readonly DedupOptions _options;
    private readonly ulong[] _a;
    private readonly ulong[] _b;
    private readonly List<uint[]> _signatures = [];
    private readonly Dictionary<ulong, List<int>>[] _bands;

    public NearDedupStage(DedupOptions options)
    {
        if (options.Bands < 1 || options.RowsPerBand < 1) throw new ArgumentException("bands and rows per band must be positive");
        _options = options;
        var n = options.Bands * options.RowsPerBand;
        _a = new ulong[n];
        _b = new ulong[n];
        var state = (ulong)options.Seed;
        for (var i = 0; i < n; i++)
        {
            state = Hash.Mix(state + (ulong)i);
            _a[i] = state | 1;
            state = Hash.Mix(state);
            _b[i] = state;
        }
        _bands = Enumerable.Range(0, options.Bands).Select(_ => new Dictionary<ulong, List<int>>()).ToArray();
    }

    public string Name => "dedup_near";

    public StageOutcome Apply(TrainingRecord record, FilterReport report)
    {
        var sig = Signature(record.CodeText);
        var keys = BandKeys(sig);
        var checkedCandidates = new HashSet<int>();
        for (var band = 0; band < keys.Length; band++)
        {
            if (!_bands[band].TryGetValue(keys[band], out var list)) continue;
            foreach (var candidate in list)
                if (checkedCandidates.Add(candidate) && Similarity(sig, _signatures[candidate]) >= _options.NearThreshold)
                    return StageOutcome.DropFor("dedup:near");
        }
        var id = _signatures.Count;
        _signatures.Add(sig);
        for (var band = 0; band < keys.Length; band++)
        {
            if (!_bands[band].TryGetValue(keys[band], out var list)) _bands[band][keys[band]] = list = [];
            list.Add(id);
        }
        return StageOutcome.Keep(record);
    }

    public uint[] Signature(string code)
    {
        var tokens = CodeTokens.Code(code);
        var k = _options.ShingleTokens;
        var sig = new uint[_a.Length];
        Array.Fill(sig, uint.MaxValue);
        var shingles = Math.Max(1, tokens.Count - k + 1);
        for (var i = 0; i < shingles; i++)
        {
            ulong h = 0xCBF29CE484222325UL;
            for (var j = i; j < Math.Min(tokens.Count, i + k); j++) h = Hash.Combine(h, tokens[j]);
            for (var p = 0; p < sig.Length; p++)
            {
                var v = (uint)((_a[p] * h + _b[p]) >> 32);
                if (v < sig[p]) sig[p] = v;
            }
        }
        return sig;
    }

    public static double Similarity(uint[] x, uint[] y)
    {
        var same = 0;
        for (var i = 0; i < x.Length; i++) if (x[i] == y[i]) same++;
        return (double)same / x.Length;
    }

    private ulong[] BandKeys(uint[] sig)
    {
        var r = _options.RowsPerBand;
        var keys = new ulong[_options.Bands];
        for (var band = 0; band < keys.Length; band++)
        {
            var h = (ulong)band + 1;
            for (var j = 0; j < r; j++) h = Hash.Combine(h, sig[band * r + j]);
            keys[band] = h;
        }
        return keys;
    }
}
