using System.Text.RegularExpressions;
using Smelt.Sandbox;

namespace Smelt.Eval;

public sealed record EvalOptions
{
    public int Workers { get; init; } = Math.Max(1, Environment.ProcessorCount);
    public int MaxBatchSize { get; init; } = 128;
    public bool Clippy { get; init; } = true;
    public TimeSpan CompileTimeout { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan RunTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public long RunMemoryBytes { get; init; } = 2L << 30;
    public long CompileMemoryBytes { get; init; } = 8L << 30;
}

/// <summary>
/// Evaluates samples in batches: every sample is its own module of one test crate compiled with one rustc (clippy-driver)
/// invocation. When a batch fails to compile, errors that lie wholly inside one sample's module make that sample a
/// compile error, samples entangled in an error with another (or a failure without a location) are compiled alone, and
/// the rest is rebuilt: a bad sample never fails its neighbours and every status equals the status it gets on its own.
/// Each sample's tests then run in their own sandboxed process with their own time limit.
/// </summary>
public sealed partial class Evaluator
{
    private const string CrateName = "smelt_batch";
    private readonly ISandbox _sandbox;
    private readonly Toolchain _toolchain;
    private readonly CrateSet? _crates;
    private readonly EvalOptions _options;
    private readonly SemaphoreSlim _slots;
    private readonly SemaphoreSlim _runSlots;

    public Evaluator(ISandbox sandbox, Toolchain toolchain, CrateSet? crates, EvalOptions options)
    {
        _sandbox = sandbox;
        _toolchain = toolchain;
        _crates = crates;
        _options = options;
        _slots = new SemaphoreSlim(Math.Max(1, options.Workers));
        // A test run is a short process whose wall time is mostly launch latency (namespaces, exec, pipes) rather than
        // CPU, so twice as many run at once as compiles do.
        _runSlots = new SemaphoreSlim(2 * Math.Max(1, options.Workers));
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _testRunModes = new();

    /// <summary>How test runs were isolated: <c>bwrap supervisor session per batch</c>, <c>bwrap per-run</c>...</summary>
    public IReadOnlyCollection<string> TestRunModes => _testRunModes.Keys.ToList();

    private async Task<ISandboxSession> OpenSessionAsync(Build build, CancellationToken ct)
    {
        var session = await _sandbox.OpenSessionAsync([build.Dir.Path], ct);
        _testRunModes.TryAdd(session.Mode == "supervisor" ? $"{session.Name} supervisor session per batch ({session.Description})" : $"{session.Name} {session.Mode}", 0);
        return session;
    }

    private sealed record Prepared(EvalItem Item, Solution Solution, SampleModule Module, string ModuleName);

    private sealed class Build : IDisposable
    {
        public required SandboxWorkDirectory Dir { get; init; }
        public required SandboxResult Result { get; init; }
        public required List<Diagnostic> Diagnostics { get; init; }
        public required List<string> OtherOutput { get; init; }
        public required Dictionary<string, Prepared> ByFile { get; init; }
        public string Binary => Path.Combine(Dir.Path, CrateName);
        public void Dispose() => Dir.Dispose();
    }

    public async Task RunAsync(IReadOnlyList<EvalItem> items, Action<SampleResult> onResult, CancellationToken ct)
    {
        var prepared = new List<Prepared>();
        foreach (var item in items)
        {
            if (item.RejectReason is not null)
            {
                onResult(Base(item) with { Status = Status.Rejected, FirstError = item.RejectReason });
                continue;
            }
            Solution solution;
            try { solution = CompletionNormalizer.Normalize(item.Problem, item.Completion); }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                onResult(Base(item) with { Status = Status.SandboxError, Phase = "assemble", FirstError = $"internal error while assembling the program: {ex.Message}" });
                continue;
            }
            prepared.Add(new Prepared(item, solution, ProgramAssembler.Module(item.Problem, solution), $"s{item.Id}"));
        }

        var tasks = new List<Task>();
        foreach (var group in prepared.GroupBy(p => p.Item.Problem.Edition))
        {
            var list = group.ToList();
            foreach (var chunk in list.Chunk(BatchSize(list.Count, _options.Workers, _options.MaxBatchSize)))
                tasks.Add(ProcessBatchAsync(chunk.ToList(), group.Key, onResult, ct));
        }
        await Task.WhenAll(tasks);
    }

