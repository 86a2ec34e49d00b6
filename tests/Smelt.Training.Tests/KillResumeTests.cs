using System.Diagnostics;
using Smelt.Model;
using Smelt.TestSupport;
using Smelt.Training.Checkpoints;
using Smelt.Training.Logging;

namespace Smelt.Training.Tests;

/// <summary>A real training process is SIGKILLed at a random step, resumed, and must end where an uninterrupted run ends.</summary>
[Collection(TorchRngCollection.Name)] // builds the model in this process (module construction draws from the generator)
public sealed class KillResumeTests
{
    private static string HostDll()
    {
        var tfm = new DirectoryInfo(AppContext.BaseDirectory).Name;                 // net10.0
        var config = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;      // Release / Debug
        var path = Path.Combine(TestEnvironment.RepoRoot, "tests", "Smelt.Training.Tests", "TrainHost", "bin", config, tfm, "TrainHost.dll");
        Assert.True(File.Exists(path), $"{path} was not built (it is a project reference of the test project)");
        return path;
    }

    private static string Setup(string root, string modelDir, string dataFile, string name)
    {
        var outDir = Path.Combine(root, name);
        var yaml = $"""
            model:
              path: {modelDir}
            data:
              sources:
                - path: {dataFile}
              max_seq_len: 64
              filters:
                min_chars: 5
                dedup_near: false
            lora:
              r: 4
              alpha: 8
              dropout: 0.1
              target_modules: [q_proj, v_proj, up_proj]
            train:
              max_steps: 14
              batch_size: 2
              grad_accum: 2
              lr: 5.0e-3
              warmup_steps: 2
              seed: 3
            logging:
              progress: never
            output:
              dir: {outDir}
              save_every: 2
              keep_last: 3
            """;
        var cfg = Path.Combine(root, name + ".yml");
        File.WriteAllText(cfg, yaml);
        return cfg;
    }

    private static Process Start(string config, bool resume)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { HostDll(), config, "--threads", "1" }.Concat(resume ? ["--resume"] : Array.Empty<string>())) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    private static (int Code, string Output) RunToEnd(string config, bool resume)
    {
        using var p = Start(config, resume);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(4)), "training process hung");
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void Sigkilled_run_resumes_to_the_same_adapter_as_an_uninterrupted_one()
    {
        TorchRuntime.EnsureLoaded();
        var root = Directory.CreateTempSubdirectory("smelt-kill-").FullName;
        var modelDir = Path.Combine(root, "model");
        ModelPresets.Init("tiny", modelDir, seed: 1, corpus: null);
        var dataFile = Path.Combine(root, "data.jsonl");
        File.WriteAllLines(dataFile, Enumerable.Range(0, 24).Select(i =>
            System.Text.Json.JsonSerializer.Serialize(new { prompt = $"/// Returns {i} times x.\nfn times_{i}(x: u32) -> u32 {{\n", gen = $"    x * {i}\n}}\n" }))
            .Append("{ this line is not JSON"));

        var reference = Setup(root, modelDir, dataFile, "reference");
        var (code, output) = RunToEnd(reference, resume: false);
        Assert.True(code == 0, output);
        Assert.Contains("done 14", output);

        var killed = Setup(root, modelDir, dataFile, "killed");
        var rng = new Random();
        var killAfterStep = rng.Next(1, 12);
        var seenAtKill = 0;
        using (var p = Start(killed, resume: false))
        {
            var metrics = Path.Combine(root, "killed", "metrics.jsonl");
            var deadline = DateTime.UtcNow.AddMinutes(3);
            while (DateTime.UtcNow < deadline && !p.HasExited && (!File.Exists(metrics) || File.ReadLines(metrics).Count() < killAfterStep))
                Thread.Sleep(2);
            seenAtKill = File.Exists(metrics) ? File.ReadLines(metrics).Count() : -1;
            Thread.Sleep(rng.Next(0, 30)); // land somewhere inside the next step, possibly mid-checkpoint
            if (p.HasExited) Assert.Fail($"the run ended before it could be killed: {p.StandardOutput.ReadToEnd()}{p.StandardError.ReadToEnd()}");
            p.Kill(); // SIGKILL on Unix
            p.WaitForExit();
        }
        var stepsBefore = File.ReadLines(Path.Combine(root, "killed", "metrics.jsonl")).Count();
        Assert.True(stepsBefore < 14, $"killed after step {stepsBefore} (aimed at step {killAfterStep}, saw {seenAtKill})");

        var latest = new CheckpointStore(Path.Combine(root, "killed", "checkpoints"), 3).Latest();

        var (code2, output2) = RunToEnd(killed, resume: true);
        Assert.True(code2 == 0, output2);
        Assert.Contains("done 14", output2);
        // Killed before the first checkpoint completed: resume starts over (and says so); otherwise from the newest complete one.
        Assert.Contains(latest is null ? "no complete checkpoint" : $"resumed from {Path.GetFileName(latest)}", output2);

        TrainerTests.AssertSameAdapter(Path.Combine(root, "reference", "adapter"), Path.Combine(root, "killed", "adapter"), 1e-5f);
        var a = MetricsLog.ReadAll(Path.Combine(root, "reference", "metrics.jsonl"));
        var b = MetricsLog.ReadAll(Path.Combine(root, "killed", "metrics.jsonl"));
        Assert.Equal(a.Select(m => m.Step), b.Select(m => m.Step));
        for (var i = 0; i < a.Count; i++) Assert.Equal(a[i].Loss, b[i].Loss, 4);
        // The malformed line was reported and skipped, not fatal.
        Assert.Contains("1 malformed", output);
    }
}
