//! Extracting an outline (table of contents) from Markdown headings.
//!
//! Handles ATX headings (`# Title`, `## Sub`), ignores `#` lines inside
//! fenced code blocks, generates GitHub-style anchors that stay unique, and
//! renders the outline back as a nested Markdown list.

use std::collections::HashMap;

/// One heading in the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heading {
    pub level: u8,
    pub text: String,
    pub anchor: String,
    pub line: usize,
}

/// Turns heading text into an anchor: lower case, spaces to `-`, most
/// punctuation removed.
pub fn anchor_for(text: &str) -> String {
    text.trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Strips inline markup that should not appear in the outline: `code`
/// backticks, emphasis markers and the URL part of `[text](url)` links.
pub fn plain_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' | '*' => {}
            '_' if out.is_empty()
                || out.ends_with(' ')
                || chars.peek().is_none_or(|n| *n == ' ') => {}
            ']' if chars.peek() == Some(&'(') => {
                // Skip "(url)".
                for skipped in chars.by_ref() {
                    if skipped == ')' {
                        break;
                    }
                }
            }
            '[' => {}
            c => out.push(c),
        }
    }
    out.trim().to_string()
}

/// Parses a single line as an ATX heading.
fn parse_heading(line: &str) -> Option<(u8, &str)> {
    let trimmed = line.trim_start();
    if line.len() - trimmed.len() > 3 {
        return None; // four spaces of indent make a code block
    }
    let hashes = trimmed.chars().take_while(|&c| c == '#').count();
    if hashes == 0 || hashes > 6 {
        return None;
    }
    let rest = &trimmed[hashes..];
    if !rest.is_empty() && !rest.starts_with(' ') {
        return None; // "#hashtag" is not a heading
    }
    // Optional closing hashes: "## Title ##".
    let text = rest.trim().trim_end_matches('#').trim_end();
    Some((hashes as u8, text))
}

/// All headings of a document in order.
pub fn outline(markdown: &str) -> Vec<Heading> {
    let mut headings = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut fence: Option<&str> = None;
    for (i, line) in markdown.lines().enumerate() {
        let t = line.trim_start();
        let marker = if t.starts_with("```") {
            Some("```")
        } else if t.starts_with("~~~") {
            Some("~~~")
        } else {
            None
        };
        match (fence, marker) {
            (None, Some(m)) => {
                fence = Some(m);
                continue;
            }
            (Some(open), Some(m)) if open == m => {
                fence = None;
                continue;
            }
            (Some(_), _) => continue,
            _ => {}
        }
        if let Some((level, raw)) = parse_heading(line) {
            let text = plain_text(raw);
            let base = anchor_for(&text);
            let n = seen.entry(base.clone()).or_insert(0);
            let anchor = if *n == 0 {
                base
            } else {
                format!("{}-{}", base, n)
            };
            *n += 1;
            headings.push(Heading {
                level,
                text,
                anchor,
                line: i + 1,
            });
        }
    }
    headings
}

/// Renders headings between `min_level` and `max_level` as a nested list of links.
pub fn table_of_contents(headings: &[Heading], min_level: u8, max_level: u8) -> String {
    headings
        .iter()
        .filter(|h| (min_level..=max_level).contains(&h.level))
        .map(|h| {
            let indent = "  ".repeat(usize::from(h.level - min_level));
            format!("{}- [{}](#{})", indent, h.text, h.anchor)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reports headings that skip a level, such as `#` followed by `###`.
pub fn level_jumps(headings: &[Heading]) -> Vec<(usize, u8, u8)> {
    headings
        .windows(2)
        .filter(|w| w[1].level > w[0].level + 1)
        .map(|w| (w[1].line, w[0].level, w[1].level))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
# Smelt Guide

Intro text with a #hashtag.

## Getting `started`

```bash
# not a heading
```

## Install ##
### From *source*
## Getting started
#### Deep
    # indented code, not a heading
## See [the docs](https://example.org)
";

    #[test]
    fn anchors() {
        assert_eq!(anchor_for("Getting Started!"), "getting-started");
        assert_eq!(anchor_for("  API v2.0 "), "api-v20");
        assert_eq!(anchor_for("snake_case-ok"), "snake_case-ok");
    }

    #[test]
    fn plain_text_strips_markup() {
        assert_eq!(plain_text("Getting `started`"), "Getting started");
        assert_eq!(plain_text("From *source*"), "From source");
        assert_eq!(plain_text("See [the docs](https://x.y)"), "See the docs");
        assert_eq!(
            plain_text("keep_inner_underscores"),
            "keep_inner_underscores"
        );
    }

    #[test]
    fn finds_headings_outside_code() {
        let h = outline(DOC);
        let titles: Vec<(u8, &str)> = h.iter().map(|x| (x.level, x.text.as_str())).collect();
        assert_eq!(
            titles,
            vec![
                (1, "Smelt Guide"),
                (2, "Getting started"),
                (2, "Install"),
                (3, "From source"),
                (2, "Getting started"),
                (4, "Deep"),
                (2, "See the docs"),
            ]
        );
        assert_eq!(h[1].anchor, "getting-started");
        assert_eq!(h[4].anchor, "getting-started-1");
        assert_eq!(h[2].line, 11);
    }

    #[test]
    fn renders_toc() {
        let h = outline(DOC);
        let toc = table_of_contents(&h, 2, 3);
        let expected = "\
- [Getting started](#getting-started)
- [Install](#install)
  - [From source](#from-source)
- [Getting started](#getting-started-1)
- [See the docs](#see-the-docs)";
        assert_eq!(toc, expected);
        assert_eq!(table_of_contents(&[], 1, 6), "");
    }

    #[test]
    fn detects_skipped_levels() {
        let h = outline(DOC);
        assert_eq!(level_jumps(&h), vec![(14, 2, 4)]);
        assert!(level_jumps(&outline("# a\n## b\n# c")).is_empty());
    }

    #[test]
    fn heading_edge_cases() {
        assert_eq!(parse_heading("####### seven"), None);
        assert_eq!(parse_heading("#"), Some((1, "")));
        assert_eq!(parse_heading("   ## ok"), Some((2, "ok")));
        assert_eq!(parse_heading("#nope"), None);
    }
}
