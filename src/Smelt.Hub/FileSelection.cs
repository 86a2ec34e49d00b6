using System.Text;
using System.Text.RegularExpressions;
using Smelt.Core;

namespace Smelt.Hub;

/// <summary>
/// <c>--include</c>/<c>--exclude</c> globs with the semantics of huggingface_hub (Python <c>fnmatch</c>: <c>*</c> also matches <c>/</c>,
/// <c>?</c> one character, <c>[abc]</c> a set; a pattern ending in <c>/</c> means everything below that folder).
/// </summary>
public sealed class GlobFilter
{
    private readonly Regex[] _include;
    private readonly Regex[] _exclude;

    public GlobFilter(IEnumerable<string>? include, IEnumerable<string>? exclude)
    {
        _include = (include ?? []).Select(ToRegex).ToArray();
        _exclude = (exclude ?? []).Select(ToRegex).ToArray();
    }

    public bool Matches(string path) =>
        (_include.Length == 0 || _include.Any(r => r.IsMatch(path))) && !_exclude.Any(r => r.IsMatch(path));

    public static Regex ToRegex(string glob)
    {
        if (string.IsNullOrEmpty(glob)) throw SmeltException.BadInput("an empty --include/--exclude pattern matches nothing; remove it");
        if (glob.EndsWith('/')) glob += "*";
        var sb = new StringBuilder("^");
        for (var i = 0; i < glob.Length; i++)
        {
            var c = glob[i];
            switch (c)
            {
                case '*': sb.Append(".*"); break;
                case '?': sb.Append('.'); break;
                case '[':
                    var close = glob.IndexOf(']', i + 1);
                    if (close < 0) { sb.Append(@"\["); break; }
                    var set = glob[(i + 1)..close];
                    var negate = set.StartsWith('!');
                    if (negate) set = set[1..];
                    sb.Append('[').Append(negate ? "^" : "").Append(set.Replace(@"\", @"\\").Replace("^", @"\^")).Append(']');
                    i = close;
                    break;
                default: sb.Append(Regex.Escape(c.ToString())); break;
            }
        }
        return new Regex(sb.Append('$').ToString(), RegexOptions.Singleline | RegexOptions.CultureInvariant);
    }
}

/// <summary>
/// What Smelt agrees to fetch from a repository. Pickle-based weights (<c>.bin .pt .pth .ckpt .pkl</c>) can run arbitrary code when
/// loaded, so a model repository that offers only those is refused; where <c>.safetensors</c> exist the pickle files are skipped.
/// Repository code (<c>.py</c>) is never downloaded unless the caller asks for it.
/// </summary>
public static class ModelFilePolicy
{
    private static readonly string[] PickleExtensions = [".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"];

    public static bool IsPickle(string path) => PickleExtensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase));
    public static bool IsSafetensors(string path) => path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);
    public static bool IsCode(string path) => path.EndsWith(".py", StringComparison.OrdinalIgnoreCase);

    /// <summary>Applies the policy to the files selected by the globs. Returns what to download and a note per skipped group; throws when refusing.</summary>
    public static (List<RepoFile> Files, List<string> Notes) Apply(RepoId repo, string revision, IReadOnlyList<RepoFile> all, IReadOnlyList<RepoFile> selected, bool allowCode)
    {
        var notes = new List<string>();
        var files = selected.ToList();
        if (!allowCode)
        {
            var code = files.Where(f => IsCode(f.Path)).ToList();
            if (code.Count > 0)
            {
                files = files.Except(code).ToList();
                notes.Add($"skipped {code.Count} repository code file(s) ({Names(code)}): Smelt never downloads or runs repository code unless asked (--allow-code)");
            }
        }
        if (repo.Type == RepoType.Model)
        {
            var pickle = files.Where(f => IsPickle(f.Path)).ToList();
            if (pickle.Count > 0)
            {
                if (all.Any(f => IsSafetensors(f.Path)))
                {
                    files = files.Except(pickle).ToList();
                    notes.Add($"skipped {pickle.Count} pickle-based file(s) ({Names(pickle)}): the repository also offers .safetensors, which Smelt uses instead");
                }
                else
                {
                    throw SmeltException.BadInput(
                        $"{repo} at revision {revision} offers its weights only in pickle-based formats ({Names(pickle)}) and no .safetensors. " +
                        "Loading a pickle file can execute arbitrary code hidden in it, so Smelt refuses to download it. " +
                        "To use this model, convert it on a machine you trust (for example load it with transformers and call " +
                        "save_pretrained(dir, safe_serialization=True), or use the hub's safetensors conversion Space), " +
                        "then pass the converted local folder or a repository that has .safetensors weights.");
                }
            }
        }
        return (files, notes);
    }

    private static string Names(IReadOnlyList<RepoFile> files) =>
        string.Join(", ", files.Take(5).Select(f => f.Path)) + (files.Count > 5 ? $", and {files.Count - 5} more" : "");
}
