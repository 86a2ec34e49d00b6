namespace Smelt.Hub;

public sealed record HubClientOptions
{
    /// <summary>Files downloaded at the same time.</summary>
    public int MaxParallelDownloads { get; init; } = 4;
    /// <summary>Retries after the first attempt, on transient failures only.</summary>
    public int MaxRetries { get; init; } = 5;
    /// <summary>First backoff delay; it doubles on each retry (with jitter), up to 30 s.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Limit for connecting and receiving response headers.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>A transfer that delivers no byte for this long is abandoned and resumed.</summary>
    public TimeSpan IdleReadTimeout { get; init; } = TimeSpan.FromSeconds(60);
    /// <summary>Also download repository code (<c>.py</c>). Off by default.</summary>
    public bool AllowCode { get; init; }
    /// <summary>Informational messages (retries, skipped files). Callers print them through <see cref="Smelt.Core.Redactor"/>.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>Receives per-file progress. Implementations must be thread-safe: several files download at once.</summary>
public interface IDownloadProgress
{
    IFileProgress Begin(string path, long? totalBytes);
}

public interface IFileProgress
{
    /// <summary>Bytes of the file now on disk (a resumed download starts above zero).</summary>
    void Report(long bytesOnDisk);
    void Finish(FileOutcome outcome);
}

public enum FileOutcome
{
    Downloaded,
    /// <summary>Already in this snapshot; no request was made for it.</summary>
    Cached,
    /// <summary>The blob was already in the cache (another revision has the same content); only linked.</summary>
    Linked,
    Failed,
}

public sealed record SnapshotResult(
    string SnapshotPath,
    string Commit,
    IReadOnlyList<string> Files,
    int Downloaded,
    int FromCache,
    IReadOnlyList<string> Notes);

public sealed record UploadResult(string? CommitOid, string? CommitUrl, IReadOnlyList<string> RegularFiles, IReadOnlyList<string> LfsFiles);
