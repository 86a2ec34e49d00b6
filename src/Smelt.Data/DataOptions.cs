using Smelt.Data.Secrets;

namespace Smelt.Data;

/// <summary>How several sources are combined into one stream.</summary>
public enum MixMode
{
    /// <summary>All of the first source, then all of the second, ...</summary>
    Sequential,
    /// <summary>One record from each source in turn; exhausted sources drop out.</summary>
    RoundRobin,
    /// <summary>Each next record comes from a source drawn with probability proportional to its weight (seeded); exhausted sources drop out.</summary>
    Weighted,
}

/// <summary>What to do with test-only code found by the lexer.</summary>
public enum TestCodeMode
{
    /// <summary>Leave it.</summary>
    Keep,
    /// <summary>Remove <c>#[cfg(test)]</c> items and <c>#[test]</c> functions, keep the rest of the file (default).</summary>
    Strip,
    /// <summary>Drop any record that contains test-only code.</summary>
    Drop,
}

/// <summary>
/// One data source. <see cref="Type"/> is <c>auto</c> (a directory, <c>.jsonl</c>/<c>.jsonl.gz</c> or <c>.parquet</c>, by what
/// the path is), <c>dir</c>, <c>jsonl</c> or <c>parquet</c>. With <see cref="Files"/> set, <see cref="Path"/> is a root folder
/// and those files under it are read in order as one source: that is how a downloaded Hugging Face dataset comes in
/// (the hub client fetches it; <c>smelt train</c> does this for <c>hub:</c> sources).
/// </summary>
public sealed record SourceOptions
{
    public required string Path { get; init; }
    public string Type { get; init; } = "auto";
    public string? Name { get; init; }
    public double Weight { get; init; } = 1;
    /// <summary>For directories: globs relative to the root; default <c>**/*.rs</c>.</summary>
    public IReadOnlyList<string>? Include { get; init; }
    /// <summary>For directories: larger files are skipped and reported.</summary>
    public long MaxFileBytes { get; init; } = 1 << 20;
    /// <summary>JSONL/Parquet files relative to <see cref="Path"/>, read one after another as this one source.</summary>
    public IReadOnlyList<string>? Files { get; init; }
}

public sealed record PathFilterOptions
{
    /// <summary>Path segments that mark vendored or generated trees.</summary>
    public IReadOnlyList<string> VendoredDirs { get; init; } = ["target", "vendor", "node_modules", "third_party", ".cargo"];
    public bool DropTestFiles { get; init; } = true;
    public bool DropExamples { get; init; } = true;
    public bool DropBenches { get; init; } = true;
    /// <summary>Drop files whose first lines carry a generated-code marker (<c>@generated</c>, <c>DO NOT EDIT</c>, <c>automatically generated</c>...).</summary>
    public bool DropGenerated { get; init; } = true;
}

public sealed record LengthOptions
{
    public int MinChars { get; init; } = 20;
    public int MaxChars { get; init; } = 100_000;
    public int MinLines { get; init; } = 1;
    public int MaxLines { get; init; } = 5_000;
}

/// <summary>
/// Optional preference for idiomatic, documented code. Each bound is a separate, counted reason; set one to null to turn it off.
/// </summary>
public sealed record QualityOptions
{
    /// <summary>At least this fraction of public items (<c>pub fn</c>, <c>pub struct</c>, ...) carry a doc comment. Judged only when the record has at least <see cref="MinPublicItemsForDocRatio"/> public items.</summary>
    public double? MinDocRatio { get; init; } = 0.5;
    public int MinPublicItemsForDocRatio { get; init; } = 2;
    /// <summary>At most this many <c>.unwrap()</c>/<c>.expect(..)</c> calls per 100 code lines.</summary>
    public double? MaxUnwrapPer100Lines { get; init; } = 5;
    /// <summary>At most this many <c>unsafe</c> blocks, functions or impls.</summary>
    public int? MaxUnsafe { get; init; } = 2;
    /// <summary>At most this fraction of lines longer than <see cref="LongLineChars"/> (minified or generated code).</summary>
    public double? MaxLongLineFraction { get; init; } = 0.05;
    public int LongLineChars { get; init; } = 120;
}

public sealed record DedupOptions
{
    public bool Exact { get; init; } = true;
    public bool Near { get; init; } = true;
    /// <summary>Estimated Jaccard similarity (of <see cref="ShingleTokens"/>-token shingles) at or above which a later record is a near duplicate.</summary>
    public double NearThreshold { get; init; } = 0.8;
    public int ShingleTokens { get; init; } = 5;
    /// <summary>MinHash permutations = <see cref="Bands"/> × <see cref="RowsPerBand"/>. 16 × 8 puts the LSH candidate threshold near 0.71.</summary>
    public int Bands { get; init; } = 16;
    public int RowsPerBand { get; init; } = 8;
    public long Seed { get; init; } = 1;
}

public sealed record DecontaminationOptions
{
    /// <summary>HumanEval-style JSONL files (<c>prompt</c>, <c>declaration</c>, <c>canonical_solution</c>).</summary>
    public required IReadOnlyList<string> EvalFiles { get; init; }
    public int NGram { get; init; } = 13;
    /// <summary>A record is contaminated by a problem when it shares at least this fraction of the problem's n-grams...</summary>
    public double MinOverlapFraction { get; init; } = 0.2;
    /// <summary>... or at least this many distinct n-grams with it.</summary>
    public int MinSharedNGrams { get; init; } = 20;
    /// <summary>n-grams found in more than this many problems are boilerplate (the shared <c>use</c> preamble) and ignored.</summary>
    public int MaxProblemsPerNGram { get; init; } = 2;
}

/// <summary>The whole data pipeline. Every stage except sources can be switched off; the defaults are the recommended ones.</summary>
public sealed record DataOptions
{
    public IReadOnlyList<SourceOptions> Sources { get; init; } = [];
    public MixMode Mix { get; init; } = MixMode.Sequential;
    public long Seed { get; init; } = 0;
    /// <summary>Per-<c>_task_type</c> sampling weight: 2.5 emits two copies and a third with probability 0.5 (seeded); 0.5 keeps half.</summary>
    public IReadOnlyDictionary<string, double>? TaskWeights { get; init; }
    public double DefaultTaskWeight { get; init; } = 1;
    /// <summary>Seeded streaming shuffle over this many records (0 or 1: no shuffle, records keep source/mixing order). Memory: that many records.</summary>
    public int ShuffleBuffer { get; init; }
    public PathFilterOptions? Paths { get; init; } = new();
    public TestCodeMode TestCode { get; init; } = TestCodeMode.Strip;
    public LengthOptions? Length { get; init; } = new();
    public QualityOptions? Quality { get; init; }
    /// <summary>Secrets and PII scanning (on by default; null turns it off).</summary>
    public ScannerOptions? Secrets { get; init; } = new();
    public DedupOptions? Dedup { get; init; } = new();
    public DecontaminationOptions? Decontamination { get; init; }
}
