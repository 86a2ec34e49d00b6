//! Custom iterator adapters through an extension trait.
//!
//! An extension trait adds methods to every type implementing `Iterator`,
//! just like the standard adapters. Each adapter here is a small struct that
//! wraps the inner iterator and implements `Iterator` itself.

use std::collections::HashSet;
use std::hash::Hash;

/// Yields items while the predicate holds, *including* the first item that
/// fails it (unlike `take_while`, which drops that item).
#[derive(Debug, Clone)]
pub struct TakeUntilInclusive<I, P> {
    inner: I,
    predicate: P,
    done: bool,
}

impl<I: Iterator, P: FnMut(&I::Item) -> bool> Iterator for TakeUntilInclusive<I, P> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        if self.done {
            return None;
        }
        let item = self.inner.next()?;
        if (self.predicate)(&item) {
            self.done = true;
        }
        Some(item)
    }
}

/// Yields only the first occurrence of every item.
#[derive(Debug, Clone)]
pub struct Unique<I: Iterator> {
    inner: I,
    seen: HashSet<I::Item>,
}

impl<I> Iterator for Unique<I>
where
    I: Iterator,
    I::Item: Eq + Hash + Clone,
{
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        // `find` keeps pulling until an unseen item turns up.
        let seen = &mut self.seen;
        self.inner.by_ref().find(|item| seen.insert(item.clone()))
    }
}

/// Running totals: `[1, 2, 3]` becomes `[1, 3, 6]`.
#[derive(Debug, Clone)]
pub struct Cumulative<I> {
    inner: I,
    total: i64,
}

impl<I: Iterator<Item = i64>> Iterator for Cumulative<I> {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        let x = self.inner.next()?;
        self.total = self.total.saturating_add(x);
        Some(self.total)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Splits the stream into batches of at most `size` items.
#[derive(Debug, Clone)]
pub struct Batches<I> {
    inner: I,
    size: usize,
}

impl<I: Iterator> Iterator for Batches<I> {
    type Item = Vec<I::Item>;

    fn next(&mut self) -> Option<Vec<I::Item>> {
        let batch: Vec<I::Item> = self.inner.by_ref().take(self.size).collect();
        if batch.is_empty() {
            None
        } else {
            Some(batch)
        }
    }
}

/// The extension trait that makes the adapters available as methods.
pub trait IterExt: Iterator + Sized {
    fn take_until_inclusive<P>(self, predicate: P) -> TakeUntilInclusive<Self, P>
    where
        P: FnMut(&Self::Item) -> bool,
    {
        TakeUntilInclusive {
            inner: self,
            predicate,
            done: false,
        }
    }

    fn unique(self) -> Unique<Self>
    where
        Self::Item: Eq + Hash + Clone,
    {
        Unique {
            inner: self,
            seen: HashSet::new(),
        }
    }

    fn cumulative(self) -> Cumulative<Self>
    where
        Self: Iterator<Item = i64>,
    {
        Cumulative {
            inner: self,
            total: 0,
        }
    }

    /// Panics if `size` is zero, since empty batches would never end.
    fn batches(self, size: usize) -> Batches<Self> {
        assert!(size > 0, "batch size must be at least 1");
        Batches { inner: self, size }
    }

    /// The minimum and maximum in one pass, or `None` when empty.
    fn min_max(mut self) -> Option<(Self::Item, Self::Item)>
    where
        Self::Item: PartialOrd + Clone,
    {
        let first = self.next()?;
        Some(self.fold((first.clone(), first), |(lo, hi), x| {
            let lo = if x < lo { x.clone() } else { lo };
            let hi = if x > hi { x } else { hi };
            (lo, hi)
        }))
    }
}

impl<I: Iterator> IterExt for I {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_until_includes_the_stopper() {
        let v: Vec<i32> = [1, 3, 8, 5, 10]
            .into_iter()
            .take_until_inclusive(|&x| x > 5)
            .collect();
        assert_eq!(v, vec![1, 3, 8]);
        let all: Vec<i32> = [1, 2].into_iter().take_until_inclusive(|_| false).collect();
        assert_eq!(all, vec![1, 2]);
        let lines = "a\nb\nEND\nc"
            .lines()
            .take_until_inclusive(|l| *l == "END")
            .count();
        assert_eq!(lines, 3);
    }

    #[test]
    fn unique_keeps_first_occurrence() {
        let v: Vec<char> = "mississippi".chars().unique().collect();
        assert_eq!(v, vec!['m', 'i', 's', 'p']);
        let empty: Vec<u8> = Vec::<u8>::new().into_iter().unique().collect();
        assert!(empty.is_empty());
    }

    #[test]
    fn cumulative_sums() {
        let v: Vec<i64> = vec![1, 2, 3, -10].into_iter().cumulative().collect();
        assert_eq!(v, vec![1, 3, 6, -4]);
        let sat: Vec<i64> = vec![i64::MAX, 1].into_iter().cumulative().collect();
        assert_eq!(sat, vec![i64::MAX, i64::MAX]);
        assert_eq!(
            vec![5i64; 3].into_iter().cumulative().size_hint(),
            (3, Some(3))
        );
    }

    #[test]
    fn batching() {
        let b: Vec<Vec<u32>> = (1..=7).batches(3).collect();
        assert_eq!(b, vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
        assert_eq!((0..0).batches(2).count(), 0);
    }

    #[test]
    #[should_panic(expected = "batch size")]
    fn zero_batch_size_panics() {
        let _ = (0..3).batches(0);
    }

    #[test]
    fn min_and_max() {
        assert_eq!([3, -1, 7, 2].into_iter().min_max(), Some((-1, 7)));
        assert_eq!(std::iter::empty::<i32>().min_max(), None);
        assert_eq!(
            ["pear", "apple", "zoo"].into_iter().min_max(),
            Some(("apple", "zoo"))
        );
        assert_eq!([2.5f64].into_iter().min_max(), Some((2.5, 2.5)));
    }

    #[test]
    fn adapters_compose() {
        let result: Vec<Vec<i64>> = vec![1i64, 1, 2, 3, 3, 4, 5]
            .into_iter()
            .unique()
            .cumulative()
            .take_until_inclusive(|&t| t >= 10)
            .batches(2)
            .collect();
        assert_eq!(result, vec![vec![1, 3], vec![6, 10]]);
    }
}
