using System.CommandLine;
using System.Globalization;
using Smelt.Core;
using Smelt.Workflow;
using Spectre.Console;

namespace Smelt.Cli;

/// <summary><c>smelt inspect DIR [--json]</c>: what a training run, checkpoint, adapter or model directory holds.</summary>
internal static class InspectCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("DIR") { Description = "A training run (output.dir), a checkpoint (checkpoints/step-N), a PEFT adapter or a model directory" };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of tables" };
        var last = new Option<int>("--loss-rows") { Description = "Rows of the loss history shown in the table (JSON has all)", DefaultValueFactory = _ => 10 };
        var command = new Command("inspect", "Show a checkpoint/adapter/model directory: step, loss history, adapter config, base model, file sizes by purpose");
        command.Arguments.Add(dir);
        command.Options.Add(json);
        command.Options.Add(last);
        command.SetAction((parse, ct) =>
        {
            var report = DirectoryInspector.Inspect(parse.GetValue(dir)!);
            if (parse.GetValue(json))
            {
                Console.WriteLine(DirectoryInspector.ToJson(report));
                return Task.FromResult(ExitCodes.Ok);
            }
            var inv = CultureInfo.InvariantCulture;
            var t = new Table().Title(Markup.Escape($"{report.Kind}: {report.Directory}")).AddColumn("").AddColumn("");
            void Row(string k, object? v) { if (v is not null) t.AddRow(Markup.Escape(k), Markup.Escape(Redactor.Redact(Convert.ToString(v, inv)))); }
            Row("step", report.Step);
            Row("epoch", report.Epoch is null ? (report.Step is null ? null : "not recorded (the trainer counts packed rows)") : report.Epoch);
            Row("phase", report.Phase is null ? null : $"{report.Phase} (step {report.PhaseStep})");
            Row("rows consumed", report.RowsConsumed);
            Row("tokens seen", report.TokensSeen);
            Row("base model", report.BaseModel);
            Row("architecture", report.Architecture is null ? null : $"{report.Architecture}, {report.ModelParameters:N0} parameters, {report.TorchDtype}");
            if (report.Adapter is { } a)
                Row("adapter", $"LoRA r={a.R} alpha={a.Alpha.ToString(inv)} dropout={a.Dropout.ToString(inv)}{(a.UseRslora ? " rsLoRA" : "")}, {a.Parameters:N0} params, targets {string.Join(",", a.TargetModules)}");
            if (report.Checkpoints.Count > 0) Row("checkpoints", string.Join(", ", report.Checkpoints));
            if (report.LossHistory.Count > 0)
            {
                var l = report.LossHistory;
                Row("loss", $"{l[0].Loss:F4} (step {l[0].Step}) -> {l[^1].Loss:F4} (step {l[^1].Step}), min {l.Min(p => p.Loss):F4}");
                if (l.LastOrDefault(p => p.ValLoss is not null) is { } v) Row("validation loss", $"{v.ValLoss:F4} (step {v.Step})");
            }
            AnsiConsole.Write(t);
            var files = new Table().Title("files by purpose").AddColumn("purpose").AddColumn(new TableColumn("files").RightAligned()).AddColumn(new TableColumn("size").RightAligned());
            foreach (var f in report.Files) files.AddRow(Markup.Escape(f.Purpose), f.Files.ToString(inv), Size(f.Bytes));
            files.AddRow("[bold]total[/]", report.Files.Sum(f => f.Files).ToString(inv), Size(report.TotalBytes));
            AnsiConsole.Write(files);
            var n = Math.Max(0, parse.GetValue(last));
            if (report.LossHistory.Count > 0 && n > 0)
            {
                var loss = new Table().Title($"loss history (last {Math.Min(n, report.LossHistory.Count)} of {report.LossHistory.Count})").AddColumn("step").AddColumn("phase").AddColumn("loss").AddColumn("val loss");
                foreach (var p in report.LossHistory.TakeLast(n))
                    loss.AddRow(p.Step.ToString(inv), Markup.Escape(p.Phase), p.Loss.ToString("F4", inv), p.ValLoss?.ToString("F4", inv) ?? "");
                AnsiConsole.Write(loss);
            }
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    internal static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):F1} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:F1} KiB",
        _ => $"{bytes} B",
    };
}
