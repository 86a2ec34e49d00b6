using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Smelt.Core;
using Smelt.Data;
using Smelt.Data.Secrets;

namespace Smelt.Cli;

/// <summary>
/// <c>smelt data scan FILE...</c>: the secrets/PII scanner on its own. <c>smelt data filter --source PATH ... --out FILE</c>:
/// the whole data pipeline, writing the cleaned records as JSONL and the filter report.
/// </summary>
internal static class DataCommand
{
    public static Command Create()
    {
        var command = new Command("data", "Inspect and clean training data: secrets scanning, Rust filters, dedup, decontamination");
        command.Subcommands.Add(Scan());
        command.Subcommands.Add(Filter());
        return command;
    }

    private sealed record Hit(string File, int Line, string? Field, string Kind, string Preview);

    private static Command Scan()
    {
        var files = new Argument<string[]>("FILE") { Description = "Files or directories to scan (JSONL is scanned record by record)", Arity = ArgumentArity.OneOrMore };
        var json = new Option<bool>("--json") { Description = "Print findings as JSON" };
        var rules = new Option<string?>("--rules") { Description = "Scanner rule file (YAML or JSON): actions per kind, allow list, custom patterns" };
        var scan = new Command("scan", "Find credentials and personal data; exit 1 when anything is found, 0 when clean");
        scan.Arguments.Add(files);
        scan.Options.Add(json);
        scan.Options.Add(rules);
        scan.SetAction((parse, ct) =>
        {
            var rulePath = parse.GetValue(rules);
            var scanner = new SecretScanner(rulePath is null ? null : SecretRuleFile.Load(rulePath));
            var paths = parse.GetValue(files) ?? [];
            foreach (var p in paths)
                if (!File.Exists(p) && !Directory.Exists(p)) throw SmeltException.BadInput($"{p}: no such file or directory");
            var hits = new List<Hit>();
            var skipped = new List<string>();
            var binary = new List<string>();
            long scannedFiles = 0;
            foreach (var file in paths.SelectMany(Expand))
            {
                ct.ThrowIfCancellationRequested();
                scannedFiles++;
                if (file.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)) ScanJsonl(file, scanner, hits, skipped);
                else ScanText(file, scanner, hits, skipped, binary);
            }
            if (parse.GetValue(json))
            {
                var doc = new
                {
                    files = scannedFiles,
                    findings = hits.Select(h => new { file = h.File, line = h.Line, field = h.Field, kind = h.Kind, preview = h.Preview }),
                    counts = hits.GroupBy(h => h.Kind).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
                    skipped,
                    binary_files_skipped = binary,
                };
                Console.WriteLine(Redactor.Redact(JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true })));
            }
            else
            {
                foreach (var h in hits)
                    Console.WriteLine(Redactor.Redact($"{h.File}:{h.Line}: {h.Kind}{(h.Field is null ? "" : $" in {h.Field}")}: {h.Preview}"));
                foreach (var s in skipped) Cli.Warn(s);
                if (binary.Count > 0) Cli.Warn($"{binary.Count} binary file(s) skipped (e.g. {binary[0]})");
                var counts = string.Join(", ", hits.GroupBy(h => h.Kind).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} {g.Count()}"));
                Console.WriteLine(hits.Count == 0
                    ? $"no secrets or personal data found in {scannedFiles} file(s)"
                    : $"{hits.Count} finding(s) in {scannedFiles} file(s): {counts}");
            }
            return Task.FromResult(hits.Count == 0 ? ExitCodes.Ok : ExitCodes.Failure);
        });
        return scan;
    }

    private static IEnumerable<string> Expand(string path)
    {
        if (File.Exists(path)) { yield return path; yield break; }
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        foreach (var f in Directory.EnumerateFiles(path, "*", options).Order(StringComparer.Ordinal))
            if (!f.Contains("/.git/", StringComparison.Ordinal)) yield return f;
    }

    private static void ScanJsonl(string file, SecretScanner scanner, List<Hit> hits, List<string> skipped)
    {
        foreach (var line in Jsonl.Read(file))
        {
            if (!line.IsValid) { skipped.Add($"{line.Where}: skipped, {line.Error}"); continue; }
            foreach (var (field, value) in Strings(line.Value!.Value, ""))
                foreach (var f in scanner.Scan(value))
                    hits.Add(new Hit(file, line.LineNumber, field, f.Kind, f.Preview(value)));
        }
    }

    /// <summary>Every string in a JSON value, with its path (<c>messages[1].content</c>).</summary>
    private static IEnumerable<(string Path, string Value)> Strings(JsonElement e, string path)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String:
                yield return (path, e.GetString()!);
                break;
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                    foreach (var s in Strings(p.Value, path.Length == 0 ? p.Name : $"{path}.{p.Name}")) yield return s;
                break;
            case JsonValueKind.Array:
                var i = 0;
                foreach (var item in e.EnumerateArray())
                    foreach (var s in Strings(item, $"{path}[{i++}]")) yield return s;
                break;
        }
    }

    private static void ScanText(string file, SecretScanner scanner, List<Hit> hits, List<string> skipped, List<string> binary)
    {
        var info = new FileInfo(file);
        if (info.Length > 64 << 20) { skipped.Add($"{file}: skipped, larger than 64 MiB"); return; }
        var bytes = File.ReadAllBytes(file);
        if (Array.IndexOf(bytes, (byte)0) >= 0) { binary.Add(file); return; }
        string text;
        try { text = new UTF8Encoding(false, true).GetString(bytes); }
        catch (DecoderFallbackException) { skipped.Add($"{file}: skipped, not valid UTF-8"); return; }
        var findings = scanner.Scan(text);
        if (findings.Count == 0) return;
        var line = 1;
        var pos = 0;
        foreach (var f in findings)
        {
            for (; pos < f.Start; pos++) if (text[pos] == '\n') line++;
            hits.Add(new Hit(file, line, null, f.Kind, f.Preview(text)));
        }
    }

    private static Command Filter()
    {
        var sources = new Option<string[]>("--source") { Description = "A data source: a directory of .rs files, a .jsonl or a .parquet file (repeatable)", Required = true, AllowMultipleArgumentsPerToken = false };
        var weights = new Option<string?>("--weights") { Description = "Comma-separated weights, one per --source (with --mix weighted)" };
        var mix = new Option<string>("--mix") { Description = "sequential | round-robin | weighted", DefaultValueFactory = _ => "sequential" };
        var seed = new Option<long>("--seed") { Description = "Seed for weighted mixing and task-type sampling", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Cleaned records, JSONL (written atomically)", Required = true };
        var reportPath = new Option<string?>("--report") { Description = "Save the filter report as JSON (default: OUT.report.json)" };
        var decontaminate = new Option<string[]>("--decontaminate") { Description = "HumanEval-style JSONL whose problems must not leak into training (repeatable)" };
        var quality = new Option<bool>("--quality") { Description = "Prefer idiomatic, documented code (doc ratio, unwrap density, unsafe, long lines)" };
        var noDedup = new Option<bool>("--no-dedup") { Description = "Keep exact and near duplicates" };
        var noNear = new Option<bool>("--no-near-dedup") { Description = "Keep near duplicates (exact dedup stays on)" };
        var noSecrets = new Option<bool>("--no-secrets") { Description = "Do not scan for secrets and personal data (not recommended)" };
        var secretRules = new Option<string?>("--secret-rules") { Description = "Scanner rule file (YAML or JSON)" };
        var testCode = new Option<string>("--test-code") { Description = "strip | drop | keep test-only code found by the lexer", DefaultValueFactory = _ => "strip" };
        var minChars = new Option<int>("--min-chars") { DefaultValueFactory = _ => new LengthOptions().MinChars, Description = "Shortest code kept, in characters" };
        var taskWeight = new Option<string[]>("--task-weight") { Description = "Sampling weight for a _task_type, TYPE=WEIGHT (repeatable); 2.5 = two copies plus a third half the time" };
        var maxChars = new Option<int>("--max-chars") { DefaultValueFactory = _ => new LengthOptions().MaxChars, Description = "Longest code kept, in characters" };

        var filter = new Command("filter", "Run the data pipeline over the sources and write the cleaned records with a report");
        foreach (var o in new Option[] { sources, weights, mix, seed, output, reportPath, decontaminate, quality, noDedup, noNear, noSecrets, secretRules, testCode, minChars, maxChars, taskWeight })
            filter.Options.Add(o);
        filter.SetAction((parse, ct) =>
        {
            var paths = parse.GetValue(sources) ?? [];
            var w = ParseWeights(parse.GetValue(weights), paths.Length);
            var mode = parse.GetValue(mix) switch
            {
                "sequential" => MixMode.Sequential,
                "round-robin" => MixMode.RoundRobin,
                "weighted" => MixMode.Weighted,
                var other => throw SmeltException.BadInput($"--mix: unknown mode '{other}' (use sequential, round-robin or weighted)"),
            };
            var tc = parse.GetValue(testCode) switch
            {
                "strip" => TestCodeMode.Strip,
                "drop" => TestCodeMode.Drop,
                "keep" => TestCodeMode.Keep,
                var other => throw SmeltException.BadInput($"--test-code: unknown mode '{other}' (use strip, drop or keep)"),
            };
            var rules = parse.GetValue(secretRules);
            var eval = parse.GetValue(decontaminate) ?? [];
            var dedup = parse.GetValue(noDedup) ? null : new DedupOptions { Near = !parse.GetValue(noNear) };
            var options = new DataOptions
            {
                Sources = paths.Select((p, i) => new SourceOptions { Path = p, Weight = w[i] }).ToArray(),
                Mix = mode,
                Seed = parse.GetValue(seed),
                TaskWeights = ParseTaskWeights(parse.GetValue(taskWeight) ?? []),
                TestCode = tc,
                Length = new LengthOptions { MinChars = parse.GetValue(minChars), MaxChars = parse.GetValue(maxChars) },
                Quality = parse.GetValue(quality) ? new QualityOptions() : null,
                Secrets = parse.GetValue(noSecrets) ? null : rules is null ? new ScannerOptions() : SecretRuleFile.Load(rules),
                Dedup = dedup,
                Decontamination = eval.Length == 0 ? null : new DecontaminationOptions { EvalFiles = eval },
            };
            var pipeline = new DataPipeline(options);
            var outPath = parse.GetValue(output)!;
            AtomicFile.Write(outPath, tmp =>
            {
                using var writer = new StreamWriter(tmp, false, new UTF8Encoding(false));
                foreach (var record in pipeline.Records())
                {
                    ct.ThrowIfCancellationRequested();
                    writer.Write(record.ToJsonLine());
                    writer.Write('\n');
                }
            });
            var report = pipeline.LastReport!;
            var reportFile = parse.GetValue(reportPath) ?? outPath + ".report.json";
            report.Save(reportFile);
            Console.WriteLine(Redactor.Redact(report.ToTable()));
            Console.WriteLine($"wrote {report.Emitted} records to {outPath}; report in {reportFile}");
            return Task.FromResult(ExitCodes.Ok);
        });
        return filter;
    }

    private static Dictionary<string, double>? ParseTaskWeights(string[] items)
    {
        if (items.Length == 0) return null;
        var result = new Dictionary<string, double>();
        foreach (var item in items)
        {
            var eq = item.LastIndexOf('=');
            if (eq <= 0 || !double.TryParse(item[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var w) || w < 0)
                throw SmeltException.BadInput($"--task-weight: '{item}' should be TYPE=WEIGHT with a weight ≥ 0, e.g. code_generation=2.5");
            result[item[..eq]] = w;
        }
        return result;
    }

    private static double[] ParseWeights(string? text, int count)
    {
        if (string.IsNullOrWhiteSpace(text)) return Enumerable.Repeat(1.0, count).ToArray();
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != count) throw SmeltException.BadInput($"--weights: {parts.Length} weight(s) for {count} source(s); give one per --source");
        return parts.Select(p => double.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d > 0
            ? d
            : throw SmeltException.BadInput($"--weights: '{p}' is not a positive number")).ToArray();
    }
}
