//! A JSON value type: a recursive enum with a parser, a printer and
//! path-based access.
//!
//! Objects keep their keys sorted (`BTreeMap`) so printing is deterministic.
//! The parser is a small recursive-descent one over bytes; it reports the
//! byte offset of the first problem.

use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    Str(String),
    Array(Vec<Json>),
    Object(BTreeMap<String, Json>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    pub offset: usize,
    pub message: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for JsonError {}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn fail<T>(&self, message: &'static str) -> Result<T, JsonError> {
        Err(JsonError {
            offset: self.pos,
            message,
        })
    }

    fn skip_ws(&mut self) {
        while matches!(self.bytes.get(self.pos), Some(b' ' | b'\n' | b'\t' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, literal: &str, value: Json) -> Result<Json, JsonError> {
        if self.bytes[self.pos..].starts_with(literal.as_bytes()) {
            self.pos += literal.len();
            Ok(value)
        } else {
            self.fail("unknown literal")
        }
    }

    fn value(&mut self) -> Result<Json, JsonError> {
        self.skip_ws();
        match self.bytes.get(self.pos) {
            None => self.fail("unexpected end of input"),
            Some(b'n') => self.eat("null", Json::Null),
            Some(b't') => self.eat("true", Json::Bool(true)),
            Some(b'f') => self.eat("false", Json::Bool(false)),
            Some(b'"') => self.string().map(Json::Str),
            Some(b'[') => self.array(),
            Some(b'{') => self.object(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.fail("unexpected character"),
        }
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.pos;
        while matches!(
            self.bytes.get(self.pos),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Json::Number(n)),
            _ => Err(JsonError {
                offset: start,
                message: "malformed number",
            }),
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // opening quote
        let mut out = Vec::new();
        loop {
            match self.bytes.get(self.pos) {
                None => return self.fail("unterminated string"),
                Some(b'"') => {
                    self.pos += 1;
                    return String::from_utf8(out).or_else(|_| self.fail("invalid UTF-8"));
                }
                Some(b'\\') => {
                    let escaped = match self.bytes.get(self.pos + 1) {
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'/') => b'/',
                        Some(b'n') => b'\n',
                        Some(b't') => b'\t',
                        Some(b'r') => b'\r',
                        _ => return self.fail("unsupported escape"),
                    };
                    out.push(escaped);
                    self.pos += 2;
                }
                Some(&b) => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
    }

    fn array(&mut self) -> Result<Json, JsonError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return self.fail("expected ',' or ']'"),
            }
        }
    }

    fn object(&mut self) -> Result<Json, JsonError> {
        self.pos += 1;
        let mut map = BTreeMap::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Json::Object(map));
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return self.fail("expected a string key");
            }
            let key = self.string()?;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return self.fail("expected ':'");
            }
            self.pos += 1;
            let value = self.value()?;
            map.insert(key, value);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(map));
                }
                _ => return self.fail("expected ',' or '}'"),
            }
        }
    }
}

impl Json {
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        let mut reader = Reader {
            bytes: text.as_bytes(),
            pos: 0,
        };
        let value = reader.value()?;
        reader.skip_ws();
        if reader.pos != reader.bytes.len() {
            return reader.fail("trailing characters");
        }
        Ok(value)
    }

    /// Follows a dotted path such as `"servers.0.host"`; numeric parts index arrays.
    pub fn pointer(&self, path: &str) -> Option<&Json> {
        path.split('.')
            .filter(|p| !p.is_empty())
            .try_fold(self, |node, part| match node {
                Json::Object(map) => map.get(part),
                Json::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            })
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// Nesting depth: scalars are 0, `[]` is 1, `[[1]]` is 2.
    pub fn depth(&self) -> usize {
        match self {
            Json::Array(items) => 1 + items.iter().map(Json::depth).max().unwrap_or(0),
            Json::Object(map) => 1 + map.values().map(Json::depth).max().unwrap_or(0),
            _ => 0,
        }
    }
}

fn write_escaped(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            '\r' => f.write_str("\\r")?,
            c => write!(f, "{}", c)?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for Json {
    /// Compact output; integers print without a decimal point.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{}", b),
            Json::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => write!(f, "{}", *n as i64),
            Json::Number(n) => write!(f, "{}", n),
            Json::Str(s) => write_escaped(f, s),
            Json::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}", item)?;
                }
                f.write_str("]")
            }
            Json::Object(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_escaped(f, k)?;
                    write!(f, ":{}", v)?;
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{
        "name": "smelt",
        "version": 3,
        "ratio": 0.25,
        "tags": ["rust", "ml"],
        "servers": [{"host": "a.local", "port": 80}, {"host": "b.local", "port": 8080}],
        "extra": null,
        "ok": true
    }"#;

    #[test]
    fn parses_and_navigates() {
        let v = Json::parse(DOC).unwrap();
        assert_eq!(v.pointer("name").and_then(Json::as_str), Some("smelt"));
        assert_eq!(
            v.pointer("servers.1.port").and_then(Json::as_f64),
            Some(8080.0)
        );
        assert_eq!(v.pointer("tags.0"), Some(&Json::Str("rust".into())));
        assert_eq!(v.pointer("tags.5"), None);
        assert_eq!(v.pointer("name.first"), None);
        assert_eq!(v.pointer("extra"), Some(&Json::Null));
        assert_eq!(v.depth(), 3);
    }

    #[test]
    fn prints_compactly_and_round_trips() {
        let v = Json::parse(DOC).unwrap();
        let text = v.to_string();
        assert!(text.starts_with("{\"extra\":null,\"name\":\"smelt\",\"ok\":true,\"ratio\":0.25,"));
        assert_eq!(Json::parse(&text).unwrap(), v);
        assert_eq!(
            Json::parse("\"a\\\"b\\n\"").unwrap().to_string(),
            "\"a\\\"b\\n\""
        );
        assert_eq!(Json::parse("[]").unwrap().to_string(), "[]");
        assert_eq!(Json::parse("-1.5e2").unwrap(), Json::Number(-150.0));
    }

    #[test]
    fn reports_error_offsets() {
        assert_eq!(
            Json::parse("[1, 2"),
            Err(JsonError {
                offset: 5,
                message: "expected ',' or ']'"
            })
        );
        assert_eq!(
            Json::parse("{\"a\" 1}").unwrap_err().message,
            "expected ':'"
        );
        assert_eq!(
            Json::parse("{1: 2}").unwrap_err().message,
            "expected a string key"
        );
        assert_eq!(Json::parse("tru").unwrap_err().message, "unknown literal");
        assert_eq!(
            Json::parse("1 2").unwrap_err().to_string(),
            "invalid JSON at byte 2: trailing characters"
        );
        assert_eq!(
            Json::parse("\"open").unwrap_err().message,
            "unterminated string"
        );
        assert_eq!(
            Json::parse("--1").unwrap_err(),
            JsonError {
                offset: 0,
                message: "malformed number"
            }
        );
        assert_eq!(
            Json::parse("").unwrap_err().message,
            "unexpected end of input"
        );
    }

    #[test]
    fn unicode_strings() {
        let v = Json::parse("{\"città\": \"Zürich\"}").unwrap();
        assert_eq!(v.pointer("città").and_then(Json::as_str), Some("Zürich"));
    }
}
