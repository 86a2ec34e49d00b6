using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Smelt.Core;
using Smelt.Model;
using Smelt.Training.Lora;
using static TorchSharp.torch;

namespace Smelt.Workflow;

public sealed record ExportOptions
{
    /// <summary>The base model directory; null: the <c>base_model_name_or_path</c> recorded in adapter_config.json.</summary>
    public string? BaseDirectory { get; init; }
    /// <summary>bf16 | f16 | f32</summary>
    public string DType { get; init; } = "bf16";
    public long MaxShardBytes { get; init; } = 2L << 30;
    /// <summary>auto (read the run's config.resolved.yml next to the adapter) | none | nf4</summary>
    public string BaseQuantization { get; init; } = "auto";
    public int Nf4BlockSize { get; init; } = 64;
    public bool Nf4DoubleQuant { get; init; } = true;
    public int Nf4DoubleQuantBlock { get; init; } = 256;
}

/// <param name="PeakWorkingSetBytes">The process's peak resident set (VmHWM). It includes the clean, reclaimable page-cache pages of the memory-mapped base.</param>
/// <param name="PeakAnonymousBytes">The largest anonymous resident memory (RssAnon) seen after each tensor and shard: what the merge itself holds.</param>
public sealed record ExportReport(string OutDirectory, string BaseDirectory, int Tensors, int MergedProjections, int Shards, long Bytes, string DType, bool DequantizedNf4,
    long PeakWorkingSetBytes, long PeakAnonymousBytes, long LargestShardBytes, TimeSpan Elapsed);

/// <summary>
/// <c>smelt export</c>: merges a PEFT LoRA adapter into its base model and writes a Hugging Face model directory.
/// The base is checked against adapter_config.json before any tensor is read. Tensors are streamed one output shard at a
/// time (each base tensor read from the memory-mapped safetensors, widened to f32, dequantised through NF4 when the
/// adapter was trained on a QLoRA base, merged as W + scaling·B·A, cast), so peak memory stays near one shard.
/// </summary>
public static class MergeExporter
{
    private static readonly string[] TokenizerFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model"];

