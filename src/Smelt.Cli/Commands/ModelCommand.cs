using System.CommandLine;
using System.Text.Json;
using Smelt.Core;
using Smelt.Model;

namespace Smelt.Cli;

/// <summary><c>smelt model init --preset tiny --out DIR [--seed N] [--corpus PATH] [--json]</c></summary>
internal static class ModelCommand
{
    public static Command Create()
    {
        var preset = new Option<string>("--preset") { Description = $"Model size: {string.Join(", ", ModelPresets.All.Select(p => $"{p.Name} ({p.Description})"))}", DefaultValueFactory = _ => "tiny" };
        var output = new Option<string>("--out") { Description = "New (or empty) directory to write the model into", Required = true };
        var seed = new Option<long>("--seed") { Description = "Seed for the weight initialisation", DefaultValueFactory = _ => 0 };
        var corpus = new Option<string?>("--corpus") { Description = "Text (file or folder) to learn the tokenizer's merges from (default: the bundled data/corpus)" };
        var plainBytes = new Option<bool>("--plain-bytes") { Description = "Use a byte-level tokenizer with no merges (ignores --corpus)" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };

        var init = new Command("init", "Create a randomly initialised Llama model in Hugging Face layout (config, safetensors, tokenizer)");
        foreach (var o in new Option[] { preset, output, seed, corpus, plainBytes, json }) init.Options.Add(o);
        init.SetAction((parse, ct) =>
        {
            var corpusPath = parse.GetValue(plainBytes) ? null : parse.GetValue(corpus) ?? ModelPresets.DefaultCorpus();
            if (corpusPath is null && !parse.GetValue(plainBytes))
                Cli.Warn("no corpus given and the bundled data/corpus was not found: the tokenizer will have no merges (plain bytes)");
            var report = ModelPresets.Init(parse.GetValue(preset)!, parse.GetValue(output)!, parse.GetValue(seed), corpusPath);
            if (parse.GetValue(json))
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    directory = report.Directory, parameters = report.Parameters, tokenizer_vocab = report.TokenizerVocab,
                    merges = report.Merges, corpus = report.CorpusSource,
                }));
            else
            {
                Console.WriteLine($"wrote {report.Directory}: {report.Parameters:N0} parameters, tokenizer {report.TokenizerVocab} tokens ({report.Merges} merges learned from {report.CorpusSource})");
                Console.WriteLine("  config.json  model.safetensors  tokenizer.json  tokenizer_config.json  generation_config.json");
            }
            return Task.FromResult(ExitCodes.Ok);
        });

        var command = new Command("model", "Create and inspect models in Hugging Face layout");
        command.Subcommands.Add(init);
        return command;
    }
}
