using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Smelt.Core;
using Smelt.Model;
using Smelt.Training.Checkpoints;
using Smelt.Training.Config;
using Smelt.Training.Data;
using Smelt.Training.Evaluation;
using Smelt.Training.Logging;
using Smelt.Training.Lora;
using Smelt.Training.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace Smelt.Training;

/// <summary>The examples of one phase, as re-readable streams (each call starts from the beginning).</summary>
public interface IPhaseData
{
    /// <summary>Training examples for an epoch (0, 1, ...); must be deterministic for a given phase and epoch.</summary>
    IEnumerable<Example> Train(PhaseSection phase, int epoch);
    /// <summary>Held-out examples (may be empty).</summary>
    IEnumerable<Example> Validation(PhaseSection phase);
}

public sealed record TrainResult(string OutputDir, string AdapterDir, int GlobalSteps, double? FirstLoss, double? FinalLoss, BaseMemoryReport Memory, bool Resumed);

/// <summary>
/// The training loop: LoRA/QLoRA injection, phases, AdamW with warmup+decay, gradient accumulation and clipping,
/// logging (metrics.jsonl, TensorBoard, progress), validation loss, atomic checkpoints and exact resume.
/// Output layout under output.dir: config.resolved.yml, metrics.jsonl, tensorboard/, checkpoints/step-N/,
/// phases/NAME/adapter/, adapter/ (the final adapter, PEFT format), loss.png, summary.json, evals/step-N/ (generation evals).
/// </summary>
public sealed class Trainer
{
    private readonly TrainConfig _cfg;
    private readonly string _resolvedYaml;
    private readonly LlamaForCausalLM _model;
    private readonly ITrainTokenizer _tokenizer;
    private readonly IPhaseData _data;
    private readonly ITrainProgress _progress;
    private readonly GenerationEval? _generationEval;

    /// <param name="generationEval">Generation + sandboxed scoring at eval.generate_every steps (null: off).</param>
    public Trainer(TrainConfig cfg, LlamaForCausalLM model, ITrainTokenizer tokenizer, IPhaseData data, ITrainProgress progress, GenerationEval? generationEval = null)
    {
        _cfg = cfg;
        _resolvedYaml = ConfigWriter.ToYaml(cfg);
        _model = model;
        _tokenizer = tokenizer;
        _data = data;
        _progress = progress;
        _generationEval = generationEval;
    }

    /// <summary>Checks that need the model but no compute: sequence length vs context, vocab vs tokenizer, unsupported options.</summary>
    public static void Preflight(TrainConfig cfg, ModelConfig model, ITrainTokenizer tokenizer, string modelWhere)
    {
        foreach (var phase in cfg.EffectivePhases())
            if (phase.Data.MaxSeqLen > model.MaxPositionEmbeddings)
                throw SmeltException.BadInput($"data.max_seq_len {phase.Data.MaxSeqLen}{(cfg.Phases.Count > 0 ? $" (phase {phase.Name})" : "")} exceeds the model's context of {model.MaxPositionEmbeddings} positions (max_position_embeddings in {modelWhere}/config.json); lower it, e.g. --set data.max_seq_len={model.MaxPositionEmbeddings}");
        if (tokenizer.VocabSize > model.VocabSize)
            throw SmeltException.BadInput($"the tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {model.VocabSize} ({modelWhere}); they do not belong together");
        var onCuda = cfg.Model.Device == "cuda" || (cfg.Model.Device == "auto" && cuda.is_available());
        if (onCuda && cfg.Lora.Dropout > 0 && cfg.EffectivePhases().Any(p => p.Train.GradientCheckpointing))
            throw SmeltException.BadInput($"train.gradient_checkpointing with lora.dropout {cfg.Lora.Dropout} on cuda (model.device: {cfg.Model.Device}): the recompute must draw the same dropout masks, but TorchSharp 0.107 cannot read the CUDA generator's state; set lora.dropout: 0, or gradient_checkpointing: false, or model.device: cpu");
        if (cfg.Model.Device == "cuda" && !cuda.is_available())
            throw SmeltException.BadInput("model.device: cuda was requested but no CUDA device is usable with this libtorch build; use cpu");
    }

