namespace Smelt.Data.Rust;

/// <summary>What <see cref="TestCode.Analyse"/> found: whether the whole file is test-only, and the spans of test-only items.</summary>
public sealed record TestCodeAnalysis(bool FileIsTestOnly, IReadOnlyList<(int Start, int End)> TestItems)
{
    public bool HasTestCode => FileIsTestOnly || TestItems.Count > 0;
}

/// <summary>
/// Finds test-only code from the token stream (not by regex): items under <c>#[cfg(test)]</c> (also
/// <c>#[cfg(all(test, ...))]</c>), functions marked <c>#[test]</c>, <c>#[bench]</c>, <c>#[tokio::test]</c>,
/// <c>#[rstest]</c> and similar, and files whose inner attribute is <c>#![cfg(test)]</c>. Attributes inside strings,
/// raw strings and comments are never mistaken for code because the lexer has already classified them.
/// </summary>
public static class TestCode
{
    private static readonly HashSet<string> TestAttributeNames = ["test", "bench", "rstest", "test_case", "quickcheck", "proptest", "wasm_bindgen_test", "test_log"];

    private static readonly HashSet<string> ItemKeywords = ["fn", "mod", "impl", "struct", "enum", "union", "use", "const", "static", "trait", "type", "pub", "async", "unsafe", "extern", "macro_rules"];

    public static TestCodeAnalysis Analyse(string source) => Analyse(source, RustLexer.Lex(source));

    public static TestCodeAnalysis Analyse(string source, List<RustToken> all)
    {
        var t = all.Where(x => !x.IsTrivia).ToArray();
        var items = new List<(int, int)>();
        var fileIsTest = false;
        var i = 0;
        var blocks = new Stack<int>(); // token indexes of the '{' enclosing the current position
        while (i < t.Length)
        {
            if (IsPunct(source, t[i], '{')) { blocks.Push(i); i++; continue; }
            if (IsPunct(source, t[i], '}')) { if (blocks.Count > 0) blocks.Pop(); i++; continue; }
            if (!IsPunct(source, t[i], '#')) { i++; continue; }
            var inner = i + 1 < t.Length && IsPunct(source, t[i + 1], '!');
            var open = inner ? i + 2 : i + 1;
            if (open >= t.Length || !IsPunct(source, t[open], '[')) { i++; continue; }

            if (inner)
            {
                var close = Matching(source, t, open);
                if (IsTestOnlyAttribute(source, t, open + 1, close))
                {
                    if (blocks.Count == 0) fileIsTest = true;
                    else
                    {
                        // mod m { #![cfg(test)] ... }: the enclosing item is test-only, from its header to its closing brace.
                        var opener = blocks.Pop();
                        var start = ItemStart(source, t, opener);
                        var end = Matching(source, t, opener);
                        items.Add((t[start].Start, end < t.Length ? t[end].End : source.Length));
                        i = end + 1;
                        continue;
                    }
                }
                i = close + 1;
                continue;
            }

            // A run of outer attributes, then the item they apply to.
            var attrStart = i;
            var testOnly = false;
            var j = i;
            while (j + 1 < t.Length && IsPunct(source, t[j], '#') && IsPunct(source, t[j + 1], '['))
            {
                var close = Matching(source, t, j + 1);
                if (IsTestOnlyAttribute(source, t, j + 2, close)) testOnly = true;
                j = close + 1;
            }
            if (!testOnly || j >= t.Length) { i = j; continue; }
            var itemEnd = ItemEnd(source, t, j);
            var endChar = itemEnd < t.Length ? t[itemEnd].End : source.Length;
            items.Add((t[attrStart].Start, endChar));
            i = itemEnd + 1;
        }
        return new TestCodeAnalysis(fileIsTest, items);
    }

    /// <summary>Removes test-only items (and the line breaks they leave behind).</summary>
    public static string Strip(string source, TestCodeAnalysis analysis)
    {
        if (analysis.TestItems.Count == 0) return source;
        var sb = new System.Text.StringBuilder(source.Length);
        var pos = 0;
        foreach (var (start, end) in analysis.TestItems)
        {
            var lineStart = start;
            while (lineStart > pos && source[lineStart - 1] is ' ' or '\t') lineStart--;
            sb.Append(source, pos, lineStart - pos);
            pos = end;
            if (pos < source.Length && source[pos] == '\r') pos++;
            if (pos < source.Length && source[pos] == '\n') pos++;
        }
        sb.Append(source, pos, source.Length - pos);
        return sb.ToString();
    }

    private static bool IsPunct(string s, RustToken tok, char c) => tok.Kind == TokenKind.Punct && tok.Length == 1 && s[tok.Start] == c;
    private static bool IsIdent(string s, RustToken tok, string name) => tok.Kind == TokenKind.Ident && tok.Text(s).SequenceEqual(name);

