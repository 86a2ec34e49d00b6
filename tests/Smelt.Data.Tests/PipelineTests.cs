using Parquet;
using Parquet.Schema;
using Smelt.Core;

namespace Smelt.Data.Tests;

public sealed class SourceTests
{
    [Fact]
    public void Jsonl_detects_each_convention_and_reports_malformed_lines_with_file_and_line()
    {
        using var dir = new TempDir();
        var path = dir.Jsonl("mixed.jsonl", [
            new { prompt = "Write add", gen = "fn add() {}" },
            new { messages = new[] { new { role = "user", content = "hi" }, new { role = "assistant", content = "fn x() {}" } } },
            new { text = "fn raw() {}", path = "src/lib.rs", _task_type = "raw" },
            "{not json",
            new { content = "fn c() {}" },
            new { other = 1 },
            new { prompt = "p" },
            new { messages = new[] { new { role = "user", content = "only a question" } } },
            new { text = 5 },
        ]);
        var items = new JsonlSource(path).Read().ToList();
        var records = items.Where(i => i.Record is not null).Select(i => i.Record!).ToList();
        Assert.Equal([RecordKind.Instruction, RecordKind.Chat, RecordKind.Raw, RecordKind.Raw], records.Select(r => r.Kind));
        Assert.Equal("fn add() {}", records[0].Response);
        Assert.Equal("fn x() {}", records[1].CodeText);
        Assert.Equal("src/lib.rs", records[2].Path);
        Assert.Equal("raw", records[2].TaskType);
        Assert.Equal("mixed:3", records[2].Id);
        var problems = items.Where(i => i.Problem is not null).Select(i => i.Problem!).ToList();
        Assert.Equal(5, problems.Count);
        Assert.StartsWith($"{path}:4: malformed JSON", problems[0]);
        Assert.StartsWith($"{path}:6: record has none of the expected fields", problems[1]);
        Assert.Contains("its keys are: other", problems[1]);
        Assert.StartsWith($"{path}:7: has 'prompt' but no response field", problems[2]);
        Assert.StartsWith($"{path}:8: 'messages' has no assistant turn", problems[3]);
        Assert.StartsWith($"{path}:9: 'text' must be a string", problems[4]);
    }

    [Fact]
    public void Directory_source_streams_matching_files_in_ordinal_order_with_paths()
    {
        using var dir = new TempDir();
        dir.File("b/z.rs", "fn z() {}");
        dir.File("a.rs", "fn a() {}");
        dir.File("b/notes.md", "# not rust");
        dir.File("b/c/y.rs", "fn y() {}");
        System.IO.File.WriteAllBytes(System.IO.Path.Combine(dir.Path, "bin.rs"), [0x66, 0x00, 0x6e]);
        System.IO.File.WriteAllBytes(System.IO.Path.Combine(dir.Path, "latin1.rs"), [0x66, 0xE9, 0x0A]);
        var items = new DirectorySource(dir.Path, name: "corpus").Read().ToList();
        Assert.Equal(["a.rs", "b/c/y.rs", "b/z.rs"], items.Where(i => i.Record is not null).Select(i => i.Record!.Path));
        Assert.Equal("corpus:b/c/y.rs", items.First(i => i.Record?.Path == "b/c/y.rs").Record!.Id);
        var problems = items.Where(i => i.Problem is not null).Select(i => i.Problem!).ToList();
        Assert.Contains(problems, p => p.Contains("bin.rs") && p.Contains("binary"));
        Assert.Contains(problems, p => p.Contains("latin1.rs") && p.Contains("not valid UTF-8"));
    }

