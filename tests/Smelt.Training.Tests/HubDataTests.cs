using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;
using Smelt.Core;
using Smelt.Hub;
using Smelt.Model;
using Smelt.TestSupport.Hub;
using Smelt.Training.Config;
using Smelt.Training.Data;

namespace Smelt.Training.Tests;

/// <summary>
/// <c>hub:</c> data sources against the loopback hub (tests/Smelt.TestSupport/Hub): fetched through Smelt.Hub into a
/// Python-layout cache in a temp folder, trained on, reused offline, and the errors a user can run into.
/// </summary>
[Collection(TorchRngCollection.Name)]
public sealed class HubDataTests : IAsyncLifetime
{
    private const string Token = "hf_" + "TrainDataTokenAbcdefghijklmnopqrstuv01";
    private readonly FakeHub _hub = new();
    private readonly string _root = Directory.CreateTempSubdirectory("smelt-hubdata-").FullName;
    private FakeRepo _repo = null!;
    private bool _hubStopped;

    private static readonly Lazy<string> ModelDir = new(() =>
    {
        TorchRuntime.EnsureLoaded();
        var dir = Path.Combine(Directory.CreateTempSubdirectory("smelt-hubdata-model-").FullName, "tiny");
        ModelPresets.Init("tiny", dir, seed: 1, corpus: null);
        return dir;
    });

    public async Task InitializeAsync()
    {
        _repo = _hub.Add(new FakeRepo { Id = "acme/rust-snippets", Dataset = true, Gated = true, AllowedToken = Token });
        _repo.Files.Add(new FakeFile { Path = "README.md", Content = "# rust snippets\n"u8.ToArray() });
        _repo.Files.Add(new FakeFile { Path = "data/train-00000-of-00002.jsonl", Content = JsonlBytes(TrainJsonl) });
        _repo.Files.Add(new FakeFile { Path = "data/train-00001-of-00002.parquet", Content = await ParquetBytes(TrainParquet), Lfs = true });
        _repo.Files.Add(new FakeFile { Path = "data/test-00000-of-00001.jsonl", Content = JsonlBytes([new { text = "pub fn held_out_test_fn() -> u8 { 7 }" }]) });
        _repo.Files.Add(new FakeFile { Path = "data/notes.csv", Content = "a,b\n1,2\n"u8.ToArray() });
    }

    public async Task DisposeAsync()
    {
        await StopHubAsync();
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { }
    }

    private async Task StopHubAsync()
    {
        if (_hubStopped) return;
        _hubStopped = true;
        await _hub.DisposeAsync();
    }

    private static readonly object[] TrainJsonl =
    [
        new { prompt = "/// Adds two numbers.\nfn add(a: i32, b: i32) -> i32 {\n", gen = "    a + b\n}\n", _task_type = "gen" },
        new { text = "pub fn square(x: u64) -> u64 { x * x }", path = "src/square.rs" },
        new { text = "pub fn is_even(n: i64) -> bool { n % 2 == 0 }", path = "src/even.rs" },
    ];

    private static readonly string[] TrainParquet =
    [
        "pub fn max3(a: i32, b: i32, c: i32) -> i32 { a.max(b).max(c) }",
        "pub fn clamp01(x: f64) -> f64 { x.max(0.0).min(1.0) }",
    ];

    private static byte[] JsonlBytes(IEnumerable<object> records) =>
        Encoding.UTF8.GetBytes(string.Concat(records.Select(r => JsonSerializer.Serialize(r) + "\n")));

