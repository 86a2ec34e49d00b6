// Model benchmark: matmul GFLOP/s (f32, bf16) as the machine's ceiling, then prefill and decode tokens/s for the tiny and
// ~100M presets at batch 1 and 8, with the achieved fraction of that ceiling. Usage: run.sh [--quick] [--presets tiny,100m] [--dtypes float32,bfloat16]
using System.Diagnostics;
using Smelt.Model;
using TorchSharp;
using static TorchSharp.torch;

var quick = args.Contains("--quick");
string Arg(string name, string fallback) { var i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback; }
var presets = Arg("--presets", "tiny,100m").Split(',');
var dtypes = Arg("--dtypes", "float32,bfloat16").Split(',');
var promptLen = int.Parse(Arg("--prompt", quick ? "64" : "256"));
var newTokens = int.Parse(Arg("--new", quick ? "16" : "64"));

TorchRuntime.EnsureLoaded();
if (Arg("--load", "") is { Length: > 0 } loadDir)
{
    // Peak resident memory while loading a model directory, against the size of its weights: loading copies tensor by
    // tensor from the memory map, so the increase should be about one model (page cache of the mapping aside), not two.
    var weightsBytes = Directory.GetFiles(loadDir, "*.safetensors").Sum(f => new FileInfo(f).Length);
    var before = ProcStatusKb("VmHWM");
    var swLoad = Stopwatch.StartNew();
    using (var loaded = LlamaForCausalLM.Load(loadDir, ScalarType.Float32))
    {
        var after = ProcStatusKb("VmHWM");
        var rssNow = ProcStatusKb("VmRSS");
        Console.WriteLine($"load {loadDir}: {weightsBytes / 1e6:F0} MB of safetensors in {swLoad.Elapsed.TotalSeconds:F1}s; " +
                          $"peak RSS {before / 1e3:F0} MB before, {after / 1e3:F0} MB after (+{(after - before) / 1e3:F0} MB = {(after - before) * 1e3 / weightsBytes:F2}x the weights); RSS now {rssNow / 1e3:F0} MB");
    }
    return;
}
if (Arg("--threads", "") is { Length: > 0 } threads) set_num_threads(int.Parse(threads));
Console.WriteLine($"machine: {Environment.ProcessorCount} logical CPUs, torch threads {get_num_threads()}, libtorch {__version__}, " +
                  $"CUDA {(cuda.is_available() ? "yes" : "no")}");
Console.WriteLine($"settings: prompt {promptLen} tokens, {newTokens} decoded tokens, best of 3 repetitions");
Console.WriteLine();

var ceiling = new Dictionary<ScalarType, double>();
var matmulN = quick ? 1024 : 2048;
MeasureCeiling("start");
Console.WriteLine($"bf16 / f32 matmul ratio: {ceiling[ScalarType.BFloat16] / ceiling[ScalarType.Float32]:F2}");
Console.WriteLine();
var rows = new List<(string Preset, string DType, int Batch, double PrefillTps, double DecodeTps, double PrefillFlops, double DecodeFlops, double E2eTps, ScalarType Peak)>();

