using System.Text.Json;

namespace Smelt.Core;

/// <summary>Resuming a samples file (<c>{task_id, ...}</c> JSONL) that an interrupted generation left behind.</summary>
public static class PartialSamples
{
    /// <summary>
    /// Tasks (among <paramref name="taskIds"/>) that already have all <paramref name="samplesPerTask"/> samples in
    /// <paramref name="partial"/>. The file is rewritten atomically to hold only those tasks' lines, so incomplete tasks
    /// and a line cut off by the interruption are generated again.
    /// </summary>
    public static HashSet<string> CompletedTasks(string partial, int samplesPerTask, IEnumerable<string> taskIds)
    {
        var done = new HashSet<string>(StringComparer.Ordinal);
        if (!File.Exists(partial)) return done;
        var known = taskIds.ToHashSet(StringComparer.Ordinal);
        var byTask = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var line in Jsonl.Read(partial))
        {
            if (!line.IsValid) continue; // a line cut off by an interruption
            var o = line.Value!.Value;
            if (!o.TryGetProperty("task_id", out var id) || id.ValueKind != JsonValueKind.String || !known.Contains(id.GetString()!)) continue;
            if (!byTask.TryGetValue(id.GetString()!, out var list)) byTask[id.GetString()!] = list = [];
            list.Add(o.GetRawText());
        }
        var keep = new List<string>();
        foreach (var (id, lines) in byTask)
            if (lines.Count == samplesPerTask) { done.Add(id); keep.AddRange(lines); }
        AtomicFile.WriteAllText(partial, keep.Count == 0 ? "" : string.Join("\n", keep) + "\n");
        return done;
    }
}
