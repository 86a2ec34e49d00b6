using System.Diagnostics;
using System.Globalization;
using Smelt.Model;
using Smelt.Training;
using Smelt.Training.Config;
using Smelt.Training.Data;
using Smelt.Training.Lora;
using Smelt.Training.Optim;
using TorchSharp;
using static TorchSharp.torch;

// One training step here is exactly the trainer's: packed rows -> Batch (block-diagonal mask) -> forward -> summed
// cross-entropy / targets -> backward -> clip -> AdamW, on LoRA (or NF4 + LoRA) layers injected by AdapterSet.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var quick = args.Contains("--quick");
string Arg(string name, string fallback) { var i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback; }
var presets = Arg("--presets", "tiny,100m").Split(',');
var methods = Arg("--methods", "lora,qlora").Split(',');
var dtypes = Arg("--dtypes", "f32,bf16").Split(',');
var steps = int.Parse(Arg("--steps", quick ? "2" : "4"));
var seq = int.Parse(Arg("--seq", "256"));
BenchOptions.Dropout = double.Parse(Arg("--dropout", "0.05"), System.Globalization.CultureInfo.InvariantCulture); // LoRA dropout (the config default)
var checkpointingPreset = Arg("--checkpointing", "100m");   // the preset of the checkpointing on/off rows; "none" skips them
var checkpointingOnly = args.Contains("--checkpointing-only");
// Rows per step unless --batch says otherwise: 100m at a training config's default micro-batch (train.batch_size: 4).
int BatchFor(string preset) => int.Parse(Arg("--batch", preset == "tiny" ? "8" : "4"));

TorchRuntime.EnsureLoaded();
Console.WriteLine($"machine: {Environment.ProcessorCount} logical CPUs, libtorch threads {get_num_threads()}, load average {LoadAverage()}, {TotalMemoryGiB():F1} GiB RAM");
Console.WriteLine("note: other processes share these CPUs; the load average above says how much. Ratios (MFU) are against matmul measured now, under the same load.");

var peak = new Dictionary<string, double>();
foreach (var dt in dtypes)
{
    var type = dt == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
    peak[dt] = MatmulGflops(type, quick ? 512 : 1024, 5);
    Console.WriteLine($"matmul {dt,-4} {(quick ? 512 : 1024)}^3: {peak[dt],8:F1} GFLOP/s");
}
Console.WriteLine();
if (!checkpointingOnly) MainTable();
if (checkpointingPreset != "none") CheckpointingRows(checkpointingPreset, dtypes[0]);
return 0;

void MainTable()
{
    var rows = new List<(string Preset, string Method, string Dtype, int Batch, StepResult R)>();
    foreach (var preset in presets)
        foreach (var method in methods)
            foreach (var dt in dtypes)
            {
                var batch = BatchFor(preset);
                rows.Add((preset, method, dt, batch, RunStep(preset, method, dt, batch, seq, steps)));
                Console.Error.WriteLine($"  measured {preset} {method} {dt}");
            }
    // The reference again after the rows: a machine that got busier or quieter meanwhile shows here, and MFU is taken
    // against the higher of the two, so a slow first measurement cannot inflate it.
    foreach (var dt in dtypes)
    {
        var again = MatmulGflops(dt == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32, quick ? 512 : 1024, 5);
        Console.WriteLine($"matmul {dt,-4} {(quick ? 512 : 1024)}^3 after the rows: {again,8:F1} GFLOP/s; MFU below is against {Math.Max(again, peak[dt]):F1}");
        peak[dt] = Math.Max(again, peak[dt]);
    }
    Console.WriteLine();
    Console.WriteLine($"{"preset",-6} {"method",-6} {"dtype",-5} {"batch",5} {"seq",5} {"params",12} {"tok/s",9} {"best",7} {"GFLOP/s",9} {"MFU",7} {"step s",8} {"peak RSS MiB",13} {"frozen B/param",15} {"NF4 B/param",12}");
    foreach (var (preset, method, dt, batch, r) in rows)
    {
        var mfu = r.ModelGflops / peak[dt];
        Console.WriteLine($"{preset,-6} {method,-6} {dt,-5} {batch,5} {seq,5} {r.Params,12:N0} {r.TokensPerSecond,9:F0} {r.BestTokensPerSecond,7:F0} {r.ModelGflops,9:F1} {mfu,7:P1} {r.StepSeconds,8:F2} {r.PeakRssMiB,13:F0} {r.FrozenBytesPerParam,15:F3} {(double.IsNaN(r.Nf4BytesPerParam) ? "-" : r.Nf4BytesPerParam.ToString("F3")),12}");
    }
    Console.WriteLine();
    Console.WriteLine("FLOPs per trained token = 2N (forward) + 2N (backward through activations; frozen base weights get no weight gradient)");
    Console.WriteLine("  + 2·r·(in+out)·3 per adapted layer (adapter forward, both backward products) + attention 4·T·d·layers·(fwd+2 bwd)/2 (causal);");
    Console.WriteLine("tok/s and MFU use the mean step time; best = the fastest step. Matmul reference = best of 5 trials, before and after the rows.");
    Console.WriteLine("N = parameters in matmuls (projections and the output head). MFU = achieved model FLOP/s / measured matmul FLOP/s of the same dtype.");
    Console.WriteLine();
}

