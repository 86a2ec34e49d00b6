using System.Diagnostics;
using System.Globalization;
using System.Text;
using Smelt.Core;
using Smelt.Data;
using Smelt.Data.Secrets;

// Data pipeline and secrets scanner throughput on a generated corpus, beside the machine's raw read speed, plus the
// scanner's precision and recall on the labelled corpus. Usage: run.sh [RECORDS] (default 10000).
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var repo = SmeltPaths.RepoRoot ?? Directory.GetCurrentDirectory();
if (args is ["scanner"])
{
    PrintScannerScore(repo);
    return;
}
var records = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10000;
var work = Directory.CreateTempSubdirectory("smelt-data-bench-").FullName;
try
{
    var corpus = Path.Combine(work, "corpus.jsonl");
    var bytes = CorpusGenerator.Write(corpus, records, seed: 42);
    var mb = bytes / 1e6;
    Console.WriteLine($"machine: {Environment.ProcessorCount} logical cores, {Environment.OSVersion}, .NET {Environment.Version}; benchmark is single-threaded");
    Console.WriteLine($"corpus: {records} generated JSONL records, {mb:F1} MB ({work})");
    Console.WriteLine();

    // Warm the page cache, then measure the raw read.
    ReadRaw(corpus);
    var raw = Best(3, () => ReadRaw(corpus));
    var rawMbs = mb / raw;
    Row("raw read (FileStream, no processing)", raw, records, mb, rawMbs);
    var parse = Best(3, () => Jsonl.Read(corpus).Count());
    Row("JSONL parse (Smelt.Core.Jsonl)", parse, records, mb, rawMbs);

    var texts = Jsonl.Read(corpus).Select(l => l.Value!.Value.GetProperty("text").GetString()!).ToList();
    var scanner = new SecretScanner();
    var findings = 0;
    var scan = Best(2, () => { findings = texts.Sum(t => scanner.Scan(t).Count); });
    Row("secrets scanner alone (texts in memory)", scan, records, mb, rawMbs);

    var source = new SourceOptions { Path = corpus };
    var evalFile = Path.Combine(repo, "..", "shared", "data", "humaneval-rust", "humaneval_x_rust.jsonl");
    var haveEval = File.Exists(evalFile);
    (string Name, DataOptions Options)[] configs =
    [
        ("pipeline: paths + length only", new DataOptions { Sources = [source], TestCode = TestCodeMode.Keep, Secrets = null, Dedup = null }),
        ("pipeline: + test-code lexer", new DataOptions { Sources = [source], Secrets = null, Dedup = null }),
        ("pipeline: + secrets", new DataOptions { Sources = [source], Dedup = null }),
        ("pipeline: + exact/near dedup (defaults)", new DataOptions { Sources = [source] }),
        ("pipeline: + quality heuristics", new DataOptions { Sources = [source], Quality = new QualityOptions() }),
    ];
    if (haveEval)
        configs = [.. configs, ("pipeline: + decontamination (HumanEval-X)", new DataOptions { Sources = [source], Quality = new QualityOptions(), Decontamination = new DecontaminationOptions { EvalFiles = [evalFile] } })];
    FilterReport? last = null;
    foreach (var (name, options) in configs)
    {
        var pipeline = new DataPipeline(options);
        var t = Best(1, () => { pipeline.Records().Count(); });
        last = pipeline.LastReport;
        Row(name, t, records, mb, rawMbs);
    }
    if (!haveEval) Console.WriteLine($"  (decontamination row skipped: {evalFile} not found)");
    Console.WriteLine();
    Console.WriteLine("filter report of the last configuration:");
    Console.Write(last!.ToTable());
    Console.WriteLine($"scanner findings in the generated corpus: {findings} (planted: {CorpusGenerator.PlantedSecrets(records)})");
    Console.WriteLine();

    PrintScannerScore(repo);
}
finally
{
    Directory.Delete(work, recursive: true);
}

static void PrintScannerScore(string repo)
{
    var labelled = Path.Combine(repo, "tests", "data", "secrets", "corpus.jsonl.gz");
    var data = ScannerEvaluation.LoadCorpus(labelled);
    var score = ScannerEvaluation.Evaluate(data, new SecretScanner());
    Console.WriteLine($"scanner on the labelled corpus ({data.Sum(d => d.Expected.Count)} planted secrets, {data.Count(d => d.Expected.Count == 0)} look-alike records):");
    Console.WriteLine($"  precision {score.Precision:F3}  recall {score.Recall:F3}  (tp {score.TruePositives}, fp {score.FalsePositives}, fn {score.FalseNegatives})");
    foreach (var k in score.ByKind) Console.WriteLine($"  {k.Kind,-24} tp {k.TruePositives,3}  fp {k.FalsePositives,3}  fn {k.FalseNegatives,3}");
    foreach (var m in score.Mistakes) Console.WriteLine($"  {m}");
}