    [Fact]
    public async Task Parquet_source_reads_the_same_conventions_row_group_by_row_group()
    {
        using var dir = new TempDir();
        var path = System.IO.Path.Combine(dir.Path, "data.parquet");
        var prompt = new DataField<string>("prompt");
        var gen = new DataField<string>("gen");
        var text = new DataField<string>("text");
        var task = new DataField<string>("_task_type");
        var schema = new ParquetSchema(prompt, gen, text, task);
        await using (var fs = System.IO.File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(schema, fs))
        {
            for (var g = 0; g < 2; g++)
            {
                using var rg = writer.CreateRowGroup();
                await rg.WriteAsync(prompt, new[] { $"p{g}a", null });
                await rg.WriteAsync(gen, new[] { $"fn g{g}() {{}}", null });
                await rg.WriteAsync(text, new[] { null, $"fn t{g}() {{}}" });
                await rg.WriteAsync(task, new[] { "gen", null });
            }
        }
        var items = new ParquetSource(path).Read().ToList();
        Assert.All(items, i => Assert.Null(i.Problem));
        var r = items.Select(i => i.Record!).ToList();
        Assert.Equal(4, r.Count);
        Assert.Equal([RecordKind.Instruction, RecordKind.Raw, RecordKind.Instruction, RecordKind.Raw], r.Select(x => x.Kind));
        Assert.Equal("fn g1() {}", r[2].Response);
        Assert.Equal("gen", r[2].TaskType);
        Assert.Equal("data:row 3", r[3].Id);
    }

    [Fact]
    public async Task Parquet_messages_column_holds_json_and_bad_json_is_reported_by_row()
    {
        using var dir = new TempDir();
        var path = System.IO.Path.Combine(dir.Path, "chat.parquet");
        var messages = new DataField<string>("messages");
        await using (var fs = System.IO.File.Create(path))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(messages), fs))
        {
            using var rg = writer.CreateRowGroup();
            await rg.WriteAsync(messages, new[]
            {
                "[{\"role\": \"user\", \"content\": \"add\"}, {\"role\": \"assistant\", \"content\": \"fn add() {}\"}]",
                "[{\"role\": \"user\"",
            });
        }
        var items = new ParquetSource(path).Read().ToList();
        Assert.Equal("fn add() {}", items[0].Record!.CodeText);
        Assert.Equal(RecordKind.Chat, items[0].Record!.Kind);
        Assert.StartsWith($"{path}: row 1: 'messages' is not valid JSON", items[1].Problem);
    }

    [Fact]
    public async Task A_file_list_reads_jsonl_gzip_and_parquet_files_in_order_as_one_source()
    {
        using var dir = new TempDir();
        dir.Jsonl("data/a.jsonl", [new { text = "fn a() {}" }, "{bad", new { text = "fn b() {}" }]);
        var gz = System.IO.Path.Combine(dir.Path, "data", "b.jsonl.gz");
        await using (var file = System.IO.File.Create(gz))
        await using (var zip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Optimal))
            await zip.WriteAsync("{\"prompt\": \"p\", \"gen\": \"fn g() {}\"}\n"u8.ToArray());
        var text = new DataField<string>("text");
        await using (var fs = System.IO.File.Create(System.IO.Path.Combine(dir.Path, "data", "c.parquet")))
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(text), fs))
        {
            using var rg = writer.CreateRowGroup();
            await rg.WriteAsync(text, new[] { "fn c() {}" });
        }
        var source = DataPipeline.CreateSource(new SourceOptions { Path = dir.Path, Name = "ds", Weight = 2, Files = ["data/a.jsonl", "data/b.jsonl.gz", "data/c.parquet"] });
        Assert.Equal(("ds", 2.0), (source.Name, source.Weight));
        var items = source.Read().ToList();
        Assert.Equal(["ds:data/a.jsonl:1", "ds:data/a.jsonl:3", "ds:data/b.jsonl.gz:1", "ds:data/c.parquet:row 0"], items.Where(i => i.Record is not null).Select(i => i.Record!.Id));
        Assert.All(items.Where(i => i.Record is not null), i => Assert.Equal("ds", i.Record!.Source));
        Assert.StartsWith(System.IO.Path.Combine(dir.Path, "data", "a.jsonl") + ":2:", items.Single(i => i.Problem is not null).Problem);
        Assert.Equal(RecordKind.Instruction, items[3].Record!.Kind);
        // A local .jsonl.gz path is detected as JSONL too; an unreadable name is refused up front.
        Assert.Single(DataPipeline.CreateSource(new SourceOptions { Path = gz }).Read());
        var csv = Assert.Throws<SmeltException>(() => DataPipeline.CreateSource(new SourceOptions { Path = dir.Path, Name = "ds", Files = ["notes.csv"] }));
        Assert.Contains("cannot read 'notes.csv'", csv.Message);
        var broken = dir.File("broken.jsonl.gz", "not gzip at all");
        var ex = Assert.Throws<SmeltException>(() => new JsonlSource(broken).Read().ToList());
        Assert.Contains("not a readable gzip file", ex.Message);
    }

    [Fact]
    public void Parquet_source_rejects_a_file_that_is_not_parquet()
    {
        using var dir = new TempDir();
        var path = dir.File("bad.parquet", "this is not parquet");
        var ex = Assert.Throws<SmeltException>(() => new ParquetSource(path).Read().ToList());
        Assert.Contains("not a readable Parquet file", ex.Message);
    }

    [Fact]
    public void Glob_semantics()
    {
        Assert.True(Glob.Matches("**/*.rs", "a.rs"));
        Assert.True(Glob.Matches("**/*.rs", "x/y/a.rs"));
        Assert.False(Glob.Matches("*.rs", "x/a.rs"));
        Assert.True(Glob.Matches("src/**", "src/a/b.rs"));
        Assert.False(Glob.Matches("**/*.rs", "a.rsx"));
        Assert.True(Glob.Matches("a?.rs", "ab.rs"));
    }
}

