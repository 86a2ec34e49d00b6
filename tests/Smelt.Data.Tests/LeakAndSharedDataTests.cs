using Smelt.Data.Secrets;
using Xunit.Abstractions;

namespace Smelt.Data.Tests;

public sealed class VerbatimLeakTests
{
    private static string Training(int seed) => string.Concat(Enumerable.Range(seed, 12).Select(Code.Function));

    [Fact]
    public void Finds_a_long_verbatim_run_and_its_span()
    {
        var train = Training(0);
        var index = new VerbatimLeakIndex(50);
        index.Add(train);
        // The completion copies three functions (about 90 tokens) verbatim between its own code.
        var copied = Code.Function(3) + Code.Function(4) + Code.Function(5);
        var completion = "fn mine() -> u8 { 42 }\n" + copied.Replace("\n", "\n\n") + "fn other() {}\n";
        var runs = index.FindRuns(completion);
        var run = Assert.Single(runs);
        Assert.True(run.Tokens >= 80, $"run of {run.Tokens} tokens");
        Assert.Contains("pub fn add_3", completion[run.Start..run.End]);
        Assert.Contains("add_5", completion[run.Start..run.End]);
        Assert.DoesNotContain("mine", completion[run.Start..run.End]);
        Assert.Equal(run.Tokens, index.LongestRun(completion));
    }

    [Fact]
    public void Short_overlaps_and_unrelated_code_are_not_leaks()
    {
        var index = new VerbatimLeakIndex(50);
        index.Add(Training(0));
        Assert.Equal(0, index.LongestRun(Code.Function(3))); // ~30 tokens: below the 50-token bar
        Assert.Equal(0, index.LongestRun(Training(100)));
        Assert.Empty(index.FindRuns(""));
    }

    [Fact]
    public void Build_from_pipeline_records()
    {
        var records = new[] { new TrainingRecord { Id = "a", Source = "s", Kind = RecordKind.Instruction, Prompt = "Write helpers", Response = Training(7) } };
        var index = VerbatimLeakIndex.Build(records, 40);
        Assert.True(index.IndexedWindows > 100);
        Assert.True(index.LongestRun(Code.Function(8) + Code.Function(9)) >= 40);
        Assert.Throws<ArgumentOutOfRangeException>(() => new VerbatimLeakIndex(2));
    }
}

public sealed class SharedDataTests(ITestOutputHelper output)
{
    private const string Sigil = "sigil-pipeline-sample/phase2_sample.jsonl";

    [SharedDataFact(Sigil)]
    public void Real_prompt_gen_records_flow_through_the_default_pipeline()
    {
        var pipeline = new DataPipeline(new DataOptions { Sources = [new SourceOptions { Path = TestEnvironment.SharedFile(Sigil), Name = "sigil" }] });
        var records = pipeline.Records().ToList();
        var report = pipeline.LastReport!;
        output.WriteLine(report.ToTable());
        Assert.Equal(240, report.TotalRead);
        Assert.Equal(0, report.TotalMalformed);
        Assert.All(records, r => Assert.Equal(RecordKind.Instruction, r.Kind));
        Assert.True(records.Count >= 150, $"only {records.Count} of 240 kept");
        Assert.Equal(records.Count, report.Emitted);
        Assert.Equal(240, report.Kept + report.Dropped.Values.Sum());
        // No test module survives the lexer-based stripping.
        Assert.DoesNotContain(records, r => Smelt.Data.Rust.TestCode.Analyse(r.Response!).HasTestCode);
    }

    [SharedDataFact(Sigil)]
    public void Scanner_false_alarms_on_real_code_are_rare()
    {
        var scanner = new SecretScanner();
        var findings = new List<string>();
        foreach (var line in Smelt.Core.Jsonl.Read(TestEnvironment.SharedFile(Sigil)))
        {
            var gen = line.Value!.Value.GetProperty("gen").GetString()!;
            foreach (var f in scanner.Scan(gen)) findings.Add($"{line.Where}: {f.Kind} {gen.Substring(f.Start, Math.Min(f.Length, 60))}");
        }
        foreach (var f in findings) output.WriteLine(f);
        output.WriteLine($"{findings.Count} findings in 240 records");
        // Expected: the hard-coded secret_key of a Rocket doc example (twice) and a public IP address in another doc
        // example; both are findings by the documented definitions, and nothing else should be.
        Assert.True(findings.Count <= 4, string.Join("\n", findings));
    }
}
