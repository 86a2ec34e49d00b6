using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Smelt.Core;
using YamlDotNet.RepresentationModel;

namespace Smelt.Workflow;

/// <summary>One evaluation to report on a model card: the numbers from an eval summary.json and where they were measured.</summary>
public sealed record CardEval(string EvalSet, string Sandbox, string? Rustc, IReadOnlyDictionary<int, double?> PassAtK, double? CompileRate, double? ClippyCleanRate,
    int Tasks, int Samples)
{
    public static CardEval Load(string summaryPath)
    {
        if (!File.Exists(summaryPath)) throw SmeltException.BadInput($"--eval {summaryPath}: file not found (pass the summary.json written by `smelt eval`)");
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(summaryPath)); }
        catch (JsonException ex) { throw SmeltException.BadInput($"--eval {summaryPath}: not valid JSON ({ex.Message})"); }
        using (doc)
        {
            var o = doc.RootElement;
            if (o.ValueKind != JsonValueKind.Object || !o.TryGetProperty("pass_at_k", out var pk) || pk.ValueKind != JsonValueKind.Object)
                throw SmeltException.BadInput($"--eval {summaryPath}: no 'pass_at_k' object; is this a summary.json from `smelt eval`?");
            if (o.TryGetProperty("complete", out var c) && c.ValueKind == JsonValueKind.False)
                throw SmeltException.BadInput($"--eval {summaryPath}: the evaluation did not finish (complete: false); rerun `smelt eval --resume` before publishing its numbers");
            var pass = new SortedDictionary<int, double?>();
            foreach (var p in pk.EnumerateObject())
                if (int.TryParse(p.Name, NumberStyles.None, CultureInfo.InvariantCulture, out var k))
                    pass[k] = p.Value.TryGetProperty("value", out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
            double? Num(string key) => o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;
            string? Str(string key) => o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var problems = Str("problems") ?? "unknown";
            return new CardEval(Path.GetFileName(problems), Str("sandbox") ?? "unknown", Str("rustc_version"), pass, Num("compile_rate"), Num("clippy_clean_rate"),
                o.TryGetProperty("n_tasks", out var nt) ? nt.GetInt32() : 0, o.TryGetProperty("n_samples", out var ns) ? ns.GetInt32() : 0);
        }
    }
}

public sealed record CardOptions
{
    public IReadOnlyList<string> EvalSummaries { get; init; } = [];
    public string? OutPath { get; init; }
    public string License { get; init; } = "other";
    public string? Name { get; init; }
    public IReadOnlyList<string> ExtraTags { get; init; } = [];
}

/// <summary>
/// Writes a Hugging Face model card (README.md): YAML front matter (base_model, library_name, tags, datasets, license,
/// model-index with the measured metrics) and a body with training details from the run's config.resolved.yml and
/// metrics.jsonl plus the loss curve. Every line goes through <see cref="Redactor"/> and <see cref="Scrub"/>, so neither
/// secrets nor absolute local paths reach the card.
/// </summary>
public static partial class ModelCard
{
    public sealed record Result(string CardPath, string? LossImage, string Text);

