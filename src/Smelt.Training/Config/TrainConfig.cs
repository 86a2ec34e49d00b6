namespace Smelt.Training.Config;

// The resolved training configuration. Property names map to YAML keys in snake_case (MaxSeqLen -> max_seq_len);
// ConfigLoader reads them with validation and ConfigWriter writes the resolved form back out with each run.

public sealed class TrainConfig
{
    public ModelSection Model { get; set; } = new();
    public DataSection Data { get; set; } = new();
    public LoraSection Lora { get; set; } = new();
    public QuantizationSection Quantization { get; set; } = new();
    public TrainSection Train { get; set; } = new();
    public EvalSection Eval { get; set; } = new();
    public LoggingSection Logging { get; set; } = new();
    public OutputSection Output { get; set; } = new();
    /// <summary>Empty for a single-phase run; otherwise each phase overrides data/train and runs in order.</summary>
    public List<PhaseSection> Phases { get; set; } = [];

    /// <summary>The phases to run: the explicit list, or one implicit phase built from the top-level data/train sections.</summary>
    public IReadOnlyList<PhaseSection> EffectivePhases() =>
        Phases.Count > 0 ? Phases : [new PhaseSection { Name = "main", Data = Data, Train = Train }];
}

public sealed class ModelSection
{
    /// <summary>A local directory with config.json/model.safetensors/tokenizer.json, or a hub id (org/name).</summary>
    public string Path { get; set; } = "";
    public string Revision { get; set; } = "main";
    public string Dtype { get; set; } = "f32";
    public string Device { get; set; } = "cpu";
}

public sealed class DataSection
{
    public List<SourceSection> Sources { get; set; } = [];
    /// <summary>sequential | round_robin | weighted</summary>
    public string Mix { get; set; } = "sequential";
    /// <summary>Oversampling by the record's <c>_task_type</c>; fractional parts are a seeded draw.</summary>
    public Dictionary<string, double> TaskWeights { get; set; } = [];
    /// <summary>auto | raw | instruction | chat</summary>
    public string Template { get; set; } = "auto";
    public int MaxSeqLen { get; set; } = 256;
    public bool Pack { get; set; } = true;
    /// <summary>Every Nth document (by a seeded hash) goes to the held-out validation split; 0 disables it.</summary>
    public double ValidationFraction { get; set; } = 0.0;
    /// <summary>Stop reading after this many records (0: no limit).</summary>
    public long MaxRecords { get; set; }
    /// <summary>Loop over the data again when it runs out before max_steps.</summary>
    public bool Repeat { get; set; } = true;
    public FilterSection Filters { get; set; } = new();
}

public sealed class SourceSection
{
    /// <summary>A JSONL file (prompt/gen, messages, or text/content [+ path] records), a Parquet file, or a directory of source files.</summary>
    public string Path { get; set; } = "";
    /// <summary>Instead of <see cref="Path"/>: a Hugging Face dataset repository (org/name), fetched through Smelt.Hub.</summary>
    public string Hub { get; set; } = "";
    /// <summary>Hub sources: branch, tag or commit. The resolved config records the commit it resolved to.</summary>
    public string Revision { get; set; } = "main";
    /// <summary>Hub sources: fnmatch globs over the repository's files (default: every .jsonl, .jsonl.gz and .parquet file).</summary>
    public List<string> Files { get; set; } = [];
    /// <summary>Hub sources: keep only files whose path names this split (e.g. train) as a word.</summary>
    public string Split { get; set; } = "";
    /// <summary>Where the source was configured ("file:line: data.sources.0"), for messages; not written out.</summary>
    [YamlDotNet.Serialization.YamlIgnore]
    public string Origin { get; set; } = "";
    /// <summary>auto | dir | jsonl | parquet (auto: by what the path is)</summary>
    public string Type { get; set; } = "auto";
    /// <summary>Defaults to the file or directory name; must be unique among the sources.</summary>
    public string Name { get; set; } = "";
    public double Weight { get; set; } = 1.0;
    /// <summary>For directories: globs relative to the root (default **/*.rs).</summary>
    public List<string> Include { get; set; } = [];
}

public sealed class FilterSection
{
    /// <summary>Drop files under target/, vendor/, node_modules/, third_party/, .cargo/.</summary>
    public bool ExcludeVendored { get; set; } = true;
    /// <summary>Drop files that are tests by path (tests/, *_test.rs, ...).</summary>
    public bool ExcludeTestFiles { get; set; } = true;
    /// <summary>strip (remove #[cfg(test)] modules and #[test] functions, found by the Rust lexer) | drop (the whole record) | keep</summary>
    public string TestCode { get; set; } = "strip";
    public bool ExcludeExamples { get; set; } = true;
    public bool ExcludeBenches { get; set; } = true;
    /// <summary>Drop files carrying an @generated / DO NOT EDIT marker.</summary>
    public bool ExcludeGenerated { get; set; } = true;
    public int MinChars { get; set; } = 20;
    public int MaxChars { get; set; } = 100_000;
    /// <summary>Scan for secrets and PII and redact them.</summary>
    public bool ScanSecrets { get; set; } = true;
    public bool PreferIdiomatic { get; set; }
    public bool PreferDocumented { get; set; }
    public bool DedupExact { get; set; } = true;
    public bool DedupNear { get; set; } = true;
    public double NearDupThreshold { get; set; } = 0.8;
    /// <summary>Evaluation problem files (JSONL with prompt/solution fields) to decontaminate against.</summary>
    public List<string> Decontaminate { get; set; } = [];
    public int DecontaminationNgram { get; set; } = 13;
}

