// The Llama-family decoder (Llama 2/3/3.x, Qwen2/2.5, Mistral), top to bottom in one file.
// Module and parameter names follow Hugging Face's LlamaForCausalLM exactly, so a state dict from safetensors
// loads by name: model.embed_tokens, model.layers.{i}.self_attn.{q,k,v,o}_proj, model.layers.{i}.mlp.{gate,up,down}_proj,
// model.layers.{i}.input_layernorm, model.layers.{i}.post_attention_layernorm, model.norm, lm_head.
using Smelt.Core;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Smelt.Model;

/// <summary>
/// TorchSharp turns numbers into temporary native Scalars, including the hidden alpha = 1 of <c>a + b</c>.
/// Nothing keeps such a temporary alive during the native call, so the GC may finalise it while libtorch reads it; under
/// memory pressure that crashed generation with "Unknown scalar type". This file therefore writes additions as
/// <c>a.add(b, NoTempScalars.One)</c> with a Scalar that lives for the whole process.
/// </summary>
internal static class NoTempScalars
{
    internal static readonly Scalar One = 1.ToScalar();
}

/// <summary>x / rms(x) * weight, computed in float32 whatever the model dtype.</summary>
public sealed class RMSNorm : Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _eps;
    private readonly Scalar _epsScalar; // held for the module's lifetime (see NoTempScalars)

    public RMSNorm(long size, double eps, ScalarType dtype = ScalarType.Float32) : base(nameof(RMSNorm))
    {
        weight = new Parameter(ones(size, dtype));
        _eps = eps;
        _epsScalar = eps.ToScalar();
        RegisterComponents();
    }

    public Parameter Weight => weight;

    /// <summary>On the CPU a one-pass kernel (<see cref="FusedRmsNorm"/>) computes exactly <see cref="Composite"/>, up to float rounding.</summary>
    public override Tensor forward(Tensor x) => FusedRmsNorm.Supports(x, weight) ? FusedRmsNorm.Apply(x, weight, _eps) : Composite(x, weight, _epsScalar);

    /// <summary>weight · (x / rms(x)), the normalisation in f32 and rounded to the input dtype before the weight, as in Hugging Face.</summary>
    public static Tensor Composite(Tensor x, Tensor weight, Scalar eps)
    {
        using var scope = NewDisposeScope();
        var h = x.to(ScalarType.Float32);
        h = h * rsqrt((h * h).mean([-1L], keepdim: true).add(eps, NoTempScalars.One));
        return (weight * h.to(x.dtype)).MoveToOuterDisposeScope();
    }
}

/// <summary>Rotary position embedding: inverse frequencies (with optional linear or Llama-3 scaling) and the rotation.</summary>
public sealed class Rotary
{
    private readonly Tensor _invFreq; // [head_dim / 2], float32, CPU

    public Rotary(ModelConfig c)
    {
        var half = c.HeadDim / 2;
        var inv = new float[half];
        for (var i = 0; i < half; i++)
            inv[i] = (float)ScaledInverseFrequency(1.0 / Math.Pow(c.RopeTheta, 2.0 * i / c.HeadDim), c.RopeScaling);
        _invFreq = tensor(inv);
    }

