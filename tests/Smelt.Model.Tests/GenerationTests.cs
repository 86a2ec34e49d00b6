using Smelt.Core;
using Smelt.Model;
using static TorchSharp.torch;

namespace Smelt.Model.Tests;

/// <summary>A tiny preset model (tokenizer trained on the corpus) whose weights are re-drawn with a large spread so that
/// next-token distributions are peaked and greedy choices are not near-ties.</summary>
public sealed class TinyModelFixture : IDisposable
{
    public DirectoryInfo Dir { get; } = Directory.CreateTempSubdirectory("smelt-gen-");
    public string ModelDir => Path.Combine(Dir.FullName, "tiny");
    public LlamaForCausalLM Model { get; }
    public TextTokenizer Tokenizer { get; }

    public TinyModelFixture()
    {
        TorchRuntime.EnsureLoaded();
        ModelPresets.Init("tiny", ModelDir, seed: 3, corpus: ModelPresets.DefaultCorpus());
        Model = LlamaForCausalLM.Load(ModelDir);
        Model.InitWeights(seed: 11, std: 0.35);
        Tokenizer = TextTokenizer.Load(ModelDir);
    }

    public void Dispose()
    {
        Model.Dispose();
        Tokenizer.Dispose();
        Dir.Delete(true);
    }
}

public sealed class GenerationTests(TinyModelFixture fx) : IClassFixture<TinyModelFixture>
{
    private int[][] Prompts() =>
    [
        fx.Tokenizer.Encode("fn add(a: i32, b: i32) -> i32 {\n"),
        fx.Tokenizer.Encode("/// Returns the largest"),
        fx.Tokenizer.Encode("use std::collections::HashMap;\n\nstruct Cache {\n    map: HashMap<String, usize>,\n}\n"),
    ];

    private static readonly HashSet<int> NoEos = [];

    [Fact]
    public void Kv_cached_greedy_generation_equals_uncached_token_for_token()
    {
        var g = new TextGenerator(fx.Model, fx.Tokenizer);
        var o = new SamplingOptions { Temperature = 0, MaxNewTokens = 40 };
        var cached = g.Generate(Prompts(), o, NoEos);
        var uncached = g.Generate(Prompts(), o with { UseKvCache = false }, NoEos);
        for (var r = 0; r < cached.Count; r++)
        {
            Assert.Equal(40, cached[r].TokenIds.Length);
            Assert.Equal(uncached[r].TokenIds, cached[r].TokenIds);
            Assert.Equal("length", cached[r].FinishReason);
        }
        Assert.True(cached.SelectMany(c => c.TokenIds).Distinct().Count() > 5, "degenerate generation would make the comparison weak");
    }

    [Fact]
    public void Seeded_sampling_is_reproducible_cache_independent_and_batch_independent()
    {
        var g = new TextGenerator(fx.Model, fx.Tokenizer);
        var o = new SamplingOptions { Temperature = 1.0, TopP = 0.9, TopK = 50, RepetitionPenalty = 1.1, MaxNewTokens = 24, Seed = 42 };
        var a = g.Generate(Prompts(), o, NoEos);
        var b = g.Generate(Prompts(), o, NoEos);
        var uncached = g.Generate(Prompts(), o with { UseKvCache = false }, NoEos);
        var other = g.Generate(Prompts(), o with { Seed = 43 }, NoEos);
        for (var r = 0; r < a.Count; r++)
        {
            Assert.Equal(a[r].TokenIds, b[r].TokenIds);
            Assert.Equal(a[r].TokenIds, uncached[r].TokenIds);
        }
        Assert.NotEqual(a.SelectMany(x => x.TokenIds), other.SelectMany(x => x.TokenIds));
        // Row 0 alone (no padding, batch of one) gives the same tokens as row 0 of the padded batch.
        var alone = g.Generate([Prompts()[0]], o, NoEos);
        Assert.Equal(a[0].TokenIds, alone[0].TokenIds);
    }

