//! A hand-written lexer for a small scripting language.
//!
//! The lexer turns source text into [`Token`]s with their [`Span`]s. It
//! handles identifiers and keywords, integer and float literals, string
//! literals with escapes, one- and two-character operators, and `//` line
//! comments. It never panics on bad input: problems become [`LexError`]s.

use std::fmt;

/// A half-open byte range plus the 1-based line and column of its start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Ident(String),
    Keyword(Keyword),
    Int(i64),
    Float(f64),
    Str(String),
    Op(&'static str),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Semicolon,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    Let,
    Fn,
    If,
    Else,
    Return,
    While,
}

impl Keyword {
    fn from_word(word: &str) -> Option<Keyword> {
        Some(match word {
            "let" => Keyword::Let,
            "fn" => Keyword::Fn,
            "if" => Keyword::If,
            "else" => Keyword::Else,
            "return" => Keyword::Return,
            "while" => Keyword::While,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)
    }
}

impl std::error::Error for LexError {}

/// Operators, longest first so that "==" wins over "=".
const OPERATORS: [&str; 14] = [
    "==", "!=", "<=", ">=", "&&", "||", "->", "+", "-", "*", "/", "=", "<", ">",
];

pub struct Lexer<'src> {
    src: &'src str,
    pos: usize,
    line: u32,
    column: u32,
}

impl<'src> Lexer<'src> {
    pub fn new(src: &'src str) -> Self {
        Lexer {
            src,
            pos: 0,
            line: 1,
            column: 1,
        }
    }

    fn rest(&self) -> &'src str {
        &self.src[self.pos..]
    }

    fn advance(&mut self, bytes: usize) {
        for c in self.src[self.pos..self.pos + bytes].chars() {
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
        self.pos += bytes;
    }

    fn error(&self, message: impl Into<String>) -> LexError {
        LexError {
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }

    fn skip_trivia(&mut self) {
        loop {
            let trimmed = self.rest().trim_start();
            let ws = self.rest().len() - trimmed.len();
            self.advance(ws);
            if self.rest().starts_with("//") {
                let len = self.rest().find('\n').unwrap_or(self.rest().len());
                self.advance(len);
            } else {
                break;
            }
        }
    }

    /// Produces the next token, `Ok(None)` at the end of input.
    pub fn next_token(&mut self) -> Result<Option<(Token, Span)>, LexError> {
        self.skip_trivia();
        let (start, line, column) = (self.pos, self.line, self.column);
        let Some(c) = self.rest().chars().next() else {
            return Ok(None);
        };
        let token = if c.is_alphabetic() || c == '_' {
            let len = self
                .rest()
                .find(|ch: char| !(ch.is_alphanumeric() || ch == '_'))
                .unwrap_or(self.rest().len());
            let word = &self.rest()[..len];
            self.advance(len);
            Keyword::from_word(word).map_or_else(|| Token::Ident(word.to_string()), Token::Keyword)
        } else if c.is_ascii_digit() {
            self.number()?
        } else if c == '"' {
            self.string()?
        } else {
            let single = match c {
                '(' => Some(Token::LParen),
                ')' => Some(Token::RParen),
                '{' => Some(Token::LBrace),
                '}' => Some(Token::RBrace),
                ',' => Some(Token::Comma),
                ';' => Some(Token::Semicolon),
                _ => None,
            };
            if let Some(t) = single {
                self.advance(1);
                t
            } else if let Some(op) = OPERATORS.iter().find(|op| self.rest().starts_with(*op)) {
                self.advance(op.len());
                Token::Op(op)
            } else {
                return Err(self.error(format!("unexpected character {:?}", c)));
            }
        };
        Ok(Some((
            token,
            Span {
                start,
                end: self.pos,
                line,
                column,
            },
        )))
    }

    fn number(&mut self) -> Result<Token, LexError> {
        let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let mut len = digits(self.rest());
        let is_float = self.rest()[len..].starts_with('.')
            && self.rest()[len + 1..].starts_with(|c: char| c.is_ascii_digit());
        if is_float {
            len += 1 + digits(&self.rest()[len + 1..]);
        }
        let text = &self.rest()[..len];
        let token = if is_float {
            Token::Float(text.parse().map_err(|_| self.error("bad float literal"))?)
        } else {
            Token::Int(
                text.parse()
                    .map_err(|_| self.error(format!("integer literal {} is too large", text)))?,
            )
        };
        self.advance(len);
        Ok(token)
    }

    fn string(&mut self) -> Result<Token, LexError> {
        let opening = self.error("unterminated string literal");
        self.advance(1);
        let mut value = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.advance(i + 1);
                    return Ok(Token::Str(value));
                }
                '\\' => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, 't')) => value.push('\t'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, '\\')) => value.push('\\'),
                    Some((j, other)) => {
                        self.advance(j);
                        return Err(self.error(format!("unknown escape \\{}", other)));
                    }
                    None => break,
                },
                c => value.push(c),
            }
        }
        Err(opening)
    }
}

