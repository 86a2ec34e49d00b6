namespace Smelt.Core;

/// <summary>Where Smelt keeps its caches (built crate sets, toolchain probes). <c>SMELT_CACHE</c> overrides the default <c>~/.cache/smelt</c>.</summary>
public static class SmeltPaths
{
    public static string CacheRoot
    {
        get
        {
            var overridden = Environment.GetEnvironmentVariable("SMELT_CACHE");
            if (!string.IsNullOrWhiteSpace(overridden)) return Path.GetFullPath(overridden);
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var baseDir = !string.IsNullOrWhiteSpace(xdg) ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(baseDir, "smelt");
        }
    }

    /// <summary>The repository root when running from a checkout (directory holding <c>Smelt.slnx</c>), else null.</summary>
    public static string? RepoRoot
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Smelt.slnx"))) return dir.FullName;
            return null;
        }
    }
}
