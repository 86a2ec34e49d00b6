//! Writing your own iterators.
//!
//! Implementing `Iterator` only requires `next`; every adapter (`map`,
//! `filter`, `take`, `sum`, ...) then works for free. These examples cover an
//! infinite sequence, a struct that borrows its data, a double-ended range
//! and an iterator built from a closure with `std::iter::from_fn`.

/// The Fibonacci numbers 0, 1, 1, 2, 3, 5, ... as `u64`, stopping before the
/// first value that would overflow.
#[derive(Debug, Clone)]
pub struct Fibonacci {
    current: Option<u64>,
    next: Option<u64>,
}

impl Fibonacci {
    pub fn new() -> Self {
        Fibonacci {
            current: Some(0),
            next: Some(1),
        }
    }
}

impl Default for Fibonacci {
    fn default() -> Self {
        Self::new()
    }
}

impl Iterator for Fibonacci {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let value = self.current?;
        self.current = self.next;
        self.next = match (value, self.next) {
            (a, Some(b)) => a.checked_add(b),
            _ => None,
        };
        Some(value)
    }
}

/// Iterates over a slice in overlapping pairs: `[a, b, c]` gives `(a, b)`, `(b, c)`.
#[derive(Debug)]
pub struct Pairs<'a, T> {
    items: &'a [T],
    index: usize,
}

impl<'a, T> Pairs<'a, T> {
    pub fn new(items: &'a [T]) -> Self {
        Pairs { items, index: 0 }
    }
}

impl<'a, T> Iterator for Pairs<'a, T> {
    type Item = (&'a T, &'a T);

    fn next(&mut self) -> Option<Self::Item> {
        let first = self.items.get(self.index)?;
        let second = self.items.get(self.index + 1)?;
        self.index += 1;
        Some((first, second))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.items.len().saturating_sub(self.index + 1);
        (left, Some(left))
    }
}

impl<T> ExactSizeIterator for Pairs<'_, T> {}

/// A range of integers with a step that can be walked from both ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stepped {
    front: i64,
    back: i64, // inclusive last value still to yield
    step: i64,
}

impl Stepped {
    /// Values `start, start + step, ...` strictly below `end`. `step` must be positive.
    pub fn new(start: i64, end: i64, step: i64) -> Self {
        assert!(step > 0, "step must be positive");
        if end <= start {
            return Stepped {
                front: 0,
                back: -1,
                step,
            };
        }
        let count = (end - start - 1) / step;
        Stepped {
            front: start,
            back: start + count * step,
            step,
        }
    }
}

impl Iterator for Stepped {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        if self.front > self.back {
            return None;
        }
        let value = self.front;
        self.front += self.step;
        Some(value)
    }
}

impl DoubleEndedIterator for Stepped {
    fn next_back(&mut self) -> Option<i64> {
        if self.front > self.back {
            return None;
        }
        let value = self.back;
        self.back -= self.step;
        Some(value)
    }
}

/// The Collatz trajectory of `n` down to 1, produced with `from_fn`.
pub fn collatz_path(n: u64) -> impl Iterator<Item = u64> {
    let mut state = if n == 0 { None } else { Some(n) };
    std::iter::from_fn(move || {
        let current = state?;
        state = match current {
            1 => None,
            c if c % 2 == 0 => Some(c / 2),
            c => c.checked_mul(3).and_then(|x| x.checked_add(1)),
        };
        Some(current)
    })
}

/// Powers of `base` that fit in a u64, produced with `successors`.
pub fn powers_of(base: u64) -> impl Iterator<Item = u64> {
    std::iter::successors(Some(1u64), move |&p| {
        if base < 2 {
            None
        } else {
            p.checked_mul(base)
        }
    })
}

/// Groups a sorted slice of words by their first letter, borrowing the words.
pub fn by_first_letter<'a>(words: &[&'a str]) -> Vec<(char, Vec<&'a str>)> {
    let mut groups: Vec<(char, Vec<&'a str>)> = Vec::new();
    for &w in words {
        let Some(first) = w.chars().next() else {
            continue;
        };
        match groups.last_mut() {
            Some((letter, list)) if *letter == first => list.push(w),
            _ => groups.push((first, vec![w])),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fibonacci_prefix_and_end() {
        let first: Vec<u64> = Fibonacci::new().take(10).collect();
        assert_eq!(first, vec![0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
        // The sequence is finite in u64: F(93) is the last that fits.
        assert_eq!(Fibonacci::new().count(), 94);
        assert_eq!(Fibonacci::new().last(), Some(12200160415121876738));
        let even_sum: u64 = Fibonacci::new()
            .take_while(|&f| f < 4_000_000)
            .filter(|f| f % 2 == 0)
            .sum();
        assert_eq!(even_sum, 4613732);
    }

    #[test]
    fn pairs_borrow_the_slice() {
        let data = [1, 4, 9, 16];
        let diffs: Vec<i32> = Pairs::new(&data).map(|(a, b)| b - a).collect();
        assert_eq!(diffs, vec![3, 5, 7]);
        assert_eq!(Pairs::new(&data).len(), 3);
        assert_eq!(Pairs::new(&[1]).count(), 0);
        assert_eq!(Pairs::<u8>::new(&[]).len(), 0);
    }

    #[test]
    fn stepped_both_ends() {
        assert_eq!(Stepped::new(0, 10, 3).collect::<Vec<_>>(), vec![0, 3, 6, 9]);
        assert_eq!(
            Stepped::new(0, 10, 3).rev().collect::<Vec<_>>(),
            vec![9, 6, 3, 0]
        );
        assert_eq!(Stepped::new(5, 5, 1).count(), 0);
        let mut it = Stepped::new(1, 8, 2);
        assert_eq!(
            (
                it.next(),
                it.next_back(),
                it.next(),
                it.next_back(),
                it.next()
            ),
            (Some(1), Some(7), Some(3), Some(5), None)
        );
    }

    #[test]
    #[should_panic(expected = "step must be positive")]
    fn stepped_rejects_zero_step() {
        let _ = Stepped::new(0, 3, 0);
    }

    #[test]
    fn collatz() {
        assert_eq!(
            collatz_path(6).collect::<Vec<_>>(),
            vec![6, 3, 10, 5, 16, 8, 4, 2, 1]
        );
        assert_eq!(collatz_path(1).collect::<Vec<_>>(), vec![1]);
        assert_eq!(collatz_path(0).count(), 0);
        assert_eq!(collatz_path(27).count(), 112);
    }

    #[test]
    fn powers() {
        assert_eq!(
            powers_of(10).take(4).collect::<Vec<_>>(),
            vec![1, 10, 100, 1000]
        );
        assert_eq!(powers_of(2).count(), 64);
        assert_eq!(powers_of(1).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn grouping() {
        let groups = by_first_letter(&["ant", "apple", "bee", "", "cat", "cow"]);
        assert_eq!(
            groups,
            vec![
                ('a', vec!["ant", "apple"]),
                ('b', vec!["bee"]),
                ('c', vec!["cat", "cow"])
            ]
        );
    }
}