    public static ExportReport Export(string adapterDirectory, string outDirectory, ExportOptions options, Action<string>? log = null)
    {
        var clock = Stopwatch.StartNew();
        var (outType, outName) = ParseDType(options.DType);
        if (options.MaxShardBytes < 1024) throw SmeltException.BadInput($"--max-shard-size {options.MaxShardBytes}: too small (at least 1KB)");
        if (!Directory.Exists(adapterDirectory)) throw SmeltException.BadInput($"--adapter {adapterDirectory}: directory not found");
        var (lora, recordedBase, fingerprint) = PeftAdapter.ReadConfig(adapterDirectory);
        var baseDir = ResolveBase(adapterDirectory, options.BaseDirectory, recordedBase);
        var config = ModelConfig.Load(baseDir);
        var mine = PeftAdapter.BaseFingerprint(config);
        if (fingerprint is not null && fingerprint != mine)
            throw SmeltException.BadInput($"{Path.Combine(adapterDirectory, PeftAdapter.ConfigFile)}: the adapter was trained on a different base ('{recordedBase}', fingerprint {fingerprint}); " +
                                          $"{baseDir} has fingerprint {mine} ({config.NumHiddenLayers} layers, hidden {config.HiddenSize}, vocab {config.VocabSize}). Pass the right model with --base");
        if (Directory.Exists(outDirectory) && Directory.EnumerateFileSystemEntries(outDirectory).Any())
            throw SmeltException.BadInput($"--out {outDirectory}: directory is not empty; choose a new directory so nothing is overwritten");
        if (File.Exists(outDirectory)) throw SmeltException.BadInput($"--out {outDirectory}: is a file");
        var nf4 = options.BaseQuantization switch
        {
            "none" => false,
            "nf4" => true,
            "auto" => RunUsedNf4(adapterDirectory),
            _ => throw SmeltException.BadInput($"--base-quantization '{options.BaseQuantization}': expected auto, none or nf4"),
        };

        TorchRuntime.EnsureLoaded();
        ReturnLargeBlocksToTheSystem();
        var weightsPath = Path.Combine(adapterDirectory, PeftAdapter.WeightsFile);
        if (!File.Exists(weightsPath)) throw SmeltException.BadInput($"{adapterDirectory}: {PeftAdapter.WeightsFile} is missing");
        using var adapter = SafetensorsFile.Open(weightsPath);
        using var weights = SafetensorsCheckpoint.Open(baseDir);
        var scaling = lora.UseRslora ? lora.Alpha / Math.Sqrt(lora.R) : lora.Alpha / lora.R;

        // Every LoRA pair must land on a base projection of the right shape: checked before anything is written.
        var pairs = new Dictionary<string, (string A, string B)>(StringComparer.Ordinal);
        foreach (var name in weights.Names)
        {
            if (!name.EndsWith(".weight", StringComparison.Ordinal)) continue;
            var module = name[..^".weight".Length];
            var shortName = module[(module.LastIndexOf('.') + 1)..];
            if (!name.StartsWith("model.layers.", StringComparison.Ordinal) || !lora.TargetModules.Contains(shortName)) continue;
            var a = $"base_model.model.{module}.lora_A.weight";
            var b = $"base_model.model.{module}.lora_B.weight";
            if (!adapter.Entries.TryGetValue(a, out var ea) || !adapter.Entries.TryGetValue(b, out var eb))
                throw SmeltException.BadInput($"{weightsPath}: no LoRA weights for '{module}' although target_modules lists {shortName}; the adapter does not match {baseDir}");
            var w = weights.Entry(name);
            if (w.Shape.Length != 2 || !ea.Shape.SequenceEqual([(long)lora.R, w.Shape[1]]) || !eb.Shape.SequenceEqual([w.Shape[0], (long)lora.R]))
                throw SmeltException.BadInput($"{weightsPath}: '{module}' LoRA shapes A[{string.Join(",", ea.Shape)}] B[{string.Join(",", eb.Shape)}] do not fit the base weight [{string.Join(",", w.Shape)}] with r={lora.R}");
            pairs[name] = (a, b);
        }
        var unused = adapter.Entries.Keys.Count(k => k.Contains(".lora_", StringComparison.Ordinal)) - 2 * pairs.Count;
        if (pairs.Count == 0 || unused != 0)
            throw SmeltException.BadInput($"{weightsPath}: {(pairs.Count == 0 ? "no LoRA tensor matches a projection of the base" : $"{unused} LoRA tensor(s) match no projection of the base")} ({baseDir}); is --base the model this adapter was trained on?");

        // Plan the shards from the headers alone (name order, like SafetensorsCheckpoint.Write), then fill them one at a time.
        var names = weights.Names.Where(n => !n.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        long OutBytes(string n)
        {
            var e = weights.Entry(n);
            return e.ElementCount * (IsFloat(e.DType) ? ElementSize(outType) : SafetensorsDType.Size(e.DType));
        }
        var shards = new List<List<string>> { new() };
        long current = 0;
        foreach (var n in names)
        {
            var size = OutBytes(n);
            if (shards[^1].Count > 0 && current + size > options.MaxShardBytes) { shards.Add([]); current = 0; }
            shards[^1].Add(n);
            current += size;
        }

        var full = Path.GetFullPath(outDirectory);
        var staging = full.TrimEnd('/') + $".export-{Environment.ProcessId}.tmp";
        if (Directory.Exists(staging)) Directory.Delete(staging, true);
        Directory.CreateDirectory(staging);
        long peak = 0, largest = 0, total = 0, anon = AnonymousBytes();
        try
        {
            var weightMap = new JsonObject();
            for (var s = 0; s < shards.Count; s++)
            {
                var fileName = shards.Count == 1 ? SafetensorsCheckpoint.SingleFile : $"model-{s + 1:D5}-of-{shards.Count:D5}.safetensors";
                var tensors = new List<(string, Tensor)>();
                try
                {
                    foreach (var n in shards[s])
                    {
                        tensors.Add((n, Convert(weights, adapter, n, pairs, scaling, nf4, options, outType)));
                        weightMap[n] = fileName;
                        anon = Math.Max(anon, AnonymousBytes());
                    }
                    // The writer makes detach()/cpu() views per tensor without disposing them; a scope frees them now
                    // instead of when the garbage collector gets to them (each pins a whole tensor's storage).
                    using (NewDisposeScope())
                        SafetensorsWriter.Write(Path.Combine(staging, fileName), tensors, new Dictionary<string, string> { ["format"] = "pt" });
                    anon = Math.Max(anon, AnonymousBytes());
                    var bytes = new FileInfo(Path.Combine(staging, fileName)).Length;
                    largest = Math.Max(largest, bytes);
                    total += bytes;
                }
                finally
                {
                    foreach (var (_, t) in tensors) t.Dispose();
                }
                peak = Math.Max(peak, Process.GetCurrentProcess().WorkingSet64);
                log?.Invoke($"wrote {fileName} ({shards[s].Count} tensors; resident anonymous memory {AnonymousBytes() >> 20} MiB)");
            }
            if (shards.Count > 1)
            {
                var index = new JsonObject
                {
                    ["metadata"] = new JsonObject { ["total_size"] = names.Sum(OutBytes) },
                    ["weight_map"] = weightMap,
                };
                AtomicFile.WriteAllText(Path.Combine(staging, SafetensorsCheckpoint.IndexFile), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
            }
            (config with { TorchDtype = outName }).Save(staging);
            foreach (var f in TokenizerFiles)
                if (File.Exists(Path.Combine(baseDir, f))) File.Copy(Path.Combine(baseDir, f), Path.Combine(staging, f));
            var gen = Path.Combine(baseDir, "generation_config.json");
            if (File.Exists(gen)) File.Copy(gen, Path.Combine(staging, "generation_config.json"));
            else WriteGenerationConfig(config, Path.Combine(staging, "generation_config.json"));
            if (Directory.Exists(full)) Directory.Delete(full);
            Directory.Move(staging, full);
        }
        catch
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, true);
            throw;
        }
        peak = Math.Max(peak, Process.GetCurrentProcess().PeakWorkingSet64);
        return new ExportReport(full, baseDir, names.Count, pairs.Count, shards.Count, total, outName, nf4, peak, anon, largest, clock.Elapsed);
    }

