using System.Text.Json;
using Smelt.Core;
using Smelt.TestSupport;
using Smelt.Training.Config;
using Smelt.Training.Data;

namespace Smelt.Training.Tests;

public sealed class PipelineDataTests
{
    private static TrainConfig Cfg(string dataFile, params string[] overrides) =>
        ConfigLoader.LoadText($"""
            model:
              path: m
            data:
              sources:
                - path: {dataFile}
              filters:
                min_chars: 5
            train:
              max_steps: 5
              warmup_steps: 1
            """, "p.yml", overrides);

    private static string Jsonl(params object[] records)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("smelt-pd-").FullName, "d.jsonl");
        File.WriteAllLines(path, records.Select(r => r as string ?? JsonSerializer.Serialize(r)));
        return path;
    }

    [Fact]
    public void Records_of_every_kind_become_examples_and_bad_lines_are_skipped()
    {
        var file = Jsonl(
            new { prompt = "fn add(a: i32, b: i32) -> i32 {\n", gen = "    a + b\n}\n" },
            new { messages = new[] { new { role = "user", content = "write main" }, new { role = "assistant", content = "fn main() { println!(\"hi\"); }" } } },
            new { text = "pub fn id<T>(x: T) -> T { x }", path = "src/lib.rs" },
            "{ not json",
            new { unrelated = 1 });
        var cfg = Cfg(file);
        var data = new PipelineData(cfg);
        var examples = data.Train(cfg.EffectivePhases()[0], 0).ToList();
        Assert.Equal([ExampleKind.Instruction, ExampleKind.Chat, ExampleKind.Raw], examples.Select(e => e.Kind));
        Assert.Equal("    a + b\n}\n", examples[0].Response);
        Assert.Equal("assistant", examples[1].Messages![1].Role);
        var report = data.Pipeline(cfg.EffectivePhases()[0]).Analyse();
        Assert.Equal(2, report.TotalMalformed);
    }

    [Fact]
    public void Config_filters_reach_the_pipeline_and_an_empty_result_names_the_filter()
    {
        var file = Jsonl(new { text = "fn a() {}" }, new { text = "fn b() {}" });
        var cfg = Cfg(file, "data.filters.min_chars=1000", "data.filters.max_chars=5000");
        var options = PipelineData.ToOptions(cfg.Data, 1);
        Assert.Equal(1000, options.Length!.MinChars);
        Assert.Null(options.Quality);
        Assert.NotNull(options.Secrets);
        var ex = Assert.Throws<SmeltException>(() => new PipelineData(cfg).Analyse(cfg.EffectivePhases(), Directory.CreateTempSubdirectory().FullName, new SilentProgress()));
        Assert.Contains("the 'length' filter removed all 2 records", ex.Message);

        var off = PipelineData.ToOptions(Cfg(file, "data.filters.test_code=drop", "data.filters.exclude_vendored=false", "data.filters.prefer_documented=true", "data.filters.dedup_near=false").Data, 1);
        Assert.Equal(Smelt.Data.TestCodeMode.Drop, off.TestCode);
        Assert.Empty(off.Paths!.VendoredDirs);
        Assert.NotNull(off.Quality!.MinDocRatio);
        Assert.Null(off.Quality.MaxUnsafe);
        Assert.False(off.Dedup!.Near);

        var missing = Assert.Throws<SmeltException>(() => new PipelineData(Cfg("/nonexistent/data.jsonl")));
        Assert.Contains("/nonexistent/data.jsonl", missing.Message);
    }

    [Fact]
    public void Validation_split_is_a_stable_seeded_fraction()
    {
        var ids = Enumerable.Range(0, 4000).Select(i => $"src:{i}").ToList();
        var held = ids.Count(id => PipelineData.IsValidation(id, 0.1, 7));
        Assert.InRange(held, 320, 480);
        Assert.Equal(ids.Select(id => PipelineData.IsValidation(id, 0.1, 7)), ids.Select(id => PipelineData.IsValidation(id, 0.1, 7)));
        Assert.NotEqual(ids.Select(id => PipelineData.IsValidation(id, 0.1, 7)), ids.Select(id => PipelineData.IsValidation(id, 0.1, 8)));
        Assert.DoesNotContain(ids, id => PipelineData.IsValidation(id, 0, 7));
    }

    [SharedDataFact("humaneval-rust/humaneval_x_rust.jsonl")]
    public void Decontamination_drops_training_records_that_copy_an_eval_solution()
    {
        var evalFile = TestEnvironment.SharedFile("humaneval-rust/humaneval_x_rust.jsonl");
        var task = JsonDocument.Parse(File.ReadLines(evalFile).First()).RootElement;
        var leaked = task.GetProperty("declaration").GetString() + task.GetProperty("canonical_solution").GetString();
        var file = Jsonl(
            new { text = leaked, path = "src/leak.rs" },
            new { text = "/// Sums a slice.\npub fn total(xs: &[u64]) -> u64 {\n    xs.iter().sum()\n}\n", path = "src/sum.rs" });
        var cfg = Cfg(file, $"data.filters.decontaminate=[{evalFile}]", "data.filters.dedup_near=false");
        var data = new PipelineData(cfg);
        var kept = data.Train(cfg.EffectivePhases()[0], 0).ToList();
        Assert.Single(kept);
        Assert.Contains("total", kept[0].Text);
        var report = data.Pipeline(cfg.EffectivePhases()[0]).LastReport!;
        Assert.Contains(report.Dropped, d => d.Key.StartsWith("decontamination", StringComparison.Ordinal) && d.Value == 1);
    }
}

public sealed class ModelResolutionTests
{
    [Fact]
    public void Local_directories_win_and_a_missing_local_path_says_how_to_create_it()
    {
        var dir = Directory.CreateTempSubdirectory("smelt-model-").FullName;
        Assert.Equal(dir, TrainRunner.ResolveModel(new ModelSection { Path = dir }));
        var ex = Assert.Throws<SmeltException>(() => TrainRunner.ResolveModel(new ModelSection { Path = "artifacts/models/nope" }));
        Assert.Contains("smelt model init --preset tiny --out artifacts/models/nope", ex.Message);
        var ex2 = Assert.Throws<SmeltException>(() => TrainRunner.ResolveModel(new ModelSection { Path = "./models/x" }));
        Assert.Contains("no such directory", ex2.Message);
    }
}
