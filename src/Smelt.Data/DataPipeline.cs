using System.Text.Json;
using System.Text.Json.Serialization;
using Smelt.Core;
using Smelt.Data.Filters;
using Smelt.Data.Rust;
using Smelt.Data.Secrets;

namespace Smelt.Data;

/// <summary>
/// Where a pass over the data stands, small enough to store in a checkpoint. Resuming replays the deterministic stream
/// up to <see cref="Emitted"/> without yielding (deduplication state is rebuilt exactly that way) and checks
/// <see cref="PrefixHash"/>, so a resumed run sees exactly the records an uninterrupted run would have seen, or fails
/// loudly when the data or the options changed.
/// </summary>
public sealed record DataPosition(int Epoch, long Emitted, ulong PrefixHash, string Fingerprint)
{
    public static DataPosition StartOf(int epoch, string fingerprint) => new(epoch, 0, 0, fingerprint);

    public string ToJson() => JsonSerializer.Serialize(this);

    public static DataPosition FromJson(string json) =>
        JsonSerializer.Deserialize<DataPosition>(json) ?? throw SmeltException.BadInput("data position: empty JSON");
}

public readonly record struct PositionedRecord(TrainingRecord Record, DataPosition Next);

/// <summary>
/// Sources → mixing → filters → task-type sampling, as one lazy stream. Build it from <see cref="DataOptions"/>; every
/// option is checked (and evaluation files for decontamination loaded) in the constructor, before any compute is spent.
/// Each pass fills a fresh <see cref="FilterReport"/>, complete when the pass ends.
/// </summary>
public sealed class DataPipeline
{
    private readonly IReadOnlyList<IRecordSource> _sources;
    private readonly EvalNGramIndex? _evalIndex;
    private readonly SecretScanner? _scanner;

    public DataOptions Options { get; }
    /// <summary>Identifies the options and sources; a position from other options is refused.</summary>
    public string Fingerprint { get; }
    /// <summary>The report of the most recent pass (complete once that pass has been enumerated to the end).</summary>
    public FilterReport? LastReport { get; private set; }

    /// <param name="extraSources">Sources built elsewhere (the hook for hub datasets), appended after <see cref="DataOptions.Sources"/>.</param>
    public DataPipeline(DataOptions options, IReadOnlyList<IRecordSource>? extraSources = null)
    {
        Options = options;
        Validate(options);
        var sources = options.Sources.Select(CreateSource).ToList();
        if (extraSources is not null) sources.AddRange(extraSources);
        if (sources.Count == 0) throw SmeltException.BadInput("data: no sources configured (add at least one entry under data.sources)");
        var names = sources.GroupBy(s => s.Name).FirstOrDefault(g => g.Count() > 1);
        if (names is not null) throw SmeltException.BadInput($"data: two sources are named '{names.Key}'; give them distinct names");
        foreach (var s in sources)
            if (!(s.Weight > 0) || double.IsInfinity(s.Weight)) throw SmeltException.BadInput($"data source '{s.Name}': weight must be a positive number, got {s.Weight}");
        _sources = sources;
        if (options.Secrets is not null) _scanner = new SecretScanner(options.Secrets);
        if (options.Decontamination is { } d)
        {
            var problems = d.EvalFiles.SelectMany(EvalNGramIndex.LoadProblems).ToList();
            _evalIndex = new EvalNGramIndex(problems, d.NGram, d.MaxProblemsPerNGram);
        }
        Fingerprint = ComputeFingerprint(options, sources);
    }

    public IReadOnlyList<IRecordSource> Sources => _sources;

    /// <summary>All cleaned records of one pass (epoch), in a deterministic order.</summary>
    public IEnumerable<TrainingRecord> Records(int epoch = 0) => Read(DataPosition.StartOf(epoch, Fingerprint)).Select(p => p.Record);

    /// <summary>Runs a whole pass without keeping anything and returns its report (the table to show before training).</summary>
    public FilterReport Analyse(int epoch = 0)
    {
        foreach (var _ in Read(DataPosition.StartOf(epoch, Fingerprint))) { }
        return LastReport!;
    }

