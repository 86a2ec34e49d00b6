//! A singly linked stack built from `Option<Box<Node<T>>>`.
//!
//! Linked lists are a good exercise in ownership: every node owns the next
//! one, `Option::take` moves a link out while leaving `None` behind, and
//! iterators borrow nodes with the lifetime of the list. A manual `Drop`
//! keeps very long lists from overflowing the stack during destruction.

type Link<T> = Option<Box<Node<T>>>;

#[derive(Debug)]
struct Node<T> {
    value: T,
    next: Link<T>,
}

/// A LIFO list: push and pop at the front in O(1).
#[derive(Debug)]
pub struct List<T> {
    head: Link<T>,
    len: usize,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List { head: None, len: 0 }
    }
}

impl<T> List<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    pub fn push(&mut self, value: T) {
        let next = self.head.take();
        self.head = Some(Box::new(Node { value, next }));
        self.len += 1;
    }

    pub fn pop(&mut self) -> Option<T> {
        self.head.take().map(|node| {
            self.head = node.next;
            self.len -= 1;
            node.value
        })
    }

    pub fn peek(&self) -> Option<&T> {
        self.head.as_ref().map(|node| &node.value)
    }

    pub fn peek_mut(&mut self) -> Option<&mut T> {
        self.head.as_mut().map(|node| &mut node.value)
    }

    /// Reverses the list in place by relinking nodes; no allocation.
    pub fn reverse(&mut self) {
        let mut previous: Link<T> = None;
        let mut current = self.head.take();
        while let Some(mut node) = current {
            current = node.next.take();
            node.next = previous;
            previous = Some(node);
        }
        self.head = previous;
    }

    /// Borrowing iterator from front to back.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            next: self.head.as_deref(),
        }
    }

    /// Mutably borrowing iterator.
    pub fn iter_mut(&mut self) -> IterMut<'_, T> {
        IterMut {
            next: self.head.as_deref_mut(),
        }
    }

    /// Keeps only the elements for which `keep` returns true, preserving order.
    pub fn retain<F: FnMut(&T) -> bool>(&mut self, mut keep: F) {
        let mut kept = List::new();
        while let Some(v) = self.pop() {
            if keep(&v) {
                kept.push(v);
            }
        }
        kept.reverse();
        *self = kept;
    }

    /// The element `n` positions from the front.
    pub fn nth_from_front(&self, n: usize) -> Option<&T> {
        self.iter().nth(n)
    }
}

impl<T> Drop for List<T> {
    fn drop(&mut self) {
        // Unlink iteratively; the default recursive drop could overflow the stack.
        let mut current = self.head.take();
        while let Some(mut node) = current {
            current = node.next.take();
        }
    }
}

pub struct Iter<'a, T> {
    next: Option<&'a Node<T>>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;
    fn next(&mut self) -> Option<&'a T> {
        self.next.map(|node| {
            self.next = node.next.as_deref();
            &node.value
        })
    }
}

pub struct IterMut<'a, T> {
    next: Option<&'a mut Node<T>>,
}

impl<'a, T> Iterator for IterMut<'a, T> {
    type Item = &'a mut T;
    fn next(&mut self) -> Option<&'a mut T> {
        self.next.take().map(|node| {
            self.next = node.next.as_deref_mut();
            &mut node.value
        })
    }
}

/// Owning iterator: pops until empty.
pub struct IntoIter<T>(List<T>);

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.0.pop()
    }
}

impl<T> IntoIterator for List<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter(self)
    }
}

impl<T> FromIterator<T> for List<T> {
    /// Collecting keeps the iteration order: the first item ends up in front.
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut list = List::new();
        for v in iter {
            list.push(v);
        }
        list.reverse();
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pop_peek() {
        let mut list = List::new();
        assert_eq!(list.pop(), None::<i32>);
        list.push(1);
        list.push(2);
        list.push(3);
        assert_eq!(list.len(), 3);
        assert_eq!(list.peek(), Some(&3));
        if let Some(top) = list.peek_mut() {
            *top *= 10;
        }
        assert_eq!(list.pop(), Some(30));
        assert_eq!(list.pop(), Some(2));
        assert_eq!(list.pop(), Some(1));
        assert!(list.is_empty());
        assert_eq!(list.len(), 0);
    }

    #[test]
    fn iterators() {
        let mut list: List<i32> = (1..=4).collect();
        assert_eq!(list.iter().copied().collect::<Vec<_>>(), vec![1, 2, 3, 4]);
        for v in list.iter_mut() {
            *v += 100;
        }
        assert_eq!(list.nth_from_front(2), Some(&103));
        assert_eq!(list.nth_from_front(9), None);
        assert_eq!(
            list.into_iter().collect::<Vec<_>>(),
            vec![101, 102, 103, 104]
        );
    }

    #[test]
    fn reversing() {
        let mut list: List<char> = "abc".chars().collect();
        list.reverse();
        assert_eq!(list.iter().collect::<String>(), "cba");
        let mut empty: List<u8> = List::new();
        empty.reverse();
        assert!(empty.is_empty());
    }

    #[test]
    fn retain_keeps_order() {
        let mut list: List<u32> = (1..=10).collect();
        list.retain(|v| v % 3 != 0);
        assert_eq!(
            list.iter().copied().collect::<Vec<_>>(),
            vec![1, 2, 4, 5, 7, 8, 10]
        );
        assert_eq!(list.len(), 7);
    }

    #[test]
    fn long_lists_drop_without_overflow() {
        let mut list = List::new();
        for i in 0..200_000u32 {
            list.push(i);
        }
        assert_eq!(list.len(), 200_000);
        drop(list);
    }

    #[test]
    fn owns_non_copy_values() {
        let mut list = List::new();
        list.push(String::from("first"));
        list.push(String::from("second"));
        let joined: Vec<&str> = list.iter().map(String::as_str).collect();
        assert_eq!(joined, vec!["second", "first"]);
    }
}
