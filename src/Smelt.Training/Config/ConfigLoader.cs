using System.Reflection;
using Smelt.Core;

namespace Smelt.Training.Config;

/// <summary>
/// Loads a training config: parse YAML, apply <c>--set</c> overrides, then read every key with its range check.
/// All problems are reported together, each naming the file line (or the override) and the key; nothing runs until the
/// config is clean.
/// </summary>
public static class ConfigLoader
{
    public const string EmbeddedDefaultName = "configs/tiny.yml (embedded default)";

    public static TrainConfig LoadFile(string path, IEnumerable<string>? overrides = null) =>
        Load(YamlTree.Load(path), overrides);

    public static TrainConfig LoadText(string yaml, string name, IEnumerable<string>? overrides = null) =>
        Load(YamlTree.Parse(yaml, name), overrides);

    /// <summary>The text of configs/tiny.yml as embedded in this assembly at build time.</summary>
    public static string EmbeddedDefaultText()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Smelt.Training.tiny.yml")
            ?? throw new InvalidOperationException("embedded configs/tiny.yml is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    public static TrainConfig Load(YamlTree tree, IEnumerable<string>? overrides)
    {
        foreach (var o in overrides ?? []) tree.ApplyOverride(o);
        var errors = new ConfigErrors();
        var root = new SectionReader(tree, tree.Root, "", errors);
        var cfg = new TrainConfig
        {
            Model = ReadModel(root.Section("model")),
            Lora = ReadLora(root.Section("lora")),
            Quantization = ReadQuant(root.Section("quantization")),
            Eval = ReadEval(root.Section("eval")),
            Logging = ReadLogging(root.Section("logging")),
            Output = ReadOutput(root.Section("output")),
        };
        cfg.Data = ReadData(root.Section("data"), new DataSection(), requireSources: false);
        cfg.Train = ReadTrain(root.Section("train"), new TrainSection());
        var phaseNames = new List<string>();
        foreach (var p in root.SectionList("phases"))
        {
            var name = p.String("name", $"phase{phaseNames.Count + 1}", v => v.Length == 0 || !v.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')
                ? "use letters, digits, '_' or '-'" : null);
            if (phaseNames.Contains(name)) p.Error("name", $"duplicate phase name '{name}'");
            var initFrom = p.String("init_from", "");
            if (initFrom.Length > 0 && !phaseNames.Contains(initFrom) && !Directory.Exists(initFrom))
                p.Error("init_from", $"'{initFrom}' is neither an earlier phase ({(phaseNames.Count == 0 ? "none yet" : string.Join(", ", phaseNames))}) nor an adapter directory");
            var phase = new PhaseSection
            {
                Name = name,
                InitFrom = initFrom,
                Data = ReadData(p.Section("data"), cfg.Data, requireSources: false),
                Train = ReadTrain(p.Section("train"), cfg.Train),
            };
            p.RejectUnknownKeys();
            phaseNames.Add(name);
            cfg.Phases.Add(phase);
        }
        root.RejectUnknownKeys();

        if (cfg.Model.Path.Length == 0)
            errors.Add(tree.Where(tree.Root), "model.path", "required: a local model directory (e.g. from `smelt model init --preset tiny`) or a hub id");
        foreach (var phase in cfg.EffectivePhases())
        {
            var label = cfg.Phases.Count > 0 ? $"phases[{phase.Name}]" : "data";
            if (phase.Data.Sources.Count == 0)
                errors.AddRaw($"{tree.File}: {label}.sources: at least one data source is required");
            if (phase.Train.WarmupSteps > phase.Train.MaxSteps)
                errors.AddRaw($"{tree.File}: {(cfg.Phases.Count > 0 ? label : "train")}.warmup_steps: {phase.Train.WarmupSteps} exceeds max_steps {phase.Train.MaxSteps}");
            if (cfg.Eval.Every > 0 && phase.Data.ValidationFraction <= 0)
                errors.AddRaw($"{tree.File}: eval.every: validation loss needs a held-out split; set data.validation_fraction (e.g. 0.05) or eval.every: 0");
        }
        if (errors.All.Count > 0)
            throw SmeltException.BadInput($"{errors.All.Count} problem(s) in the training config:\n  " + string.Join("\n  ", errors.All));
        return cfg;
    }

    private static ModelSection ReadModel(SectionReader r)
    {
        var m = new ModelSection
        {
            Path = r.String("path", ""),
            Revision = r.String("revision", "main"),
            Dtype = r.Choice("dtype", "f32", "f32", "bf16"),
            Device = r.Choice("device", "cpu", "cpu", "cuda", "auto"),
        };
        r.RejectUnknownKeys();
        return m;
    }

    private static DataSection ReadData(SectionReader r, DataSection d, bool requireSources)
    {
        var sources = r.Has("sources") ? r.SectionList("sources").Select(ReadSource).ToList() : d.Sources;
        var data = new DataSection
        {
            Sources = sources,
            Mix = r.Choice("mix", d.Mix, "sequential", "round_robin", "weighted"),
            TaskWeights = r.Has("task_weights") ? new Dictionary<string, double>(r.NumberMap("task_weights", 0, 100)) : d.TaskWeights,
            Template = r.Choice("template", d.Template, "auto", "raw", "instruction", "chat"),
            MaxSeqLen = r.Int("max_seq_len", d.MaxSeqLen, 8, 1 << 20),
            Pack = r.Bool("pack", d.Pack),
            ValidationFraction = r.Double("validation_fraction", d.ValidationFraction, 0, 0.5),
            MaxRecords = r.Long("max_records", d.MaxRecords, 0),
            Repeat = r.Bool("repeat", d.Repeat),
            Filters = ReadFilters(r.Section("filters"), d.Filters),
        };
        if (requireSources && data.Sources.Count == 0) r.Error("sources", "at least one data source is required");
        r.RejectUnknownKeys();
        return data;
    }

    private static SourceSection ReadSource(SectionReader r)
    {
        var hub = r.String("hub", "");
        var s = new SourceSection
        {
            Path = r.String("path", "", v => v.Length == 0 && hub.Length == 0 ? "must not be empty" : null),
            Hub = hub,
            Revision = r.String("revision", "main", v => v.Trim().Length == 0 ? "must not be empty (a branch, tag or commit)" : null).Trim(),
            Files = [.. r.StringList("files", [])],
            Split = r.String("split", ""),
            Type = r.Choice("type", "auto", "auto", "dir", "jsonl", "parquet"),
            Name = r.String("name", ""),
            Weight = r.Double("weight", 1.0, 0, 1000, minExclusive: true),
            Include = [.. r.StringList("include", [])],
            Origin = $"{r.WhereIs("hub")}: {r.Prefix}",
        };
        if (hub.Length == 0)
        {
            if (!r.Has("path")) r.Error("path", "required: a JSONL/Parquet file or a directory of them, or hub: org/name for a Hugging Face dataset");
            if (s.Files.Count > 0) r.Error("files", "only for hub sources (files of the dataset repository); for a directory use include");
            if (s.Split.Length > 0) r.Error("split", "only for hub sources");
            if (s.Revision != "main") r.Error("revision", "only for hub sources");
        }
        else
        {
            if (s.Path.Length > 0) r.Error("hub", "give either path (local files) or hub (a dataset repository), not both");
            if (!Smelt.Hub.RepoId.IsValid(hub))
                r.Error("hub", $"'{hub}' is not a hub repository id; expected namespace/name (letters, digits, '-', '_', '.'), e.g. bigcode/the-stack-smol");
            if (s.Type != "auto") r.Error("type", "hub files are read by their extension (.jsonl, .jsonl.gz, .json, .parquet); leave type out");
            if (s.Include.Count > 0) r.Error("include", "for directories only; choose a hub dataset's files with files: ['data/train-*.parquet']");
            if (s.Files.Any(f => f.Length == 0)) r.Error("files", "an empty pattern matches nothing; remove it");
            if (s.Split.Length > 0 && !s.Split.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
                r.Error("split", $"'{s.Split}' is not a split name (letters, digits, '_' or '-', e.g. train)");
            if (s.Name.Length == 0 && Smelt.Hub.RepoId.IsValid(hub)) s.Name = hub[(hub.LastIndexOf('/') + 1)..];
        }
        r.RejectUnknownKeys();
        return s;
    }

    private static FilterSection ReadFilters(SectionReader r, FilterSection d)
    {
        var f = new FilterSection
        {
            ExcludeVendored = r.Bool("exclude_vendored", d.ExcludeVendored),
            ExcludeTestFiles = r.Bool("exclude_test_files", d.ExcludeTestFiles),
            TestCode = r.Choice("test_code", d.TestCode, "strip", "drop", "keep"),
            ExcludeExamples = r.Bool("exclude_examples", d.ExcludeExamples),
            ExcludeBenches = r.Bool("exclude_benches", d.ExcludeBenches),
            ExcludeGenerated = r.Bool("exclude_generated", d.ExcludeGenerated),
            ScanSecrets = r.Bool("scan_secrets", d.ScanSecrets),
            MinChars = r.Int("min_chars", d.MinChars, 0),
            MaxChars = r.Int("max_chars", d.MaxChars, 1),
            PreferIdiomatic = r.Bool("prefer_idiomatic", d.PreferIdiomatic),
            PreferDocumented = r.Bool("prefer_documented", d.PreferDocumented),
            DedupExact = r.Bool("dedup_exact", d.DedupExact),
            DedupNear = r.Bool("dedup_near", d.DedupNear),
            NearDupThreshold = r.Double("near_dup_threshold", d.NearDupThreshold, 0, 1, minExclusive: true),
            Decontaminate = r.Has("decontaminate") ? [.. r.StringList("decontaminate", [])] : d.Decontaminate,
            DecontaminationNgram = r.Int("decontamination_ngram", d.DecontaminationNgram, 3, 100),
        };
        if (f.MinChars >= f.MaxChars) r.Error("min_chars", $"min_chars ({f.MinChars}) must be below max_chars ({f.MaxChars})");
        r.RejectUnknownKeys();
        return f;
    }

    private static LoraSection ReadLora(SectionReader r)
    {
        var l = new LoraSection
        {
            R = r.Int("r", 8, 1, 1024),
            Alpha = r.Double("alpha", 16, 0, 1e6, minExclusive: true),
            Dropout = r.Double("dropout", 0.05, 0, 0.9),
            TargetModules = [.. r.StringList("target_modules", LoraSection.DefaultTargets)],
            UseRslora = r.Bool("use_rslora", false),
            ModulesToSave = [.. r.StringList("modules_to_save", [])],
        };
        foreach (var m in l.ModulesToSave)
            if (!LoraSection.SavableModules.Contains(m))
                r.Error("modules_to_save", $"'{m}' cannot be trained in full; use any of {string.Join(", ", LoraSection.SavableModules)}");
        foreach (var t in l.TargetModules)
            if (!LoraSection.DefaultTargets.Contains(t))
            {
                var hint = DidYouMean.Suggest(t, LoraSection.DefaultTargets);
                r.Error("target_modules", $"'{t}' is not a projection of this model; use any of {string.Join(", ", LoraSection.DefaultTargets)}{(hint is null ? "" : $" (did you mean '{hint}'?)")}");
            }
        if (l.TargetModules.Count == 0) r.Error("target_modules", "at least one target module is required");
        r.RejectUnknownKeys();
        return l;
    }

    private static QuantizationSection ReadQuant(SectionReader r)
    {
        var q = new QuantizationSection
        {
            Method = r.Choice("method", "none", "none", "nf4"),
            BlockSize = r.Int("block_size", 64, 16, 4096),
            DoubleQuant = r.Bool("double_quant", true),
            DoubleQuantBlock = r.Int("double_quant_block", 256, 16, 65536),
        };
        if (!System.Numerics.BitOperations.IsPow2(q.BlockSize)) r.Error("block_size", $"{q.BlockSize} must be a power of two (the published NF4 recipe uses 64)");
        r.RejectUnknownKeys();
        return q;
    }

    private static TrainSection ReadTrain(SectionReader r, TrainSection d)
    {
        var t = new TrainSection
        {
            Seed = r.Int("seed", d.Seed, 0),
            MaxSteps = r.Int("max_steps", d.MaxSteps, 1, 10_000_000),
            BatchSize = r.Int("batch_size", d.BatchSize, 1, 4096),
            GradAccum = r.Int("grad_accum", d.GradAccum, 1, 4096),
            Lr = r.Double("lr", d.Lr, 0, 1, minExclusive: true),
            WeightDecay = r.Double("weight_decay", d.WeightDecay, 0, 1),
            Beta1 = r.Double("beta1", d.Beta1, 0, 0.999999),
            Beta2 = r.Double("beta2", d.Beta2, 0, 0.999999),
            Eps = r.Double("eps", d.Eps, 0, 1, minExclusive: true),
            WarmupSteps = r.Int("warmup_steps", d.WarmupSteps, 0),
            Schedule = r.Choice("schedule", d.Schedule, "cosine", "linear", "constant"),
            MinLrRatio = r.Double("min_lr_ratio", d.MinLrRatio, 0, 1),
            MaxGradNorm = r.Double("max_grad_norm", d.MaxGradNorm, 0, 1e6),
            Precision = r.Choice("precision", d.Precision, "f32", "bf16"),
            GradientCheckpointing = r.Bool("gradient_checkpointing", d.GradientCheckpointing),
        };
        r.RejectUnknownKeys();
        return t;
    }

    private static EvalSection ReadEval(SectionReader r)
    {
        var e = new EvalSection
        {
            Every = r.Int("every", 0, 0),
            ValidationBatches = r.Int("validation_batches", 4, 1, 100_000),
            GenerateEvery = r.Int("generate_every", 0, 0),
            GenerateAtEnd = r.Bool("generate_at_end", false),
            Problems = r.String("problems", ""),
            NumProblems = r.Int("num_problems", 8, 0, 1_000_000),
            SamplesPerProblem = r.Int("samples_per_problem", 1, 1, 1000),
            MaxNewTokens = r.Int("max_new_tokens", 128, 1, 1 << 20),
            Temperature = r.Double("temperature", 0, 0, 10),
            Sandbox = r.Choice("sandbox", "bwrap", "auto", "bwrap", "firejail", "docker", "none"),
            AllowUnsandboxed = r.Bool("allow_unsandboxed", false),
            Timeout = r.Double("timeout", 10, 0, 3600, minExclusive: true),
            CompileTimeout = r.Double("compile_timeout", 60, 0, 3600, minExclusive: true),
            Clippy = r.Bool("clippy", true),
            Crates = r.Bool("crates", true),
        };
        if (e.Sandbox == "none" && !e.AllowUnsandboxed)
            r.Error("sandbox", "none runs the model's code directly on this machine; set eval.allow_unsandboxed: true as well if you mean it (development only), or use bwrap");
        if (e.GenerationEnabled)
        {
            if (e.Problems.Length == 0) e.Problems = BundledProblems() ?? "";
            if (e.Problems.Length == 0)
                r.Error("problems", "the bundled data/problems/smelt_rust_problems.jsonl is not next to this build; give a problem file");
            else if (!File.Exists(e.Problems))
                r.Error("problems", $"{e.Problems}: file not found (a HumanEval-X / MultiPL-E style JSONL problem file)");
            if (e.SamplesPerProblem > 1 && e.Temperature == 0)
                r.Error("samples_per_problem", $"{e.SamplesPerProblem} greedy samples would all be the same; set eval.temperature (e.g. 0.8) or samples_per_problem: 1");
        }
        r.RejectUnknownKeys();
        return e;
    }

    /// <summary>The bundled problem set (data/problems in a checkout, problems/ beside an installed build), or null.</summary>
    private static string? BundledProblems()
    {
        var dir = SmeltPaths.RepoRoot is { } root ? Path.Combine(root, "data", "problems") : Path.Combine(AppContext.BaseDirectory, "problems");
        var file = Path.Combine(dir, "smelt_rust_problems.jsonl");
        return File.Exists(file) ? Path.GetFullPath(file) : null;
    }

    private static LoggingSection ReadLogging(SectionReader r)
    {
        var l = new LoggingSection
        {
            Every = r.Int("every", 1, 1),
            Tensorboard = r.Bool("tensorboard", true),
            Progress = r.Choice("progress", "auto", "auto", "always", "never"),
            Plot = r.Bool("plot", true),
        };
        r.RejectUnknownKeys();
        return l;
    }

    private static OutputSection ReadOutput(SectionReader r)
    {
        var o = new OutputSection
        {
            Dir = r.String("dir", "runs/train", v => v.Length == 0 ? "must not be empty" : null),
            SaveEvery = r.Int("save_every", 50, 0),
            KeepLast = r.Int("keep_last", 2, 1, 1000),
        };
        r.RejectUnknownKeys();
        return o;
    }
}
