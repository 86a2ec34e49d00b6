//! A prefix tree (trie) for autocompletion.
//!
//! Children are kept in a `BTreeMap<char, Node>` so completions come out in
//! alphabetical order without sorting. Each word stores a count, which lets
//! the trie rank suggestions by how often they were inserted.

use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
struct Node {
    children: BTreeMap<char, Node>,
    count: u32,
}

#[derive(Debug, Default, Clone)]
pub struct Trie {
    root: Node,
    words: usize,
}

impl Trie {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of distinct words.
    pub fn len(&self) -> usize {
        self.words
    }

    pub fn is_empty(&self) -> bool {
        self.words == 0
    }

    /// Inserts a word (again); returns how many times it has been inserted.
    pub fn insert(&mut self, word: &str) -> u32 {
        let mut node = &mut self.root;
        for c in word.chars() {
            node = node.children.entry(c).or_default();
        }
        if node.count == 0 {
            self.words += 1;
        }
        node.count += 1;
        node.count
    }

    fn find(&self, prefix: &str) -> Option<&Node> {
        let mut node = &self.root;
        for c in prefix.chars() {
            node = node.children.get(&c)?;
        }
        Some(node)
    }

    /// How many times `word` was inserted (0 if never).
    pub fn count(&self, word: &str) -> u32 {
        self.find(word).map_or(0, |n| n.count)
    }

    pub fn contains(&self, word: &str) -> bool {
        self.count(word) > 0
    }

    pub fn has_prefix(&self, prefix: &str) -> bool {
        self.find(prefix).is_some()
    }

    /// All words starting with `prefix`, alphabetically.
    pub fn complete(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(node) = self.find(prefix) {
            let mut buffer = prefix.to_string();
            collect(node, &mut buffer, &mut out);
        }
        out.into_iter().map(|(w, _)| w).collect()
    }

    /// The `n` most frequent completions; ties are alphabetical.
    pub fn suggest(&self, prefix: &str, n: usize) -> Vec<(String, u32)> {
        let mut found = Vec::new();
        if let Some(node) = self.find(prefix) {
            let mut buffer = prefix.to_string();
            collect(node, &mut buffer, &mut found);
        }
        // Stable sort keeps alphabetical order among equal counts.
        found.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
        found.truncate(n);
        found
    }

    /// Removes a word entirely, pruning nodes that no longer lead anywhere.
    pub fn remove(&mut self, word: &str) -> bool {
        let chars: Vec<char> = word.chars().collect();
        let removed = remove_rec(&mut self.root, &chars);
        if removed {
            self.words -= 1;
        }
        removed
    }

    /// The longest inserted word that is a prefix of `text`, e.g. for
    /// tokenizing by a dictionary.
    pub fn longest_match<'t>(&self, text: &'t str) -> Option<&'t str> {
        let mut node = &self.root;
        let mut best = None;
        for (i, c) in text.char_indices() {
            match node.children.get(&c) {
                Some(next) => node = next,
                None => break,
            }
            if node.count > 0 {
                best = Some(&text[..i + c.len_utf8()]);
            }
        }
        best
    }
}

fn collect(node: &Node, buffer: &mut String, out: &mut Vec<(String, u32)>) {
    if node.count > 0 {
        out.push((buffer.clone(), node.count));
    }
    for (&c, child) in &node.children {
        buffer.push(c);
        collect(child, buffer, out);
        buffer.pop();
    }
}

/// Returns whether the word was removed.
fn remove_rec(node: &mut Node, rest: &[char]) -> bool {
    match rest.split_first() {
        None => {
            let was_word = node.count > 0;
            node.count = 0;
            was_word
        }
        Some((c, tail)) => {
            let Some(child) = node.children.get_mut(c) else {
                return false;
            };
            let removed = remove_rec(child, tail);
            if removed && child.count == 0 && child.children.is_empty() {
                node.children.remove(c);
            }
            removed
        }
    }
}

/// Splits text into dictionary words greedily, longest match first.
/// Characters not covered by any word come out as single-character pieces.
pub fn segment<'t>(dictionary: &Trie, text: &'t str) -> Vec<&'t str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let piece = dictionary
            .longest_match(rest)
            .unwrap_or(&rest[..c.len_utf8()]);
        pieces.push(piece);
        rest = &rest[piece.len()..];
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words() -> Trie {
        let mut t = Trie::new();
        for w in [
            "car", "cart", "carbon", "care", "cat", "dog", "care", "cart", "care",
        ] {
            t.insert(w);
        }
        t
    }

    #[test]
    fn membership_and_counts() {
        let t = words();
        assert_eq!(t.len(), 6);
        assert!(t.contains("car"));
        assert!(!t.contains("ca"));
        assert!(t.has_prefix("ca"));
        assert!(!t.has_prefix("x"));
        assert_eq!(t.count("care"), 3);
        assert_eq!(t.count("nope"), 0);
    }

    #[test]
    fn completion_is_alphabetical() {
        let t = words();
        assert_eq!(t.complete("car"), vec!["car", "carbon", "care", "cart"]);
        assert_eq!(t.complete("d"), vec!["dog"]);
        assert!(t.complete("z").is_empty());
        assert_eq!(t.complete("").len(), 6);
    }

    #[test]
    fn suggestions_rank_by_frequency() {
        let t = words();
        assert_eq!(
            t.suggest("ca", 3),
            vec![
                ("care".to_string(), 3),
                ("cart".to_string(), 2),
                ("car".to_string(), 1)
            ]
        );
    }

    #[test]
    fn removal_prunes() {
        let mut t = words();
        assert!(t.remove("carbon"));
        assert!(!t.remove("carbon"));
        assert!(!t.has_prefix("carb"));
        assert!(t.remove("car"));
        assert!(
            t.has_prefix("car"),
            "car is still a prefix of care and cart"
        );
        assert!(!t.remove("ca"));
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn longest_match_and_segmentation() {
        let mut dict = Trie::new();
        for w in ["new", "news", "paper", "newspaper", "s"] {
            dict.insert(w);
        }
        assert_eq!(dict.longest_match("newspapers!"), Some("newspaper"));
        assert_eq!(dict.longest_match("xyz"), None);
        assert_eq!(segment(&dict, "newspapers!"), vec!["newspaper", "s", "!"]);
        assert_eq!(segment(&dict, "ünew"), vec!["ü", "new"]);
        assert!(segment(&dict, "").is_empty());
    }
}
