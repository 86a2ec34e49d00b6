namespace Smelt.Eval.Rust;

public enum ItemKind { Fn, Use, Mod, InnerAttribute, Other }

/// <summary>
/// One top-level item of a Rust source text, including its outer attributes and doc comments' position.
/// <see cref="Open"/> is true when the source ends before the item's braces close (e.g. a declaration that ends with <c>{</c>);
/// <see cref="MissingClosers"/> then says how many closing delimiters are missing.
/// </summary>
public sealed record RustItem(ItemKind Kind, string? Name, int Start, int End, bool IsTestOnly, bool Open, int MissingClosers)
{
    public string Text(string source) => source[Start..End];
}

/// <summary>Splits source text into top-level items by balanced delimiters (no full parse; enough to tell items apart).</summary>
public static class RustItems
{
    /// <summary>
    /// Splits <paramref name="source"/>. Returns null when a closing delimiter has no opener at top level
    /// (the text is not a sequence of items, e.g. a function body continuation).
    /// </summary>
    public static IReadOnlyList<RustItem>? Split(string source)
    {
        var lex = RustLexer.Lex(source);
        var tokens = lex.Tokens;
        var items = new List<RustItem>();
        var itemStart = -1;
        var depth = 0;
        for (var t = 0; t < tokens.Count; t++)
        {
            var tok = tokens[t];
            if (itemStart < 0) itemStart = t;
            if (tok.Kind == TokenKind.Open) { depth++; continue; }
            if (tok.Kind == TokenKind.Close)
            {
                depth--;
                if (depth < 0) return null;
                if (depth == 0 && tok.Is("}"))
                {
                    var end = t;
                    if (t + 1 < tokens.Count && tokens[t + 1].Is(";")) end = ++t;
                    items.Add(Make(source, tokens, itemStart, end, open: false, 0));
                    itemStart = -1;
                }
                else if (depth == 0 && tok.Is("]") && IsInnerAttribute(tokens, itemStart))
                {
                    items.Add(Make(source, tokens, itemStart, t, open: false, 0));
                    itemStart = -1;
                }
                continue;
            }
            if (depth == 0 && tok.Is(";"))
            {
                items.Add(Make(source, tokens, itemStart, t, open: false, 0));
                itemStart = -1;
            }
        }
        if (itemStart >= 0)
            items.Add(Make(source, tokens, itemStart, tokens.Count - 1, open: depth > 0 || lex.Unterminated, depth));
        return items;
    }

    /// <summary>
    /// Given the text of a function whose body may be incomplete, returns the index just past the brace that closes the
    /// function (depth back to zero), or -1 when the text ends first. <paramref name="missing"/> is the depth left at the end.
    /// </summary>
    public static int FindClose(string source, out int missing)
    {
        var lex = RustLexer.Lex(source);
        var depth = 0;
        var opened = false;
        foreach (var tok in lex.Tokens)
        {
            if (tok.Kind == TokenKind.Open) { depth++; if (tok.Is("{")) opened = true; }
            else if (tok.Kind == TokenKind.Close)
            {
                depth--;
                if (depth <= 0 && opened && tok.Is("}")) { missing = 0; return tok.End; }
                if (depth < 0) { missing = 0; return tok.Start; }
            }
        }
        missing = Math.Max(depth, 0);
        return -1;
    }

    private static bool IsInnerAttribute(IReadOnlyList<Token> tokens, int start) =>
        start + 2 < tokens.Count && tokens[start].Is("#") && tokens[start + 1].Is("!") && tokens[start + 2].Is("[");

    private static RustItem Make(string source, IReadOnlyList<Token> tokens, int first, int last, bool open, int missing)
    {
        var start = tokens[first].Start;
        var end = open ? source.Length : tokens[last].End;
        if (IsInnerAttribute(tokens, first))
            return new RustItem(ItemKind.InnerAttribute, null, start, end, false, open, missing);
        var testOnly = false;
        var t = first;
        // Outer attributes.
        while (t <= last && tokens[t].Is("#") && t + 1 <= last && tokens[t + 1].Is("["))
        {
            var close = MatchClose(tokens, t + 1, last);
            var attr = string.Concat(Enumerable.Range(t + 2, Math.Max(0, close - t - 2)).Select(k => tokens[k].Text));
            if (attr is "test" or "cfg(test)") testOnly = true;
            t = close + 1;
        }
        // Qualifiers before the keyword.
        while (t <= last)
        {
            var tok = tokens[t];
            if (tok.IsIdent("pub"))
            {
                t++;
                if (t <= last && tokens[t].Is("(")) t = MatchClose(tokens, t, last) + 1;
                continue;
            }
            if (tok.IsIdent("async") || tok.IsIdent("unsafe") || tok.IsIdent("default") || tok.IsIdent("safe")) { t++; continue; }
            if (tok.IsIdent("const") && t + 1 <= last && (tokens[t + 1].IsIdent("fn") || tokens[t + 1].IsIdent("async") || tokens[t + 1].IsIdent("unsafe"))) { t++; continue; }
            if (tok.IsIdent("extern") && t + 1 <= last && tokens[t + 1].Kind == TokenKind.Literal) { t += 2; continue; }
            break;
        }
        if (t > last) return new RustItem(ItemKind.Other, null, start, end, testOnly, open, missing);
        var kw = tokens[t];
        string? NameAfter() => t + 1 <= last && tokens[t + 1].Kind == TokenKind.Ident ? tokens[t + 1].Text : null;
        return kw.Text switch
        {
            "fn" when kw.Kind == TokenKind.Ident => new RustItem(ItemKind.Fn, NameAfter(), start, end, testOnly, open, missing),
            "use" when kw.Kind == TokenKind.Ident => new RustItem(ItemKind.Use, null, start, end, testOnly, open, missing),
            "mod" when kw.Kind == TokenKind.Ident => new RustItem(ItemKind.Mod, NameAfter(), start, end, testOnly, open, missing),
            "struct" or "enum" or "union" or "trait" or "type" or "const" or "static" when kw.Kind == TokenKind.Ident =>
                new RustItem(ItemKind.Other, NameAfter(), start, end, testOnly, open, missing),
            _ => new RustItem(ItemKind.Other, null, start, end, testOnly, open, missing),
        };
    }

    private static int MatchClose(IReadOnlyList<Token> tokens, int open, int last)
    {
        var depth = 0;
        for (var k = open; k <= last; k++)
        {
            if (tokens[k].Kind == TokenKind.Open) depth++;
            else if (tokens[k].Kind == TokenKind.Close && --depth == 0) return k;
        }
        return last;
    }
}
