using Smelt.Core;
using Smelt.Training.Config;

namespace Smelt.Training.Tests;

public sealed class ConfigTests
{
    private const string Minimal = """
        model:
          path: models/tiny
        data:
          sources:
            - path: data/corpus
        train:
          max_steps: 20
          warmup_steps: 2
        """;

    private static SmeltException Fails(string yaml, params string[] overrides) =>
        Assert.Throws<SmeltException>(() => ConfigLoader.LoadText(yaml, "cfg.yml", overrides));

    [Fact]
    public void Minimal_config_fills_defaults()
    {
        var cfg = ConfigLoader.LoadText(Minimal, "cfg.yml");
        Assert.Equal("models/tiny", cfg.Model.Path);
        Assert.Equal(20, cfg.Train.MaxSteps);
        Assert.Equal(8, cfg.Lora.R);
        Assert.Equal(LoraSection.DefaultTargets, cfg.Lora.TargetModules);
        Assert.Single(cfg.EffectivePhases());
    }

    [Fact]
    public void Unknown_key_names_file_line_key_and_suggestion()
    {
        var yaml = Minimal + "\n  learning_rat: 0.1\n";
        var ex = Fails(yaml);
        Assert.Equal(ExitCodes.BadInput, ex.ExitCode);
        Assert.Contains("cfg.yml:9: train.learning_rat: unknown key", ex.Message);
        var typo = Fails(Minimal.Replace("max_steps: 20", "max_stpes: 20"));
        Assert.Contains("cfg.yml:7: train.max_stpes: unknown key; did you mean 'max_steps'?", typo.Message);
        var section = Fails(Minimal + "\nloar:\n  r: 4\n");
        Assert.Contains("loar: unknown key; did you mean 'lora'?", section.Message);
    }

    [Fact]
    public void Out_of_range_values_are_reported_with_line_and_all_at_once()
    {
        var yaml = Minimal + "\n  lr: -1\n  batch_size: 0\nlora:\n  dropout: 1.5\n  target_modules: [q_proj, v_prj]\n";
        var ex = Fails(yaml);
        Assert.Contains("cfg.yml:9: train.lr: -1 is out of range; it must be > 0", ex.Message);
        Assert.Contains("cfg.yml:10: train.batch_size: 0 is out of range", ex.Message);
        Assert.Contains("cfg.yml:12: lora.dropout: 1.5 is out of range", ex.Message);
        Assert.Contains("did you mean 'v_proj'?", ex.Message);
        Assert.Contains("4 problem(s)", ex.Message);
    }

    [Fact]
    public void Wrong_types_and_choices_are_errors()
    {
        var ex = Fails(Minimal + "\n  schedule: cosin\n  seed: abc\n  precision: [f32]\n");
        Assert.Contains("train.schedule: 'cosin' is not allowed; use one of cosine, linear, constant (did you mean 'cosine'?)", ex.Message);
        Assert.Contains("train.seed: 'abc' is not an integer", ex.Message);
        Assert.Contains("train.precision: expected one of", ex.Message);
    }

    [Fact]
    public void Set_overrides_any_key_and_is_validated()
    {
        var cfg = ConfigLoader.LoadText(Minimal, "cfg.yml", ["train.lr=1e-3", "lora.target_modules=[q_proj,v_proj]", "output.dir=/tmp/x", "quantization.method=nf4"]);
        Assert.Equal(1e-3, cfg.Train.Lr);
        Assert.Equal(["q_proj", "v_proj"], cfg.Lora.TargetModules);
        Assert.Equal("/tmp/x", cfg.Output.Dir);
        Assert.Equal("nf4", cfg.Quantization.Method);

        var bad = Fails(Minimal, "train.lr=2");
        Assert.Contains("--set train.lr=2: train.lr: 2 is out of range", bad.Message);
        var unknown = Fails(Minimal, "train.lrr=0.1");
        Assert.Contains("--set train.lrr=0.1: train.lrr: unknown key; did you mean 'lr'?", unknown.Message);
        var malformed = Fails(Minimal, "train.lr");
        Assert.Contains("expected key=value", malformed.Message);
    }

