using Xunit;

namespace Smelt.TestSupport;

/// <summary>Locates the repository and the shared data sets used by tests and benchmarks.</summary>
public static class TestEnvironment
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary><c>SMELT_SHARED_DATA</c>, else <c>../shared/data</c> beside the checkout.</summary>
    public static string SharedData
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("SMELT_SHARED_DATA");
            return !string.IsNullOrWhiteSpace(env) ? env : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "data"));
        }
    }

    public static string SharedFile(string relative) => Path.Combine(SharedData, relative);

    public static string? FindOnPath(string command)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Append(Path.Combine(home, ".cargo", "bin")))
        {
            var candidate = Path.Combine(dir, command);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Smelt.slnx"))) return dir.FullName;
        throw new InvalidOperationException("tests must run from a Smelt checkout (Smelt.slnx not found above " + AppContext.BaseDirectory + ")");
    }
}

/// <summary>A fact that is skipped, with a message saying what is missing, when a shared data file is absent.</summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute(string relativePath)
    {
        var full = TestEnvironment.SharedFile(relativePath);
        if (!File.Exists(full)) Skip = $"shared data file {full} is absent (set SMELT_SHARED_DATA to its folder to run this test)";
    }
}

/// <summary>A fact that is skipped, with a message, when a required command is not installed.</summary>
public sealed class RequiresCommandFactAttribute : FactAttribute
{
    public RequiresCommandFactAttribute(params string[] commands)
    {
        var missing = commands.Where(c => TestEnvironment.FindOnPath(c) is null).ToArray();
        if (missing.Length > 0) Skip = $"not installed: {string.Join(", ", missing)} (run scripts/setup.sh)";
    }
}
