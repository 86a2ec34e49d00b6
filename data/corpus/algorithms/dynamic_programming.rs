//! Dynamic programming: solving a problem by combining answers to smaller
//! overlapping sub-problems stored in a table.
//!
//! Each function documents its recurrence. Most use a rolling one-row table
//! where the full two-dimensional table is not needed.

/// Levenshtein edit distance: the minimum number of single-character
/// insertions, deletions and substitutions turning `a` into `b`.
///
/// `d[i][j] = min(d[i-1][j] + 1, d[i][j-1] + 1, d[i-1][j-1] + (a[i] != b[j]))`
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let substitute = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            row[j] = substitute.min(prev[j] + 1).min(row[j - 1] + 1);
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev[b.len()]
}

/// Fewest coins adding up to `amount`, or `None` if it cannot be made.
///
/// `best[x] = 1 + min(best[x - c])` over coins `c <= x`.
pub fn fewest_coins(coins: &[u32], amount: u32) -> Option<u32> {
    let amount = amount as usize;
    let mut best: Vec<Option<u32>> = vec![None; amount + 1];
    best[0] = Some(0);
    for x in 1..=amount {
        best[x] = coins
            .iter()
            .filter(|&&c| c as usize <= x && c > 0)
            .filter_map(|&c| best[x - c as usize])
            .min()
            .map(|n| n + 1);
    }
    best[amount]
}

/// Number of distinct ways to make `amount` from unlimited coins, ignoring
/// order. Counts wrap around on overflow would be wrong, so u128 is used.
pub fn coin_combinations(coins: &[u32], amount: u32) -> u128 {
    let mut ways = vec![0u128; amount as usize + 1];
    ways[0] = 1;
    for &c in coins.iter().filter(|&&c| c > 0) {
        for x in c as usize..=amount as usize {
            ways[x] += ways[x - c as usize];
        }
    }
    ways[amount as usize]
}

/// Length of the longest common subsequence of two slices.
pub fn lcs_length<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev = vec![0usize; b.len() + 1];
    for x in a {
        let mut row = vec![0usize; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            row[j + 1] = if x == y {
                prev[j] + 1
            } else {
                prev[j + 1].max(row[j])
            };
        }
        prev = row;
    }
    prev[b.len()]
}

/// An item for the knapsack problem.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    pub weight: usize,
    pub value: u64,
}

/// 0/1 knapsack: the best total value with total weight at most `capacity`,
/// and the indices of the chosen items in increasing order.
pub fn knapsack(items: &[Item], capacity: usize) -> (u64, Vec<usize>) {
    let n = items.len();
    // table[i][w]: best value using the first i items with capacity w.
    let mut table = vec![vec![0u64; capacity + 1]; n + 1];
    for (i, item) in items.iter().enumerate() {
        for w in 0..=capacity {
            let skip = table[i][w];
            let take = if item.weight <= w {
                table[i][w - item.weight] + item.value
            } else {
                0
            };
            table[i + 1][w] = skip.max(take);
        }
    }
    // Walk back through the table to recover the choice.
    let mut chosen = Vec::new();
    let mut w = capacity;
    for i in (0..n).rev() {
        if table[i + 1][w] != table[i][w] {
            chosen.push(i);
            w -= items[i].weight;
        }
    }
    chosen.reverse();
    (table[n][capacity], chosen)
}

/// Number of monotone lattice paths through a grid from the top-left to the
/// bottom-right corner, moving only right or down and avoiding blocked cells.
pub fn grid_paths(blocked: &[Vec<bool>]) -> u64 {
    let Some(width) = blocked.first().map(Vec::len) else {
        return 0;
    };
    let mut row = vec![0u64; width];
    for (r, cells) in blocked.iter().enumerate() {
        for c in 0..width {
            if cells[c] {
                row[c] = 0;
            } else if r == 0 && c == 0 {
                row[c] = 1;
            } else if c > 0 {
                row[c] = row[c].saturating_add(row[c - 1]);
            }
        }
    }
    row[width - 1]
}

/// Longest strictly increasing subsequence length in O(n log n), using the
/// "smallest tail" technique.
pub fn lis_length(values: &[i64]) -> usize {
    let mut tails: Vec<i64> = Vec::new();
    for &v in values {
        match tails.binary_search(&v) {
            Ok(_) => {}
            Err(pos) if pos == tails.len() => tails.push(v),
            Err(pos) => tails[pos] = v,
        }
    }
    tails.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(edit_distance("flaw", "lawn"), 2);
        assert_eq!(edit_distance("café", "cafe"), 1);
    }

    #[test]
    fn coins() {
        assert_eq!(fewest_coins(&[1, 5, 10, 25], 63), Some(6));
        assert_eq!(fewest_coins(&[2], 3), None);
        assert_eq!(fewest_coins(&[], 0), Some(0));
        assert_eq!(fewest_coins(&[0, 3], 9), Some(3));
        assert_eq!(coin_combinations(&[1, 2, 5], 5), 4);
        assert_eq!(coin_combinations(&[2], 3), 0);
        assert_eq!(coin_combinations(&[1], 0), 1);
    }

    #[test]
    fn common_subsequences() {
        assert_eq!(lcs_length(b"ABCBDAB", b"BDCABA"), 4);
        assert_eq!(lcs_length::<u8>(b"", b"abc"), 0);
        assert_eq!(lcs_length(&[1, 2, 3], &[1, 2, 3]), 3);
    }

    #[test]
    fn knapsack_choice() {
        let items = [
            Item {
                weight: 1,
                value: 1,
            },
            Item {
                weight: 3,
                value: 4,
            },
            Item {
                weight: 4,
                value: 5,
            },
            Item {
                weight: 5,
                value: 7,
            },
        ];
        let (value, chosen) = knapsack(&items, 7);
        assert_eq!(value, 9);
        assert_eq!(chosen, vec![1, 2]);
        let weight: usize = chosen.iter().map(|&i| items[i].weight).sum();
        assert!(weight <= 7);
        assert_eq!(knapsack(&items, 0), (0, vec![]));
    }

    #[test]
    fn lattice_paths() {
        let open = vec![vec![false; 3]; 3];
        assert_eq!(grid_paths(&open), 6);
        let mut walled = open.clone();
        walled[1][1] = true;
        assert_eq!(grid_paths(&walled), 2);
        walled[0][0] = true;
        assert_eq!(grid_paths(&walled), 0);
        assert_eq!(grid_paths(&[]), 0);
    }

    #[test]
    fn increasing_subsequences() {
        assert_eq!(lis_length(&[10, 9, 2, 5, 3, 7, 101, 18]), 4);
        assert_eq!(lis_length(&[]), 0);
        assert_eq!(lis_length(&[5, 5, 5]), 1);
        assert_eq!(lis_length(&[1, 2, 3, 4]), 4);
    }
}
