using Smelt.Model;

namespace Smelt.Training.Lora;

/// <summary>The loader behind <c>smelt generate --adapter</c>: validates the adapter against the model, then injects it.</summary>
public sealed class PeftAdapterLoader : IAdapterLoader
{
    public void Apply(LlamaForCausalLM model, string adapterDirectory)
    {
        PeftAdapter.LoadInto(model, adapterDirectory);
        model.eval();
    }
}
