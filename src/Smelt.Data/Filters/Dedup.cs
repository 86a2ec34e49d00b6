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
    private readonly uint[] _keys;
    private readonly uint[] _mults;
    private readonly List<uint[]> _signatures = [];
    private readonly Dictionary<ulong, List<int>>[] _bands;

    public NearDedupStage(DedupOptions options)
    {
        if (options.Bands < 1 || options.RowsPerBand < 1) throw new ArgumentException("bands and rows per band must be positive");
        _options = options;
        var n = options.Bands * options.RowsPerBand;
        _keys = new uint[n];
        _mults = new uint[n];
        var state = (ulong)options.Seed;
        for (var i = 0; i < n; i++)
        {
            state = Hash.Mix(state + (ulong)i);
            _keys[i] = (uint)state;
            _mults[i] = (uint)(state >> 32) | 1;
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

    /// <summary>
    /// The MinHash signature: for each permutation p, the minimum over shingles of a seeded 32-bit mix of the shingle hash
    /// (xor with a per-permutation key, multiply by a per-permutation odd constant, then murmur-style xor-shift/multiply
    /// finalisation). Vectorised across permutations.
    /// </summary>
    public uint[] Signature(string code)
    {
        var tokens = CodeTokens.Code(code);
        var k = _options.ShingleTokens;
        var n = _keys.Length;
        var sig = new uint[n];
        Array.Fill(sig, uint.MaxValue);
        var shingles = Math.Max(1, tokens.Count - k + 1);
        var width = System.Numerics.Vector<uint>.Count;
        var vectorEnd = n - n % width;
        var fin1 = new System.Numerics.Vector<uint>(0x85EBCA6Bu);
        var fin2 = new System.Numerics.Vector<uint>(0xC2B2AE35u);
        for (var i = 0; i < shingles; i++)
        {
            ulong h = 0xCBF29CE484222325UL;
            for (var j = i; j < Math.Min(tokens.Count, i + k); j++) h = Hash.Combine(h, tokens[j]);
            var x = (uint)(h ^ (h >> 32));
            var vx = new System.Numerics.Vector<uint>(x);
            for (var p = 0; p < vectorEnd; p += width)
            {
                var v = (vx ^ new System.Numerics.Vector<uint>(_keys, p)) * new System.Numerics.Vector<uint>(_mults, p);
                v ^= System.Numerics.Vector.ShiftRightLogical(v, 16);
                v *= fin1;
                v ^= System.Numerics.Vector.ShiftRightLogical(v, 13);
                v *= fin2;
                v ^= System.Numerics.Vector.ShiftRightLogical(v, 16);
                System.Numerics.Vector.Min(v, new System.Numerics.Vector<uint>(sig, p)).CopyTo(sig, p);
            }
            for (var p = vectorEnd; p < n; p++)
            {
                var v = (x ^ _keys[p]) * _mults[p];
                v ^= v >> 16; v *= 0x85EBCA6Bu; v ^= v >> 13; v *= 0xC2B2AE35u; v ^= v >> 16;
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
