//! A fixed-capacity ring buffer (circular queue).
//!
//! Storage is a `Vec<Option<T>>` plus a start index and a length, so no
//! element is ever moved when pushing or popping. When full, the buffer can
//! either reject new items or overwrite the oldest, which makes it handy for
//! "last N events" histories and moving averages.

use std::fmt;

/// What `push` does when the buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    Reject,
    Overwrite,
}

pub struct RingBuffer<T> {
    slots: Vec<Option<T>>,
    start: usize,
    len: usize,
    policy: WhenFull,
}

/// Returned when a push is rejected; gives the item back to the caller.
#[derive(Debug, PartialEq, Eq)]
pub struct Full<T>(pub T);

impl<T> RingBuffer<T> {
    /// Creates a buffer holding at most `capacity` items (at least one).
    pub fn new(capacity: usize, policy: WhenFull) -> Self {
        let capacity = capacity.max(1);
        RingBuffer {
            slots: (0..capacity).map(|_| None).collect(),
            start: 0,
            len: 0,
            policy,
        }
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len == self.capacity()
    }

    fn physical(&self, logical: usize) -> usize {
        (self.start + logical) % self.capacity()
    }

    /// Appends at the back. With `Overwrite`, a full buffer drops its oldest
    /// item and returns it as `Ok(Some(old))`.
    pub fn push(&mut self, item: T) -> Result<Option<T>, Full<T>> {
        if !self.is_full() {
            let i = self.physical(self.len);
            self.slots[i] = Some(item);
            self.len += 1;
            return Ok(None);
        }
        match self.policy {
            WhenFull::Reject => Err(Full(item)),
            WhenFull::Overwrite => {
                let i = self.start;
                let old = self.slots[i].replace(item);
                self.start = self.physical(1);
                Ok(old)
            }
        }
    }

    /// Removes from the front (the oldest item).
    pub fn pop(&mut self) -> Option<T> {
        if self.is_empty() {
            return None;
        }
        let item = self.slots[self.start].take();
        self.start = self.physical(1);
        self.len -= 1;
        item
    }

    /// The item `i` positions from the front.
    pub fn get(&self, i: usize) -> Option<&T> {
        if i >= self.len {
            return None;
        }
        self.slots[self.physical(i)].as_ref()
    }

    pub fn front(&self) -> Option<&T> {
        self.get(0)
    }

    pub fn back(&self) -> Option<&T> {
        self.len.checked_sub(1).and_then(|i| self.get(i))
    }

    /// Oldest to newest.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        (0..self.len).filter_map(move |i| self.get(i))
    }

    pub fn clear(&mut self) {
        while self.pop().is_some() {}
        self.start = 0;
    }
}

impl<T: fmt::Debug> fmt::Debug for RingBuffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A moving average over the last `window` samples.
pub struct MovingAverage {
    buffer: RingBuffer<f64>,
    sum: f64,
}

impl MovingAverage {
    pub fn new(window: usize) -> Self {
        MovingAverage {
            buffer: RingBuffer::new(window, WhenFull::Overwrite),
            sum: 0.0,
        }
    }

    /// Adds a sample and returns the current average.
    pub fn add(&mut self, sample: f64) -> f64 {
        if let Ok(Some(old)) = self.buffer.push(sample) {
            self.sum -= old;
        }
        self.sum += sample;
        self.sum / self.buffer.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order() {
        let mut rb = RingBuffer::new(3, WhenFull::Reject);
        assert_eq!(rb.push(1), Ok(None));
        assert_eq!(rb.push(2), Ok(None));
        assert_eq!(rb.pop(), Some(1));
        assert_eq!(rb.push(3), Ok(None));
        assert_eq!(rb.push(4), Ok(None));
        assert!(rb.is_full());
        assert_eq!(rb.iter().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!((rb.front(), rb.back()), (Some(&2), Some(&4)));
    }

    #[test]
    fn rejecting_returns_the_item() {
        let mut rb = RingBuffer::new(1, WhenFull::Reject);
        rb.push("a").unwrap();
        assert_eq!(rb.push("b"), Err(Full("b")));
        assert_eq!(rb.len(), 1);
    }

    #[test]
    fn overwriting_drops_oldest() {
        let mut rb = RingBuffer::new(2, WhenFull::Overwrite);
        rb.push('x').unwrap();
        rb.push('y').unwrap();
        assert_eq!(rb.push('z'), Ok(Some('x')));
        assert_eq!(format!("{:?}", rb), "['y', 'z']");
        assert_eq!(rb.get(1), Some(&'z'));
        assert_eq!(rb.get(2), None);
    }

    #[test]
    fn wraps_around_many_times() {
        let mut rb = RingBuffer::new(4, WhenFull::Reject);
        let mut expected = std::collections::VecDeque::new();
        for i in 0..100 {
            if i % 3 == 2 {
                assert_eq!(rb.pop(), expected.pop_front());
            } else if rb.push(i).is_ok() {
                expected.push_back(i);
            }
            assert_eq!(
                rb.iter().copied().collect::<Vec<_>>(),
                expected.iter().copied().collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn clear_and_capacity() {
        let mut rb = RingBuffer::new(0, WhenFull::Overwrite);
        assert_eq!(rb.capacity(), 1);
        rb.push(5).unwrap();
        rb.clear();
        assert!(rb.is_empty());
        assert_eq!(rb.back(), None);
    }

    #[test]
    fn moving_average() {
        let mut avg = MovingAverage::new(3);
        let outputs: Vec<f64> = [3.0, 6.0, 9.0, 12.0, 0.0]
            .iter()
            .map(|&x| avg.add(x))
            .collect();
        assert_eq!(outputs, vec![3.0, 4.5, 6.0, 9.0, 7.0]);
    }
}
