//! Lifetimes in practice: structs that borrow instead of copying.
//!
//! A parser or tokenizer rarely needs to own its input. Holding `&'a str`
//! slices lets it hand out pieces of the original text for free, and the
//! lifetime `'a` tells the compiler those pieces may not outlive the text.

use std::collections::HashMap;

/// A header/body document, e.g. an e-mail or an HTTP message, split into
/// borrowed parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    headers: Vec<(&'a str, &'a str)>,
    body: &'a str,
}

impl<'a> Message<'a> {
    /// Headers are `Name: value` lines up to the first blank line.
    /// Returns `None` if a header line has no colon.
    pub fn parse(raw: &'a str) -> Option<Message<'a>> {
        let (head, body) = match raw.split_once("\n\n") {
            Some((h, b)) => (h, b),
            None => (raw, ""),
        };
        let headers = head
            .lines()
            .filter(|l| !l.is_empty())
            .map(|line| line.split_once(':').map(|(k, v)| (k.trim(), v.trim())))
            .collect::<Option<Vec<_>>>()?;
        Some(Message { headers, body })
    }

    /// Case-insensitive header lookup; the result borrows from the input,
    /// not from `self`, so it can outlive the `Message`.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|&(_, v)| v)
    }

    pub fn body(&self) -> &'a str {
        self.body
    }

    /// Body lines that are not quoted replies (lines starting with '>').
    pub fn own_lines(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.body
            .lines()
            .filter(|l| !l.trim_start().starts_with('>'))
    }
}

/// Returns whichever string is longer; both inputs share one lifetime, so
/// the result is valid as long as both are.
pub fn longer<'a>(a: &'a str, b: &'a str) -> &'a str {
    if b.len() > a.len() {
        b
    } else {
        a
    }
}

/// The first word of `text`. Lifetime elision ties the output to the input.
pub fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("")
}

/// Splits `text` on a delimiter, yielding borrowed fields; the delimiter
/// may borrow something shorter-lived than the text.
pub struct Fields<'text, 'delim> {
    rest: Option<&'text str>,
    delimiter: &'delim str,
}

impl<'text, 'delim> Fields<'text, 'delim> {
    pub fn new(text: &'text str, delimiter: &'delim str) -> Self {
        Fields {
            rest: Some(text),
            delimiter,
        }
    }
}

impl<'text> Iterator for Fields<'text, '_> {
    type Item = &'text str;

    fn next(&mut self) -> Option<&'text str> {
        let rest = self.rest?;
        if self.delimiter.is_empty() {
            self.rest = None;
            return Some(rest);
        }
        match rest.find(self.delimiter) {
            Some(i) => {
                self.rest = Some(&rest[i + self.delimiter.len()..]);
                Some(&rest[..i])
            }
            None => {
                self.rest = None;
                Some(rest)
            }
        }
    }
}

/// An interner that hands out borrowed `&str`s from strings it was given,
/// mapping each distinct string to a small id.
#[derive(Debug, Default)]
pub struct Interner<'a> {
    ids: HashMap<&'a str, u32>,
    strings: Vec<&'a str>,
}

impl<'a> Interner<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn intern(&mut self, s: &'a str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        self.strings.push(s);
        self.ids.insert(s, id);
        id
    }

    pub fn resolve(&self, id: u32) -> Option<&'a str> {
        self.strings.get(id as usize).copied()
    }

    pub fn len(&self) -> usize {
        self.strings.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
    }
}

/// Interns every word of a text and returns the id sequence.
pub fn encode_words<'a>(interner: &mut Interner<'a>, text: &'a str) -> Vec<u32> {
    text.split_whitespace()
        .map(|w| interner.intern(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = "From: ann@example.org\nSubject:  Lunch?\nX-Empty:\n\nSounds good.\n> Want to get lunch?\nSee you at noon.";

    #[test]
    fn parses_headers_and_body() {
        let msg = Message::parse(RAW).unwrap();
        assert_eq!(msg.header("subject"), Some("Lunch?"));
        assert_eq!(msg.header("FROM"), Some("ann@example.org"));
        assert_eq!(msg.header("x-empty"), Some(""));
        assert_eq!(msg.header("cc"), None);
        assert!(msg.body().starts_with("Sounds good."));
        assert_eq!(
            msg.own_lines().collect::<Vec<_>>(),
            vec!["Sounds good.", "See you at noon."]
        );
    }

    #[test]
    fn borrowed_values_outlive_the_view() {
        let subject;
        {
            let msg = Message::parse(RAW).unwrap();
            subject = msg.header("Subject").unwrap();
        }
        assert_eq!(subject, "Lunch?");
    }

    #[test]
    fn malformed_headers() {
        assert_eq!(Message::parse("no colon here\n\nbody"), None);
        let only_head = Message::parse("A: 1").unwrap();
        assert_eq!(only_head.body(), "");
    }

    #[test]
    fn small_lifetime_helpers() {
        assert_eq!(longer("apple", "fig"), "apple");
        assert_eq!(longer("", "x"), "x");
        assert_eq!(first_word("  hello world"), "hello");
        assert_eq!(first_word("   "), "");
    }

    #[test]
    fn fields_iterator() {
        let text = String::from("a::b::::c");
        let fields: Vec<&str> = {
            let delimiter = String::from("::");
            Fields::new(&text, &delimiter).collect()
        };
        assert_eq!(fields, vec!["a", "b", "", "c"]);
        assert_eq!(Fields::new("", ",").collect::<Vec<_>>(), vec![""]);
        assert_eq!(Fields::new("abc", "").collect::<Vec<_>>(), vec!["abc"]);
    }

    #[test]
    fn interning() {
        let text = "the cat and the hat and the bat";
        let mut interner = Interner::new();
        let ids = encode_words(&mut interner, text);
        assert_eq!(ids, vec![0, 1, 2, 0, 3, 2, 0, 4]);
        assert_eq!(interner.len(), 5);
        assert_eq!(interner.resolve(3), Some("hat"));
        assert_eq!(interner.resolve(99), None);
        let decoded: Vec<&str> = ids.iter().filter_map(|&i| interner.resolve(i)).collect();
        assert_eq!(decoded.join(" "), text);
        assert!(!interner.is_empty());
    }
}
