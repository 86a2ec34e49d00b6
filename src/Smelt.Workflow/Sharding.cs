using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Smelt.Core;
using Smelt.Eval;

namespace Smelt.Workflow;

/// <summary>
/// <c>--shard i/N</c>: shard <c>i</c> (0-based, as Kubernetes' JOB_COMPLETION_INDEX and a Slurm array from 0 give it) of
/// <c>N</c>. A task belongs to shard <c>SHA-256(task_id) mod N</c>, so the slice depends only on the task id: problem files and
/// sample files are sliced consistently, every sample of a task lands in the same shard, and the shards partition the tasks.
/// </summary>
public readonly record struct ShardSpec(int Index, int Count)
{
    public static ShardSpec Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2 ||
            !int.TryParse(parts[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var i) ||
            !int.TryParse(parts[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            throw SmeltException.BadInput($"--shard '{text}': expected i/N with 0 <= i < N, e.g. --shard 0/4 (Kubernetes: --shard $JOB_COMPLETION_INDEX/4)");
        if (n < 1) throw SmeltException.BadInput($"--shard '{text}': N must be at least 1");
        if (i >= n) throw SmeltException.BadInput($"--shard '{text}': index {i} is out of range; shards are numbered 0..{n - 1}");
        return new ShardSpec(i, n);
    }

    public static int ShardOf(string taskId, int count)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(taskId));
        return (int)(BitConverter.ToUInt64(hash, 0) % (ulong)count);
    }

    public bool Contains(string taskId) => ShardOf(taskId, Count) == Index;

    public IReadOnlyList<T> Filter<T>(IEnumerable<T> items, Func<T, string> taskId)
    {
        var self = this;
        return items.Where(x => self.Contains(taskId(x))).ToList();
    }

    public override string ToString() => $"{Index}/{Count}";
}

public sealed record SliceReport(string Output, int LinesKept, int LinesTotal, int Tasks);

public static class ShardSlicer
{
    /// <summary>
    /// Copies the lines of a problem or sample JSONL file whose <c>task_id</c> belongs to the shard, byte for byte and in order.
    /// Lines that are not valid records are kept in shard 0 only, so the owner of that shard still reports them.
    /// </summary>
    public static SliceReport Slice(string input, string output, ShardSpec shard)
    {
        if (!File.Exists(input)) throw SmeltException.BadInput($"{input}: file not found");
        var kept = 0;
        var total = 0;
        var tasks = new HashSet<string>(StringComparer.Ordinal);
        var raw = File.ReadAllText(input, new UTF8Encoding(false));
        AtomicFile.Write(output, tmp =>
        {
            using var w = new StreamWriter(tmp, false, new UTF8Encoding(false)) { NewLine = "\n" };
            foreach (var line in raw.Split('\n'))
            {
                if (line.Trim().Length == 0) continue;
                total++;
                string? id = null;
                try
                {
                    using var doc = JsonDocument.Parse(line);
                    if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("task_id", out var t) && t.ValueKind == JsonValueKind.String)
                        id = t.GetString();
                }
                catch (JsonException) { }
                var keep = id is null ? shard.Index == 0 : shard.Contains(id);
                if (!keep) continue;
                if (id is not null) tasks.Add(id);
                w.WriteLine(line.TrimEnd('\r'));
                kept++;
            }
        });
        return new SliceReport(output, kept, total, tasks.Count);
    }

    /// <summary>
    /// The one-line hook for <c>smelt eval --shard i/N</c>: slices the problems (and samples) into OUT/shard-input/ and returns a
    /// request that evaluates only this shard. The slices record which shard the directory holds, for <c>smelt eval merge</c>.
    /// </summary>
    public static EvalRequest ForShard(EvalRequest request, string shardText)
    {
        var shard = ShardSpec.Parse(shardText);
        var dir = Path.Combine(request.OutDirectory, "shard-input");
        Directory.CreateDirectory(dir);
        var problems = Slice(request.ProblemsPath, Path.Combine(dir, "problems.jsonl"), shard);
        string? samples = null;
        if (request.SamplesPath is not null) samples = Slice(request.SamplesPath, Path.Combine(dir, "samples.jsonl"), shard).Output;
        AtomicFile.WriteAllText(Path.Combine(request.OutDirectory, "shard.json"),
            JsonSerializer.Serialize(new { shard = shard.ToString(), index = shard.Index, count = shard.Count, problems_in_shard = problems.Tasks }) + "\n");
        return request with { ProblemsPath = problems.Output, SamplesPath = samples };
    }
}
