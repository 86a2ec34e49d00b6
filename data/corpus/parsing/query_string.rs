//! Percent-encoding and URL query strings.
//!
//! `a=1&b=hello%20world&flag` decodes to the pairs `("a", "1")`,
//! `("b", "hello world")` and `("flag", "")`. Decoding is strict: a `%` must
//! be followed by two hex digits and the result must be valid UTF-8.

use std::fmt;

/// Problems found while decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// `%` not followed by two hex digits, at this byte offset.
    BadEscape(usize),
    /// The decoded bytes are not UTF-8.
    NotUtf8,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::BadEscape(at) => write!(f, "malformed %-escape at byte {}", at),
            DecodeError::NotUtf8 => write!(f, "decoded text is not valid UTF-8"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Characters that never need escaping (RFC 3986 "unreserved").
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes every byte that is not unreserved.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{:02X}", b));
        }
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `%XX` escapes; with `plus_as_space`, `+` also means a space (as
/// in HTML form submissions).
pub fn percent_decode(text: &str, plus_as_space: bool) -> Result<String, DecodeError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex_value);
                let lo = bytes.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h * 16 + l),
                    _ => return Err(DecodeError::BadEscape(i)),
                }
                i += 3;
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| DecodeError::NotUtf8)
}

/// An ordered list of query parameters; keys may repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses `a=1&b=2`. A leading `?` is ignored, as are empty segments.
    pub fn parse(raw: &str) -> Result<Query, DecodeError> {
        let raw = raw.strip_prefix('?').unwrap_or(raw);
        let pairs = raw
            .split('&')
            .filter(|segment| !segment.is_empty())
            .map(|segment| {
                let (k, v) = segment.split_once('=').unwrap_or((segment, ""));
                Ok((percent_decode(k, true)?, percent_decode(v, true)?))
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        Ok(Query { pairs })
    }

    /// The first value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value for `key`, in order.
    pub fn get_all<'q>(&'q self, key: &'q str) -> impl Iterator<Item = &'q str> + 'q {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Appends a parameter.
    pub fn push(&mut self, key: &str, value: &str) -> &mut Self {
        self.pairs.push((key.to_string(), value.to_string()));
        self
    }

    /// Removes every parameter named `key`; returns how many were removed.
    pub fn remove(&mut self, key: &str) -> usize {
        let before = self.pairs.len();
        self.pairs.retain(|(k, _)| k != key);
        before - self.pairs.len()
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl fmt::Display for Query {
    /// Serializes with `%20` for spaces; empty values keep their `=`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str("&")?;
            }
            write!(f, "{}={}", percent_encode(k), percent_encode(v))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(percent_encode("a b&c"), "a%20b%26c");
        assert_eq!(percent_encode("safe-._~"), "safe-._~");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode(""), "");
    }

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%20b", false), Ok("a b".into()));
        assert_eq!(percent_decode("a+b", false), Ok("a+b".into()));
        assert_eq!(percent_decode("a+b", true), Ok("a b".into()));
        assert_eq!(percent_decode("%c3%A9", false), Ok("é".into()));
        assert_eq!(
            percent_decode("100%", false),
            Err(DecodeError::BadEscape(3))
        );
        assert_eq!(percent_decode("%zz", false), Err(DecodeError::BadEscape(0)));
        assert_eq!(percent_decode("%FF", false), Err(DecodeError::NotUtf8));
    }

    #[test]
    fn parses_queries() {
        let q = Query::parse("?name=Ada+Lovelace&tag=math&tag=poetry&&flag").unwrap();
        assert_eq!(q.get("name"), Some("Ada Lovelace"));
        assert_eq!(q.get_all("tag").collect::<Vec<_>>(), vec!["math", "poetry"]);
        assert_eq!(q.get("flag"), Some(""));
        assert_eq!(q.get("missing"), None);
        assert_eq!(q.len(), 4);
        assert!(Query::parse("").unwrap().is_empty());
        assert_eq!(Query::parse("a=%2"), Err(DecodeError::BadEscape(0)));
    }

    #[test]
    fn builds_and_serializes() {
        let mut q = Query::default();
        q.push("q", "rust lang")
            .push("page", "2")
            .push("q", "&more");
        assert_eq!(q.to_string(), "q=rust%20lang&page=2&q=%26more");
        assert_eq!(Query::parse(&q.to_string()).unwrap(), q);
        assert_eq!(q.remove("q"), 2);
        assert_eq!(q.to_string(), "page=2");
    }

    #[test]
    fn error_display() {
        assert_eq!(
            DecodeError::BadEscape(4).to_string(),
            "malformed %-escape at byte 4"
        );
        assert_eq!(
            DecodeError::NotUtf8.to_string(),
            "decoded text is not valid UTF-8"
        );
    }
}
