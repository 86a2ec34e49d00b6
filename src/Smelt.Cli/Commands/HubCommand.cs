using System.CommandLine;
using Smelt.Core;
using Smelt.Hub;
using Spectre.Console;

namespace Smelt.Cli;

/// <summary><c>smelt hub download|upload</c>: the Hugging Face Hub client, sharing the cache of the Python tools.</summary>
internal static class HubCommand
{
    public static Command Create()
    {
        var hub = new Command("hub", "Download models and datasets from the Hugging Face Hub (cache shared with huggingface_hub), or upload a folder.");
        hub.Subcommands.Add(Download());
        hub.Subcommands.Add(Upload());
        return hub;
    }

    private static Option<string> RepoTypeOption() =>
        new("--repo-type") { Description = "model or dataset.", DefaultValueFactory = _ => "model" };

    private static Command Download()
    {
        var repoId = new Argument<string>("repo-id") { Description = "Hub id, e.g. Qwen/Qwen2.5-Coder-0.5B." };
        var repoType = RepoTypeOption();
        var revision = new Option<string>("--revision") { Description = "Branch, tag or commit.", DefaultValueFactory = _ => "main" };
        var include = new Option<string[]>("--include") { Description = "Only files matching these globs (fnmatch: * also matches /).", AllowMultipleArgumentsPerToken = true };
        var exclude = new Option<string[]>("--exclude") { Description = "Skip files matching these globs.", AllowMultipleArgumentsPerToken = true };
        var allowCode = new Option<bool>("--allow-code") { Description = "Also download repository code (.py files); never executed by Smelt." };
        var parallel = new Option<int>("--max-workers") { Description = "Files downloaded at the same time.", DefaultValueFactory = _ => 4 };
        var quiet = new Option<bool>("--quiet") { Description = "No progress bars; print only the snapshot path." };

        var command = new Command("download", "Download a repository snapshot into the hub cache and print its local path (HF_HUB_OFFLINE=1: cache only).");
        command.Arguments.Add(repoId);
        foreach (var o in new Option[] { repoType, revision, include, exclude, allowCode, parallel, quiet })
            command.Options.Add(o);

        command.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(parallel) < 1) throw SmeltException.BadInput("--max-workers must be at least 1");
            var type = RepoId.ParseType(parse.GetValue(repoType));
            var id = RepoId.Parse(parse.GetValue(repoId)!, type).Id;
            var err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            var interactive = !parse.GetValue(quiet) && !Console.IsErrorRedirected && err.Profile.Capabilities.Interactive;
            var options = new HubClientOptions
            {
                AllowCode = parse.GetValue(allowCode),
                MaxParallelDownloads = parse.GetValue(parallel),
                Log = message =>
                {
                    if (!parse.GetValue(quiet)) err.MarkupLine($"[grey]{Markup.Escape(Redactor.Redact(message))}[/]");
                },
            };
            using var client = new HubClient(HubSettings.FromEnvironment(), options);
            SnapshotResult result = null!;
            var includes = parse.GetValue(include) ?? [];
            var excludes = parse.GetValue(exclude) ?? [];
            if (interactive)
            {
                await err.Progress()
                    .AutoClear(false)
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                        new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                    .StartAsync(async ctx =>
                    {
                        result = await client.DownloadAsync(id, type, parse.GetValue(revision), includes, excludes, new SpectreProgress(ctx), ct);
                    });
            }
            else
            {
                result = await client.DownloadAsync(id, type, parse.GetValue(revision), includes, excludes, null, ct);
            }
            if (!parse.GetValue(quiet))
                Console.Error.WriteLine(Redactor.Redact(
                    $"{result.Files.Count} file(s) of {id} at commit {result.Commit}: {result.Downloaded} downloaded, {result.FromCache} already in the cache"));
            Console.WriteLine(result.SnapshotPath);
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Upload()
    {
        var dir = new Argument<string>("dir") { Description = "Folder to upload (an adapter, a model card...)." };
        var repoId = new Argument<string>("repo-id") { Description = "Existing hub repository to commit to." };
        var repoType = RepoTypeOption();
        var revision = new Option<string>("--revision") { Description = "Branch to commit to.", DefaultValueFactory = _ => "main" };
        var message = new Option<string?>("--message") { Description = "Commit message." };

        var command = new Command("upload", "Upload every file of DIR to REPO_ID as one commit (needs a write token in HF_TOKEN or $HF_HOME/token).");
        command.Arguments.Add(dir);
        command.Arguments.Add(repoId);
        foreach (var o in new Option[] { repoType, revision, message })
            command.Options.Add(o);

        command.SetAction(async (parse, ct) =>
        {
            var type = RepoId.ParseType(parse.GetValue(repoType));
            var options = new HubClientOptions { Log = m => Console.Error.WriteLine(Redactor.Redact(m)) };
            using var client = new HubClient(HubSettings.FromEnvironment(), options);
            var result = await client.UploadFolderAsync(parse.GetValue(dir)!, parse.GetValue(repoId)!, type, parse.GetValue(revision), parse.GetValue(message), ct);
            Console.Error.WriteLine(Redactor.Redact(
                $"committed {result.RegularFiles.Count + result.LfsFiles.Count} file(s) ({result.LfsFiles.Count} through LFS) to {parse.GetValue(repoId)}"));
            Console.WriteLine(Redactor.Redact(result.CommitUrl ?? result.CommitOid ?? "committed"));
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>One Spectre progress task per file; thread-safe because Spectre's context and tasks lock internally.</summary>
    private sealed class SpectreProgress(ProgressContext context) : IDownloadProgress
    {
        public IFileProgress Begin(string path, long? totalBytes)
        {
            var task = context.AddTask(Markup.Escape(path), autoStart: true, maxValue: Math.Max(1, totalBytes ?? 1));
            task.IsIndeterminate = totalBytes is null;
            return new Handle(task, path);
        }

        private sealed class Handle(ProgressTask task, string path) : IFileProgress
        {
            public void Report(long bytesOnDisk) => task.Value = Math.Min(bytesOnDisk, task.MaxValue);

            public void Finish(FileOutcome outcome)
            {
                if (outcome is FileOutcome.Cached or FileOutcome.Linked or FileOutcome.Downloaded) task.Value = task.MaxValue;
                task.Description = Markup.Escape(path) + outcome switch
                {
                    FileOutcome.Cached => " [grey](cached)[/]",
                    FileOutcome.Linked => " [grey](linked)[/]",
                    FileOutcome.Failed => " [red](failed)[/]",
                    _ => "",
                };
                task.StopTask();
            }
        }
    }
}
