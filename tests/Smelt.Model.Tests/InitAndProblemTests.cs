using System.Text.Json;
using Smelt.Core;
using Smelt.Model;
using Smelt.TestSupport;

namespace Smelt.Model.Tests;

public sealed class ModelInitTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("smelt-init-");
    public ModelInitTests() => TorchRuntime.EnsureLoaded();
    public void Dispose() => _dir.Delete(true);
    private string P(string name) => Path.Combine(_dir.FullName, name);

    [Fact]
    public void Tiny_preset_writes_a_loadable_hugging_face_directory_deterministically()
    {
        var corpus = ModelPresets.DefaultCorpus();
        var a = ModelPresets.Init("tiny", P("a"), seed: 5, corpus);
        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json" })
            Assert.True(File.Exists(Path.Combine(a.Directory, f)), f);
        Assert.InRange(a.Parameters, 500_000, 5_000_000);
        using (var m = LlamaForCausalLM.Load(a.Directory))
        using (var tok = TextTokenizer.Load(a.Directory))
        {
            Assert.Equal(a.Parameters, m.parameters().Sum(p => p.numel()));
            Assert.Equal(m.Config.VocabSize, tok.VocabSize);
            tok.CheckMatches(m.Config, a.Directory);
            Assert.Equal(tok.BosId, m.Config.BosTokenId);
            Assert.Contains(tok.IdOf(BpeTrainer.EotId)!.Value, tok.EosIds);
            Assert.Contains(tok.IdOf(BpeTrainer.EndOfText)!.Value, tok.EosIds);
        }
        if (corpus is not null) Assert.True(a.Merges > 1000);
        ModelPresets.Init("tiny", P("b"), seed: 5, corpus);
        ModelPresets.Init("tiny", P("c"), seed: 6, corpus);
        Assert.Equal(File.ReadAllBytes(P("a/model.safetensors")), File.ReadAllBytes(P("b/model.safetensors")));
        Assert.Equal(File.ReadAllBytes(P("a/tokenizer.json")), File.ReadAllBytes(P("b/tokenizer.json")));
        Assert.NotEqual(File.ReadAllBytes(P("a/model.safetensors")), File.ReadAllBytes(P("c/model.safetensors")));
    }

    [Fact]
    public void Without_a_corpus_the_tokenizer_is_plain_bytes_and_still_round_trips()
    {
        var r = ModelPresets.Init("tiny", P("bytes"), seed: 1, corpus: null);
        Assert.Equal(0, r.Merges);
        using var tok = TextTokenizer.Load(r.Directory);
        var text = "fn main() { println!(\"ü 🦀\"); }";
        var ids = tok.Encode(text, addBos: false);
        Assert.Equal(System.Text.Encoding.UTF8.GetByteCount(text), ids.Length);
        Assert.Equal(text, tok.Decode(ids));
    }

    [Fact]
    public void Refuses_a_non_empty_output_directory_and_unknown_presets()
    {
        Directory.CreateDirectory(P("full"));
        File.WriteAllText(P("full/keep.txt"), "mine");
        var ex = Assert.Throws<SmeltException>(() => ModelPresets.Init("tiny", P("full"), 0, null));
        Assert.Contains("not empty", ex.Message);
        Assert.Equal("mine", File.ReadAllText(P("full/keep.txt")));
        ex = Assert.Throws<SmeltException>(() => ModelPresets.Init("huge", P("x"), 0, null));
        Assert.Contains("tiny, 100m", ex.Message);
    }

    [Fact]
    public void The_100m_preset_is_about_100M_parameters()
    {
        Assert.InRange(ModelPresets.Get("100m").Config.ParameterCount(), 90_000_000, 115_000_000);
    }

    [Fact]
    public void Adapter_without_a_registered_loader_fails_clearly()
    {
        var r = ModelPresets.Init("tiny", P("m"), 0, null);
        using var m = LlamaForCausalLM.Load(r.Directory);
        Directory.CreateDirectory(P("adapter"));
        var ex = Assert.Throws<SmeltException>(() => AdapterRegistry.Apply(m, P("adapter")));
        Assert.Contains("not available", ex.Message);
        ex = Assert.Throws<SmeltException>(() => AdapterRegistry.Apply(m, P("nope")));
        Assert.Contains("not found", ex.Message);
    }
}

public sealed class ProblemGenerationTests(TinyModelFixture fx) : IClassFixture<TinyModelFixture>
{
    [SharedDataFact("humaneval-rust/humaneval_x_rust.jsonl")]
    public void Humaneval_x_tasks_continue_prompt_plus_declaration()
    {
        var path = TestEnvironment.SharedFile("humaneval-rust/humaneval_x_rust.jsonl");
        var tasks = ProblemGeneration.ReadProblems(path);
        Assert.Equal(164, tasks.Count);
        using var doc = JsonDocument.Parse(File.ReadLines(path).First());
        Assert.Equal(doc.RootElement.GetProperty("prompt").GetString() + doc.RootElement.GetProperty("declaration").GetString(), tasks[0].Input);
        Assert.EndsWith("{\n", tasks[0].Input);
    }

