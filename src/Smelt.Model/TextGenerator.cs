using Smelt.Core;
using static TorchSharp.torch;

namespace Smelt.Model;

/// <summary>How to pick each next token. Temperature 0 means greedy.</summary>
public sealed record SamplingOptions
{
    public double Temperature { get; init; } = 0.8;
    public double TopP { get; init; } = 0.95;
    /// <summary>0 keeps every token.</summary>
    public int TopK { get; init; }
    /// <summary>Hugging Face's rule: a seen token's logit is divided by this when positive, multiplied when negative. 1 = off.</summary>
    public double RepetitionPenalty { get; init; } = 1.0;
    public int MaxNewTokens { get; init; } = 256;
    public long Seed { get; init; }
    public IReadOnlyList<string> StopSequences { get; init; } = [];
    /// <summary>Keep the matched stop sequence at the end of the text (e.g. a closing "\n}" that completes a function).</summary>
    public bool IncludeStopSequence { get; init; }
    public bool UseKvCache { get; init; } = true;

    public void Validate()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature)) throw SmeltException.BadInput($"--temperature {Temperature}: must be 0 (greedy) or positive");
        if (!(TopP > 0 && TopP <= 1)) throw SmeltException.BadInput($"--top-p {TopP}: must be in (0, 1]");
        if (TopK < 0) throw SmeltException.BadInput($"--top-k {TopK}: must be 0 (off) or positive");
        if (!(RepetitionPenalty > 0) || double.IsInfinity(RepetitionPenalty)) throw SmeltException.BadInput($"--repetition-penalty {RepetitionPenalty}: must be positive");
        if (MaxNewTokens < 1) throw SmeltException.BadInput($"--max-new-tokens {MaxNewTokens}: must be at least 1");
        if (StopSequences.Any(string.IsNullOrEmpty)) throw SmeltException.BadInput("stop sequences must not be empty");
    }
}

public sealed record GenerationResult(int[] PromptTokenIds, int[] TokenIds, string Text, string FinishReason);

/// <summary>
/// Batched, KV-cached sampling. Prompts are left-padded to a common length; each row has its own random stream
/// (seed, row), so a row's tokens do not depend on what else is in the batch.
/// </summary>
public sealed class TextGenerator(LlamaForCausalLM model, TextTokenizer? tokenizer)
{
    public LlamaForCausalLM Model => model;
    /// <summary>Null only for token-level use (benchmarks): texts are then empty and stop sequences unavailable.</summary>
    public TextTokenizer Tokenizer => tokenizer ?? throw new InvalidOperationException("this generator has no tokenizer");

    public IReadOnlyList<GenerationResult> Generate(IReadOnlyList<int[]> prompts, SamplingOptions o, IReadOnlySet<int>? eos = null,
        CancellationToken ct = default)
    {
        o.Validate();
        eos ??= tokenizer?.EosIds ?? new HashSet<int>();
        if (tokenizer is null && o.StopSequences.Count > 0) throw new InvalidOperationException("stop sequences need a tokenizer");
        if (prompts.Count == 0) return [];
        if (prompts.Any(p => p.Length == 0)) throw SmeltException.BadInput("a prompt encodes to no tokens (empty prompt and no BOS token)");
        var b = prompts.Count;
        var promptLen = prompts.Max(p => p.Length);
        var total = promptLen + o.MaxNewTokens;
        if (total > model.Config.MaxPositionEmbeddings)
            throw SmeltException.BadInput($"prompt ({promptLen} tokens) + --max-new-tokens ({o.MaxNewTokens}) exceeds the model's max_position_embeddings ({model.Config.MaxPositionEmbeddings})");
        var vocab = model.Config.VocabSize;
        // Embedding rows past the tokenizer's vocabulary (padding to a round size) are never valid tokens: never sample them.
        var sampleVocab = tokenizer is null ? vocab : Math.Min(vocab, tokenizer.VocabSize);
        var pad = model.Config.PadTokenId ?? eos.DefaultIfEmpty(0).First();

        // Left-padded token grid and its padding mask; generated tokens are appended on the right.
        var tokens = new long[b, total];
        var mask = new long[b, total];
        for (var r = 0; r < b; r++)
        {
            var offset = promptLen - prompts[r].Length;
            for (var i = 0; i < offset; i++) tokens[r, i] = pad;
            for (var i = 0; i < prompts[r].Length; i++) { tokens[r, offset + i] = prompts[r][i]; mask[r, offset + i] = 1; }
        }
        var generated = Enumerable.Range(0, b).Select(_ => new List<int>()).ToArray();
        var seen = prompts.Select(p => new HashSet<int>(p)).ToArray();
        var finish = new string?[b];
        var text = new string?[b];
        var rngs = Enumerable.Range(0, b).Select(r => RowRandom(o.Seed, r)).ToArray();
        var device = model.Device;

        using var noGrad = no_grad();
        using var cache = o.UseKvCache ? new KvCache(model.Config, b, total, model.DType, device) : null;
        var length = promptLen;
        var fed = 0; // positions already in the cache
        float[]? pending = null;
        if (cache is not null && b > 1 && prompts.All(p => p.AsSpan().SequenceEqual(prompts[0])))
        {
            pending = SharedPrefill(prompts[0], cache, b);
            fed = length;
        }
        while (length < total && finish.Any(f => f is null))
        {
            ct.ThrowIfCancellationRequested();
            float[] last;
            if (pending is not null) { last = pending; pending = null; }
            else
            {
                using var scope = NewDisposeScope();
                var start = o.UseKvCache ? fed : 0;
                var ids = Slice(tokens, start, length).to(device);
                var maskSoFar = Slice(mask, 0, length).to(device);
                var positions = Slice(PositionIds(mask, length), start, length).to(device);
                var logits = model.Forward(ids, positions, maskSoFar, cache);
                last = logits.select(1, -1).cpu().data<float>().ToArray();
                fed = length;
            }
            for (var r = 0; r < b; r++)
            {
                if (finish[r] is not null) { tokens[r, length] = pad; continue; }
                var row = new Span<float>(last, r * vocab, sampleVocab);
                var next = Sample(row, seen[r], o, rngs[r]);
                tokens[r, length] = next;
                mask[r, length] = 1;
                if (eos.Contains(next)) { finish[r] = "eos"; continue; }
                generated[r].Add(next);
                seen[r].Add(next);
                if (o.StopSequences.Count > 0 && StopAt(tokenizer!.Decode(generated[r]), o) is { } cut) { text[r] = cut; finish[r] = "stop"; }
            }
            length++;
        }
        return Enumerable.Range(0, b).Select(r => new GenerationResult(prompts[r], [.. generated[r]],
            text[r] ?? tokenizer?.Decode(generated[r]) ?? "", finish[r] ?? "length")).ToList();
    }

