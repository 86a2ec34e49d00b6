using System.Diagnostics;

namespace Smelt.Sandbox;

/// <summary>
/// One dedicated thread that enforces every running sandbox's wall clock and work-directory quota. Not the thread pool:
/// when the pool is saturated (many concurrent runs, blocking callers), a timer or a <c>Task.Delay</c> loop can be
/// starved for seconds, and a program writing at disk speed is not stopped in time (seen in a loaded test run).
/// </summary>
internal static class Watchdog
{
    private const int TickMs = 50;

    internal sealed class Entry
    {
        public required long DeadlineTimestamp { get; init; }
        public required string Directory { get; init; }
        public required long MaxDiskBytes { get; init; }
        public required Action OnTimeout { get; init; }
        public required Action OnDiskFull { get; init; }
        public volatile bool Finished;
        public long NextDiskCheck;
    }

    private static readonly Lock Gate = new();
    private static readonly List<Entry> Entries = [];
    private static readonly EnumerationOptions Recursive = new()
    {
        RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint, IgnoreInaccessible = true,
    };

    static Watchdog()
    {
        new Thread(Loop) { IsBackground = true, Name = "smelt-sandbox-watchdog" }.Start();
    }

    public static Entry Watch(string directory, TimeSpan wallTime, long maxDiskBytes, Action onTimeout, Action onDiskFull)
    {
        var entry = new Entry
        {
            DeadlineTimestamp = Stopwatch.GetTimestamp() + (long)(wallTime.TotalSeconds * Stopwatch.Frequency),
            Directory = directory, MaxDiskBytes = maxDiskBytes, OnTimeout = onTimeout, OnDiskFull = onDiskFull,
        };
        lock (Gate) Entries.Add(entry);
        return entry;
    }

    public static void Stop(Entry entry)
    {
        entry.Finished = true;
        lock (Gate) Entries.Remove(entry);
    }

    private static void Loop()
    {
        while (true)
        {
            Thread.Sleep(TickMs);
            Entry[] snapshot;
            lock (Gate) snapshot = [.. Entries];
            var now = Stopwatch.GetTimestamp();
            foreach (var e in snapshot)
            {
                if (e.Finished) continue;
                try
                {
                    if (now >= e.DeadlineTimestamp)
                    {
                        Stop(e);
                        e.OnTimeout();
                    }
                    else if (now >= e.NextDiskCheck)
                    {
                        e.NextDiskCheck = now + Stopwatch.Frequency / 10;
                        if (DiskQuota.OverLimit(e.Directory, e.MaxDiskBytes))
                        {
                            Stop(e);
                            e.OnDiskFull();
                        }
                    }
                }
                catch (Exception)
                {
                    // A kill that fails (process already gone) must not stop the watchdog for everyone else.
                }
            }
        }
    }

    /// <summary>Bytes in regular files under <paramref name="dir"/> (symlinks not followed); stops counting past <paramref name="cap"/>.</summary>
    internal static long DiskUsage(string dir, long cap)
    {
        long total = 0;
        try
        {
            foreach (var f in new DirectoryInfo(dir).EnumerateFiles("*", Recursive))
            {
                try { total += f.Length; } catch (IOException) { }
                if (total > cap) break;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return total;
    }
}