public sealed class MixingAndPositionTests
{
    private static DataOptions NoFilters(params SourceOptions[] sources) => new()
    {
        Sources = sources, Paths = null, TestCode = TestCodeMode.Keep, Length = null, Secrets = null, Dedup = null,
    };

    private static string Source(TempDir dir, string name, int n, string? taskType = null) =>
        dir.Jsonl($"{name}.jsonl", Enumerable.Range(0, n).Select(i => (object)new { text = $"{name}-{i}", _task_type = taskType }));

    [Fact]
    public void Sequential_and_round_robin_orders()
    {
        using var dir = new TempDir();
        var a = new SourceOptions { Path = Source(dir, "a", 3) };
        var b = new SourceOptions { Path = Source(dir, "b", 1) };
        Assert.Equal(["a-0", "a-1", "a-2", "b-0"], new DataPipeline(NoFilters(a, b)).Records().Select(r => r.Text));
        Assert.Equal(["a-0", "b-0", "a-1", "a-2"], new DataPipeline(NoFilters(a, b) with { Mix = MixMode.RoundRobin }).Records().Select(r => r.Text));
    }

    [Fact]
    public void Weighted_mixing_follows_the_weights_and_is_seeded()
    {
        using var dir = new TempDir();
        var a = new SourceOptions { Path = Source(dir, "a", 3000), Weight = 3 };
        var b = new SourceOptions { Path = Source(dir, "b", 3000), Weight = 1 };
        var options = NoFilters(a, b) with { Mix = MixMode.Weighted, Seed = 7 };
        var first = new DataPipeline(options).Records().Take(2000).Select(r => r.Text!).ToList();
        var fromA = first.Count(t => t.StartsWith("a-", StringComparison.Ordinal));
        Assert.InRange(fromA / 2000.0, 0.72, 0.78); // 3:1 → 0.75; 4 sigma ≈ 0.04
        Assert.Equal(first, new DataPipeline(options).Records().Take(2000).Select(r => r.Text!));
        Assert.NotEqual(first, new DataPipeline(options with { Seed = 8 }).Records().Take(2000).Select(r => r.Text!));
        // Both sources are used up completely: exhausted sources drop out.
        Assert.Equal(6000, new DataPipeline(options).Records().Count());
    }

