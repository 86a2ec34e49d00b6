namespace Smelt.Core;

/// <summary>Writes files so that a reader (or a crash) never observes a half-written file.</summary>
public static class AtomicFile
{
    public static void WriteAllText(string path, string contents) =>
        Write(path, tmp => File.WriteAllText(tmp, contents));

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> contents)
    {
        var copy = contents.ToArray();
        Write(path, tmp => File.WriteAllBytes(tmp, copy));
    }

    /// <summary>Calls <paramref name="writer"/> with a temporary path in the same directory, fsyncs it and renames it over <paramref name="path"/>.</summary>
    public static void Write(string path, Action<string> writer)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var tmp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            writer(tmp);
            using (var fs = new FileStream(tmp, FileMode.Open, FileAccess.ReadWrite))
                fs.Flush(flushToDisk: true);
            File.Move(tmp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(tmp)) File.Delete(tmp);
        }
    }
}
