using System.CommandLine;
using Smelt.Core;
using Smelt.Workflow;

namespace Smelt.Cli;

/// <summary><c>smelt export --adapter DIR --out DIR [--dtype bf16|f16|f32] [--max-shard-size 2GB]</c>: merge LoRA into the base.</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var adapter = new Option<string>("--adapter") { Description = "PEFT adapter directory (adapter_config.json + adapter_model.safetensors)", Required = true };
        var output = new Option<string>("--out") { Description = "New directory for the merged Hugging Face model", Required = true };
        var baseDir = new Option<string?>("--base") { Description = "Base model directory (default: base_model_name_or_path from adapter_config.json)" };
        var dtype = new Option<string>("--dtype") { Description = "bf16|f16|f32: dtype of the merged weights (the merge itself is done in f32)", DefaultValueFactory = _ => "bf16" };
        var shard = new Option<string>("--max-shard-size") { Description = "Largest safetensors shard, e.g. 2GB, 500MB", DefaultValueFactory = _ => "2GB" };
        var quant = new Option<string>("--base-quantization") { Description = "auto|none|nf4: dequantise the base through NF4 first (auto: as the adapter's training run did)", DefaultValueFactory = _ => "auto" };
        var json = new Option<bool>("--json") { Description = "Print a JSON report" };
        var command = new Command("export", "Merge a LoRA adapter into its base model and write a Hugging Face model directory (sharded safetensors, config, tokenizer)");
        foreach (var o in new Option[] { adapter, output, baseDir, dtype, shard, quant, json }) command.Options.Add(o);
        command.SetAction((parse, ct) =>
        {
            var r = MergeExporter.Export(parse.GetValue(adapter)!, parse.GetValue(output)!, new ExportOptions
            {
                BaseDirectory = parse.GetValue(baseDir),
                DType = parse.GetValue(dtype)!,
                MaxShardBytes = MergeExporter.ParseSize(parse.GetValue(shard)!),
                BaseQuantization = parse.GetValue(quant)!,
            }, m => Console.Error.WriteLine(Redactor.Redact(m)));
            if (parse.GetValue(json))
                Console.WriteLine(Redactor.Redact(System.Text.Json.JsonSerializer.Serialize(new
                {
                    out_dir = r.OutDirectory, base_dir = r.BaseDirectory, tensors = r.Tensors, merged_projections = r.MergedProjections, shards = r.Shards,
                    bytes = r.Bytes, dtype = r.DType, dequantized_nf4 = r.DequantizedNf4, peak_working_set_bytes = r.PeakWorkingSetBytes, peak_anonymous_bytes = r.PeakAnonymousBytes,
                    largest_shard_bytes = r.LargestShardBytes, seconds = Math.Round(r.Elapsed.TotalSeconds, 2),
                })));
            else
                Console.WriteLine(Redactor.Redact($"merged {r.MergedProjections} projections{(r.DequantizedNf4 ? " (into the NF4-dequantised base)" : "")}; wrote {r.Tensors} tensors in {r.Shards} shard(s), " +
                                                  $"{InspectCommand.Size(r.Bytes)} {r.DType}, to {r.OutDirectory} (peak memory {InspectCommand.Size(r.PeakAnonymousBytes)} anonymous, {InspectCommand.Size(r.PeakWorkingSetBytes)} resident with the mapped base, {r.Elapsed.TotalSeconds:F1}s)"));
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }
}
