using System.Diagnostics;
using Smelt.Sandbox;

// Per-launch overhead of each sandbox backend against a bare process start, all running /bin/true.
var iterations = args.Length > 0 && int.TryParse(args[0], out var n) ? n : 100;
Console.WriteLine($"machine: {Environment.ProcessorCount} cores, load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}, kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}");
Console.WriteLine($"iterations: {iterations} per backend (after 5 warm-up launches); program: /bin/true");
Console.WriteLine($"work-directory disk quota: {DiskQuota.Description}");
Console.WriteLine();

var rows = new List<(string Name, double[] Ms)>();

double[] Measure(int count, Func<Task> launch)
{
    for (var i = 0; i < 5; i++) launch().GetAwaiter().GetResult();
    var ms = new double[count];
    for (var i = 0; i < count; i++)
    {
        var sw = Stopwatch.StartNew();
        launch().GetAwaiter().GetResult();
        ms[i] = sw.Elapsed.TotalMilliseconds;
    }
    return ms;
}

Task Bare(string file, params string[] argv)
{
    var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var a in argv) psi.ArgumentList.Add(a);
    using var p = Process.Start(psi)!;
    p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0) throw new InvalidOperationException($"{file} failed: {p.StandardError.ReadToEnd()}");
    return Task.CompletedTask;
}

rows.Add(("bare Process.Start /bin/true", Measure(iterations, () => Bare("/bin/true"))));

if (File.Exists("/usr/bin/bwrap"))
    rows.Add(("bwrap CLI, minimal binds, no Smelt", Measure(iterations, () => Bare("/usr/bin/bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
        "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev", "/bin/true"))));

var none = SandboxFactory.Create("none", allowUnsandboxed: true, TextWriter.Null);
using var noneWork = none.CreateWorkDirectory("bench");
rows.Add(("smelt none (launcher, rlimits, cgroup)", Measure(iterations, () => Run(none, noneWork.Path))));
rows.Add(("work directory mkdir + rmdir (no mount)", Measure(iterations, () =>
{
    var d = Path.Combine(SandboxPaths.WorkRoot, "bench-mkdir-" + Guid.NewGuid().ToString("N"));
    Directory.CreateDirectory(d);
    Directory.Delete(d);
    return Task.CompletedTask;
})));
rows.Add(($"work directory create + dispose ({(DiskQuota.Enabled ? "tmpfs quota mount" : "no quota here")})", Measure(iterations, () =>
{
    none.CreateWorkDirectory("bench-wd").Dispose();
    return Task.CompletedTask;
})));

