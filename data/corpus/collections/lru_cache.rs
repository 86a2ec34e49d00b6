//! A least-recently-used cache with a fixed capacity.
//!
//! Entries live in a `Vec` of slots that form a doubly linked list through
//! indices, and a `HashMap` points from keys to slots. Both `get` and `put`
//! are O(1) on average, and no reference counting or raw pointers are needed.

use std::collections::HashMap;
use std::hash::Hash;

const NIL: usize = usize::MAX;

#[derive(Debug)]
struct Slot<K, V> {
    key: K,
    value: V,
    prev: usize,
    next: usize,
}

/// A fixed-capacity cache that evicts the least recently used entry.
#[derive(Debug)]
pub struct LruCache<K, V> {
    capacity: usize,
    map: HashMap<K, usize>,
    slots: Vec<Slot<K, V>>,
    head: usize, // most recently used
    tail: usize, // least recently used
    hits: u64,
    misses: u64,
}

impl<K: Hash + Eq + Clone, V> LruCache<K, V> {
    /// Creates an empty cache. A capacity of zero is raised to one.
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        LruCache {
            capacity,
            map: HashMap::with_capacity(capacity),
            slots: Vec::with_capacity(capacity),
            head: NIL,
            tail: NIL,
            hits: 0,
            misses: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn unlink(&mut self, i: usize) {
        let (prev, next) = (self.slots[i].prev, self.slots[i].next);
        if prev != NIL {
            self.slots[prev].next = next;
        } else {
            self.head = next;
        }
        if next != NIL {
            self.slots[next].prev = prev;
        } else {
            self.tail = prev;
        }
    }

    fn push_front(&mut self, i: usize) {
        self.slots[i].prev = NIL;
        self.slots[i].next = self.head;
        if self.head != NIL {
            self.slots[self.head].prev = i;
        }
        self.head = i;
        if self.tail == NIL {
            self.tail = i;
        }
    }

    /// Looks up `key` and marks it as most recently used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        match self.map.get(key).copied() {
            Some(i) => {
                self.hits += 1;
                self.unlink(i);
                self.push_front(i);
                Some(&self.slots[i].value)
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Looks up `key` without changing the usage order.
    pub fn peek(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|&i| &self.slots[i].value)
    }

    /// Inserts or replaces a value. Returns the evicted entry, if any.
    pub fn put(&mut self, key: K, value: V) -> Option<(K, V)> {
        if let Some(&i) = self.map.get(&key) {
            self.slots[i].value = value;
            self.unlink(i);
            self.push_front(i);
            return None;
        }
        if self.slots.len() < self.capacity {
            let i = self.slots.len();
            self.slots.push(Slot {
                key: key.clone(),
                value,
                prev: NIL,
                next: NIL,
            });
            self.map.insert(key, i);
            self.push_front(i);
            return None;
        }
        // Reuse the least recently used slot for the new entry.
        let i = self.tail;
        self.unlink(i);
        let old_key = std::mem::replace(&mut self.slots[i].key, key.clone());
        let old_value = std::mem::replace(&mut self.slots[i].value, value);
        self.map.remove(&old_key);
        self.map.insert(key, i);
        self.push_front(i);
        Some((old_key, old_value))
    }

    /// Returns the cached value for `key`, computing and storing it on a miss.
    pub fn get_or_insert_with<F: FnOnce() -> V>(&mut self, key: K, make: F) -> &V {
        if !self.map.contains_key(&key) {
            self.put(key.clone(), make());
        } else {
            self.hits += 1;
            let i = self.map[&key];
            self.unlink(i);
            self.push_front(i);
        }
        &self.slots[self.map[&key]].value
    }

    /// Keys from most to least recently used.
    pub fn keys_by_recency(&self) -> Vec<&K> {
        let mut keys = Vec::with_capacity(self.len());
        let mut i = self.head;
        while i != NIL {
            keys.push(&self.slots[i].key);
            i = self.slots[i].next;
        }
        keys
    }

    /// Fraction of `get` calls that found their key, if any were made.
    pub fn hit_ratio(&self) -> Option<f64> {
        let total = self.hits + self.misses;
        if total == 0 {
            None
        } else {
            Some(self.hits as f64 / total as f64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used() {
        let mut cache = LruCache::new(2);
        assert_eq!(cache.put("a", 1), None);
        assert_eq!(cache.put("b", 2), None);
        assert_eq!(cache.get(&"a"), Some(&1));
        assert_eq!(cache.put("c", 3), Some(("b", 2)));
        assert_eq!(cache.peek(&"b"), None);
        assert_eq!(cache.keys_by_recency(), vec![&"c", &"a"]);
    }

    #[test]
    fn replacing_refreshes_recency() {
        let mut cache = LruCache::new(2);
        cache.put(1, "one");
        cache.put(2, "two");
        cache.put(1, "uno");
        assert_eq!(cache.put(3, "three"), Some((2, "two")));
        assert_eq!(cache.peek(&1), Some(&"uno"));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn peek_does_not_refresh() {
        let mut cache = LruCache::new(2);
        cache.put('x', 0);
        cache.put('y', 0);
        assert_eq!(cache.peek(&'x'), Some(&0));
        assert_eq!(cache.put('z', 0), Some(('x', 0)));
    }

    #[test]
    fn zero_capacity_is_one() {
        let mut cache = LruCache::new(0);
        assert_eq!(cache.capacity(), 1);
        cache.put(1, 1);
        assert_eq!(cache.put(2, 2), Some((1, 1)));
        assert!(!cache.is_empty());
    }

    #[test]
    fn memoizes_with_closure() {
        let mut cache = LruCache::new(3);
        let mut calls = 0;
        for n in [4u64, 5, 4, 4, 6] {
            cache.get_or_insert_with(n, || {
                calls += 1;
                n * n
            });
        }
        assert_eq!(calls, 3);
        assert_eq!(cache.peek(&5), Some(&25));
    }

    #[test]
    fn counts_hits_and_misses() {
        let mut cache: LruCache<u8, u8> = LruCache::new(4);
        assert_eq!(cache.hit_ratio(), None);
        cache.put(1, 1);
        cache.get(&1);
        cache.get(&2);
        cache.get(&1);
        let ratio = cache.hit_ratio().unwrap();
        assert!((ratio - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn long_sequence_keeps_invariants() {
        let mut cache = LruCache::new(8);
        for i in 0..1000u32 {
            cache.put(i % 13, i);
            if i % 3 == 0 {
                cache.get(&(i % 7));
            }
            assert!(cache.len() <= 8);
            assert_eq!(cache.keys_by_recency().len(), cache.len());
        }
    }
}
