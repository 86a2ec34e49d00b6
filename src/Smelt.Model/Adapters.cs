using Smelt.Core;

namespace Smelt.Model;

/// <summary>Applies a fine-tuned adapter (a PEFT LoRA directory: adapter_config.json + adapter_model.safetensors) to a loaded model.</summary>
public interface IAdapterLoader
{
    void Apply(LlamaForCausalLM model, string adapterDirectory);
}

/// <summary>
/// Where the fine-tuning project plugs in its adapter loader (set <see cref="Loader"/> at start-up). Until one is registered,
/// asking for an adapter fails with a clear message instead of silently generating with the base model.
/// </summary>
public static class AdapterRegistry
{
    public static IAdapterLoader? Loader { get; set; }

    public static void Apply(LlamaForCausalLM model, string adapterDirectory)
    {
        if (!Directory.Exists(adapterDirectory))
            throw SmeltException.BadInput($"--adapter {adapterDirectory}: directory not found");
        if (Loader is null)
            throw SmeltException.BadInput($"--adapter {adapterDirectory}: loading LoRA adapters is not available in this build yet " +
                                          "(no adapter loader is registered); run without --adapter, or merge the adapter into the weights first");
        Loader.Apply(model, adapterDirectory);
    }
}
