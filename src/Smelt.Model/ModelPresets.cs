using System.Text.Json;
using Smelt.Core;
using static TorchSharp.torch;

namespace Smelt.Model;

/// <summary>Randomly initialised Llama models in Hugging Face layout, so every command runs without a download.</summary>
public static class ModelPresets
{
    public sealed record Preset(string Name, ModelConfig Config, int TokenizerVocab, string Description);

    public static IReadOnlyList<Preset> All { get; } =
    [
        new("tiny", Llama(vocab: 2048, hidden: 128, layers: 4, heads: 4, kvHeads: 2, intermediate: 384, maxPositions: 2048), 2048,
            "about 1M parameters; trains in minutes on 2 CPU cores"),
        new("100m", Llama(vocab: 32768, hidden: 768, layers: 12, heads: 12, kvHeads: 4, intermediate: 2048, maxPositions: 4096), 4096,
            "about 100M parameters (benchmarks); embedding rows beyond the tokenizer's vocabulary are padding"),
    ];

    public static Preset Get(string name) =>
        All.FirstOrDefault(p => p.Name == name) ?? throw SmeltException.BadInput($"--preset '{name}': expected one of {string.Join(", ", All.Select(p => p.Name))}");

    private static ModelConfig Llama(int vocab, int hidden, int layers, int heads, int kvHeads, int intermediate, int maxPositions) => new()
    {
        Architecture = "LlamaForCausalLM",
        ModelType = "llama",
        VocabSize = vocab,
        HiddenSize = hidden,
        IntermediateSize = intermediate,
        NumHiddenLayers = layers,
        NumAttentionHeads = heads,
        NumKeyValueHeads = kvHeads,
        HeadDim = hidden / heads,
        RmsNormEps = 1e-5,
        RopeTheta = 500000,
        MaxPositionEmbeddings = maxPositions,
        TieWordEmbeddings = true,
        TorchDtype = "float32",
    };

    public sealed record InitReport(string Directory, long Parameters, int TokenizerVocab, int Merges, string CorpusSource);

    /// <summary>
    /// Writes config.json, model.safetensors, tokenizer.json, tokenizer_config.json and generation_config.json.
    /// The tokenizer's merges are learned from <paramref name="corpus"/> (a file or folder); with none, it is plain bytes.
    /// </summary>
    public static InitReport Init(string presetName, string outDir, long seed, string? corpus)
    {
        var preset = Get(presetName);
        if (File.Exists(outDir)) throw SmeltException.BadInput($"--out {outDir}: is a file, expected a directory");
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
            throw SmeltException.BadInput($"--out {outDir}: directory is not empty; choose a new directory so no existing model is overwritten");
        TorchRuntime.EnsureLoaded();
        IEnumerable<string> texts = [];
        var source = "none (byte-level alphabet only)";
        if (corpus is not null)
        {
            texts = BpeTrainer.ReadCorpus(corpus).ToList();
            source = corpus;
        }
        var trained = BpeTrainer.Train(texts, preset.TokenizerVocab);
        var eosIds = new[] { BpeTrainer.EndOfText, BpeTrainer.EotId, BpeTrainer.ImEnd }.Select(trained.IdOf).ToList();
        var config = preset.Config with
        {
            VocabSize = Math.Max(preset.Config.VocabSize, trained.VocabSize),
            BosTokenId = trained.IdOf(BpeTrainer.BeginOfText),
            EosTokenIds = [trained.IdOf(BpeTrainer.EndOfText)],
            PadTokenId = trained.IdOf(BpeTrainer.Pad),
        };
        // Build everything in a sibling staging folder and rename it into place, so a failure leaves no half model.
        var full = Path.GetFullPath(outDir);
        var staging = full.TrimEnd('/') + $".init-{Environment.ProcessId}.tmp";
        if (Directory.Exists(staging)) Directory.Delete(staging, true);
        Directory.CreateDirectory(staging);
        try
        {
            BpeTrainer.Save(trained, staging);
            var generation = new Dictionary<string, object>
            {
                ["bos_token_id"] = config.BosTokenId!.Value,
                ["eos_token_id"] = eosIds,
                ["pad_token_id"] = config.PadTokenId!.Value,
                ["do_sample"] = true,
                ["temperature"] = 0.8,
                ["top_p"] = 0.95,
            };
            AtomicFile.WriteAllText(Path.Combine(staging, "generation_config.json"), JsonSerializer.Serialize(generation, new JsonSerializerOptions { WriteIndented = true }) + "\n");
            using (var model = new LlamaForCausalLM(config))
            {
                model.InitWeights(seed);
                model.Save(staging);
            }
            if (Directory.Exists(full)) Directory.Delete(full);
            Directory.Move(staging, full);
        }
        catch
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, true);
            throw;
        }
        return new InitReport(full, config.ParameterCount(), trained.VocabSize, trained.Merges.Count, source);
    }

    /// <summary>The bundled Rust corpus (data/corpus) of a source checkout, if there is one.</summary>
    public static string? DefaultCorpus()
    {
        var root = SmeltPaths.RepoRoot;
        var dir = root is null ? null : Path.Combine(root, "data", "corpus");
        return dir is not null && Directory.Exists(dir) && Directory.EnumerateFiles(dir, "*.rs", SearchOption.AllDirectories).Any() ? dir : null;
    }
}
