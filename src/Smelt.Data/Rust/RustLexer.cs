namespace Smelt.Data.Rust;

public enum TokenKind
{
    Whitespace,
    LineComment,
    DocLineComment,
    BlockComment,
    DocBlockComment,
    Ident,
    Lifetime,
    Char,
    String,
    Number,
    Punct,
}

public readonly record struct RustToken(TokenKind Kind, int Start, int Length)
{
    public int End => Start + Length;
    public bool IsTrivia => Kind is TokenKind.Whitespace or TokenKind.LineComment or TokenKind.BlockComment
        or TokenKind.DocLineComment or TokenKind.DocBlockComment;
    public bool IsComment => Kind is TokenKind.LineComment or TokenKind.BlockComment or TokenKind.DocLineComment or TokenKind.DocBlockComment;
    public bool IsDoc => Kind is TokenKind.DocLineComment or TokenKind.DocBlockComment;
    public ReadOnlySpan<char> Text(string source) => source.AsSpan(Start, Length);
}

/// <summary>
/// A total Rust lexer: it never throws, and every character of the input belongs to exactly one token. It knows
/// string, byte-string, C-string and raw-string literals (<c>r#"..."#</c>), char literals versus lifetimes
/// (<c>'a'</c> versus <c>'a</c>), nested block comments, doc comments and raw identifiers. Text that is not Rust
/// (TOML, prose) still lexes into something sensible; unterminated literals and comments run to the end of input.
/// </summary>
public static class RustLexer
{
    public static List<RustToken> Lex(string s)
    {
        var tokens = new List<RustToken>(s.Length / 4 + 4);
        var i = 0;
        while (i < s.Length)
        {
            var start = i;
            var kind = Next(s, ref i);
            if (i <= start) i = start + 1; // defensive: always make progress
            tokens.Add(new RustToken(kind, start, i - start));
        }
        return tokens;
    }

    private static TokenKind Next(string s, ref int i)
    {
        var c = s[i];
        if (char.IsWhiteSpace(c))
        {
            while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
            return TokenKind.Whitespace;
        }
        if (c == '/' && At(s, i + 1) == '/') return LineComment(s, ref i);
        if (c == '/' && At(s, i + 1) == '*') return BlockComment(s, ref i);
        if (c == '"') { QuotedString(s, ref i); return TokenKind.String; }
        if (c == '\'') return Quote(s, ref i);
        if (char.IsAsciiDigit(c)) { Number(s, ref i); return TokenKind.Number; }
        if (IsIdentStart(c))
        {
            if (TryPrefixedLiteral(s, ref i, out var literalKind)) return literalKind;
            i++;
            while (i < s.Length && IsIdentContinue(s[i])) i++;
            return TokenKind.Ident;
        }
        i += char.IsHighSurrogate(c) && i + 1 < s.Length ? 2 : 1;
        return TokenKind.Punct;
    }

    private static char At(string s, int i) => i < s.Length ? s[i] : '\0';

    public static bool IsIdentStart(char c) => c == '_' || char.IsLetter(c);
    public static bool IsIdentContinue(char c) => c == '_' || char.IsLetterOrDigit(c);

    private static TokenKind LineComment(string s, ref int i)
    {
        var doc = (At(s, i + 2) == '/' && At(s, i + 3) != '/') || At(s, i + 2) == '!';
        while (i < s.Length && s[i] != '\n') i++;
        return doc ? TokenKind.DocLineComment : TokenKind.LineComment;
    }

    private static TokenKind BlockComment(string s, ref int i)
    {
        var doc = (At(s, i + 2) == '*' && At(s, i + 3) != '*' && At(s, i + 3) != '/') || At(s, i + 2) == '!';
        var depth = 0;
        while (i < s.Length)
        {
            if (s[i] == '/' && At(s, i + 1) == '*') { depth++; i += 2; continue; }
            if (s[i] == '*' && At(s, i + 1) == '/')
            {
                depth--; i += 2;
                if (depth == 0) break;
                continue;
            }
            i++;
        }
        return doc ? TokenKind.DocBlockComment : TokenKind.BlockComment;
    }

    /// <summary>At a <c>"</c>: consumes through the closing quote, honouring backslash escapes.</summary>
    private static void QuotedString(string s, ref int i)
    {
        i++;
        while (i < s.Length)
        {
            if (s[i] == '\\') { i += 2; continue; }
            if (s[i] == '"') { i++; break; }
            i++;
        }
        if (i > s.Length) i = s.Length;
        SkipSuffix(s, ref i);
    }

