using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Smelt.Core;

namespace Smelt.Model;

/// <summary>GPT-2's byte-level alphabet: every byte becomes one printable character, so any text is representable.</summary>
public static class ByteLevel
{
    public static readonly char[] ByteToChar = BuildTable();
    public static readonly IReadOnlyDictionary<char, byte> CharToByte = ByteToChar.Select((c, b) => (c, (byte)b)).ToDictionary(x => x.c, x => x.Item2);

    private static char[] BuildTable()
    {
        var table = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }

    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(bytes.Length);
        foreach (var b in bytes) sb.Append(ByteToChar[b]);
        return sb.ToString();
    }
}

/// <summary>
/// Learns byte-level BPE merges from text and writes a Hugging Face <c>tokenizer.json</c> (model BPE, ByteLevel
/// pre-tokenizer and decoder, added special tokens) plus <c>tokenizer_config.json</c>. Deterministic: ties between
/// equally frequent pairs go to the ordinally smallest pair.
/// </summary>
public static partial class BpeTrainer
{
    /// <summary>GPT-2's pre-tokenisation pattern, the one Hugging Face's ByteLevel pre-tokenizer applies with use_regex.</summary>
    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")]
    public static partial Regex PreTokenizer();

    public const string BeginOfText = "<|begin_of_text|>";
    public const string EndOfText = "<|end_of_text|>";
    public const string ImStart = "<|im_start|>";
    public const string ImEnd = "<|im_end|>";
    public const string StartHeader = "<|start_header_id|>";
    public const string EndHeader = "<|end_header_id|>";
    public const string EotId = "<|eot_id|>";
    public const string Pad = "<|pad|>";

    public static readonly string[] DefaultSpecialTokens = [BeginOfText, EndOfText, ImStart, ImEnd, StartHeader, EndHeader, EotId, Pad];

    public sealed record Result(IReadOnlyList<string> Vocab, IReadOnlyList<(string Left, string Right)> Merges, IReadOnlyList<string> SpecialTokens)
    {
        public int VocabSize => Vocab.Count + SpecialTokens.Count;
        public int IdOf(string special) => Vocab.Count + SpecialTokens.ToList().IndexOf(special);
    }

    /// <summary>Learns merges until the vocabulary (256 bytes + merges + special tokens) reaches <paramref name="vocabSize"/>.</summary>
    public static Result Train(IEnumerable<string> texts, int vocabSize, IReadOnlyList<string>? specialTokens = null)
    {
        specialTokens ??= DefaultSpecialTokens;
        var targetMerges = vocabSize - 256 - specialTokens.Count;
        if (targetMerges < 0) throw SmeltException.BadInput($"vocabulary size {vocabSize} is smaller than 256 bytes + {specialTokens.Count} special tokens");

        var wordCounts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var text in texts)
            foreach (Match m in PreTokenizer().Matches(text))
            {
                var w = ByteLevel.Encode(Encoding.UTF8.GetBytes(m.Value));
                wordCounts[w] = wordCounts.GetValueOrDefault(w) + 1;
            }

