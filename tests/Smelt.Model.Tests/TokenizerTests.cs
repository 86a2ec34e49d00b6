using System.Text;
using System.Text.Json.Nodes;
using Smelt.Core;
using Smelt.Model;
using Smelt.TestSupport;

namespace Smelt.Model.Tests;

/// <summary>One trained tokenizer shared by the tests of this class (training takes a moment).</summary>
public sealed class TrainedTokenizerFixture : IDisposable
{
    public DirectoryInfo Dir { get; } = Directory.CreateTempSubdirectory("smelt-tok-");
    public BpeTrainer.Result Result { get; }
    public IReadOnlyList<string> Corpus { get; }

    public TrainedTokenizerFixture()
    {
        Corpus = TokenizerTests.CorpusTexts();
        Result = BpeTrainer.Train(Corpus, vocabSize: 1024);
        BpeTrainer.Save(Result, Dir.FullName);
    }

    public void Dispose() => Dir.Delete(true);
}

public sealed class TokenizerTests(TrainedTokenizerFixture fx) : IClassFixture<TrainedTokenizerFixture>
{
    /// <summary>The project's Rust corpus (data/corpus) when present, else this repository's own C# sources as stand-in text.</summary>
    internal static IReadOnlyList<string> CorpusTexts()
    {
        var corpus = Path.Combine(TestEnvironment.RepoRoot, "data", "corpus");
        var files = Directory.Exists(corpus) ? Directory.GetFiles(corpus, "*.rs", SearchOption.AllDirectories) : [];
        if (files.Length < 3) files = Directory.GetFiles(Path.Combine(TestEnvironment.RepoRoot, "src", "Smelt.Model"), "*.cs");
        return files.Order(StringComparer.Ordinal).Select(File.ReadAllText).ToList();
    }

    [Fact]
    public void Round_trips_every_corpus_file_exactly()
    {
        using var tok = TextTokenizer.Load(fx.Dir.FullName);
        long bytes = 0, tokens = 0;
        foreach (var text in fx.Corpus)
        {
            var ids = tok.Encode(text, addBos: false);
            Assert.Equal(text, tok.Decode(ids));
            bytes += Encoding.UTF8.GetByteCount(text);
            tokens += ids.Length;
        }
        // The merges were learned from this text, so they must compress it well below one token per byte.
        Assert.True(tokens * 2 < bytes, $"{tokens} tokens for {bytes} bytes");
    }

    [Theory]
    [InlineData("fn main() { println!(\"héllo, wörld — ✓ 🦀 日本語\"); }\n")]
    [InlineData("  \t\n\r\n   trailing   ")]
    [InlineData("let x = 'a'; // it's\u00a0odd\u200b")]
    [InlineData("")]
    public void Round_trips_unusual_text(string text)
    {
        using var tok = TextTokenizer.Load(fx.Dir.FullName);
        Assert.Equal(text, tok.Decode(tok.Encode(text, addBos: false)));
    }

    [Fact]
    public void Native_encoder_applies_the_learned_merges_as_a_plain_reference_bpe_does()
    {
        using var tok = TextTokenizer.Load(fx.Dir.FullName);
        var rank = fx.Result.Merges.Select((m, i) => (m, i)).ToDictionary(x => x.m, x => x.i);
        var vocab = fx.Result.Vocab.Select((s, i) => (s, i)).ToDictionary(x => x.s, x => x.i);
        var text = fx.Corpus[0][..Math.Min(4000, fx.Corpus[0].Length)];
        var expected = new List<int>();
        foreach (System.Text.RegularExpressions.Match m in BpeTrainer.PreTokenizer().Matches(text))
        {
            var symbols = ByteLevel.Encode(Encoding.UTF8.GetBytes(m.Value)).Select(c => c.ToString()).ToList();
            while (true)
            {
                var best = -1; var bestRank = int.MaxValue;
                for (var i = 0; i + 1 < symbols.Count; i++)
                    if (rank.TryGetValue((symbols[i], symbols[i + 1]), out var r) && r < bestRank) { bestRank = r; best = i; }
                if (best < 0) break;
                symbols[best] += symbols[best + 1];
                symbols.RemoveAt(best + 1);
            }
            expected.AddRange(symbols.Select(s => vocab[s]));
        }
        Assert.Equal(expected, tok.Encode(text, addBos: false));
    }

    [Fact]
    public void Special_tokens_bos_and_eos_follow_the_config_files()
    {
        using var tok = TextTokenizer.Load(fx.Dir.FullName);
        var bos = tok.IdOf(BpeTrainer.BeginOfText)!.Value;
        var imStart = tok.IdOf(BpeTrainer.ImStart)!.Value;
        Assert.Equal(1024, tok.VocabSize);
        Assert.Equal(bos, tok.BosId);
        Assert.True(tok.AddBos);
        Assert.Contains(tok.IdOf(BpeTrainer.EndOfText)!.Value, tok.EosIds);
        var ids = tok.Encode("<|im_start|>user\nhi<|im_end|>");
        Assert.Equal(bos, ids[0]);
        Assert.Equal(imStart, ids[1]);
        Assert.Equal(tok.IdOf(BpeTrainer.ImEnd), ids[^1]);
        Assert.Equal("user\nhi", tok.Decode(ids));
        Assert.Equal("<|begin_of_text|><|im_start|>user\nhi<|im_end|>", tok.Decode(ids, skipSpecial: false));
        Assert.DoesNotContain(bos, tok.Encode("fn f() {}", addBos: false));
        Assert.Equal(ChatFormat.Llama3, tok.TemplateFormat);
    }

