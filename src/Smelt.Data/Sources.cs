using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;
using Smelt.Core;

namespace Smelt.Data;

/// <summary>What a source yields: a record, or a problem (file:line and what is wrong) for an input that was skipped.</summary>
public readonly record struct SourceItem(TrainingRecord? Record, string? Problem);

/// <summary>A stream of records. Implementations read lazily: nothing requires the corpus to fit in memory.</summary>
public interface IRecordSource
{
    string Name { get; }
    /// <summary>Relative weight for <see cref="MixMode.Weighted"/> mixing.</summary>
    double Weight { get; }
    IEnumerable<SourceItem> Read();
}

/// <summary>Turns one JSON object into a record, detecting its convention per record.</summary>
public static class RecordParser
{
    public static readonly string[] ResponseKeys = ["gen", "completion", "response"];

    public static SourceItem Parse(JsonElement o, string id, string source, string where)
    {
        string? Str(string key) => o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        bool Has(string key) => o.TryGetProperty(key, out _);
        SourceItem Bad(string message) => new(null, $"{where}: {message}");

        string? taskType = null;
        if (o.TryGetProperty("_task_type", out var tt))
        {
            if (tt.ValueKind == JsonValueKind.String) taskType = tt.GetString();
            else if (tt.ValueKind != JsonValueKind.Null) return Bad($"'_task_type' must be a string, found {tt.ValueKind}");
        }
        string? path = null;
        if (o.TryGetProperty("path", out var p))
        {
            if (p.ValueKind == JsonValueKind.String) path = p.GetString();
            else if (p.ValueKind != JsonValueKind.Null) return Bad($"'path' must be a string, found {p.ValueKind}");
        }

        if (Has("messages"))
        {
            var m = o.GetProperty("messages");
            if (m.ValueKind != JsonValueKind.Array) return Bad($"'messages' must be an array of {{role, content}} objects, found {m.ValueKind}");
            var list = new List<ChatMessage>();
            var i = 0;
            foreach (var e in m.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Object ||
                    !e.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String ||
                    !e.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.String)
                    return Bad($"messages[{i}] must be an object with string 'role' and 'content'");
                list.Add(new ChatMessage(role.GetString()!, content.GetString()!));
                i++;
            }
            if (list.Count == 0) return Bad("'messages' is empty");
            if (!list.Any(x => x.Role == "assistant")) return Bad("'messages' has no assistant turn to train on");
            return new(new TrainingRecord { Id = id, Source = source, Kind = RecordKind.Chat, Messages = list, Path = path, TaskType = taskType }, null);
        }
        if (Has("prompt"))
        {
            var prompt = Str("prompt");
            if (prompt is null) return Bad("'prompt' must be a string");
            var key = ResponseKeys.FirstOrDefault(Has);
            if (key is null) return Bad("has 'prompt' but no response field ('gen', 'completion' or 'response')");
            var response = Str(key);
            if (response is null) return Bad($"'{key}' must be a string");
            return new(new TrainingRecord { Id = id, Source = source, Kind = RecordKind.Instruction, Prompt = prompt, Response = response, Path = path, TaskType = taskType }, null);
        }
        foreach (var key in new[] { "text", "content" })
        {
            if (!Has(key)) continue;
            var text = Str(key);
            if (text is null) return Bad($"'{key}' must be a string");
            return new(new TrainingRecord { Id = id, Source = source, Kind = RecordKind.Raw, Text = text, Path = path, TaskType = taskType }, null);
        }
        var keys = string.Join(", ", o.EnumerateObject().Select(x => x.Name).Take(10));
        return Bad($"record has none of the expected fields ('prompt' with 'gen', 'messages', 'text' or 'content'); its keys are: {(keys.Length == 0 ? "(none)" : keys)}");
    }
}

/// <summary>
/// JSONL: one record per line (gzip-compressed when the name ends in <c>.gz</c>). Malformed lines are reported with
/// file:line and skipped. Record ids are <c>{idPrefix}:{line}</c>, the prefix defaulting to the source name.
/// </summary>
public sealed class JsonlSource(string path, string? name = null, double weight = 1, string? idPrefix = null) : IRecordSource
{
    public string Name { get; } = name ?? DataFiles.Stem(path);
    public double Weight { get; } = weight;
    public string FilePath { get; } = path;

    public IEnumerable<SourceItem> Read()
    {
        var prefix = idPrefix ?? Name;
        foreach (var line in ReadLines())
        {
            if (!line.IsValid) { yield return new SourceItem(null, $"{line.Where}: {line.Error}"); continue; }
            yield return RecordParser.Parse(line.Value!.Value, $"{prefix}:{line.LineNumber}", Name, line.Where);
        }
    }

