namespace Smelt.Eval.Rust;

/// <summary>
/// Compatibility rewrites applied to a problem's own test code (never to samples). HumanEval-X's Rust tests were written
/// against rand 0.4, whose <c>gen_range(low, high)</c> became <c>gen_range(low..high)</c> in rand 0.8 (the crate set's
/// version); the two mean the same half-open range. Calls are found on tokens, so strings and comments are untouched.
/// </summary>
public static class TestCompat
{
    public static (string Text, int Rewrites) Rewrite(string test)
    {
        var tokens = RustLexer.Lex(test).Tokens;
        var commas = new List<int>();
        for (var i = 0; i + 1 < tokens.Count; i++)
        {
            if (!tokens[i].IsIdent("gen_range") || !tokens[i + 1].Is("(")) continue;
            if (i == 0 || !tokens[i - 1].Is(".")) continue; // method-call form only: rng.gen_range(a, b)
            var depth = 0;
            var topCommas = new List<int>();
            var close = -1;
            for (var j = i + 1; j < tokens.Count; j++)
            {
                if (tokens[j].Kind == TokenKind.Open) depth++;
                else if (tokens[j].Kind == TokenKind.Close && --depth == 0) { close = j; break; }
                else if (depth == 1 && tokens[j].Is(",")) topCommas.Add(j);
            }
            if (close < 0) continue;
            // Exactly two arguments (a trailing comma after the second is allowed).
            if (topCommas.Count == 2 && topCommas[1] == close - 1) topCommas.RemoveAt(1);
            if (topCommas.Count == 1 && topCommas[0] != close - 1 && topCommas[0] != i + 2) commas.Add(tokens[topCommas[0]].Start);
        }
        if (commas.Count == 0) return (test, 0);
        var chars = test.ToCharArray().ToList();
        foreach (var at in commas.OrderDescending())
        {
            chars.RemoveAt(at);
            chars.InsertRange(at, "..");
        }
        return (new string(chars.ToArray()), commas.Count);
    }

    /// <summary>True when the code defines at least one <c>#[test]</c> function (comments do not count).</summary>
    public static bool DefinesTest(string code)
    {
        var t = RustLexer.Lex(code).Tokens;
        for (var i = 0; i + 3 < t.Count; i++)
            if (t[i].Is("#") && t[i + 1].Is("[") && t[i + 2].IsIdent("test") && t[i + 3].Is("]")) return true;
        return false;
    }
}
