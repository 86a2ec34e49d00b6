using System.CommandLine;
using System.Globalization;
using Smelt.Core;
using Smelt.Workflow;

namespace Smelt.Cli;

/// <summary>
/// <c>smelt eval merge DIR... --out DIR</c>: one results.jsonl and summary.json from the outputs of <c>smelt eval --shard i/N</c>.
/// Attached under <c>eval</c> with <c>command.Subcommands.Add(EvalMergeCommand.Create());</c>.
/// </summary>
internal static class EvalMergeCommand
{
    public static Command Create()
    {
        var dirs = new Argument<string[]>("DIR") { Description = "Output directories of the shard runs (each with results.jsonl and summary.json)", Arity = ArgumentArity.OneOrMore };
        var output = new Option<string>("--out") { Description = "Directory for the merged results.jsonl and summary.json", Required = true };
        var incomplete = new Option<bool>("--allow-incomplete") { Description = "Merge shards that did not finish (the summary says complete: false)" };
        var json = new Option<bool>("--json") { Description = "Print the merged summary.json" };
        var command = new Command("merge", "Combine the outputs of sharded `smelt eval --shard i/N` runs into one summary, identical to an unsharded run");
        command.Arguments.Add(dirs);
        foreach (var o in new Option[] { output, incomplete, json }) command.Options.Add(o);
        command.SetAction((parse, ct) =>
        {
            var r = EvalMerge.Merge(parse.GetValue(dirs)!, parse.GetValue(output)!, parse.GetValue(incomplete));
            foreach (var w in r.Warnings) Cli.Warn(w);
            if (parse.GetValue(json)) Console.WriteLine(File.ReadAllText(r.SummaryPath).TrimEnd());
            else
            {
                var s = r.Summary;
                var pass = string.Join(", ", s.PassAtKValues.Select(p => $"pass@{p.K} {(p.Value is { } v ? v.ToString("0.0000", CultureInfo.InvariantCulture) : "n/a")}"));
                Console.WriteLine($"merged {r.Shards} shard(s): {s.NTasks} tasks, {s.NSamples} samples; {pass}; compile rate " +
                                  (s.CompileRate is { } c ? (c * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "n/a") + $"; summary: {r.SummaryPath}");
            }
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }
}
