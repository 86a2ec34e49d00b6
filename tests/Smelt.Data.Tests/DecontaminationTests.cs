using System.Text.Json;
using Smelt.Core;
using Smelt.Data.Filters;
using Xunit.Abstractions;

namespace Smelt.Data.Tests;

public sealed class DecontaminationTests(ITestOutputHelper output)
{
    private const string HumanEvalX = "humaneval-rust/humaneval_x_rust.jsonl";
    private const string HumanEval164 = "humaneval-rust/humaneval_rust_164.jsonl";
    private const string Sigil = "sigil-pipeline-sample/phase2_sample.jsonl";

    private static EvalNGramIndex Index(DecontaminationOptions o) =>
        new(EvalNGramIndex.LoadProblems(TestEnvironment.SharedFile(HumanEvalX)), o.NGram, o.MaxProblemsPerNGram);

    private static IEnumerable<JsonElement> Lines(string rel) => Jsonl.Read(TestEnvironment.SharedFile(rel)).Select(l => l.Value!.Value);

    [SharedDataFact(HumanEvalX)]
    public void Planted_contamination_is_dropped_and_clean_code_kept()
    {
        var options = new DecontaminationOptions { EvalFiles = [TestEnvironment.SharedFile(HumanEvalX)] };
        var index = Index(options);
        output.WriteLine($"{index.Count} n-grams indexed, {index.IgnoredBoilerplate} boilerplate n-grams ignored");
        Assert.True(index.IgnoredBoilerplate > 0, "the shared `use` preamble should be recognised as boilerplate");
        var stage = new DecontaminationStage(index, options);
        var tasks = Lines(HumanEvalX).ToList();
        var report = new FilterReport();
        TrainingRecord Raw(string t) => new() { Id = "x", Source = "s", Kind = RecordKind.Raw, Text = t };

        // 1. A solution pasted into an unrelated module, reformatted, with its comments changed.
        var t12 = tasks[12];
        var pasted = "use std::collections::HashMap;\n\npub struct Cache { map: HashMap<String, u32> }\n\n// helper copied from somewhere\n" +
                     t12.GetProperty("declaration").GetString()!.Split('\n').Last(l => l.Contains("fn ")) + "\n" +
                     t12.GetProperty("canonical_solution").GetString()!.Replace("    ", "\t") + "\nimpl Cache { pub fn new() -> Self { Cache { map: HashMap::new() } } }\n";
        Assert.Equal("decontamination:eval_overlap", stage.Apply(Raw(pasted), report).DropReason);
        // 2. An instruction record whose prompt is the problem statement and whose answer is the solution.
        var t40 = tasks[40];
        var instruction = new TrainingRecord
        {
            Id = "y", Source = "s", Kind = RecordKind.Instruction, Prompt = t40.GetProperty("prompt").GetString(),
            Response = t40.GetProperty("declaration").GetString() + t40.GetProperty("canonical_solution").GetString(),
        };
        Assert.Equal("decontamination:eval_overlap", stage.Apply(instruction, report).DropReason);
        Assert.Equal(2, report.ContaminatedByTask.Values.Sum());
        Assert.Contains("Rust/12", report.ContaminatedByTask.Keys);
        Assert.Contains("Rust/40", report.ContaminatedByTask.Keys);

        // 3. Only the boilerplate preamble (shared by every task) is not contamination.
        var preamble = t12.GetProperty("declaration").GetString()!.Split("fn ")[0] + "\npub fn unrelated(x: u32) -> u32 { x * 2 + 1 }\n";
        Assert.Null(stage.Apply(Raw(preamble), report).DropReason);
        // 4. Ordinary code is kept.
        Assert.Null(stage.Apply(Raw(Code.Function(5) + Code.Function(6)), report).DropReason);
    }

    [SharedDataFact(HumanEval164)]
    public void The_same_problems_in_another_format_are_caught_and_real_code_is_not()
    {
        if (!File.Exists(TestEnvironment.SharedFile(Sigil)) || !File.Exists(TestEnvironment.SharedFile(HumanEvalX)))
            Assert.Fail("shared data incomplete: " + TestEnvironment.SharedData);
        var options = new DecontaminationOptions { EvalFiles = [TestEnvironment.SharedFile(HumanEvalX)] };
        var stage = new DecontaminationStage(Index(options), options);
        // humaneval_rust_164 holds the same 164 problems with `//` prompts and reformatted signatures.
        var other = Lines(HumanEval164).Select(o => o.GetProperty("prompt").GetString() + "\n" + o.GetProperty("canonical_solution").GetString()).ToList();
        var caught = other.Count(t => stage.Apply(new TrainingRecord { Id = "h", Source = "s", Kind = RecordKind.Raw, Text = t }, new FilterReport()).DropReason is not null);
        // 240 real prompt/gen records from a code-dataset pipeline: not HumanEval.
        var real = Lines(Sigil).Select(o => new TrainingRecord { Id = "r", Source = "s", Kind = RecordKind.Instruction, Prompt = o.GetProperty("prompt").GetString(), Response = o.GetProperty("gen").GetString() }).ToList();
        var falseHits = real.Count(r => stage.Apply(r, new FilterReport()).DropReason is not null);
        output.WriteLine($"caught {caught}/{other.Count} reformatted eval problems; flagged {falseHits}/{real.Count} real records");
        Assert.True(caught >= 0.9 * other.Count, $"caught only {caught} of {other.Count}");
        Assert.True(falseHits <= real.Count / 50, $"{falseHits} of {real.Count} real records flagged");
    }

    [Fact]
    public void Eval_file_problems_are_reported_with_file_and_line()
    {
        using var dir = new TempDir();
        var bad = dir.File("he.jsonl", "{\"task_id\": \"a\", \"prompt\": \"fn a() {}\"}\n{oops\n");
        var ex = Assert.Throws<SmeltException>(() => EvalNGramIndex.LoadProblems(bad));
        Assert.StartsWith($"{bad}:2:", ex.Message);
        var empty = dir.File("empty.jsonl", "{\"task_id\": \"a\", \"test\": \"x\"}\n");
        Assert.Contains("none of 'prompt', 'declaration', 'canonical_solution'", Assert.Throws<SmeltException>(() => EvalNGramIndex.LoadProblems(empty)).Message);
    }

    [Fact]
    public void Rolling_ngrams_match_direct_computation()
    {
        var tokens = Enumerable.Range(0, 30).Select(i => (ulong)(i * 2654435761L)).ToList();
        var rolled = NGrams.Rolling(tokens, 5);
        Assert.Equal(26, rolled.Length);
        for (var i = 0; i < rolled.Length; i++)
            Assert.Equal(NGrams.Rolling(tokens.Skip(i).Take(5).ToList(), 5)[0], rolled[i]);
        Assert.Empty(NGrams.Rolling(tokens.Take(4).ToList(), 5));
    }
}
