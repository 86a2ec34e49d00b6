//! Line-based diffs between two texts.
//!
//! The diff is derived from a longest-common-subsequence table over lines:
//! lines in the LCS are kept, the rest are deletions or insertions. Output
//! can be rendered in a unified-like format with context lines.

use std::fmt;

/// One step of an edit script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit<'a> {
    Keep(&'a str),
    Delete(&'a str),
    Insert(&'a str),
}

impl fmt::Display for Edit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edit::Keep(line) => write!(f, " {}", line),
            Edit::Delete(line) => write!(f, "-{}", line),
            Edit::Insert(line) => write!(f, "+{}", line),
        }
    }
}

/// Computes an edit script turning `old` into `new`. Deletions are listed
/// before insertions at the same place, which reads naturally as "replace".
pub fn diff_lines<'a>(old: &'a str, new: &'a str) -> Vec<Edit<'a>> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // lcs[i][j] = LCS length of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut edits = Vec::with_capacity(a.len() + b.len());
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            edits.push(Edit::Keep(a[i]));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            edits.push(Edit::Delete(a[i]));
            i += 1;
        } else {
            edits.push(Edit::Insert(b[j]));
            j += 1;
        }
    }
    edits.extend(a[i..].iter().map(|l| Edit::Delete(l)));
    edits.extend(b[j..].iter().map(|l| Edit::Insert(l)));
    edits
}

/// Counts of inserted and deleted lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DiffStat {
    pub insertions: usize,
    pub deletions: usize,
}

pub fn stat(edits: &[Edit<'_>]) -> DiffStat {
    edits.iter().fold(DiffStat::default(), |mut s, e| {
        match e {
            Edit::Insert(_) => s.insertions += 1,
            Edit::Delete(_) => s.deletions += 1,
            Edit::Keep(_) => {}
        }
        s
    })
}

/// Renders changed regions with up to `context` unchanged lines around
/// them. Each hunk starts with `@@ -old_start,old_len +new_start,new_len @@`
/// using 1-based line numbers.
pub fn unified(edits: &[Edit<'_>], context: usize) -> String {
    // Mark which edits are shown: every change plus `context` lines around it.
    let changed: Vec<usize> = edits
        .iter()
        .enumerate()
        .filter(|(_, e)| !matches!(e, Edit::Keep(_)))
        .map(|(i, _)| i)
        .collect();
    let mut shown = vec![false; edits.len()];
    for &c in &changed {
        let lo = c.saturating_sub(context);
        let hi = (c + context).min(edits.len() - 1);
        shown[lo..=hi].iter_mut().for_each(|s| *s = true);
    }

    let mut out = String::new();
    let (mut old_line, mut new_line) = (1usize, 1usize);
    let mut i = 0;
    while i < edits.len() {
        if !shown[i] {
            match edits[i] {
                Edit::Keep(_) => {
                    old_line += 1;
                    new_line += 1;
                }
                Edit::Delete(_) => old_line += 1,
                Edit::Insert(_) => new_line += 1,
            }
            i += 1;
            continue;
        }
        let start = i;
        while i < edits.len() && shown[i] {
            i += 1;
        }
        let hunk = &edits[start..i];
        let old_len = hunk
            .iter()
            .filter(|e| !matches!(e, Edit::Insert(_)))
            .count();
        let new_len = hunk
            .iter()
            .filter(|e| !matches!(e, Edit::Delete(_)))
            .count();
        out.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            old_line, old_len, new_line, new_len
        ));
        for e in hunk {
            out.push_str(&e.to_string());
            out.push('\n');
        }
        old_line += old_len;
        new_line += new_len;
    }
    out
}

/// Applies an edit script to reconstruct the new text (lines joined with '\n').
pub fn apply(edits: &[Edit<'_>]) -> String {
    edits
        .iter()
        .filter_map(|e| match e {
            Edit::Keep(l) | Edit::Insert(l) => Some(*l),
            Edit::Delete(_) => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "a\nb\nc\nd\ne\nf\ng";
    const NEW: &str = "a\nb\nC\nd\ne\nf\ng\nh";

    #[test]
    fn identical_texts_keep_everything() {
        let edits = diff_lines("x\ny", "x\ny");
        assert_eq!(edits, vec![Edit::Keep("x"), Edit::Keep("y")]);
        assert_eq!(stat(&edits), DiffStat::default());
        assert_eq!(unified(&edits, 3), "");
    }

    #[test]
    fn replacement_is_delete_then_insert() {
        let edits = diff_lines("one\ntwo\nthree", "one\n2\nthree");
        assert_eq!(
            edits,
            vec![
                Edit::Keep("one"),
                Edit::Delete("two"),
                Edit::Insert("2"),
                Edit::Keep("three")
            ]
        );
        assert_eq!(
            stat(&edits),
            DiffStat {
                insertions: 1,
                deletions: 1
            }
        );
    }

    #[test]
    fn empty_sides() {
        assert_eq!(
            diff_lines("", "a\nb"),
            vec![Edit::Insert("a"), Edit::Insert("b")]
        );
        assert_eq!(diff_lines("a", ""), vec![Edit::Delete("a")]);
        assert!(diff_lines("", "").is_empty());
    }

    #[test]
    fn unified_output_with_context() {
        let edits = diff_lines(OLD, NEW);
        let expected = "\
@@ -2,3 +2,3 @@
 b
-c
+C
 d
@@ -7,1 +7,2 @@
 g
+h
";
        assert_eq!(unified(&edits, 1), expected);
    }

    #[test]
    fn wide_context_merges_hunks() {
        let edits = diff_lines(OLD, NEW);
        let out = unified(&edits, 3);
        assert_eq!(out.matches("@@ -").count(), 1);
        assert!(out.starts_with("@@ -1,7 +1,8 @@\n"));
    }

    #[test]
    fn applying_reproduces_new_text() {
        for (old, new) in [
            (OLD, NEW),
            ("x", "y"),
            ("", "q"),
            ("a\nb\na\nb", "b\na\nb\na"),
        ] {
            assert_eq!(apply(&diff_lines(old, new)), new);
        }
    }

    #[test]
    fn edit_display() {
        assert_eq!(Edit::Insert("x").to_string(), "+x");
        assert_eq!(Edit::Delete("y").to_string(), "-y");
        assert_eq!(Edit::Keep("z").to_string(), " z");
    }
}