    /// <summary>
    /// Records with the position after each one. Pass a saved position to continue exactly where a run stopped; at the
    /// end of a pass, continue with <c>DataPosition.StartOf(epoch + 1, Fingerprint)</c>.
    /// </summary>
    public IEnumerable<PositionedRecord> Read(DataPosition? from = null)
    {
        from ??= DataPosition.StartOf(0, Fingerprint);
        if (from.Fingerprint != Fingerprint)
            throw SmeltException.BadInput("data position: it was saved with different data options or sources; resume with the same data configuration, or start a new run");
        if (from.Epoch < 0 || from.Emitted < 0) throw SmeltException.BadInput($"data position: epoch {from.Epoch} and emitted {from.Emitted} must not be negative");
        return ReadCore(from);
    }

    private IEnumerable<PositionedRecord> ReadCore(DataPosition from)
    {
        var report = new FilterReport();
        LastReport = report;
        long emitted = 0;
        ulong prefix = 0;
        var stream = Filtered(from.Epoch, report);
        if (Options.ShuffleBuffer > 1) stream = Shuffle(stream, Options.ShuffleBuffer, from.Epoch);
        foreach (var r in stream)
        {
            prefix = Hash.Combine(prefix, Hash.Combine(Hash.Chars(r.Id), ((ulong)r.Copy << 32) ^ (ulong)r.CodeText.Length));
            emitted++;
            report.Emitted = emitted;
            if (emitted < from.Emitted) continue;
            if (emitted == from.Emitted)
            {
                if (prefix != from.PrefixHash)
                    throw SmeltException.BadInput($"data position: the data changed since the checkpoint (the first {from.Emitted} records of epoch {from.Epoch} are not the ones the run was trained on); restore the original data or start a new run");
                continue;
            }
            yield return new PositionedRecord(r, new DataPosition(from.Epoch, emitted, prefix, Fingerprint));
        }
        if (emitted < from.Emitted)
            throw SmeltException.BadInput($"data position: the checkpoint is at record {from.Emitted} of epoch {from.Epoch}, but the data now has only {emitted}; restore the original data or start a new run");
        if (emitted == 0) throw EmptyError(report);
    }

    /// <summary>Sources → mixing → stages → task-type copies, filling <paramref name="report"/>.</summary>
    private IEnumerable<TrainingRecord> Filtered(int epoch, FilterReport report)
    {
        foreach (var s in _sources) report.Sources.Add(new SourceReport { Name = s.Name });
        var stages = CreateStages();
        foreach (var st in stages) report.Stages.Add(new StageReport { Stage = st.Name });
        foreach (var (src, item) in Mix(epoch))
        {
            var sourceReport = report.Sources[src];
            if (item.Record is null)
            {
                sourceReport.Malformed++;
                if (sourceReport.Problems.Count < FilterReport.MaxProblemsKept) sourceReport.Problems.Add(item.Problem ?? "unknown problem");
                continue;
            }
            sourceReport.Read++;
            var record = item.Record;
            for (var i = 0; i < stages.Count && record is not null; i++)
            {
                report.Stages[i].In++;
                var outcome = stages[i].Apply(record, report);
                if (outcome.Record is null) { report.Drop(outcome.DropReason!); record = null; }
                else { report.Stages[i].Out++; record = outcome.Record; }
            }
            if (record is null) continue;
            report.Kept++;
            var copies = Copies(record, epoch, report);
            for (var c = 0; c < copies; c++)
                yield return c == 0 ? record : record with { Copy = c };
        }
    }

