using System.Text;
using System.Text.Json;
using Smelt.Core;

namespace Smelt.Eval;

public static class Status
{
    public const string Passed = "passed";
    public const string Failed = "failed";
    public const string CompileError = "compile_error";
    public const string Timeout = "timeout";
    public const string RuntimeError = "runtime_error";
    public const string SandboxError = "sandbox_error";
    /// <summary>Not compiled at all: over the size caps or containing NUL characters.</summary>
    public const string Rejected = "rejected";

    public static readonly string[] All = [Passed, Failed, CompileError, Timeout, RuntimeError, SandboxError, Rejected];
}

/// <summary>The verdict on one sample: one line of results.jsonl.</summary>
public sealed record SampleResult
{
    public required string TaskId { get; init; }
    public required int Sample { get; init; }
    public required int Line { get; init; }
    public required string Status { get; init; }
    public bool CompileOk { get; init; }
    public bool TestOk { get; init; }
    public int TestsRun { get; init; }
    /// <summary>Null when clippy did not run (--no-clippy, or the sample did not compile).</summary>
    public int? ClippyWarnings { get; init; }
    public IReadOnlyList<string> ClippyLints { get; init; } = [];
    public IReadOnlyList<string> ErrorCodes { get; init; } = [];
    public string? FirstError { get; init; }
    /// <summary><c>compile</c> or <c>run</c> for timeouts and infrastructure errors.</summary>
    public string? Phase { get; init; }
    public long CompileMs { get; init; }
    public long RunMs { get; init; }
    public int BatchSize { get; init; }
    public string? Shape { get; init; }
    public bool Fenced { get; init; }
    public IReadOnlyList<string> SecretLike { get; init; } = [];
    /// <summary>Longest verbatim run of training data (code tokens; 0 = none as long as the threshold); null without a training set.</summary>
    public int? VerbatimRun { get; init; }
    /// <summary>First 16 hex digits of the completion's SHA-256: --resume only keeps a result whose completion is unchanged.</summary>
    public string? CompletionHash { get; init; }
    public JsonElement? Extra { get; init; }

    public static SampleResult? FromJson(JsonElement line) => SampleResultJson.Parse(line);

    public string ToJsonLine()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteString("task_id", TaskId);
            w.WriteNumber("sample", Sample);
            w.WriteNumber("line", Line);
            w.WriteString("status", Status);
            w.WriteBoolean("compile_ok", CompileOk);
            w.WriteBoolean("test_ok", TestOk);
            w.WriteNumber("tests_run", TestsRun);
            if (ClippyWarnings is { } cw) w.WriteNumber("clippy_warnings", cw); else w.WriteNull("clippy_warnings");
            WriteArray(w, "clippy_lints", ClippyLints);
            WriteArray(w, "error_codes", ErrorCodes);
            if (FirstError is null) w.WriteNull("first_error"); else w.WriteString("first_error", SecretScan.Mask(FirstError));
            if (Phase is null) w.WriteNull("phase"); else w.WriteString("phase", Phase);
            w.WriteNumber("compile_ms", CompileMs);
            w.WriteNumber("run_ms", RunMs);
            w.WriteNumber("batch_size", BatchSize);
            if (Shape is null) w.WriteNull("shape"); else w.WriteString("shape", Shape);
            w.WriteBoolean("fenced", Fenced);
            WriteArray(w, "secret_like", SecretLike);
            if (VerbatimRun is { } vr) w.WriteNumber("verbatim_run", vr);
            if (CompletionHash is not null) w.WriteString("completion_sha256", CompletionHash);
            if (Extra is { } e) { w.WritePropertyName("extra"); e.WriteTo(w); }
            w.WriteEndObject();
        }
        return Redactor.Redact(Encoding.UTF8.GetString(ms.ToArray()));
    }

    private static void WriteArray(Utf8JsonWriter w, string name, IReadOnlyList<string> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteStringValue(v);
        w.WriteEndArray();
    }
}

/// <summary>Appends results to <c>results.jsonl</c> as they are decided, one flushed line each, so an interrupted run keeps them.</summary>
public sealed class ResultsWriter : IDisposable
{
    private readonly object _gate = new();
    private readonly StreamWriter _writer;
    public string Path { get; }

    /// <summary>Starts <paramref name="path"/> with <paramref name="kept"/> (written atomically first, so a crash cannot lose them), then appends.</summary>
    public ResultsWriter(string path, IReadOnlyList<SampleResult> kept)
    {
        Path = path;
        AtomicFile.Write(path, tmp => File.WriteAllLines(tmp, kept.Select(r => r.ToJsonLine())));
        var stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        _writer = new StreamWriter(stream, new UTF8Encoding(false)) { NewLine = "\n" };
    }

    public void Write(SampleResult result)
    {
        var line = result.ToJsonLine();
        lock (_gate)
        {
            _writer.WriteLine(line);
            _writer.Flush();
        }
    }

    public void Dispose()
    {
        lock (_gate) _writer.Dispose();
    }
}

public static class SampleResultJson
{
    private static string[] Strings(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Array
            ? v.EnumerateArray().Where(e => e.ValueKind == JsonValueKind.String).Select(e => e.GetString()!).ToArray() : [];

    internal static SampleResult? Parse(JsonElement o)
    {
        try
        {
            return new SampleResult
            {
                TaskId = o.GetProperty("task_id").GetString()!,
                Sample = o.GetProperty("sample").GetInt32(),
                Line = o.GetProperty("line").GetInt32(),
                Status = o.GetProperty("status").GetString()!,
                CompileOk = o.GetProperty("compile_ok").GetBoolean(),
                TestOk = o.GetProperty("test_ok").GetBoolean(),
                TestsRun = o.TryGetProperty("tests_run", out var tr) && tr.ValueKind == JsonValueKind.Number ? tr.GetInt32() : 0,
                ClippyWarnings = o.TryGetProperty("clippy_warnings", out var cw) && cw.ValueKind == JsonValueKind.Number ? cw.GetInt32() : null,
                ClippyLints = Strings(o, "clippy_lints"),
                ErrorCodes = Strings(o, "error_codes"),
                FirstError = o.TryGetProperty("first_error", out var fe) && fe.ValueKind == JsonValueKind.String ? fe.GetString() : null,
                Phase = o.TryGetProperty("phase", out var ph) && ph.ValueKind == JsonValueKind.String ? ph.GetString() : null,
                CompileMs = o.TryGetProperty("compile_ms", out var cm) ? cm.GetInt64() : 0,
                RunMs = o.TryGetProperty("run_ms", out var rm) ? rm.GetInt64() : 0,
                BatchSize = o.TryGetProperty("batch_size", out var bs) ? bs.GetInt32() : 0,
                Shape = o.TryGetProperty("shape", out var sh) && sh.ValueKind == JsonValueKind.String ? sh.GetString() : null,
                Fenced = o.TryGetProperty("fenced", out var fd) && fd.ValueKind == JsonValueKind.True,
                SecretLike = Strings(o, "secret_like"),
                VerbatimRun = o.TryGetProperty("verbatim_run", out var vr) && vr.ValueKind == JsonValueKind.Number ? vr.GetInt32() : null,
                CompletionHash = o.TryGetProperty("completion_sha256", out var ch) && ch.ValueKind == JsonValueKind.String ? ch.GetString() : null,
                Extra = o.TryGetProperty("extra", out var ex) ? ex.Clone() : null,
            };
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException) { return null; }
    }
}
