using System.Text.RegularExpressions;
using Smelt.Core;

namespace Smelt.Hub;

public enum RepoType
{
    Model,
    Dataset,
}

/// <summary>A validated hub repository id such as <c>Qwen/Qwen2.5-Coder-0.5B</c> plus its type.</summary>
public sealed partial record RepoId
{
    public string Id { get; }
    public RepoType Type { get; }

    private RepoId(string id, RepoType type)
    {
        Id = id;
        Type = type;
    }

    /// <summary>Validates the id the way the hub does (<c>[namespace/]name</c>, letters, digits, <c>_-.</c>, no <c>--</c> or <c>..</c>, at most 96 characters).</summary>
    public static RepoId Parse(string id, RepoType type = RepoType.Model)
    {
        if (!IsValid(id))
            throw SmeltException.BadInput(
                $"'{Printable(id)}' is not a valid hub repository id: expected 'name' or 'namespace/name' made of letters, digits, '-', '_' and '.', " +
                "without '--' or '..', at most 96 characters (for example Qwen/Qwen2.5-Coder-0.5B)");
        return new RepoId(id, type);
    }

    public static bool IsValid(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= 96 && IdPattern().IsMatch(id) && !id.Contains("--") && !id.Contains("..");

    public static RepoType ParseType(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "model" or "models" => RepoType.Model,
        "dataset" or "datasets" => RepoType.Dataset,
        _ => throw SmeltException.BadInput($"unknown repository type '{Printable(text)}': use 'model' or 'dataset'"),
    };

    /// <summary><c>models</c> or <c>datasets</c>: the segment used by <c>/api/{plural}/...</c>.</summary>
    public string TypePlural => Type == RepoType.Model ? "models" : "datasets";

    public string TypeName => Type == RepoType.Model ? "model" : "dataset";

    /// <summary>The cache folder name used by huggingface_hub: <c>models--org--name</c>, <c>datasets--org--name</c>.</summary>
    public string CacheFolderName => $"{TypePlural}--{Id.Replace("/", "--", StringComparison.Ordinal)}";

    /// <summary>The path prefix of the repository's web URLs: <c>org/name</c> for models, <c>datasets/org/name</c> for datasets.</summary>
    public string UrlPrefix => Type == RepoType.Model ? Id : $"datasets/{Id}";

    public override string ToString() => Type == RepoType.Model ? Id : $"{Id} (dataset)";

    internal static string Printable(string? s) =>
        s is null ? "" : new string(s.Take(200).Select(c => char.IsControl(c) ? '?' : c).ToArray());

    [GeneratedRegex(@"^([A-Za-z0-9_.\-]+/)?[A-Za-z0-9_.\-]+$")]
    private static partial Regex IdPattern();
}
