// Activation (gradient) checkpointing for one decoder layer, as a custom autograd function.
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.autograd;

namespace Smelt.Model;

/// <summary>
/// Runs a <see cref="LlamaDecoderLayer"/> without keeping its activations. The forward pass runs the layer with autograd off
/// and saves only its input (plus the rotary tables and mask, which every layer shares); backward re-runs the layer with
/// autograd on from that input and back-propagates the incoming gradient through the recomputed graph, so the parameters
/// inside the layer (LoRA adapters) accumulate the same gradients as without checkpointing, and the input gets its gradient.
/// The CPU generators' states (torch's and the position of the layer's <see cref="LlamaDecoderLayer.DropoutGenerator"/>) are taken before the first run and
/// put back for the recompute (then restored to where they were), so dropout draws the same masks both times and the random
/// streams after the step are the same as without checkpointing.
/// The CUDA generator's state is not reachable from TorchSharp 0.107, so on CUDA this holds only for layers without dropout.
/// </summary>
public sealed class CheckpointedLayer : SingleTensorFunction<CheckpointedLayer>
{
    public override string Name => nameof(CheckpointedLayer);

    /// <summary>The layer's output for x; call with autograd on (with it off there is nothing to save, so just call the layer).</summary>
    public static Tensor Run(LlamaDecoderLayer layer, Tensor x, Tensor cos, Tensor sin, Tensor mask)
    {
        // The node joins the graph only if an input needs a gradient. Over frozen embeddings the first layer's input does not,
        // and the adapters inside would silently get none; a detached copy that asks for one keeps the node in the graph.
        var input = x.requires_grad ? x : x.detach().requires_grad_(true);
        return apply(input, cos, sin, mask, layer);
    }

    public override Tensor forward(AutogradContext ctx, params object[] vars)
    {
        var (x, cos, sin, mask, layer) = ((Tensor)vars[0], (Tensor)vars[1], (Tensor)vars[2], (Tensor)vars[3], (LlamaDecoderLayer)vars[4]);
        ctx.save_for_backward([x, cos, sin, mask]);
        ctx.save_data("layer", layer);
        using (var state = random.get_rng_state()) ctx.save_data("rng", state.data<byte>().ToArray());
        ctx.save_data("dropout", layer.DropoutGenerator.Position);
        return layer.Forward(x, cos, sin, mask, null, 0);
    }

    public override List<Tensor> backward(AutogradContext ctx, Tensor gradOutput)
    {
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        var layer = (LlamaDecoderLayer)ctx.get_data("layer");
        var x = saved[0].detach().requires_grad_(true);
        var now = random.get_rng_state();
        var dropoutNow = layer.DropoutGenerator.Position;
        random.set_rng_state(tensor((byte[])ctx.get_data("rng")));
        layer.DropoutGenerator.Position = (ulong)ctx.get_data("dropout");
        try
        {
            using (enable_grad())
            {
                var y = layer.Forward(x, saved[1], saved[2], saved[3], null, 0);
                autograd.backward([y], [gradOutput]);
            }
        }
        finally { random.set_rng_state(now); layer.DropoutGenerator.Position = dropoutNow; }
        // The engine copies the returned gradient; its wrapper lives until the caller's dispose scope ends.
        var dx = x.grad!.MoveToOuterDisposeScope();
        gradOutput.Dispose(); // ours (a fresh wrapper from the engine); freed now rather than at the caller's scope end
        return [dx, null!, null!, null!, null!];
    }
}