    /// <summary>At <c>r</c> followed by hashes and a quote: consumes the raw string through its closing quote and hashes.</summary>
    private static bool RawString(string s, ref int i)
    {
        var j = i + 1;
        var hashes = 0;
        while (At(s, j) == '#') { hashes++; j++; }
        if (At(s, j) != '"') return false;
        j++;
        while (j < s.Length)
        {
            if (s[j] == '"')
            {
                var k = 0;
                while (k < hashes && At(s, j + 1 + k) == '#') k++;
                if (k == hashes) { j += 1 + hashes; i = j; SkipSuffix(s, ref i); return true; }
            }
            j++;
        }
        i = s.Length;
        return true;
    }

    /// <summary>Byte, C and raw string literals, byte chars and raw identifiers, which all begin like identifiers.</summary>
    private static bool TryPrefixedLiteral(string s, ref int i, out TokenKind kind)
    {
        kind = TokenKind.String;
        var c = s[i];
        var n1 = At(s, i + 1);
        if (c == 'r' && n1 == '#' && IsIdentStart(At(s, i + 2)))
        {
            i += 2; // raw identifier r#type
            while (i < s.Length && IsIdentContinue(s[i])) i++;
            kind = TokenKind.Ident;
            return true;
        }
        if (c == 'r' && (n1 == '"' || n1 == '#'))
            return RawString(s, ref i);
        if (c is 'b' or 'c')
        {
            if (n1 == '"') { i++; QuotedString(s, ref i); return true; }
            if (n1 == 'r' && (At(s, i + 2) == '"' || At(s, i + 2) == '#'))
            {
                var j = i + 1;
                if (RawString(s, ref j)) { i = j; return true; }
                return false;
            }
            if (c == 'b' && n1 == '\'')
            {
                i++;
                CharLiteral(s, ref i);
                kind = TokenKind.Char;
                return true;
            }
        }
        return false;
    }

    /// <summary>At a <c>'</c>: a char literal (<c>'x'</c>, <c>'\n'</c>, <c>'\u{1F600}'</c>), a lifetime or label (<c>'a</c>), or a lone quote.</summary>
    private static TokenKind Quote(string s, ref int i)
    {
        var n1 = At(s, i + 1);
        if (n1 == '\\') { CharLiteral(s, ref i); return TokenKind.Char; }
        var width = char.IsHighSurrogate(n1) ? 2 : 1;
        if (i + 1 < s.Length && At(s, i + 1 + width) == '\'' && n1 != '\'')
        {
            i += 2 + width;
            return TokenKind.Char;
        }
        if (IsIdentStart(n1) || (n1 == 'r' && At(s, i + 2) == '#'))
        {
            i++;
            if (s[i] == 'r' && At(s, i + 1) == '#') i += 2;
            while (i < s.Length && IsIdentContinue(s[i])) i++;
            return TokenKind.Lifetime;
        }
        i++;
        return TokenKind.Punct;
    }

    /// <summary>At the opening <c>'</c> of a char literal that may contain escapes.</summary>
    private static void CharLiteral(string s, ref int i)
    {
        i++;
        var limit = Math.Min(s.Length, i + 16);
        while (i < limit)
        {
            if (s[i] == '\\') { i += 2; continue; }
            if (s[i] == '\'') { i++; return; }
            if (s[i] == '\n') return;
            i++;
        }
        if (i > s.Length) i = s.Length;
    }

    private static void Number(string s, ref int i)
    {
        var hex = s[i] == '0' && (At(s, i + 1) is 'x' or 'X');
        while (i < s.Length)
        {
            var c = s[i];
            if (char.IsAsciiLetterOrDigit(c) || c == '_')
            {
                if (!hex && (c is 'e' or 'E') && (At(s, i + 1) is '+' or '-') && char.IsAsciiDigit(At(s, i + 2))) { i += 3; continue; }
                i++;
                continue;
            }
            if (c == '.' && char.IsAsciiDigit(At(s, i + 1)) && !hex) { i++; continue; }
            if (c == '.' && At(s, i + 1) != '.' && !IsIdentStart(At(s, i + 1)) && !hex) { i++; continue; } // `1.`
            break;
        }
    }

    private static void SkipSuffix(string s, ref int i)
    {
        if (i < s.Length && IsIdentStart(s[i]))
            while (i < s.Length && IsIdentContinue(s[i])) i++;
    }
}
