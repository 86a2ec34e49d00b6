//! An INI-file reader with line-numbered errors.
//!
//! Supported syntax:
//!
//! ```text
//! ; comment            # also a comment
//! top = value          keys before any section belong to the "" section
//! [server]
//! host = example.org
//! port = 8080
//! ```
//!
//! Values are kept as strings; typed access goes through [`Ini::get_parsed`],
//! which reports the section, key and value that failed to parse.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A syntax error, with the 1-based line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for IniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for IniError {}

/// A parsed INI document: sections of ordered key/value pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ini {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

/// Why a typed lookup failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    Missing {
        section: String,
        key: String,
    },
    Invalid {
        section: String,
        key: String,
        value: String,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::Missing { section, key } => {
                write!(f, "[{}] has no key `{}`", section, key)
            }
            LookupError::Invalid {
                section,
                key,
                value,
            } => {
                write!(f, "[{}] {} = {:?} has the wrong type", section, key, value)
            }
        }
    }
}

impl Ini {
    /// Parses a whole document. Duplicate keys in one section are an error,
    /// because silently keeping either value hides mistakes.
    pub fn parse(text: &str) -> Result<Ini, IniError> {
        let mut ini = Ini::default();
        let mut section = String::new();
        ini.sections.entry(section.clone()).or_default();
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
                continue;
            }
            let err = |message: String| IniError {
                line: line_no,
                message,
            };
            if let Some(rest) = line.strip_prefix('[') {
                let name = rest
                    .strip_suffix(']')
                    .ok_or_else(|| err(format!("section header `{}` is missing ']'", line)))?
                    .trim();
                if name.is_empty() {
                    return Err(err("empty section name".to_string()));
                }
                section = name.to_string();
                ini.sections.entry(section.clone()).or_default();
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .ok_or_else(|| err(format!("expected `key = value`, found `{}`", line)))?;
            let key = key.trim();
            if key.is_empty() {
                return Err(err("key is empty".to_string()));
            }
            let entries = ini.sections.entry(section.clone()).or_default();
            if entries.contains_key(key) {
                return Err(err(format!("key `{}` appears twice in [{}]", key, section)));
            }
            entries.insert(key.to_string(), unquote(value.trim()).to_string());
        }
        Ok(ini)
    }

    /// The raw string value, if present.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections.get(section)?.get(key).map(String::as_str)
    }

    /// A value parsed into any `FromStr` type.
    pub fn get_parsed<T: FromStr>(&self, section: &str, key: &str) -> Result<T, LookupError> {
        let value = self.get(section, key).ok_or_else(|| LookupError::Missing {
            section: section.to_string(),
            key: key.to_string(),
        })?;
        value.parse().map_err(|_| LookupError::Invalid {
            section: section.to_string(),
            key: key.to_string(),
            value: value.to_string(),
        })
    }

    /// Like [`Ini::get_parsed`] but falls back to `default` when the key is missing.
    /// An invalid value is still an error.
    pub fn get_or<T: FromStr>(
        &self,
        section: &str,
        key: &str,
        default: T,
    ) -> Result<T, LookupError> {
        match self.get_parsed(section, key) {
            Err(LookupError::Missing { .. }) => Ok(default),
            other => other,
        }
    }

    /// Section names in order, leaving out the implicit "" section when it is empty.
    pub fn section_names(&self) -> Vec<&str> {
        self.sections
            .iter()
            .filter(|(name, entries)| !name.is_empty() || !entries.is_empty())
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Writes the document back out in a canonical form.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (name, entries) in &self.sections {
            if entries.is_empty() && name.is_empty() {
                continue;
            }
            if !name.is_empty() {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&format!("[{}]\n", name));
            }
            for (k, v) in entries {
                // Quote values whose outer spaces would otherwise be trimmed away.
                if v.trim() != v {
                    out.push_str(&format!("{} = \"{}\"\n", k, v));
                } else {
                    out.push_str(&format!("{} = {}\n", k, v));
                }
            }
        }
        out
    }
}

/// Strips one pair of matching surrounding quotes.
fn unquote(value: &str) -> &str {
    for q in ['"', '\''] {
        if value.len() >= 2 && value.starts_with(q) && value.ends_with(q) {
            return &value[1..value.len() - 1];
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
; global settings
name = demo

[server]
host = example.org
port = 8080
motd = \"  hello  \"

# tuning
[limits]
max_clients=64
ratio = 0.75
";

    #[test]
    fn reads_sections_and_values() {
        let ini = Ini::parse(SAMPLE).unwrap();
        assert_eq!(ini.get("", "name"), Some("demo"));
        assert_eq!(ini.get("server", "host"), Some("example.org"));
        assert_eq!(ini.get("server", "motd"), Some("  hello  "));
        assert_eq!(ini.get("server", "nope"), None);
        assert_eq!(ini.get("nope", "host"), None);
        assert_eq!(ini.section_names(), vec!["", "limits", "server"]);
    }

    #[test]
    fn typed_access() {
        let ini = Ini::parse(SAMPLE).unwrap();
        assert_eq!(ini.get_parsed::<u16>("server", "port"), Ok(8080));
        assert_eq!(ini.get_parsed::<f64>("limits", "ratio"), Ok(0.75));
        assert_eq!(ini.get_or("limits", "timeout", 30u32), Ok(30));
        let err = ini.get_parsed::<u8>("server", "host").unwrap_err();
        assert_eq!(
            err.to_string(),
            "[server] host = \"example.org\" has the wrong type"
        );
        assert!(ini.get_or("server", "host", 1u8).is_err());
        let missing = ini.get_parsed::<u8>("limits", "x").unwrap_err();
        assert_eq!(missing.to_string(), "[limits] has no key `x`");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = Ini::parse("a = 1\n[broken\nb = 2").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("missing ']'"));
        let err = Ini::parse("\n\njust words").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3: expected `key = value`, found `just words`"
        );
        assert_eq!(Ini::parse("[]").unwrap_err().message, "empty section name");
        assert_eq!(Ini::parse(" = 3").unwrap_err().message, "key is empty");
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let err = Ini::parse("[s]\nk = 1\nk = 2").unwrap_err();
        assert_eq!(err.line, 3);
        // The same key in different sections is fine.
        assert!(Ini::parse("[a]\nk = 1\n[b]\nk = 2").is_ok());
    }

    #[test]
    fn round_trip() {
        let ini = Ini::parse(SAMPLE).unwrap();
        let text = ini.to_text();
        assert!(text.starts_with("name = demo\n"));
        assert!(text.contains("motd = \"  hello  \"\n"));
        assert_eq!(Ini::parse(&text).unwrap(), ini);
        assert_eq!(Ini::parse("").unwrap().to_text(), "");
    }
}