    [Fact]
    public void Missing_required_pieces_are_reported()
    {
        var ex = Fails("train:\n  max_steps: 5\n  warmup_steps: 9\n");
        Assert.Contains("model.path: required", ex.Message);
        Assert.Contains("data.sources: at least one data source is required", ex.Message);
        Assert.Contains("warmup_steps: 9 exceeds max_steps 5", ex.Message);
    }

    [Fact]
    public void Invalid_yaml_names_the_line()
    {
        var ex = Fails("model:\n  path: [unclosed\n");
        Assert.Contains("cfg.yml:", ex.Message);
        Assert.Contains("invalid YAML", ex.Message);
    }

    [Fact]
    public void Phases_inherit_top_level_and_override_their_own_sections()
    {
        var yaml = Minimal + """

            phases:
              - name: broad
                train:
                  max_steps: 30
                  lr: 1.0e-3
              - name: curated
                init_from: broad
                data:
                  max_seq_len: 128
                  sources:
                    - path: data/curated.jsonl
                train:
                  max_steps: 10
                  warmup_steps: 1
                  schedule: linear
            """;
        var cfg = ConfigLoader.LoadText(yaml, "cfg.yml", ["phases.1.train.lr=5e-5"]);
        var phases = cfg.EffectivePhases();
        Assert.Equal(2, phases.Count);
        Assert.Equal(30, phases[0].Train.MaxSteps);
        Assert.Equal(2, phases[0].Train.WarmupSteps); // inherited
        Assert.Equal("data/corpus", phases[0].Data.Sources[0].Path);
        Assert.Equal("broad", phases[1].InitFrom);
        Assert.Equal(128, phases[1].Data.MaxSeqLen);
        Assert.Equal("data/curated.jsonl", phases[1].Data.Sources[0].Path);
        Assert.Equal("linear", phases[1].Train.Schedule);
        Assert.Equal(5e-5, phases[1].Train.Lr);

        var bad = Fails(yaml.Replace("init_from: broad", "init_from: brod"));
        Assert.Contains("'brod' is neither an earlier phase (broad)", bad.Message);
    }

    [Fact]
    public void Resolved_config_round_trips()
    {
        var cfg = ConfigLoader.LoadText(Minimal, "cfg.yml", ["train.lr=3e-4", "lora.use_rslora=true"]);
        var yaml = ConfigWriter.ToYaml(cfg);
        var again = ConfigLoader.LoadText(yaml, "resolved.yml");
        Assert.Equal(ConfigWriter.ToYaml(again), yaml);
        Assert.Equal(3e-4, again.Train.Lr);
        Assert.True(again.Lora.UseRslora);
    }

    [Fact]
    public void Embedded_default_is_the_repository_tiny_config_and_valid()
    {
        var text = ConfigLoader.EmbeddedDefaultText();
        Assert.Equal(File.ReadAllText(Path.Combine(TestSupport.TestEnvironment.RepoRoot, "configs", "tiny.yml")), text);
        var cfg = ConfigLoader.LoadText(text, ConfigLoader.EmbeddedDefaultName);
        Assert.NotEmpty(cfg.Data.Sources);
    }

    [Fact]
    public void Every_shipped_config_is_valid()
    {
        // Training configs are the ones with a top-level model: section (configs/ also holds other tools' files, e.g. sweeps).
        var files = Directory.GetFiles(Path.Combine(TestSupport.TestEnvironment.RepoRoot, "configs"), "*.yml")
            .Where(f => File.ReadLines(f).Any(l => l.StartsWith("model:", StringComparison.Ordinal))).ToList();
        Assert.Contains(files, f => f.EndsWith("tiny.yml", StringComparison.Ordinal));
        foreach (var f in files) ConfigLoader.LoadFile(f);
    }
}