    public static Result Write(string directory, CardOptions options)
    {
        // Secrets that entered the environment after start-up (e.g. exported by a wrapper script) are masked too.
        foreach (System.Collections.DictionaryEntry e in Environment.GetEnvironmentVariables())
            if (e.Key is string k && e.Value is string v && Redactor.LooksSecretName(k)) Redactor.Register(v);
        var report = DirectoryInspector.Inspect(directory);
        if (report.Kind is DirectoryKind.Unknown)
            throw SmeltException.BadInput($"{directory}: neither a training run, a checkpoint, an adapter nor a model directory (no adapter_config.json, config.json or metrics.jsonl)");
        var evals = options.EvalSummaries.Select(CardEval.Load).ToList();
        var runDir = report.Kind switch
        {
            DirectoryKind.TrainingRun => report.Directory,
            DirectoryKind.Adapter when File.Exists(Path.Combine(Path.GetDirectoryName(report.Directory)!, "config.resolved.yml")) => Path.GetDirectoryName(report.Directory)!,
            DirectoryKind.Checkpoint => report.Directory,
            _ => null,
        };
        var configPath = runDir is null ? null : Path.Combine(runDir, "config.resolved.yml");
        var config = configPath is not null && File.Exists(configPath) ? LoadYaml(configPath) : null;
        var outPath = Path.GetFullPath(options.OutPath ?? Path.Combine(report.Directory, "README.md"));
        var outDir = Path.GetDirectoryName(outPath)!;

        string? lossImage = null;
        var lossSource = runDir is null ? null : Path.Combine(report.Kind == DirectoryKind.Checkpoint ? Path.GetDirectoryName(Path.GetDirectoryName(runDir)!)! : runDir, "loss.png");
        if (lossSource is not null && File.Exists(lossSource))
        {
            lossImage = "loss.png";
            var target = Path.Combine(outDir, lossImage);
            if (Path.GetFullPath(lossSource) != target)
            {
                Directory.CreateDirectory(outDir);
                File.Copy(lossSource, target, overwrite: true);
            }
        }

        var name = options.Name ?? Path.GetFileName(report.Kind == DirectoryKind.Adapter && runDir is not null ? runDir : report.Directory.TrimEnd('/'));
        var text = Render(report, config, evals, options, name, lossImage);
        AtomicFile.WriteAllText(outPath, text);
        return new Result(outPath, lossImage is null ? null : Path.Combine(outDir, lossImage), text);
    }

    private static YamlMappingNode? LoadYaml(string path)
    {
        try
        {
            var stream = new YamlStream();
            using var reader = new StreamReader(path);
            stream.Load(reader);
            return stream.Documents.FirstOrDefault()?.RootNode as YamlMappingNode;
        }
        catch (YamlDotNet.Core.YamlException ex)
        {
            throw SmeltException.BadInput($"{path}: not readable YAML ({ex.Message}); the model card needs the run's resolved config");
        }
    }

    private static string? Get(YamlMappingNode? root, string dotted)
    {
        YamlNode? node = root;
        foreach (var seg in dotted.Split('.'))
        {
            if (node is not YamlMappingNode m || !m.Children.TryGetValue(new YamlScalarNode(seg), out var next)) return null;
            node = next;
        }
        return (node as YamlScalarNode)?.Value;
    }

    private static IEnumerable<string> DataSources(YamlMappingNode? root)
    {
        var result = new List<string>();
        void Collect(YamlNode? data)
        {
            if (data is YamlMappingNode d && d.Children.TryGetValue(new YamlScalarNode("sources"), out var s) && s is YamlSequenceNode seq)
                foreach (var src in seq.OfType<YamlMappingNode>())
                {
                    var n = src.Children.TryGetValue(new YamlScalarNode("name"), out var nn) ? (nn as YamlScalarNode)?.Value : null;
                    var p = src.Children.TryGetValue(new YamlScalarNode("path"), out var pp) ? (pp as YamlScalarNode)?.Value : null;
                    var label = !string.IsNullOrEmpty(n) ? n : p is null ? null : Path.GetFileName(p.TrimEnd('/'));
                    if (label is not null && !result.Contains(label)) result.Add(label);
                }
        }
        if (root is null) return result;
        if (root.Children.TryGetValue(new YamlScalarNode("data"), out var top)) Collect(top);
        if (root.Children.TryGetValue(new YamlScalarNode("phases"), out var phases) && phases is YamlSequenceNode ps)
            foreach (var ph in ps.OfType<YamlMappingNode>())
                if (ph.Children.TryGetValue(new YamlScalarNode("data"), out var pd)) Collect(pd);
        return result;
    }

    /// <summary>A hub id (org/name) rather than a local path: two segments, no leading dot or slash, and not an existing local directory.</summary>
    public static bool LooksLikeHubId(string? value) =>
        !string.IsNullOrEmpty(value) && HubId().IsMatch(value) && !Directory.Exists(value);