foreach (var presetName in presets)
{
    var preset = ModelPresets.Get(presetName);
    foreach (var dtName in dtypes)
    {
        var dt = LlamaForCausalLM.DTypeOf(dtName);
        using var model = new LlamaForCausalLM(preset.Config, dt);
        model.InitWeights(1);
        model.eval();
        var c = preset.Config;
        // Matmul FLOPs per token: 2 x (weights used per token), attention scores/values add 4 x layers x heads x head_dim x context.
        double WeightFlops() => 2.0 * (c.ParameterCount() - (c.TieWordEmbeddings ? 0 : (long)c.VocabSize * c.HiddenSize));
        double AttnFlops(double context) => 4.0 * c.NumHiddenLayers * c.NumAttentionHeads * c.HeadDim * context;
        foreach (var batch in new[] { 1, 8 })
        {
            using var noGrad = no_grad();
            using var ids = randint(0, 1000, [batch, promptLen], dtype: ScalarType.Int64);
            double prefill = Best(quick ? 2 : 3, () =>
            {
                using var cache = new KvCache(c, batch, promptLen + 1, model.DType, model.Device);
                using var scope = NewDisposeScope();
                model.Forward(ids, cache: cache);
            });
            double decode = Best(quick ? 2 : 3, () =>
            {
                using var cache = new KvCache(c, batch, promptLen + newTokens, model.DType, model.Device);
                using (var s0 = NewDisposeScope()) model.Forward(ids, cache: cache);
                var sw = Stopwatch.StartNew();
                using var next = zeros([batch, 1], ScalarType.Int64);
                for (var t = 0; t < newTokens; t++)
                {
                    using var scope = NewDisposeScope();
                    var logits = model.Forward(next, cache: cache);
                    next.copy_(logits.select(1, -1).argmax(-1, keepdim: true));
                }
                throw new Elapsed(sw.Elapsed.TotalSeconds);
            });
            var prefillTps = batch * promptLen / prefill;
            var decodeTps = batch * newTokens / decode;
            // End to end through TextGenerator (padding mask, position ids, sampling on the host): the cost above the raw loop.
            var generator = new TextGenerator(model, null);
            var prompts = Enumerable.Range(0, batch).Select(r => Enumerable.Range(1, promptLen).Select(i => (i * 37 + r) % 1000).ToArray()).ToList();
            var opts = new SamplingOptions { Temperature = 0.8, TopP = 0.95, MaxNewTokens = newTokens, Seed = 1 };
            var endToEnd = Best(quick ? 2 : 3, () => generator.Generate(prompts, opts, new HashSet<int>()));
            var e2eTps = batch * newTokens / endToEnd;
            rows.Add((presetName, dtName, batch, prefillTps, decodeTps, WeightFlops() + AttnFlops(promptLen / 2.0),
                WeightFlops() + AttnFlops(promptLen + newTokens / 2.0), e2eTps, dt == ScalarType.Float32 ? ScalarType.Float32 : ScalarType.BFloat16));
            Console.WriteLine($"  measured {presetName} {dtName} batch {batch}");
        }
    }
}
Console.WriteLine();
MeasureCeiling("end");
Console.WriteLine();
Console.WriteLine($"{"preset",-6} {"dtype",-9} {"batch",5} {"prefill tok/s",14} {"decode tok/s",13} {"prefill %peak",14} {"decode %peak",13} {"generate tok/s",14}");
foreach (var r in rows)
{
    var peak = ceiling[r.Peak] * 1e9;
    Console.WriteLine($"{r.Preset,-6} {r.DType,-9} {r.Batch,5} {r.PrefillTps,14:F0} {r.DecodeTps,13:F1} {r.PrefillTps * r.PrefillFlops / peak,14:P1} {r.DecodeTps * r.DecodeFlops / peak,13:P1} {r.E2eTps,14:F1}");
}
Console.WriteLine();
Console.WriteLine("generate tok/s = new tokens per second through TextGenerator (prefill included, top-p sampling), the figure `smelt generate` sees.");
Console.WriteLine("%peak = achieved matmul FLOP/s (2 x weights per token + attention) / the higher start/end matmul GFLOP/s of the same dtype.");
Console.WriteLine("Figures are wall-clock on whatever else the machine runs; compare ratios within one run, not across runs.");

// The ceiling is measured before and after the model runs and the higher figure kept: on a shared machine a single
// measurement can land in a busy moment, which would inflate every fraction below.
void MeasureCeiling(string when)
{
    foreach (var dt in new[] { ScalarType.Float32, ScalarType.BFloat16 })
    {
        using var a = randn(matmulN, matmulN).to(dt);
        using var b = randn(matmulN, matmulN).to(dt);
        var best = Best(3, () => { using var c = matmul(a, b); });
        var gflops = 2.0 * matmulN * matmulN * matmulN / best / 1e9;
        ceiling[dt] = Math.Max(ceiling.GetValueOrDefault(dt), gflops);
        Console.WriteLine($"matmul {matmulN}x{matmulN} {dt,-8} ({when}): {gflops,8:F1} GFLOP/s  ({best * 1000:F1} ms); ceiling used: {ceiling[dt]:F1}");
    }
}

static long ProcStatusKb(string key)
{
    var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith(key + ":", StringComparison.Ordinal));
    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
}

static double Best(int reps, Action run)
{
    try { run(); } catch (Elapsed) { } // warm-up: first calls pay for allocation and kernel selection
    var best = double.MaxValue;
    for (var i = 0; i < reps; i++)
    {
        var sw = Stopwatch.StartNew();
        try { run(); best = Math.Min(best, sw.Elapsed.TotalSeconds); }
        catch (Elapsed e) { best = Math.Min(best, e.Seconds); }
    }
    return best;
}

/// <summary>Lets a measured block report only its timed part (excluding its own set-up).</summary>
sealed class Elapsed(double seconds) : Exception
{
    public double Seconds { get; } = seconds;
}