    /// <summary>
    /// Batches of at most <paramref name="max"/>, as many as needed rounded up to a multiple of the worker count, equal in
    /// size: 164 samples on 2 workers with max 64 become 4 batches of 41 rather than 64+64+36 (one worker idle at the end).
    /// </summary>
    public static int BatchSize(int count, int workers, int max)
    {
        max = Math.Max(1, max);
        workers = Math.Max(1, workers);
        var batches = (count + max - 1) / max;
        batches = Math.Max(workers, (batches + workers - 1) / workers * workers);
        return Math.Clamp((count + batches - 1) / batches, 1, max);
    }

    private async Task ProcessBatchAsync(List<Prepared> batch, string edition, Action<SampleResult> onResult, CancellationToken ct)
    {
        var alone = new List<Task>();
        var pending = batch;
        while (pending.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            if (pending.Count == 1) { alone.Add(AloneAsync(pending[0], edition, onResult, ct)); break; }
            using var build = await CompileAsync(pending, edition, ct);
            var r = build.Result;
            if (r.InfrastructureError is not null)
            {
                foreach (var p in pending) onResult(InfraResult(p, "compile", r.InfrastructureError, pending.Count));
                break;
            }
            if (r.Succeeded)
            {
                var share = (long)r.Elapsed.TotalMilliseconds / pending.Count;
                await using var session = await OpenSessionAsync(build, ct);
                var tests = await ListTestsAsync(build, session, ct);
                await Task.WhenAll(pending.Select(p => RunTestsAsync(p, build, session, tests, share, pending.Count, onResult, ct)));
                break;
            }
            var (own, entangled) = r.TimedOut || r.MemoryLimitExceeded || r.CpuLimitExceeded
                ? ([], []) : Suspects(build);
            if (own.Count == 0 && entangled.Count == 0)
            {
                // Nothing points at a sample (timeout, memory, linker trouble): decide every sample on its own.
                alone.AddRange(pending.Select(p => AloneAsync(p, edition, onResult, ct)));
                break;
            }
            // Errors that lie wholly inside one sample's module are that sample's own: rustc reports them the same way
            // whatever else is in the crate (a phase that aborts the build stops it alone too). Anything that involves
            // two samples is decided by compiling them on their own.
            var roundShare = (long)r.Elapsed.TotalMilliseconds / pending.Count;
            foreach (var (p, errors) in own) onResult(CompileErrorResult(p, errors, build.OtherOutput, r, roundShare, pending.Count));
            alone.AddRange(entangled.Select(p => AloneAsync(p, edition, onResult, ct)));
            pending = pending.Where(p => !own.ContainsKey(p) && !entangled.Contains(p)).ToList();
        }
        await Task.WhenAll(alone);
    }

    /// <summary>
    /// Samples with errors: <c>own</c> where every error touching the sample touches no other sample (with those errors,
    /// in order), <c>entangled</c> where an error spans several samples.
    /// </summary>
    private static (Dictionary<Prepared, List<Diagnostic>> Own, HashSet<Prepared> Entangled) Suspects(Build build)
    {
        var own = new Dictionary<Prepared, List<Diagnostic>>();
        var entangled = new HashSet<Prepared>();
        foreach (var d in build.Diagnostics.Where(d => d.IsError))
        {
            var touched = d.Sites.Select(s => build.ByFile.GetValueOrDefault(Path.GetFileName(s.File))).OfType<Prepared>().Distinct().ToList();
            if (touched.Count == 1)
            {
                if (!own.TryGetValue(touched[0], out var list)) own[touched[0]] = list = [];
                list.Add(d);
            }
            else entangled.UnionWith(touched);
        }
        foreach (var p in entangled) own.Remove(p);
        return (own, entangled);
    }

    private SampleResult CompileErrorResult(Prepared p, List<Diagnostic> errors, List<string> other, SandboxResult r, long ms, int batchSize)
    {
        var codes = errors.Select(e => e.Code).OfType<string>().Distinct().ToList();
        var first = errors.FirstOrDefault()?.Headline
            ?? other.FirstOrDefault(l => l.Length > 0)
            ?? $"compiler exited with {(r.Signal is { } s ? $"signal {s}" : $"code {r.ExitCode}")} without a diagnostic";
        return Base(p.Item, p.Solution) with { Status = Status.CompileError, Phase = "compile", ErrorCodes = codes, FirstError = first, CompileMs = ms, BatchSize = batchSize };
    }

