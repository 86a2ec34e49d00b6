using System.Text;
using Smelt.Data.Filters;

namespace Smelt.Data.Secrets;

/// <summary>
/// Scans every text field. A finding whose kind's action is <see cref="SecretAction.Drop"/> drops the record
/// (reason <c>secrets:KIND</c>); <see cref="SecretAction.Redact"/> replaces the span with the kind's placeholder; a record
/// left with nothing but placeholders and whitespace is dropped (<c>secrets:empty_after_redaction</c>).
/// </summary>
public sealed class SecretsStage(SecretScanner scanner) : IRecordStage
{
    public string Name => "secrets";

    public StageOutcome Apply(TrainingRecord record, FilterReport report)
    {
        string? dropKind = null;
        var redactions = new Dictionary<string, long>();
        var any = false;
        foreach (var (_, value) in record.Fields())
        {
            foreach (var f in scanner.Scan(value))
            {
                any = true;
                report.SecretFindings[f.Kind] = report.SecretFindings.GetValueOrDefault(f.Kind) + 1;
                if (scanner.Options.ActionFor(f.Kind) == SecretAction.Drop) dropKind ??= f.Kind;
            }
        }
        if (!any) return StageOutcome.Keep(record);
        if (dropKind is not null) return StageOutcome.DropFor($"secrets:{dropKind}");

        var redacted = record.MapFields((_, value) => Redact(value, scanner, redactions));
        if (redactions.Count == 0) return StageOutcome.Keep(record);
        var placeholders = scanner.Options.Kinds.Values.Select(k => k.Placeholder).Concat(SecretKinds.All.Select(scanner.Options.PlaceholderFor))
            .Concat(scanner.Options.Custom.Select(c => c.Placeholder)).OfType<string>().Distinct().ToArray();
        var code = redacted.CodeText;
        foreach (var p in placeholders) code = code.Replace(p, "", StringComparison.Ordinal);
        if (string.IsNullOrWhiteSpace(code)) return StageOutcome.DropFor("secrets:empty_after_redaction");
        foreach (var (kind, n) in redactions) report.Modify($"secrets:redacted:{kind}", n);
        return StageOutcome.Keep(redacted);
    }

    /// <summary>Replaces every finding whose action is Redact with its placeholder.</summary>
    public static string Redact(string text, SecretScanner scanner, Dictionary<string, long>? counts = null)
    {
        var findings = scanner.Scan(text);
        if (findings.Count == 0) return text;
        var sb = new StringBuilder(text.Length);
        var pos = 0;
        foreach (var f in findings)
        {
            if (scanner.Options.ActionFor(f.Kind) != SecretAction.Redact) continue;
            sb.Append(text, pos, f.Start - pos).Append(scanner.Options.PlaceholderFor(f.Kind));
            pos = f.End;
            if (counts is not null) counts[f.Kind] = counts.GetValueOrDefault(f.Kind) + 1;
        }
        sb.Append(text, pos, text.Length - pos);
        return sb.ToString();
    }
}
