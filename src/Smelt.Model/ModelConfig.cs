using System.Text.Json;
using System.Text.Json.Nodes;
using Smelt.Core;

namespace Smelt.Model;

/// <summary>Rotary-embedding frequency scaling from <c>rope_scaling</c>: none, <c>linear</c> or Llama-3's <c>llama3</c>.</summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositionEmbeddings = 8192);

/// <summary>
/// The parts of a Hugging Face <c>config.json</c> that define a Llama-family decoder
/// (LlamaForCausalLM, Qwen2ForCausalLM, MistralForCausalLM).
/// </summary>
public sealed record ModelConfig
{
    public static readonly IReadOnlyDictionary<string, string> SupportedArchitectures = new Dictionary<string, string>
    {
        ["LlamaForCausalLM"] = "llama",
        ["Qwen2ForCausalLM"] = "qwen2",
        ["MistralForCausalLM"] = "mistral",
    };

    public string Architecture { get; init; } = "LlamaForCausalLM";
    public string ModelType { get; init; } = "llama";
    public int VocabSize { get; init; }
    public int HiddenSize { get; init; }
    public int IntermediateSize { get; init; }
    public int NumHiddenLayers { get; init; }
    public int NumAttentionHeads { get; init; }
    public int NumKeyValueHeads { get; init; }
    public int HeadDim { get; init; }
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000;
    public RopeScaling? RopeScaling { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 2048;
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Bias on q/k/v projections (always on for Qwen2; <c>attention_bias</c> for Llama, which also puts one on o_proj).</summary>
    public bool QkvBias { get; init; }
    public bool OutputBias { get; init; }
    public bool MlpBias { get; init; }
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int? PadTokenId { get; init; }
    public string TorchDtype { get; init; } = "float32";
    /// <summary>Mistral-style local attention: a query sees only the last this-many positions (itself included). Null = full.</summary>
    public int? SlidingWindow { get; init; }

    public long ParameterCount()
    {
        long h = HiddenSize, kv = (long)NumKeyValueHeads * HeadDim, q = (long)NumAttentionHeads * HeadDim;
        var attn = h * q + 2 * h * kv + q * h + (QkvBias ? q + 2 * kv : 0) + (OutputBias ? h : 0);
        var mlp = 3 * h * IntermediateSize;
        var layer = attn + mlp + 2 * h;
        return (long)VocabSize * h * (TieWordEmbeddings ? 1 : 2) + NumHiddenLayers * layer + h;
    }

    public static ModelConfig Load(string directory)
    {
        var path = Path.Combine(directory, "config.json");
        if (!File.Exists(path)) throw SmeltException.BadInput($"{path}: not found; a model directory needs config.json (Hugging Face layout)");
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException ex) { throw SmeltException.BadInput($"{path}: not valid JSON ({ex.Message})"); }
        if (root is not JsonObject obj) throw SmeltException.BadInput($"{path}: expected a JSON object");
        return Parse(obj, path);
    }

