using System.CommandLine;
using Smelt.Cli;

var root = new RootCommand("smelt: fine-tune code models and judge the code they write, safely.");
foreach (var command in Commands.All())
    root.Subcommands.Add(command);
return await Cli.RunAsync(root, args);
