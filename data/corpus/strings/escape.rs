//! Escaping and unescaping string literals.
//!
//! [`escape`] turns arbitrary text into the body of a double-quoted literal,
//! and [`unescape`] reverses it, reporting precisely where a malformed escape
//! sequence starts.

use std::fmt;

/// Why an escaped string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnescapeError {
    /// A backslash was the last character of the input.
    TrailingBackslash { offset: usize },
    /// `\` followed by a character that is not a known escape.
    UnknownEscape { offset: usize, found: char },
    /// A `\u{...}` escape was malformed or named no valid character.
    BadUnicode { offset: usize, reason: &'static str },
}

impl fmt::Display for UnescapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnescapeError::TrailingBackslash { offset } => {
                write!(f, "backslash at byte {} has nothing after it", offset)
            }
            UnescapeError::UnknownEscape { offset, found } => {
                write!(f, "unknown escape '\\{}' at byte {}", found, offset)
            }
            UnescapeError::BadUnicode { offset, reason } => {
                write!(f, "bad unicode escape at byte {}: {}", offset, reason)
            }
        }
    }
}

impl std::error::Error for UnescapeError {}

/// Escapes quotes, backslashes and control characters. Printable characters,
/// including non-ASCII ones, are kept as they are.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// Decodes the escapes produced by [`escape`] (and `\'`).
///
/// ```ignore
/// assert_eq!(unescape(r"a\tb").unwrap(), "a\tb");
/// ```
pub fn unescape(text: &str) -> Result<String, UnescapeError> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let (_, next) = chars
            .next()
            .ok_or(UnescapeError::TrailingBackslash { offset })?;
        let decoded = match next {
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            '0' => '\0',
            '\\' => '\\',
            '"' => '"',
            '\'' => '\'',
            'u' => decode_unicode(&mut chars, offset)?,
            found => return Err(UnescapeError::UnknownEscape { offset, found }),
        };
        out.push(decoded);
    }
    Ok(out)
}

/// Reads `{hex}` after `\u` and returns the character it names.
fn decode_unicode<I>(
    chars: &mut std::iter::Peekable<I>,
    offset: usize,
) -> Result<char, UnescapeError>
where
    I: Iterator<Item = (usize, char)>,
{
    let bad = |reason| UnescapeError::BadUnicode { offset, reason };
    match chars.next() {
        Some((_, '{')) => {}
        _ => return Err(bad("expected '{' after \\u")),
    }
    let mut digits = String::new();
    loop {
        match chars.next() {
            Some((_, '}')) => break,
            Some((_, d)) if d.is_ascii_hexdigit() => digits.push(d),
            Some(_) => return Err(bad("non-hex digit")),
            None => return Err(bad("missing '}'")),
        }
    }
    if digits.is_empty() || digits.len() > 6 {
        return Err(bad("expected 1 to 6 hex digits"));
    }
    let value = u32::from_str_radix(&digits, 16).map_err(|_| bad("number too large"))?;
    char::from_u32(value).ok_or_else(|| bad("not a valid character"))
}

/// Wraps `text` in double quotes after escaping it.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", escape(text))
}

/// Removes surrounding double quotes and unescapes the inside. Returns `None`
/// when the input is not quoted or its body is malformed.
pub fn unquote(literal: &str) -> Option<String> {
    let body = literal.strip_prefix('"')?.strip_suffix('"')?;
    unescape(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_special_characters() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("say \"hi\""), "say \\\"hi\\\"");
        assert_eq!(escape("a\\b"), "a\\\\b");
        assert_eq!(escape("line\nnext\ttab"), "line\\nnext\\ttab");
        assert_eq!(escape("bell\u{7}"), "bell\\u{7}");
        assert_eq!(escape("naïve"), "naïve");
    }

    #[test]
    fn unescapes_known_sequences() {
        assert_eq!(unescape("a\\tb").unwrap(), "a\tb");
        assert_eq!(unescape("\\\"q\\\"").unwrap(), "\"q\"");
        assert_eq!(unescape("\\u{1F600}").unwrap(), "😀");
        assert_eq!(unescape("it\\'s").unwrap(), "it's");
        assert_eq!(unescape("").unwrap(), "");
    }

    #[test]
    fn reports_errors_with_offsets() {
        assert_eq!(
            unescape("abc\\"),
            Err(UnescapeError::TrailingBackslash { offset: 3 })
        );
        assert_eq!(
            unescape("x\\q"),
            Err(UnescapeError::UnknownEscape {
                offset: 1,
                found: 'q'
            })
        );
        assert!(matches!(
            unescape("\\u{110000}"),
            Err(UnescapeError::BadUnicode { offset: 0, .. })
        ));
        assert!(matches!(
            unescape("\\u41"),
            Err(UnescapeError::BadUnicode { .. })
        ));
        assert!(matches!(
            unescape("\\u{zz}"),
            Err(UnescapeError::BadUnicode { .. })
        ));
        assert!(matches!(
            unescape("\\u{41"),
            Err(UnescapeError::BadUnicode { .. })
        ));
    }

    #[test]
    fn error_messages_are_readable() {
        let err = unescape("ab\\x").unwrap_err();
        assert_eq!(err.to_string(), "unknown escape '\\x' at byte 2");
    }

    #[test]
    fn round_trips() {
        for sample in [
            "",
            "tabs\tand\nnewlines",
            "quotes \" and \\ slashes",
            "ünïcödé \u{1}",
        ] {
            assert_eq!(unescape(&escape(sample)).unwrap(), sample);
            assert_eq!(unquote(&quote(sample)).unwrap(), sample);
        }
    }

    #[test]
    fn unquote_rejects_unquoted() {
        assert_eq!(unquote("no quotes"), None);
        assert_eq!(unquote("\"bad \\z\""), None);
        assert_eq!(unquote("\"\""), Some(String::new()));
    }
}
