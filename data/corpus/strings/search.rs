//! Substring search: the naive scan, Knuth-Morris-Pratt and a few helpers
//! built on top of them.
//!
//! All positions are byte offsets into the haystack, which is what `str::find`
//! returns too, so results can be used directly for slicing.

/// Computes the KMP failure table: `table[i]` is the length of the longest
/// proper prefix of `pattern[..=i]` that is also a suffix of it.
pub fn failure_table(pattern: &[u8]) -> Vec<usize> {
    let mut table = vec![0; pattern.len()];
    let mut k = 0;
    for i in 1..pattern.len() {
        while k > 0 && pattern[i] != pattern[k] {
            k = table[k - 1];
        }
        if pattern[i] == pattern[k] {
            k += 1;
        }
        table[i] = k;
    }
    table
}

/// Finds every (possibly overlapping) occurrence of `needle` in `haystack`
/// with the KMP algorithm in O(n + m) time. An empty needle matches nowhere.
pub fn find_all(haystack: &str, needle: &str) -> Vec<usize> {
    let (text, pattern) = (haystack.as_bytes(), needle.as_bytes());
    if pattern.is_empty() {
        return Vec::new();
    }
    let table = failure_table(pattern);
    let mut matches = Vec::new();
    let mut k = 0;
    for (i, &byte) in text.iter().enumerate() {
        while k > 0 && byte != pattern[k] {
            k = table[k - 1];
        }
        if byte == pattern[k] {
            k += 1;
        }
        if k == pattern.len() {
            matches.push(i + 1 - k);
            k = table[k - 1];
        }
    }
    matches
}

/// The obvious O(n * m) search, kept as a reference for testing `find_all`.
pub fn find_all_naive(haystack: &str, needle: &str) -> Vec<usize> {
    let (text, pattern) = (haystack.as_bytes(), needle.as_bytes());
    if pattern.is_empty() || pattern.len() > text.len() {
        return Vec::new();
    }
    (0..=text.len() - pattern.len())
        .filter(|&i| &text[i..i + pattern.len()] == pattern)
        .collect()
}

/// Counts occurrences that do not overlap, scanning left to right.
pub fn count_non_overlapping(haystack: &str, needle: &str) -> usize {
    let mut count = 0;
    let mut next_allowed = 0;
    for start in find_all(haystack, needle) {
        if start >= next_allowed {
            count += 1;
            next_allowed = start + needle.len();
        }
    }
    count
}

/// Replaces the first `limit` non-overlapping occurrences of `from`.
pub fn replace_first_n(haystack: &str, from: &str, to: &str, limit: usize) -> String {
    let mut out = String::with_capacity(haystack.len());
    let mut rest = haystack;
    let mut done = 0;
    while done < limit {
        match rest.find(from) {
            Some(pos) if !from.is_empty() => {
                out.push_str(&rest[..pos]);
                out.push_str(to);
                rest = &rest[pos + from.len()..];
                done += 1;
            }
            _ => break,
        }
    }
    out.push_str(rest);
    out
}

/// The smallest `p` such that the string is a repetition of its first `p`
/// bytes (possibly with a partial copy at the end). "abcabcab" has period 3.
pub fn smallest_period(s: &str) -> usize {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return 0;
    }
    let table = failure_table(bytes);
    bytes.len() - table[bytes.len() - 1]
}

/// A match of one of several keywords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordHit<'a> {
    pub keyword: &'a str,
    pub offset: usize,
}

/// Finds all occurrences of any of the keywords, sorted by offset, then by
/// keyword order. Fine for a handful of keywords; a real multi-pattern
/// matcher (Aho-Corasick) scales better.
pub fn find_keywords<'a>(haystack: &str, keywords: &[&'a str]) -> Vec<KeywordHit<'a>> {
    let mut hits: Vec<(usize, usize, KeywordHit<'a>)> = Vec::new();
    for (order, &keyword) in keywords.iter().enumerate() {
        for offset in find_all(haystack, keyword) {
            hits.push((offset, order, KeywordHit { keyword, offset }));
        }
    }
    hits.sort_by_key(|(offset, order, _)| (*offset, *order));
    hits.into_iter().map(|(_, _, hit)| hit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_table_examples() {
        assert_eq!(failure_table(b"aabaaab"), vec![0, 1, 0, 1, 2, 2, 3]);
        assert_eq!(failure_table(b"abcd"), vec![0, 0, 0, 0]);
        assert!(failure_table(b"").is_empty());
    }

    #[test]
    fn finds_overlapping_matches() {
        assert_eq!(find_all("aaaa", "aa"), vec![0, 1, 2]);
        assert_eq!(find_all("abcabcabc", "cab"), vec![2, 5]);
        assert_eq!(find_all("short", "longer needle"), Vec::<usize>::new());
        assert_eq!(find_all("anything", ""), Vec::<usize>::new());
    }

    #[test]
    fn kmp_agrees_with_naive() {
        let texts = ["abababab", "mississippi", "aabaabaaa", "xyz", ""];
        let patterns = ["ab", "aba", "issi", "a", "aab", "zz"];
        for t in texts {
            for p in patterns {
                assert_eq!(
                    find_all(t, p),
                    find_all_naive(t, p),
                    "text {t:?} pattern {p:?}"
                );
            }
        }
    }

    #[test]
    fn offsets_are_bytes() {
        let text = "héllo héllo";
        let hits = find_all(text, "llo");
        assert_eq!(hits, vec![3, 10]);
        assert_eq!(&text[hits[1]..], "llo");
    }

    #[test]
    fn non_overlapping_count() {
        assert_eq!(count_non_overlapping("aaaa", "aa"), 2);
        assert_eq!(count_non_overlapping("aaa", "aa"), 1);
        assert_eq!(count_non_overlapping("abc", "d"), 0);
    }

    #[test]
    fn limited_replacement() {
        assert_eq!(replace_first_n("a-b-c-d", "-", "+", 2), "a+b+c-d");
        assert_eq!(replace_first_n("none here", "x", "y", 5), "none here");
        assert_eq!(replace_first_n("abc", "", "y", 5), "abc");
        assert_eq!(replace_first_n("aaa", "a", "aa", 10), "aaaaaa");
    }

    #[test]
    fn periods() {
        assert_eq!(smallest_period("abcabcab"), 3);
        assert_eq!(smallest_period("aaaa"), 1);
        assert_eq!(smallest_period("abcd"), 4);
        assert_eq!(smallest_period(""), 0);
    }

    #[test]
    fn keyword_hits_in_order() {
        let hits = find_keywords("let x = if y { x } else { y };", &["x", "y", "else"]);
        let summary: Vec<(&str, usize)> = hits.iter().map(|h| (h.keyword, h.offset)).collect();
        assert_eq!(
            summary,
            vec![("x", 4), ("y", 11), ("x", 15), ("else", 19), ("y", 26)]
        );
    }
}