    /// <summary>n samples of one prompt: run the prompt once, copy its keys/values to every row, repeat its last logits.</summary>
    private float[] SharedPrefill(int[] prompt, KvCache cache, int rows)
    {
        using var scope = NewDisposeScope();
        using var single = new KvCache(model.Config, 1, prompt.Length, model.DType, model.Device);
        var ids = tensor(prompt.Select(i => (long)i).ToArray()).unsqueeze(0).to(model.Device);
        var last = model.Forward(ids, cache: single).select(1, -1).cpu().data<float>().ToArray();
        cache.FillFrom(single);
        var all = new float[rows * last.Length];
        for (var r = 0; r < rows; r++) last.CopyTo(all, r * last.Length);
        return all;
    }

    /// <summary>A reproducible stream per (seed, row): SplitMix64 of the pair seeds System.Random.</summary>
    public static Random RowRandom(long seed, int row)
    {
        unchecked
        {
            var z = (ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)row + 1;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return new Random((int)((z ^ (z >> 31)) & 0x7FFFFFFF));
        }
    }

    /// <summary>Position of each token among its row's real tokens (padding counts as 0), computed on the host.</summary>
    private static long[,] PositionIds(long[,] mask, int length)
    {
        var rows = mask.GetLength(0);
        var positions = new long[rows, length];
        for (var r = 0; r < rows; r++)
        {
            long seen = 0;
            for (var i = 0; i < length; i++)
            {
                positions[r, i] = Math.Max(0, seen - 1 + mask[r, i]);
                seen += mask[r, i];
            }
        }
        return positions;
    }

    private static Tensor Slice(long[,] grid, int from, int to)
    {
        var rows = grid.GetLength(0);
        var part = new long[rows * (to - from)];
        for (var r = 0; r < rows; r++)
            for (var i = from; i < to; i++) part[r * (to - from) + i - from] = grid[r, i];
        return tensor(part).view(rows, to - from);
    }

    /// <summary>The text cut at the first stop sequence it contains, or null.</summary>
    public static string? StopAt(string text, SamplingOptions o)
    {
        var best = -1; string? which = null;
        foreach (var s in o.StopSequences)
        {
            var i = text.IndexOf(s, StringComparison.Ordinal);
            if (i >= 0 && (best < 0 || i < best)) { best = i; which = s; }
        }
        if (which is null) return null;
        return o.IncludeStopSequence ? text[..(best + which.Length)] : text[..best];
    }

    /// <summary>Repetition penalty, then greedy or temperature / top-k / top-p sampling over one row of logits.</summary>
    public static int Sample(Span<float> logits, IReadOnlySet<int> seen, SamplingOptions o, Random rng)
    {
        if (o.RepetitionPenalty != 1.0)
            foreach (var id in seen)
                if ((uint)id < (uint)logits.Length)
                    logits[id] = logits[id] > 0 ? (float)(logits[id] / o.RepetitionPenalty) : (float)(logits[id] * o.RepetitionPenalty);
        if (o.Temperature == 0) return ArgMax(logits);

        var order = new int[logits.Length];
        var keys = new float[logits.Length];
        for (var i = 0; i < order.Length; i++) { order[i] = i; keys[i] = -logits[i]; }
        Array.Sort(keys, order); // most likely first
        var copy = logits.ToArray();
        var keep = o.TopK > 0 ? Math.Min(o.TopK, order.Length) : order.Length;
        var max = copy[order[0]];
        var probs = new double[keep];
        double sum = 0;
        for (var i = 0; i < keep; i++) { probs[i] = Math.Exp((copy[order[i]] - max) / o.Temperature); sum += probs[i]; }
        double cumulative = 0;
        var cut = keep;
        for (var i = 0; i < keep; i++)
        {
            cumulative += probs[i] / sum;
            if (cumulative >= o.TopP) { cut = i + 1; break; }
        }
        double kept = 0;
        for (var i = 0; i < cut; i++) kept += probs[i];
        var u = rng.NextDouble() * kept;
        for (var i = 0; i < cut; i++)
        {
            u -= probs[i];
            if (u <= 0) return order[i];
        }
        return order[cut - 1];
    }

    private static int ArgMax(ReadOnlySpan<float> x)
    {
        var best = 0;
        for (var i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
