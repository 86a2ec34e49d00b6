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
        var chunk = new byte[1 << 16];
        var line = new MemoryStream();
        var lineNo = 0;
        var tooLong = false;
        while (true)
        {
            var read = stream.Read(chunk, 0, chunk.Length);
            if (read == 0) break;
            var pos = 0;
            while (pos < read)
            {
                var nl = chunk.AsSpan(pos, read - pos).IndexOf((byte)'\n');
                var end = nl < 0 ? read : pos + nl;
                if (!tooLong)
                {
                    if (line.Length + (end - pos) > maxLineBytes) { tooLong = true; line.SetLength(0); }
                    else line.Write(chunk, pos, end - pos);
                }
                if (nl < 0) break;
                pos = end + 1;
                lineNo++;
                var result = Finish(line, tooLong, name, lineNo, maxLineBytes, strict);
                line.SetLength(0);
                tooLong = false;
                if (result is not null) yield return result;
            }
        }
        if (line.Length > 0 || tooLong)
        {
            var last = Finish(line, tooLong, name, lineNo + 1, maxLineBytes, strict);
            if (last is not null) yield return last;
        }
    }

    private static JsonlLine? Finish(MemoryStream line, bool tooLong, string name, int lineNo, int maxLineBytes, UTF8Encoding strict) =>
        tooLong
            ? new JsonlLine(name, lineNo, null, $"line is longer than {maxLineBytes} bytes")
            : Parse(line.GetBuffer().AsSpan(0, (int)line.Length), name, lineNo, strict);

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
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = 256 });
            var value = JsonElement.ParseValue(ref reader);
            if (reader.Read()) // throws for trailing content in a single-value document; this is belt and braces
                return new JsonlLine(name, lineNo, null, "malformed JSON: more than one value on the line");
            if (value.ValueKind != JsonValueKind.Object)
                return new JsonlLine(name, lineNo, null, $"expected a JSON object, found {value.ValueKind}");
            return new JsonlLine(name, lineNo, value, null);
        }
        catch (JsonException ex)
        {
            return new JsonlLine(name, lineNo, null, $"malformed JSON: {ex.Message}");
        }
    }
}
