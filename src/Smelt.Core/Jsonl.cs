using System.Text;
using System.Text.Json;

namespace Smelt.Core;

/// <summary>One line of a JSONL file: either a parsed object or a problem report naming the file and line.</summary>
public sealed record JsonlLine(string File, int LineNumber, JsonElement? Value, string? Error)
{
    public bool IsValid => Value is not null;
    public string Where => $"{File}:{LineNumber}";
}

/// <summary>
/// Streams a JSONL file line by line. Bad lines (invalid UTF-8, NUL bytes, malformed JSON, non-objects, oversized lines)
/// are reported as <see cref="JsonlLine.Error"/> and the rest of the file is still read. Blank lines are skipped.
/// </summary>
public static class Jsonl
{
    public const int DefaultMaxLineBytes = 16 * 1024 * 1024;

    public static IEnumerable<JsonlLine> Read(string path, int maxLineBytes = DefaultMaxLineBytes)
    {
        if (!File.Exists(path))
            throw SmeltException.BadInput($"{path}: file not found");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        foreach (var line in Read(stream, path, maxLineBytes))
            yield return line;
    }

    public static IEnumerable<JsonlLine> Read(Stream stream, string name, int maxLineBytes = DefaultMaxLineBytes)
    {
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        var buffer = new MemoryStream();
        var lineNo = 0;
        var tooLong = false;
        int b;
        var reader = new BufferedStream(stream, 1 << 16);
        while (true)
        {
            b = reader.ReadByte();
            if (b == -1 || b == '\n')
            {
                if (b == -1 && buffer.Length == 0 && !tooLong) yield break;
                lineNo++;
                var result = tooLong
                    ? new JsonlLine(name, lineNo, null, $"line is longer than {maxLineBytes} bytes")
                    : Parse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), name, lineNo, strict);
                buffer.SetLength(0);
                tooLong = false;
                if (result is not null) yield return result;
                if (b == -1) yield break;
                continue;
            }
            if (tooLong) continue;
            if (buffer.Length >= maxLineBytes) { tooLong = true; buffer.SetLength(0); continue; }
            buffer.WriteByte((byte)b);
        }
    }

    private static JsonlLine? Parse(ReadOnlySpan<byte> bytes, string name, int lineNo, UTF8Encoding strict)
    {
        if (bytes.Length > 0 && bytes[^1] == '\r') bytes = bytes[..^1];
        if (bytes.IsEmpty || bytes.Trim((byte)' ').IsEmpty) return null;
        if (bytes.IndexOf((byte)0) >= 0)
            return new JsonlLine(name, lineNo, null, "line contains a NUL byte");
        try { strict.GetCharCount(bytes); }
        catch (DecoderFallbackException) { return new JsonlLine(name, lineNo, null, "line is not valid UTF-8"); }
        try
        {
            using var doc = JsonDocument.Parse(bytes.ToArray());
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                return new JsonlLine(name, lineNo, null, $"expected a JSON object, found {doc.RootElement.ValueKind}");
            return new JsonlLine(name, lineNo, doc.RootElement.Clone(), null);
        }
        catch (JsonException ex)
        {
            return new JsonlLine(name, lineNo, null, $"malformed JSON: {ex.Message}");
        }
    }
}