    private static string Render(InspectReport report, YamlMappingNode? config, IReadOnlyList<CardEval> evals, CardOptions options, string name, string? lossImage)
    {
        var inv = CultureInfo.InvariantCulture;
        var isAdapter = report.Adapter is not null;
        var baseModel = report.BaseModel ?? Get(config, "model.path");
        var quant = Get(config, "quantization.method") ?? "none";
        var tags = new List<string> { "smelt", "rust", "code", "text-generation" };
        if (isAdapter) tags.AddRange(quant == "nf4" ? ["lora", "qlora"] : ["lora"]);
        tags.AddRange(options.ExtraTags);
        var datasets = DataSources(config).ToList();

        var fm = new List<string> { "---" };
        if (LooksLikeHubId(baseModel)) fm.Add($"base_model: {Yaml(baseModel!)}");
        fm.Add($"library_name: {(isAdapter ? "peft" : "transformers")}");
        fm.Add($"license: {Yaml(options.License)}");
        fm.Add("tags:");
        fm.AddRange(tags.Distinct().Select(t => $"- {Yaml(t)}"));
        if (datasets.Count > 0)
        {
            fm.Add("datasets:");
            fm.AddRange(datasets.Select(d => $"- {Yaml(d)}"));
        }
        if (evals.Count > 0)
        {
            fm.Add("model-index:");
            fm.Add($"- name: {Yaml(name)}");
            fm.Add("  results:");
            foreach (var e in evals)
            {
                fm.Add("  - task:");
                fm.Add("      type: text-generation");
                fm.Add("      name: Rust code generation");
                fm.Add("    dataset:");
                fm.Add($"      name: {Yaml(e.EvalSet)}");
                fm.Add($"      type: {Yaml(e.EvalSet)}");
                fm.Add("    metrics:");
                foreach (var (k, v) in e.PassAtK)
                    if (v is { } value) fm.Add($"    - {{type: pass@{k}, name: pass@{k}, value: {value.ToString("0.####", inv)}}}");
                if (e.CompileRate is { } cr) fm.Add($"    - {{type: compile_rate, name: compile rate, value: {cr.ToString("0.####", inv)}}}");
                if (e.ClippyCleanRate is { } cc) fm.Add($"    - {{type: clippy_clean_rate, name: clippy-clean rate, value: {cc.ToString("0.####", inv)}}}");
                fm.Add("    source:");
                fm.Add($"      name: {Yaml($"smelt eval, sandbox {e.Sandbox}{(e.Rustc is null ? "" : ", " + e.Rustc)}")}");
            }
        }
        fm.Add("---");

        var body = new List<string> { "", $"# {name}", "" };
        body.Add(isAdapter
            ? $"A LoRA{(quant == "nf4" ? " (QLoRA, NF4 base)" : "")} adapter for Rust code generation, trained with Smelt."
            : "A causal language model for Rust code generation, produced with Smelt.");
        body.Add("");
        if (baseModel is not null)
            body.Add(LooksLikeHubId(baseModel) ? $"- Base model: [{baseModel}](https://huggingface.co/{baseModel})" : $"- Base model: `{Path.GetFileName(baseModel.TrimEnd('/'))}` (a local model, not on the hub)");
        if (report.Architecture is not null) body.Add($"- Architecture: {report.Architecture}, {report.ModelParameters:N0} parameters, {report.TorchDtype}");
        if (report.Adapter is { } a)
        {
            body.Add($"- Adapter: r={a.R}, alpha={a.Alpha.ToString(inv)}, dropout={a.Dropout.ToString(inv)}{(a.UseRslora ? ", rsLoRA" : "")}, {a.Parameters:N0} parameters");
            body.Add($"- Target modules: {string.Join(", ", a.TargetModules)}");
        }
        if (config is not null)
        {
            body.Add("");
            body.Add("## Training details");
            body.Add("");
            body.Add("| setting | value |");
            body.Add("|---|---|");
            foreach (var key in new[] { "train.max_steps", "train.batch_size", "train.grad_accum", "train.lr", "train.schedule", "train.warmup_steps", "train.weight_decay",
                                        "train.precision", "train.seed", "data.max_seq_len", "data.template", "data.pack", "quantization.method", "model.dtype" })
                if (Get(config, key) is { } v) body.Add($"| {key} | {Cell(v)} |");
            if (datasets.Count > 0) body.Add($"| data sources | {Cell(string.Join(", ", datasets))} |");
        }
        if (report.LossHistory.Count > 0)
        {
            var first = report.LossHistory[0];
            var last = report.LossHistory[^1];
            body.Add("");
            body.Add($"Trained for {last.Step} optimizer steps; training loss {first.Loss.ToString("0.0000", inv)} at step {first.Step} → {last.Loss.ToString("0.0000", inv)} at step {last.Step} " +
                     $"(lowest {report.LossHistory.Min(p => p.Loss).ToString("0.0000", inv)}).");
            var vals = report.LossHistory.Where(p => p.ValLoss is not null).ToList();
            if (vals.Count > 0) body.Add($"Validation loss at step {vals[^1].Step}: {vals[^1].ValLoss!.Value.ToString("0.0000", inv)}.");
        }
        if (lossImage is not null)
        {
            body.Add("");
            body.Add($"![training loss curve]({lossImage})");
        }
        if (evals.Count > 0)
        {
            body.Add("");
            body.Add("## Evaluation");
            body.Add("");
            body.Add("Measured with `smelt eval`: every sample compiled with clippy and its tests run inside the sandbox named below.");
            body.Add("");
            var ks = evals.SelectMany(e => e.PassAtK.Keys).Distinct().Order().ToList();
            body.Add("| eval set | tasks | samples | " + string.Join(" | ", ks.Select(k => $"pass@{k}")) + " | compile rate | clippy-clean rate | sandbox |");
            body.Add("|---|---|---|" + string.Concat(ks.Select(_ => "---|")) + "---|---|---|");
            foreach (var e in evals)
                body.Add($"| {Cell(e.EvalSet)} | {e.Tasks} | {e.Samples} | " + string.Join(" | ", ks.Select(k => e.PassAtK.TryGetValue(k, out var v) && v is { } d ? d.ToString("0.0000", inv) : "n/a")) +
                         $" | {Pct(e.CompileRate)} | {Pct(e.ClippyCleanRate)} | {Cell(e.Sandbox + (e.Rustc is null ? "" : ", " + e.Rustc))} |");
        }
        body.Add("");
        body.Add("## Usage");
        body.Add("");
        body.Add("```sh");
        body.Add(isAdapter ? "smelt generate --model BASE_MODEL_DIR --adapter THIS_DIR --prompt 'fn fib(n: u64) -> u64 {'" : "smelt generate --model THIS_DIR --prompt 'fn fib(n: u64) -> u64 {'");
        body.Add("```");
        if (isAdapter)
        {
            body.Add("");
            body.Add("With the Python stack: `PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), this_dir)`; `smelt export --adapter` writes a merged model instead.");
        }
        body.Add("");
        body.Add("## Limitations");
        body.Add("");
        body.Add("Generated code can be wrong or unsafe; compile and test it (for example with `smelt eval`) before use. The metrics above hold only for the evaluation sets named.");

        var sb = new StringBuilder();
        foreach (var line in fm.Concat(body)) sb.Append(Redactor.Redact(Scrub(line))).Append('\n');
        return sb.ToString();
    }

    /// <summary>Replaces absolute local paths (and ~/ paths) with their last component.</summary>
    public static string Scrub(string line) =>
        AbsolutePath().Replace(line, m => Path.GetFileName(m.Value.TrimEnd('/')) is { Length: > 0 } leaf ? leaf : "(local path)");

    private static string Pct(double? v) => v is { } d ? (d * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "n/a";
    private static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ");

    private static string Yaml(string s) =>
        s.Length > 0 && s.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or '@') && !char.IsAsciiDigit(s[0]) ? s
            : "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")]
    private static partial Regex HubId();

    [GeneratedRegex(@"(?<![A-Za-z0-9_.:/~-])(?:~(?:/[^\s'""`,;:)\]}|/]+)+|(?:/[^\s'""`,;:)\]}|/]+){2,})/?")]
    private static partial Regex AbsolutePath();
}