    /// <summary>
    /// A seeded streaming shuffle: records enter a buffer of <paramref name="size"/>; once it is full, each new record
    /// pushes out a uniformly drawn one. Draws depend on (seed, epoch, counter) only, so replaying a pass reproduces it.
    /// </summary>
    private IEnumerable<TrainingRecord> Shuffle(IEnumerable<TrainingRecord> input, int size, int epoch)
    {
        var buffer = new List<TrainingRecord>(size);
        long draw = 0;
        TrainingRecord TakeRandom()
        {
            var k = (int)(Hash.Unit(Options.Seed, epoch, 0x5EED, (ulong)draw++) * buffer.Count);
            var r = buffer[k];
            buffer[k] = buffer[^1];
            buffer.RemoveAt(buffer.Count - 1);
            return r;
        }
        foreach (var r in input)
        {
            buffer.Add(r);
            if (buffer.Count >= size) yield return TakeRandom();
        }
        while (buffer.Count > 0) yield return TakeRandom();
    }

    private int Copies(TrainingRecord record, int epoch, FilterReport report)
    {
        var weight = Options.DefaultTaskWeight;
        if (record.TaskType is not null && Options.TaskWeights is not null && Options.TaskWeights.TryGetValue(record.TaskType, out var w)) weight = w;
        if (weight == 1) return 1;
        var whole = (int)Math.Floor(weight);
        var frac = weight - whole;
        var copies = whole + (frac > 0 && Hash.Unit(Options.Seed, epoch, 0x7A5C, Hash.Chars(record.Id)) < frac ? 1 : 0);
        if (copies == 0) report.Drop("task_weight:sampled_out");
        if (copies > 1) report.Modify("task_weight:extra_copies", copies - 1);
        return copies;
    }

    private IEnumerable<(int Source, SourceItem Item)> Mix(int epoch)
    {
        var enumerators = _sources.Select(s => s.Read().GetEnumerator()).ToArray();
        try
        {
            if (Options.Mix == MixMode.Sequential)
            {
                for (var i = 0; i < enumerators.Length; i++)
                    while (enumerators[i].MoveNext()) yield return (i, enumerators[i].Current);
                yield break;
            }
            var active = Enumerable.Range(0, enumerators.Length).ToList();
            long step = 0;
            var turn = 0;
            while (active.Count > 0)
            {
                int pick;
                if (Options.Mix == MixMode.RoundRobin) pick = turn % active.Count;
                else
                {
                    var total = active.Sum(i => _sources[i].Weight);
                    var u = Hash.Unit(Options.Seed, epoch, step++) * total;
                    pick = active.Count - 1;
                    for (var k = 0; k < active.Count; k++)
                    {
                        u -= _sources[active[k]].Weight;
                        if (u < 0) { pick = k; break; }
                    }
                }
                var src = active[pick];
                if (enumerators[src].MoveNext())
                {
                    yield return (src, enumerators[src].Current);
                    turn = pick + 1;
                }
                else
                {
                    active.RemoveAt(pick);
                    turn = pick;
                }
            }
        }
        finally
        {
            foreach (var e in enumerators) e.Dispose();
        }
    }

    private List<IRecordStage> CreateStages()
    {
        var stages = new List<IRecordStage>();
        if (Options.Paths is { } paths) { stages.Add(new PathStage(paths)); if (paths.DropGenerated) stages.Add(new GeneratedMarkerStage()); }
        if (Options.TestCode != TestCodeMode.Keep) stages.Add(new TestCodeStage(Options.TestCode));
        if (Options.Length is { } length) stages.Add(new LengthStage(length));
        if (Options.Quality is { } quality) stages.Add(new QualityStage(quality));
        if (_scanner is not null) stages.Add(new SecretsStage(_scanner));
        if (_evalIndex is not null) stages.Add(new DecontaminationStage(_evalIndex, Options.Decontamination!));
        if (Options.Dedup is { } dedup)
        {
            if (dedup.Exact) stages.Add(new ExactDedupStage());
            if (dedup.Near) stages.Add(new NearDedupStage(dedup));
        }
        return stages;
    }