        var vocab = Enumerable.Range(0, 256).Select(b => ByteLevel.ByteToChar[b].ToString()).ToList();
        var idOf = vocab.Select((s, i) => (s, i)).ToDictionary(x => x.s, x => x.i, StringComparer.Ordinal);
        var words = wordCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (Symbols: kv.Key.Select(ch => idOf[ch.ToString()]).ToList(), Count: kv.Value)).ToList();
        var merges = new List<(string, string)>();

        while (merges.Count < targetMerges)
        {
            var pairs = new Dictionary<(int, int), long>();
            foreach (var (symbols, count) in words)
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    var p = (symbols[i], symbols[i + 1]);
                    pairs[p] = pairs.GetValueOrDefault(p) + count;
                }
            if (pairs.Count == 0) break;
            var best = pairs.First();
            foreach (var kv in pairs)
            {
                if (kv.Value > best.Value || kv.Value == best.Value && ComparePair(kv.Key, best.Key, vocab) < 0) best = kv;
            }
            var (a, b) = best.Key;
            var merged = vocab[a] + vocab[b];
            var newId = vocab.Count;
            vocab.Add(merged);
            idOf[merged] = newId;
            merges.Add((vocab[a], vocab[b]));
            foreach (var (symbols, _) in words)
            {
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    if (symbols[i] == a && symbols[i + 1] == b)
                    {
                        symbols[i] = newId;
                        symbols.RemoveAt(i + 1);
                    }
                }
            }
        }
        return new Result(vocab, merges, specialTokens);
    }

    private static int ComparePair((int, int) x, (int, int) y, List<string> vocab)
    {
        var c = string.CompareOrdinal(vocab[x.Item1], vocab[y.Item1]);
        return c != 0 ? c : string.CompareOrdinal(vocab[x.Item2], vocab[y.Item2]);
    }

    /// <summary>Reads training text: every file under a directory (sorted, recursively), or one file.</summary>
    public static IEnumerable<string> ReadCorpus(string path)
    {
        if (File.Exists(path)) return [File.ReadAllText(path)];
        if (!Directory.Exists(path)) throw SmeltException.BadInput($"{path}: corpus not found");
        return Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetExtension(f) is ".rs" or ".txt" or ".md" or ".jsonl")
            .Order(StringComparer.Ordinal)
            .Select(File.ReadAllText);
    }

    /// <summary>Writes tokenizer.json and tokenizer_config.json (with Llama-3 and ChatML chat templates) into a directory.</summary>
    public static void Save(Result r, string directory, string chatTemplate = "llama3")
    {
        Directory.CreateDirectory(directory);
        var opts = new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        AtomicFile.Write(Path.Combine(directory, "tokenizer.json"), tmp =>
        {
            using var fs = File.Create(tmp);
            using var w = new Utf8JsonWriter(fs, opts);
            w.WriteStartObject();
            w.WriteString("version", "1.0");
            w.WriteNull("truncation");
            w.WriteNull("padding");
            w.WriteStartArray("added_tokens");
            for (var i = 0; i < r.SpecialTokens.Count; i++)
            {
                w.WriteStartObject();
                w.WriteNumber("id", r.Vocab.Count + i);
                w.WriteString("content", r.SpecialTokens[i]);
                w.WriteBoolean("single_word", false);
                w.WriteBoolean("lstrip", false);
                w.WriteBoolean("rstrip", false);
                w.WriteBoolean("normalized", false);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNull("normalizer");
            WriteByteLevel(w, "pre_tokenizer", addPrefixSpace: false);
            WriteByteLevel(w, "post_processor", addPrefixSpace: true);
            WriteByteLevel(w, "decoder", addPrefixSpace: true);
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteNull("dropout");
            w.WriteNull("unk_token");
            w.WriteNull("continuing_subword_prefix");
            w.WriteNull("end_of_word_suffix");
            w.WriteBoolean("fuse_unk", false);
            w.WriteBoolean("byte_fallback", false);
            w.WriteBoolean("ignore_merges", false);
            w.WriteStartObject("vocab");
            for (var i = 0; i < r.Vocab.Count; i++) w.WriteNumber(r.Vocab[i], i);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (var (a, b) in r.Merges) w.WriteStringValue($"{a} {b}");
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        });
        var config = new Dictionary<string, object?>
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["bos_token"] = BeginOfText,
            ["eos_token"] = EndOfText,
            ["pad_token"] = r.SpecialTokens.Contains(Pad) ? Pad : EndOfText,
            ["add_bos_token"] = true,
            ["add_eos_token"] = false,
            ["model_max_length"] = 4096,
            ["clean_up_tokenization_spaces"] = false,
            ["chat_template"] = chatTemplate == "chatml" ? ChatFormats.ChatMLJinja : ChatFormats.Llama3Jinja,
        };
        AtomicFile.WriteAllText(Path.Combine(directory, "tokenizer_config.json"),
            JsonSerializer.Serialize(config, new JsonSerializerOptions { WriteIndented = true, Encoder = opts.Encoder }) + "\n");
    }

    private static void WriteByteLevel(Utf8JsonWriter w, string key, bool addPrefixSpace)
    {
        w.WriteStartObject(key);
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", addPrefixSpace && key != "pre_tokenizer");
        w.WriteBoolean("trim_offsets", true);
        w.WriteBoolean("use_regex", true);
        w.WriteEndObject();
    }
}