foreach (var backend in new[] { "bwrap", "firejail" })
{
    ISandbox sandbox;
    try { sandbox = SandboxFactory.Create(backend); }
    catch (Smelt.Core.SmeltException ex) { Console.WriteLine($"{backend}: skipped ({ex.Message})"); continue; }
    using var work = sandbox.CreateWorkDirectory("bench");
    var count = backend == "firejail" ? Math.Max(10, iterations / 3) : iterations;
    rows.Add(($"smelt {backend} (full isolation + limits)", Measure(count, () => Run(sandbox, work.Path))));
    if (backend == "bwrap")
    {
        // Cost breakdown: the same bwrap argv and launcher without the per-run cgroups.
        var noCgroup = new BwrapSandbox("/usr/bin/bwrap", useCgroups: false);
        rows.Add(("smelt bwrap without per-run cgroups", Measure(iterations, () => Run(noCgroup, work.Path))));
        // Two launches at once (eval runs samples concurrently): wall time per launch.
        var works = Enumerable.Range(0, 2).Select(i => sandbox.CreateWorkDirectory("bench-par")).ToList();
        var sw = Stopwatch.StartNew();
        Task.WhenAll(works.Select(w => Task.Run(async () => { for (var i = 0; i < iterations / 2; i++) await Run(sandbox, w.Path); }))).GetAwaiter().GetResult();
        var perLaunch = sw.Elapsed.TotalMilliseconds / (iterations / 2 * 2);
        rows.Add(("smelt bwrap, 2 concurrent (wall per launch)", [perLaunch]));
        foreach (var w in works) w.Dispose();
        // A session (what eval's test runs use): one bwrap launch for the session, then a fresh set of namespaces per run.
        var opened = Stopwatch.StartNew();
        var session = sandbox.OpenSessionAsync([]).GetAwaiter().GetResult();
        var openMs = opened.Elapsed.TotalMilliseconds;
        if (session.Mode != "supervisor") Console.WriteLine($"bwrap session: fell back to '{session.Mode}'");
        using (var sessionWork = session.CreateWorkDirectory("bench"))
        {
            rows.Add(("smelt bwrap session run (full isolation + limits)", Measure(iterations, () => Run(session, sessionWork.Path))));
            var sessionWorks = Enumerable.Range(0, 2).Select(i => session.CreateWorkDirectory("bench-par")).ToList();
            sw = Stopwatch.StartNew();
            Task.WhenAll(sessionWorks.Select(w => Task.Run(async () => { for (var i = 0; i < iterations / 2; i++) await Run(session, w.Path); }))).GetAwaiter().GetResult();
            rows.Add(("smelt bwrap session, 2 concurrent (wall per run)", [sw.Elapsed.TotalMilliseconds / (iterations / 2 * 2)]));
            foreach (var w in sessionWorks) w.Dispose();
        }
        session.DisposeAsync().AsTask().GetAwaiter().GetResult();
        rows.Add(("smelt bwrap session open (first: may build the supervisor)", [openMs]));
        opened = Stopwatch.StartNew();
        session = sandbox.OpenSessionAsync([]).GetAwaiter().GetResult();
        rows.Add(("smelt bwrap session open (cached supervisor)", [opened.Elapsed.TotalMilliseconds]));
        session.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }
}

var bare = Median(rows[0].Ms);
var bareMin = rows[0].Ms.Min();
Console.WriteLine($"{"launch",-58} {"min ms",7} {"median ms",10} {"mean ms",9} {"p95 ms",8} {"x bare (median)",16} {"x bare (min)",13}");
foreach (var (name, ms) in rows)
    Console.WriteLine($"{name,-58} {ms.Min(),7:F2} {Median(ms),10:F2} {ms.Average(),9:F2} {Percentile(ms, 0.95),8:F2} {Median(ms) / bare,16:F1} {ms.Min() / bareMin,13:F1}");
Console.WriteLine("(min is the best estimate of the cost on an idle machine; median and p95 include waiting for the CPU under load)");
Console.WriteLine();
var bw = rows.FirstOrDefault(r => r.Name.StartsWith("smelt bwrap (", StringComparison.Ordinal));
if (bw.Ms is not null)
{
    Console.WriteLine($"goal: < 10 ms per sandboxed bwrap launch -> median {(Median(bw.Ms) < 10 ? "met" : "NOT met")} ({Median(bw.Ms):F2} ms), min {(bw.Ms.Min() < 10 ? "met" : "NOT met")} ({bw.Ms.Min():F2} ms) at load {File.ReadAllText("/proc/loadavg").Split(' ')[0]} on {Environment.ProcessorCount} cores");
    var ses = rows.FirstOrDefault(r => r.Name.StartsWith("smelt bwrap session run", StringComparison.Ordinal));
    var plainNone = rows.FirstOrDefault(r => r.Name.StartsWith("smelt none", StringComparison.Ordinal));
    if (ses.Ms is not null)
        Console.WriteLine($"session run vs plain bwrap launch: {Median(bw.Ms) / Median(ses.Ms):F1}x cheaper (median); vs smelt none: {Median(ses.Ms) / Median(plainNone.Ms):F2}x its cost");
}

static async Task Run(ISandbox sandbox, string work)
{
    var r = await sandbox.RunAsync(new SandboxRequest { Command = ["/bin/true"], WorkDirectory = work });
    if (!r.Succeeded) throw new InvalidOperationException($"{sandbox.Name}: {r.Outcome} {r.Stderr}");
}

static double Median(double[] xs) => Percentile(xs, 0.5);
static double Percentile(double[] xs, double p)
{
    var s = xs.Order().ToArray();
    return s[Math.Min(s.Length - 1, (int)Math.Round(p * (s.Length - 1)))];
}
