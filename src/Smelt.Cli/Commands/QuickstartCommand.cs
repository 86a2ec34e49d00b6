using System.CommandLine;
using System.Text.Json;
using Smelt.Core;
using Spectre.Console;

namespace Smelt.Cli;

/// <summary>
/// <c>smelt quickstart</c>: the embedded default, end to end with no download. It runs the real commands in-process, in
/// order: <c>model init --preset tiny</c> (if the model is absent), a baseline <c>generate</c> + <c>eval</c> on the bundled
/// problems, <c>train --config configs/tiny.yml</c>, then <c>generate --adapter</c> + <c>eval</c> again, and prints the
/// before/after comparison. Every artefact stays under <c>--out</c> (default <c>runs/quickstart</c>).
/// </summary>
internal static class QuickstartCommand
{
    public static Command Create()
    {
        var outDir = new Option<string>("--out") { Description = "Directory for the model, run, samples and evaluations", DefaultValueFactory = _ => "runs/quickstart" };
        var samples = new Option<int>("--n") { Description = "Samples per problem for each evaluation", DefaultValueFactory = _ => 2 };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens per sample", DefaultValueFactory = _ => 128 };
        var sandbox = new Option<string>("--sandbox") { Description = "Sandbox backend for the evaluations", DefaultValueFactory = _ => "bwrap" };
        var set = new Option<string[]>("--set") { Description = "Extra training-config override (repeatable), e.g. --set train.max_steps=20" };
        var command = new Command("quickstart", "Run the embedded default end to end: tiny model, bundled corpus and problems (init, baseline eval, train, eval, before/after)");
        foreach (var o in new Option[] { outDir, samples, maxNew, sandbox, set }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var root = SmeltPaths.RepoRoot ?? Directory.GetCurrentDirectory();
            string Repo(string rel) => Path.Combine(root, rel);
            var config = Repo("configs/tiny.yml");
            var problems = Repo("data/problems/smelt_rust_problems.jsonl");
            foreach (var needed in new[] { config, problems, Repo("data/corpus") })
                if (!File.Exists(needed) && !Directory.Exists(needed))
                    throw SmeltException.BadInput($"{needed} is missing: run quickstart from a Smelt checkout");
            var n = parse.GetValue(samples);
            if (n < 1) throw SmeltException.BadInput("--n must be at least 1");
            var output = Path.GetFullPath(parse.GetValue(outDir)!);
            var model = Path.Combine(output, "model");
            var run = Path.Combine(output, "train");
            var sb = parse.GetValue(sandbox)!;
            var gen = new[] { "--problems", problems, "--n", n.ToString(), "--max-new-tokens", parse.GetValue(maxNew).ToString(), "--temperature", "0.8", "--seed", "1" };

            if (!File.Exists(Path.Combine(model, "config.json")))
                await Step("1/5 model init (tiny preset, tokenizer learned from data/corpus)", ["model", "init", "--preset", "tiny", "--out", model, "--seed", "0"], ct);
            else
                Console.WriteLine($"== 1/5 model init: using the existing {model}");
            // A rerun reuses what an earlier run finished (same model, same seed: the same samples) and resumes the rest.
            await Generate("2/5 baseline: generate", ["generate", "--model", model, .. gen], Path.Combine(output, "samples.before.jsonl"), ct);
            await Step("2/5 baseline: eval (sandboxed)", ["eval", "--problems", problems, "--samples", Path.Combine(output, "samples.before.jsonl"), "--out", Path.Combine(output, "eval.before"), "--sandbox", sb, "--overwrite"], ct);
            // configs/tiny.yml names the corpus relative to the checkout; quickstart may run from anywhere.
            string[] overrides = [$"model.path={model}", $"output.dir={run}", $"data.sources.0.path={Repo("data/corpus")}", .. parse.GetValue(set) ?? []];
            var adapter = Path.Combine(run, "adapter");
            var trained = File.Exists(Path.Combine(adapter, "adapter_config.json"));
            if (trained) Console.WriteLine($"== 3/5 train: using the finished run in {run}");
            else await Step("3/5 train (configs/tiny.yml, LoRA)", ["train", "--config", config, "--resume", .. overrides.SelectMany(o => new[] { "--set", o })], ct);
            var after = Path.Combine(output, "samples.after.jsonl");
            if (!trained && File.Exists(after)) File.Delete(after); // from an adapter that this run has just replaced
            await Generate("4/5 after: generate with the adapter", ["generate", "--model", model, "--adapter", adapter, .. gen], after, ct);
            await Step("4/5 after: eval (sandboxed)", ["eval", "--problems", problems, "--samples", Path.Combine(output, "samples.after.jsonl"), "--out", Path.Combine(output, "eval.after"), "--sandbox", sb, "--overwrite"], ct);

            Console.WriteLine("== 5/5 before / after");
            Console.WriteLine(Compare(Path.Combine(output, "eval.before", "summary.json"), Path.Combine(output, "eval.after", "summary.json"), Path.Combine(run, "metrics.jsonl")));
            Console.WriteLine($"everything is under {output}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Task Generate(string title, string[] args, string samples, CancellationToken ct)
    {
        if (!File.Exists(samples)) return Step(title, [.. args, "--out", samples], ct); // resumes a .partial file by itself
        Console.WriteLine($"== {title}: using the existing {samples}");
        return Task.CompletedTask;
    }

    private static async Task Step(string title, string[] args, CancellationToken ct)
    {
        Console.WriteLine($"== {title}: smelt {string.Join(' ', args.Select(Quote))}");
        var root = new RootCommand();
        foreach (var c in Commands.All().Where(c => c.Name != "quickstart")) root.Subcommands.Add(c);
        var code = await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false }, ct);
        if (code != ExitCodes.Ok)
            throw new SmeltException($"quickstart stopped: step '{title}' exited with {code} (its output is above; fix that and rerun: finished steps are reused where they can be)", code);
    }

    private static string Quote(string s) => s.Contains(' ') ? $"'{s}'" : s;

    /// <summary>Builds the comparison table from the two eval summaries and the training metrics.</summary>
    internal static string Compare(string beforeSummary, string afterSummary, string metrics)
    {
        using var before = JsonDocument.Parse(File.ReadAllText(beforeSummary));
        using var after = JsonDocument.Parse(File.ReadAllText(afterSummary));
        var (firstLoss, lastLoss, firstVal, lastVal) = Losses(metrics);
        var table = new Table();
        foreach (var column in new[] { "metric", "before", "after" }) table.AddColumn(column);
        void Row(string name, string b, string a) => table.AddRow(name, b, a);
        Row("train loss (first / last logged step)", Fmt(firstLoss), Fmt(lastLoss));
        Row("validation loss", Fmt(firstVal), Fmt(lastVal));
        Row("pass@1", Fmt(PassAt1(before.RootElement)), Fmt(PassAt1(after.RootElement)));
        Row("compile rate", Fmt(Num(before.RootElement, "compile_rate")), Fmt(Num(after.RootElement, "compile_rate")));
        Row("clippy-clean rate", Fmt(Num(before.RootElement, "clippy_clean_rate")), Fmt(Num(after.RootElement, "clippy_clean_rate")));
        Row("samples", Fmt(Num(before.RootElement, "n_samples"), "0"), Fmt(Num(after.RootElement, "n_samples"), "0"));
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.No });
        console.Write(table);
        return writer.ToString().TrimEnd();
    }

    private static double? PassAt1(JsonElement summary) =>
        summary.TryGetProperty("pass_at_k", out var p) && p.TryGetProperty("1", out var one) && one.TryGetProperty("value", out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static double? Num(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static string Fmt(double? v, string format = "0.0000") => v is { } x ? x.ToString(format, System.Globalization.CultureInfo.InvariantCulture) : "n/a";

    private static (double?, double?, double?, double?) Losses(string metrics)
    {
        double? first = null, last = null, firstVal = null, lastVal = null;
        if (!File.Exists(metrics)) return (null, null, null, null);
        foreach (var line in Jsonl.Read(metrics).Where(l => l.IsValid))
        {
            var e = line.Value!.Value;
            if (Num(e, "loss") is { } loss) { first ??= loss; last = loss; }
            if (Num(e, "val_loss") is { } val) { firstVal ??= val; lastVal = val; }
        }
        return (first, last, firstVal, lastVal);
    }
}