    private IEnumerable<JsonlLine> ReadLines()
    {
        if (!FilePath.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            foreach (var line in Jsonl.Read(FilePath)) yield return line;
            yield break;
        }
        if (!File.Exists(FilePath)) throw SmeltException.BadInput($"{FilePath}: file not found (data source '{Name}')");
        using var file = new FileStream(FilePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        using var gzip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionMode.Decompress);
        using var lines = Jsonl.Read(gzip, FilePath).GetEnumerator();
        while (true)
        {
            try
            {
                if (!lines.MoveNext()) yield break;
            }
            catch (InvalidDataException ex)
            {
                throw SmeltException.BadInput($"{FilePath}: not a readable gzip file ({ex.Message}) (data source '{Name}')");
            }
            yield return lines.Current;
        }
    }
}

/// <summary>The file formats a source can read, by file name.</summary>
public static class DataFiles
{
    /// <summary>Extensions read as data files: JSON Lines (plain or gzip) and Parquet.</summary>
    public static readonly string[] Readable = [".jsonl", ".jsonl.gz", ".json", ".json.gz", ".parquet"];

    /// <summary><c>jsonl</c> or <c>parquet</c> by extension, or null for a format no source reads.</summary>
    public static string? FormatOf(string path)
    {
        if (path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)) return "parquet";
        var plain = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        return plain.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || plain.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? "jsonl" : null;
    }

    /// <summary>The file name without its data extensions (<c>train.jsonl.gz</c> → <c>train</c>).</summary>
    public static string Stem(string path)
    {
        var name = System.IO.Path.GetFileName(path);
        if (name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) name = name[..^3];
        return System.IO.Path.GetFileNameWithoutExtension(name);
    }
}

/// <summary>
/// Several JSONL/Parquet files under one root read one after another as a single source (one name, one weight), in the
/// order given: a downloaded hub dataset. Record ids are <c>{name}:{relative path}:{line}</c> (or <c>:row N</c>).
/// </summary>
public sealed class FileListSource : IRecordSource
{
    private readonly string _root;
    private readonly IReadOnlyList<string> _files;

    public FileListSource(string root, IReadOnlyList<string> files, string name, double weight = 1)
    {
        if (files.Count == 0) throw SmeltException.BadInput($"data source '{name}': no files to read");
        foreach (var f in files)
            if (DataFiles.FormatOf(f) is null)
                throw SmeltException.BadInput($"data source '{name}': cannot read '{f}'; readable files end in {string.Join(", ", DataFiles.Readable)}");
        _root = root;
        _files = files;
        Name = name;
        Weight = weight;
    }

    public string Name { get; }
    public double Weight { get; }
    public IReadOnlyList<string> Files => _files;

    public IEnumerable<SourceItem> Read()
    {
        foreach (var rel in _files)
        {
            var full = System.IO.Path.Combine(_root, rel);
            if (!File.Exists(full)) throw SmeltException.BadInput($"{full}: file not found (data source '{Name}')");
            IRecordSource source = DataFiles.FormatOf(rel) == "parquet"
                ? new ParquetSource(full, Name, Weight, $"{Name}:{rel}")
                : new JsonlSource(full, Name, Weight, $"{Name}:{rel}");
            foreach (var item in source.Read()) yield return item;
        }
    }
}

/// <summary>
/// A directory of source files: each file matching <paramref name="include"/> (globs relative to the root, such as
/// <c>**/*.rs</c>) is one raw record carrying its relative path. Files are visited in ordinal path order, so the stream
/// is the same on every machine. Files that are too large, binary or not UTF-8 are reported and skipped.
/// </summary>
public sealed class DirectorySource(string root, IReadOnlyList<string>? include = null, string? name = null, double weight = 1, long maxFileBytes = 1 << 20) : IRecordSource
{
    public string Name { get; } = name ?? new DirectoryInfo(root).Name;
    public double Weight { get; } = weight;
    public IReadOnlyList<string> Include { get; } = include is { Count: > 0 } ? include : ["**/*.rs"];

    public IEnumerable<SourceItem> Read()
    {
        if (!Directory.Exists(root)) throw SmeltException.BadInput($"{root}: directory not found (data source '{Name}')");
        var fullRoot = System.IO.Path.GetFullPath(root);
        var options = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = FileAttributes.ReparsePoint };
        var files = Directory.EnumerateFiles(fullRoot, "*", options)
            .Select(f => System.IO.Path.GetRelativePath(fullRoot, f).Replace('\\', '/'))
            .Where(rel => Include.Any(g => Glob.Matches(g, rel)))
            .OrderBy(rel => rel, StringComparer.Ordinal)
            .ToList();
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        foreach (var rel in files)
        {
            var full = System.IO.Path.Combine(fullRoot, rel);
            var size = new FileInfo(full).Length;
            if (size > maxFileBytes) { yield return new SourceItem(null, $"{full}: skipped, {size} bytes is over the {maxFileBytes}-byte limit for one file"); continue; }
            string? text = null;
            string? problem = null;
            try
            {
                var bytes = File.ReadAllBytes(full);
                if (Array.IndexOf(bytes, (byte)0) >= 0) problem = $"{full}: skipped, binary file (contains NUL bytes)";
                else text = strict.GetString(bytes);
            }
            catch (DecoderFallbackException) { problem = $"{full}: skipped, not valid UTF-8"; }
            catch (IOException ex) { problem = $"{full}: skipped, {ex.Message}"; }
            if (text is null) { yield return new SourceItem(null, problem); continue; }
            if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
            yield return new SourceItem(new TrainingRecord { Id = $"{Name}:{rel}", Source = Name, Kind = RecordKind.Raw, Text = text, Path = rel }, null);
        }
    }
}