    /// <summary>The sample compiled on its own: its compile result is its verdict.</summary>
    private async Task AloneAsync(Prepared p, string edition, Action<SampleResult> onResult, CancellationToken ct)
    {
        using var build = await CompileAsync([p], edition, ct);
        var r = build.Result;
        var ms = (long)r.Elapsed.TotalMilliseconds;
        if (r.InfrastructureError is not null) { onResult(InfraResult(p, "compile", r.InfrastructureError, 1)); return; }
        // Alone in its binary, the module filter cannot select anyone else's tests: no listing needed.
        if (r.Succeeded)
        {
            // Test runs always go through a session, so a sample's verdict cannot depend on how it was compiled.
            await using var session = await OpenSessionAsync(build, ct);
            await RunTestsAsync(p, build, session, null, ms, 1, onResult, ct);
            return;
        }
        var baseResult = Base(p.Item, p.Solution) with { CompileMs = ms, BatchSize = 1 };
        if (r.TimedOut || r.CpuLimitExceeded)
        {
            onResult(baseResult with { Status = Status.Timeout, Phase = "compile", FirstError = $"compilation exceeded the {_options.CompileTimeout.TotalSeconds:0} s compile limit" });
            return;
        }
        if (r.MemoryLimitExceeded)
        {
            onResult(baseResult with { Status = Status.CompileError, Phase = "compile", FirstError = $"the compiler exceeded the {_options.CompileMemoryBytes >> 20} MiB memory limit" });
            return;
        }
        var errors = build.Diagnostics.Where(d => d.IsError && !IsSummary(d)).ToList();
        onResult(CompileErrorResult(p, errors, build.OtherOutput, r, ms, 1));
    }

    private static bool IsSummary(Diagnostic d) =>
        d.Sites.Count == 0 && d.Code is null && (d.Message.StartsWith("aborting due to", StringComparison.Ordinal) || d.Message.Contains("warnings emitted", StringComparison.Ordinal));

    private async Task<Build> CompileAsync(IReadOnlyList<Prepared> members, string edition, CancellationToken ct)
    {
        var dir = _sandbox.CreateWorkDirectory("build");
        var byFile = new Dictionary<string, Prepared>(StringComparer.Ordinal);
        foreach (var p in members)
        {
            File.WriteAllText(Path.Combine(dir.Path, p.ModuleName + ".rs"), p.Module.Source);
            byFile[p.ModuleName + ".rs"] = p;
        }
        File.WriteAllText(Path.Combine(dir.Path, "batch.rs"), ProgramAssembler.CrateRoot(members.Select(m => m.ModuleName)));
        var driver = _options.Clippy ? _toolchain.ClippyDriver : _toolchain.Rustc;
        var command = new List<string>
        {
            driver, "--test", "batch.rs", "--edition", edition, "--crate-name", CrateName, "-o", CrateName,
            "--error-format=json", "--sysroot", _toolchain.Sysroot, "-C", "debuginfo=0",
            // The standard library's debug info is most of the link work and of the binary each test run loads.
            "-C", "strip=debuginfo",
            // One codegen unit: ~12% less compiler CPU for a batch (measured: 0.43 s vs 0.49 s for 41 HumanEval-X
            // solutions); batches compile side by side on every core anyway, so LLVM's own parallelism buys nothing.
            "-C", "codegen-units=1",
        };
        var readOnly = new List<string> { _toolchain.Sysroot };
        if (_crates is not null)
        {
            command.AddRange(_crates.RustcArguments());
            readOnly.Add(_crates.Directory);
        }
        var timeout = _options.CompileTimeout + TimeSpan.FromSeconds(members.Count - 1);
        SandboxResult result;
        await _slots.WaitAsync(ct);
        try
        {
            result = await _sandbox.RunAsync(new SandboxRequest
            {
                Command = command,
                WorkDirectory = dir.Path,
                ReadOnlyPaths = readOnly,
                Limits = new ResourceLimits
                {
                    WallTime = timeout, CpuTime = timeout * 2, MemoryBytes = _options.CompileMemoryBytes,
                    MaxProcesses = 256, MaxFileSizeBytes = 1L << 30, MaxOpenFiles = 1024, MaxOutputBytes = 32 << 20,
                },
            }, ct);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            result = new SandboxResult { InfrastructureError = $"sandbox '{_sandbox.Name}' threw: {ex.Message}" };
        }
        finally { _slots.Release(); }
        var diagnostics = Diagnostic.ParseAll(result.Stderr, out var other);
        return new Build { Dir = dir, Result = result, Diagnostics = diagnostics, OtherOutput = other, ByFile = byFile };
    }