/// Lexes all of `src`, stopping at the first error.
pub fn tokenize(src: &str) -> Result<Vec<Token>, LexError> {
    let mut lexer = Lexer::new(src);
    let mut tokens = Vec::new();
    while let Some((token, _)) = lexer.next_token()? {
        tokens.push(token);
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_a_function() {
        let src = "fn add(a, b) -> int { return a + b; } // done";
        let tokens = tokenize(src).unwrap();
        assert_eq!(tokens[0], Token::Keyword(Keyword::Fn));
        assert_eq!(tokens[1], Token::Ident("add".into()));
        assert!(tokens.contains(&Token::Op("->")));
        assert_eq!(tokens.last(), Some(&Token::RBrace));
        assert_eq!(tokens.len(), 16);
    }

    #[test]
    fn numbers() {
        assert_eq!(
            tokenize("42 3.5 7").unwrap(),
            vec![Token::Int(42), Token::Float(3.5), Token::Int(7)]
        );
        // A dot must be followed by a digit to make a float; "7." leaves a stray dot.
        let err = tokenize("7.").unwrap_err();
        assert_eq!(err.message, "unexpected character '.'");
        assert_eq!(tokenize("0.25").unwrap(), vec![Token::Float(0.25)]);
    }

    #[test]
    fn two_char_operators_win() {
        let tokens = tokenize("a==b != c<=d = e").unwrap();
        let ops: Vec<&Token> = tokens
            .iter()
            .filter(|t| matches!(t, Token::Op(_)))
            .collect();
        assert_eq!(
            ops,
            vec![
                &Token::Op("=="),
                &Token::Op("!="),
                &Token::Op("<="),
                &Token::Op("=")
            ]
        );
    }

    #[test]
    fn strings_with_escapes() {
        assert_eq!(
            tokenize(r#""a\tb\"c""#).unwrap(),
            vec![Token::Str("a\tb\"c".into())]
        );
        let err = tokenize("\"open").unwrap_err();
        assert_eq!((err.line, err.column), (1, 1));
        let err = tokenize(r#"  "bad \q""#).unwrap_err();
        assert_eq!(err.to_string(), "1:9: unknown escape \\q");
    }

    #[test]
    fn spans_track_lines() {
        let mut lexer = Lexer::new("let x = 1;\n  while");
        let mut last = None;
        while let Some((tok, span)) = lexer.next_token().unwrap() {
            last = Some((tok, span));
        }
        let (tok, span) = last.unwrap();
        assert_eq!(tok, Token::Keyword(Keyword::While));
        assert_eq!(
            (span.line, span.column, span.start, span.end),
            (2, 3, 13, 18)
        );
    }

    #[test]
    fn errors() {
        let err = tokenize("x = 99999999999999999999;").unwrap_err();
        assert!(err.message.contains("too large"));
        let err = tokenize("a\n  @").unwrap_err();
        assert_eq!((err.line, err.column), (2, 3));
        assert!(tokenize("").unwrap().is_empty());
        assert!(tokenize("// only a comment").unwrap().is_empty());
    }
}
