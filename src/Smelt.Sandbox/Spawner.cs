using System.Collections.Concurrent;
using System.Diagnostics;

namespace Smelt.Sandbox;

/// <summary>
/// Starts every sandbox process from one long-lived thread. bwrap's <c>--die-with-parent</c> uses PR_SET_PDEATHSIG, which
/// fires when the <em>thread</em> that forked the process exits, not the process: started from a thread-pool thread that
/// the pool later retires, a healthy sandbox would be SIGKILLed mid-run. From this thread it dies only with Smelt itself.
/// </summary>
internal static class Spawner
{
    private static readonly BlockingCollection<(Process Process, TaskCompletionSource<Exception?> Done)> Queue = new();

    static Spawner()
    {
        var thread = new Thread(Loop) { IsBackground = true, Name = "smelt-sandbox-spawner" };
        thread.Start();
    }

    private static void Loop()
    {
        foreach (var (process, done) in Queue.GetConsumingEnumerable())
        {
            try
            {
                process.Start();
                done.SetResult(null);
            }
            catch (Exception ex)
            {
                done.SetResult(ex);
            }
        }
    }

    /// <summary>Starts <paramref name="process"/> on the spawner thread; rethrows what <see cref="Process.Start()"/> threw.</summary>
    public static async Task StartAsync(Process process)
    {
        var done = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        Queue.Add((process, done));
        if (await done.Task is { } error) throw error;
    }
}
