using System.CommandLine;
using System.Text.Json;
using Smelt.Core;
using Smelt.Model;

namespace Smelt.Cli;

/// <summary>
/// <c>smelt generate --model DIR [--adapter DIR] --prompt TEXT | --problems P.jsonl --out S.jsonl [sampling options] [--json]</c>
/// </summary>
internal static class GenerateCommand
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model directory (Hugging Face layout: config.json, *.safetensors, tokenizer.json) or a hub id such as Qwen/Qwen2.5-Coder-0.5B", Required = true };
        var adapter = new Option<string?>("--adapter") { Description = "LoRA adapter directory (PEFT layout) applied on top of the model" };
        var prompt = new Option<string?>("--prompt") { Description = "Text to continue" };
        var problems = new Option<string?>("--problems") { Description = "Problem file (JSONL: task_id, prompt[, declaration]); needs --out" };
        var output = new Option<string?>("--out") { Description = "Samples file to write (JSONL: task_id, completion), read by `smelt eval`" };
        var n = new Option<int?>("--n") { Description = "Samples per prompt/problem (default 1 for --prompt, 10 for --problems)" };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature; 0 = greedy", DefaultValueFactory = _ => 0.8 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling: keep the smallest set of tokens with this much probability", DefaultValueFactory = _ => 0.95 };
        var topK = new Option<int>("--top-k") { Description = "Keep only the k most likely tokens; 0 = off", DefaultValueFactory = _ => 0 };
        var repetition = new Option<double>("--repetition-penalty") { Description = "Penalty for tokens already present; 1 = off", DefaultValueFactory = _ => 1.0 };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens to generate per sample", DefaultValueFactory = _ => 256 };
        var seed = new Option<long>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 0 };
        var stop = new Option<string[]>("--stop") { Description = "Stop sequence (repeatable); problems default to a column-0 '}' (kept)", AllowMultipleArgumentsPerToken = false };
        var batch = new Option<int>("--batch-size") { Description = "Sequences generated together", DefaultValueFactory = _ => 8 };
        var device = new Option<string>("--device") { Description = "auto|cpu|cuda", DefaultValueFactory = _ => "auto" };
        var dtype = new Option<string>("--dtype") { Description = "auto|float32|bfloat16|float16; auto = bfloat16 on CPUs with native bf16 for 50M+ parameter models, else config.json's torch_dtype", DefaultValueFactory = _ => "auto" };
        var chat = new Option<string>("--chat-format") { Description = "raw|llama3|chatml: wrap --prompt as a user turn", DefaultValueFactory = _ => "raw" };
        var json = new Option<bool>("--json") { Description = "Print JSON: {prompt_token_ids, token_ids, text} per sample, or a summary for --problems" };

        var command = new Command("generate", "Generate text or code samples with a model (KV-cached, batched sampling)");
        var shard = new Option<string?>("--shard") { Description = "Only shard i/N (0-based) of the problems, chosen by a hash of task_id; combine shards' samples or evaluations with `smelt eval merge`" };
        foreach (var o in new Option[] { model, adapter, prompt, problems, output, n, temperature, topP, topK, repetition, maxNew, seed, stop, batch, device, dtype, chat, shard, json })
            command.Options.Add(o);
        command.SetAction((parse, ct) =>
        {
            var promptText = parse.GetValue(prompt);
            var problemsPath = parse.GetValue(problems);
            var outPath = parse.GetValue(output);
            if ((promptText is null) == (problemsPath is null)) throw SmeltException.BadInput("give exactly one of --prompt TEXT or --problems FILE");
            if (problemsPath is not null && outPath is null) throw SmeltException.BadInput("--problems needs --out FILE for the samples");
            if (problemsPath is null && outPath is not null) throw SmeltException.BadInput("--out is only used with --problems");
            var chatFormat = ChatFormats.Parse(parse.GetValue(chat));
            var stops = parse.GetValue(stop) ?? [];
            var options = new SamplingOptions
            {
                Temperature = parse.GetValue(temperature), TopP = parse.GetValue(topP), TopK = parse.GetValue(topK),
                RepetitionPenalty = parse.GetValue(repetition), MaxNewTokens = parse.GetValue(maxNew), Seed = parse.GetValue(seed),
                StopSequences = stops.Length > 0 ? stops : problemsPath is not null ? ProblemGeneration.DefaultStops : [],
                IncludeStopSequence = stops.Length == 0 && problemsPath is not null,
            };
            options.Validate();
            var tasks = problemsPath is not null ? ProblemGeneration.ReadProblems(problemsPath) : null;
            if (parse.GetValue(shard) is { } shardText)
            {
                if (tasks is null) throw SmeltException.BadInput("--shard needs --problems");
                tasks = Smelt.Workflow.ShardSpec.Parse(shardText).Filter(tasks, t => t.TaskId);
            }

            // A local directory is used as it is; a hub id (org/name) is fetched into, or found in, the shared hub cache.
            var modelDir = Smelt.Hub.ModelLocator.ResolveAsync(parse.GetValue(model)!, cancellationToken: ct).GetAwaiter().GetResult();
            if (!Directory.Exists(modelDir)) throw SmeltException.BadInput($"--model {modelDir}: directory not found");
            var dev = TorchRuntime.ResolveDevice(parse.GetValue(device));
            var dtypeName = parse.GetValue(dtype)!;
            var scalar = dtypeName == "auto" ? TorchRuntime.AutoDType(ModelConfig.Load(modelDir), dev) : LlamaForCausalLM.DTypeOf(dtypeName);
            using var tokenizer = TextTokenizer.Load(modelDir);
            using var lm = LlamaForCausalLM.Load(modelDir, scalar, dev);
            tokenizer.CheckMatches(lm.Config, modelDir);
            if (parse.GetValue(adapter) is { } adapterDir) AdapterRegistry.Apply(lm, adapterDir);
            var generator = new TextGenerator(lm, tokenizer);

            if (tasks is not null)
            {
                var summary = ProblemGeneration.Run(generator, tasks, outPath!, parse.GetValue(n) ?? 10, parse.GetValue(batch), options,
                    p => Console.Error.WriteLine(p.Resumed
                        ? $"[{p.Done}/{p.Total}] {p.TaskId}: already in {outPath}.partial"
                        : $"[{p.Done}/{p.Total}] {p.TaskId}: {p.NewTokens} tokens, {p.Elapsed.TotalSeconds:F0}s elapsed"), ct);
                var rate = summary.NewTokens / Math.Max(summary.Elapsed.TotalSeconds, 1e-9);
                if (parse.GetValue(json))
                    Console.WriteLine(JsonSerializer.Serialize(new
                    {
                        out_path = summary.Output, tasks = summary.Tasks, resumed_tasks = summary.Resumed, samples = summary.Samples,
                        new_tokens = summary.NewTokens, seconds = Math.Round(summary.Elapsed.TotalSeconds, 2), tokens_per_second = Math.Round(rate, 1),
                    }, Relaxed));
                else
                    Console.WriteLine($"wrote {summary.Samples} samples for {summary.Tasks} tasks to {summary.Output} ({summary.NewTokens} new tokens, {rate:F1} tokens/s)");
                return Task.FromResult(ExitCodes.Ok);
            }

            var text = chatFormat == ChatFormat.Raw ? promptText! : ChatFormats.Render(chatFormat, [new ChatMessage("user", promptText!)], tokenizer.BosToken);
            var ids = tokenizer.Encode(text, addBos: chatFormat == ChatFormat.Raw ? null : false);
            var eos = new HashSet<int>(tokenizer.EosIds.Concat(lm.Config.EosTokenIds));
            if (ChatFormats.EndOfTurn(chatFormat) is { } eot && tokenizer.IdOf(eot) is int eotId) eos.Add(eotId);
            var count = parse.GetValue(n) ?? 1;
            if (count < 1) throw SmeltException.BadInput($"--n {count}: must be at least 1");
            var results = generator.Generate(Enumerable.Repeat(ids, count).ToList(), options, eos, ct);
            foreach (var r in results)
            {
                if (parse.GetValue(json))
                    Console.WriteLine(JsonSerializer.Serialize(new { prompt_token_ids = r.PromptTokenIds, token_ids = r.TokenIds, text = r.Text }, Relaxed));
                else
                {
                    Console.WriteLine(r.Text);
                    if (count > 1) Console.WriteLine("----");
                }
            }
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }
}