    [Fact]
    public void Identical_prompts_share_one_prefill_and_match_uncached_generation()
    {
        var g = new TextGenerator(fx.Model, fx.Tokenizer);
        var o = new SamplingOptions { Temperature = 1.0, TopP = 0.95, MaxNewTokens = 20, Seed = 5 };
        var same = Enumerable.Repeat(Prompts()[2], 4).ToList();
        var shared = g.Generate(same, o, NoEos);
        var uncached = g.Generate(same, o with { UseKvCache = false }, NoEos);
        for (var r = 0; r < same.Count; r++) Assert.Equal(uncached[r].TokenIds, shared[r].TokenIds);
        Assert.True(shared.Select(x => string.Join(",", x.TokenIds)).Distinct().Count() > 1, "rows with their own seeds should differ");
    }

    [Fact]
    public void Eos_stops_a_row_and_the_others_continue()
    {
        var g = new TextGenerator(fx.Model, fx.Tokenizer);
        var o = new SamplingOptions { Temperature = 0, MaxNewTokens = 20 };
        var free = g.Generate(Prompts(), o, NoEos);
        var stopToken = free[0].TokenIds[5];
        var firstAt = Array.IndexOf(free[0].TokenIds, stopToken);
        var stopped = g.Generate(Prompts(), o, new HashSet<int> { stopToken });
        Assert.Equal("eos", stopped[0].FinishReason);
        Assert.Equal(free[0].TokenIds[..firstAt], stopped[0].TokenIds);
        Assert.Equal(fx.Tokenizer.Decode(free[0].TokenIds[..firstAt]), stopped[0].Text);
    }

    [Fact]
    public void Stop_sequences_cut_the_text()
    {
        var g = new TextGenerator(fx.Model, fx.Tokenizer);
        var o = new SamplingOptions { Temperature = 0, MaxNewTokens = 30 };
        var free = g.Generate([Prompts()[0]], o, NoEos)[0];
        var stop = free.Text.Substring(free.Text.Length / 2, 2);
        var cut = g.Generate([Prompts()[0]], o with { StopSequences = [stop] }, NoEos)[0];
        Assert.Equal("stop", cut.FinishReason);
        Assert.Equal(free.Text[..free.Text.IndexOf(stop, StringComparison.Ordinal)], cut.Text);
        var kept = g.Generate([Prompts()[0]], o with { StopSequences = [stop], IncludeStopSequence = true }, NoEos)[0];
        Assert.Equal(cut.Text + stop, kept.Text);
    }

    [Fact]
    public void Too_long_requests_and_bad_options_are_rejected()
    {
        var g = new TextGenerator(fx.Model, fx.Tokenizer);
        var ex = Assert.Throws<SmeltException>(() => g.Generate(Prompts(), new SamplingOptions { MaxNewTokens = 5000 }));
        Assert.Contains("max_position_embeddings", ex.Message);
        Assert.Throws<SmeltException>(() => g.Generate(Prompts(), new SamplingOptions { TopP = 0 }));
        Assert.Throws<SmeltException>(() => g.Generate(Prompts(), new SamplingOptions { Temperature = -1 }));
    }
}

public sealed class SamplerTests
{
    private static readonly float[] Logits = [1.0f, 3.0f, 2.5f, -1.0f, 0.0f];

    [Fact]
    public void Greedy_and_degenerate_settings_pick_the_argmax()
    {
        var rng = new Random(1);
        Assert.Equal(1, TextGenerator.Sample(Logits.ToArray(), new HashSet<int>(), new SamplingOptions { Temperature = 0 }, rng));
        for (var i = 0; i < 50; i++)
        {
            Assert.Equal(1, TextGenerator.Sample(Logits.ToArray(), new HashSet<int>(), new SamplingOptions { Temperature = 1, TopK = 1 }, rng));
            Assert.Equal(1, TextGenerator.Sample(Logits.ToArray(), new HashSet<int>(), new SamplingOptions { Temperature = 1, TopP = 0.01 }, rng));
        }
    }

