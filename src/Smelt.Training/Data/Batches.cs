using static TorchSharp.torch;

namespace Smelt.Training.Data;

/// <summary>Rows turned into the tensors the model takes: ids, shifted labels, per-document positions, block-diagonal causal mask.</summary>
public sealed class Batch : IDisposable
{
    public required Tensor InputIds { get; init; }     // [B, T] int64
    public required Tensor Labels { get; init; }       // [B, T] int64, -100 = not scored
    public required Tensor PositionIds { get; init; }  // [B, T] int64
    public required Tensor Mask { get; init; }         // [B, 1, T, T] bool: may attend
    public int TargetTokens { get; init; }
    public int RealTokens { get; init; }

    public static Batch From(IReadOnlyList<PackedRow> rows, Device? device = null)
    {
        var b = rows.Count;
        var t = rows[0].InputIds.Length;
        var ids = new long[b * t];
        var labels = new long[b * t];
        var pos = new long[b * t];
        var seg = new long[b * t];
        for (var r = 0; r < b; r++)
            for (var i = 0; i < t; i++)
            {
                ids[r * t + i] = rows[r].InputIds[i];
                labels[r * t + i] = rows[r].Labels[i];
                pos[r * t + i] = rows[r].PositionIds[i];
                seg[r * t + i] = rows[r].SegmentIds[i];
            }
        using var scope = NewDisposeScope();
        var s = tensor(seg, [b, t], device: device);
        var idx = arange(t, device: device);
        var causal = idx.unsqueeze(0) <= idx.unsqueeze(1);                    // [T, T]: key j <= query i
        var same = s.unsqueeze(2) == s.unsqueeze(1);                          // [B, T, T]
        var mask = (same & causal.unsqueeze(0)).unsqueeze(1);                // [B, 1, T, T]
        return new Batch
        {
            InputIds = tensor(ids, [b, t], device: device).MoveToOuterDisposeScope(),
            Labels = tensor(labels, [b, t], device: device).MoveToOuterDisposeScope(),
            PositionIds = tensor(pos, [b, t], device: device).MoveToOuterDisposeScope(),
            Mask = mask.MoveToOuterDisposeScope(),
            TargetTokens = rows.Sum(r => r.TargetTokens),
            RealTokens = rows.Sum(r => r.RealTokens),
        };
    }

    public void Dispose()
    {
        InputIds.Dispose();
        Labels.Dispose();
        PositionIds.Dispose();
        Mask.Dispose();
    }
}
