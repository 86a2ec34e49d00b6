using System.CommandLine;
using Smelt.Core;
using Smelt.Workflow;

namespace Smelt.Cli;

/// <summary><c>smelt card DIR [--eval summary.json ...] [--out README.md]</c>: a Hugging Face model card with measured metrics.</summary>
internal static class CardCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("DIR") { Description = "A training run (output.dir), its adapter/ or a model directory" };
        var eval = new Option<string[]>("--eval") { Description = "summary.json of a `smelt eval` run (repeatable): its pass@k, compile and clippy-clean rates go into model-index", AllowMultipleArgumentsPerToken = true };
        var output = new Option<string?>("--out") { Description = "Where to write the card (default DIR/README.md); the loss curve is copied beside it" };
        var license = new Option<string>("--license") { Description = "License identifier for the front matter", DefaultValueFactory = _ => "other" };
        var name = new Option<string?>("--name") { Description = "Model name (default: the directory name)" };
        var tags = new Option<string[]>("--tag") { Description = "Extra tag (repeatable)" };
        var command = new Command("card", "Write a model card (README.md) with YAML front matter, training details, the loss curve and measured metrics; no secrets, no local paths");
        command.Arguments.Add(dir);
        foreach (var o in new Option[] { eval, output, license, name, tags }) command.Options.Add(o);
        command.SetAction((parse, ct) =>
        {
            var result = ModelCard.Write(parse.GetValue(dir)!, new CardOptions
            {
                EvalSummaries = parse.GetValue(eval) ?? [],
                OutPath = parse.GetValue(output),
                License = parse.GetValue(license)!,
                Name = parse.GetValue(name),
                ExtraTags = parse.GetValue(tags) ?? [],
            });
            Console.WriteLine(Redactor.Redact($"wrote {result.CardPath}" + (result.LossImage is null ? " (no loss.png found, so no loss curve)" : $" and {result.LossImage}")));
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }
}