/// <summary>
/// Parquet with the JSONL field conventions as flat string columns (<c>prompt</c>/<c>gen</c>, <c>text</c>/<c>content</c>,
/// <c>path</c>, <c>_task_type</c>; <c>messages</c> as a JSON-encoded string column). Read one row group at a time.
/// </summary>
public sealed class ParquetSource(string path, string? name = null, double weight = 1, string? idPrefix = null) : IRecordSource
{
    private static readonly string[] Columns = ["prompt", "gen", "completion", "response", "text", "content", "path", "_task_type", "messages"];

    public string Name { get; } = name ?? System.IO.Path.GetFileNameWithoutExtension(path);
    public double Weight { get; } = weight;

    public IEnumerable<SourceItem> Read()
    {
        if (!File.Exists(path)) throw SmeltException.BadInput($"{path}: file not found (data source '{Name}')");
        using var stream = File.OpenRead(path);
        ParquetReader reader;
        try { reader = ParquetReader.CreateAsync(stream).GetAwaiter().GetResult(); }
        catch (Exception ex) when (ex is not SmeltException)
        {
            throw SmeltException.BadInput($"{path}: not a readable Parquet file ({ex.Message})");
        }
        try
        {
            var fields = reader.Schema.GetDataFields().Where(f => Columns.Contains(f.Name) && (f.ClrType == typeof(string) || f.ClrType == typeof(ReadOnlyMemory<char>))).ToArray();
            if (fields.Length == 0)
                throw SmeltException.BadInput($"{path}: no string column named {string.Join(", ", Columns)}; found: {string.Join(", ", reader.Schema.GetDataFields().Select(f => $"{f.Name} ({f.ClrType.Name})"))}");
            long row = 0;
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                var columns = new Dictionary<string, string?[]>();
                long count;
                using (var group = reader.OpenRowGroupReader(g))
                {
                    count = group.RowCount;
                    foreach (var f in fields)
                    {
                        var values = new string?[count];
                        group.ReadAsync(f, values.AsMemory()!).GetAwaiter().GetResult();
                        columns[f.Name] = values;
                    }
                }
                for (var r = 0; r < count; r++, row++)
                {
                    var obj = new System.Text.Json.Nodes.JsonObject();
                    string? problem = null;
                    foreach (var (col, values) in columns)
                    {
                        var v = values[r];
                        if (v is null) continue;
                        if (col == "messages")
                        {
                            try { obj[col] = System.Text.Json.Nodes.JsonNode.Parse(v); }
                            catch (JsonException ex) { problem = $"{path}: row {row}: 'messages' is not valid JSON ({ex.Message})"; }
                        }
                        else obj[col] = v;
                    }
                    if (problem is not null) { yield return new SourceItem(null, problem); continue; }
                    var element = JsonSerializer.SerializeToElement(obj);
                    yield return RecordParser.Parse(element, $"{idPrefix ?? Name}:row {row}", Name, $"{path}: row {row}");
                }
            }
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }
}

/// <summary>Minimal glob: <c>**</c> matches any number of path segments, <c>*</c> anything within a segment, <c>?</c> one character.</summary>
public static class Glob
{
    public static bool Matches(string pattern, string path) => Match(pattern.AsSpan(), path.AsSpan());

    private static bool Match(ReadOnlySpan<char> p, ReadOnlySpan<char> s)
    {
        while (p.Length > 0)
        {
            if (p.StartsWith("**/"))
            {
                var rest = p[3..];
                if (Match(rest, s)) return true;
                for (var i = 0; i < s.Length; i++)
                    if (s[i] == '/' && Match(rest, s[(i + 1)..])) return true;
                return false;
            }
            if (p.StartsWith("**"))
                return true;
            if (p[0] == '*')
            {
                var rest = p[1..];
                for (var i = 0; i <= s.Length; i++)
                {
                    if (Match(rest, s[i..])) return true;
                    if (i < s.Length && s[i] == '/') return false;
                }
                return false;
            }
            if (s.Length == 0) return false;
            if (p[0] != '?' && p[0] != s[0]) return false;
            if (p[0] == '?' && s[0] == '/') return false;
            p = p[1..];
            s = s[1..];
        }
        return s.Length == 0;
    }
}