    [Fact]
    public void Task_type_oversampling_with_fractional_weights()
    {
        using var dir = new TempDir();
        var gen = new SourceOptions { Path = Source(dir, "gen", 2000, "code_generation") };
        var doc = new SourceOptions { Path = Source(dir, "doc", 2000, "docs") };
        var plain = new SourceOptions { Path = Source(dir, "plain", 100) };
        var options = NoFilters(gen, doc, plain) with { TaskWeights = new Dictionary<string, double> { ["code_generation"] = 2.5, ["docs"] = 0.25 }, Seed = 3 };
        var pipeline = new DataPipeline(options);
        var records = pipeline.Records().ToList();
        var genCount = records.Count(r => r.TaskType == "code_generation");
        var docCount = records.Count(r => r.TaskType == "docs");
        Assert.InRange(genCount / 2000.0, 2.45, 2.55);
        Assert.InRange(docCount / 2000.0, 0.21, 0.29);
        Assert.Equal(100, records.Count(r => r.TaskType is null));
        // Copies of a record follow it, and carry their copy number.
        var copies = records.Where(r => r.Id == "gen:1").Select(r => r.Copy).ToList();
        Assert.True(copies.SequenceEqual([0, 1]) || copies.SequenceEqual([0, 1, 2]));
        var report = pipeline.LastReport!;
        Assert.Equal(4100, report.Kept);
        Assert.Equal(records.Count, report.Emitted);
        Assert.Equal(records.Count, report.Kept - report.Dropped["task_weight:sampled_out"] + report.Modified["task_weight:extra_copies"]);
        // The draw is seeded: same seed, same stream.
        Assert.Equal(records.Select(r => (r.Id, r.Copy)), new DataPipeline(options).Records().Select(r => (r.Id, r.Copy)));
    }

    [Fact]
    public void Resuming_from_any_position_continues_exactly()
    {
        using var dir = new TempDir();
        var a = new SourceOptions { Path = dir.Jsonl("a.jsonl", Enumerable.Range(0, 60).Select(i => (object)new { text = Code.Function(i % 45), _task_type = i % 3 == 0 ? "x" : null })) };
        var b = new SourceOptions { Path = Source(dir, "b", 40) };
        var options = new DataOptions
        {
            Sources = [a, b], Mix = MixMode.Weighted, Seed = 11, Length = new LengthOptions { MinChars = 1 },
            TaskWeights = new Dictionary<string, double> { ["x"] = 1.5 },
        };
        var pipeline = new DataPipeline(options);
        var full = pipeline.Read().ToList();
        Assert.True(full.Count > 50);
        Assert.True(pipeline.LastReport!.Dropped.ContainsKey("dedup:exact"), "the stream should exercise dedup state across a resume");
        foreach (var cut in new[] { 0, 1, 17, full.Count / 2, full.Count - 1 })
        {
            var position = cut == 0 ? DataPosition.StartOf(0, pipeline.Fingerprint) : DataPosition.FromJson(full[cut - 1].Next.ToJson());
            var resumed = new DataPipeline(options).Read(position).Select(p => (p.Record.Id, p.Record.Copy, p.Record.Text)).ToList();
            Assert.Equal(full.Skip(cut).Select(p => (p.Record.Id, p.Record.Copy, p.Record.Text)), resumed);
        }
        // At the very end, the epoch is done: nothing more.
        Assert.Empty(new DataPipeline(options).Read(full[^1].Next));
    }

    [Fact]
    public void Shuffle_buffer_permutes_deterministically_and_resumes_exactly()
    {
        using var dir = new TempDir();
        var options = NoFilters(new SourceOptions { Path = Source(dir, "a", 500) }) with { ShuffleBuffer = 64, Seed = 5 };
        var pipeline = new DataPipeline(options);
        var shuffled = pipeline.Read().ToList();
        var texts = shuffled.Select(p => p.Record.Text!).ToList();
        Assert.Equal(Enumerable.Range(0, 500).Select(i => $"a-{i}").Order(), texts.Order());  // a permutation: nothing lost or repeated
        Assert.NotEqual(Enumerable.Range(0, 500).Select(i => $"a-{i}"), texts);
        Assert.Equal(texts, new DataPipeline(options).Records().Select(r => r.Text!));           // seeded
        Assert.NotEqual(texts, new DataPipeline(options).Records(epoch: 1).Select(r => r.Text!)); // another epoch, another order
        var resumed = new DataPipeline(options).Read(shuffled[199].Next).Select(p => p.Record.Text!).ToList();
        Assert.Equal(texts.Skip(200), resumed);
    }