    private static SmeltException EmptyError(FilterReport report)
    {
        if (report.TotalRead == 0)
            return SmeltException.BadInput(report.TotalMalformed > 0
                ? $"data: every input was malformed ({report.TotalMalformed} skipped); first problem: {report.Sources.SelectMany(s => s.Problems).FirstOrDefault()}"
                : "data: the sources contain no records");
        var culprit = report.Stages.FirstOrDefault(s => s.In > 0 && s.Out == 0);
        string Reasons(string stagePrefix) => string.Join(", ", report.Dropped.Where(d => StagePrefix(d.Key) == stagePrefix).Select(d => $"{d.Key} {d.Value}"));
        if (culprit is not null)
            return SmeltException.BadInput(
                $"data: no records left after filtering: the '{culprit.Stage}' filter removed all {culprit.In} records that reached it ({Reasons(StagePrefixOf(culprit.Stage))}); " +
                $"{report.TotalRead} records were read in all; loosen or disable that filter");
        return SmeltException.BadInput($"data: no records left after task-type sampling ({report.Kept} passed the filters, all sampled out by data.task_weights); raise those weights");
    }

    private static string StagePrefix(string reason) => reason.Split(':')[0];

    private static string StagePrefixOf(string stage) => stage switch
    {
        "paths" => "path",
        "dedup_exact" or "dedup_near" => "dedup",
        _ => stage,
    };

    /// <summary>The source for one configured path (a folder of sources, JSONL or Parquet; <c>auto</c> tells them apart).</summary>
    public static IRecordSource CreateSource(SourceOptions s)
    {
        if (string.IsNullOrWhiteSpace(s.Path)) throw SmeltException.BadInput("data source: 'path' is empty");
        if (s.Files is not null)
        {
            if (!Directory.Exists(s.Path)) throw SmeltException.BadInput($"data source '{s.Name ?? s.Path}': directory {s.Path} not found");
            return new FileListSource(s.Path, s.Files, s.Name ?? new DirectoryInfo(s.Path).Name, s.Weight);
        }
        var type = s.Type;
        if (type == "auto")
        {
            if (Directory.Exists(s.Path)) type = "dir";
            else if (DataFiles.FormatOf(s.Path) is { } format) type = format;
            else if (!File.Exists(s.Path)) throw SmeltException.BadInput($"data source '{s.Path}': no such file or directory" +
                (Path.IsPathRooted(s.Path) ? "" : $" (relative paths resolve against the current directory, {Environment.CurrentDirectory})"));
            else throw SmeltException.BadInput($"data source '{s.Path}': cannot tell its format; set type to dir, jsonl or parquet");
        }
        switch (type)
        {
            case "dir":
                if (!Directory.Exists(s.Path)) throw SmeltException.BadInput($"data source '{s.Path}': directory not found");
                return new DirectorySource(s.Path, s.Include, s.Name, s.Weight, s.MaxFileBytes);
            case "jsonl":
                if (!File.Exists(s.Path)) throw SmeltException.BadInput($"data source '{s.Path}': file not found");
                return new JsonlSource(s.Path, s.Name, s.Weight);
            case "parquet":
                if (!File.Exists(s.Path)) throw SmeltException.BadInput($"data source '{s.Path}': file not found");
                return new ParquetSource(s.Path, s.Name, s.Weight);
            case "hub":
                throw SmeltException.BadInput($"data source '{s.Path}': hub datasets are fetched by the hub client first; list the downloaded files in SourceOptions.Files (smelt train does this for `hub:` sources)");
            default:
                throw SmeltException.BadInput($"data source '{s.Path}': unknown type '{type}' (use auto, dir, jsonl or parquet)");
        }
    }

