//! Reading and writing through the `std::io` traits.
//!
//! Functions take `impl BufRead` / `impl Write` instead of file paths, so
//! the same code works on files, sockets, stdin and in-memory buffers. The
//! tests use `std::io::Cursor` and `Vec<u8>`, which implement those traits.

use std::fmt;
use std::io::{self, BufRead, Read, Write};

/// A simple tab-separated record: name, quantity, note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub quantity: u32,
    pub note: Option<String>,
}

/// A bad line in the input, or an I/O failure.
#[derive(Debug)]
pub enum ReadError {
    Io(io::Error),
    Format { line: usize, message: String },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "I/O error: {}", e),
            ReadError::Format { line, message } => write!(f, "line {}: {}", line, message),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            ReadError::Format { .. } => None,
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

fn parse_record(line: &str, line_no: usize) -> Result<Record, ReadError> {
    let format_err = |message: String| ReadError::Format {
        line: line_no,
        message,
    };
    let mut fields = line.split('\t');
    let name = fields
        .next()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| format_err("missing name".into()))?;
    let quantity = fields
        .next()
        .ok_or_else(|| format_err("missing quantity".into()))?
        .trim()
        .parse()
        .map_err(|e| format_err(format!("bad quantity: {}", e)))?;
    let note = fields.next().map(str::to_string).filter(|n| !n.is_empty());
    if fields.next().is_some() {
        return Err(format_err("too many fields".into()));
    }
    Ok(Record {
        name: name.to_string(),
        quantity,
        note,
    })
}

/// Reads records, skipping blank lines and `#` comments.
pub fn read_records<R: BufRead>(reader: R) -> Result<Vec<Record>, ReadError> {
    let mut records = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        let trimmed = line.trim_end_matches('\r');
        if trimmed.trim().is_empty() || trimmed.starts_with('#') {
            continue;
        }
        records.push(parse_record(trimmed, i + 1)?);
    }
    Ok(records)
}

/// Like [`read_records`] but keeps going, returning good records and errors separately.
pub fn read_records_lenient<R: BufRead>(reader: R) -> (Vec<Record>, Vec<ReadError>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        match line {
            Err(e) => {
                bad.push(ReadError::Io(e));
                break;
            }
            Ok(l) if l.trim().is_empty() || l.starts_with('#') => {}
            Ok(l) => match parse_record(&l, i + 1) {
                Ok(r) => good.push(r),
                Err(e) => bad.push(e),
            },
        }
    }
    (good, bad)
}

/// Writes records in the same format `read_records` understands.
pub fn write_records<W: Write>(mut writer: W, records: &[Record]) -> io::Result<()> {
    for r in records {
        match &r.note {
            Some(note) => writeln!(writer, "{}\t{}\t{}", r.name, r.quantity, note)?,
            None => writeln!(writer, "{}\t{}", r.name, r.quantity)?,
        }
    }
    writer.flush()
}

/// Counts bytes, lines and words of any reader in one pass over 4 KiB blocks.
pub fn word_count<R: Read>(mut reader: R) -> io::Result<(usize, usize, usize)> {
    let mut buf = [0u8; 4096];
    let (mut bytes, mut lines, mut words) = (0, 0, 0);
    let mut in_word = false;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        bytes += n;
        for &b in &buf[..n] {
            if b == b'\n' {
                lines += 1;
            }
            let space = b.is_ascii_whitespace();
            if !space && !in_word {
                words += 1;
            }
            in_word = !space;
        }
    }
    Ok((bytes, lines, words))
}

/// A writer adapter that prefixes every line, e.g. for indenting output.
pub struct Prefixed<W: Write> {
    inner: W,
    prefix: String,
    at_line_start: bool,
}

impl<W: Write> Prefixed<W> {
    pub fn new(inner: W, prefix: &str) -> Self {
        Prefixed {
            inner,
            prefix: prefix.to_string(),
            at_line_start: true,
        }
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for Prefixed<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        for line in buf.split_inclusive(|&b| b == b'\n') {
            if self.at_line_start {
                self.inner.write_all(self.prefix.as_bytes())?;
            }
            self.inner.write_all(line)?;
            self.at_line_start = line.ends_with(b"\n");
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    const INPUT: &str = "# inventory\napple\t3\tred ones\npear\t10\n\nplum\t0\t\n";

    #[test]
    fn reads_records() {
        let records = read_records(Cursor::new(INPUT)).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(
            records[0],
            Record {
                name: "apple".into(),
                quantity: 3,
                note: Some("red ones".into())
            }
        );
        assert_eq!(records[2].note, None);
    }

    #[test]
    fn format_errors_have_line_numbers() {
        let err = read_records(Cursor::new("a\t1\nb\tmany\n")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: bad quantity: invalid digit found in string"
        );
        let err = read_records(Cursor::new("\tx")).unwrap_err();
        assert_eq!(err.to_string(), "line 1: missing name");
        let err = read_records(Cursor::new("a\t1\tb\tc")).unwrap_err();
        assert!(matches!(err, ReadError::Format { line: 1, .. }));
    }

    #[test]
    fn lenient_reading_keeps_good_rows() {
        let (good, bad) = read_records_lenient(Cursor::new("a\t1\nbroken\nb\t2\nc\t-1\n"));
        assert_eq!(
            good.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            vec!["a", "b"]
        );
        assert_eq!(bad.len(), 2);
        assert!(bad[0].to_string().starts_with("line 2:"));
    }

    #[test]
    fn invalid_utf8_is_an_io_error() {
        let err = read_records(Cursor::new(vec![b'a', b'\t', 0xff, b'\n'])).unwrap_err();
        assert!(matches!(err, ReadError::Io(_)));
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn write_then_read_round_trip() {
        let records = read_records(Cursor::new(INPUT)).unwrap();
        let mut out = Vec::new();
        write_records(&mut out, &records).unwrap();
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "apple\t3\tred ones\npear\t10\nplum\t0\n"
        );
        assert_eq!(read_records(Cursor::new(out)).unwrap(), records);
    }

    #[test]
    fn counting() {
        assert_eq!(
            word_count(Cursor::new("one two\nthree\n")).unwrap(),
            (14, 2, 3)
        );
        assert_eq!(word_count(Cursor::new("")).unwrap(), (0, 0, 0));
        let big = "word ".repeat(3000);
        assert_eq!(word_count(Cursor::new(big)).unwrap(), (15000, 0, 3000));
    }

    #[test]
    fn prefixing_writer() {
        let mut w = Prefixed::new(Vec::new(), "> ");
        write!(w, "hello\nwor").unwrap();
        writeln!(w, "ld").unwrap();
        w.write_all(b"bye").unwrap();
        assert_eq!(
            String::from_utf8(w.into_inner()).unwrap(),
            "> hello\n> world\n> bye"
        );
    }
}