    /// <summary>
    /// The batch binary's test names grouped by sample module (<c>--list</c> runs no test code). Each sample then runs
    /// exactly its own tests by full name (<c>--exact</c>), so no module name inside one sample can select another's tests.
    /// Null when listing failed; samples then fall back to the <c>s&lt;n&gt;::</c> filter (also used for a sample alone in its binary).
    /// </summary>
    private async Task<Dictionary<string, List<string>>?> ListTestsAsync(Build build, ISandboxSession session, CancellationToken ct)
    {
        SandboxResult r;
        using (var wd = session.CreateWorkDirectory("list"))
        {
            await _slots.WaitAsync(ct);
            try
            {
                r = await session.RunAsync(new SandboxRequest
                {
                    Command = [build.Binary, "--list", "--format", "terse"],
                    WorkDirectory = wd.Path,
                    ReadOnlyPaths = [build.Dir.Path],
                    Limits = new ResourceLimits { WallTime = TimeSpan.FromSeconds(30), CpuTime = TimeSpan.FromSeconds(30), MemoryBytes = _options.RunMemoryBytes, MaxOutputBytes = 8 << 20 },
                }, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException) { return null; }
            finally { _slots.Release(); }
        }
        if (!r.Succeeded || r.StdoutTruncated) return null;
        var map = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var line in r.Stdout.Split('\n'))
        {
            if (!line.EndsWith(": test", StringComparison.Ordinal)) continue;
            var name = line[..^": test".Length];
            var sep = name.IndexOf("::", StringComparison.Ordinal);
            if (sep <= 0) continue;
            var module = name[..sep];
            if (!map.TryGetValue(module, out var list)) map[module] = list = [];
            list.Add(name);
        }
        return map;
    }

