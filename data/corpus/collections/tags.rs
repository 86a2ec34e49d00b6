//! Tagging documents and comparing tag sets with `HashSet` and `BTreeSet`.
//!
//! Shows set algebra (union, intersection, difference), the Jaccard
//! similarity and a tiny inverted index that answers "all of" / "any of"
//! queries.

use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Normalizes a tag: trimmed, lower case, inner whitespace turned into `-`.
/// Returns `None` for tags that are empty after trimming.
pub fn normalize_tag(raw: &str) -> Option<String> {
    let words: Vec<&str> = raw.split_whitespace().collect();
    if words.is_empty() {
        None
    } else {
        Some(words.join("-").to_lowercase())
    }
}

/// Parses a comma-separated tag list into a sorted set, dropping blanks and duplicates.
pub fn parse_tags(list: &str) -> BTreeSet<String> {
    list.split(',').filter_map(normalize_tag).collect()
}

/// |A ∩ B| / |A ∪ B|, defined as 1.0 for two empty sets.
pub fn jaccard<T: Eq + std::hash::Hash>(a: &HashSet<T>, b: &HashSet<T>) -> f64 {
    let union = a.union(b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(b).count() as f64 / union as f64
}

/// A document identifier.
pub type DocId = u32;

/// Maps tags to the documents carrying them.
#[derive(Debug, Default)]
pub struct TagIndex {
    by_tag: BTreeMap<String, BTreeSet<DocId>>,
    by_doc: BTreeMap<DocId, BTreeSet<String>>,
}

impl TagIndex {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds tags to a document; tags are normalized first.
    pub fn tag(&mut self, doc: DocId, tags: &[&str]) {
        for tag in tags.iter().filter_map(|t| normalize_tag(t)) {
            self.by_tag.entry(tag.clone()).or_default().insert(doc);
            self.by_doc.entry(doc).or_default().insert(tag);
        }
    }

    /// Removes one tag from a document. Returns whether it was there.
    pub fn untag(&mut self, doc: DocId, tag: &str) -> bool {
        let Some(tag) = normalize_tag(tag) else {
            return false;
        };
        let removed = self
            .by_doc
            .get_mut(&doc)
            .is_some_and(|tags| tags.remove(&tag));
        if removed {
            if let Some(docs) = self.by_tag.get_mut(&tag) {
                docs.remove(&doc);
                if docs.is_empty() {
                    self.by_tag.remove(&tag);
                }
            }
        }
        removed
    }

    /// Documents that carry every one of `tags`. No tags matches no documents.
    pub fn with_all(&self, tags: &[&str]) -> BTreeSet<DocId> {
        let mut sets = tags
            .iter()
            .filter_map(|t| normalize_tag(t))
            .map(|t| self.by_tag.get(&t).cloned().unwrap_or_default());
        let Some(first) = sets.next() else {
            return BTreeSet::new();
        };
        sets.fold(first, |acc, s| acc.intersection(&s).copied().collect())
    }

    /// Documents that carry at least one of `tags`.
    pub fn with_any(&self, tags: &[&str]) -> BTreeSet<DocId> {
        tags.iter()
            .filter_map(|t| normalize_tag(t))
            .filter_map(|t| self.by_tag.get(&t))
            .flatten()
            .copied()
            .collect()
    }

    /// Tags of `doc` that `other` does not have.
    pub fn tags_only_on(&self, doc: DocId, other: DocId) -> Vec<&str> {
        let Some(mine) = self.by_doc.get(&doc) else {
            return Vec::new();
        };
        match self.by_doc.get(&other) {
            Some(theirs) => mine.difference(theirs).map(String::as_str).collect(),
            None => mine.iter().map(String::as_str).collect(),
        }
    }

    /// The `n` most used tags with their document counts, ties in name order.
    pub fn popular(&self, n: usize) -> Vec<(&str, usize)> {
        let mut counts: Vec<(&str, usize)> = self
            .by_tag
            .iter()
            .map(|(tag, docs)| (tag.as_str(), docs.len()))
            .collect();
        // The map is already in name order and the sort is stable.
        counts.sort_by_key(|&(_, count)| std::cmp::Reverse(count));
        counts.truncate(n);
        counts
    }

    /// The document whose tags are most similar to `doc`'s (Jaccard), if any.
    pub fn most_similar(&self, doc: DocId) -> Option<(DocId, f64)> {
        let mine: HashSet<&String> = self.by_doc.get(&doc)?.iter().collect();
        self.by_doc
            .iter()
            .filter(|(other, _)| **other != doc)
            .map(|(other, tags)| {
                let theirs: HashSet<&String> = tags.iter().collect();
                (*other, jaccard(&mine, &theirs))
            })
            .fold(None, |best: Option<(DocId, f64)>, cand| match best {
                Some(b) if b.1 >= cand.1 => Some(b),
                _ => Some(cand),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> TagIndex {
        let mut idx = TagIndex::new();
        idx.tag(1, &["rust", "Systems", "open source"]);
        idx.tag(2, &["rust", "web"]);
        idx.tag(3, &["python", "web", "Open  Source"]);
        idx
    }

    #[test]
    fn normalizes_tags() {
        assert_eq!(
            normalize_tag("  Open   Source "),
            Some("open-source".to_string())
        );
        assert_eq!(normalize_tag("   "), None);
        let parsed: Vec<String> = parse_tags("b, a, ,B ,c").into_iter().collect();
        assert_eq!(parsed, vec!["a", "b", "c"]);
    }

    #[test]
    fn jaccard_similarity() {
        let a: HashSet<i32> = [1, 2, 3].into_iter().collect();
        let b: HashSet<i32> = [2, 3, 4].into_iter().collect();
        assert!((jaccard(&a, &b) - 0.5).abs() < 1e-12);
        let empty: HashSet<i32> = HashSet::new();
        assert_eq!(jaccard(&empty, &empty), 1.0);
        assert_eq!(jaccard(&a, &empty), 0.0);
    }

    #[test]
    fn all_and_any_queries() {
        let idx = index();
        assert_eq!(idx.with_all(&["rust", "web"]), [2].into_iter().collect());
        assert_eq!(idx.with_all(&["open source"]), [1, 3].into_iter().collect());
        assert!(idx.with_all(&[]).is_empty());
        assert!(idx.with_all(&["rust", "missing"]).is_empty());
        assert_eq!(
            idx.with_any(&["python", "systems"]),
            [1, 3].into_iter().collect()
        );
    }

    #[test]
    fn untagging() {
        let mut idx = index();
        assert!(idx.untag(2, "WEB"));
        assert!(!idx.untag(2, "web"));
        assert!(!idx.untag(9, "rust"));
        assert_eq!(idx.with_any(&["web"]), [3].into_iter().collect());
    }

    #[test]
    fn differences_and_popularity() {
        let idx = index();
        assert_eq!(idx.tags_only_on(1, 2), vec!["open-source", "systems"]);
        assert_eq!(idx.tags_only_on(7, 1), Vec::<&str>::new());
        assert_eq!(
            idx.popular(3),
            vec![("open-source", 2), ("rust", 2), ("web", 2)]
        );
    }

    #[test]
    fn similarity_search() {
        let idx = index();
        let (doc, score) = idx.most_similar(2).unwrap();
        assert_eq!(doc, 1);
        assert!((score - 0.25).abs() < 1e-12);
        assert_eq!(idx.most_similar(42), None);
    }
}
