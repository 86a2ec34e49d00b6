using System.Text;
using Smelt.Training.Data;

namespace Smelt.Training.Tests;

/// <summary>A byte-level test tokenizer: ids 0-255 are bytes; specials follow.</summary>
internal sealed class ByteTokenizer(bool chatml = false, bool bos = false) : ITrainTokenizer
{
    public int VocabSize => 260;
    public int EosId => 256;
    public int? BosId => bos ? 257 : null;
    public int PadId => 256;
    public int? SpecialTokenId(string token) => chatml ? token switch { "<|im_start|>" => 258, "<|im_end|>" => 259, _ => null } : null;
    public IReadOnlyList<int> Encode(string text) => Encoding.UTF8.GetBytes(text).Select(b => (int)b).ToArray();
    public static string Decode(IEnumerable<int> ids) => Encoding.UTF8.GetString(ids.Where(i => i < 256).Select(i => (byte)i).ToArray());
}

public sealed class FormattingAndPackingTests
{
    [Fact]
    public void Raw_code_is_trained_on_whole_with_eos()
    {
        var f = new ExampleFormatter(new ByteTokenizer(bos: true));
        var doc = f.Tokenize(new Example("a", ExampleKind.Raw, Text: "fn x() {}"));
        Assert.Equal(257, doc.Tokens[0]);
        Assert.False(doc.Train[0]);
        Assert.Equal(256, doc.Tokens[^1]);
        Assert.All(doc.Train.Skip(1), Assert.True);
        Assert.Equal("fn x() {}", ByteTokenizer.Decode(doc.Tokens));
    }

    [Fact]
    public void Instruction_masks_the_prompt_tokens()
    {
        var f = new ExampleFormatter(new ByteTokenizer());
        var prompt = "/// Adds two numbers.\nfn add(a: i32, b: i32) -> i32 {\n";
        var doc = f.Tokenize(new Example("i", ExampleKind.Instruction, Prompt: prompt, Response: "    a + b\n}\n"));
        var trained = doc.Tokens.Where((_, i) => doc.Train[i]).ToArray();
        Assert.Equal("    a + b\n}\n", ByteTokenizer.Decode(trained));
        Assert.Equal(256, trained[^1]); // EOS is part of the response
        Assert.All(doc.Train.Take(prompt.Length), Assert.False);

        // After packing, no label is a prompt token: the first target is the first response token.
        var row = new Packer(128, 256).Pack([doc]).Single();
        var targets = row.Labels.Where(l => l >= 0).Select(l => (int)l).ToArray();
        Assert.Equal(trained, targets);
        Assert.Equal(-100, row.Labels[prompt.Length - 2]);
        Assert.Equal(' ', (char)row.Labels[prompt.Length - 1]);
    }

    [Fact]
    public void Chat_uses_chatml_when_the_vocabulary_has_it_and_trains_only_assistant_turns()
    {
        var f = new ExampleFormatter(new ByteTokenizer(chatml: true));
        Assert.Equal("chatml", f.ChatStyle);
        var doc = f.Tokenize(new Example("c", ExampleKind.Chat, Messages: [("system", "be brief"), ("user", "hi"), ("assistant", "fn main() {}")]));
        Assert.Equal(3, doc.Tokens.Count(t => t == 258));
        var trained = doc.Tokens.Where((_, i) => doc.Train[i]).ToArray();
        Assert.Equal([.. Encoding.UTF8.GetBytes("fn main() {}").Select(b => (int)b), 259, 256], trained);

        var plain = new ExampleFormatter(new ByteTokenizer());
        Assert.Equal("plain", plain.ChatStyle);
        var text = ByteTokenizer.Decode(plain.Tokenize(new Example("c", ExampleKind.Chat, Messages: [("user", "hi"), ("assistant", "ok")])).Tokens);
        Assert.Equal("### User:\nhi\n### Assistant:\nok\n", text);
    }

    [Fact]
    public void Packing_preserves_every_token_and_never_crosses_documents()
    {
        var rng = new Random(5);
        var tok = new ByteTokenizer();
        var f = new ExampleFormatter(tok);
        var docs = Enumerable.Range(0, 60).Select(i =>
        {
            var len = rng.Next(0, 150);
            var text = new string(Enumerable.Range(0, len).Select(_ => (char)rng.Next('a', 'z' + 1)).ToArray());
            return i % 3 == 0
                ? f.Tokenize(new Example($"d{i}", ExampleKind.Instruction, Prompt: text[..(len / 2)], Response: text[(len / 2)..]))
                : f.Tokenize(new Example($"d{i}", ExampleKind.Raw, Text: text));
        }).ToList();

        foreach (var pack in new[] { true, false })
        {
            var rows = new Packer(64, tok.PadId, pack).Pack(docs).ToList();
            Assert.All(rows, r => Assert.Equal(64, r.InputIds.Length));
            // Reassemble each document from its pieces (dropping the one-token overlap of continuations).
            var rebuilt = new Dictionary<string, List<int>>();
            var targets = new Dictionary<string, List<long>>();
            foreach (var r in rows)
                foreach (var p in r.Pieces)
                {
                    var seg = r.SegmentIds[p.RowStart];
                    Assert.All(Enumerable.Range(p.RowStart, p.Length), i => Assert.Equal(seg, r.SegmentIds[i]));
                    Assert.Equal(Enumerable.Range(0, p.Length).Select(i => (long)i), r.PositionIds.Skip(p.RowStart).Take(p.Length));
                    var ids = r.InputIds.Skip(p.RowStart).Take(p.Length);
                    rebuilt.TryAdd(p.DocId, []);
                    targets.TryAdd(p.DocId, []);
                    rebuilt[p.DocId].AddRange(p.Continuation ? ids.Skip(1) : ids);
                    // The last position of a piece never predicts into the next document.
                    Assert.Equal(-100, r.Labels[p.RowStart + p.Length - 1]);
                    targets[p.DocId].AddRange(r.Labels.Skip(p.RowStart).Take(p.Length).Where(l => l >= 0));
                }
            foreach (var d in docs)
            {
                Assert.Equal(d.Tokens, rebuilt[d.Id]);
                var expected = d.Tokens.Skip(1).Where((_, i) => d.Train[i + 1]).Select(t => (long)t);
                Assert.Equal(expected, targets[d.Id]);
            }
            var total = docs.Sum(d => d.Tokens.Length);
            var overlaps = rows.Sum(r => r.Pieces.Count(p => p.Continuation));
            Assert.Equal(total + overlaps, rows.Sum(r => r.RealTokens));
            if (pack) Assert.True(rows.Take(rows.Count - 1).All(r => r.RealTokens >= 63), "packed rows are full except the last");
            else Assert.All(rows, r => Assert.Single(r.Pieces.Select(p => p.DocId).Distinct()));
        }
    }
}
