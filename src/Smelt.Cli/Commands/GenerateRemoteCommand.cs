using System.CommandLine;
using Smelt.Core;
using Smelt.Model;
using Smelt.Workflow;

namespace Smelt.Cli;

/// <summary>
/// <c>smelt generate-remote --endpoint URL --remote-model NAME --problems P.jsonl --out S.jsonl</c>: samples from an
/// OpenAI-compatible chat or completions server, in the samples format <c>smelt eval</c> reads.
/// </summary>
internal static class GenerateRemoteCommand
{
    public static Command Create()
    {
        var endpoint = new Option<string>("--endpoint") { Description = "Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1", Required = true };
        var model = new Option<string>("--remote-model") { Description = "Model name the server serves", Required = true };
        var api = new Option<string>("--api") { Description = "chat|completions", DefaultValueFactory = _ => "chat" };
        var keyEnv = new Option<string?>("--api-key-env") { Description = "Name of the environment variable that holds the API key (the key itself is never passed on the command line)" };
        var problems = new Option<string>("--problems") { Description = "Problem file (JSONL: task_id, prompt[, declaration])", Required = true };
        var output = new Option<string>("--out") { Description = "Samples file to write (JSONL: task_id, completion)", Required = true };
        var n = new Option<int>("--n") { Description = "Samples per problem", DefaultValueFactory = _ => 1 };
        var temperature = new Option<double>("--temperature") { Description = "Sampling temperature", DefaultValueFactory = _ => 0.8 };
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling", DefaultValueFactory = _ => 0.95 };
        var maxTokens = new Option<int>("--max-new-tokens") { Description = "max_tokens per sample", DefaultValueFactory = _ => 512 };
        var stop = new Option<string[]>("--stop") { Description = "Stop sequence (repeatable)" };
        var system = new Option<string?>("--system-prompt") { Description = "System message for the chat API" };
        var timeout = new Option<double>("--request-timeout") { Description = "Seconds one request may take", DefaultValueFactory = _ => 120 };
        var retries = new Option<int>("--retries") { Description = "Retries on 429, 5xx, refused connections and timeouts (exponential backoff)", DefaultValueFactory = _ => 5 };
        var noN = new Option<bool>("--one-per-request") { Description = "Ask for one sample per request (for servers without the n parameter)" };
        var shard = new Option<string?>("--shard") { Description = "Only the problems of shard i/N (0-based), e.g. --shard $JOB_COMPLETION_INDEX/8" };
        var command = new Command("generate-remote", "Draw samples from an OpenAI-compatible chat/completions endpoint, for `smelt eval` (compare a served model on the same harness)");
        foreach (var o in new Option[] { endpoint, model, api, keyEnv, problems, output, n, temperature, topP, maxTokens, stop, system, timeout, retries, noN, shard }) command.Options.Add(o);
        command.SetAction(async (parse, ct) =>
        {
            var tasks = ProblemGeneration.ReadProblems(parse.GetValue(problems)!);
            if (parse.GetValue(shard) is { } s) tasks = ShardSpec.Parse(s).Filter(tasks, t => t.TaskId);
            var options = new EndpointOptions
            {
                BaseUrl = parse.GetValue(endpoint)!, Model = parse.GetValue(model)!, Api = parse.GetValue(api)!, ApiKeyEnv = parse.GetValue(keyEnv),
                Temperature = parse.GetValue(temperature), TopP = parse.GetValue(topP), MaxTokens = parse.GetValue(maxTokens), Stop = parse.GetValue(stop) ?? [],
                RequestTimeout = TimeSpan.FromSeconds(parse.GetValue(timeout)), MaxRetries = parse.GetValue(retries), UseN = !parse.GetValue(noN),
            };
            if (parse.GetValue(system) is { } sp) options = options with { SystemPrompt = sp };
            using var client = new RemoteGenerator(options);
            var outPath = parse.GetValue(output)!;
            var summary = await client.RunAsync(tasks, outPath, parse.GetValue(n), p => Console.Error.WriteLine(p.Resumed
                ? $"[{p.Done}/{p.Total}] {p.TaskId}: already in {outPath}.partial" : $"[{p.Done}/{p.Total}] {p.TaskId}"), ct);
            Console.WriteLine(Redactor.Redact($"wrote {summary.Samples} samples for {summary.Tasks} tasks to {summary.Output} ({summary.HttpAttempts} HTTP requests, {summary.Resumed} tasks resumed)"));
            return ExitCodes.Ok;
        });
        return command;
    }
}
