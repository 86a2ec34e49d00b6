using System.Text.Json;
using Smelt.Core;
using Smelt.TestSupport;

namespace Smelt.Workflow.Tests;

/// <summary>The built <c>smelt</c> CLI end to end: exit codes, output files, messages.</summary>
[Collection("tiny")]
public sealed class CliTests(TinyWorld world) : IDisposable
{
    private static string CliDll => CliRunner.CliDll;
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    private sealed class CliFactAttribute : FactAttribute
    {
        public CliFactAttribute()
        {
            if (!File.Exists(CliDll)) Skip = $"the CLI is not built ({CliDll} is absent): run 'dotnet build src/Smelt.Cli -c Release' to run this test";
        }
    }

    private static Task<(int Code, string Stdout, string Stderr)> Smelt(params string[] args) => CliRunner.RunAsync(null, args);

    [CliFact]
    public async Task Inspect_export_and_card_run_from_the_command_line()
    {
        var (code, stdout, stderr) = await Smelt("inspect", world.RunDir, "--json");
        Assert.True(code == 0, stderr);
        using (var doc = JsonDocument.Parse(stdout)) Assert.Equal(6, doc.RootElement.GetProperty("step").GetInt32());

        var merged = _dir.File("merged");
        (code, stdout, stderr) = await Smelt("export", "--adapter", Path.Combine(world.RunDir, "adapter"), "--out", merged, "--dtype", "f16", "--max-shard-size", "1MB", "--json");
        Assert.True(code == 0, stderr);
        using (var doc = JsonDocument.Parse(stdout))
        {
            Assert.Equal("float16", doc.RootElement.GetProperty("dtype").GetString());
            Assert.True(doc.RootElement.GetProperty("shards").GetInt32() > 1);
        }
        Assert.True(File.Exists(Path.Combine(merged, "model.safetensors.index.json")));
        (code, stdout, stderr) = await Smelt("inspect", merged);
        Assert.True(code == 0, stderr);
        Assert.Contains("float16", stdout);
        // The merged directory is a model `smelt generate` loads as it is.
        (code, stdout, stderr) = await Smelt("generate", "--model", merged, "--prompt", "fn main() {", "--max-new-tokens", "4", "--temperature", "0", "--json");
        Assert.True(code == 0, stderr);
        using (var doc = JsonDocument.Parse(stdout.Trim().Split('\n')[0])) Assert.Equal(4, doc.RootElement.GetProperty("token_ids").GetArrayLength());

        (code, _, stderr) = await Smelt("card", world.RunDir, "--out", _dir.File("card/README.md"), "--license", "mit");
        Assert.True(code == 0, stderr);
        Assert.Contains("license: mit", File.ReadAllText(_dir.File("card/README.md")));

        (code, _, stderr) = await Smelt("export", "--adapter", world.ModelDir, "--out", _dir.File("nope"));
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("not a PEFT adapter", stderr);
    }

    [CliFact]
    public async Task Quickstart_runs_end_to_end_and_a_rerun_reuses_what_it_finished()
    {
        // The README's main command, shortened (fewer steps, samples and tokens); the bwrap sandbox as by default.
        var outDir = _dir.File("qs");
        string[] args = ["quickstart", "--out", outDir, "--n", "1", "--max-new-tokens", "16", "--set", "train.max_steps=6", "--set", "train.warmup_steps=2"];
        var (code, stdout, stderr) = await Smelt(args);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("== 5/5 before / after", stdout);
        Assert.Contains("validation loss", stdout);
        foreach (var f in new[] { "samples.before.jsonl", "samples.after.jsonl", "eval.before/summary.json", "eval.after/summary.json", "train/adapter/adapter_model.safetensors" })
            Assert.True(File.Exists(Path.Combine(outDir, f)), f);
        var before = File.ReadAllText(Path.Combine(outDir, "samples.after.jsonl"));

        (code, stdout, stderr) = await Smelt(args);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("1/5 model init: using the existing", stdout);
        Assert.Contains("2/5 baseline: generate: using the existing", stdout);
        Assert.Contains("3/5 train: using the finished run", stdout);
        Assert.Contains("4/5 after: generate with the adapter: using the existing", stdout);
        Assert.Contains("== 5/5 before / after", stdout);
        Assert.Equal(before, File.ReadAllText(Path.Combine(outDir, "samples.after.jsonl")));
    }

    [CliFact]
    public async Task A_sweep_with_an_unknown_key_exits_2_and_names_it()
    {
        TinyWorld.WriteConfig(_dir, world.ModelDir, world.DataPath, _dir.File("unused"), steps: 2);
        var sweep = _dir.Write("sweep.yml", "train_config: train.yml\noutput_dir: sweep\nparameters:\n  train.lrr: [1.0e-3]\n");
        var (code, _, stderr) = await Smelt("sweep", "--config", sweep);
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("train.lrr", stderr);
        Assert.False(Directory.Exists(_dir.File("sweep")));
    }

    [CliFact]
    public async Task Generate_remote_writes_samples_and_a_refused_endpoint_exits_3()
    {
        var problems = _dir.Write("p.jsonl", JsonSerializer.Serialize(new { task_id = "T/0", prompt = "fn one() -> i32 {\n" }) + "\n");
        using var server = new LoopbackServer((ctx, body) => LoopbackServer.Reply(ctx, 200, LoopbackServer.Chat("    1\n}\n", "    1\n}\n")));
        var (code, _, stderr) = await Smelt("generate-remote", "--endpoint", server.BaseUrl, "--remote-model", "m", "--problems", problems, "--n", "2", "--out", _dir.File("s.jsonl"));
        Assert.True(code == 0, stderr);
        Assert.Equal(2, File.ReadAllLines(_dir.File("s.jsonl")).Length);

        var url = $"http://127.0.0.1:{LoopbackServer.FreePort()}/v1";
        (code, _, stderr) = await Smelt("generate-remote", "--endpoint", url, "--remote-model", "m", "--problems", problems, "--retries", "1", "--out", _dir.File("r.jsonl"));
        Assert.Equal(ExitCodes.Infrastructure, code);
        Assert.Contains("gave up after 2 attempts", stderr);
    }
}
