using Smelt.Core;
using Smelt.Model;
using Smelt.Training.Config;
using Smelt.Training.Data;
using static TorchSharp.torch;

namespace Smelt.Training;

/// <summary>
/// What <c>smelt train</c> does, in order: read and validate the config, check the model directory, tokenizer and data
/// (sources built, filters run once and reported) before any weights are loaded, then load the base model and train.
/// </summary>
public static class TrainRunner
{
    public static TrainConfig LoadConfig(string? configPath, IEnumerable<string> overrides) =>
        configPath is null
            ? ConfigLoader.LoadText(ConfigLoader.EmbeddedDefaultText(), ConfigLoader.EmbeddedDefaultName, overrides)
            : ConfigLoader.LoadFile(configPath, overrides);

    /// <summary>Everything up to (not including) loading the weights: config vs model, tokenizer, data sources and filters.</summary>
    public static void Check(TrainConfig cfg, ITrainProgress progress)
    {
        TorchRuntime.EnsureLoaded();
        var (modelConfig, tokenizer, tok) = Inspect(cfg);
        using (tokenizer)
        {
            var outDir = Path.GetFullPath(cfg.Output.Dir);
            Directory.CreateDirectory(outDir);
            new PipelineData(cfg).Analyse(cfg.EffectivePhases(), outDir, progress);
        }
    }

    private static (ModelConfig, TextTokenizer, TokenizerAdapter) Inspect(TrainConfig cfg)
    {
        var modelDir = ResolveModel(cfg.Model);
        var modelConfig = ModelConfig.Load(modelDir);
        var tokenizer = TextTokenizer.Load(modelDir);
        try
        {
            tokenizer.CheckMatches(modelConfig, modelDir);
            var tok = new TokenizerAdapter(tokenizer, modelConfig);
            Trainer.Preflight(cfg, modelConfig, tok, modelDir);
            return (modelConfig, tokenizer, tok);
        }
        catch
        {
            tokenizer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// model.path as a local directory: an existing directory is used as is; a hub id (<c>org/name</c> or <c>hf://org/name</c>)
    /// is fetched into (or found in) the shared hub cache at model.revision through Smelt.Hub.
    /// </summary>
    public static string ResolveModel(ModelSection model)
    {
        var path = model.Path;
        if (Directory.Exists(path)) return path;
        var hubLike = path.StartsWith("hf://", StringComparison.Ordinal)
                      || (path.Count(c => c == '/') == 1 && !path.StartsWith('.') && !path.StartsWith('~') && !Path.IsPathRooted(path));
        if (!hubLike)
            throw SmeltException.BadInput($"model.path '{path}': no such directory. Create the tiny model with `./smelt model init --preset tiny --out {path}`, " +
                                          "or give a hub id (org/name) to download");
        return Smelt.Hub.ModelLocator.ResolveAsync(path, Smelt.Hub.RepoType.Model, model.Revision == "main" ? null : model.Revision)
            .GetAwaiter().GetResult();
    }

    public static TrainResult Run(TrainConfig cfg, bool resume, ITrainProgress progress, int? threads = null, CancellationToken ct = default)
    {
        TorchRuntime.EnsureLoaded();
        if (threads is { } n) set_num_threads(n);
        var (_, tokenizer, tok) = Inspect(cfg);
        var modelDir = tokenizer.Directory;
        using var _tokenizer = tokenizer;

        var outDir = Path.GetFullPath(cfg.Output.Dir);
        if (!resume && new Checkpoints.CheckpointStore(Path.Combine(outDir, "checkpoints"), cfg.Output.KeepLast).Latest() is not null)
            throw SmeltException.BadInput($"{outDir} already holds checkpoints of a run; pass --resume to continue it, or choose another output.dir (--set output.dir=...)");
        Directory.CreateDirectory(outDir);
        var data = new PipelineData(cfg);
        data.Analyse(cfg.EffectivePhases(), outDir, progress);

        var dtype = cfg.Model.Dtype == "bf16" || cfg.Train.Precision == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
        using var model = LlamaForCausalLM.Load(modelDir, dtype, TorchRuntime.ResolveDevice(cfg.Model.Device));
        var trainer = new Trainer(cfg, model, tok, data, progress);
        return trainer.Run(resume, ct);
    }
}