public sealed class LoraSection
{
    public int R { get; set; } = 8;
    public double Alpha { get; set; } = 16;
    public double Dropout { get; set; } = 0.05;
    public List<string> TargetModules { get; set; } = [.. DefaultTargets];
    public bool UseRslora { get; set; }
    /// <summary>Modules trained in full and saved with the adapter (PEFT's modules_to_save): embed_tokens and/or an untied lm_head.</summary>
    public List<string> ModulesToSave { get; set; } = [];

    public static readonly string[] SavableModules = ["embed_tokens", "lm_head"];

    public static readonly string[] DefaultTargets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
}

public sealed class QuantizationSection
{
    /// <summary>none | nf4 (QLoRA)</summary>
    public string Method { get; set; } = "none";
    public int BlockSize { get; set; } = 64;
    public bool DoubleQuant { get; set; } = true;
    public int DoubleQuantBlock { get; set; } = 256;
}

public sealed class TrainSection
{
    public int Seed { get; set; } = 42;
    public int MaxSteps { get; set; } = 100;
    public int BatchSize { get; set; } = 4;
    public int GradAccum { get; set; } = 1;
    public double Lr { get; set; } = 2e-4;
    public double WeightDecay { get; set; } = 0.0;
    public double Beta1 { get; set; } = 0.9;
    public double Beta2 { get; set; } = 0.999;
    public double Eps { get; set; } = 1e-8;
    public int WarmupSteps { get; set; } = 10;
    /// <summary>cosine | linear | constant (after warmup)</summary>
    public string Schedule { get; set; } = "cosine";
    public double MinLrRatio { get; set; } = 0.0;
    /// <summary>0 disables clipping.</summary>
    public double MaxGradNorm { get; set; } = 1.0;
    /// <summary>f32 | bf16 (autocast of the matmuls; adapter weights and optimizer state stay f32)</summary>
    public string Precision { get; set; } = "f32";
    public bool GradientCheckpointing { get; set; }
}

public sealed class EvalSection
{
    /// <summary>Validation loss every N optimizer steps (0: off). Needs data.validation_fraction &gt; 0.</summary>
    public int Every { get; set; }
    public int ValidationBatches { get; set; } = 4;

    // Generation + sandboxed scoring during training (Smelt.Training/Evaluation/GenerationEval.cs).
    /// <summary>Generate for <see cref="NumProblems"/> problems and score them in the sandbox every N steps (0: off).</summary>
    public int GenerateEvery { get; set; }
    /// <summary>Also at the last step of the run.</summary>
    public bool GenerateAtEnd { get; set; }
    /// <summary>Problem file; filled in with the bundled data/problems/smelt_rust_problems.jsonl when generation is on.</summary>
    public string Problems { get; set; } = "";
    /// <summary>The first N problems of the file (0: all).</summary>
    public int NumProblems { get; set; } = 8;
    public int SamplesPerProblem { get; set; } = 1;
    public int MaxNewTokens { get; set; } = 128;
    /// <summary>0: greedy. Sampling is seeded with train.seed, the same at every step.</summary>
    public double Temperature { get; set; }
    /// <summary>auto | bwrap | firejail | docker | none (none needs <see cref="AllowUnsandboxed"/>)</summary>
    public string Sandbox { get; set; } = "bwrap";
    public bool AllowUnsandboxed { get; set; }
    /// <summary>Seconds one sample's tests may run; <see cref="CompileTimeout"/> for its compilation.</summary>
    public double Timeout { get; set; } = 10;
    public double CompileTimeout { get; set; } = 60;
    public bool Clippy { get; set; } = true;
    /// <summary>Link the offline crate set (configs/crates) as <c>smelt eval</c> does.</summary>
    public bool Crates { get; set; } = true;

    [YamlDotNet.Serialization.YamlIgnore]
    public bool GenerationEnabled => GenerateEvery > 0 || GenerateAtEnd;
}

public sealed class LoggingSection
{
    public int Every { get; set; } = 1;
    public bool Tensorboard { get; set; } = true;
    /// <summary>auto (when stdout is a terminal) | always | never</summary>
    public string Progress { get; set; } = "auto";
    public bool Plot { get; set; } = true;
}

public sealed class OutputSection
{
    public string Dir { get; set; } = "runs/train";
    /// <summary>Checkpoint every N optimizer steps (0: only at the end of each phase).</summary>
    public int SaveEvery { get; set; } = 50;
    public int KeepLast { get; set; } = 2;
}

public sealed class PhaseSection
{
    public string Name { get; set; } = "";
    /// <summary>The phase whose final adapter this phase starts from; empty: the previous phase (or a fresh adapter for the first).</summary>
    public string InitFrom { get; set; } = "";
    public DataSection Data { get; set; } = new();
    public TrainSection Train { get; set; } = new();
}