    private static async Task<byte[]> ParquetBytes(IReadOnlyList<string> texts)
    {
        var text = new DataField<string>("text");
        using var ms = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(new ParquetSchema(text), ms))
        {
            using var rg = writer.CreateRowGroup();
            await rg.WriteAsync(text, texts.ToArray());
        }
        return ms.ToArray();
    }

    private HubSettings Settings(string? token = Token, bool offline = false)
    {
        var env = new Dictionary<string, string>
        {
            ["HOME"] = Path.Combine(_root, "home"),
            ["HF_HOME"] = Path.Combine(_root, "hf-home"),
            ["SMELT_CACHE"] = Path.Combine(_root, "smelt-cache"),
            ["HF_ENDPOINT"] = _hub.Endpoint.ToString(),
        };
        if (token is not null) env["HF_TOKEN"] = token;
        if (offline) env["HF_HUB_OFFLINE"] = "1";
        return HubSettings.FromEnvironment(k => env.TryGetValue(k, out var v) ? v : null);
    }

    /// <summary>A config whose first data source is the given YAML mapping body (one key per line), starting on line 4.</summary>
    private TrainConfig Cfg(string source, string outDir = "unused", string model = "m", string extraSources = "", params string[] overrides)
    {
        var body = string.Join("\n", source.Split('\n').Select((l, i) => (i == 0 ? "    - " : "      ") + l));
        var yaml = $"""
            model:
              path: {model}
            data:
              sources:
            {body}
            {extraSources}
              max_seq_len: 64
              filters:
                min_chars: 5
                dedup_near: false
            lora:
              r: 4
              alpha: 8
            train:
              max_steps: 3
              batch_size: 2
              warmup_steps: 1
              lr: 5.0e-3
            logging:
              progress: never
            output:
              dir: {outDir}
              save_every: 0
            """;
        return ConfigLoader.LoadText(yaml, "hub.yml", overrides);
    }

    [Fact]
    public void A_hub_dataset_with_jsonl_and_parquet_files_is_fetched_trained_on_and_recorded_by_commit()
    {
        var outDir = Path.Combine(_root, "run");
        var cfg = Cfg("hub: acme/rust-snippets\nsplit: train", outDir, ModelDir.Value);

        var progress = new SilentProgress();
        var result = TrainRunner.Run(cfg, resume: false, progress, hub: Settings());

        Assert.Equal(3, result.GlobalSteps);
        Assert.True(File.Exists(Path.Combine(result.AdapterDir, "adapter_model.safetensors")));
        // Both train files were read (3 JSONL lines + 2 Parquet rows), the test split and the CSV were not.
        var report = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "filter_report.main.json"))).RootElement;
        var source = report.GetProperty("sources").EnumerateArray().Single();
        Assert.Equal("rust-snippets", source.GetProperty("name").GetString());
        Assert.Equal(5, source.GetProperty("read").GetInt64());
        // The resolved config names the exact commit (and loads back); the token appears in no file of the run.
        var resolved = File.ReadAllText(Path.Combine(outDir, "config.resolved.yml"));
        Assert.Contains("hub: acme/rust-snippets", resolved);
        Assert.Contains($"revision: {_repo.Commit}", resolved);
        var again = ConfigLoader.LoadFile(Path.Combine(outDir, "config.resolved.yml"));
        Assert.Equal(_repo.Commit, again.Data.Sources[0].Revision);
        foreach (var file in Directory.EnumerateFiles(outDir, "*", SearchOption.AllDirectories))
            Assert.DoesNotContain(Token, File.ReadAllText(file, Encoding.Latin1));
        Assert.Contains(progress.Messages, m => m.Contains($"'main' = commit {_repo.Commit}, 2 file(s)", StringComparison.Ordinal));
        Assert.DoesNotContain(progress.Messages, m => m.Contains(Token, StringComparison.Ordinal));
        // The files sit in the shared cache in huggingface_hub's layout.
        var snapshot = Path.Combine(_root, "hf-home", "hub", "datasets--acme--rust-snippets", "snapshots", _repo.Commit);
        Assert.True(File.Exists(Path.Combine(snapshot, "data", "train-00001-of-00002.parquet")));
        Assert.False(File.Exists(Path.Combine(snapshot, "data", "notes.csv")));
    }

    [Fact]
    public async Task The_cache_is_reused_offline_with_no_server_at_all()
    {
        var online = Cfg("hub: acme/rust-snippets\nfiles: ['data/train-*']");
        var map = HubDatasets.Resolve(online, Settings(), new SilentProgress());
        var first = map.Single().Value;
        Assert.Equal(["data/train-00000-of-00002.jsonl", "data/train-00001-of-00002.parquet"], first.Files);
        var onlineExamples = new PipelineData(online, map).Train(online.EffectivePhases()[0], 0).Select(e => e.Id).ToList();

        await StopHubAsync(); // nothing listens on the endpoint any more
        var offline = Cfg("hub: acme/rust-snippets\nfiles: ['data/train-*']");
        var cached = HubDatasets.Resolve(offline, Settings(token: null, offline: true), new SilentProgress()).Single().Value;
        Assert.Equal(first.Commit, cached.Commit);
        Assert.Equal(first.Files, cached.Files);
        Assert.Equal(first.SnapshotDirectory, cached.SnapshotDirectory);
        Assert.Equal(_repo.Commit, offline.Data.Sources[0].Revision);
        var offlineExamples = new PipelineData(offline, new Dictionary<SourceSection, HubDataset>(ReferenceEqualityComparer.Instance) { [offline.Data.Sources[0]] = cached })
            .Train(offline.EffectivePhases()[0], 0).Select(e => e.Id).ToList();
        Assert.Equal(onlineExamples, offlineExamples);
        Assert.Equal(5, offlineExamples.Count);

        // Offline, a selection that was never downloaded is named, not silently shrunk.
        var more = Cfg("hub: acme/rust-snippets");
        var ex = Assert.Throws<SmeltException>(() => HubDatasets.Resolve(more, Settings(token: null, offline: true), new SilentProgress()));
        Assert.Contains("hub.yml:5: data.sources.0.hub", ex.Message);
        Assert.Contains("data/test-00000-of-00001.jsonl", ex.Message);
        Assert.Contains("HF_HUB_OFFLINE", ex.Message);
    }

    [Fact]
    public void Per_source_options_work_for_hub_sources_as_for_local_files()
    {
        var local = Path.Combine(_root, "local.jsonl");
        File.WriteAllLines(local, Enumerable.Range(0, 4).Select(i => JsonSerializer.Serialize(new { text = $"pub fn local_{i}() -> u32 {{ {i} }}" })));
        var cfg = Cfg("hub: acme/rust-snippets\nsplit: train\nname: hubdata", extraSources: $"    - path: {local}\n  mix: round_robin\n  task_weights: {{ gen: 3 }}");
        var resolved = HubDatasets.Resolve(cfg, Settings(), new SilentProgress());
        var data = new PipelineData(cfg, resolved);
        var ids = data.Train(cfg.EffectivePhases()[0], 0).Select(e => e.Id).ToList();
        // Round robin between the hub source and the local file; ids name the file inside the dataset; the
        // _task_type: gen record comes three times (task_weights).
        Assert.StartsWith("hubdata:data/train-00000-of-00002.jsonl:1", ids[0]);
        Assert.StartsWith("local:1", ids.First(i => i.StartsWith("local:", StringComparison.Ordinal)));
        Assert.Equal(3, ids.Count(i => i == "hubdata:data/train-00000-of-00002.jsonl:1"));
        Assert.Contains("hubdata:data/train-00001-of-00002.parquet:row 1", ids);
        Assert.Equal(5 + 2 + 4, ids.Count);
        var sources = data.Pipeline(cfg.EffectivePhases()[0]).Sources;
        Assert.Equal(["hubdata", "local"], sources.Select(s => s.Name));

        var weighted = Cfg("hub: acme/rust-snippets\nsplit: train\nweight: 2.5", extraSources: $"    - path: {local}\n  mix: weighted");
        var pipeline = new PipelineData(weighted, HubDatasets.Resolve(weighted, Settings(), new SilentProgress())).Pipeline(weighted.EffectivePhases()[0]);
        Assert.Equal(2.5, pipeline.Sources[0].Weight);
    }

    [Fact]
    public void An_unknown_repository_fails_before_any_compute_naming_the_key_and_line()
    {
        var outDir = Path.Combine(_root, "missing-run");
        var cfg = Cfg("hub: acme/no-such-dataset", outDir, ModelDir.Value);
        var ex = Assert.Throws<SmeltException>(() => TrainRunner.Run(cfg, resume: false, new SilentProgress(), hub: Settings()));
        Assert.Equal(ExitCodes.BadInput, ex.ExitCode);
        Assert.StartsWith("hub.yml:5: data.sources.0.hub: ", ex.Message);
        Assert.Contains("acme/no-such-dataset (dataset)", ex.Message);
        Assert.Contains("not found", ex.Message);
        Assert.False(File.Exists(Path.Combine(outDir, "metrics.jsonl")));
        Assert.False(File.Exists(Path.Combine(outDir, "filter_report.main.json")));
    }

    [Fact]
    public void A_gated_dataset_without_a_token_or_with_a_wrong_one_says_how_to_get_access()
    {
        var none = Assert.Throws<SmeltException>(() => HubDatasets.Resolve(Cfg("hub: acme/rust-snippets"), Settings(token: null), new SilentProgress()));
        Assert.StartsWith("hub.yml:5: data.sources.0.hub: ", none.Message);
        Assert.Contains("HTTP 401", none.Message);
        Assert.Contains("HF_TOKEN", none.Message);
        Assert.Contains("No token was found", none.Message);

        var wrongToken = "hf_" + "WrongDataTokenZyxwvutsrqponmlkjihgf987";
        var wrong = Assert.Throws<SmeltException>(() => HubDatasets.Resolve(Cfg("hub: acme/rust-snippets"), Settings(token: wrongToken), new SilentProgress()));
        Assert.Contains("HTTP 403", wrong.Message);
        Assert.Contains("was sent, but the hub did not accept it", wrong.Message);
        Assert.DoesNotContain(wrongToken, wrong.Message);
        Assert.DoesNotContain(_hub.AllRequests, r => r.Path.Contains("/resolve/", StringComparison.Ordinal));
    }

    [Fact]
    public void No_matching_file_and_an_unreadable_file_type_are_refused_before_downloading()
    {
        var none = Assert.Throws<SmeltException>(() => HubDatasets.Resolve(Cfg("hub: acme/rust-snippets\nfiles: ['*.arrow']"), Settings(), new SilentProgress()));
        Assert.StartsWith("hub.yml:5: data.sources.0.files: no file of acme/rust-snippets (dataset)", none.Message);
        Assert.Contains("data/train-00001-of-00002.parquet", none.Message); // what is there, to pick from

        var split = Assert.Throws<SmeltException>(() => HubDatasets.Resolve(Cfg("hub: acme/rust-snippets\nsplit: validation"), Settings(), new SilentProgress()));
        Assert.Contains("with split 'validation'", split.Message);

        var csv = Assert.Throws<SmeltException>(() => HubDatasets.Resolve(Cfg("hub: acme/rust-snippets\nfiles: ['data/*']"), Settings(), new SilentProgress()));
        Assert.StartsWith("hub.yml:5: data.sources.0.files: data/notes.csv of acme/rust-snippets cannot be read", csv.Message);
        Assert.Contains(".parquet", csv.Message);
        Assert.DoesNotContain(_hub.AllRequests, r => r.Path.Contains("/resolve/", StringComparison.Ordinal));
    }

    [Fact]
    public void Hub_source_keys_are_checked_when_the_config_loads()
    {
        var ex = Assert.Throws<SmeltException>(() => Cfg("hub: not a repo id\ninclude: ['**/*.rs']\ntype: jsonl"));
        Assert.Contains("hub.yml:5: data.sources.0.hub: 'not a repo id' is not a hub repository id", ex.Message);
        Assert.Contains("data.sources.0.include: for directories only", ex.Message);
        Assert.Contains("data.sources.0.type: hub files are read by their extension", ex.Message);
        var both = Assert.Throws<SmeltException>(() => Cfg("hub: acme/x\npath: local.jsonl"));
        Assert.Contains("data.sources.0.hub: give either path (local files) or hub", both.Message);
        var local = Assert.Throws<SmeltException>(() => Cfg("path: local.jsonl\nsplit: train\nfiles: ['*.jsonl']"));
        Assert.Contains("data.sources.0.split: only for hub sources", local.Message);
        Assert.Contains("data.sources.0.files: only for hub sources", local.Message);
        Assert.Equal("x", Cfg("hub: acme/x").Data.Sources[0].Name);
    }

    [Fact]
    public void Split_names_match_as_words_and_exact_names_escape_glob_characters()
    {
        var train = HubDatasets.SplitPattern("train");
        Assert.Matches(train, "data/train-00000-of-00002.parquet");
        Assert.Matches(train, "train.jsonl");
        Assert.Matches(train, "train/part0.jsonl.gz");
        Assert.Matches(train, "rust_train_1.jsonl");
        Assert.DoesNotMatch(train, "data/pretrain.jsonl");
        Assert.DoesNotMatch(train, "data/trainer.jsonl");
        Assert.DoesNotMatch(train, "data/test-00000.parquet");
        var filter = new GlobFilter([HubDatasets.EscapeGlob("data/odd[1]*?.jsonl")], null);
        Assert.True(filter.Matches("data/odd[1]*?.jsonl"));
        Assert.False(filter.Matches("data/odd1xy.jsonl"));
    }
}
