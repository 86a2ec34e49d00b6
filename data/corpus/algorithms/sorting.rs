//! Classic sorting algorithms written generically.
//!
//! The standard library's `sort` and `sort_unstable` are what real code
//! should use; these versions exist to show how the algorithms work and how
//! trait bounds such as `T: Ord + Clone` express what each one needs.

use std::cmp::Ordering;

/// Insertion sort: O(n²) but fast for tiny or nearly sorted inputs. Stable.
pub fn insertion_sort<T: Ord>(values: &mut [T]) {
    for i in 1..values.len() {
        let mut j = i;
        while j > 0 && values[j - 1] > values[j] {
            values.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Top-down merge sort with a comparator. Stable, O(n log n), O(n) extra space.
pub fn merge_sort_by<T, F>(values: &[T], compare: &F) -> Vec<T>
where
    T: Clone,
    F: Fn(&T, &T) -> Ordering,
{
    if values.len() <= 1 {
        return values.to_vec();
    }
    let (left, right) = values.split_at(values.len() / 2);
    let left = merge_sort_by(left, compare);
    let right = merge_sort_by(right, compare);

    let mut merged = Vec::with_capacity(values.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        // `!= Greater` keeps equal elements in their original order.
        if compare(&left[i], &right[j]) != Ordering::Greater {
            merged.push(left[i].clone());
            i += 1;
        } else {
            merged.push(right[j].clone());
            j += 1;
        }
    }
    merged.extend_from_slice(&left[i..]);
    merged.extend_from_slice(&right[j..]);
    merged
}

/// Merge sort by the natural order.
pub fn merge_sort<T: Ord + Clone>(values: &[T]) -> Vec<T> {
    merge_sort_by(values, &|a: &T, b: &T| a.cmp(b))
}

/// In-place quicksort using the median of three as pivot. Not stable.
pub fn quicksort<T: Ord>(values: &mut [T]) {
    if values.len() <= 8 {
        insertion_sort(values);
        return;
    }
    let last = values.len() - 1;
    let mid = last / 2;
    // Order the three candidates so the median ends up at `mid`.
    if values[mid] < values[0] {
        values.swap(mid, 0);
    }
    if values[last] < values[0] {
        values.swap(last, 0);
    }
    if values[last] < values[mid] {
        values.swap(last, mid);
    }
    values.swap(mid, last);
    let mut store = 0;
    for i in 0..last {
        if values[i] < values[last] {
            values.swap(i, store);
            store += 1;
        }
    }
    values.swap(store, last);
    let (left, right) = values.split_at_mut(store);
    quicksort(left);
    quicksort(&mut right[1..]);
}

/// Counting sort for small non-negative keys: O(n + k).
pub fn counting_sort(values: &[u8]) -> Vec<u8> {
    let mut counts = [0usize; 256];
    for &v in values {
        counts[v as usize] += 1;
    }
    counts
        .iter()
        .enumerate()
        .flat_map(|(value, &n)| std::iter::repeat_n(value as u8, n))
        .collect()
}

/// True when the slice is sorted according to `compare`.
pub fn is_sorted_with<T, F>(values: &[T], compare: F) -> bool
where
    F: Fn(&T, &T) -> Ordering,
{
    values
        .windows(2)
        .all(|w| compare(&w[0], &w[1]) != Ordering::Greater)
}

/// A record used to demonstrate sorting by several keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employee {
    pub name: String,
    pub department: String,
    pub salary: u32,
}

/// Sorts by department ascending, then salary descending, then name.
pub fn sort_employees(staff: &mut [Employee]) {
    staff.sort_by(|a, b| {
        a.department
            .cmp(&b.department)
            .then_with(|| b.salary.cmp(&a.salary))
            .then_with(|| a.name.cmp(&b.name))
    });
}

/// Indices that would sort the slice (an "argsort"), stable for ties.
pub fn argsort<T: PartialOrd>(values: &[T]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[a].partial_cmp(&values[b]).unwrap_or(Ordering::Equal));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(n: usize, seed: u64) -> Vec<i64> {
        let mut state = seed;
        (0..n)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) % 1000) as i64 - 500
            })
            .collect()
    }

    #[test]
    fn all_sorts_agree_with_std() {
        for (n, seed) in [(0, 1), (1, 2), (7, 3), (64, 4), (500, 5)] {
            let data = pseudo_random(n, seed);
            let mut expected = data.clone();
            expected.sort();

            let mut ins = data.clone();
            insertion_sort(&mut ins);
            assert_eq!(ins, expected);

            assert_eq!(merge_sort(&data), expected);

            let mut quick = data.clone();
            quicksort(&mut quick);
            assert_eq!(quick, expected);
        }
    }

    #[test]
    fn merge_sort_is_stable() {
        let pairs = vec![(2, 'a'), (1, 'b'), (2, 'c'), (1, 'd')];
        let sorted = merge_sort_by(&pairs, &|x: &(i32, char), y: &(i32, char)| x.0.cmp(&y.0));
        assert_eq!(sorted, vec![(1, 'b'), (1, 'd'), (2, 'a'), (2, 'c')]);
    }

    #[test]
    fn counting_sort_bytes() {
        assert_eq!(counting_sort(b"rustacean"), b"aacenrstu".to_vec());
        assert!(counting_sort(&[]).is_empty());
        assert_eq!(counting_sort(&[255, 0, 255]), vec![0, 255, 255]);
    }

    #[test]
    fn sortedness_check() {
        assert!(is_sorted_with(&[1, 2, 2, 3], |a, b| a.cmp(b)));
        assert!(!is_sorted_with(&[3, 1], |a: &i32, b: &i32| a.cmp(b)));
        assert!(is_sorted_with(&[3, 1], |a: &i32, b: &i32| b.cmp(a)));
        assert!(is_sorted_with::<i32, _>(&[], |a, b| a.cmp(b)));
    }

    #[test]
    fn multi_key_sort() {
        let e = |n: &str, d: &str, s| Employee {
            name: n.into(),
            department: d.into(),
            salary: s,
        };
        let mut staff = vec![
            e("Zed", "ops", 50),
            e("Amy", "dev", 70),
            e("Bob", "dev", 90),
            e("Cat", "dev", 70),
        ];
        sort_employees(&mut staff);
        let names: Vec<&str> = staff.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, vec!["Bob", "Amy", "Cat", "Zed"]);
    }

    #[test]
    fn argsort_floats() {
        assert_eq!(argsort(&[0.5, -1.0, 2.0, 0.5]), vec![1, 0, 3, 2]);
        assert!(argsort::<f64>(&[]).is_empty());
    }
}
