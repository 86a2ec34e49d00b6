using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Smelt.Core;
using Smelt.Model;
using Smelt.Training.Config;
using static TorchSharp.torch;

namespace Smelt.Training.Lora;

/// <summary>
/// Reads and writes adapters in the layout Hugging Face PEFT uses, so Python users can
/// <c>PeftModel.from_pretrained(base, dir)</c>: <c>adapter_config.json</c> (peft_type LORA, task_type CAUSAL_LM, r,
/// lora_alpha, lora_dropout, target_modules, use_rslora, base_model_name_or_path) and <c>adapter_model.safetensors</c>
/// with tensors named <c>base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight</c>.
/// </summary>
public static class PeftAdapter
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";

    /// <summary>A fingerprint of the base model's architecture (config.json without dtype fields), to reject adapters for another base.</summary>
    public static string BaseFingerprint(ModelConfig c) =>
        Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
            $"{c.Architecture}|{c.VocabSize}|{c.HiddenSize}|{c.IntermediateSize}|{c.NumHiddenLayers}|{c.NumAttentionHeads}|{c.NumKeyValueHeads}|{c.HeadDim}")))[..16];

    public static void Save(string directory, AdapterSet adapters, string baseModelNameOrPath)
    {
        Directory.CreateDirectory(directory);
        var config = new JsonObject
        {
            ["peft_type"] = "LORA",
            ["task_type"] = "CAUSAL_LM",
            ["base_model_name_or_path"] = baseModelNameOrPath,
            ["r"] = adapters.Lora.R,
            ["lora_alpha"] = adapters.Lora.Alpha,
            ["lora_dropout"] = adapters.Lora.Dropout,
            ["target_modules"] = new JsonArray([.. adapters.Lora.TargetModules.Select(t => (JsonNode)t)]),
            ["use_rslora"] = adapters.Lora.UseRslora,
            ["bias"] = "none",
            ["fan_in_fan_out"] = false,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["modules_to_save"] = adapters.Lora.ModulesToSave.Count > 0 ? new JsonArray([.. adapters.Lora.ModulesToSave.Select(t => (JsonNode)t)]) : null,
            ["revision"] = null,
            ["smelt_base_fingerprint"] = BaseFingerprint(adapters.Model.Config),
        };
        var tensors = adapters.Parameters().Select(p => (p.PeftName, p.Param.detach().to(ScalarType.Float32).contiguous())).ToList();
        SafetensorsWriter.Write(Path.Combine(directory, WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        foreach (var (_, t) in tensors) t.Dispose();
    }

    /// <summary>The LoRA hyper-parameters stored in an adapter directory (validated).</summary>
    public static (LoraSection Lora, string BaseModel, string? Fingerprint) ReadConfig(string directory)
    {
        var path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path)) throw SmeltException.BadInput($"{directory}: not a PEFT adapter ({ConfigFile} is missing)");
        JsonObject o;
        try { o = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new JsonException("not an object"); }
        catch (JsonException ex) { throw SmeltException.BadInput($"{path}: not valid JSON ({ex.Message})"); }
        string Req(string key) => o[key]?.ToString() ?? throw SmeltException.BadInput($"{path}: required key '{key}' is missing");
        if (Req("peft_type") != "LORA") throw SmeltException.BadInput($"{path}: peft_type '{o["peft_type"]}' is not supported (only LORA)");
        var targets = o["target_modules"] switch
        {
            JsonArray a => a.Select(x => x!.GetValue<string>()).ToList(),
            JsonValue v => [v.GetValue<string>()],
            _ => throw SmeltException.BadInput($"{path}: target_modules is missing"),
        };
        var lora = new LoraSection
        {
            R = int.Parse(Req("r"), System.Globalization.CultureInfo.InvariantCulture),
            Alpha = double.Parse(Req("lora_alpha"), System.Globalization.CultureInfo.InvariantCulture),
            Dropout = o["lora_dropout"] is { } d ? d.GetValue<double>() : 0,
            TargetModules = targets,
            UseRslora = o["use_rslora"]?.GetValue<bool>() ?? false,
            ModulesToSave = o["modules_to_save"] is JsonArray saved ? saved.Select(x => x!.GetValue<string>()).ToList() : [],
        };
        return (lora, o["base_model_name_or_path"]?.ToString() ?? "", o["smelt_base_fingerprint"]?.ToString());
    }

    /// <summary>
    /// Injects LoRA layers described by the adapter into <paramref name="model"/> and loads their weights. Checked before any
    /// compute: the base fingerprint (when recorded), every tensor's presence and shape; a mismatch says which base the adapter wants.
    /// </summary>
    public static AdapterSet LoadInto(LlamaForCausalLM model, string directory, QuantizationSection? quant = null)
    {
        var (lora, baseModel, fingerprint) = ReadConfig(directory);
        var mine = BaseFingerprint(model.Config);
        if (fingerprint is not null && fingerprint != mine)
            throw SmeltException.BadInput($"{directory}: this adapter was trained on a different base model ('{baseModel}', architecture fingerprint {fingerprint}); " +
                                          $"the loaded model's fingerprint is {mine} ({model.Config.NumHiddenLayers} layers, hidden {model.Config.HiddenSize}, vocab {model.Config.VocabSize})");
        var weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(weightsPath)) throw SmeltException.BadInput($"{directory}: {WeightsFile} is missing");
        using var file = SafetensorsFile.Open(weightsPath);
        // Validate shapes against the model before touching it.
        var shapes = new Dictionary<string, (long In, long Out)>();
        model.ReplaceProjections((name, m) =>
        {
            if (m is TorchSharp.Modules.Linear l) shapes[name] = (l.weight!.shape[1], l.weight.shape[0]);
            return null;
        });
        var expected = 0;
        foreach (var (name, (inF, outF)) in shapes)
        {
            if (!lora.TargetModules.Contains(name[(name.LastIndexOf('.') + 1)..])) continue;
            foreach (var (suffix, shape) in new[] { ("lora_A.weight", new[] { (long)lora.R, inF }), ("lora_B.weight", new[] { outF, (long)lora.R }) })
            {
                var key = $"base_model.model.{name}.{suffix}";
                if (!file.Entries.TryGetValue(key, out var entry))
                    throw SmeltException.BadInput($"{weightsPath}: tensor '{key}' is missing; the adapter does not match this base model ('{baseModel}')");
                if (!entry.Shape.SequenceEqual(shape))
                    throw SmeltException.BadInput($"{weightsPath}: '{key}' has shape [{string.Join(", ", entry.Shape)}] but this base model needs [{string.Join(", ", shape)}]; the adapter was trained on another base ('{baseModel}')");
                expected++;
            }
        }
        foreach (var module in lora.ModulesToSave)
            foreach (var (pname, p) in model.named_parameters().Where(p => p.name.EndsWith($"{module}.weight", StringComparison.Ordinal)))
            {
                var key = $"base_model.model.{pname}";
                if (!file.Entries.TryGetValue(key, out var entry) || !entry.Shape.SequenceEqual(p.shape))
                    throw SmeltException.BadInput($"{weightsPath}: '{key}' is missing or has another shape than this base model's [{string.Join(", ", p.shape)}] ('{baseModel}')");
            }
        var extra = file.Entries.Keys.Where(k => k.Contains(".lora_")).Count() - expected;
        if (extra != 0)
            throw SmeltException.BadInput($"{weightsPath}: holds {extra} LoRA tensor(s) for modules this base model does not have ('{baseModel}')");

        var adapters = AdapterSet.Inject(model, lora, quant ?? new QuantizationSection(), seed: 0);
        using (no_grad())
            foreach (var (peftName, p) in adapters.Parameters())
                file.CopyInto(peftName, p);
        return adapters;
    }
}
