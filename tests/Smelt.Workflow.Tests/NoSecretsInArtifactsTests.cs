using Smelt.TestSupport;

namespace Smelt.Workflow.Tests;

/// <summary>
/// The security policy's end-to-end check: a full run (train, generate, eval, card) through the real CLI, with a planted
/// hub token and cloud secret in the environment, leaves neither in any artifact, log line or console output.
/// </summary>
[Collection("tiny")]
public sealed class NoSecretsInArtifactsTests(TinyWorld world) : IDisposable
{
    private readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    // Made up for this test; format-valid so that pattern-based masking would also be exercised. Split so that the
    // source itself holds no credential-shaped literal.
    private const string PlantedHubToken = "hf_" + "PlantedTokenForSmeltTestsOnly0123456789";
    private const string PlantedCloudSecret = "PlantedCloudSecret/For+SmeltTests0123456789ab";

    private readonly List<string> _console = [];

    private async Task<int> Smelt(params string[] args)
    {
        var (code, stdout, stderr) = await CliRunner.RunAsync(new Dictionary<string, string>
        {
            ["HF_TOKEN"] = PlantedHubToken, ["AWS_SECRET_ACCESS_KEY"] = PlantedCloudSecret, ["HF_HUB_OFFLINE"] = "1",
        }, args);
        _console.Add(stdout);
        _console.Add(stderr);
        return code;
    }

    [RequiresCommandFact("bwrap", "rustc")]
    public async Task A_full_run_leaves_the_planted_secrets_nowhere()
    {
        Assert.True(File.Exists(CliRunner.CliDll), $"the CLI is not built ({CliRunner.CliDll}); the solution build makes it");
        var run = _dir.File("run");
        var config = TinyWorld.WriteConfig(_dir, world.ModelDir, world.DataPath, run, steps: 3);
        Assert.Equal(0, await Smelt("train", "--config", config));
        var samples = _dir.File("samples.jsonl");
        Assert.Equal(0, await Smelt("generate", "--model", world.ModelDir, "--adapter", Path.Combine(run, "adapter"),
            "--problems", TinyWorld.BundledProblems, "--out", samples, "--n", "1", "--max-new-tokens", "12", "--seed", "3"));
        Assert.Equal(0, await Smelt("eval", "--problems", TinyWorld.BundledProblems, "--samples", samples, "--out", _dir.File("eval")));
        Assert.Equal(0, await Smelt("card", run, "--eval", _dir.File("eval/summary.json"), "--out", _dir.File("card/README.md")));

        var files = Directory.EnumerateFiles(_dir.Path, "*", SearchOption.AllDirectories).ToList();
        Assert.Contains(files, f => f.EndsWith("results.jsonl", StringComparison.Ordinal));
        Assert.Contains(files, f => f.EndsWith("adapter_model.safetensors", StringComparison.Ordinal));
        Assert.Contains(files, f => Path.GetFileName(f).StartsWith("events.out.tfevents", StringComparison.Ordinal));
        foreach (var file in files)
        {
            var bytes = await File.ReadAllBytesAsync(file);
            var text = System.Text.Encoding.Latin1.GetString(bytes);
            Assert.False(text.Contains(PlantedHubToken, StringComparison.Ordinal), $"{file} contains the hub token");
            Assert.False(text.Contains(PlantedCloudSecret, StringComparison.Ordinal), $"{file} contains the cloud secret");
        }
        foreach (var output in _console)
        {
            Assert.DoesNotContain(PlantedHubToken, output);
            Assert.DoesNotContain(PlantedCloudSecret, output);
        }
    }
}