    [Fact]
    public void Repetition_penalty_follows_the_hugging_face_rule()
    {
        var logits = Logits.ToArray();
        // Token 1 (3.0) penalised by 2 becomes 1.5 < 2.5, so greedy now picks token 2.
        Assert.Equal(2, TextGenerator.Sample(logits, new HashSet<int> { 1 }, new SamplingOptions { Temperature = 0, RepetitionPenalty = 2 }, new Random(1)));
        Assert.Equal(1.5f, logits[1]);
        var negative = new float[] { -1f, -0.5f };
        TextGenerator.Sample(negative, new HashSet<int> { 0 }, new SamplingOptions { Temperature = 0, RepetitionPenalty = 2 }, new Random(1));
        Assert.Equal(-2f, negative[0]);
    }

    [Fact]
    public void Temperature_top_k_and_top_p_sample_the_right_distribution()
    {
        // Expected: softmax(logits / T) restricted to the top-k, then to the smallest top-p prefix, renormalised.
        var o = new SamplingOptions { Temperature = 0.7, TopK = 4, TopP = 0.9 };
        var sorted = Logits.Select((l, i) => (l, i)).OrderByDescending(x => x.l).Take(4).ToList();
        var p = sorted.Select(x => Math.Exp(x.l / 0.7)).ToArray();
        var z = p.Sum();
        var cum = 0.0; var keep = 0;
        while (keep < p.Length) { cum += p[keep] / z; keep++; if (cum >= 0.9) break; }
        var expected = new double[Logits.Length];
        var kept = p.Take(keep).Sum();
        for (var i = 0; i < keep; i++) expected[sorted[i].i] = p[i] / kept;

        var rng = new Random(7);
        const int draws = 40000;
        var counts = new int[Logits.Length];
        for (var n = 0; n < draws; n++) counts[TextGenerator.Sample(Logits.ToArray(), new HashSet<int>(), o, rng)]++;
        for (var i = 0; i < Logits.Length; i++)
        {
            var sd = Math.Sqrt(draws * expected[i] * (1 - expected[i])) + 1;
            Assert.True(Math.Abs(counts[i] - draws * expected[i]) < 5 * sd, $"token {i}: {counts[i]} draws, expected {draws * expected[i]:F0}");
        }
        Assert.Equal(0, counts[3]); // outside the top-k
    }

    [Fact]
    public void Stop_at_finds_the_earliest_stop_sequence()
    {
        var o = new SamplingOptions { StopSequences = ["\n}", "\nfn main"] };
        Assert.Equal("    a\n    b", TextGenerator.StopAt("    a\n    b\nfn main() {}\n}", o));
        Assert.Null(TextGenerator.StopAt("no stop here", o));
        Assert.Equal("x\n}", TextGenerator.StopAt("x\n}\n", o with { IncludeStopSequence = true }));
    }
}

public sealed class PaddedVocabularyTests
{
    [Fact]
    public void Sampling_never_picks_embedding_rows_past_the_tokenizer()
    {
        TorchRuntime.EnsureLoaded();
        var dir = Directory.CreateTempSubdirectory("smelt-padvocab-");
        try
        {
            // Plain bytes: 256 byte tokens + a few specials, while the tiny preset keeps 2048 embedding rows.
            var modelDir = Path.Combine(dir.FullName, "m");
            ModelPresets.Init("tiny", modelDir, seed: 1, corpus: null);
            using var model = LlamaForCausalLM.Load(modelDir);
            using var tokenizer = TextTokenizer.Load(modelDir);
            Assert.True(model.Config.VocabSize > tokenizer.VocabSize, "the test needs a model vocabulary larger than the tokenizer's");
            model.InitWeights(seed: 5, std: 0.5);
            var g = new TextGenerator(model, tokenizer);
            var results = g.Generate([tokenizer.Encode("fn main() {")], new SamplingOptions { Temperature = 1.5, MaxNewTokens = 200, Seed = 2 }, new HashSet<int>());
            Assert.All(results[0].TokenIds, id => Assert.InRange(id, 0, tokenizer.VocabSize - 1));
            Assert.Equal(200, results[0].TokenIds.Length);
        }
        finally { dir.Delete(true); }
    }
}
