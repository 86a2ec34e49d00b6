//! A generic multimap: one key, many values, ordered by key.
//!
//! Built on `BTreeMap<K, Vec<V>>`, so iteration is always in key order and
//! range queries come for free.

use std::collections::BTreeMap;
use std::ops::RangeBounds;

/// A map from keys to lists of values. Values under one key keep insertion order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiMap<K, V> {
    inner: BTreeMap<K, Vec<V>>,
    len: usize,
}

impl<K: Ord, V> Default for MultiMap<K, V> {
    fn default() -> Self {
        MultiMap {
            inner: BTreeMap::new(),
            len: 0,
        }
    }
}

impl<K: Ord, V> MultiMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a value under `key`.
    pub fn insert(&mut self, key: K, value: V) {
        self.inner.entry(key).or_default().push(value);
        self.len += 1;
    }

    /// All values under `key`, or an empty slice.
    pub fn get(&self, key: &K) -> &[V] {
        self.inner.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Removes and returns all values under `key`.
    pub fn remove_all(&mut self, key: &K) -> Vec<V> {
        let removed = self.inner.remove(key).unwrap_or_default();
        self.len -= removed.len();
        removed
    }

    /// Removes the values under `key` for which `pred` is true, returning how
    /// many were removed. A key left without values disappears.
    pub fn remove_where<F>(&mut self, key: &K, mut pred: F) -> usize
    where
        F: FnMut(&V) -> bool,
    {
        let Some(values) = self.inner.get_mut(key) else {
            return 0;
        };
        let before = values.len();
        values.retain(|v| !pred(v));
        let removed = before - values.len();
        if values.is_empty() {
            self.inner.remove(key);
        }
        self.len -= removed;
        removed
    }

    /// Total number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of distinct keys.
    pub fn key_count(&self) -> usize {
        self.inner.len()
    }

    /// Iterates over `(key, value)` pairs in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> + '_ {
        self.inner
            .iter()
            .flat_map(|(k, values)| values.iter().map(move |v| (k, v)))
    }

    /// Iterates over the values whose keys fall within `range`.
    pub fn range<R>(&self, range: R) -> impl Iterator<Item = (&K, &V)> + '_
    where
        R: RangeBounds<K>,
    {
        self.inner
            .range(range)
            .flat_map(|(k, values)| values.iter().map(move |v| (k, v)))
    }

    /// The key with the most values (the smallest such key on a tie).
    pub fn busiest_key(&self) -> Option<&K> {
        self.inner
            .iter()
            .max_by(|a, b| a.1.len().cmp(&b.1.len()).then_with(|| b.0.cmp(a.0)))
            .map(|(k, _)| k)
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for MultiMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = MultiMap::new();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

impl<K: Ord, V> Extend<(K, V)> for MultiMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

/// Builds an index from each word's first letter to the words, lower-cased.
pub fn index_by_initial(words: &[&str]) -> MultiMap<char, String> {
    words
        .iter()
        .filter_map(|w| {
            let lower = w.to_lowercase();
            lower.chars().next().map(|c| (c, lower.clone()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_and_get() {
        let mut m = MultiMap::new();
        m.insert("fruit", "apple");
        m.insert("fruit", "pear");
        m.insert("veg", "leek");
        assert_eq!(m.get(&"fruit"), &["apple", "pear"]);
        assert_eq!(m.get(&"nuts"), &[] as &[&str]);
        assert_eq!(m.len(), 3);
        assert_eq!(m.key_count(), 2);
    }

    #[test]
    fn removal_keeps_counts_right() {
        let mut m: MultiMap<u8, u32> = (0..10).map(|i| (i % 3, i as u32)).collect();
        assert_eq!(m.len(), 10);
        assert_eq!(m.remove_where(&0, |v| *v > 3), 2);
        assert_eq!(m.get(&0), &[0, 3]);
        assert_eq!(m.remove_all(&1), vec![1, 4, 7]);
        assert_eq!(m.len(), 5);
        assert_eq!(m.remove_where(&2, |_| true), 3);
        assert_eq!(m.key_count(), 1);
        assert_eq!(m.remove_where(&9, |_| true), 0);
    }

    #[test]
    fn iteration_is_in_key_order() {
        let m: MultiMap<i32, char> = vec![(3, 'c'), (1, 'a'), (3, 'd'), (2, 'b')]
            .into_iter()
            .collect();
        let flat: Vec<(i32, char)> = m.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(flat, vec![(1, 'a'), (2, 'b'), (3, 'c'), (3, 'd')]);
        let middle: Vec<char> = m.range(2..=3).map(|(_, v)| *v).collect();
        assert_eq!(middle, vec!['b', 'c', 'd']);
    }

    #[test]
    fn busiest_key_prefers_smallest_on_tie() {
        let mut m = MultiMap::new();
        assert_eq!(m.busiest_key(), None::<&i32>);
        m.extend(vec![(5, ()), (2, ()), (5, ()), (2, ()), (9, ())]);
        assert_eq!(m.busiest_key(), Some(&2));
    }

    #[test]
    fn index_words() {
        let idx = index_by_initial(&["Apple", "avocado", "banana", ""]);
        assert_eq!(idx.get(&'a'), &["apple".to_string(), "avocado".to_string()]);
        assert_eq!(idx.len(), 3);
        assert!(!idx.is_empty());
    }
}
