//! Layered error types for loading an application configuration.
//!
//! The pattern: each layer has its own error enum, lower-level errors are
//! wrapped with `From` so `?` converts them automatically, `Display` says
//! what went wrong in words a user understands, and `Error::source` exposes
//! the underlying cause for logging.

use std::error::Error;
use std::fmt;
use std::num::ParseIntError;

/// A problem with a single `key=value` line.
#[derive(Debug, PartialEq, Eq)]
pub enum FieldError {
    MissingEquals,
    EmptyKey,
    BadNumber {
        key: String,
        source: ParseIntError,
    },
    OutOfRange {
        key: String,
        value: i64,
        min: i64,
        max: i64,
    },
    UnknownKey(String),
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldError::MissingEquals => write!(f, "expected `key=value`"),
            FieldError::EmptyKey => write!(f, "the key before `=` is empty"),
            FieldError::BadNumber { key, .. } => write!(f, "`{}` must be a whole number", key),
            FieldError::OutOfRange {
                key,
                value,
                min,
                max,
            } => {
                write!(
                    f,
                    "`{}` is {}, but must be between {} and {}",
                    key, value, min, max
                )
            }
            FieldError::UnknownKey(key) => write!(f, "unknown setting `{}`", key),
        }
    }
}

impl Error for FieldError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            FieldError::BadNumber { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// An error while loading a whole configuration, with its location.
#[derive(Debug, PartialEq, Eq)]
pub enum ConfigError {
    Field { line: usize, error: FieldError },
    Missing(&'static str),
    Conflict(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Field { line, error } => write!(f, "line {}: {}", line, error),
            ConfigError::Missing(key) => write!(f, "required setting `{}` is missing", key),
            ConfigError::Conflict(why) => write!(f, "conflicting settings: {}", why),
        }
    }
}

impl Error for ConfigError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ConfigError::Field { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppConfig {
    pub name: String,
    pub workers: u8,
    pub port: u16,
    pub verbose: bool,
    pub min_port: Option<u16>,
}

fn number_in(key: &str, raw: &str, min: i64, max: i64) -> Result<i64, FieldError> {
    let value: i64 = raw.trim().parse().map_err(|source| FieldError::BadNumber {
        key: key.to_string(),
        source,
    })?;
    if value < min || value > max {
        return Err(FieldError::OutOfRange {
            key: key.to_string(),
            value,
            min,
            max,
        });
    }
    Ok(value)
}

#[derive(Default)]
struct Draft {
    name: Option<String>,
    workers: Option<u8>,
    port: Option<u16>,
    verbose: bool,
    min_port: Option<u16>,
}

impl Draft {
    fn apply(&mut self, line: &str) -> Result<(), FieldError> {
        let (key, value) = line.split_once('=').ok_or(FieldError::MissingEquals)?;
        let key = key.trim();
        match key {
            "" => return Err(FieldError::EmptyKey),
            "name" => self.name = Some(value.trim().to_string()),
            "workers" => self.workers = Some(number_in(key, value, 1, 64)? as u8),
            "port" => self.port = Some(number_in(key, value, 1, 65535)? as u16),
            "min_port" => self.min_port = Some(number_in(key, value, 1, 65535)? as u16),
            "verbose" => self.verbose = matches!(value.trim(), "1" | "true" | "yes"),
            other => return Err(FieldError::UnknownKey(other.to_string())),
        }
        Ok(())
    }

    fn finish(self) -> Result<AppConfig, ConfigError> {
        let config = AppConfig {
            name: self.name.ok_or(ConfigError::Missing("name"))?,
            workers: self.workers.unwrap_or(4),
            port: self.port.ok_or(ConfigError::Missing("port"))?,
            verbose: self.verbose,
            min_port: self.min_port,
        };
        if let Some(min) = config.min_port {
            if config.port < min {
                return Err(ConfigError::Conflict(format!(
                    "port {} is below min_port {}",
                    config.port, min
                )));
            }
        }
        Ok(config)
    }
}

/// Parses configuration text. Blank lines and `#` comments are skipped.
pub fn load(text: &str) -> Result<AppConfig, ConfigError> {
    let mut draft = Draft::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        draft
            .apply(line)
            .map_err(|error| ConfigError::Field { line: i + 1, error })?;
    }
    draft.finish()
}

/// Renders an error and all its causes, one per line, for a log.
pub fn error_chain(err: &dyn Error) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        out.push_str("\n  caused by: ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_a_valid_file() {
        let cfg = load("# demo\nname = api\nport=8080\n\nverbose = yes\n").unwrap();
        assert_eq!(
            cfg,
            AppConfig {
                name: "api".into(),
                workers: 4,
                port: 8080,
                verbose: true,
                min_port: None
            }
        );
    }

    #[test]
    fn reports_the_failing_line() {
        let err = load("name = x\nport = eighty").unwrap_err();
        assert_eq!(err.to_string(), "line 2: `port` must be a whole number");
        assert!(matches!(
            err,
            ConfigError::Field {
                line: 2,
                error: FieldError::BadNumber { .. }
            }
        ));
    }

    #[test]
    fn range_and_unknown_keys() {
        let err = load("workers = 100").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 1: `workers` is 100, but must be between 1 and 64"
        );
        let err = load("colour = blue").unwrap_err();
        assert_eq!(err.to_string(), "line 1: unknown setting `colour`");
        assert_eq!(
            load(" = 3").unwrap_err().to_string(),
            "line 1: the key before `=` is empty"
        );
        assert_eq!(
            load("just text").unwrap_err().to_string(),
            "line 1: expected `key=value`"
        );
    }

    #[test]
    fn missing_and_conflicting() {
        assert_eq!(load("port = 1"), Err(ConfigError::Missing("name")));
        assert_eq!(load("name = a"), Err(ConfigError::Missing("port")));
        let err = load("name=a\nport=80\nmin_port=1024").unwrap_err();
        assert_eq!(
            err.to_string(),
            "conflicting settings: port 80 is below min_port 1024"
        );
    }

    #[test]
    fn error_sources_form_a_chain() {
        let err = load("name=a\nport=x1").unwrap_err();
        let chain = error_chain(&err);
        assert_eq!(
            chain,
            "line 2: `port` must be a whole number\n  caused by: `port` must be a whole number\n  caused by: invalid digit found in string"
        );
        assert!(ConfigError::Missing("name").source().is_none());
    }
}
