namespace Smelt.Data.Secrets;

public enum SecretAction
{
    /// <summary>Not scanned for.</summary>
    Off,
    /// <summary>Counted in the report, record unchanged.</summary>
    Report,
    /// <summary>The span is replaced by the kind's placeholder.</summary>
    Redact,
    /// <summary>The whole record is dropped.</summary>
    Drop,
}

public sealed record KindRule(SecretAction Action, string? Placeholder = null);

/// <summary>A user-defined detector: a .NET regular expression whose whole match is the secret.</summary>
public sealed record CustomRule(string Kind, string Pattern, SecretAction Action = SecretAction.Redact, string? Placeholder = null);

public sealed record ScannerOptions
{
    /// <summary>Minimum Shannon entropy (bits per character) of a value assigned to a secret-looking name.</summary>
    public double EntropyThreshold { get; init; } = 3.0;
    /// <summary>Shorter assigned values are not reported.</summary>
    public int MinSecretLength { get; init; } = 8;
    public string SecretPlaceholder { get; init; } = "<SECRET>";
    /// <summary>Per-kind overrides of the default action and placeholder.</summary>
    public IReadOnlyDictionary<string, KindRule> Kinds { get; init; } = new Dictionary<string, KindRule>();
    /// <summary>Exact values that are never reported (published examples, known test fixtures).</summary>
    public IReadOnlyList<string> Allow { get; init; } = [];
    public IReadOnlyList<CustomRule> Custom { get; init; } = [];

    /// <summary>Defaults: private keys and service-account files drop the record; other secrets and PII are redacted.</summary>
    public SecretAction ActionFor(string kind)
    {
        if (Kinds.TryGetValue(kind, out var rule)) return rule.Action;
        var custom = Custom.FirstOrDefault(c => c.Kind == kind);
        if (custom is not null) return custom.Action;
        return kind is SecretKinds.PrivateKey or SecretKinds.GcpServiceAccountKey ? SecretAction.Drop : SecretAction.Redact;
    }

    public string PlaceholderFor(string kind)
    {
        if (Kinds.TryGetValue(kind, out var rule) && rule.Placeholder is not null) return rule.Placeholder;
        var custom = Custom.FirstOrDefault(c => c.Kind == kind);
        if (custom?.Placeholder is not null) return custom.Placeholder;
        return kind switch
        {
            SecretKinds.Email => "<EMAIL>",
            SecretKinds.IpAddress => "<IP>",
            _ => SecretPlaceholder,
        };
    }
}