    private static Tensor Convert(SafetensorsCheckpoint weights, SafetensorsFile adapter, string name, Dictionary<string, (string A, string B)> pairs, double scaling,
        bool nf4, ExportOptions o, ScalarType outType)
    {
        var entry = weights.Entry(name);
        if (!IsFloat(entry.DType)) return weights.Read(name);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var w = weights.Read(name).to(ScalarType.Float32);
        if (pairs.TryGetValue(name, out var pair))
        {
            if (nf4)
            {
                using var q = Nf4Tensor.Quantize(w, o.Nf4BlockSize, o.Nf4DoubleQuant, o.Nf4DoubleQuantBlock);
                w = q.Dequantize(ScalarType.Float32);
            }
            var a = adapter.Read(pair.A).to(ScalarType.Float32);
            var b = adapter.Read(pair.B).to(ScalarType.Float32);
            w = w + b.matmul(a) * scaling;
        }
        return w.to(outType).contiguous().MoveToOuterDisposeScope();
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mallopt")]
    private static extern int Mallopt(int param, int value);

    /// <summary>
    /// glibc keeps freed blocks below its (self-raising) mmap threshold in its arenas, so the per-tensor temporaries of a
    /// merge would pile up as resident memory. Serving every block of 1 MiB or more with mmap returns each to the system
    /// when it is freed; on the 100m benchmark this lowers the peak anonymous memory by a third. No-op off glibc/Linux.
    /// </summary>
    private static void ReturnLargeBlocksToTheSystem()
    {
        if (!OperatingSystem.IsLinux()) return;
        try { Mallopt(-3 /* M_MMAP_THRESHOLD */, 1 << 20); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }

    /// <summary>RssAnon from /proc/self/status (Linux); 0 where it is not available.</summary>
    internal static long AnonymousBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
                    return long.Parse(line["RssAnon:".Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException) { }
        return 0;
    }

    private static string ResolveBase(string adapterDirectory, string? given, string recorded)
    {
        var configPath = Path.Combine(adapterDirectory, PeftAdapter.ConfigFile);
        if (given is not null)
        {
            if (!Directory.Exists(given)) throw SmeltException.BadInput($"--base {given}: directory not found");
            return Path.GetFullPath(given);
        }
        if (string.IsNullOrWhiteSpace(recorded))
            throw SmeltException.BadInput($"{configPath}: base_model_name_or_path is missing or empty, so the base model is unknown; pass --base DIR (the model the adapter was trained on)");
        if (Directory.Exists(recorded)) return Path.GetFullPath(recorded);
        var beside = Path.Combine(adapterDirectory, recorded);
        if (!Path.IsPathRooted(recorded) && Directory.Exists(beside)) return Path.GetFullPath(beside);
        throw SmeltException.BadInput($"{configPath}: the base model '{recorded}' is not a local directory" +
                                      (ModelCard.LooksLikeHubId(recorded) ? $"; download it (`smelt hub download {recorded} --out DIR`) and pass --base DIR" : "; pass --base DIR (the model the adapter was trained on)"));
    }

    /// <summary>Whether the run that wrote this adapter (its config.resolved.yml one level up) trained on an NF4-quantised base.</summary>
    private static bool RunUsedNf4(string adapterDirectory)
    {
        var full = Path.GetFullPath(adapterDirectory).TrimEnd('/');
        foreach (var candidate in new[] { Path.GetDirectoryName(full), Path.GetDirectoryName(Path.GetDirectoryName(full) ?? ""), Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(full) ?? "") ?? "") })
        {
            if (candidate is null) continue;
            var resolved = Path.Combine(candidate, "config.resolved.yml");
            if (!File.Exists(resolved)) continue;
            var text = File.ReadAllText(resolved);
            var stream = new YamlDotNet.RepresentationModel.YamlStream();
            stream.Load(new StringReader(text));
            if (stream.Documents.FirstOrDefault()?.RootNode is YamlDotNet.RepresentationModel.YamlMappingNode root &&
                root.Children.TryGetValue(new YamlDotNet.RepresentationModel.YamlScalarNode("quantization"), out var q) &&
                q is YamlDotNet.RepresentationModel.YamlMappingNode qm &&
                qm.Children.TryGetValue(new YamlDotNet.RepresentationModel.YamlScalarNode("method"), out var m))
                return (m as YamlDotNet.RepresentationModel.YamlScalarNode)?.Value == "nf4";
            return false;
        }
        return false;
    }

