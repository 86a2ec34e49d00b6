using System.CommandLine;

namespace Smelt.Cli;

/// <summary>The list of top-level commands. Each lives in its own file under Commands/.</summary>
internal static class Commands
{
    public static IEnumerable<Command> All()
    {
        // One line per command family; keep this list in the order `smelt --help` should show.
        yield return QuickstartCommand.Create();
        yield return HubCommand.Create();
        yield return ModelCommand.Create();
        yield return GenerateCommand.Create();
        yield return DataCommand.Create();
        yield return TrainCommand.Create();
        yield return EvalCommand.Create();
        yield return GenerateRemoteCommand.Create();
        yield return InspectCommand.Create();
        yield return ExportCommand.Create();
        yield return CardCommand.Create();
        yield return SweepCommand.Create();
        yield return ExpertIterationCommand.Create();
        yield return SandboxCommand.Create();
        yield break;
    }
}
