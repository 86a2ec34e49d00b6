using System.Diagnostics;
using Smelt.TestSupport;

namespace Smelt.Workflow.Tests;

/// <summary>Runs the built <c>smelt</c> CLI as a separate process, as a user would.</summary>
internal static class CliRunner
{
    public static readonly string CliDll = Path.Combine(TestEnvironment.RepoRoot, "src", "Smelt.Cli", "bin", "Release", "net10.0", "smelt.dll");

    public static async Task<(int Code, string Stdout, string Stderr)> RunAsync(IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(CliDll);
        foreach (var a in args) start.ArgumentList.Add(a);
        if (environment is not null) foreach (var (k, v) in environment) start.Environment[k] = v;
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout, await stderr);
    }
}