    [SharedDataFact("humaneval-rust/humaneval_rust_164.jsonl")]
    public void Human_eval_rust_tasks_continue_the_prompt()
    {
        var tasks = ProblemGeneration.ReadProblems(TestEnvironment.SharedFile("humaneval-rust/humaneval_rust_164.jsonl"));
        Assert.Equal(164, tasks.Count);
        Assert.Contains("fn has_close_elements", tasks[0].Input);
    }

    [Fact]
    public void Bad_problem_lines_are_all_reported_before_any_work()
    {
        var file = Path.Combine(fx.Dir.FullName, "bad.jsonl");
        File.WriteAllText(file, "{\"task_id\":\"a\",\"prompt\":\"x\"}\n{\"prompt\":\"y\"}\nnot json\n{\"task_id\":\"a\",\"prompt\":\"z\"}\n{\"task_id\":\"b\"}\n");
        var ex = Assert.Throws<SmeltException>(() => ProblemGeneration.ReadProblems(file));
        Assert.Contains("4 bad line(s)", ex.Message);
        Assert.Contains("bad.jsonl:2: missing string 'task_id'", ex.Message);
        Assert.Contains("bad.jsonl:3: malformed JSON", ex.Message);
        Assert.Contains("bad.jsonl:4: task_id 'a' already appeared on line 1", ex.Message);
        Assert.Contains("bad.jsonl:5: task 'b' has no string 'prompt'", ex.Message);
    }

    [Fact]
    public void Writes_samples_and_resumes_an_interrupted_run_without_losing_finished_tasks()
    {
        var dir = Path.Combine(fx.Dir.FullName, "gen-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var tasks = new[]
        {
            new GenerationTask("T/0", "fn one() -> i32 {\n", 1),
            new GenerationTask("T/1", "fn two() -> i32 {\n", 2),
            new GenerationTask("T/2", "fn three() -> i32 {\n", 3),
        };
        var g = new TextGenerator(fx.Model, fx.Tokenizer);
        var o = new SamplingOptions { Temperature = 0.8, MaxNewTokens = 6, Seed = 9, StopSequences = ProblemGeneration.DefaultStops, IncludeStopSequence = true };
        var full = Path.Combine(dir, "full.jsonl");
        var s = ProblemGeneration.Run(g, tasks, full, samplesPerTask: 2, batchSize: 2, o);
        Assert.Equal(6, s.Samples);
        var lines = File.ReadAllLines(full);
        Assert.Equal(6, lines.Length);
        foreach (var l in lines)
        {
            using var d = JsonDocument.Parse(l);
            Assert.Equal(2, d.RootElement.EnumerateObject().Count());
            Assert.StartsWith("T/", d.RootElement.GetProperty("task_id").GetString());
            Assert.Equal(JsonValueKind.String, d.RootElement.GetProperty("completion").ValueKind);
        }
        Assert.False(File.Exists(full + ".partial"));

        // Simulate a crash: T/0 complete, T/1 with one of two samples and a cut-off line.
        var resumed = Path.Combine(dir, "resumed.jsonl");
        File.WriteAllText(resumed + ".partial", lines[0] + "\n" + lines[1] + "\n" + lines[2] + "\n{\"task_id\":\"T/1\",\"compl");
        var seen = new List<ProblemGeneration.Progress>();
        var r = ProblemGeneration.Run(g, tasks, resumed, 2, 2, o, seen.Add);
        Assert.Equal(1, r.Resumed);
        Assert.True(seen[0].Resumed);
        Assert.False(seen[1].Resumed);
        Assert.Equal(lines, File.ReadAllLines(resumed)); // same seeds, so the regenerated tasks match too

        var ex = Assert.Throws<SmeltException>(() => ProblemGeneration.Run(g, tasks, resumed, 2, 2, o));
        Assert.Contains("already exists", ex.Message);
    }
}

public sealed class EvalInteropTests(TinyModelFixture fx) : IClassFixture<TinyModelFixture>
{
    [SharedDataFact("humaneval-rust/humaneval_x_rust.jsonl")]
    public void Generated_samples_load_in_the_evaluator_without_issues()
    {
        var dir = Path.Combine(fx.Dir.FullName, "interop-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var problemsFile = Path.Combine(dir, "problems.jsonl");
        File.WriteAllLines(problemsFile, File.ReadLines(TestEnvironment.SharedFile("humaneval-rust/humaneval_x_rust.jsonl")).Take(3));
        var g = new TextGenerator(fx.Model, fx.Tokenizer);
        var o = new SamplingOptions { Temperature = 0.9, MaxNewTokens = 8, Seed = 1, StopSequences = ProblemGeneration.DefaultStops, IncludeStopSequence = true };
        var samples = Path.Combine(dir, "samples.jsonl");
        ProblemGeneration.Run(g, ProblemGeneration.ReadProblems(problemsFile), samples, samplesPerTask: 2, batchSize: 2, o);
        var problems = Smelt.Eval.ProblemSet.Load(problemsFile);
        var set = Smelt.Eval.SampleLoader.Load(samples, problems);
        Assert.Equal(6, set.Items.Count);
        Assert.Equal(["Rust/0", "Rust/0", "Rust/1", "Rust/1", "Rust/2", "Rust/2"], set.Items.Select(i => i.Problem.TaskId));
        Assert.DoesNotContain(set.Issues, i => !i.Message.Contains("identical", StringComparison.Ordinal));
    }
}