// The same step with train.gradient_checkpointing off and on, run after each other in this process. Memory here is the
// peak RSS during the steps alone (reset after the model is built) and that peak above the RSS just before the steps:
// what the step itself (activations, gradients) adds on top of the resident model. With glibc's default settings freed
// blocks of up to 32 MiB stay in its heaps (the mmap threshold rises after each free), so RSS follows the allocator's
// high-water mark more than the live tensors; run with MALLOC_MMAP_THRESHOLD_=65536 in the environment and tensor memory
// is mapped and unmapped with the tensors, so RSS follows them (at some cost in speed).
void CheckpointingRows(string preset, string dt)
{
    var batch = BatchFor(preset);
    var threshold = Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_");
    Console.WriteLine($"gradient checkpointing: preset {preset}, LoRA, {dt}, batch {batch}, seq {seq}, {steps} steps after a warm-up; allocator: " +
                      (threshold is null ? "Smelt's glibc settings (blocks below 32 MiB stay in the heap, so RSS includes freed blocks)" : $"MALLOC_MMAP_THRESHOLD_={threshold} (RSS follows the live tensors)"));
    Console.WriteLine($"{"checkpointing",-13} {"tok/s",9} {"best",7} {"step s",8} {"peak RSS in steps MiB",22} {"above resident MiB",19}");
    var results = new List<StepResult>();
    foreach (var on in new[] { false, true })
    {
        var r = RunStep(preset, "lora", dt, batch, seq, steps, checkpointing: on);
        results.Add(r);
        Console.WriteLine($"{(on ? "on" : "off"),-13} {r.TokensPerSecond,9:F0} {r.BestTokensPerSecond,7:F0} {r.StepSeconds,8:F2} {r.StepPeakRssMiB,22:F0} {r.StepPeakRssMiB - r.RssBeforeStepsMiB,19:F0}");
    }
    var (off, ckpt) = (results[0], results[1]);
    Console.WriteLine($"ratio on/off: tokens/s {ckpt.TokensPerSecond / off.TokensPerSecond:F2}, peak RSS in steps {ckpt.StepPeakRssMiB / off.StepPeakRssMiB:F2}, " +
                      $"above resident {(ckpt.StepPeakRssMiB - ckpt.RssBeforeStepsMiB) / Math.Max(1, off.StepPeakRssMiB - off.RssBeforeStepsMiB):F2}");
    Console.WriteLine("With checkpointing every layer runs its forward twice (without a graph, then again inside backward).");
}

// The machine's limit under the current load: the best of several timed trials (each at least ~0.25 s), so a trial
// that lost its CPU to another process does not lower the reference (which would inflate MFU).
static double MatmulGflops(ScalarType type, int n, int trials)
{
    using var a = randn(n, n).to(type);
    using var b = randn(n, n).to(type);
    for (var i = 0; i < 2; i++) { using var w = matmul(a, b); }
    var best = 0.0;
    for (var t = 0; t < trials; t++)
    {
        var reps = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < 0.25 || reps < 2) { using var c = matmul(a, b); reps++; }
        best = Math.Max(best, 2.0 * n * n * n * reps / sw.Elapsed.TotalSeconds / 1e9);
    }
    return best;
}