    private static void WriteGenerationConfig(ModelConfig c, string path)
    {
        var o = new JsonObject();
        if (c.BosTokenId is int bos) o["bos_token_id"] = bos;
        if (c.EosTokenIds.Count > 0) o["eos_token_id"] = new JsonArray([.. c.EosTokenIds.Select(e => (JsonNode)e)]);
        if (c.PadTokenId is int pad) o["pad_token_id"] = pad;
        AtomicFile.WriteAllText(path, o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    public static (ScalarType Type, string TorchName) ParseDType(string name) => name switch
    {
        "bf16" or "bfloat16" => (ScalarType.BFloat16, "bfloat16"),
        "f16" or "fp16" or "float16" => (ScalarType.Float16, "float16"),
        "f32" or "fp32" or "float32" => (ScalarType.Float32, "float32"),
        _ => throw SmeltException.BadInput($"--dtype '{name}': expected bf16, f16 or f32"),
    };

    /// <summary>Parses sizes such as <c>2GB</c>, <c>500MB</c>, <c>64KiB</c> or a plain byte count.</summary>
    public static long ParseSize(string text)
    {
        var t = text.Trim();
        var i = 0;
        while (i < t.Length && (char.IsAsciiDigit(t[i]) || t[i] == '.')) i++;
        if (i == 0 || !double.TryParse(t[..i], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var n) || n <= 0)
            throw SmeltException.BadInput($"--max-shard-size '{text}': expected a size such as 2GB, 500MB or 1048576");
        var unit = t[i..].Trim().ToUpperInvariant();
        double mult = unit switch
        {
            "" or "B" => 1,
            "KB" => 1e3, "MB" => 1e6, "GB" => 1e9,
            "K" or "KIB" => 1024, "M" or "MIB" => 1 << 20, "G" or "GIB" => 1 << 30,
            _ => throw SmeltException.BadInput($"--max-shard-size '{text}': unknown unit '{unit}' (use B, KB, MB, GB, KiB, MiB or GiB)"),
        };
        return (long)(n * mult);
    }

    private static bool IsFloat(string dtype) => dtype is "F32" or "F16" or "BF16" or "F64";

    private static long ElementSize(ScalarType t) => t switch { ScalarType.Float32 => 4, _ => 2 };
}
