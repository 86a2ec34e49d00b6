using System.CommandLine;
using Smelt.Core;
using Smelt.Workflow;
using Spectre.Console;

namespace Smelt.Cli;

/// <summary><c>smelt sweep --config FILE.yml</c>: grid or random hyperparameter search over training-config keys.</summary>
internal static class SweepCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "Sweep file (YAML): train_config, parameters, method, metric, parallel, early_stopping (see configs/sweep-tiny.yml)", Required = true };
        var check = new Option<bool>("--check") { Description = "Build and validate every trial's config, list the trials, run nothing" };
        var command = new Command("sweep", "Hyperparameter sweep: each trial a training run in its own directory; results in sweep.jsonl and a ranked table; resumable");
        command.Options.Add(config);
        command.Options.Add(check);
        command.SetAction(async (parse, ct) =>
        {
            var spec = SweepSpec.Load(parse.GetValue(config)!);
            var runner = new SweepRunner(spec, m => Console.Error.WriteLine(Redactor.Redact(m)));
            if (parse.GetValue(check))
            {
                foreach (var (t, _) in runner.Plan()) Console.WriteLine($"{t.Id}: {t.AssignmentText}");
                return ExitCodes.Ok;
            }
            var report = await runner.RunAsync(ct);
            var keys = report.Ranked.SelectMany(r => r.Assignment.Select(a => a.Key)).Distinct().ToList();
            var table = new Table().Title(Markup.Escape($"sweep: {report.Ranked.Count} trials ({report.Ran} run now, {report.Skipped} already done), ranked by {report.Metric}"))
                .AddColumn("rank").AddColumn("trial").AddColumn("status");
            foreach (var k in keys) table.AddColumn(Markup.Escape(k));
            table.AddColumn(Markup.Escape(report.Metric)).AddColumn("train loss").AddColumn("steps");
            for (var i = 0; i < report.Ranked.Count; i++)
            {
                var r = report.Ranked[i];
                table.AddRow([(i + 1).ToString(), r.Id, r.Status, .. keys.Select(k => Markup.Escape(r.Assignment.FirstOrDefault(a => a.Key == k).Value ?? "")),
                    SweepRunner.Fmt(r.Metric), SweepRunner.Fmt(r.TrainLoss), r.Steps.ToString()]);
            }
            AnsiConsole.Write(table);
            Console.WriteLine($"results: {report.SweepJsonl}  table: {Path.Combine(report.OutputDir, "sweep_table.md")}");
            return report.Ranked.Any(r => r.Status == "failed") ? ExitCodes.Failure : ExitCodes.Ok;
        });
        return command;
    }
}
