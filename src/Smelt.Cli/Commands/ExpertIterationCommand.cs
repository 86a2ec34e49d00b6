using System.CommandLine;
using Smelt.Core;
using Smelt.Workflow;

namespace Smelt.Cli;

/// <summary><c>smelt expert-iteration --config FILE.yml</c>: rounds of sample → judge in the sandbox → keep the passing → train.</summary>
internal static class ExpertIterationCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "Expert-iteration file (YAML; see configs/expert-iteration-tiny.yml)", Required = true };
        var command = new Command("expert-iteration", "Rejection-sampling fine-tuning: generate, evaluate in the sandbox, keep passing samples, train the next adapter; resumable");
        command.Options.Add(config);
        command.SetAction(async (parse, ct) =>
        {
            var spec = ExpertIterationSpec.Load(parse.GetValue(config)!);
            var report = await new ExpertIterationRunner(spec, log: m => Console.Error.WriteLine(Redactor.Redact(m))).RunAsync(ct);
            Console.WriteLine(Redactor.Redact(File.ReadAllText(Path.Combine(report.OutputDir, "summary.md")).TrimEnd()));
            Console.WriteLine($"summary: {report.SummaryPath}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
