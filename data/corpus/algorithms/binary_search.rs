//! Binary search in its many disguises.
//!
//! The core idea: keep an interval `[lo, hi)` in which the answer must lie and
//! halve it on every step. Writing the loop with half-open bounds and
//! `lo + (hi - lo) / 2` avoids both off-by-one errors and overflow.

/// Index of the first element that is not less than `target` (C++'s
/// `lower_bound`). Returns `values.len()` if every element is smaller.
pub fn lower_bound<T: Ord>(values: &[T], target: &T) -> usize {
    let (mut lo, mut hi) = (0, values.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if values[mid] < *target {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Index of the first element that is greater than `target`.
pub fn upper_bound<T: Ord>(values: &[T], target: &T) -> usize {
    let (mut lo, mut hi) = (0, values.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if values[mid] <= *target {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// How many times `target` occurs in a sorted slice, in O(log n).
pub fn count_sorted<T: Ord>(values: &[T], target: &T) -> usize {
    upper_bound(values, target) - lower_bound(values, target)
}

/// The smallest `x` in `lo..=hi` for which `pred(x)` is true, assuming
/// `pred` is false and then true (monotonic). `None` if it is never true.
pub fn first_true<F>(mut lo: u64, mut hi: u64, pred: F) -> Option<u64>
where
    F: Fn(u64) -> bool,
{
    if lo > hi || !pred(hi) {
        return None;
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}

/// The integer square root: the largest `r` with `r * r <= n`.
pub fn isqrt(n: u64) -> u64 {
    // First r whose square exceeds n, minus one. Multiplication is checked
    // because (2^32)^2 already overflows u64.
    let exceeds = |r: u64| r.checked_mul(r).is_none_or(|sq| sq > n);
    match first_true(0, u64::from(u32::MAX) + 1, exceeds) {
        Some(r) => r - 1,
        None => u64::from(u32::MAX),
    }
}

/// Finds the peak of a slice that strictly increases and then strictly
/// decreases (a "mountain"). Returns the index of the largest element.
pub fn mountain_peak(values: &[i32]) -> Option<usize> {
    if values.is_empty() {
        return None;
    }
    let (mut lo, mut hi) = (0, values.len() - 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if values[mid] < values[mid + 1] {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Some(lo)
}

/// Searches a sorted slice that was rotated at an unknown point, such as
/// `[5, 6, 1, 2, 3]`. Elements must be distinct.
pub fn search_rotated(values: &[i32], target: i32) -> Option<usize> {
    let (mut lo, mut hi) = (0usize, values.len());
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if values[mid] == target {
            return Some(mid);
        }
        let left_sorted = values[lo] <= values[mid];
        let in_left = values[lo] <= target && target < values[mid];
        let in_right = values[mid] < target && target <= values[hi - 1];
        if (left_sorted && in_left) || (!left_sorted && !in_right) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    None
}

/// Smallest daily capacity that ships all packages, in order, within `days`.
/// A classic "binary search on the answer" problem.
pub fn min_capacity(weights: &[u32], days: u32) -> Option<u64> {
    if days == 0 {
        return None;
    }
    let heaviest = u64::from(*weights.iter().max()?);
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let fits = |cap: u64| {
        let mut used_days = 1;
        let mut load = 0;
        for &w in weights {
            let w = u64::from(w);
            if load + w > cap {
                used_days += 1;
                load = 0;
            }
            load += w;
        }
        used_days <= days
    };
    first_true(heaviest, total, fits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        let v = [1, 2, 2, 2, 5, 8];
        assert_eq!(lower_bound(&v, &2), 1);
        assert_eq!(upper_bound(&v, &2), 4);
        assert_eq!(lower_bound(&v, &0), 0);
        assert_eq!(lower_bound(&v, &9), 6);
        assert_eq!(upper_bound(&v, &8), 6);
        assert_eq!(count_sorted(&v, &2), 3);
        assert_eq!(count_sorted(&v, &3), 0);
        let empty: [i32; 0] = [];
        assert_eq!(lower_bound(&empty, &1), 0);
    }

    #[test]
    fn bounds_match_linear_scan() {
        let v: Vec<i32> = (0..50).map(|i| (i * 7 % 11) / 2).collect::<Vec<_>>();
        let mut sorted = v.clone();
        sorted.sort();
        for t in -1..8 {
            let linear = sorted.iter().position(|&x| x >= t).unwrap_or(sorted.len());
            assert_eq!(lower_bound(&sorted, &t), linear);
        }
    }

    #[test]
    fn first_true_cases() {
        assert_eq!(first_true(0, 100, |x| x * x >= 50), Some(8));
        assert_eq!(first_true(0, 10, |_| false), None);
        assert_eq!(first_true(5, 3, |_| true), None);
        assert_eq!(first_true(7, 7, |_| true), Some(7));
    }

    #[test]
    fn integer_square_roots() {
        assert_eq!(isqrt(0), 0);
        assert_eq!(isqrt(1), 1);
        assert_eq!(isqrt(15), 3);
        assert_eq!(isqrt(16), 4);
        assert_eq!(isqrt(u64::MAX), u64::from(u32::MAX));
        for n in 0..2000u64 {
            let r = isqrt(n);
            assert!(r * r <= n && (r + 1) * (r + 1) > n);
        }
    }

    #[test]
    fn peaks() {
        assert_eq!(mountain_peak(&[1, 3, 7, 4, 2]), Some(2));
        assert_eq!(mountain_peak(&[9]), Some(0));
        assert_eq!(mountain_peak(&[1, 2, 3]), Some(2));
        assert_eq!(mountain_peak(&[]), None);
    }

    #[test]
    fn rotated_search() {
        let v = [15, 18, 22, 3, 5, 9, 12];
        for (i, &x) in v.iter().enumerate() {
            assert_eq!(search_rotated(&v, x), Some(i));
        }
        assert_eq!(search_rotated(&v, 4), None);
        assert_eq!(search_rotated(&[], 4), None);
        assert_eq!(search_rotated(&[1, 2, 3], 3), Some(2));
    }

    #[test]
    fn shipping_capacity() {
        assert_eq!(min_capacity(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 5), Some(15));
        assert_eq!(min_capacity(&[3, 2, 2, 4, 1, 4], 3), Some(6));
        assert_eq!(min_capacity(&[5], 1), Some(5));
        assert_eq!(min_capacity(&[], 2), None);
        assert_eq!(min_capacity(&[1], 0), None);
    }
}
