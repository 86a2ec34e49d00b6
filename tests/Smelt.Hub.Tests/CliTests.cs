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

    private sealed class CliOnTerminalFactAttribute : FactAttribute
    {
        public CliOnTerminalFactAttribute()
        {
            if (!File.Exists(CliDll)) Skip = $"the CLI is not built ({CliDll} is absent): run 'dotnet build src/Smelt.Cli -c Release' to run this test";
            else if (TestEnvironment.FindOnPath("script") is null) Skip = "util-linux 'script' (used to give the CLI a terminal) is not installed";
        }
    }

    private Task<(int Code, string Stdout, string Stderr)> RunAsync(HubTestContext ctx, string? token, bool offline, params string[] args) =>
        RunAsync(ctx, token, offline, terminal: false, args);

    private async Task<(int Code, string Stdout, string Stderr)> RunAsync(HubTestContext ctx, string? token, bool offline, bool terminal, params string[] args)
    {
        var start = new ProcessStartInfo(terminal ? "script" : "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (terminal)
        {
            // script(1) runs the command on a pseudo-terminal, so the CLI takes its interactive path (progress bars).
            var quoted = string.Join(' ', new[] { "dotnet", CliDll }.Concat(args).Select(a => "'" + a.Replace("'", "'\\''") + "'"));
            foreach (var a in new[] { "-q", "-e", "-c", quoted, "/dev/null" }) start.ArgumentList.Add(a);
            start.Environment["TERM"] = "xterm-256color";
            start.Environment["COLUMNS"] = "120";
        }
        else
        {
            start.ArgumentList.Add(CliDll);
            foreach (var a in args) start.ArgumentList.Add(a);
        }
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

    [CliOnTerminalFact]
    public async Task On_a_terminal_each_file_gets_a_progress_bar()
    {
        await using var ctx = new HubTestContext();
        var repo = ctx.AddModel("meta-llama/Tiny-Gated", gated: true, weightsBytes: 2_000_000);

        var (code, stdout, stderr) = await RunAsync(ctx, HubTestContext.GoodToken, false, terminal: true, "hub", "download", "meta-llama/Tiny-Gated");

        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("model.safetensors", stdout);
        Assert.Contains("tokenizer/vocab.txt", stdout);
        Assert.Contains("100%", stdout);
        Assert.Contains(repo.Commit, stdout);
        Assert.DoesNotContain(HubTestContext.GoodToken, stdout + stderr);
    }

    [CliFact]
    public async Task Upload_commits_a_folder()
    {
        await using var ctx = new HubTestContext();
        ctx.Hub.Add(new TestSupport.Hub.FakeRepo { Id = "me/card" });
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
