using System.CommandLine;
using System.Text.Json;
using Smelt.Core;
using Smelt.Sandbox;

namespace Smelt.Cli;

/// <summary><c>smelt sandbox check [--sandbox NAME] [--json]</c>: attacks the chosen backend with a probe and prints what held.</summary>
internal static class SandboxCommand
{
    public static Command Create()
    {
        var sandbox = new Option<string>("--sandbox") { Description = "Backend: auto|bwrap|firejail|docker|none", DefaultValueFactory = _ => "auto" };
        var allow = new Option<bool>("--allow-unsandboxed") { Description = "Required with --sandbox none (development only)" };
        var json = new Option<bool>("--json") { Description = "Print the result as JSON" };
        var rustc = new Option<string?>("--rustc") { Description = "rustc used to find the sysroot that compiles the probe (default: PATH, ~/.cargo/bin)" };

        var check = new Command("check", "Run the sandbox self-test and print a table; exit 0 only if every check holds, 3 otherwise");
        check.Options.Add(sandbox);
        check.Options.Add(allow);
        check.Options.Add(json);
        check.Options.Add(rustc);
        check.SetAction(async (parse, ct) =>
        {
            var name = parse.GetValue(sandbox) ?? "auto";
            if (!SandboxFactory.Names.Contains(name))
                throw SmeltException.Infrastructure($"unknown sandbox backend '{name}'; choose one of: {string.Join(", ", SandboxFactory.Names)}");
            var backend = SandboxFactory.Create(name, parse.GetValue(allow));
            var report = await SelfCheck.RunAsync(backend, RustSysroot.Find(parse.GetValue(rustc)), ct);
            if (parse.GetValue(json))
            {
                var doc = new
                {
                    backend = report.Backend,
                    passed = report.AllPassed,
                    checks = report.Items.Select(i => new { name = i.Name, passed = i.Passed, detail = i.Detail }),
                };
                Console.WriteLine(Redactor.Redact(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true })));
            }
            else
            {
                Console.WriteLine($"sandbox backend: {report.Backend}");
                var width = report.Items.Max(i => i.Name.Length);
                foreach (var item in report.Items)
                    Console.WriteLine($"  {(item.Passed ? "PASS" : "FAIL")}  {item.Name.PadRight(width)}  {Redactor.Redact(item.Detail)}");
                Console.WriteLine(report.AllPassed
                    ? "all checks hold"
                    : $"{report.Items.Count(i => !i.Passed)} check(s) failed: do not evaluate untrusted code with this backend (see docs/sandbox.md)");
            }
            return report.AllPassed ? ExitCodes.Ok : ExitCodes.Infrastructure;
        });

        var command = new Command("sandbox", "Inspect the sandbox that compiles and runs untrusted code");
        command.Subcommands.Add(check);
        return command;
    }
}