    private async Task RunTestsAsync(Prepared p, Build build, ISandboxSession session, Dictionary<string, List<string>>? tests, long compileMs, int batchSize, Action<SampleResult> onResult, CancellationToken ct)
    {
        List<string> selection = tests is null
            ? [p.ModuleName + "::"]
            : tests.TryGetValue(p.ModuleName, out var names)
                ? ["--exact", .. names]
                : ["--exact", p.ModuleName + "::__smelt_no_tests__"]; // runs nothing: the problem defines no test
        var warnings = build.Diagnostics
            .Where(d => d.IsWarning && d.Code is not null && d.Sites.Count > 0 &&
                        Path.GetFileName(d.Sites[0].File) == p.ModuleName + ".rs" &&
                        d.Sites[0].Line >= p.Module.SolutionFirstLine && d.Sites[0].Line <= p.Module.SolutionLastLine)
            .ToList();
        var baseResult = Base(p.Item, p.Solution) with
        {
            CompileOk = true,
            CompileMs = compileMs,
            BatchSize = batchSize,
            ClippyWarnings = _options.Clippy ? warnings.Count : null,
            ClippyLints = _options.Clippy ? warnings.Select(w => w.Code!).Distinct().Order(StringComparer.Ordinal).ToList() : [],
        };
        SandboxResult r;
        using (var wd = session.CreateWorkDirectory("run"))
        {
            await _runSlots.WaitAsync(ct);
            try
            {
                r = await session.RunAsync(new SandboxRequest
                {
                    Command = [build.Binary, "--test-threads=1", "--color", "never", .. selection],
                    WorkDirectory = wd.Path,
                    ReadOnlyPaths = [build.Dir.Path],
                    Environment = new Dictionary<string, string> { ["RUST_BACKTRACE"] = "0" },
                    Limits = new ResourceLimits
                    {
                        WallTime = _options.RunTimeout, CpuTime = _options.RunTimeout, MemoryBytes = _options.RunMemoryBytes,
                        MaxProcesses = 64, MaxFileSizeBytes = 64L << 20, MaxOpenFiles = 256, MaxOutputBytes = 1 << 20,
                    },
                }, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                r = new SandboxResult { InfrastructureError = $"sandbox '{_sandbox.Name}' threw: {ex.Message}" };
            }
            finally { _runSlots.Release(); }
        }
        onResult(Classify(baseResult with { RunMs = (long)r.Elapsed.TotalMilliseconds }, r, p.Item.Problem));
    }

    private SampleResult Classify(SampleResult b, SandboxResult r, Problem problem)
    {
        if (r.InfrastructureError is not null)
            return b with { Status = Status.SandboxError, Phase = "run", FirstError = r.InfrastructureError };
        if (r.TimedOut || r.CpuLimitExceeded)
            return b with { Status = Status.Timeout, Phase = "run", FirstError = $"tests exceeded the {_options.RunTimeout.TotalSeconds:0.#} s run limit" };
        var output = r.Stdout + "\n" + r.Stderr;
        if (r.MemoryLimitExceeded || output.Contains("memory allocation of ", StringComparison.Ordinal))
            return b with { Status = Status.RuntimeError, Phase = "run", FirstError = $"out of memory (limit {_options.RunMemoryBytes >> 20} MiB)" };
        if (r.DiskLimitExceeded)
            return b with { Status = Status.RuntimeError, Phase = "run", FirstError = "disk limit exceeded: the tests wrote more than the run's quota (files or work directory)" };
        if (r.Signal is { } sig)
            return b with { Status = Status.RuntimeError, Phase = "run", FirstError = RuntimeMessage(output, $"killed by signal {sig} ({SignalName(sig)})") };
        var summary = TestSummary().Match(r.Stdout);
        if (r.ExitCode == 0)
        {
            if (!summary.Success || summary.Groups[1].Value != "ok")
                return b with { Status = Status.RuntimeError, Phase = "run", FirstError = "the test binary exited without reporting results (did the code call process::exit?)" };
            var passed = int.Parse(summary.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            if (passed == 0 && problem.HasTests)
                return b with { Status = Status.Failed, Phase = "run", FirstError = "no tests ran although the problem defines tests" };
            return b with { Status = Status.Passed, TestOk = true, TestsRun = passed };
        }
        // libtest exits with 101 when a test failed (its summary may be cut off when a test printed a flood).
        if (r.ExitCode == 101)
            return b with
            {
                Status = Status.Failed, Phase = "run", FirstError = PanicMessage(r.Stdout) ?? "a test failed",
                TestsRun = summary.Success
                    ? int.Parse(summary.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture) + int.Parse(summary.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture)
                    : 0,
            };
        return b with { Status = Status.RuntimeError, Phase = "run", FirstError = RuntimeMessage(output, $"test binary exited with code {r.ExitCode}") };
    }

    private static string? PanicMessage(string stdout)
    {
        var lines = stdout.Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            if (!lines[i].Contains("panicked at", StringComparison.Ordinal)) continue;
            var msg = new List<string>();
            for (var j = i + 1; j < lines.Length && msg.Count < 3; j++)
            {
                var l = lines[j].TrimEnd();
                if (l.Length == 0 || l.StartsWith("note:", StringComparison.Ordinal) || l.StartsWith("----", StringComparison.Ordinal)) break;
                msg.Add(l.Trim());
            }
            var text = "panicked: " + string.Join(" ", msg);
            return text.Length > 300 ? text[..300] + "..." : text;
        }
        return null;
    }

    private static string RuntimeMessage(string output, string fallback)
    {
        if (output.Contains("has overflowed its stack", StringComparison.Ordinal)) return "stack overflow";
        return fallback;
    }

    private static string SignalName(int sig) => sig switch
    {
        4 => "SIGILL", 6 => "SIGABRT", 7 => "SIGBUS", 8 => "SIGFPE", 9 => "SIGKILL", 11 => "SIGSEGV", 15 => "SIGTERM", 24 => "SIGXCPU", 25 => "SIGXFSZ",
        _ => "signal",
    };

    private static SampleResult InfraResult(Prepared p, string phase, string error, int batchSize) =>
        Base(p.Item, p.Solution) with { Status = Status.SandboxError, Phase = phase, FirstError = error, BatchSize = batchSize };

    private static SampleResult Base(EvalItem item, Solution? solution = null) => new()
    {
        TaskId = item.Problem.TaskId,
        Sample = item.SampleIndex,
        Line = item.Line,
        Status = Status.SandboxError,
        Shape = solution?.Shape switch { CompletionShape.Body => "body", CompletionShape.WholeFunction => "whole_function", _ => null },
        Fenced = solution?.Fenced ?? false,
        SecretLike = item.SecretKinds,
        VerbatimRun = item.VerbatimRun,
        CompletionHash = item.CompletionHash,
        Extra = item.Extra,
    };

    [GeneratedRegex(@"^test result: (ok|FAILED)\. (\d+) passed; (\d+) failed", RegexOptions.Multiline)]
    private static partial Regex TestSummary();
}
