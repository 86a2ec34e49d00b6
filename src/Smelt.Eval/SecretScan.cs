using System.Text.RegularExpressions;

namespace Smelt.Eval;

/// <summary>
/// A deliberately small check for secret-like strings in completions (models sometimes reproduce credentials from their
/// training data): Hugging Face tokens, AWS access key ids, PEM private keys, GitHub tokens. The fuller scanner lives in Smelt.Data.
/// </summary>
public static partial class SecretScan
{
    private static readonly (string Kind, Regex Pattern)[] Patterns =
    [
        ("hf_token", HfToken()),
        ("aws_access_key_id", AwsKey()),
        ("private_key", PemKey()),
        ("github_token", GitHubToken()),
    ];

    public static IReadOnlyList<string> Find(string text) =>
        Patterns.Where(p => p.Pattern.IsMatch(text)).Select(p => p.Kind).ToArray();

    /// <summary>Replaces every match with <see cref="Smelt.Core.Redactor.Mask"/>.</summary>
    public static string Mask(string text)
    {
        foreach (var (_, pattern) in Patterns) text = pattern.Replace(text, Smelt.Core.Redactor.Mask);
        return text;
    }

    [GeneratedRegex(@"\bhf_[A-Za-z0-9]{30,}")]
    private static partial Regex HfToken();

    [GeneratedRegex(@"\b(AKIA|ASIA)[0-9A-Z]{16}\b")]
    private static partial Regex AwsKey();

    [GeneratedRegex(@"-----BEGIN ((RSA|EC|DSA|OPENSSH|ENCRYPTED) )?PRIVATE KEY-----")]
    private static partial Regex PemKey();

    [GeneratedRegex(@"\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}|\bgithub_pat_[A-Za-z0-9_]{40,}")]
    private static partial Regex GitHubToken();
}
