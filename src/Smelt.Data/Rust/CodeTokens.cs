namespace Smelt.Data.Rust;

/// <summary>
/// Normalised code tokens, as 64-bit hashes, shared by deduplication, decontamination and leak detection.
/// Whitespace never matters. <see cref="Code"/> also ignores comments (so reformatting or re-commenting a file does
/// not hide a duplicate); <see cref="CodeAndWords"/> keeps comment text as lower-cased words (so a docstring copied
/// from an evaluation problem still counts).
/// </summary>
public static class CodeTokens
{
    public static List<ulong> Code(string text) => Hashes(text, commentWords: false, spans: null);

    public static List<ulong> CodeAndWords(string text) => Hashes(text, commentWords: true, spans: null);

    /// <summary><see cref="CodeAndWords"/> with each token's character span in <paramref name="text"/>.</summary>
    public static List<ulong> CodeAndWords(string text, List<(int Start, int End)> spans) => Hashes(text, commentWords: true, spans);

    private static List<ulong> Hashes(string text, bool commentWords, List<(int Start, int End)>? spans)
    {
        var tokens = RustLexer.Lex(text);
        var result = new List<ulong>(tokens.Count / 2 + 1);
        foreach (var tok in tokens)
        {
            if (tok.Kind == TokenKind.Whitespace) continue;
            if (tok.IsComment)
            {
                if (commentWords) AddWords(text.AsSpan(tok.Start, tok.Length), tok.Start, result, spans);
                continue;
            }
            result.Add(Hash.Chars(text.AsSpan(tok.Start, tok.Length)));
            spans?.Add((tok.Start, tok.End));
        }
        return result;
    }

    private static void AddWords(ReadOnlySpan<char> comment, int offset, List<ulong> into, List<(int, int)>? spans)
    {
        var i = 0;
        Span<char> lower = stackalloc char[64];
        while (i < comment.Length)
        {
            while (i < comment.Length && !char.IsLetterOrDigit(comment[i])) i++;
            var start = i;
            while (i < comment.Length && char.IsLetterOrDigit(comment[i])) i++;
            var len = i - start;
            if (len == 0) continue;
            spans?.Add((offset + start, offset + i));
            if (len <= lower.Length)
            {
                comment.Slice(start, len).ToLowerInvariant(lower);
                into.Add(Hash.Chars(lower[..len]));
            }
            else into.Add(Hash.Chars(comment.Slice(start, len)));
        }
    }
}

/// <summary>Small, fast, deterministic hashes (not cryptographic).</summary>
public static class Hash
{
    public static ulong Chars(ReadOnlySpan<char> s)
    {
        var h = 14695981039346656037UL;
        foreach (var c in s)
        {
            h ^= c;
            h *= 1099511628211UL;
        }
        return Mix(h);
    }

    public static ulong Chars(string s) => Chars(s.AsSpan());

    /// <summary>SplitMix64 finaliser.</summary>
    public static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public static ulong Combine(ulong a, ulong b) => Mix(a * 31 + b + 0x632BE59BD9B4E019UL);

    /// <summary>A deterministic uniform draw in [0, 1) from a seed and coordinates: the pipeline's only randomness, so a position can be resumed exactly.</summary>
    public static double Unit(long seed, long a, long b, ulong c = 0)
    {
        var h = Combine(Combine(Combine(Mix((ulong)seed), (ulong)a), (ulong)b), c);
        return (h >> 11) * (1.0 / (1UL << 53));
    }
}