    [Fact]
    public void Resuming_with_changed_options_or_data_is_refused()
    {
        using var dir = new TempDir();
        var path = Source(dir, "a", 10);
        var options = NoFilters(new SourceOptions { Path = path });
        var position = new DataPipeline(options).Read().ElementAt(4).Next;
        var other = Assert.Throws<SmeltException>(() => new DataPipeline(options with { Seed = 99 }).Read(position).ToList());
        Assert.Contains("different data options", other.Message);
        System.IO.File.WriteAllText(path, string.Join("\n", Enumerable.Range(0, 10).Select(i => $"{{\"text\": \"changed-{i}\"}}")));
        var changed = Assert.Throws<SmeltException>(() => new DataPipeline(options).Read(position).ToList());
        Assert.Contains("the data changed since the checkpoint", changed.Message);
        System.IO.File.WriteAllText(path, "{\"text\": \"a-0\"}\n");
        var shorter = Assert.Throws<SmeltException>(() => new DataPipeline(options).Read(position).ToList());
        Assert.Contains("has only 1", shorter.Message);
    }

    [Fact]
    public void Malformed_records_are_skipped_and_counted_not_fatal()
    {
        using var dir = new TempDir();
        var lines = Enumerable.Range(0, 50).Select(i => i % 10 == 3 ? "{broken" : System.Text.Json.JsonSerializer.Serialize(new { text = $"r{i}" }));
        var path = dir.File("big.jsonl", string.Join("\n", lines) + "\n");
        var pipeline = new DataPipeline(NoFilters(new SourceOptions { Path = path }));
        Assert.Equal(45, pipeline.Records().Count());
        var s = Assert.Single(pipeline.LastReport!.Sources);
        Assert.Equal(5, s.Malformed);
        Assert.Equal(45, s.Read);
        Assert.StartsWith($"{path}:4:", s.Problems[0]);
        Assert.Contains("big", pipeline.LastReport.ToTable());
    }

    [Fact]
    public void Bad_options_fail_before_any_work_naming_the_key()
    {
        using var dir = new TempDir();
        var path = Source(dir, "a", 3);
        Assert.Contains("no such file or directory", Assert.Throws<SmeltException>(() => new DataPipeline(new DataOptions { Sources = [new SourceOptions { Path = "/missing/x.jsonl2" }] })).Message);
        Assert.Contains("file not found", Assert.Throws<SmeltException>(() => new DataPipeline(new DataOptions { Sources = [new SourceOptions { Path = "/missing/x.jsonl" }] })).Message);
        Assert.Contains("data.task_weights.x", Assert.Throws<SmeltException>(() => new DataPipeline(new DataOptions { Sources = [new SourceOptions { Path = path }], TaskWeights = new Dictionary<string, double> { ["x"] = -1 } })).Message);
        Assert.Contains("weight must be a positive number", Assert.Throws<SmeltException>(() => new DataPipeline(new DataOptions { Sources = [new SourceOptions { Path = path, Weight = 0 }] })).Message);
        Assert.Contains("data.dedup.near_threshold", Assert.Throws<SmeltException>(() => new DataPipeline(new DataOptions { Sources = [new SourceOptions { Path = path }], Dedup = new DedupOptions { NearThreshold = 1.5 } })).Message);
        Assert.Contains("data.decontamination.eval_files", Assert.Throws<SmeltException>(() => new DataPipeline(new DataOptions { Sources = [new SourceOptions { Path = path }], Decontamination = new DecontaminationOptions { EvalFiles = ["/missing/he.jsonl"] } })).Message);
        Assert.Contains("no sources configured", Assert.Throws<SmeltException>(() => new DataPipeline(new DataOptions())).Message);
    }
}
