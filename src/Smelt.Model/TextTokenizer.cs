using System.Text.Json;
using Smelt.Core;

namespace Smelt.Model;

/// <summary>
/// A Hugging Face tokenizer directory: <c>tokenizer.json</c> (encoded and decoded by the reference Rust implementation through
/// Tokenizers.DotNet), <c>tokenizer_config.json</c> (BOS/EOS, add_bos_token, chat_template) and <c>generation_config.json</c>
/// (eos_token_id). BOS is added by this class, never implicitly: ids a tokenizer's post-processor adds on its own are removed
/// first, so callers decide.
/// </summary>
public sealed class TextTokenizer : IDisposable
{
    private readonly Tokenizers.DotNet.Tokenizer _native;
    private readonly Dictionary<int, string> _specialById;
    private readonly uint[] _autoPrefix, _autoSuffix;

    public string Directory { get; }
    /// <summary>Largest id the tokenizer can produce, plus one.</summary>
    public int VocabSize { get; }
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }
    public int? BosId { get; }
    public string BosToken { get; }
    public bool AddBos { get; }
    public IReadOnlySet<int> EosIds { get; }
    public ChatFormat? TemplateFormat { get; }

    private TextTokenizer(string directory, Tokenizers.DotNet.Tokenizer native, int vocabSize, Dictionary<string, int> specials,
        int? bos, string bosToken, bool addBos, HashSet<int> eos, ChatFormat? format)
    {
        Directory = directory; _native = native; VocabSize = vocabSize; SpecialTokens = specials;
        _specialById = specials.ToDictionary(kv => kv.Value, kv => kv.Key);
        BosId = bos; BosToken = bosToken; AddBos = addBos; EosIds = eos; TemplateFormat = format;
        (_autoPrefix, _autoSuffix) = ProbeAutomaticTokens();
    }

    public static TextTokenizer Load(string directory)
    {
        var path = Path.Combine(directory, "tokenizer.json");
        if (!File.Exists(path)) throw SmeltException.BadInput($"{path}: not found; a model directory needs tokenizer.json (Hugging Face tokenizers format)");
        var (vocabSize, specials) = ReadTokenizerJson(path);
        var cfg = ReadOptionalJson(Path.Combine(directory, "tokenizer_config.json"));
        var gen = ReadOptionalJson(Path.Combine(directory, "generation_config.json"));
        var bosToken = TokenText(cfg, "bos_token") ?? "";
        var eosToken = TokenText(cfg, "eos_token");
        int? bos = specials.TryGetValue(bosToken, out var b) ? b : IntOf(gen, "bos_token_id");
        var eos = new HashSet<int>(IntsOf(gen, "eos_token_id", Path.Combine(directory, "generation_config.json")));
        if (eosToken is not null && specials.TryGetValue(eosToken, out var e)) eos.Add(e);
        var addBos = cfg is not null && cfg.Value.TryGetProperty("add_bos_token", out var ab) && ab.ValueKind == JsonValueKind.True;
        var template = cfg is not null && cfg.Value.TryGetProperty("chat_template", out var ct) && ct.ValueKind == JsonValueKind.String ? ct.GetString() : null;
        Tokenizers.DotNet.Tokenizer native;
        try { native = new Tokenizers.DotNet.Tokenizer(path); }
        catch (Tokenizers.DotNet.TokenizerException ex) { throw SmeltException.BadInput($"{path}: the tokenizers library rejected it ({ex.Message})"); }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException)
        {
            throw SmeltException.Infrastructure($"could not load the Hugging Face tokenizers native library (libhf_tokenizers.so from Tokenizers.DotNet.runtime.linux-x64): {ex.Message}", ex);
        }
        return new TextTokenizer(directory, native, vocabSize, specials, bos, bosToken, addBos, eos, ChatFormats.Detect(template));
    }

    private static (int VocabSize, Dictionary<string, int> Specials) ReadTokenizerJson(string path)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            var root = doc.RootElement;
            if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object)
                throw SmeltException.BadInput($"{path}: missing object 'model'");
            var type = model.TryGetProperty("type", out var t) ? t.GetString() : null;
            var maxId = -1;
            if (model.TryGetProperty("vocab", out var vocab))
            {
                if (vocab.ValueKind == JsonValueKind.Object)
                    foreach (var p in vocab.EnumerateObject()) maxId = Math.Max(maxId, p.Value.GetInt32());
                else if (vocab.ValueKind == JsonValueKind.Array) maxId = vocab.GetArrayLength() - 1; // Unigram: [[piece, score], ...]
            }
            if (maxId < 0) throw SmeltException.BadInput($"{path}: model '{type}' has an empty or missing vocab");
            var specials = new Dictionary<string, int>(StringComparer.Ordinal);
            if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
                foreach (var a in added.EnumerateArray())
                {
                    var id = a.GetProperty("id").GetInt32();
                    specials[a.GetProperty("content").GetString()!] = id;
                    maxId = Math.Max(maxId, id);
                }
            return (maxId + 1, specials);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
        {
            throw SmeltException.BadInput($"{path}: not a valid tokenizer.json ({ex.Message})");
        }
    }

    private static JsonElement? ReadOptionalJson(string path)
    {
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw SmeltException.BadInput($"{path}: expected a JSON object");
            return doc.RootElement.Clone();
        }
        catch (JsonException ex) { throw SmeltException.BadInput($"{path}: not valid JSON ({ex.Message})"); }
    }

    /// <summary>bos_token/eos_token are a string or an AddedToken object with "content".</summary>
    private static string? TokenText(JsonElement? cfg, string key)
    {
        if (cfg is null || !cfg.Value.TryGetProperty(key, out var v)) return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var c) => c.GetString(),
            _ => null,
        };
    }

    private static int? IntOf(JsonElement? o, string key) =>
        o is not null && o.Value.TryGetProperty(key, out var v) && v.TryGetInt32(out var i) ? i : null;

    private static IEnumerable<int> IntsOf(JsonElement? o, string key, string path)
    {
        if (o is null || !o.Value.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null) return [];
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var one)) return [one];
        if (v.ValueKind == JsonValueKind.Array) return v.EnumerateArray().Select(x => x.TryGetInt32(out var i) ? i : throw SmeltException.BadInput($"{path}: {key} must hold integers")).ToList();
        throw SmeltException.BadInput($"{path}: {key} must be an integer or a list of integers");
    }

    /// <summary>Finds ids the tokenizer's post-processor adds around any text (e.g. Llama 3 adds &lt;|begin_of_text|&gt;).</summary>
    private (uint[] Prefix, uint[] Suffix) ProbeAutomaticTokens()
    {
        var ids = _native.Encode("x");
        var first = Array.FindIndex(ids, i => !_specialById.ContainsKey((int)i));
        var last = Array.FindLastIndex(ids, i => !_specialById.ContainsKey((int)i));
        if (first < 0) return (ids, []);
        return (ids[..first], ids[(last + 1)..]);
    }

    /// <summary>Encodes text; special tokens written literally in it (e.g. &lt;|im_start|&gt;) become their ids.</summary>
    public int[] Encode(string text, bool? addBos = null)
    {
        if (text.Contains('\0')) throw SmeltException.BadInput("prompt contains a NUL character");
        var ids = text.Length == 0 ? [] : _native.Encode(text).AsSpan();
        if (_autoPrefix.Length > 0 && ids.StartsWith(_autoPrefix)) ids = ids[_autoPrefix.Length..];
        if (_autoSuffix.Length > 0 && ids.EndsWith(_autoSuffix)) ids = ids[..^_autoSuffix.Length];
        var result = new List<int>(ids.Length + 1);
        if ((addBos ?? AddBos) && BosId is int bos && !(ids.Length > 0 && ids[0] == bos)) result.Add(bos);
        foreach (var id in ids) result.Add((int)id);
        return [.. result];
    }

    /// <summary>Decodes ids; special tokens are dropped when <paramref name="skipSpecial"/>, else written as their text.</summary>
    public string Decode(IReadOnlyList<int> ids, bool skipSpecial = true)
    {
        var sb = new System.Text.StringBuilder();
        var run = new List<uint>();
        void Flush()
        {
            if (run.Count > 0) sb.Append(_native.Decode([.. run]));
            run.Clear();
        }
        foreach (var id in ids)
        {
            if (id < 0 || id >= VocabSize) throw new ArgumentOutOfRangeException(nameof(ids), $"token id {id} is outside the vocabulary (0..{VocabSize - 1})");
            if (_specialById.TryGetValue(id, out var special))
            {
                Flush();
                if (!skipSpecial) sb.Append(special);
            }
            else run.Add((uint)id);
        }
        Flush();
        return sb.ToString();
    }

    public int? IdOf(string specialToken) => SpecialTokens.TryGetValue(specialToken, out var id) ? id : null;

    /// <summary>Fails clearly when the tokenizer can produce ids the model's embedding table does not have.</summary>
    public void CheckMatches(ModelConfig config, string modelDirectory)
    {
        if (VocabSize > config.VocabSize)
            throw SmeltException.BadInput($"{Path.Combine(Directory, "tokenizer.json")}: the tokenizer has {VocabSize} tokens but " +
                                          $"{Path.Combine(modelDirectory, "config.json")} says vocab_size {config.VocabSize}; they belong to different models");
    }

    public void Dispose() => _native.Dispose();
}
