using Smelt.Core;
using Smelt.Training;

// Usage: TrainHost CONFIG.yml [--resume] [--threads N]
try
{
    var resume = args.Contains("--resume");
    var ti = Array.IndexOf(args, "--threads");
    int? threads = ti >= 0 ? int.Parse(args[ti + 1], System.Globalization.CultureInfo.InvariantCulture) : null;
    var cfg = TrainRunner.LoadConfig(args[0], []);
    var result = TrainRunner.Run(cfg, resume, new LineProgress(Console.Out, 1), threads);
    Console.WriteLine($"done {result.GlobalSteps} resumed={result.Resumed}");
    return 0;
}
catch (SmeltException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return ex.ExitCode;
}
