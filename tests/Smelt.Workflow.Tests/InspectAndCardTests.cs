using System.Text.Json;
using Smelt.Core;

namespace Smelt.Workflow.Tests;

[Collection("tiny")]
public sealed class InspectAndCardTests(TinyWorld world) : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    [Fact]
    public void A_training_run_reports_step_loss_history_adapter_and_sizes_by_purpose()
    {
        var r = DirectoryInspector.Inspect(world.RunDir);
        Assert.Equal(DirectoryKind.TrainingRun, r.Kind);
        Assert.Equal(6, r.Step);
        Assert.Equal(world.Run.GlobalSteps, r.Step);
        Assert.Equal(6, r.LossHistory.Count);
        Assert.Equal(Enumerable.Range(1, 6), r.LossHistory.Select(p => p.Step));
        Assert.Equal(2, r.LossHistory.Count(p => p.ValLoss is not null)); // eval.every 3 over 6 steps
        Assert.NotNull(r.Adapter);
        Assert.Equal(4, r.Adapter!.R);
        Assert.Equal(8, r.Adapter.Alpha);
        Assert.Equal(world.ModelDir, Path.GetFullPath(r.BaseModel!));
        Assert.True(r.Adapter.Parameters > 0);
        var purposes = r.Files.ToDictionary(f => f.Purpose);
        Assert.True(purposes["optimizer"].Bytes > 0);
        Assert.True(purposes["adapter weights"].Bytes > 0);
        Assert.True(purposes["logs"].Files >= 2); // metrics.jsonl, loss.png, summary.json, tensorboard
        Assert.Equal(r.Files.Sum(f => f.Bytes), Directory.EnumerateFiles(world.RunDir, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length));
        Assert.NotEmpty(r.Checkpoints);
    }

    [Fact]
    public void A_checkpoint_reports_its_own_step_and_only_the_loss_up_to_it()
    {
        var first = Directory.GetDirectories(Path.Combine(world.RunDir, "checkpoints"), "step-*").Order().First();
        var r = DirectoryInspector.Inspect(first);
        Assert.Equal(DirectoryKind.Checkpoint, r.Kind);
        var step = int.Parse(Path.GetFileName(first)["step-".Length..]);
        Assert.Equal(step, r.Step);
        Assert.All(r.LossHistory, p => Assert.True(p.Step <= step));
        Assert.Equal(step, r.LossHistory.Count);
    }

    [Fact]
    public void A_model_directory_reports_architecture_and_tokenizer_files_and_json_is_parseable()
    {
        var r = DirectoryInspector.Inspect(world.ModelDir);
        Assert.Equal(DirectoryKind.Model, r.Kind);
        Assert.Equal("LlamaForCausalLM", r.Architecture);
        Assert.Contains(r.Files, f => f.Purpose == "tokenizer" && f.Files >= 2);
        Assert.Contains(r.Files, f => f.Purpose == "weights" && f.Bytes > 1_000_000);
        using var doc = JsonDocument.Parse(DirectoryInspector.ToJson(r));
        Assert.Equal("Model", doc.RootElement.GetProperty("kind").GetString());
        Assert.Equal(r.ModelParameters, doc.RootElement.GetProperty("model_parameters").GetInt64());
    }

    [Fact]
    public void Inspecting_a_missing_directory_is_a_clear_bad_input_error()
    {
        var ex = Assert.Throws<SmeltException>(() => DirectoryInspector.Inspect(_dir.File("nope")));
        Assert.Equal(ExitCodes.BadInput, ex.ExitCode);
        Assert.Contains("not found", ex.Message);
    }

    private string EvalSummary(string name, double pass1, double compile, double clippy, string problemsPath) =>
        _dir.Write(name, JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["complete"] = true, ["n_tasks"] = 44, ["n_samples"] = 440,
            ["pass_at_k"] = new Dictionary<string, object> { ["1"] = new Dictionary<string, object> { ["value"] = pass1 }, ["10"] = new Dictionary<string, object?> { ["value"] = null } },
            ["compile_rate"] = compile, ["clippy_clean_rate"] = clippy,
            ["sandbox"] = "bwrap", ["rustc_version"] = "rustc 1.95.0", ["problems"] = problemsPath,
        }));

    [Fact]
    public void The_card_has_front_matter_with_measured_metrics_training_details_and_the_loss_curve()
    {
        var summary = EvalSummary("summary.json", 0.1234, 0.5, 0.25, "/home/someone/evals/smelt_rust_problems.jsonl");
        var outPath = _dir.File("card/README.md");
        var result = ModelCard.Write(world.RunDir, new CardOptions { EvalSummaries = [summary], OutPath = outPath, License = "apache-2.0" });
        var text = File.ReadAllText(outPath);
        Assert.StartsWith("---\n", text);
        var front = text[4..text.IndexOf("\n---\n", 4, StringComparison.Ordinal)];
        Assert.Contains("library_name: peft", front);
        Assert.Contains("license: apache-2.0", front);
        Assert.Contains("- lora", front);
        Assert.Contains("datasets:\n- data.jsonl", front);
        Assert.Contains("model-index:", front);
        Assert.Contains("name: smelt_rust_problems.jsonl", front);
        Assert.Contains("{type: pass@1, name: pass@1, value: 0.1234}", front);
        Assert.DoesNotContain("pass@10", front); // not computable: not reported as a number
        Assert.Contains("{type: compile_rate, name: compile rate, value: 0.5}", front);
        Assert.Contains("{type: clippy_clean_rate, name: clippy-clean rate, value: 0.25}", front);
        Assert.Contains("smelt eval, sandbox bwrap, rustc 1.95.0", front);
        Assert.DoesNotContain("base_model:", front); // a local base is not a hub id
        Assert.Contains("| train.max_steps | 6 |", text);
        Assert.Contains("| train.lr | ", text);
        Assert.Contains("Trained for 6 optimizer steps", text);
        Assert.Contains("![training loss curve](loss.png)", text);
        Assert.True(File.Exists(_dir.File("card/loss.png")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(world.RunDir, "loss.png")), File.ReadAllBytes(_dir.File("card/loss.png")));
        Assert.Equal(result.Text, text);
    }

    [Fact]
    public void The_card_holds_no_secret_and_no_absolute_local_path()
    {
        // A token planted both in the environment and in the run's config, and local paths everywhere (model, data, output dirs).
        const string token = "tok-3f9c2a7d1e8b4c6a9f0e";
        Environment.SetEnvironmentVariable("SMELT_CARD_TEST_API_TOKEN", token);
        try
        {
            var runDir = _dir.File("secret-run");
            Directory.CreateDirectory(runDir);
            foreach (var f in Directory.GetFiles(world.RunDir)) File.Copy(f, Path.Combine(runDir, Path.GetFileName(f)));
            CopyDir(Path.Combine(world.RunDir, "adapter"), Path.Combine(runDir, "adapter"));
            var yaml = System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(Path.Combine(runDir, "config.resolved.yml")),
                @"(?m)^(\s+)name: ''$", m => $"{m.Groups[1].Value}name: {token}", System.Text.RegularExpressions.RegexOptions.None);
            Assert.Contains(token, yaml);
            File.WriteAllText(Path.Combine(runDir, "config.resolved.yml"), yaml);
            var summary = EvalSummary("s.json", 0.5, 1, 1, Path.Combine(_dir.Path, "problems.jsonl"));

            var card = ModelCard.Write(runDir, new CardOptions { EvalSummaries = [summary], Name = $"model-{token}" });
            var text = File.ReadAllText(card.CardPath);
            Assert.DoesNotContain(token, text);
            Assert.Contains(Redactor.Mask, text);
            Assert.DoesNotContain(_dir.Path, text);
            Assert.DoesNotContain(world.Root.Path, text);
            Assert.DoesNotContain("/tmp/", text);
            Assert.DoesNotMatch(@"(^|[\s(`'""])/(home|root|tmp|work)/", text);
            Assert.Contains("`model` (a local model, not on the hub)", text);
        }
        finally
        {
            Environment.SetEnvironmentVariable("SMELT_CARD_TEST_API_TOKEN", null);
        }
    }

    [Fact]
    public void A_hub_base_model_goes_into_the_front_matter_and_an_unfinished_eval_is_refused()
    {
        var adapter = _dir.File("hub-adapter");
        CopyDir(Path.Combine(world.RunDir, "adapter"), adapter);
        var cfgPath = Path.Combine(adapter, "adapter_config.json");
        var cfg = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(cfgPath))!;
        cfg["base_model_name_or_path"] = "smelt-org/tiny-rust";
        File.WriteAllText(cfgPath, cfg.ToJsonString());
        var card = ModelCard.Write(adapter, new CardOptions { OutPath = _dir.File("hub/README.md") });
        Assert.Contains("base_model: smelt-org/tiny-rust\n", card.Text);

        var unfinished = _dir.Write("partial.json", """{"complete": false, "pass_at_k": {"1": {"value": 0.9}}}""");
        var ex = Assert.Throws<SmeltException>(() => ModelCard.Write(adapter, new CardOptions { EvalSummaries = [unfinished], OutPath = _dir.File("x/README.md") }));
        Assert.Contains("did not finish", ex.Message);
        Assert.False(File.Exists(_dir.File("x/README.md")));
    }

    [Fact]
    public void Scrub_replaces_absolute_paths_but_keeps_urls_and_relative_names()
    {
        Assert.Equal("see model.safetensors", ModelCard.Scrub("see /home/u/models/tiny/model.safetensors"));
        Assert.Equal("(`tiny`)", ModelCard.Scrub("(`/work/x/tiny`)"));
        Assert.Equal("[a](https://huggingface.co/org/name)", ModelCard.Scrub("[a](https://huggingface.co/org/name)"));
        Assert.Equal("data/corpus and loss.png", ModelCard.Scrub("data/corpus and loss.png"));
        Assert.Equal("file notes.txt", ModelCard.Scrub("file ~/private/notes.txt"));
    }

    internal static void CopyDir(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from)) CopyDir(d, Path.Combine(to, Path.GetFileName(d)));
    }
}
