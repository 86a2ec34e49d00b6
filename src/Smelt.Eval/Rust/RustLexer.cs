namespace Smelt.Eval.Rust;

public enum TokenKind { Ident, Lifetime, Literal, Punct, Open, Close }

/// <summary>One lexical token. Comments and whitespace are not tokens; <see cref="Start"/>/<see cref="End"/> index the source.</summary>
public readonly record struct Token(TokenKind Kind, int Start, int End, string Text)
{
    public bool Is(string text) => Text == text;
    public bool IsIdent(string text) => Kind == TokenKind.Ident && Text == text;
}

/// <summary>
/// A small Rust lexer: enough to find items and balanced delimiters without being fooled by braces inside strings,
/// raw strings, char literals, lifetimes or (nested) comments. It never throws: unterminated literals or comments
/// end the token stream and set <see cref="LexResult.Unterminated"/>.
/// </summary>
public static class RustLexer
{
    public static LexResult Lex(string src)
    {
        var tokens = new List<Token>();
        var i = 0;
        var n = src.Length;
        while (i < n)
        {
            var c = src[i];
            if (char.IsWhiteSpace(c)) { i++; continue; }
            if (c == '/' && i + 1 < n && src[i + 1] == '/')
            {
                while (i < n && src[i] != '\n') i++;
                continue;
            }
            if (c == '/' && i + 1 < n && src[i + 1] == '*')
            {
                var depth = 1;
                i += 2;
                while (i < n && depth > 0)
                {
                    if (src[i] == '/' && i + 1 < n && src[i + 1] == '*') { depth++; i += 2; }
                    else if (src[i] == '*' && i + 1 < n && src[i + 1] == '/') { depth--; i += 2; }
                    else i++;
                }
                if (depth > 0) return new LexResult(tokens, true);
                continue;
            }
            var start = i;
            // Raw strings r"..", r#".."#, br"..", cr#".."#
            if (TryRawString(src, ref i))
            {
                if (i < 0) return new LexResult(tokens, true);
                tokens.Add(new Token(TokenKind.Literal, start, i, ""));
                continue;
            }
            if (c == '"' || ((c == 'b' || c == 'c') && i + 1 < n && src[i + 1] == '"'))
            {
                i = SkipQuoted(src, c == '"' ? i + 1 : i + 2, '"');
                if (i < 0) return new LexResult(tokens, true);
                tokens.Add(new Token(TokenKind.Literal, start, i, ""));
                continue;
            }
            if (c == 'b' && i + 1 < n && src[i + 1] == '\'')
            {
                i = SkipQuoted(src, i + 2, '\'');
                if (i < 0) return new LexResult(tokens, true);
                tokens.Add(new Token(TokenKind.Literal, start, i, ""));
                continue;
            }
            if (c == '\'')
            {
                // Char literal or lifetime/label.
                if (i + 1 < n && src[i + 1] == '\\')
                {
                    i = SkipQuoted(src, i + 1, '\'');
                    if (i < 0) return new LexResult(tokens, true);
                    tokens.Add(new Token(TokenKind.Literal, start, i, ""));
                    continue;
                }
                var width = i + 1 < n && char.IsHighSurrogate(src[i + 1]) ? 2 : 1;
                if (i + 1 + width < n && src[i + 1 + width] == '\'' && src[i + 1] != '\'')
                {
                    i += 2 + width;
                    tokens.Add(new Token(TokenKind.Literal, start, i, ""));
                    continue;
                }
                i++;
                while (i < n && IsIdentChar(src[i])) i++;
                tokens.Add(new Token(TokenKind.Lifetime, start, i, src[start..i]));
                continue;
            }
            if (IsIdentStart(c))
            {
                if (c == 'r' && i + 2 < n && src[i + 1] == '#' && IsIdentStart(src[i + 2])) i += 2;
                while (i < n && IsIdentChar(src[i])) i++;
                var text = src[start..i];
                if (text.StartsWith("r#", StringComparison.Ordinal)) text = text[2..];
                tokens.Add(new Token(TokenKind.Ident, start, i, text));
                continue;
            }
            if (char.IsAsciiDigit(c))
            {
                i++;
                while (i < n && (char.IsAsciiLetterOrDigit(src[i]) || src[i] == '_' ||
                                 (src[i] == '.' && i + 1 < n && char.IsAsciiDigit(src[i + 1]))))
                    i++;
                tokens.Add(new Token(TokenKind.Literal, start, i, src[start..i]));
                continue;
            }
            i++;
            var kind = c switch
            {
                '(' or '[' or '{' => TokenKind.Open,
                ')' or ']' or '}' => TokenKind.Close,
                _ => TokenKind.Punct,
            };
            tokens.Add(new Token(kind, start, i, c.ToString()));
        }
        return new LexResult(tokens, false);
    }

    private static bool TryRawString(string src, ref int i)
    {
        var j = i;
        if (j < src.Length && (src[j] == 'b' || src[j] == 'c')) j++;
        if (j >= src.Length || src[j] != 'r') return false;
        j++;
        var hashes = 0;
        while (j < src.Length && src[j] == '#') { hashes++; j++; }
        if (j >= src.Length || src[j] != '"') return false;
        j++;
        var closing = "\"" + new string('#', hashes);
        var end = src.IndexOf(closing, j, StringComparison.Ordinal);
        i = end < 0 ? -1 : end + closing.Length;
        return true;
    }

    /// <summary>Returns the index just past the closing quote, or -1 when the literal never closes.</summary>
    private static int SkipQuoted(string src, int i, char quote)
    {
        while (i < src.Length)
        {
            if (src[i] == '\\') { i += 2; continue; }
            if (src[i] == quote) return i + 1;
            i++;
        }
        return -1;
    }

    private static bool IsIdentStart(char c) => char.IsLetter(c) || c == '_';
    private static bool IsIdentChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}

public sealed record LexResult(IReadOnlyList<Token> Tokens, bool Unterminated);
