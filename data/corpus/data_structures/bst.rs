//! An (unbalanced) binary search tree map.
//!
//! Each node owns its children through `Option<Box<Node>>`. Insertion and
//! lookup walk down the tree with a loop over mutable references, which is
//! the idiomatic way to avoid fighting the borrow checker with recursion.

use std::cmp::Ordering;

#[derive(Debug)]
struct Node<K, V> {
    key: K,
    value: V,
    left: Option<Box<Node<K, V>>>,
    right: Option<Box<Node<K, V>>>,
}

#[derive(Debug)]
pub struct TreeMap<K, V> {
    root: Option<Box<Node<K, V>>>,
    len: usize,
}

impl<K: Ord, V> Default for TreeMap<K, V> {
    fn default() -> Self {
        TreeMap { root: None, len: 0 }
    }
}

impl<K: Ord, V> TreeMap<K, V> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Inserts or replaces; returns the previous value for the key.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let mut slot = &mut self.root;
        while let Some(node) = slot {
            match key.cmp(&node.key) {
                Ordering::Less => slot = &mut node.left,
                Ordering::Greater => slot = &mut node.right,
                Ordering::Equal => return Some(std::mem::replace(&mut node.value, value)),
            }
        }
        *slot = Some(Box::new(Node {
            key,
            value,
            left: None,
            right: None,
        }));
        self.len += 1;
        None
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        let mut current = self.root.as_deref();
        while let Some(node) = current {
            current = match key.cmp(&node.key) {
                Ordering::Less => node.left.as_deref(),
                Ordering::Greater => node.right.as_deref(),
                Ordering::Equal => return Some(&node.value),
            };
        }
        None
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// The smallest key and its value.
    pub fn first(&self) -> Option<(&K, &V)> {
        let mut node = self.root.as_deref()?;
        while let Some(left) = node.left.as_deref() {
            node = left;
        }
        Some((&node.key, &node.value))
    }

    /// The largest key that is <= `key` (the "floor").
    pub fn floor(&self, key: &K) -> Option<&K> {
        let mut current = self.root.as_deref();
        let mut best = None;
        while let Some(node) = current {
            match key.cmp(&node.key) {
                Ordering::Less => current = node.left.as_deref(),
                Ordering::Equal => return Some(&node.key),
                Ordering::Greater => {
                    best = Some(&node.key);
                    current = node.right.as_deref();
                }
            }
        }
        best
    }

    /// Removes a key, returning its value.
    pub fn remove(&mut self, key: &K) -> Option<V> {
        let removed = Self::remove_from(&mut self.root, key);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    fn remove_from(slot: &mut Option<Box<Node<K, V>>>, key: &K) -> Option<V> {
        let node = slot.as_mut()?;
        match key.cmp(&node.key) {
            Ordering::Less => Self::remove_from(&mut node.left, key),
            Ordering::Greater => Self::remove_from(&mut node.right, key),
            Ordering::Equal => {
                let mut boxed = slot.take()?;
                *slot = match (boxed.left.take(), boxed.right.take()) {
                    (None, None) => None,
                    (Some(child), None) | (None, Some(child)) => Some(child),
                    (Some(left), Some(right)) => {
                        // Replace with the smallest node of the right subtree.
                        let mut right = Some(right);
                        let mut successor = Self::take_min(&mut right);
                        successor.left = Some(left);
                        successor.right = right;
                        Some(successor)
                    }
                };
                Some(boxed.value)
            }
        }
    }

    fn take_min(slot: &mut Option<Box<Node<K, V>>>) -> Box<Node<K, V>> {
        if slot.as_ref().is_some_and(|n| n.left.is_some()) {
            let node = slot.as_mut().expect("checked above");
            return Self::take_min(&mut node.left);
        }
        let mut min = slot
            .take()
            .expect("take_min is only called on a non-empty subtree");
        *slot = min.right.take();
        min
    }

    /// Height of the tree: 0 when empty, 1 for a single node.
    pub fn height(&self) -> usize {
        fn h<K, V>(node: Option<&Node<K, V>>) -> usize {
            node.map_or(0, |n| 1 + h(n.left.as_deref()).max(h(n.right.as_deref())))
        }
        h(self.root.as_deref())
    }

    /// Keys in ascending order (in-order traversal with an explicit stack).
    pub fn keys(&self) -> Vec<&K> {
        let mut out = Vec::with_capacity(self.len);
        let mut stack: Vec<&Node<K, V>> = Vec::new();
        let mut current = self.root.as_deref();
        while current.is_some() || !stack.is_empty() {
            while let Some(node) = current {
                stack.push(node);
                current = node.left.as_deref();
            }
            if let Some(node) = stack.pop() {
                out.push(&node.key);
                current = node.right.as_deref();
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TreeMap<i32, &'static str> {
        let mut t = TreeMap::new();
        for (k, v) in [
            (50, "a"),
            (30, "b"),
            (70, "c"),
            (20, "d"),
            (40, "e"),
            (60, "f"),
            (80, "g"),
        ] {
            t.insert(k, v);
        }
        t
    }

    #[test]
    fn insert_and_get() {
        let mut t = sample();
        assert_eq!(t.len(), 7);
        assert_eq!(t.get(&40), Some(&"e"));
        assert_eq!(t.get(&45), None);
        assert_eq!(t.insert(40, "E"), Some("e"));
        assert_eq!(t.get(&40), Some(&"E"));
        assert_eq!(t.len(), 7);
        assert!(t.contains_key(&80));
    }

    #[test]
    fn ordered_queries() {
        let t = sample();
        assert_eq!(t.keys(), vec![&20, &30, &40, &50, &60, &70, &80]);
        assert_eq!(t.first(), Some((&20, &"d")));
        assert_eq!(t.floor(&65), Some(&60));
        assert_eq!(t.floor(&50), Some(&50));
        assert_eq!(t.floor(&10), None);
        assert_eq!(t.height(), 3);
    }

    #[test]
    fn removal_cases() {
        let mut t = sample();
        assert_eq!(t.remove(&20), Some("d")); // leaf
        assert_eq!(t.remove(&30), Some("b")); // one child
        assert_eq!(t.remove(&50), Some("a")); // two children, the root
        assert_eq!(t.remove(&50), None);
        assert_eq!(t.keys(), vec![&40, &60, &70, &80]);
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn removal_matches_btreemap() {
        let mut ours = TreeMap::new();
        let mut reference = std::collections::BTreeMap::new();
        let mut x: u32 = 7;
        for step in 0..2000u32 {
            x = x.wrapping_mul(1103515245).wrapping_add(12345) % 200;
            if step % 3 == 0 {
                assert_eq!(ours.remove(&x), reference.remove(&x));
            } else {
                assert_eq!(ours.insert(x, step), reference.insert(x, step));
            }
        }
        assert_eq!(ours.len(), reference.len());
        let expected: Vec<&u32> = reference.keys().collect();
        assert_eq!(ours.keys(), expected);
    }

    #[test]
    fn degenerate_tree_height() {
        let mut t = TreeMap::new();
        for i in 0..100 {
            t.insert(i, ());
        }
        assert_eq!(t.height(), 100);
        assert!(TreeMap::<u8, ()>::new().is_empty());
    }
}
