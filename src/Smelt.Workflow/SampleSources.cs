using Smelt.Core;
using Smelt.Eval;
using Smelt.Model;
using Smelt.Sandbox;
using Smelt.Training.Lora;

namespace Smelt.Workflow;

/// <summary>Where the samples of a round (or of a sweep trial's pass@1) come from.</summary>
public interface ISampleSource
{
    /// <summary>Writes <paramref name="n"/> samples per task to <paramref name="outPath"/> (samples JSONL); resumes a partial file; a finished file is left as it is.</summary>
    Task GenerateAsync(IReadOnlyList<GenerationTask> tasks, string outPath, int n, string? adapterDirectory, CancellationToken ct);
}

/// <summary>The local model (base + optional LoRA adapter), sampling with <see cref="ProblemGeneration"/> as <c>smelt generate --problems</c> does.</summary>
public sealed class ModelSampleSource(string modelDirectory, SamplingOptions sampling, int batchSize = 8, string device = "cpu") : ISampleSource
{
    public Task GenerateAsync(IReadOnlyList<GenerationTask> tasks, string outPath, int n, string? adapterDirectory, CancellationToken ct)
    {
        if (File.Exists(outPath)) return Task.CompletedTask;
        TorchRuntime.EnsureLoaded();
        var options = sampling with
        {
            StopSequences = sampling.StopSequences.Count > 0 ? sampling.StopSequences : ProblemGeneration.DefaultStops,
            IncludeStopSequence = sampling.StopSequences.Count == 0,
        };
        options.Validate();
        using var tokenizer = TextTokenizer.Load(modelDirectory);
        using var model = LlamaForCausalLM.Load(modelDirectory, device: TorchRuntime.ResolveDevice(device));
        tokenizer.CheckMatches(model.Config, modelDirectory);
        if (adapterDirectory is not null) PeftAdapter.LoadInto(model, adapterDirectory);
        model.eval();
        ProblemGeneration.Run(new TextGenerator(model, tokenizer), tasks, outPath, n, batchSize, options, ct: ct);
        return Task.CompletedTask;
    }
}

/// <summary>An OpenAI-compatible server (the served model is fixed, so the adapter is ignored): distillation from a stronger model.</summary>
public sealed class EndpointSampleSource(EndpointOptions options) : ISampleSource
{
    public async Task GenerateAsync(IReadOnlyList<GenerationTask> tasks, string outPath, int n, string? adapterDirectory, CancellationToken ct)
    {
        if (File.Exists(outPath)) return;
        using var client = new RemoteGenerator(options);
        await client.RunAsync(tasks, outPath, n, ct: ct);
    }
}

/// <summary>How samples are judged: the same settings <c>smelt eval</c> takes.</summary>
public sealed record EvalSettings
{
    public string Sandbox { get; init; } = "bwrap";
    public int Workers { get; init; } = Math.Max(1, Environment.ProcessorCount);
    public bool Clippy { get; init; } = true;
    /// <summary>Crate-set pin directory; null: no external crates.</summary>
    public string? Crates { get; init; } = CrateSet.DefaultPinDirectory();
    public double TimeoutSeconds { get; init; } = 10;
    public double CompileTimeoutSeconds { get; init; } = 60;

    public async Task<EvalOutcome> RunAsync(string problems, string samples, string outDirectory, IReadOnlyList<int> ks, CancellationToken ct)
    {
        var request = new EvalRequest
        {
            ProblemsPath = problems,
            SamplesPath = samples,
            OutDirectory = outDirectory,
            Ks = ks,
            Options = new EvalOptions
            {
                Workers = Workers, Clippy = Clippy,
                RunTimeout = TimeSpan.FromSeconds(TimeoutSeconds), CompileTimeout = TimeSpan.FromSeconds(CompileTimeoutSeconds),
            },
            CratesDirectory = Crates,
            Resume = true,
        };
        var box = SandboxFactory.Create(Sandbox);
        var outcome = await EvalRunner.RunAsync(request, box, null, ct);
        if (outcome.ExitCode == ExitCodes.Infrastructure)
            throw SmeltException.Infrastructure($"{outDirectory}: {outcome.Summary.StatusCounts[Status.SandboxError]} sample(s) hit a sandbox error; the verdicts cannot be trusted. Fix the sandbox (`smelt sandbox check`) and run again: finished work is kept");
        return outcome;
    }
}