    /// <summary>Llama 3.1's rule: long wavelengths are divided by the factor, short ones kept, the band between blended.</summary>
    public static double ScaledInverseFrequency(double invFreq, RopeScaling? s)
    {
        if (s is null) return invFreq;
        if (s.Type == "linear") return invFreq / s.Factor;
        var wavelength = 2 * Math.PI / invFreq;
        var lowFreqWavelength = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
        var highFreqWavelength = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
        if (wavelength < highFreqWavelength) return invFreq;
        if (wavelength > lowFreqWavelength) return invFreq / s.Factor;
        var smooth = (s.OriginalMaxPositionEmbeddings / wavelength - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
        return (1 - smooth) * invFreq / s.Factor + smooth * invFreq;
    }

    /// <summary>cos and sin of shape [B, 1, T, head_dim] for integer positions [B, T].</summary>
    public (Tensor Cos, Tensor Sin) CosSin(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var freqs = positionIds.to(ScalarType.Float32).unsqueeze(-1) * _invFreq.to(positionIds.device); // [B, T, hd/2]
        var emb = cat([freqs, freqs], -1).unsqueeze(1);                                                   // [B, 1, T, hd]
        return (emb.cos().to(dtype).MoveToOuterDisposeScope(), emb.sin().to(dtype).MoveToOuterDisposeScope());
    }

    /// <summary><see cref="Composite"/>, by a one-pass kernel (<see cref="FusedRotary"/>) for queries and keys on the CPU.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin) => FusedRotary.Supports(x, cos, sin) ? FusedRotary.Apply(x, cos, sin) : Composite(x, cos, sin);

    /// <summary>x * cos + rotate_half(x) * sin, with rotate_half([a, b]) = [-b, a] over the last dimension.</summary>
    public static Tensor Composite(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        var halves = x.chunk(2, -1);
        var rotated = cat([-halves[1], halves[0]], -1);
        return (x * cos).add(rotated * sin, NoTempScalars.One).MoveToOuterDisposeScope();
    }
}

/// <summary>Keys and values of earlier positions, per layer, preallocated to a maximum length.</summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] _k, _v; // each [B, kv_heads, max_len, head_dim]

    public int Length { get; private set; }
    public int MaxLength { get; }
    public long Batch { get; }

    public KvCache(ModelConfig c, long batch, int maxLength, ScalarType dtype, Device device)
    {
        MaxLength = maxLength;
        Batch = batch;
        _k = new Tensor[c.NumHiddenLayers];
        _v = new Tensor[c.NumHiddenLayers];
        for (var i = 0; i < c.NumHiddenLayers; i++)
        {
            _k[i] = zeros([batch, c.NumKeyValueHeads, maxLength, c.HeadDim], dtype, device);
            _v[i] = zeros([batch, c.NumKeyValueHeads, maxLength, c.HeadDim], dtype, device);
        }
    }

    /// <summary>Stores this step's keys/values for one layer and returns views of all of them so far.</summary>
    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        var t = (int)k.shape[2];
        if (Length + t > MaxLength) throw new InvalidOperationException($"KV cache full: {Length} + {t} > {MaxLength} positions");
        _k[layer].narrow(2, Length, t).copy_(k);
        _v[layer].narrow(2, Length, t).copy_(v);
        return (_k[layer].narrow(2, 0, Length + t), _v[layer].narrow(2, 0, Length + t));
    }

    public void Advance(int steps) => Length += steps;

    /// <summary>Copies a one-row cache into every row of this one (identical prompts are prefilled once).</summary>
    public void FillFrom(KvCache single)
    {
        if (single.Batch != 1 || single.Length > MaxLength) throw new ArgumentException("source must be a one-row cache that fits");
        for (var i = 0; i < _k.Length; i++)
        {
            _k[i].narrow(2, 0, single.Length).copy_(single._k[i].narrow(2, 0, single.Length));
            _v[i].narrow(2, 0, single.Length).copy_(single._v[i].narrow(2, 0, single.Length));
        }
        Length = single.Length;
    }

    public void Dispose()
    {
        foreach (var t in _k.Concat(_v)) t.Dispose();
    }
}

/// <summary>
/// Grouped-query self-attention. The four projections are replaceable modules (any Module&lt;Tensor, Tensor&gt;, e.g. a LoRA
/// or NF4 wrapper around the original Linear); setting a property re-registers it under the same Hugging Face name.
/// </summary>
public sealed class LlamaAttention : Module
{
    private Module<Tensor, Tensor> q_proj, k_proj, v_proj, o_proj;
    private readonly int _heads, _kvHeads, _headDim;
    private readonly Scalar _scoreScale; // 1/√hd, held for the module's lifetime (see NoTempScalars)

