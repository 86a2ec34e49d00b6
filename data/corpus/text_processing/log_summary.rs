//! Parsing and summarizing application log lines.
//!
//! Expected format (one entry per line):
//!
//! ```text
//! 2024-03-01T12:00:05Z WARN  [db::pool] connection slow: 1200ms
//! ```
//!
//! Lines that do not match are counted as malformed instead of aborting the
//! whole analysis: with logs, partial answers beat no answer.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl FromStr for Level {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "TRACE" => Ok(Level::Trace),
            "DEBUG" => Ok(Level::Debug),
            "INFO" => Ok(Level::Info),
            "WARN" => Ok(Level::Warn),
            "ERROR" => Ok(Level::Error),
            _ => Err(()),
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        };
        // `pad` honours width flags such as `{:<5}`.
        f.pad(s)
    }
}

/// One parsed entry, borrowing from the input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub timestamp: &'a str,
    pub level: Level,
    pub module: &'a str,
    pub message: &'a str,
}

impl<'a> Entry<'a> {
    /// Parses one line, or returns `None` if it does not follow the format.
    pub fn parse(line: &'a str) -> Option<Entry<'a>> {
        let (timestamp, rest) = line.split_once(' ')?;
        if timestamp.len() != 20 || !timestamp.ends_with('Z') {
            return None;
        }
        let rest = rest.trim_start();
        let (level, rest) = rest.split_once(' ')?;
        let level = level.parse().ok()?;
        let rest = rest.trim_start().strip_prefix('[')?;
        let (module, message) = rest.split_once(']')?;
        Some(Entry {
            timestamp,
            level,
            module,
            message: message.trim(),
        })
    }

    /// The hour part of the timestamp, "12" in "2024-03-01T12:00:05Z".
    pub fn hour(&self) -> &'a str {
        &self.timestamp[11..13]
    }

    /// The top-level module, "db" in "db::pool".
    pub fn crate_name(&self) -> &'a str {
        self.module.split("::").next().unwrap_or(self.module)
    }
}

/// Aggregated statistics over many lines.
#[derive(Debug, Default)]
pub struct Summary<'a> {
    pub total: usize,
    pub malformed: Vec<usize>,
    pub by_level: BTreeMap<Level, usize>,
    pub by_module: BTreeMap<&'a str, usize>,
    pub errors_by_hour: BTreeMap<&'a str, usize>,
    pub first_error: Option<Entry<'a>>,
}

impl<'a> Summary<'a> {
    /// Summarizes log text; `malformed` holds 1-based line numbers.
    pub fn of(text: &'a str) -> Summary<'a> {
        let mut s = Summary::default();
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            s.total += 1;
            let Some(entry) = Entry::parse(line) else {
                s.malformed.push(i + 1);
                continue;
            };
            *s.by_level.entry(entry.level).or_default() += 1;
            *s.by_module.entry(entry.crate_name()).or_default() += 1;
            if entry.level == Level::Error {
                *s.errors_by_hour.entry(entry.hour()).or_default() += 1;
                if s.first_error.is_none() {
                    s.first_error = Some(entry);
                }
            }
        }
        s
    }

    /// Entries at or above `min`.
    pub fn count_at_least(&self, min: Level) -> usize {
        self.by_level.range(min..).map(|(_, n)| n).sum()
    }

    /// The module with the most entries, ties broken by name.
    pub fn noisiest_module(&self) -> Option<(&'a str, usize)> {
        self.by_module
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(m, n)| (*m, *n))
    }

    /// A human-readable report, one level per line.
    pub fn report(&self) -> String {
        let mut lines: Vec<String> = self
            .by_level
            .iter()
            .rev()
            .map(|(level, n)| format!("{:<5} {:>4}", level, n))
            .collect();
        if !self.malformed.is_empty() {
            lines.push(format!("malformed lines: {:?}", self.malformed));
        }
        lines.join("\n")
    }
}

/// Extracts a `<number>ms` duration from a message, e.g. "took 1200ms".
pub fn duration_ms(message: &str) -> Option<u64> {
    message
        .split(|c: char| c.is_whitespace() || c == ':' || c == ',')
        .find_map(|word| word.strip_suffix("ms")?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
2024-03-01T11:59:58Z INFO  [server] listening on :8080
2024-03-01T12:00:05Z WARN  [db::pool] connection slow: 1200ms
garbage line
2024-03-01T12:00:07Z ERROR [db::query] timeout after 5000ms
2024-03-01T12:01:00Z DEBUG [server::http] GET /health

2024-03-01T13:15:00Z ERROR [auth] token expired
2024-03-01T13:15:01Z NOTICE [auth] unknown level";

    #[test]
    fn parses_an_entry() {
        let e = Entry::parse("2024-03-01T12:00:05Z WARN  [db::pool] slow").unwrap();
        assert_eq!(e.level, Level::Warn);
        assert_eq!(e.module, "db::pool");
        assert_eq!(e.crate_name(), "db");
        assert_eq!(e.hour(), "12");
        assert_eq!(e.message, "slow");
    }

    #[test]
    fn rejects_malformed_lines() {
        assert_eq!(Entry::parse("garbage"), None);
        assert_eq!(Entry::parse("2024-03-01T12:00:05Z WARN db slow"), None);
        assert_eq!(Entry::parse("2024-03-01 WARN [db] x"), None);
        assert_eq!(Entry::parse("2024-03-01T12:00:05Z LOUD [db] x"), None);
    }

    #[test]
    fn summarizes() {
        let s = Summary::of(LOG);
        assert_eq!(s.total, 7);
        assert_eq!(s.malformed, vec![3, 8]);
        assert_eq!(s.by_level[&Level::Error], 2);
        assert_eq!(s.count_at_least(Level::Warn), 3);
        assert_eq!(s.count_at_least(Level::Trace), 5);
        assert_eq!(s.noisiest_module(), Some(("db", 2)));
        assert_eq!(s.errors_by_hour.get("13"), Some(&1));
        assert_eq!(s.first_error.as_ref().map(|e| e.module), Some("db::query"));
    }

    #[test]
    fn report_format() {
        let s = Summary::of(LOG);
        let expected = "ERROR    2\nWARN     1\nINFO     1\nDEBUG    1\nmalformed lines: [3, 8]";
        assert_eq!(s.report(), expected);
        assert_eq!(Summary::of("").report(), "");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_ms("connection slow: 1200ms"), Some(1200));
        assert_eq!(duration_ms("took 5ms, then 7ms"), Some(5));
        assert_eq!(duration_ms("no timing here"), None);
        assert_eq!(duration_ms("bad xms"), None);
    }
}
