namespace Smelt.Training.Data;

/// <summary>Where a piece of a document sits in a packed row (for tests, debugging and the data-position record).</summary>
public readonly record struct Piece(string DocId, int RowStart, int Length, int DocOffset, bool Continuation);

/// <summary>
/// One training row of exactly <c>max_seq_len</c> positions. <see cref="Labels"/> are already shifted:
/// the logits at position t are scored against <c>Labels[t]</c> (-100: not scored). <see cref="SegmentIds"/> number the
/// documents in the row from 0 (-1: padding); attention is allowed only within a segment (block-diagonal causal mask),
/// and <see cref="PositionIds"/> restart at 0 in every segment.
/// </summary>
public sealed record PackedRow(int[] InputIds, long[] Labels, long[] PositionIds, int[] SegmentIds, IReadOnlyList<Piece> Pieces)
{
    public int RealTokens => SegmentIds.Count(s => s >= 0);
    public int TargetTokens => Labels.Count(l => l >= 0);
}

/// <summary>
/// Packs tokenised documents into rows of <c>maxSeqLen</c>, streaming (one row in memory at a time).
/// Every token is kept: a document longer than the space left continues in the next row, and the continuation starts
/// with the last token already placed so that the token at the cut is still predicted (each trainable token that has a
/// predecessor in its document is a target exactly once). With <c>pack = false</c> each document starts a new row
/// (the rest padded), still split across rows when longer than <c>maxSeqLen</c>.
/// </summary>
public sealed class Packer
{
    public const long IgnoreIndex = -100;
    private readonly int _maxSeqLen;
    private readonly int _padId;
    private readonly bool _pack;

    public Packer(int maxSeqLen, int padId, bool pack = true)
    {
        if (maxSeqLen < 2) throw new ArgumentOutOfRangeException(nameof(maxSeqLen));
        _maxSeqLen = maxSeqLen;
        _padId = padId;
        _pack = pack;
    }

    public IEnumerable<PackedRow> Pack(IEnumerable<TokenizedDoc> docs)
    {
        var row = new RowBuilder(_maxSeqLen, _padId);
        foreach (var doc in docs)
        {
            if (doc.Tokens.Length == 0) continue;
            if (!_pack && row.Used > 0) yield return row.Flush();
            var start = 0;
            while (start < doc.Tokens.Length)
            {
                var continuation = start > 0;
                var space = _maxSeqLen - row.Used;
                // A continuation needs its overlap token plus at least one new token.
                if (space < (continuation ? 2 : 1) || (!continuation && space < 2 && doc.Tokens.Length > 1))
                {
                    yield return row.Flush();
                    continue;
                }
                var from = continuation ? start - 1 : start;
                var length = Math.Min(space, doc.Tokens.Length - from);
                row.Add(doc, from, length, continuation);
                start = from + length;
                if (row.Used == _maxSeqLen) yield return row.Flush();
            }
        }
        if (row.Used > 0) yield return row.Flush();
    }

    private sealed class RowBuilder(int length, int padId)
    {
        private int[] _ids = new int[length];
        private long[] _labels = new long[length];
        private long[] _positions = new long[length];
        private int[] _segments = new int[length];
        private List<Piece> _pieces = [];

        public int Used { get; private set; }

        public void Add(TokenizedDoc doc, int from, int count, bool continuation)
        {
            var segment = _pieces.Count;
            for (var i = 0; i < count; i++)
            {
                var p = Used + i;
                _ids[p] = doc.Tokens[from + i];
                _positions[p] = i;
                _segments[p] = segment;
                var next = from + i + 1;
                _labels[p] = i + 1 < count && doc.Train[next] ? doc.Tokens[next] : IgnoreIndex;
            }
            _pieces.Add(new Piece(doc.Id, Used, count, from, continuation));
            Used += count;
        }

        public PackedRow Flush()
        {
            for (var p = Used; p < length; p++)
            {
                _ids[p] = padId;
                _labels[p] = IgnoreIndex;
                _positions[p] = 0;
                _segments[p] = -1;
            }
            var row = new PackedRow(_ids, _labels, _positions, _segments, _pieces);
            _ids = new int[length];
            _labels = new long[length];
            _positions = new long[length];
            _segments = new int[length];
            _pieces = [];
            Used = 0;
            return row;
        }
    }
}
