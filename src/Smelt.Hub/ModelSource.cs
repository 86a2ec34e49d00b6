namespace Smelt.Hub;

/// <summary>Where a model or dataset named on the command line comes from: a local path the user chose, or a hub repository.</summary>
public sealed record ModelSource
{
    /// <summary>Full local path, when the name refers to something on disk.</summary>
    public string? LocalPath { get; private init; }

    /// <summary>The hub repository id, when the name is a hub id.</summary>
    public string? HubId { get; private init; }

    public bool IsLocal => LocalPath is not null;

    /// <summary>
    /// Tells a hub id from a local path. An existing file or directory always wins (so a local folder called <c>org/name</c> is used as is);
    /// a name that looks like a path (absolute, <c>./</c>, <c>../</c>, <c>~/</c>) but does not exist is an error rather than a hub lookup;
    /// otherwise it must be a valid hub id. <c>hf://org/name</c> forces a hub lookup.
    /// </summary>
    public static ModelSource Resolve(string name, string? workingDirectory = null)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw Smelt.Core.SmeltException.BadInput("a model or dataset name is required (a local path or a hub id such as Qwen/Qwen2.5-Coder-0.5B)");
        if (name.StartsWith("hf://", StringComparison.Ordinal))
        {
            var id = name["hf://".Length..];
            RepoId.Parse(id);
            return new ModelSource { HubId = id };
        }
        var expanded = name == "~" || name.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), name.Length > 2 ? name[2..] : "")
            : name;
        var full = Path.GetFullPath(expanded, workingDirectory ?? Directory.GetCurrentDirectory());
        if (File.Exists(full) || Directory.Exists(full))
            return new ModelSource { LocalPath = full };
        var looksLikePath = Path.IsPathRooted(name) || name.StartsWith("./", StringComparison.Ordinal) || name.StartsWith("../", StringComparison.Ordinal)
                            || name.StartsWith('~') || name is "." or "..";
        if (looksLikePath)
            throw Smelt.Core.SmeltException.BadInput($"local path '{RepoId.Printable(name)}' does not exist ({full})");
        if (!RepoId.IsValid(name))
            throw Smelt.Core.SmeltException.BadInput(
                $"'{RepoId.Printable(name)}' is neither an existing local path nor a valid hub id (expected 'namespace/name', e.g. Qwen/Qwen2.5-Coder-0.5B)");
        return new ModelSource { HubId = name };
    }
}
