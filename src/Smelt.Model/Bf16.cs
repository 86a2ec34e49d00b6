namespace Smelt.Model;

/// <summary>bfloat16 bit patterns, for code that fills bf16 tensors directly.</summary>
public static class Bf16
{
    /// <summary>The bf16 nearest to an f32 (ties to even), as libtorch's conversion rounds; every NaN becomes 0x7FC0, as there.</summary>
    public static ushort FromSingle(float value)
    {
        if (float.IsNaN(value)) return 0x7FC0;
        var bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16);
    }
}