    public LlamaAttention(ModelConfig c, ScalarType dtype = ScalarType.Float32) : base(nameof(LlamaAttention))
    {
        _heads = c.NumAttentionHeads; _kvHeads = c.NumKeyValueHeads; _headDim = c.HeadDim;
        _scoreScale = (1.0 / Math.Sqrt(_headDim)).ToScalar();
        q_proj = Linear(c.HiddenSize, _heads * _headDim, hasBias: c.QkvBias, dtype: dtype);
        k_proj = Linear(c.HiddenSize, _kvHeads * _headDim, hasBias: c.QkvBias, dtype: dtype);
        v_proj = Linear(c.HiddenSize, _kvHeads * _headDim, hasBias: c.QkvBias, dtype: dtype);
        o_proj = Linear(_heads * _headDim, c.HiddenSize, hasBias: c.OutputBias, dtype: dtype);
        RegisterComponents();
    }

    public Module<Tensor, Tensor> QProj { get => q_proj; set => q_proj = Swap("q_proj", value); }
    public Module<Tensor, Tensor> KProj { get => k_proj; set => k_proj = Swap("k_proj", value); }
    public Module<Tensor, Tensor> VProj { get => v_proj; set => v_proj = Swap("v_proj", value); }
    public Module<Tensor, Tensor> OProj { get => o_proj; set => o_proj = Swap("o_proj", value); }

    private Module<Tensor, Tensor> Swap(string name, Module<Tensor, Tensor> value)
    {
        ArgumentNullException.ThrowIfNull(value);
        register_module(name, null!);
        register_module(name, value);
        return value;
    }

    /// <param name="x">[B, T, hidden]</param>
    /// <param name="mask">additive mask [B or 1, 1, T, S] in the query dtype (0 = attend, large negative = not)</param>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor mask, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = q_proj.forward(x).view(b, t, _heads, _headDim).transpose(1, 2);     // [B, H, T, hd]
        var k = k_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);   // [B, KV, T, hd]
        var v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);
        q = Rotary.Apply(q, cos, sin);
        k = Rotary.Apply(k, cos, sin);
        if (cache is not null) (k, v) = cache.Append(layer, k, v);                   // [B, KV, S, hd]
        var y = Attend(q, k, v, mask);                                                // softmax(q kᵀ / √hd + mask) v
        y = y.transpose(1, 2).reshape(b, t, _heads * _headDim);
        return o_proj.forward(y).MoveToOuterDisposeScope();
    }

    /// <summary>Largest float32 [B, H, T, S] score tensor that attention computes explicitly; above it the fused kernel runs.</summary>
    public long ExplicitScoresMaxBytes { get; set; } = 32L << 20;

    /// <summary>Query heads g·j … g·j+g−1 share key/value head j (grouped-query attention, g = heads / kv heads).</summary>
    private Tensor Attend(Tensor q, Tensor k, Tensor v, Tensor mask)
    {
        long b = q.shape[0], t = q.shape[2], s = k.shape[2], g = _heads / _kvHeads;
        if (b * _heads * t * s * 4 > ExplicitScoresMaxBytes || t == 1)
        {
            // Long sequences: the fused (flash) kernel never holds the [T, S] scores, which may not fit in memory.
            // Decode steps too: each new key length would make oneDNN build new bf16 GEMM kernels, every step.
            if (g > 1) (k, v) = (k.repeat_interleave(g, dim: 1), v.repeat_interleave(g, dim: 1));
            return functional.scaled_dot_product_attention(q, k, v, mask);
        }
        // Short ones: two batched GEMMs in the model dtype, as Hugging Face's eager attention does; libtorch's CPU softmax
        // computes in f32 whatever the dtype and rounds once, which is what softmax(f32).to(dtype) gives, without the f32
        // copies. On the CPU this is faster than the fused kernel, whose bf16 GEMMs run as f32 ones (docs/model.md).
        var scores = mask.unsqueeze(1).add(matmul(q.view(b, _kvHeads, g, t, _headDim), k.unsqueeze(2).transpose(-1, -2)), _scoreScale);
        var p = scores.softmax(-1);                                                   // [B, KV, g, T, S]
        return matmul(p, v.unsqueeze(2)).view(b, _heads, t, _headDim);
    }
}

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)). Projections are replaceable like the attention's.</summary>
public sealed class LlamaMLP : Module<Tensor, Tensor>
{
    private Module<Tensor, Tensor> gate_proj, up_proj, down_proj;