    private static void Validate(DataOptions o)
    {
        static SmeltException Bad(string key, string what) => SmeltException.BadInput($"data.{key}: {what}");
        if (o.TaskWeights is not null)
            foreach (var (k, w) in o.TaskWeights)
                if (!(w >= 0) || double.IsInfinity(w)) throw Bad($"task_weights.{k}", $"must be a number ≥ 0, got {w}");
        if (!(o.DefaultTaskWeight >= 0) || double.IsInfinity(o.DefaultTaskWeight)) throw Bad("default_task_weight", $"must be a number ≥ 0, got {o.DefaultTaskWeight}");
        if (o.ShuffleBuffer is < 0 or > 10_000_000) throw Bad("shuffle_buffer", $"must be from 0 to 10000000 records, got {o.ShuffleBuffer}");
        if (o.Length is { } l)
        {
            if (l.MinChars < 0 || l.MaxChars < l.MinChars) throw Bad("length", $"need 0 ≤ min_chars ≤ max_chars, got {l.MinChars} and {l.MaxChars}");
            if (l.MinLines < 0 || l.MaxLines < l.MinLines) throw Bad("length", $"need 0 ≤ min_lines ≤ max_lines, got {l.MinLines} and {l.MaxLines}");
        }
        if (o.Quality is { } q)
        {
            if (q.MinDocRatio is < 0 or > 1) throw Bad("quality.min_doc_ratio", $"must be between 0 and 1, got {q.MinDocRatio}");
            if (q.MaxLongLineFraction is < 0 or > 1) throw Bad("quality.max_long_line_fraction", $"must be between 0 and 1, got {q.MaxLongLineFraction}");
            if (q.MaxUnwrapPer100Lines is < 0) throw Bad("quality.max_unwrap_per_100_lines", "must not be negative");
            if (q.MaxUnsafe is < 0) throw Bad("quality.max_unsafe", "must not be negative");
            if (q.LongLineChars < 1) throw Bad("quality.long_line_chars", "must be positive");
        }
        if (o.Dedup is { } d)
        {
            if (d.NearThreshold is <= 0 or > 1) throw Bad("dedup.near_threshold", $"must be in (0, 1], got {d.NearThreshold}");
            if (d.ShingleTokens < 1 || d.ShingleTokens > 64) throw Bad("dedup.shingle_tokens", $"must be from 1 to 64, got {d.ShingleTokens}");
            if (d.Bands < 1 || d.RowsPerBand < 1 || d.Bands * d.RowsPerBand > 1024) throw Bad("dedup.bands", "bands and rows_per_band must be positive, at most 1024 permutations in all");
        }
        if (o.Decontamination is { } dc)
        {
            if (dc.EvalFiles.Count == 0) throw Bad("decontamination.eval_files", "list at least one evaluation JSONL file");
            foreach (var f in dc.EvalFiles) if (!File.Exists(f)) throw Bad("decontamination.eval_files", $"{f}: file not found");
            if (dc.NGram < 3 || dc.NGram > 200) throw Bad("decontamination.ngram", $"must be from 3 to 200, got {dc.NGram}");
            if (dc.MinOverlapFraction is <= 0 or > 1) throw Bad("decontamination.min_overlap_fraction", $"must be in (0, 1], got {dc.MinOverlapFraction}");
            if (dc.MinSharedNGrams < 1) throw Bad("decontamination.min_shared_ngrams", "must be at least 1");
            if (dc.MaxProblemsPerNGram < 1) throw Bad("decontamination.max_problems_per_ngram", "must be at least 1");
        }
        if (o.Secrets is { } s)
        {
            if (s.EntropyThreshold is <= 0 or > 8) throw Bad("secrets.entropy_threshold", $"must be in (0, 8], got {s.EntropyThreshold}");
            foreach (var c in s.Custom)
            {
                try { _ = new System.Text.RegularExpressions.Regex(c.Pattern); }
                catch (ArgumentException ex) { throw Bad($"secrets.custom.{c.Kind}", $"pattern is not a valid regular expression: {ex.Message}"); }
            }
        }
    }

    private static readonly JsonSerializerOptions FingerprintJson = new() { Converters = { new JsonStringEnumConverter() } };

    private static string ComputeFingerprint(DataOptions options, IReadOnlyList<IRecordSource> sources)
    {
        var json = JsonSerializer.Serialize(options, FingerprintJson) + "|" + string.Join("|", sources.Select(s => $"{s.GetType().Name}:{s.Name}:{s.Weight}"));
        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(json)))[..16];
    }
}
