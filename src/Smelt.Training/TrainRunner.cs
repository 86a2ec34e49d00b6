using Smelt.Core;
using Smelt.Model;
using Smelt.Training.Config;
using Smelt.Training.Data;
using Smelt.Training.Evaluation;
using static TorchSharp.torch;

namespace Smelt.Training;

/// <summary>
/// What <c>smelt train</c> does, in order: read and validate the config, check the model directory, tokenizer and data
/// (hub datasets fetched, sources built, filters run once and reported) and the generation eval (problems, sandbox,
/// toolchain) before any weights are loaded, then load the base model and train.
/// </summary>
public static class TrainRunner
{
    public static TrainConfig LoadConfig(string? configPath, IEnumerable<string> overrides) =>
        configPath is null
            ? ConfigLoader.LoadText(ConfigLoader.EmbeddedDefaultText(), ConfigLoader.EmbeddedDefaultName, overrides)
            : ConfigLoader.LoadFile(configPath, overrides);

    /// <summary>Everything up to (not including) loading the weights: config vs model, tokenizer, data sources and filters, generation eval.</summary>
    /// <param name="hub">Hub settings for hub model ids and <c>hub:</c> data sources (default: from the environment).</param>
    public static void Check(TrainConfig cfg, ITrainProgress progress, Smelt.Hub.HubSettings? hub = null)
    {
        TorchRuntime.EnsureLoaded();
        var (modelConfig, tokenizer, tok) = Inspect(cfg, hub);
        using (tokenizer)
        {
            var outDir = Path.GetFullPath(cfg.Output.Dir);
            Directory.CreateDirectory(outDir);
            var hubData = HubDatasets.Resolve(cfg, hub, progress);
            if (cfg.Eval.GenerationEnabled) PrepareGenerationEval(cfg, tokenizer, modelConfig, progress);
            new PipelineData(cfg, hubData).Analyse(cfg.EffectivePhases(), outDir, progress);
        }
    }

    private static GenerationEval PrepareGenerationEval(TrainConfig cfg, TextTokenizer tokenizer, ModelConfig modelConfig, ITrainProgress progress) =>
        GenerationEval.Prepare(cfg.Eval, cfg.Train.Seed, new ModelEvalSampler(tokenizer, modelConfig), progress);

    private static (ModelConfig, TextTokenizer, TokenizerAdapter) Inspect(TrainConfig cfg, Smelt.Hub.HubSettings? hub)
    {
        var modelDir = ResolveModel(cfg.Model, hub);
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

    /// <summary>For a relative path, a note that training-config paths resolve against the current directory (named), not beside the file.</summary>
    internal static string RelativeNote(string path) =>
        Path.IsPathRooted(path) ? "" : $" (relative paths in a training config resolve against the current directory, {Environment.CurrentDirectory})";

    /// <summary>
    /// model.path as a local directory: an existing directory is used as is; a hub id (<c>org/name</c> or <c>hf://org/name</c>)
    /// is fetched into (or found in) the shared hub cache at model.revision through Smelt.Hub.
    /// </summary>
    public static string ResolveModel(ModelSection model, Smelt.Hub.HubSettings? hub = null)
    {
        var path = model.Path;
        if (Directory.Exists(path)) return path;
        var hubLike = path.StartsWith("hf://", StringComparison.Ordinal)
                      || (path.Count(c => c == '/') == 1 && !path.StartsWith('.') && !path.StartsWith('~') && !Path.IsPathRooted(path));
        if (!hubLike)
            throw SmeltException.BadInput($"model.path '{path}': no such directory{RelativeNote(path)}. Create the tiny model with `./smelt model init --preset tiny --out {path}`, " +
                                          "or give a hub id (org/name) to download");
        return Smelt.Hub.ModelLocator.ResolveAsync(path, Smelt.Hub.RepoType.Model, model.Revision == "main" ? null : model.Revision, settings: hub)
            .GetAwaiter().GetResult();
    }

    /// <param name="hub">Hub settings for hub model ids and <c>hub:</c> data sources (default: from the environment).</param>
    public static TrainResult Run(TrainConfig cfg, bool resume, ITrainProgress progress, int? threads = null, CancellationToken ct = default,
        Smelt.Hub.HubSettings? hub = null)
    {
        TorchRuntime.EnsureLoaded();
        if (threads is { } n) set_num_threads(n);
        var (modelConfig, tokenizer, tok) = Inspect(cfg, hub);
        var modelDir = tokenizer.Directory;
        using var _tokenizer = tokenizer;

        var outDir = Path.GetFullPath(cfg.Output.Dir);
        var latest = new Checkpoints.CheckpointStore(Path.Combine(outDir, "checkpoints"), cfg.Output.KeepLast).Latest();
        if (!resume && latest is not null)
            throw SmeltException.BadInput($"{outDir} already holds checkpoints of a run; pass --resume to continue it, or choose another output.dir (--set output.dir=...)");
        if (resume && latest is not null) Checkpoints.RngState.RequireIn(latest, Checkpoints.CheckpointStore.ReadState(latest)); // before the weights load
        Directory.CreateDirectory(outDir);
        // Hub datasets pin their revision to the resolved commit here, before the trainer writes config.resolved.yml.
        var hubData = HubDatasets.Resolve(cfg, hub, progress, ct: ct);
        var generationEval = cfg.Eval.GenerationEnabled ? PrepareGenerationEval(cfg, tokenizer, modelConfig, progress) : null;
        var data = new PipelineData(cfg, hubData);
        data.Analyse(cfg.EffectivePhases(), outDir, progress);

        var dtype = cfg.Model.Dtype == "bf16" || cfg.Train.Precision == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
        using var model = LlamaForCausalLM.Load(modelDir, dtype, TorchRuntime.ResolveDevice(cfg.Model.Device));
        var trainer = new Trainer(cfg, model, tok, data, progress, generationEval);
        return trainer.Run(resume, ct);
    }
}
