using Smelt.Core;
using Smelt.Data;
using Smelt.Training.Config;

namespace Smelt.Training.Data;

/// <summary>
/// The trainer's data: one Smelt.Data <see cref="DataPipeline"/> per phase (sources, mixing, Rust filters, dedup,
/// decontamination, secrets, task-type sampling), split into train and validation by a seeded hash of each record's id,
/// mapped to <see cref="Example"/>s. Everything streams; pipelines are built (and so validated) up front.
/// </summary>
public sealed class PipelineData : IPhaseData
{
    private readonly Dictionary<string, DataPipeline> _pipelines = [];
    private readonly int _seed;

    /// <param name="hub">The config's <c>hub:</c> sources as resolved by <see cref="HubDatasets.Resolve"/>; when null they are
    /// resolved here with the environment's hub settings.</param>
    public PipelineData(TrainConfig cfg, IReadOnlyDictionary<SourceSection, HubDataset>? hub = null)
    {
        _seed = cfg.Train.Seed;
        if (hub is null && HubDatasets.Any(cfg)) hub = HubDatasets.Resolve(cfg, null, new SilentProgress());
        foreach (var phase in cfg.EffectivePhases())
            _pipelines[phase.Name] = new DataPipeline(ToOptions(phase.Data, phase.Train.Seed, hub));
    }

    public DataPipeline Pipeline(PhaseSection phase) => _pipelines[phase.Name];

    public static DataOptions ToOptions(DataSection d, int seed, IReadOnlyDictionary<SourceSection, HubDataset>? hub = null)
    {
        var f = d.Filters;
        return new DataOptions
        {
            Sources = d.Sources.Select(s => ToSource(s, hub)).ToList(),
            Mix = d.Mix switch { "round_robin" => MixMode.RoundRobin, "weighted" => MixMode.Weighted, _ => MixMode.Sequential },
            Seed = seed,
            TaskWeights = d.TaskWeights.Count > 0 ? d.TaskWeights : null,
            Paths = new PathFilterOptions
            {
                VendoredDirs = f.ExcludeVendored ? new PathFilterOptions().VendoredDirs : [],
                DropTestFiles = f.ExcludeTestFiles,
                DropExamples = f.ExcludeExamples,
                DropBenches = f.ExcludeBenches,
                DropGenerated = f.ExcludeGenerated,
            },
            TestCode = f.TestCode switch { "drop" => TestCodeMode.Drop, "keep" => TestCodeMode.Keep, _ => TestCodeMode.Strip },
            Length = new LengthOptions { MinChars = f.MinChars, MaxChars = f.MaxChars },
            Quality = f.PreferDocumented || f.PreferIdiomatic
                ? new QualityOptions
                {
                    MinDocRatio = f.PreferDocumented ? new QualityOptions().MinDocRatio : null,
                    MaxUnwrapPer100Lines = f.PreferIdiomatic ? new QualityOptions().MaxUnwrapPer100Lines : null,
                    MaxUnsafe = f.PreferIdiomatic ? new QualityOptions().MaxUnsafe : null,
                    MaxLongLineFraction = f.PreferIdiomatic ? new QualityOptions().MaxLongLineFraction : null,
                }
                : null,
            Secrets = f.ScanSecrets ? new Smelt.Data.Secrets.ScannerOptions() : null,
            Dedup = f.DedupExact || f.DedupNear ? new DedupOptions { Exact = f.DedupExact, Near = f.DedupNear, NearThreshold = f.NearDupThreshold, Seed = seed } : null,
            Decontamination = f.Decontaminate.Count > 0 ? new DecontaminationOptions { EvalFiles = f.Decontaminate, NGram = f.DecontaminationNgram } : null,
        };
    }

    private static SourceOptions ToSource(SourceSection s, IReadOnlyDictionary<SourceSection, HubDataset>? hub)
    {
        if (s.Hub.Length == 0)
            return new SourceOptions
            {
                Path = s.Path,
                Type = s.Type,
                Name = s.Name.Length > 0 ? s.Name : null,
                Weight = s.Weight,
                Include = s.Include.Count > 0 ? s.Include : null,
            };
        if (hub is null || !hub.TryGetValue(s, out var dataset))
            throw new InvalidOperationException($"{s.Origin}: hub source {s.Hub} was not resolved (HubDatasets.Resolve)");
        // The snapshot's files, read in order as one source: name, weight, mixing and task weights work as for local files.
        return new SourceOptions { Path = dataset.SnapshotDirectory, Name = s.Name, Weight = s.Weight, Files = dataset.Files };
    }

    /// <summary>Whether a record belongs to the held-out split: a seeded hash of its id (stable across epochs and resumes).</summary>
    public static bool IsValidation(string id, double fraction, int seed)
    {
        if (fraction <= 0) return false;
        var digest = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes($"{seed}:{id}"));
        var h = BitConverter.ToUInt64(digest, 0);
        return (h >> 11) * (1.0 / (1UL << 53)) < fraction;
    }

    public IEnumerable<Example> Train(PhaseSection phase, int epoch) =>
        Limit(_pipelines[phase.Name].Records(epoch).Where(r => !IsValidation(r.Id, phase.Data.ValidationFraction, _seed)), phase.Data.MaxRecords).Select(ToExample);

    public IEnumerable<Example> Validation(PhaseSection phase) =>
        phase.Data.ValidationFraction <= 0 ? [] :
        _pipelines[phase.Name].Records(0).Where(r => r.Copy == 0 && IsValidation(r.Id, phase.Data.ValidationFraction, _seed)).Select(ToExample);

    private static IEnumerable<TrainingRecord> Limit(IEnumerable<TrainingRecord> records, long max) => max > 0 ? records.Take((int)Math.Min(max, int.MaxValue)) : records;

    public static Example ToExample(TrainingRecord r) => r.Kind switch
    {
        RecordKind.Raw => new Example(r.Id, ExampleKind.Raw, Text: r.Text ?? ""),
        RecordKind.Instruction => new Example(r.Id, ExampleKind.Instruction, Prompt: r.Prompt ?? "", Response: r.Response ?? ""),
        _ => new Example(r.Id, ExampleKind.Chat, Messages: (r.Messages ?? []).Select(m => (m.Role, m.Content)).ToList()),
    };

    /// <summary>Runs one pass of every phase's pipeline, prints and saves the filter report (counts by reason), and fails when a phase is empty.</summary>
    public IReadOnlyList<(string Phase, FilterReport Report)> Analyse(IEnumerable<PhaseSection> phases, string outDir, ITrainProgress progress)
    {
        var reports = new List<(string, FilterReport)>();
        foreach (var phase in phases)
        {
            FilterReport report;
            try { report = _pipelines[phase.Name].Analyse(); }
            catch (SmeltException ex) { throw SmeltException.BadInput($"phase {phase.Name}: {ex.Message}"); }
            progress.Message($"data for phase {phase.Name}:\n{report.ToTable()}");
            report.Save(Path.Combine(outDir, $"filter_report.{phase.Name}.json"));
            reports.Add((phase.Name, report));
        }
        return reports;
    }
}