    public static ModelConfig Parse(JsonObject o, string path)
    {
        var reader = new Reader(o, path);
        var archs = o["architectures"] as JsonArray;
        var arch = archs?.FirstOrDefault()?.GetValue<string>();
        var modelType = reader.OptString("model_type");
        if (arch is null)
        {
            arch = SupportedArchitectures.FirstOrDefault(kv => kv.Value == modelType).Key
                   ?? throw SmeltException.BadInput($"{path}: no 'architectures' and model_type '{modelType ?? "(missing)"}' is not one of {string.Join(", ", SupportedArchitectures.Values)}");
        }
        if (!SupportedArchitectures.TryGetValue(arch, out var expectedType))
            throw SmeltException.BadInput($"{path}: architecture '{arch}' is not supported (supported: {string.Join(", ", SupportedArchitectures.Keys)})");
        var hidden = reader.Int("hidden_size");
        var heads = reader.Int("num_attention_heads");
        var kvHeads = reader.OptInt("num_key_value_heads") ?? heads;
        var headDim = reader.OptInt("head_dim") ?? (hidden % heads == 0 ? hidden / heads
            : throw SmeltException.BadInput($"{path}: hidden_size {hidden} is not divisible by num_attention_heads {heads} and no head_dim is given"));
        if (heads % kvHeads != 0)
            throw SmeltException.BadInput($"{path}: num_attention_heads {heads} must be a multiple of num_key_value_heads {kvHeads}");
        if (headDim % 2 != 0) throw SmeltException.BadInput($"{path}: head_dim {headDim} must be even for rotary embeddings");
        var isQwen = expectedType == "qwen2";
        var attentionBias = reader.OptBool("attention_bias") ?? false;
        var eos = reader.IntOrList("eos_token_id");
        // Mistral applies sliding_window whenever it is set; Qwen2 only with use_sliding_window (which Smelt does not support).
        int? window = expectedType == "mistral" ? reader.OptInt("sliding_window") : null;
        if (isQwen && (reader.OptBool("use_sliding_window") ?? false))
            throw SmeltException.BadInput($"{path}: use_sliding_window=true is not supported for Qwen2 (its layer-dependent windows are not implemented)");
        var cfg = new ModelConfig
        {
            Architecture = arch,
            ModelType = modelType ?? expectedType,
            VocabSize = reader.Int("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = reader.Int("intermediate_size"),
            NumHiddenLayers = reader.Int("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim,
            RmsNormEps = reader.OptDouble("rms_norm_eps") ?? 1e-6,
            RopeTheta = reader.OptDouble("rope_theta") ?? 10000,
            RopeScaling = ParseRopeScaling(o["rope_scaling"], path),
            MaxPositionEmbeddings = reader.OptInt("max_position_embeddings") ?? 2048,
            TieWordEmbeddings = reader.OptBool("tie_word_embeddings") ?? false,
            QkvBias = isQwen || attentionBias,
            OutputBias = !isQwen && attentionBias,
            MlpBias = reader.OptBool("mlp_bias") ?? false,
            BosTokenId = reader.OptInt("bos_token_id"),
            EosTokenIds = eos,
            PadTokenId = reader.OptInt("pad_token_id"),
            TorchDtype = reader.OptString("torch_dtype") ?? reader.OptString("dtype") ?? "float32",
            SlidingWindow = window,
        };
        if (cfg.TorchDtype is not ("float32" or "float16" or "bfloat16"))
            throw SmeltException.BadInput($"{path}: torch_dtype '{cfg.TorchDtype}' is not supported (float32, float16 or bfloat16)");
        return cfg;
    }

    private static RopeScaling? ParseRopeScaling(JsonNode? node, string path)
    {
        if (node is null) return null;
        if (node is not JsonObject o) throw SmeltException.BadInput($"{path}: rope_scaling must be an object or null");
        var r = new Reader(o, path + " (rope_scaling)");
        var type = r.OptString("rope_type") ?? r.OptString("type") ?? "default";
        return type switch
        {
            "default" => null,
            "linear" => new RopeScaling("linear", r.Double("factor")),
            "llama3" => new RopeScaling("llama3", r.Double("factor"), r.Double("low_freq_factor"), r.Double("high_freq_factor"),
                r.Int("original_max_position_embeddings")),
            _ => throw SmeltException.BadInput($"{path}: rope_scaling type '{type}' is not supported (supported: default, linear, llama3)"),
        };
    }

    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray(Architecture),
            ["model_type"] = ModelType,
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["hidden_act"] = "silu",
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["torch_dtype"] = TorchDtype,
        };
        if (ModelType != "qwen2") o["attention_bias"] = QkvBias;
        if (ModelType == "llama") o["mlp_bias"] = MlpBias;
        if (BosTokenId is int bos) o["bos_token_id"] = bos;
        if (EosTokenIds.Count == 1) o["eos_token_id"] = EosTokenIds[0];
        else if (EosTokenIds.Count > 1) o["eos_token_id"] = new JsonArray(EosTokenIds.Select(e => (JsonNode)e).ToArray());
        if (PadTokenId is int pad) o["pad_token_id"] = pad;
        if (ModelType == "mistral") o["sliding_window"] = SlidingWindow;
        if (RopeScaling is { } rs)
        {
            var s = new JsonObject { ["rope_type"] = rs.Type, ["factor"] = rs.Factor };
            if (rs.Type == "llama3")
            {
                s["low_freq_factor"] = rs.LowFreqFactor;
                s["high_freq_factor"] = rs.HighFreqFactor;
                s["original_max_position_embeddings"] = rs.OriginalMaxPositionEmbeddings;
            }
            o["rope_scaling"] = s;
        }
        else o["rope_scaling"] = null;
        return o;
    }

    public void Save(string directory) =>
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

    /// <summary>Typed access to JSON keys with messages that name the file and key.</summary>
    private sealed class Reader(JsonObject o, string path)
    {
        private JsonValue? Value(string key)
        {
            var node = o[key];
            if (node is null) return null;
            return node as JsonValue ?? throw SmeltException.BadInput($"{path}: key '{key}' must be a single value, found {node.ToJsonString()}");
        }

        public int Int(string key) => OptInt(key) ?? throw SmeltException.BadInput($"{path}: required key '{key}' is missing");
        public double Double(string key) => OptDouble(key) ?? throw SmeltException.BadInput($"{path}: required key '{key}' is missing");

        public int? OptInt(string key)
        {
            var v = Value(key);
            if (v is null) return null;
            if (v.TryGetValue<int>(out var i)) return i > 0 || key.EndsWith("_id") && i >= 0 ? i
                : throw SmeltException.BadInput($"{path}: key '{key}' must be positive, found {i}");
            if (v.TryGetValue<double>(out var d) && d == Math.Floor(d) && d is > 0 and < int.MaxValue) return (int)d;
            throw SmeltException.BadInput($"{path}: key '{key}' must be an integer, found {v.ToJsonString()}");
        }

        public double? OptDouble(string key)
        {
            var v = Value(key);
            if (v is null) return null;
            if (v.TryGetValue<double>(out var d) && double.IsFinite(d) && d > 0) return d;
            throw SmeltException.BadInput($"{path}: key '{key}' must be a positive number, found {v.ToJsonString()}");
        }

        public bool? OptBool(string key)
        {
            var v = Value(key);
            if (v is null) return null;
            return v.TryGetValue<bool>(out var b) ? b : throw SmeltException.BadInput($"{path}: key '{key}' must be true or false, found {v.ToJsonString()}");
        }

        public string? OptString(string key)
        {
            var v = Value(key);
            if (v is null) return null;
            return v.TryGetValue<string>(out var s) ? s : throw SmeltException.BadInput($"{path}: key '{key}' must be a string, found {v.ToJsonString()}");
        }

        public IReadOnlyList<int> IntOrList(string key)
        {
            var node = o[key];
            if (node is null) return [];
            if (node is JsonArray a)
                return a.Select(x => x is JsonValue v && v.TryGetValue<int>(out var i) && i >= 0 ? i
                    : throw SmeltException.BadInput($"{path}: key '{key}' must hold non-negative integers, found {x?.ToJsonString() ?? "null"}")).ToList();
            return [OptInt(key)!.Value];
        }
    }
}