static StepResult RunStep(string presetName, string method, string dt, int batch, int seq, int steps, bool checkpointing = false)
{
    var preset = ModelPresets.Get(presetName);
    var config = preset.Config;
    GC.Collect();
    ResetPeakRss();
    manual_seed(1);
    using var model = new LlamaForCausalLM(config);
    model.InitWeights(1);
    if (dt == "bf16") model.to(ScalarType.BFloat16);
    var lora = new LoraSection { R = 16, Alpha = 32, Dropout = BenchOptions.Dropout };
    var quant = new QuantizationSection { Method = method == "qlora" ? "nf4" : "none" };
    var adapters = AdapterSet.Inject(model, lora, quant, 1);
    GC.Collect();
    using var opt = new AdamW(adapters.Parameters().Select(p => (p.PeftName, p.Param)).ToList(), 0.9, 0.999, 1e-8, 0);
    model.train();
    model.GradientCheckpointing = checkpointing;
    var rng = new Random(1);
    var packer = new Packer(seq, 0);
    PackedRow Row() => packer.Pack([new TokenizedDoc("r", Enumerable.Range(0, seq).Select(_ => rng.Next(preset.TokenizerVocab)).ToArray(), Enumerable.Repeat(true, seq).ToArray())]).First();

    double Step()
    {
        var rows = Enumerable.Range(0, batch).Select(_ => Row()).ToList();
        using var b = Batch.From(rows);
        var sw = Stopwatch.StartNew();
        opt.ZeroGrad();
        using (var scope = NewDisposeScope())
        {
            var loss = TokenLoss.Summed(model, b) / b.TargetTokens;
            loss.backward();
        }
        opt.ClipGradNorm(1.0);
        opt.Step(1e-4);
        return sw.Elapsed.TotalSeconds;
    }

    GC.Collect();
    var buildPeak = PeakRssMiB(); // model build (and quantisation)
    var rssBefore = RssMiB();
    ResetPeakRss();
    Step(); // warm-up
    var seconds = Enumerable.Range(0, steps).Select(_ => Step()).ToList();
    var stepSeconds = seconds.Average();
    var bestSeconds = seconds.Min();
    var tokens = batch * seq;
    var stepPeak = PeakRssMiB();

    long h = config.HiddenSize, layers = config.NumHiddenLayers;
    long projections = layers * (h * config.NumAttentionHeads * config.HeadDim * 2 + h * config.NumKeyValueHeads * config.HeadDim * 2 + 3 * h * config.IntermediateSize);
    long head = h * config.VocabSize;
    var n = projections + head;
    var adapterFlops = adapters.Layers.Sum(l => 2.0 * l.Layer.Rank * (l.Layer.InFeatures + l.Layer.OutFeatures) * 3);
    var attention = 4.0 * seq * config.NumAttentionHeads * config.HeadDim * layers / 2 * 3; // QK^T and AV, causal half, fwd + 2x bwd
    var flopsPerToken = 4.0 * n + adapterFlops + attention;
    return new StepResult(config.ParameterCount(), tokens / stepSeconds, tokens / bestSeconds, flopsPerToken * tokens / stepSeconds / 1e9, stepSeconds,
        Math.Max(buildPeak, stepPeak), adapters.Memory.FrozenBytesPerParam, adapters.Memory.QuantizedBytesPerParam, stepPeak, rssBefore);
}

// Linux: writing 5 to clear_refs resets the process's peak RSS (VmHWM), so each configuration reports its own peak
// (model build, quantisation and the steps), not the high-water mark of the ones before it. Heap pages that glibc kept
// after an earlier configuration freed them are handed back first (malloc_trim), or they would count as resident here.
static void ResetPeakRss()
{
    try { Native.malloc_trim(0); } catch (DllNotFoundException) { } catch (EntryPointNotFoundException) { }
    try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
}

static double PeakRssMiB() => StatusMiB("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0;

static double RssMiB() => StatusMiB("VmRSS:") ?? Process.GetCurrentProcess().WorkingSet64 / 1048576.0;

static double? StatusMiB(string key)
{
    foreach (var line in File.ReadLines("/proc/self/status"))
        if (line.StartsWith(key, StringComparison.Ordinal))
            return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    return null;
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

static double TotalMemoryGiB() => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 1073741824.0;

sealed record StepResult(long Params, double TokensPerSecond, double BestTokensPerSecond, double ModelGflops, double StepSeconds, double PeakRssMiB, double FrozenBytesPerParam, double Nf4BytesPerParam,
    double StepPeakRssMiB, double RssBeforeStepsMiB);

static class Native
{
    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "malloc_trim")]
    public static extern int malloc_trim(nuint pad);
}

static class BenchOptions
{
    public static double Dropout = 0.05;
}