    public LlamaMLP(ModelConfig c, ScalarType dtype = ScalarType.Float32) : base(nameof(LlamaMLP))
    {
        gate_proj = Linear(c.HiddenSize, c.IntermediateSize, hasBias: c.MlpBias, dtype: dtype);
        up_proj = Linear(c.HiddenSize, c.IntermediateSize, hasBias: c.MlpBias, dtype: dtype);
        down_proj = Linear(c.IntermediateSize, c.HiddenSize, hasBias: c.MlpBias, dtype: dtype);
        RegisterComponents();
    }

    public Module<Tensor, Tensor> GateProj { get => gate_proj; set => gate_proj = Swap("gate_proj", value); }
    public Module<Tensor, Tensor> UpProj { get => up_proj; set => up_proj = Swap("up_proj", value); }
    public Module<Tensor, Tensor> DownProj { get => down_proj; set => down_proj = Swap("down_proj", value); }

    private Module<Tensor, Tensor> Swap(string name, Module<Tensor, Tensor> value)
    {
        ArgumentNullException.ThrowIfNull(value);
        register_module(name, null!);
        register_module(name, value);
        return value;
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var (gate, up) = (gate_proj.forward(x), up_proj.forward(x));
        var h = FusedSwiGlu.Supports(gate, up) ? FusedSwiGlu.Apply(gate, up) : functional.silu(gate) * up; // the kernel: one pass on the CPU
        return down_proj.forward(h).MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-norm residual block: x + attn(norm(x)), then + mlp(norm(x)).</summary>
public sealed class LlamaDecoderLayer : Module
{
    private readonly LlamaAttention self_attn;
    private readonly LlamaMLP mlp;
    private readonly RMSNorm input_layernorm, post_attention_layernorm;

    /// <summary>The generator that dropout inside this layer draws from (the adapters' own); gradient checkpointing rewinds it.</summary>
    public DropoutRandom DropoutGenerator { get; set; } = DropoutRandom.Default;

    public LlamaDecoderLayer(ModelConfig c, ScalarType dtype = ScalarType.Float32) : base(nameof(LlamaDecoderLayer))
    {
        self_attn = new LlamaAttention(c, dtype);
        mlp = new LlamaMLP(c, dtype);
        input_layernorm = new RMSNorm(c.HiddenSize, c.RmsNormEps, dtype);
        post_attention_layernorm = new RMSNorm(c.HiddenSize, c.RmsNormEps, dtype);
        RegisterComponents();
    }

    public LlamaAttention SelfAttn => self_attn;
    public LlamaMLP Mlp => mlp;

    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor mask, KvCache? cache, int layer)
    {
        using var scope = NewDisposeScope();
        var h = x.add(self_attn.Forward(input_layernorm.forward(x), cos, sin, mask, cache, layer), NoTempScalars.One);
        return h.add(mlp.forward(post_attention_layernorm.forward(h)), NoTempScalars.One).MoveToOuterDisposeScope();
    }
}

/// <summary>The decoder stack without the head (Hugging Face's LlamaModel, registered as "model").</summary>
public sealed class LlamaModel : Module
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly RMSNorm norm;

    public LlamaModel(ModelConfig c, ScalarType dtype = ScalarType.Float32) : base(nameof(LlamaModel))
    {
        embed_tokens = Embedding(c.VocabSize, c.HiddenSize, dtype: dtype);
        layers = new ModuleList<LlamaDecoderLayer>(Enumerable.Range(0, c.NumHiddenLayers).Select(_ => new LlamaDecoderLayer(c, dtype)).ToArray());
        norm = new RMSNorm(c.HiddenSize, c.RmsNormEps, dtype);
        RegisterComponents();
    }