    public TrainResult Run(bool resume, CancellationToken ct = default)
    {
        var outDir = Path.GetFullPath(_cfg.Output.Dir);
        Directory.CreateDirectory(outDir);
        var configSha = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(_resolvedYaml)));
        var store = new CheckpointStore(Path.Combine(outDir, "checkpoints"), _cfg.Output.KeepLast);
        var phases = _cfg.EffectivePhases();

        TrainState state;
        string? resumeFrom = null;
        if (resume && store.Latest() is { } latest)
        {
            resumeFrom = latest;
            state = CheckpointStore.ReadState(latest);
            RngState.RequireIn(latest, state);
            if (state.ConfigSha256 != configSha)
                _progress.Message($"warning: the config differs from the one the checkpoint {Path.GetFileName(latest)} was written with; continuing with the new one");
        }
        else
        {
            if (resume) _progress.Message($"--resume: no complete checkpoint under {store.Root}; starting from the beginning");
            else if (store.Latest() is not null)
                throw SmeltException.BadInput($"{outDir} already holds checkpoints of a run; pass --resume to continue it, or choose another output.dir (--set output.dir=...)");
            state = new TrainState { Seed = _cfg.Train.Seed, ConfigSha256 = configSha, PhaseName = phases[0].Name };
        }
        AtomicFile.WriteAllText(Path.Combine(outDir, "config.resolved.yml"), _resolvedYaml);

        if (_cfg.Train.Precision == "bf16" || _cfg.Model.Dtype == "bf16") _model.to(ScalarType.BFloat16);
        manual_seed(_cfg.Train.Seed);
        var adapters = AdapterSet.Inject(_model, _cfg.Lora, _cfg.Quantization, _cfg.Train.Seed);
        _progress.Message(adapters.Memory.ToString());
        var named = adapters.Parameters().Select(p => (p.PeftName, p.Param)).ToList();
        var startTrain = phases[Math.Min(state.PhaseIndex, phases.Count - 1)].Train;
        var optimizer = new AdamW(named, startTrain.Beta1, startTrain.Beta2, startTrain.Eps, startTrain.WeightDecay);
        if (resumeFrom is not null)
        {
            LoadCheckpoint(resumeFrom, adapters, optimizer, state);
            _progress.Message($"resumed from {Path.GetFileName(resumeFrom)} (global step {state.GlobalStep}, phase {state.PhaseName} step {state.PhaseStep}, {state.RowsConsumed} rows consumed)");
        }

        using var metrics = new MetricsLog(Path.Combine(outDir, "metrics.jsonl"), state.GlobalStep);
        using var tb = _cfg.Logging.Tensorboard ? new TensorBoardWriter(Path.Combine(outDir, "tensorboard")) : null;
        var clock = Stopwatch.StartNew();
        double? firstLoss = null, lastLoss = null;

        for (var pi = state.PhaseIndex; pi < phases.Count; pi++)
        {
            var phase = phases[pi];
            var t = phase.Train;
            if (state.PhaseIndex != pi || (state.PhaseStep == 0 && !state.PhaseComplete))
            {
                // A fresh phase: its own schedule and optimizer moments, starting from the adapter it names.
                state = state with { PhaseIndex = pi, PhaseName = phase.Name, PhaseStep = 0, RowsConsumed = 0, PhaseComplete = false, OptimizerSteps = 0 };
                InitPhaseAdapter(pi, phases, adapters, outDir);
                optimizer.Dispose();
                optimizer = new AdamW(named, t.Beta1, t.Beta2, t.Eps, t.WeightDecay);
            }
            var schedule = new LrSchedule(t.Lr, t.WarmupSteps, t.MaxSteps, t.Schedule, t.MinLrRatio);
            _progress.BeginPhase(phase.Name, t.MaxSteps, state.PhaseStep);
            var formatter = new ExampleFormatter(_tokenizer, phase.Data.Template);
            using var rows = RowStream(phase, formatter, state.RowsConsumed).GetEnumerator();
            var rowsPerStep = t.BatchSize * t.GradAccum;
            var validationRows = ValidationRows(phase, formatter);
            _model.train();
            _model.GradientCheckpointing = t.GradientCheckpointing;

            while (state.PhaseStep < t.MaxSteps)
            {
                if (ct.IsCancellationRequested)
                {
                    if (state.PhaseStep > 0) SaveCheckpoint(store, state, adapters, optimizer);
                    _progress.Message($"interrupted at step {state.GlobalStep}; checkpoint saved, continue with --resume");
                    ct.ThrowIfCancellationRequested();
                }
                var stepRows = new List<PackedRow>(rowsPerStep);
                while (stepRows.Count < rowsPerStep && rows.MoveNext()) stepRows.Add(rows.Current);
                if (stepRows.Count == 0)
                {
                    if (state.RowsConsumed == 0)
                        throw SmeltException.BadInput($"phase {phase.Name}: the training data produced no rows (every record was filtered out or empty; see the filter report)");
                    _progress.Message($"phase {phase.Name}: data exhausted after {state.PhaseStep} steps (data.repeat is false); ending the phase early");
                    break;
                }
                var step = state.GlobalStep;
                if (_model.Device.type == DeviceType.CUDA) cuda.manual_seed_all(state.Seed * 1000003L + step); // see TrainState.Scheme
                var lr = schedule.At(state.PhaseStep);
                var targets = Math.Max(1, stepRows.Sum(r => r.TargetTokens));
                optimizer.ZeroGrad();
                double lossSum = 0;
                long realTokens = 0;
                var stepClock = Stopwatch.StartNew();
                for (var i = 0; i < stepRows.Count; i += t.BatchSize)
                {
                    using var scope = NewDisposeScope();
                    using var batch = Batch.From(stepRows.GetRange(i, Math.Min(t.BatchSize, stepRows.Count - i)), _model.Device);
                    var summed = SummedLoss(batch);
                    (summed / targets).backward();
                    lossSum += summed.item<float>();
                    realTokens += batch.RealTokens;
                }
                var gradNorm = optimizer.ClipGradNorm(t.MaxGradNorm);
                optimizer.Step(lr);
                var seconds = stepClock.Elapsed.TotalSeconds;
                var loss = lossSum / targets;
                firstLoss ??= loss;
                lastLoss = loss;
                state = state with
                {
                    GlobalStep = step + 1, PhaseStep = state.PhaseStep + 1, RowsConsumed = state.RowsConsumed + stepRows.Count,
                    TokensSeen = state.TokensSeen + realTokens, OptimizerSteps = optimizer.Steps,
                };
                var tokPerSec = realTokens / Math.Max(seconds, 1e-9);
                double? valLoss = null;
                if (_cfg.Eval.Every > 0 && state.GlobalStep % _cfg.Eval.Every == 0 && validationRows.Count > 0)
                    valLoss = ValidationLoss(validationRows, t.BatchSize);
                var genEval = _generationEval is not null && _generationEval.DueAt(state.GlobalStep, pi == phases.Count - 1 && state.PhaseStep == t.MaxSteps)
                    ? _generationEval.Run(state.GlobalStep, outDir, _model, ct) : null;
                if (state.GlobalStep % _cfg.Logging.Every == 0 || state.PhaseStep == t.MaxSteps || valLoss is not null || genEval is not null)
                {
                    var mem = Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;
                    metrics.Write(new StepMetrics(state.GlobalStep, phase.Name, loss, lr, gradNorm, tokPerSec, state.TokensSeen, mem, clock.Elapsed.TotalSeconds, valLoss,
                        genEval?.Status, genEval?.PassAt1, genEval?.CompileRate, genEval?.ClippyCleanRate, genEval?.Error));
                    var scalars = new List<(string, float)> { ("train/loss", (float)loss), ("train/lr", (float)lr), ("train/grad_norm", (float)gradNorm), ("train/tokens_per_second", (float)tokPerSec) };
                    if (valLoss is { } v) scalars.Add(("eval/loss", (float)v));
                    if (genEval?.PassAt1 is { } p1) scalars.Add(("eval/pass@1", (float)p1));
                    if (genEval?.CompileRate is { } cr) scalars.Add(("eval/compile_rate", (float)cr));
                    if (genEval?.ClippyCleanRate is { } cc) scalars.Add(("eval/clippy_clean_rate", (float)cc));
                    tb?.AddScalars(state.GlobalStep, scalars);
                }
                _progress.Step(state.PhaseStep, loss, lr, tokPerSec);
                if (_cfg.Output.SaveEvery > 0 && state.GlobalStep % _cfg.Output.SaveEvery == 0 && state.PhaseStep < t.MaxSteps)
                    SaveCheckpoint(store, state, adapters, optimizer);
            }

            // Phase end: its adapter (for later phases' init_from), then a checkpoint that points at the next phase.
            var phaseAdapter = Path.Combine(outDir, "phases", phase.Name, "adapter");
            WriteAdapterAtomically(phaseAdapter, adapters);
            state = state with { PhaseComplete = true };
            var next = pi + 1 < phases.Count
                ? state with { PhaseIndex = pi + 1, PhaseName = phases[pi + 1].Name, PhaseStep = 0, RowsConsumed = 0, PhaseComplete = false }
                : state;
            SaveCheckpoint(store, next, adapters, optimizer);
            state = next;
        }

        var final = Path.Combine(outDir, "adapter");
        WriteAdapterAtomically(final, adapters);
        var all = MetricsLog.ReadAll(metrics.Path);
        if (_cfg.Logging.Plot && all.Count > 0)
            LossPlot.Save(all, Path.Combine(outDir, "loss.png"), $"smelt train: {Path.GetFileName(outDir)}");
        var summary = new
        {
            global_steps = state.GlobalStep,
            tokens_seen = state.TokensSeen,
            first_logged_loss = all.FirstOrDefault()?.Loss,
            final_loss = all.LastOrDefault()?.Loss,
            frozen_base_bytes = adapters.Memory.FrozenBytes,
            frozen_base_bytes_per_param = adapters.Memory.FrozenBytesPerParam,
            nf4_bytes_per_param = adapters.Memory.QuantizedParams > 0 ? adapters.Memory.QuantizedBytesPerParam : (double?)null,
            adapter_params = adapters.Memory.AdapterParams,
            adapter = final,
            generation_evals = all.Where(m => m.EvalStatus is not null).Select(m => new Dictionary<string, object?>
            {
                ["step"] = m.Step, ["status"] = m.EvalStatus, ["pass@1"] = m.EvalPassAt1, ["compile_rate"] = m.EvalCompileRate,
                ["clippy_clean_rate"] = m.EvalClippyCleanRate, ["dir"] = Path.Combine(outDir, "evals", $"step-{m.Step}"),
            }).ToList(),
        };
        AtomicFile.WriteAllText(Path.Combine(outDir, "summary.json"), JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }) + "\n");
        optimizer.Dispose();
        return new TrainResult(outDir, final, state.GlobalStep, all.FirstOrDefault()?.Loss ?? firstLoss, all.LastOrDefault()?.Loss ?? lastLoss, adapters.Memory, resumeFrom is not null);
    }

    private Tensor SummedLoss(Batch batch) => TokenLoss.Summed(_model, batch);

    /// <summary>Mean loss per target token over the held-out rows; null when they hold no target token (nothing to measure).</summary>
    private double? ValidationLoss(IReadOnlyList<PackedRow> rows, int batchSize)
    {
        _model.eval();
        try
        {
            using var noGrad = no_grad();
            double sum = 0;
            long targets = 0;
            for (var i = 0; i < rows.Count; i += batchSize)
            {
                using var scope = NewDisposeScope();
                using var batch = Batch.From(rows.Skip(i).Take(batchSize).ToList(), _model.Device);
                sum += SummedLoss(batch).item<float>();
                targets += batch.TargetTokens;
            }
            return targets == 0 ? null : sum / targets;
        }
        finally { _model.train(); }
    }

    private IReadOnlyList<PackedRow> ValidationRows(PhaseSection phase, ExampleFormatter formatter)
    {
        if (_cfg.Eval.Every <= 0) return [];
        var packer = new Packer(phase.Data.MaxSeqLen, _tokenizer.PadId, phase.Data.Pack);
        return packer.Pack(_data.Validation(phase).Select(formatter.Tokenize)).Take(_cfg.Eval.ValidationBatches * phase.Train.BatchSize).ToList();
    }

    /// <summary>The phase's rows, epoch after epoch when data.repeat is on, skipping the ones a resumed run already consumed.</summary>
    private IEnumerable<PackedRow> RowStream(PhaseSection phase, ExampleFormatter formatter, long skip)
    {
        var packer = new Packer(phase.Data.MaxSeqLen, _tokenizer.PadId, phase.Data.Pack);
        long index = 0;
        for (var epoch = 0; ; epoch++)
        {
            var any = false;
            foreach (var row in packer.Pack(_data.Train(phase, epoch).Select(formatter.Tokenize)))
            {
                any = true;
                if (index++ < skip) continue;
                yield return row;
            }
            if (!any || !phase.Data.Repeat) yield break;
        }
    }

    private void InitPhaseAdapter(int phaseIndex, IReadOnlyList<PhaseSection> phases, AdapterSet adapters, string outDir)
    {
        var from = phases[phaseIndex].InitFrom;
        if (from.Length == 0) return; // the previous phase's adapter is what the layers hold already (or the fresh init)
        var dir = phases.Any(p => p.Name == from) ? Path.Combine(outDir, "phases", from, "adapter") : from;
        if (!File.Exists(Path.Combine(dir, PeftAdapter.WeightsFile)))
            throw SmeltException.BadInput($"phase {phases[phaseIndex].Name}: init_from '{from}' has no adapter at {dir}");
        LoadAdapterWeights(dir, adapters);
        _progress.Message($"phase {phases[phaseIndex].Name}: starting from the adapter of '{from}'");
    }

    private static void LoadAdapterWeights(string dir, AdapterSet adapters)
    {
        var (lora, _, _) = PeftAdapter.ReadConfig(dir);
        if (lora.R != adapters.Lora.R || !lora.TargetModules.Order().SequenceEqual(adapters.Lora.TargetModules.Order()))
            throw SmeltException.BadInput($"{dir}: adapter has r={lora.R}, targets [{string.Join(", ", lora.TargetModules)}], but this run uses r={adapters.Lora.R}, targets [{string.Join(", ", adapters.Lora.TargetModules)}]");
        using var file = SafetensorsFile.Open(Path.Combine(dir, PeftAdapter.WeightsFile));
        using var noGrad = no_grad();
        foreach (var (name, p) in adapters.Parameters())
        {
            if (!file.Entries.ContainsKey(name)) throw SmeltException.BadInput($"{dir}: tensor '{name}' is missing from the adapter");
            file.CopyInto(name, p);
        }
    }

    private void SaveCheckpoint(CheckpointStore store, TrainState state, AdapterSet adapters, AdamW optimizer)
    {
        store.Save(state, dir =>
        {
            PeftAdapter.Save(Path.Combine(dir, "adapter"), adapters, _cfg.Model.Path);
            var moments = optimizer.StateTensors().ToList();
            SafetensorsWriter.Write(Path.Combine(dir, "optimizer.safetensors"), moments,
                new Dictionary<string, string> { ["steps"] = optimizer.Steps.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            File.WriteAllText(Path.Combine(dir, "config.resolved.yml"), _resolvedYaml);
            RngState.Save(dir, adapters.Dropout);
        });
    }

    private static void LoadCheckpoint(string dir, AdapterSet adapters, AdamW optimizer, TrainState state)
    {
        LoadAdapterWeights(Path.Combine(dir, "adapter"), adapters);
        using var file = SafetensorsFile.Open(Path.Combine(dir, "optimizer.safetensors"));
        optimizer.LoadState(state.OptimizerSteps, name =>
            file.Entries.ContainsKey(name) ? file.Read(name) : throw SmeltException.BadInput($"{dir}/optimizer.safetensors: '{name}' is missing; the checkpoint does not match this config's LoRA layout"));
        RngState.Restore(dir, adapters.Dropout); // last: nothing between here and the first step draws random numbers
    }

    private void WriteAdapterAtomically(string dir, AdapterSet adapters)
    {
        var parent = Path.GetDirectoryName(dir)!;
        Directory.CreateDirectory(parent);
        var tmp = Path.Combine(parent, $".{Path.GetFileName(dir)}.tmp-{Guid.NewGuid():N}");
        PeftAdapter.Save(tmp, adapters, _cfg.Model.Path);
        var old = dir + ".old-" + Guid.NewGuid().ToString("N");
        if (Directory.Exists(dir)) Directory.Move(dir, old);
        Directory.Move(tmp, dir);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }
}
