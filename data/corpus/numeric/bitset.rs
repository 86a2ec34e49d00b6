//! Bit manipulation and a compact fixed-size bit set.
//!
//! Integers double as small sets: bit `i` set means "i is a member". The
//! standard library already provides `count_ones`, `leading_zeros`,
//! `rotate_left` and friends; this module builds on them.

use std::fmt;

/// True when exactly one bit is set.
pub fn is_single_bit(x: u64) -> bool {
    x != 0 && x & (x - 1) == 0
}

/// The smallest power of two that is >= x, or `None` if it does not fit.
pub fn round_up_pow2(x: u64) -> Option<u64> {
    x.checked_next_power_of_two()
}

/// Clears the lowest set bit: 0b1011_0000 becomes 0b1010_0000.
pub fn clear_lowest(x: u64) -> u64 {
    x & x.wrapping_sub(1)
}

/// Iterates over the positions of set bits, lowest first.
pub fn set_bits(mut x: u64) -> impl Iterator<Item = u32> {
    std::iter::from_fn(move || {
        if x == 0 {
            None
        } else {
            let i = x.trailing_zeros();
            x = clear_lowest(x);
            Some(i)
        }
    })
}

/// Reverses the order of the bits in a byte.
pub fn reverse_byte(b: u8) -> u8 {
    b.reverse_bits()
}

/// Gray code of n: consecutive values differ in exactly one bit.
pub fn gray(n: u32) -> u32 {
    n ^ (n >> 1)
}

/// Inverse of [`gray`].
pub fn from_gray(mut g: u32) -> u32 {
    let mut n = 0;
    while g != 0 {
        n ^= g;
        g >>= 1;
    }
    n
}

/// A set of integers in `0..capacity`, one bit per possible member.
#[derive(Clone, PartialEq, Eq)]
pub struct BitSet {
    words: Vec<u64>,
    capacity: usize,
}

impl BitSet {
    pub fn with_capacity(capacity: usize) -> Self {
        BitSet {
            words: vec![0; capacity.div_ceil(64)],
            capacity,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn locate(&self, i: usize) -> Option<(usize, u64)> {
        (i < self.capacity).then(|| (i / 64, 1u64 << (i % 64)))
    }

    /// Adds `i`; returns false if it was already present or out of range.
    pub fn insert(&mut self, i: usize) -> bool {
        match self.locate(i) {
            Some((w, mask)) if self.words[w] & mask == 0 => {
                self.words[w] |= mask;
                true
            }
            _ => false,
        }
    }

    pub fn remove(&mut self, i: usize) -> bool {
        match self.locate(i) {
            Some((w, mask)) if self.words[w] & mask != 0 => {
                self.words[w] &= !mask;
                true
            }
            _ => false,
        }
    }

    pub fn contains(&self, i: usize) -> bool {
        self.locate(i)
            .is_some_and(|(w, mask)| self.words[w] & mask != 0)
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// Members in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words
            .iter()
            .enumerate()
            .flat_map(|(wi, &w)| set_bits(w).map(move |b| wi * 64 + b as usize))
    }

    fn combine(&self, other: &BitSet, op: impl Fn(u64, u64) -> u64) -> BitSet {
        let capacity = self.capacity.max(other.capacity);
        let mut out = BitSet::with_capacity(capacity);
        for (i, slot) in out.words.iter_mut().enumerate() {
            let a = self.words.get(i).copied().unwrap_or(0);
            let b = other.words.get(i).copied().unwrap_or(0);
            *slot = op(a, b);
        }
        out
    }

    pub fn union(&self, other: &BitSet) -> BitSet {
        self.combine(other, |a, b| a | b)
    }

    pub fn intersection(&self, other: &BitSet) -> BitSet {
        self.combine(other, |a, b| a & b)
    }

    pub fn difference(&self, other: &BitSet) -> BitSet {
        self.combine(other, |a, b| a & !b)
    }

    pub fn is_subset(&self, other: &BitSet) -> bool {
        self.difference(other).is_empty()
    }
}

impl fmt::Debug for BitSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<usize> for BitSet {
    /// The capacity is one more than the largest member.
    fn from_iter<I: IntoIterator<Item = usize>>(iter: I) -> Self {
        let items: Vec<usize> = iter.into_iter().collect();
        let capacity = items.iter().max().map_or(0, |m| m + 1);
        let mut set = BitSet::with_capacity(capacity);
        for i in items {
            set.insert(i);
        }
        set
    }
}

/// All subsets of `0..n` with exactly `k` members, as bit masks, in
/// increasing order (Gosper's hack).
pub fn subsets_of_size(n: u32, k: u32) -> Vec<u64> {
    if k > n || n > 63 {
        return Vec::new();
    }
    if k == 0 {
        return vec![0];
    }
    let limit = 1u64 << n;
    let mut out = Vec::new();
    let mut s = (1u64 << k) - 1;
    while s < limit {
        out.push(s);
        let c = s & s.wrapping_neg();
        let r = s + c;
        s = (((r ^ s) >> 2) / c) | r;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_tricks() {
        assert!(is_single_bit(64));
        assert!(!is_single_bit(0));
        assert!(!is_single_bit(6));
        assert_eq!(round_up_pow2(17), Some(32));
        assert_eq!(round_up_pow2(u64::MAX), None);
        assert_eq!(clear_lowest(0b1011_0000), 0b1010_0000);
        assert_eq!(set_bits(0b1010_0101).collect::<Vec<_>>(), vec![0, 2, 5, 7]);
        assert_eq!(reverse_byte(0b0000_0110), 0b0110_0000);
    }

    #[test]
    fn gray_codes() {
        for n in 0..256u32 {
            assert_eq!((gray(n) ^ gray(n + 1)).count_ones(), 1);
            assert_eq!(from_gray(gray(n)), n);
        }
    }

    #[test]
    fn bitset_membership() {
        let mut s = BitSet::with_capacity(130);
        assert!(s.insert(0));
        assert!(s.insert(64));
        assert!(s.insert(129));
        assert!(!s.insert(129));
        assert!(!s.insert(130));
        assert!(s.contains(64) && !s.contains(63));
        assert_eq!(s.len(), 3);
        assert!(s.remove(0));
        assert!(!s.remove(0));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![64, 129]);
        assert_eq!(format!("{:?}", s), "{64, 129}");
    }

    #[test]
    fn bitset_algebra() {
        let a: BitSet = [1, 3, 5, 70].into_iter().collect();
        let b: BitSet = [3, 4, 5].into_iter().collect();
        assert_eq!(a.union(&b).iter().collect::<Vec<_>>(), vec![1, 3, 4, 5, 70]);
        assert_eq!(a.intersection(&b).iter().collect::<Vec<_>>(), vec![3, 5]);
        assert_eq!(a.difference(&b).iter().collect::<Vec<_>>(), vec![1, 70]);
        let small: BitSet = [3, 5].into_iter().collect();
        assert!(small.is_subset(&a) && !a.is_subset(&small));
        assert!(BitSet::with_capacity(10).is_empty());
        assert_eq!(a.capacity(), 71);
    }

    #[test]
    fn fixed_size_subsets() {
        assert_eq!(
            subsets_of_size(4, 2),
            vec![0b0011, 0b0101, 0b0110, 0b1001, 0b1010, 0b1100]
        );
        assert_eq!(subsets_of_size(5, 0), vec![0]);
        assert!(subsets_of_size(3, 4).is_empty());
        assert_eq!(subsets_of_size(10, 3).len(), 120);
        assert!(subsets_of_size(10, 3).iter().all(|s| s.count_ones() == 3));
    }
}
