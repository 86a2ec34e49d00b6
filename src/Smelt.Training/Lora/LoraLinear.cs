using Smelt.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smelt.Training.Lora;

/// <summary>
/// A frozen NF4 linear layer: holds only the quantised weight (and an optional f32 bias) and dequantises it on the fly
/// for every forward pass, so the full-precision weight never stays resident.
/// </summary>
public sealed class Nf4Linear : nn.Module<Tensor, Tensor>
{
    private readonly Nf4Tensor _weight;
    private readonly Tensor? _bias;

    public Nf4Linear(Linear source, int blockSize, bool doubleQuant, int doubleQuantBlock) : base("Nf4Linear")
    {
        InFeatures = source.weight!.shape[1];
        OutFeatures = source.weight.shape[0];
        ComputeType = source.weight.dtype;
        _weight = Nf4Tensor.Quantize(source.weight, blockSize, doubleQuant, doubleQuantBlock);
        _bias = source.bias?.detach().clone();
        register_buffer("nf4_codes", _weight.Packed, persistent: false);
    }

    public long InFeatures { get; }
    public long OutFeatures { get; }
    public ScalarType ComputeType { get; }
    public Nf4Tensor Weight => _weight;
    public long StorageBytes => _weight.StorageBytes + (_bias is null ? 0 : _bias.NumberOfElements * _bias.ElementSize);

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var y = input.requires_grad && is_grad_enabled() ? Nf4Matmul.Apply(input, _weight) : LinearNoBias(input, _weight);
        if (_bias is not null) y = y.add(_bias.to(input.dtype), Scalars.One);
        return y.MoveToOuterDisposeScope();
    }

    private static Tensor LinearNoBias(Tensor input, Nf4Tensor weight)
    {
        using var w = weight.Dequantize(input.dtype);
        return nn.functional.linear(input, w);
    }

    /// <summary>
    /// <c>x · Wᵀ</c> for a frozen NF4 weight, dequantised again for the backward pass instead of being kept (as
    /// bitsandbytes' 4-bit matmul does): the graph holds no full-precision copy of any frozen projection, so the frozen
    /// base stays at its quantised size through the step.
    /// </summary>
    private sealed class Nf4Matmul : autograd.SingleTensorFunction<Nf4Matmul>
    {
        public override string Name => nameof(Nf4Matmul);

        public static Tensor Apply(Tensor input, Nf4Tensor weight) => apply(input, weight);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var (input, weight) = ((Tensor)vars[0], (Nf4Tensor)vars[1]);
            ctx.save_data("weight", weight);
            return LinearNoBias(input, weight);
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            using var w = ((Nf4Tensor)ctx.get_data("weight")).Dequantize(gradOutput.dtype);
            return [matmul(gradOutput, w), null!];
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) { _weight.Dispose(); _bias?.Dispose(); }
        base.Dispose(disposing);
    }
}

/// <summary>
/// LoRA around a frozen linear layer, with PEFT's semantics and names: <c>y = base(x) + B(A(dropout(x))) * scaling</c>
/// (dropout masks from <see cref="DropoutGenerator"/> on the CPU, torch's generator elsewhere),
/// <c>lora_A</c> kaiming-uniform (a = sqrt 5) and <c>lora_B</c> zero at init (so the wrapped layer starts out identical to
/// the base), <c>scaling = alpha / r</c> or <c>alpha / sqrt(r)</c> with rsLoRA. The adapter weights are f32 whatever the
/// base dtype; the adapter path computes in the activations' dtype.
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> base_layer;
    private readonly Linear lora_A;
    private readonly Linear lora_B;
    private readonly double _dropout;
    private readonly Scalar _scaling; // held for the module's lifetime: TorchSharp frees temporary Scalars from a finalizer (docs/model.md)

    public LoraLinear(nn.Module<Tensor, Tensor> baseLayer, long inFeatures, long outFeatures, int r, double alpha, double dropout, bool rsLora, Generator? generator = null)
        : base("LoraLinear")
    {
        base_layer = baseLayer;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Rank = r;
        Scaling = rsLora ? alpha / Math.Sqrt(r) : alpha / r;
        _scaling = Scaling.ToScalar();
        _dropout = dropout;
        lora_A = nn.Linear(inFeatures, r, hasBias: false);
        lora_B = nn.Linear(r, outFeatures, hasBias: false);
        using (no_grad())
        {
            // kaiming_uniform_(a = sqrt 5) on a [r, in] weight is U(-1/sqrt(in), 1/sqrt(in)); drawn here from the given generator.
            var bound = 1.0 / Math.Sqrt(inFeatures);
            using var u = rand([r, inFeatures], generator: generator);
            lora_A.weight!.copy_(u * (2 * bound) - bound);
            nn.init.zeros_(lora_B.weight!);
        }
        foreach (var p in baseLayer.parameters()) p.requires_grad = false;
        register_module("base_layer", base_layer);
        register_module("lora_A", lora_A);
        register_module("lora_B", lora_B);
    }

    public static LoraLinear Wrap(Linear linear, int r, double alpha, double dropout, bool rsLora, Generator? generator = null) =>
        new(linear, linear.weight!.shape[1], linear.weight.shape[0], r, alpha, dropout, rsLora, generator);

    /// <summary>Where CPU dropout masks come from: the training run's own generator (set by <see cref="AdapterSet.Inject"/>).</summary>
    public DropoutRandom DropoutGenerator { get; set; } = DropoutRandom.Default;

    public long InFeatures { get; }
    public long OutFeatures { get; }
    public int Rank { get; }
    public double Scaling { get; }
    public nn.Module<Tensor, Tensor> BaseLayer => base_layer;
    public Parameter A => lora_A.weight!;
    public Parameter B => lora_B.weight!;

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var result = base_layer.forward(input);
        // On the CPU the mask comes from Smelt's parallel generator (libtorch draws CPU dropout masks one element at a time).
        var x = !training || _dropout <= 0 ? input
            : input.device_type == DeviceType.CPU ? DropoutGenerator.Apply(input, _dropout)
            : nn.functional.dropout(input, _dropout, training: true);
        // The adapter path runs in the activations' dtype (bf16 training casts the small A and B, not the large activations);
        // gradients flow back through the casts into the f32 parameters.
        // The scaling goes onto the small B (not the [tokens, out] product), and one addmm adds the product to the base output.
        var a = A.dtype == input.dtype ? (Tensor)A : A.to(input.dtype);
        var scaledB = B.mul(_scaling).to(input.dtype);
        var ax = nn.functional.linear(x, a);
        var sum = addmm(result.reshape(-1, OutFeatures), ax.reshape(-1, Rank), scaledB.t(), beta: 1, alpha: 1);
        return sum.view(result.shape).MoveToOuterDisposeScope();
    }
}
