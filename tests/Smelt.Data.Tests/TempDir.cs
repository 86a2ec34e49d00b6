namespace Smelt.Data.Tests;

internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("smelt-data-test-").FullName;

    public string File(string relative, string contents)
    {
        var full = System.IO.Path.Combine(Path, relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        System.IO.File.WriteAllText(full, contents);
        return full;
    }

    public string Jsonl(string relative, IEnumerable<object> records) =>
        File(relative, string.Join("\n", records.Select(r => r as string ?? System.Text.Json.JsonSerializer.Serialize(r))) + "\n");

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

internal static class Code
{
    /// <summary>A distinct, plausible Rust function; different <paramref name="i"/> give different token streams.</summary>
    public static string Function(int i) =>
        $"/// Adds {i} to the input.\npub fn add_{i}(x: u64) -> u64 {{\n    let step_{i} = {i * 7 + 3};\n    x.wrapping_add(step_{i}) ^ {i}\n}}\n";
}
