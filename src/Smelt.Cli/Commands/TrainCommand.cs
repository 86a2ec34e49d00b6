using System.CommandLine;
using Smelt.Core;
using Smelt.Model;
using Smelt.Training;
using Smelt.Training.Lora;

namespace Smelt.Cli;

/// <summary><c>smelt train [--config FILE.yml] [--resume] [--set key=value ...]</c>: LoRA / QLoRA fine-tuning.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        // `smelt generate --adapter` loads PEFT adapters through the model project's hook; the implementation lives here.
        AdapterRegistry.Loader ??= new PeftAdapterLoader();

        var config = new Option<string?>("--config") { Description = "Training config (YAML); default: the embedded configs/tiny.yml" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the newest complete checkpoint in output.dir" };
        var set = new Option<string[]>("--set") { Description = "Override a config key, e.g. --set train.lr=1e-4 (repeatable; validated like the file)", AllowMultipleArgumentsPerToken = false };
        var threads = new Option<int?>("--threads") { Description = "CPU threads for libtorch (default: libtorch's choice)" };
        var check = new Option<bool>("--check") { Description = "Validate the config, model, tokenizer and data (printing the filter report), then stop before training" };

        var command = new Command("train", "Fine-tune a model with LoRA or QLoRA (NF4); writes a PEFT adapter, checkpoints, metrics and TensorBoard logs");
        foreach (var o in new Option[] { config, resume, set, threads, check }) command.Options.Add(o);
        command.SetAction((parse, ct) =>
        {
            var cfg = TrainRunner.LoadConfig(parse.GetValue(config), parse.GetValue(set) ?? []);
            if (parse.GetValue(threads) is { } n && n < 1) throw SmeltException.BadInput($"--threads {n}: must be at least 1");
            var mode = cfg.Logging.Progress;
            var interactive = mode == "always" || (mode == "auto" && !Console.IsOutputRedirected);
            if (parse.GetValue(check))
            {
                TrainRunner.Check(cfg, new LineProgress(Console.Out, cfg.Logging.Every));
                Console.WriteLine("config, model, tokenizer and data are usable; run without --check to train");
                return Task.FromResult(ExitCodes.Ok);
            }
            var result = interactive
                ? SpectreProgress.Run(p => TrainRunner.Run(cfg, parse.GetValue(resume), p, parse.GetValue(threads), ct))
                : TrainRunner.Run(cfg, parse.GetValue(resume), new LineProgress(Console.Out, cfg.Logging.Every), parse.GetValue(threads), ct);
            Console.WriteLine($"trained {result.GlobalSteps} steps; loss {result.FirstLoss:F4} -> {result.FinalLoss:F4}");
            Console.WriteLine($"adapter (PEFT): {result.AdapterDir}");
            Console.WriteLine($"run directory:  {result.OutputDir} (metrics.jsonl, tensorboard/, loss.png, checkpoints/)");
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }
}
