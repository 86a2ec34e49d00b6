using System.Text.Json;
using Smelt.Model;
using Smelt.Training;
using Smelt.TestSupport;

namespace Smelt.Workflow.Tests;

public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("smelt-workflow-test-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string content)
    {
        var p = File(name);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(p)!);
        System.IO.File.WriteAllText(p, content);
        return p;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, true); } catch (IOException) { }
    }
}

/// <summary>
/// One tiny model (the model engineer's "tiny" preset, tokenizer learned from data/corpus) and one short real training run over the
/// bundled problems' canonical solutions, shared by the tests that need a model or a run directory.
/// </summary>
public sealed class TinyWorld : IDisposable
{
    public TempDir Root { get; } = new();
    public string ModelDir { get; }
    public string DataPath { get; }
    public string RunDir { get; }
    public TrainResult Run { get; }
    public static string BundledProblems => System.IO.Path.Combine(TestEnvironment.RepoRoot, "data", "problems", "smelt_rust_problems.jsonl");
    public static string BundledSamples => System.IO.Path.Combine(TestEnvironment.RepoRoot, "data", "problems", "smelt_rust_samples_demo.jsonl");

    public TinyWorld()
    {
        TorchRuntime.EnsureLoaded();
        ModelDir = Root.File("model");
        // The tokenizer is learned from the bundled corpus so it covers the model's whole vocabulary (sampling can emit any id).
        ModelPresets.Init("tiny", ModelDir, seed: 7, corpus: Path.Combine(TestEnvironment.RepoRoot, "data", "corpus"));
        DataPath = WriteTrainingData(Root.File("data.jsonl"));
        RunDir = Root.File("run");
        var cfg = TrainRunner.LoadConfig(WriteConfig(Root, ModelDir, DataPath, RunDir, steps: 6), []);
        Run = TrainRunner.Run(cfg, resume: false, new SilentProgress(), threads: 2);
    }

    /// <summary>prompt/gen records from the bundled problems (declaration → canonical solution).</summary>
    public static string WriteTrainingData(string path)
    {
        var lines = new List<string>();
        foreach (var line in System.IO.File.ReadLines(BundledProblems))
        {
            using var doc = JsonDocument.Parse(line);
            var o = doc.RootElement;
            lines.Add(JsonSerializer.Serialize(new Dictionary<string, string>
            {
                ["prompt"] = o.GetProperty("declaration").GetString()!, // short, so the byte-level tokenizer leaves room for the answer
                ["gen"] = o.GetProperty("canonical_solution").GetString()!,
            }));
        }
        System.IO.File.WriteAllText(path, string.Join("\n", lines) + "\n");
        return path;
    }

    public static string WriteConfig(TempDir dir, string model, string data, string output, int steps, string name = "train.yml", string extra = "")
    {
        var yaml = $"""
            model:
              path: {model}
            data:
              sources:
                - path: {data}
              max_seq_len: 256
              validation_fraction: 0.2
            lora:
              r: 4
              alpha: 8
              dropout: 0.0
            train:
              max_steps: {steps}
              batch_size: 2
              lr: 2.0e-3
              warmup_steps: 1
            eval:
              every: 3
              validation_batches: 1
            logging:
              progress: never
            output:
              dir: {output}
              save_every: 3
            {extra}
            """;
        return dir.Write(name, yaml);
    }

    public void Dispose() => Root.Dispose();
}

[CollectionDefinition("tiny")]
public sealed class TinyCollection : ICollectionFixture<TinyWorld>;
