using System.Diagnostics;
using Smelt.Core;
using Smelt.TestSupport;
using Xunit.Abstractions;

namespace Smelt.Hub.Tests;

/// <summary>Runs the built <c>smelt</c> CLI against the fake hub: exit codes, stdout/stderr, and that the token never shows.</summary>
public sealed class CliTests(ITestOutputHelper output)
{
    private static readonly string CliDll = Path.Combine(TestEnvironment.RepoRoot, "src", "Smelt.Cli", "bin", "Release", "net10.0", "smelt.dll");

    private sealed class CliFactAttribute : FactAttribute
    {
        public CliFactAttribute()
        {
            if (!File.Exists(CliDll)) Skip = $"the CLI is not built ({CliDll} is absent): run 'dotnet build src/Smelt.Cli -c Release' to run this test";
        }
    }

    private async Task<(int Code, string Stdout, string Stderr)> RunAsync(HubTestContext ctx, string? token, bool offline, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(CliDll);
        foreach (var a in args) start.ArgumentList.Add(a);
        foreach (var name in new[] { "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN_PATH" })
            start.Environment.Remove(name);
        start.Environment["HF_HOME"] = ctx.HfHome;
        start.Environment["SMELT_CACHE"] = Path.Combine(ctx.Root, "smelt-cache");
        start.Environment["HF_ENDPOINT"] = ctx.Hub.Endpoint.ToString();
        if (token is not null) start.Environment["HF_TOKEN"] = token;
        if (offline) start.Environment["HF_HUB_OFFLINE"] = "1";
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        output.WriteLine($"$ smelt {string.Join(' ', args)}  -> exit {process.ExitCode}\n--- stdout\n{await stdout}--- stderr\n{await stderr}");
        return (process.ExitCode, await stdout, await stderr);
    }

    [CliFact]
    public async Task Download_prints_the_snapshot_path_and_offline_reruns_need_no_request()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel("meta-llama/Tiny-Gated", gated: true);

        var (code, stdout, stderr) = await RunAsync(ctx, HubTestContext.GoodToken, false, "hub", "download", "meta-llama/Tiny-Gated");
        Assert.True(code == 0, stderr);
        var snapshot = stdout.Trim();
        Assert.Equal(Path.Combine(ctx.RepoDir("meta-llama/Tiny-Gated"), "snapshots", repo.Commit), snapshot);
        Assert.True(File.Exists(Path.Combine(snapshot, "model.safetensors")));
        Assert.DoesNotContain(HubTestContext.GoodToken, stdout + stderr);

        var before = ctx.Hub.RequestCount;
        (code, stdout, stderr) = await RunAsync(ctx, null, true, "hub", "download", "meta-llama/Tiny-Gated");
        Assert.True(code == 0, stderr);
        Assert.Equal(snapshot, stdout.Trim());
        Assert.Equal(before, ctx.Hub.RequestCount);
    }

    [CliFact]
    public async Task Gated_and_offline_failures_exit_non_zero_with_the_reason_on_stderr()
    {
        await using var ctx = new HubTestContext();
        ctx.AddModel("meta-llama/Tiny-Gated", gated: true, echoToken: true);

        var (code, stdout, stderr) = await RunAsync(ctx, HubTestContext.WrongToken, false, "hub", "download", "meta-llama/Tiny-Gated");
        Assert.Equal(ExitCodes.BadInput, code);
        Assert.Contains("gated", stderr);
        Assert.Contains("HF_TOKEN", stderr);
        Assert.Contains(Redactor.Mask, stderr);
        Assert.DoesNotContain(HubTestContext.WrongToken, stdout + stderr);
        Assert.Equal("", stdout);

        (code, _, stderr) = await RunAsync(ctx, null, true, "hub", "download", "meta-llama/Tiny-Gated");
        Assert.NotEqual(0, code);
        Assert.Contains("HF_HUB_OFFLINE", stderr);
    }

    [CliFact]
    public async Task Upload_commits_a_folder()
    {
        await using var ctx = new HubTestContext();
        ctx.Hub.Add(new Server.FakeRepo { Id = "me/card" });
        var dir = Path.Combine(ctx.Root, "card");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "README.md"), "# card\n");

        var (code, stdout, stderr) = await RunAsync(ctx, HubTestContext.GoodToken, false, "hub", "upload", dir, "me/card", "--message", "add card");

        Assert.True(code == 0, stderr);
        Assert.Contains("/me/card/commit/", stdout);
        Assert.Equal(["add card"], ctx.Hub.Commits);
        Assert.DoesNotContain(HubTestContext.GoodToken, stdout + stderr);
    }
}