static double Best(int runs, Action action)
{
    var best = double.MaxValue;
    for (var i = 0; i < runs; i++)
    {
        var sw = Stopwatch.StartNew();
        action();
        best = Math.Min(best, sw.Elapsed.TotalSeconds);
    }
    return best;
}

static void ReadRaw(string path)
{
    var buffer = new byte[1 << 20];
    using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    while (fs.Read(buffer, 0, buffer.Length) > 0) { }
}

static void Row(string name, double seconds, int records, double mb, double rawMbs)
{
    var mbs = mb / seconds;
    Console.WriteLine($"{name,-46} {seconds,8:F3} s  {records / seconds,10:F0} rec/s  {mbs,8:F1} MB/s  {mbs / rawMbs,7:P1} of raw read");
}

/// <summary>Deterministic synthetic Rust corpus: functions, impls, doc comments, test modules, some duplicates, some planted fake secrets.</summary>
internal static class CorpusGenerator
{
    public static int PlantedSecrets(int records) => Enumerable.Range(0, records).Count(i => i % 50 == 7);

    public static long Write(string path, int records, int seed)
    {
        using (var w = new StreamWriter(path, false, new UTF8Encoding(false)))
        {
            for (var i = 0; i < records; i++)
            {
                // Every 20th record repeats its predecessor exactly, every 20th (offset 10) nearly (one line changed).
                var text = i % 20 == 19 ? Record(new Random(seed * 100003 + i - 1), i - 1)
                    : i % 20 == 11 ? NearCopy(Record(new Random(seed * 100003 + i - 1), i - 1))
                    : Record(new Random(seed * 100003 + i), i);
                var pathValue = (i % 40) switch { 3 => $"vendor/dep{i}/src/lib.rs", 5 => $"tests/it_{i}.rs", 9 => $"examples/ex{i}.rs", _ => $"src/mod_{i}.rs" };
                w.Write(System.Text.Json.JsonSerializer.Serialize(new { text, path = pathValue }));
                w.Write('\n');
            }
        }
        return new FileInfo(path).Length;
    }

    private static string NearCopy(string text)
    {
        var at = text.IndexOf("    let ", StringComparison.Ordinal);
        return at < 0 ? text : text.Insert(at, "    let extra_line = 1;\n");
    }

    private static string Record(Random rng, int i)
    {
        var sb = new StringBuilder();
        sb.Append("//! Module ").Append(i).Append(": generated for the benchmark.\n\nuse std::collections::HashMap;\n\n");
        var fns = rng.Next(3, 9);
        for (var f = 0; f < fns; f++)
        {
            var name = Ident(rng);
            if (rng.Next(3) > 0) sb.Append("/// Computes ").Append(name).Append(" over the input.\n");
            sb.Append("pub fn ").Append(name).Append("(input: &[u64], scale: u64) -> Option<u64> {\n");
            var lines = rng.Next(3, 12);
            for (var l = 0; l < lines; l++)
                sb.Append("    let ").Append(Ident(rng)).Append(" = input.get(").Append(rng.Next(16)).Append(")?.wrapping_mul(scale).rotate_left(").Append(rng.Next(64)).Append(");\n");
            sb.Append("    let s = \"").Append(Ident(rng)).Append(" 'quoted' }\";\n");
            sb.Append("    Some(input.iter().sum::<u64>() ^ 0x").Append(rng.NextInt64().ToString("x", CultureInfo.InvariantCulture)).Append(")\n}\n\n");
        }
        if (i % 50 == 7) sb.Append("const TOKEN: &str = \"ghp_FAKE").Append(Alnum(rng, 32)).Append("\";\n");
        if (i % 3 == 0)
            sb.Append("#[cfg(test)]\nmod tests {\n    use super::*;\n    #[test]\n    fn works() {\n        assert_eq!(1 + 1, 2);\n    }\n}\n");
        return sb.ToString();
    }

    private static string Ident(Random rng)
    {
        string[] parts = ["count", "sum", "index", "buffer", "value", "node", "edge", "weight", "total", "score", "delta", "cache", "state", "token_kind"];
        return $"{parts[rng.Next(parts.Length)]}_{parts[rng.Next(parts.Length)]}_{rng.Next(1000)}";
    }

    private static string Alnum(Random rng, int n)
    {
        const string a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        return new string(Enumerable.Range(0, n).Select(_ => a[rng.Next(a.Length)]).ToArray());
    }
}
