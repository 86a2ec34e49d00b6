using System.Text;

namespace Smelt.Core;

/// <summary>Guards against path traversal: names that come from data (task ids, server file lists) never become arbitrary paths.</summary>
public static class SafePath
{
    /// <summary>
    /// Turns arbitrary data (e.g. a task id such as <c>Rust/12</c> or <c>../../etc</c>) into a single safe file-name component:
    /// only <c>[A-Za-z0-9_-]</c> survive, everything else becomes <c>_</c>, and a short hash of the original keeps distinct inputs distinct.
    /// </summary>
    public static string ToFileComponent(string data, int maxLength = 64)
    {
        var sb = new StringBuilder(Math.Min(data.Length, maxLength));
        foreach (var ch in data)
        {
            if (sb.Length >= maxLength) break;
            sb.Append(char.IsAsciiLetterOrDigit(ch) || ch is '_' or '-' ? ch : '_');
        }
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(data)))[..8];
        return $"{sb}_{hash}";
    }

    /// <summary>
    /// Resolves <paramref name="relative"/> under <paramref name="root"/> and throws if the result would escape it
    /// (absolute paths, <c>..</c> segments, empty segments, NUL bytes, backslashes).
    /// </summary>
    public static string Combine(string root, string relative)
    {
        if (string.IsNullOrEmpty(relative) || relative.Contains('\0') || relative.Contains('\\') ||
            relative.StartsWith('/') || Path.IsPathRooted(relative))
            throw SmeltException.BadInput($"refusing unsafe relative path '{Printable(relative)}'");
        foreach (var segment in relative.Split('/'))
            if (segment is "" or "." or "..")
                throw SmeltException.BadInput($"refusing unsafe relative path '{Printable(relative)}' (segment '{segment}')");
        var fullRoot = Path.GetFullPath(root);
        var full = Path.GetFullPath(Path.Combine(fullRoot, relative));
        if (!full.StartsWith(fullRoot.TrimEnd('/') + "/", StringComparison.Ordinal))
            throw SmeltException.BadInput($"refusing path '{Printable(relative)}': it escapes {fullRoot}");
        return full;
    }

    private static string Printable(string s) =>
        new(s.Take(200).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