    public Embedding EmbedTokens => embed_tokens;
    public IList<LlamaDecoderLayer> Layers => layers;
    public RMSNorm Norm => norm;
}

/// <summary>
/// LlamaForCausalLM: token ids in, next-token logits out. <see cref="Forward"/> takes optional position ids, an attention
/// mask (a [B, S] padding mask, or a [B, 1, T, S] boolean "may attend" mask such as <see cref="PackedCausalMask"/>) and an
/// optional <see cref="KvCache"/>. Without a cache every call sees the whole sequence; with one, only the new tokens.
/// </summary>
public sealed class LlamaForCausalLM : Module<Tensor, Tensor>
{
    private readonly LlamaModel model;
    private readonly Linear? lm_head;
    private readonly Rotary _rotary;

    public ModelConfig Config { get; }

    /// <param name="dtype">parameter dtype; modules are created in it directly, so a bf16 model never exists in f32 first</param>
    public LlamaForCausalLM(ModelConfig config, ScalarType dtype = ScalarType.Float32) : base(nameof(LlamaForCausalLM))
    {
        Config = config;
        model = new LlamaModel(config, dtype);
        if (!config.TieWordEmbeddings) lm_head = Linear(config.HiddenSize, config.VocabSize, hasBias: false, dtype: dtype);
        _rotary = new Rotary(config);
        RegisterComponents();
    }

    public LlamaModel Model => model;
    /// <summary>When on, training forwards keep only each layer's input and recompute it in backward (<see cref="CheckpointedLayer"/>).</summary>
    public bool GradientCheckpointing { get; set; }
    public ScalarType DType => model.EmbedTokens.weight!.dtype;
    public Device Device => model.EmbedTokens.weight!.device;

    public override Tensor forward(Tensor inputIds) => Forward(inputIds);

    /// <returns>logits [B, T, vocab] in float32</returns>
    public Tensor Forward(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        return Logits(Hidden(inputIds, positionIds, attentionMask, cache)).MoveToOuterDisposeScope();
    }

    /// <summary>The output head's weight [vocab, hidden]: lm_head's, or the embedding's when the two are tied.</summary>
    public Parameter HeadWeight => lm_head?.weight ?? model.EmbedTokens.weight!;