    [Fact]
    public void Generation_config_adds_eos_ids()
    {
        var dir = Directory.CreateTempSubdirectory("smelt-tok-gen-");
        try
        {
            foreach (var f in fx.Dir.GetFiles()) f.CopyTo(Path.Combine(dir.FullName, f.Name));
            File.WriteAllText(Path.Combine(dir.FullName, "generation_config.json"), "{\"eos_token_id\": [1017, 1018], \"bos_token_id\": 1016}");
            using var tok = TextTokenizer.Load(dir.FullName);
            Assert.Contains(1017, tok.EosIds);
            Assert.Contains(1018, tok.EosIds);
            File.WriteAllText(Path.Combine(dir.FullName, "generation_config.json"), "{\"eos_token_id\": \"two\"}");
            var ex = Assert.Throws<SmeltException>(() => TextTokenizer.Load(dir.FullName));
            Assert.Contains("generation_config.json", ex.Message);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void Chat_formats_render_llama3_and_chatml()
    {
        var messages = new[] { new ChatMessage("system", "Be terse."), new ChatMessage("user", "Write fn add.") };
        Assert.Equal("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWrite fn add.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
            ChatFormats.Render(ChatFormat.Llama3, messages, "<|begin_of_text|>"));
        Assert.Equal("<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nWrite fn add.<|im_end|>\n<|im_start|>assistant\n",
            ChatFormats.Render(ChatFormat.ChatML, messages, ""));
        Assert.Equal("Be terse.Write fn add.", ChatFormats.Render(ChatFormat.Raw, messages, ""));
        using var tok = TextTokenizer.Load(fx.Dir.FullName);
        var ids = tok.Encode(ChatFormats.Render(ChatFormat.Llama3, messages, tok.BosToken), addBos: false);
        Assert.Equal(tok.BosId, ids[0]);
        Assert.Equal(2, ids.Count(i => i == tok.IdOf(BpeTrainer.EotId)));
        Assert.Equal(3, ids.Count(i => i == tok.IdOf(BpeTrainer.StartHeader)));
        Assert.Throws<SmeltException>(() => ChatFormats.Parse("alpaca"));
    }

    [Fact]
    public void Vocabulary_mismatch_with_the_model_is_reported_with_both_files()
    {
        using var tok = TextTokenizer.Load(fx.Dir.FullName);
        var cfg = ModelConfig.Parse(JsonNode.Parse(LlamaTests.TinyConfigJson(tied: true))!.AsObject(), "/m/config.json");
        var ex = Assert.Throws<SmeltException>(() => tok.CheckMatches(cfg, "/m"));
        Assert.Contains("tokenizer.json", ex.Message);
        Assert.Contains("/m/config.json", ex.Message);
        Assert.Contains("1024", ex.Message);
        tok.CheckMatches(cfg with { VocabSize = 1024 }, "/m");
    }

    [Fact]
    public void Post_processor_tokens_of_foreign_tokenizers_are_not_added_twice()
    {
        var dir = Directory.CreateTempSubdirectory("smelt-tok-tp-");
        try
        {
            var json = JsonNode.Parse(File.ReadAllText(Path.Combine(fx.Dir.FullName, "tokenizer.json")))!.AsObject();
            json["post_processor"] = JsonNode.Parse("""
                {"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<|begin_of_text|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
                 "pair":[{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}],
                 "special_tokens":{"<|begin_of_text|>":{"id":"<|begin_of_text|>","ids":[1016],"tokens":["<|begin_of_text|>"]}}}
                """);
            File.WriteAllText(Path.Combine(dir.FullName, "tokenizer.json"), json.ToJsonString());
            File.Copy(Path.Combine(fx.Dir.FullName, "tokenizer_config.json"), Path.Combine(dir.FullName, "tokenizer_config.json"));
            using var tok = TextTokenizer.Load(dir.FullName);
            Assert.Equal(1016, tok.BosId);
            var ids = tok.Encode("fn x() {}");
            Assert.Equal(1, ids.Count(i => i == 1016));
            Assert.DoesNotContain(1016, tok.Encode("fn x() {}", addBos: false));
        }
        finally { dir.Delete(true); }
    }

    [Theory]
    [InlineData("{ not json", "not a valid tokenizer.json")]
    [InlineData("{\"version\":\"1.0\"}", "missing object 'model'")]
    [InlineData("{\"model\":{\"type\":\"BPE\",\"vocab\":{}}}", "empty or missing vocab")]
    public void Corrupt_tokenizer_json_is_reported(string content, string expected)
    {
        var dir = Directory.CreateTempSubdirectory("smelt-tok-bad-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "tokenizer.json"), content);
            var ex = Assert.Throws<SmeltException>(() => TextTokenizer.Load(dir.FullName));
            Assert.Contains("tokenizer.json", ex.Message);
            Assert.Contains(expected, ex.Message);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void Training_is_deterministic()
    {
        var a = BpeTrainer.Train(fx.Corpus.Take(3), 400);
        var b = BpeTrainer.Train(fx.Corpus.Take(3), 400);
        Assert.Equal(a.Merges, b.Merges);
        Assert.Equal(400, a.VocabSize);
    }
}
