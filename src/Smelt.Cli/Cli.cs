using System.CommandLine;
using Smelt.Core;

namespace Smelt.Cli;

/// <summary>Entry plumbing shared by every command: error reporting, exit codes, redaction of everything printed.</summary>
internal static class Cli
{
    public static async Task<int> RunAsync(RootCommand root, string[] args)
    {
        try
        {
            var parsed = root.Parse(args);
            return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (SmeltException ex)
        {
            Error(ex.Message);
            return ex.ExitCode;
        }
        catch (OperationCanceledException)
        {
            Error("cancelled");
            return 130;
        }
    }

    public static void Error(string message) => Console.Error.WriteLine($"error: {Redactor.Redact(message)}");
    public static void Warn(string message) => Console.Error.WriteLine($"warning: {Redactor.Redact(message)}");
}
