using System.Text.Json;

namespace Smelt.Eval;

/// <summary>A location a diagnostic points at, after following macro expansions back to the code that invoked them.</summary>
public readonly record struct DiagnosticSite(string File, int Line);

/// <summary>One rustc/clippy diagnostic from <c>--error-format=json</c>.</summary>
public sealed record Diagnostic(string Level, string? Code, string Message, IReadOnlyList<DiagnosticSite> Sites)
{
    public bool IsError => Level is "error" or "error: internal compiler error";
    public bool IsWarning => Level == "warning";

    /// <summary>The first message as a user reads it: <c>E0308: mismatched types</c>.</summary>
    public string Headline => Code is null ? Message : $"{Code}: {Message}";

    /// <summary>Parses the JSON lines rustc writes to stderr; anything that is not a diagnostic object is returned in <paramref name="other"/>.</summary>
    public static List<Diagnostic> ParseAll(string stderr, out List<string> other)
    {
        var list = new List<Diagnostic>();
        other = [];
        foreach (var raw in stderr.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0) continue;
            if (!line.StartsWith('{')) { other.Add(line); continue; }
            try
            {
                using var doc = JsonDocument.Parse(line);
                var d = Parse(doc.RootElement);
                if (d is not null) list.Add(d); else other.Add(line);
            }
            catch (JsonException) { other.Add(line); }
        }
        return list;
    }

    private static Diagnostic? Parse(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("message", out var msg) || msg.ValueKind != JsonValueKind.String)
            return null;
        var level = e.TryGetProperty("level", out var l) ? l.GetString() ?? "" : "";
        string? code = null;
        if (e.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.Object && c.TryGetProperty("code", out var cc))
            code = cc.GetString();
        var sites = new List<DiagnosticSite>();
        if (e.TryGetProperty("spans", out var spans) && spans.ValueKind == JsonValueKind.Array)
        {
            // Primary spans first: they say where the problem is.
            foreach (var primaryPass in new[] { true, false })
                foreach (var span in spans.EnumerateArray())
                    if (span.TryGetProperty("is_primary", out var p) && p.GetBoolean() == primaryPass)
                        AddSites(span, sites, 0);
        }
        if (e.TryGetProperty("children", out var children) && children.ValueKind == JsonValueKind.Array)
            foreach (var child in children.EnumerateArray())
                if (child.TryGetProperty("spans", out var cs) && cs.ValueKind == JsonValueKind.Array)
                    foreach (var span in cs.EnumerateArray())
                        AddSites(span, sites, 0);
        return new Diagnostic(level, code, msg.GetString()!, sites);
    }

    private static void AddSites(JsonElement span, List<DiagnosticSite> sites, int depth)
    {
        if (depth > 32) return;
        if (span.TryGetProperty("file_name", out var f) && f.GetString() is { } file &&
            span.TryGetProperty("line_start", out var ls) && ls.TryGetInt32(out var line))
            sites.Add(new DiagnosticSite(file, line));
        if (span.TryGetProperty("expansion", out var exp) && exp.ValueKind == JsonValueKind.Object &&
            exp.TryGetProperty("span", out var call) && call.ValueKind == JsonValueKind.Object)
            AddSites(call, sites, depth + 1);
    }
}