    /// <summary>Index of the bracket that closes the one at <paramref name="open"/> (or the last token when unbalanced).</summary>
    private static int Matching(string s, RustToken[] t, int open)
    {
        var depth = 0;
        for (var k = open; k < t.Length; k++)
        {
            if (t[k].Kind != TokenKind.Punct || t[k].Length != 1) continue;
            var c = s[t[k].Start];
            if (c is '(' or '[' or '{') depth++;
            else if (c is ')' or ']' or '}')
            {
                depth--;
                if (depth == 0) return k;
            }
        }
        return t.Length - 1;
    }

    /// <summary>The first token of the item whose body opens at <paramref name="opener"/>: just after the previous <c>;</c>, <c>{</c> or <c>}</c>.</summary>
    private static int ItemStart(string s, RustToken[] t, int opener)
    {
        var k = opener - 1;
        var depth = 0;
        for (; k >= 0; k--)
        {
            if (t[k].Kind != TokenKind.Punct || t[k].Length != 1) continue;
            var c = s[t[k].Start];
            if (c is ')' or ']') depth++;
            else if (c is '(' or '[') depth--;
            else if (depth == 0 && c is ';' or '{' or '}') break;
        }
        return k + 1;
    }

    /// <summary>The last token of the item starting at <paramref name="start"/>: its closing brace, or its <c>;</c>.</summary>
    private static int ItemEnd(string s, RustToken[] t, int start)
    {
        var depth = 0;
        var isItem = t[start].Kind == TokenKind.Ident && ItemKeywords.Contains(t[start].Text(s).ToString());
        for (var k = start; k < t.Length; k++)
        {
            if (t[k].Kind != TokenKind.Punct || t[k].Length != 1) continue;
            var c = s[t[k].Start];
            if (c is '(' or '[') depth++;
            else if (c is ')' or ']') depth--;
            else if (depth <= 0 && c == ';') return k;
            else if (depth <= 0 && c == '{') return Matching(s, t, k);
            else if (depth <= 0 && c == ',' && !isItem) return k; // a field, variant or match arm
            else if (c == '}' && depth <= 0) return k - 1; // ran into the enclosing block: the item had no body
        }
        return t.Length - 1;
    }

    /// <summary>Attribute tokens between the brackets: <c>test</c>, <c>tokio::test</c>, <c>cfg(test)</c>, <c>cfg(all(test, unix))</c>.</summary>
    private static bool IsTestOnlyAttribute(string s, RustToken[] t, int from, int to)
    {
        if (from >= to) return false;
        if (IsIdent(s, t[from], "cfg") && from + 1 < to && IsPunct(s, t[from + 1], '('))
        {
            var pos = from + 2;
            return Predicate(s, t, ref pos, to);
        }
        // A path such as test, tokio::test, async_std::test, rstest, followed by nothing or by arguments.
        var last = -1;
        var k = from;
        while (k < to && t[k].Kind == TokenKind.Ident)
        {
            last = k;
            k++;
            if (k + 1 < to && IsPunct(s, t[k], ':') && IsPunct(s, t[k + 1], ':')) k += 2;
            else break;
        }
        if (last < 0) return false;
        if (k < to && !IsPunct(s, t[k], '(')) return false;
        return TestAttributeNames.Contains(t[last].Text(s).ToString());
    }

    /// <summary>True when the cfg predicate can only hold in test builds.</summary>
    private static bool Predicate(string s, RustToken[] t, ref int pos, int end)
    {
        if (pos >= end) return false;
        var tok = t[pos];
        if (tok.Kind != TokenKind.Ident) { pos = SkipPredicate(s, t, pos, end); return false; }
        var name = tok.Text(s).ToString();
        pos++;
        if (pos < end && IsPunct(s, t[pos], '(') && name is "all" or "any" or "not")
        {
            pos++;
            var results = new List<bool>();
            while (pos < end && !IsPunct(s, t[pos], ')'))
            {
                results.Add(Predicate(s, t, ref pos, end));
                if (pos < end && IsPunct(s, t[pos], ',')) pos++;
            }
            pos++;
            return name switch
            {
                "all" => results.Any(r => r),
                "any" => results.Count > 0 && results.All(r => r),
                _ => false,
            };
        }
        // key = "value" forms such as feature = "x"
        if (pos < end && IsPunct(s, t[pos], '=')) { pos += 2; return false; }
        return name == "test";
    }

    private static int SkipPredicate(string s, RustToken[] t, int pos, int end)
    {
        var depth = 0;
        for (; pos < end; pos++)
        {
            if (IsPunct(s, t[pos], '(')) depth++;
            else if (IsPunct(s, t[pos], ')')) { if (depth == 0) return pos; depth--; }
            else if (IsPunct(s, t[pos], ',') && depth == 0) return pos;
        }
        return pos;
    }
}
