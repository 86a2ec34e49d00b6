using Smelt.Core;
using Smelt.Model;
using Smelt.Training.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Smelt.Training.Lora;

/// <summary>Memory held by the frozen base model after LoRA/QLoRA injection.</summary>
public sealed record BaseMemoryReport(long QuantizedParams, long QuantizedBytes, long OtherFrozenParams, long OtherFrozenBytes, long AdapterParams)
{
    /// <summary>Bytes per parameter of the NF4-quantised projections (codes + scales); NaN when nothing is quantised.</summary>
    public double QuantizedBytesPerParam => QuantizedParams == 0 ? double.NaN : (double)QuantizedBytes / QuantizedParams;
    public long FrozenParams => QuantizedParams + OtherFrozenParams;
    public long FrozenBytes => QuantizedBytes + OtherFrozenBytes;
    public double FrozenBytesPerParam => FrozenParams == 0 ? double.NaN : (double)FrozenBytes / FrozenParams;

    public override string ToString() =>
        $"frozen base: {FrozenParams:N0} params in {FrozenBytes / 1048576.0:F1} MiB ({FrozenBytesPerParam:F3} B/param)" +
        (QuantizedParams > 0 ? $"; NF4 projections {QuantizedParams:N0} params in {QuantizedBytes / 1048576.0:F1} MiB ({QuantizedBytesPerParam:F3} B/param), embeddings/norms/head unquantised {OtherFrozenBytes / 1048576.0:F1} MiB" : "") +
        $"; trainable adapter {AdapterParams:N0} params";
}

/// <summary>
/// The LoRA adapters injected into a <see cref="LlamaForCausalLM"/>: every targeted projection is (optionally NF4-quantised and)
/// wrapped in a <see cref="LoraLinear"/>; every base parameter is frozen. Names are the Hugging Face module names
/// (<c>model.layers.0.self_attn.q_proj</c>), in model order.
/// </summary>
public sealed class AdapterSet
{
    private AdapterSet(LlamaForCausalLM model, LoraSection lora, bool quantized, IReadOnlyList<(string Name, LoraLinear Layer)> layers,
        IReadOnlyList<(string Name, Parameter Param)> saved, BaseMemoryReport memory)
    {
        Saved = saved;
        Model = model;
        Lora = lora;
        Quantized = quantized;
        Layers = layers;
        Memory = memory;
    }

    public LlamaForCausalLM Model { get; }
    public LoraSection Lora { get; }
    public bool Quantized { get; }
    public IReadOnlyList<(string Name, LoraLinear Layer)> Layers { get; }
    public BaseMemoryReport Memory { get; }
    /// <summary>
    /// The run's dropout generator, seeded with the injection seed: every adapter and every decoder layer (for gradient
    /// checkpointing's rewind) draws from it, and checkpoints save it. Its own, not the process's, so that runs side by
    /// side in one process (a parallel sweep) each get the masks their seed gives.
    /// </summary>
    public DropoutRandom Dropout { get; private init; } = DropoutRandom.Default;
    /// <summary>Fully trained modules (modules_to_save), by their model parameter name (model.embed_tokens.weight).</summary>
    public IReadOnlyList<(string Name, Parameter Param)> Saved { get; }

    /// <summary>Trainable tensors in a fixed order, with the names PEFT gives them in adapter_model.safetensors.</summary>
    public IEnumerable<(string PeftName, Parameter Param)> Parameters()
    {
        foreach (var (name, layer) in Layers)
        {
            yield return ($"base_model.model.{name}.lora_A.weight", layer.A);
            yield return ($"base_model.model.{name}.lora_B.weight", layer.B);
        }
        foreach (var (name, p) in Saved)
            yield return ($"base_model.model.{name}", p);
    }

    public static AdapterSet Inject(LlamaForCausalLM model, LoraSection lora, QuantizationSection quant, long seed)
    {
        var nf4 = quant.Method == "nf4";
        foreach (var p in model.parameters()) p.requires_grad = false;
        var generator = new Generator((ulong)seed);
        var dropout = new DropoutRandom(seed);
        var layers = new List<(string, LoraLinear)>();
        long qParams = 0, qBytes = 0;
        model.ReplaceProjections((name, current) =>
        {
            var shortName = name[(name.LastIndexOf('.') + 1)..];
            if (!lora.TargetModules.Contains(shortName)) return null;
            if (current is not Linear linear)
                throw new InvalidOperationException($"{name} is a {current.GetType().Name}, not a Linear; LoRA is already applied?");
            long inF = linear.weight!.shape[1], outF = linear.weight.shape[0];
            nn.Module<Tensor, Tensor> baseLayer = linear;
            if (nf4)
            {
                var q = new Nf4Linear(linear, quant.BlockSize, quant.DoubleQuant, quant.DoubleQuantBlock);
                qParams += inF * outF;
                qBytes += q.Weight.StorageBytes;
                linear.Dispose();
                baseLayer = q;
            }
            var wrapped = new LoraLinear(baseLayer, inF, outF, lora.R, lora.Alpha, lora.Dropout, lora.UseRslora, generator) { DropoutGenerator = dropout };
            layers.Add((name, wrapped));
            return wrapped;
        });
        if (layers.Count == 0)
            throw SmeltException.BadInput($"lora.target_modules [{string.Join(", ", lora.TargetModules)}] matched no projection of the model");
        // Once the adapters exist: gradient checkpointing rewinds the generator they draw from.
        foreach (var layer in model.Model.Layers) layer.DropoutGenerator = dropout;
        var saved = new List<(string, Parameter)>();
        foreach (var module in lora.ModulesToSave)
        {
            var match = model.named_parameters().Where(p => p.name.EndsWith($"{module}.weight", StringComparison.Ordinal)).ToList();
            if (match.Count == 0)
                throw SmeltException.BadInput(module == "lm_head" && model.Config.TieWordEmbeddings
                    ? "lora.modules_to_save: this model ties lm_head to embed_tokens; list embed_tokens (it trains both)"
                    : $"lora.modules_to_save: the model has no '{module}'");
            foreach (var (name, p) in match) { p.requires_grad = true; saved.Add((name, p)); }
        }
        long otherParams = 0, otherBytes = 0, adapterParams = 0;
        foreach (var (name, p) in model.named_parameters())
        {
            if (p.requires_grad) { adapterParams += p.NumberOfElements; continue; }
            otherParams += p.NumberOfElements;
            otherBytes += p.NumberOfElements * p.ElementSize;
        }
        return new AdapterSet(model, lora, nf4, layers, saved, new BaseMemoryReport(qParams, qBytes, otherParams, otherBytes, adapterParams)) { Dropout = dropout };
    }
}