    /// <summary>Next-token logits in float32 for final hidden states [..., hidden] (the head alone; see <see cref="Hidden"/>).</summary>
    public Tensor Logits(Tensor hidden)
    {
        using var scope = NewDisposeScope();
        var logits = lm_head is not null ? lm_head.forward(hidden) : matmul(hidden, model.EmbedTokens.weight!.t());
        return logits.to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>The final hidden states [B, T, hidden] (after the last norm), in the model dtype: <see cref="Forward"/> without the head.</summary>
    public Tensor Hidden(Tensor inputIds, Tensor? positionIds = null, Tensor? attentionMask = null, KvCache? cache = null)
    {
        using var scope = NewDisposeScope();
        long b = inputIds.shape[0], t = inputIds.shape[1];
        var past = cache?.Length ?? 0;
        positionIds ??= Range(past, past + t, inputIds.device).unsqueeze(0).expand(b, t);
        var mask = AdditiveMask(attentionMask, b, t, past, inputIds.device);
        var h = model.EmbedTokens.forward(inputIds);
        var (cos, sin) = _rotary.CosSin(positionIds, h.dtype);
        var checkpoint = GradientCheckpointing && cache is null && is_grad_enabled();
        for (var i = 0; i < model.Layers.Count; i++)
            h = checkpoint ? CheckpointedLayer.Run(model.Layers[i], h, cos, sin, mask) : model.Layers[i].Forward(h, cos, sin, mask, cache, i);
        h = model.Norm.forward(h);
        cache?.Advance((int)t);
        return h.MoveToOuterDisposeScope();
    }

    /// <summary>Turns the caller's mask (or none: plain causal) into the additive [B|1, 1, T, S] mask attention adds to its scores.</summary>
    private Tensor AdditiveMask(Tensor? attentionMask, long b, long t, int past, Device device)
    {
        var s = past + t;
        Tensor allowed;
        if (attentionMask is null || attentionMask.dim() == 2)
        {
            var qPos = Range(past, s, device).unsqueeze(1);            // [T, 1]
            var kPos = Range(0, s, device).unsqueeze(0);               // [1, S]
            var visible = kPos <= qPos;                                 // causal
            if (Config.SlidingWindow is int window)
            {
                using var w = window.ToScalar();
                visible = visible & qPos.sub(kPos).lt(w);
            }
            allowed = visible.unsqueeze(0).unsqueeze(0);                // [1, 1, T, S]
            if (attentionMask is not null)
            {
                if (attentionMask.shape[0] != b || attentionMask.shape[1] != s)
                    throw new ArgumentException($"attention mask shape [{string.Join(", ", attentionMask.shape)}] must be [batch {b}, past+new {s}]");
                allowed = allowed & attentionMask.to(ScalarType.Bool).to(device).view(b, 1, 1, s);
            }
        }
        else if (attentionMask.dim() == 4)
        {
            if (attentionMask.shape[2] != t || attentionMask.shape[3] != s)
                throw new ArgumentException($"4-D attention mask shape [{string.Join(", ", attentionMask.shape)}] must be [B, 1, {t}, {s}]");
            allowed = attentionMask.to(ScalarType.Bool).to(device);
        }
        else throw new ArgumentException("attention mask must be [B, S] (padding) or [B, 1, T, S] (may-attend)");
        // A large finite negative rather than -inf: rows with nothing to attend to (padding) stay finite instead of NaN.
        var zero = zeros(1, dtype: DType, device: device);
        var blocked = tensor(new[] { DType == ScalarType.Float32 ? -1e30f : -3e4f }).to(DType).to(device);
        return where(allowed, zero, blocked);
    }

    /// <summary>from, from+1, ..., to-1 as int64, built on the host (torch.arange would take temporary Scalars).</summary>
    private static Tensor Range(long from, long to, Device? device)
    {
        var values = new long[to - from];
        for (var i = 0; i < values.Length; i++) values[i] = from + i;
        return tensor(values, device: device);
    }

    /// <summary>
    /// For packed training sequences: a [1, 1, T, T] mask where each token sees only earlier tokens of its own segment,
    /// and position ids [1, T] that restart at 0 for each segment.
    /// </summary>
    public static (Tensor Mask, Tensor PositionIds) PackedCausalMask(IReadOnlyList<int> segmentLengths, Device? device = null)
    {
        var total = segmentLengths.Sum();
        var segment = new long[total];
        var position = new long[total];
        var at = 0;
        for (var s = 0; s < segmentLengths.Count; s++)
            for (var i = 0; i < segmentLengths[s]; i++, at++) { segment[at] = s; position[at] = i; }
        using var scope = NewDisposeScope();
        var seg = tensor(segment, device: device);
        var idx = Range(0, total, device);
        var mask = (seg.unsqueeze(1) == seg.unsqueeze(0)) & (idx.unsqueeze(0) <= idx.unsqueeze(1));
        return (mask.view(1, 1, total, total).MoveToOuterDisposeScope(), tensor(position, device: device).unsqueeze(0).MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Every replaceable projection under its full Hugging Face name (model.layers.{i}.self_attn.q_proj, ...mlp.down_proj).
    /// <paramref name="replace"/> gets the name and current module and returns a new module, or null to keep it.
    /// </summary>
    public void ReplaceProjections(Func<string, Module<Tensor, Tensor>, Module<Tensor, Tensor>?> replace)
    {
        for (var i = 0; i < model.Layers.Count; i++)
        {
            var a = model.Layers[i].SelfAttn;
            var m = model.Layers[i].Mlp;
            var p = $"model.layers.{i}.";
            if (replace(p + "self_attn.q_proj", a.QProj) is { } q) a.QProj = q;
            if (replace(p + "self_attn.k_proj", a.KProj) is { } k) a.KProj = k;
            if (replace(p + "self_attn.v_proj", a.VProj) is { } v) a.VProj = v;
            if (replace(p + "self_attn.o_proj", a.OProj) is { } o) a.OProj = o;
            if (replace(p + "mlp.gate_proj", m.GateProj) is { } g) m.GateProj = g;
            if (replace(p + "mlp.up_proj", m.UpProj) is { } u) m.UpProj = u;
            if (replace(p + "mlp.down_proj", m.DownProj) is { } d) m.DownProj = d;
        }
    }

    public IEnumerable<string> ProjectionNames()
    {
        var names = new List<string>();
        ReplaceProjections((n, _) => { names.Add(n); return null; });
        return names;
    }

    /// <summary>Hugging Face initialisation: normal(0, 0.02) for linear and embedding weights, zero biases, ones for norms.</summary>
    public void InitWeights(long seed, double std = 0.02)
    {
        using var noGrad = no_grad();
        var g = new Generator((ulong)seed);
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("layernorm.weight") || name == "model.norm.weight") p.copy_(ones_like(p));
            else if (name.EndsWith(".bias")) p.zero_();
            else p.normal_(0, std, g);
        }
    }

    /// <summary>The tensors to save, under Hugging Face names (a tied head is not saved separately).</summary>
    public List<(string Name, Tensor Tensor)> NamedWeights() =>
        state_dict().Select(kv => (kv.Key, kv.Value)).ToList();

    /// <summary>Reads config.json and the safetensors weights of a Hugging Face model directory.</summary>
    public static LlamaForCausalLM Load(string directory, ScalarType? dtype = null, Device? device = null)
    {
        TorchRuntime.EnsureLoaded();
        var config = ModelConfig.Load(directory);
        using var weights = SafetensorsCheckpoint.Open(directory);
        var targetType = dtype ?? DTypeOf(config.TorchDtype);
        var m = new LlamaForCausalLM(config, targetType);
        m.LoadWeights(weights);
        if (device is not null && device.type != DeviceType.CPU) m.to(device);
        m.eval();
        return m;
    }

    /// <summary>Copies every parameter from the checkpoint, one tensor at a time, straight into the model's storage.</summary>
    public void LoadWeights(SafetensorsCheckpoint weights)
    {
        var expected = state_dict();
        var missing = expected.Keys.Where(k => !weights.Contains(k)).ToList();
        if (missing.Count > 0)
            throw SmeltException.BadInput($"{weights.Directory}: the weights lack {missing.Count} tensor(s) the config implies, e.g. '{missing[0]}' " +
                                          "(config.json and the safetensors do not match)");
        var unexpected = weights.Names.Where(n => !expected.ContainsKey(n) && !(Config.TieWordEmbeddings && n == "lm_head.weight")
                                                  && !n.EndsWith("rotary_emb.inv_freq")).ToList();
        if (unexpected.Count > 0)
            throw SmeltException.BadInput($"{weights.Directory}: the weights hold {unexpected.Count} tensor(s) this model does not have, e.g. '{unexpected[0]}' " +
                                          $"(architecture {Config.Architecture} with {Config.NumHiddenLayers} layers)");
        foreach (var (name, t) in expected) weights.CopyInto(name, t);
    }

    public void Save(string directory, long maxShardBytes = long.MaxValue)
    {
        Config.Save(directory);
        SafetensorsCheckpoint.Write(directory, NamedWeights(), maxShardBytes);
    }

    public static ScalarType DTypeOf(string name) => name switch
    {
        "float32" => ScalarType.Float32,
        "bfloat16" => ScalarType.BFloat16,
        "float16" => ScalarType.Float16,
        _ => throw SmeltException.BadInput($"dtype '{name}' is not supported (float32, bfloat16, float16)"),
    };
}
