using TorchSharp;

namespace Smelt.Training;

/// <summary>
/// Scalars that live for the process, for hot paths: TorchSharp turns numbers (including the hidden alpha = 1 of
/// <c>a + b</c>) into native Scalars that only a finalizer frees, possibly while libtorch still reads them (docs/model.md).
/// </summary>
internal static class Scalars
{
    public static readonly Scalar One = 1.ToScalar();
}
