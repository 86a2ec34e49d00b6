//! Disjoint sets (union-find) with path compression and union by size.
//!
//! Both optimizations together make every operation run in nearly constant
//! amortized time. Applications below: grouping equivalent items and
//! Kruskal's minimum spanning tree.

use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct DisjointSets {
    parent: Vec<usize>,
    size: Vec<usize>,
    groups: usize,
}

impl DisjointSets {
    /// `n` singleton sets `{0}, {1}, ..., {n-1}`.
    pub fn new(n: usize) -> Self {
        DisjointSets {
            parent: (0..n).collect(),
            size: vec![1; n],
            groups: n,
        }
    }

    pub fn len(&self) -> usize {
        self.parent.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// Number of separate sets.
    pub fn group_count(&self) -> usize {
        self.groups
    }

    /// The representative of `x`'s set, compressing the path on the way.
    pub fn find(&mut self, x: usize) -> usize {
        let mut root = x;
        while self.parent[root] != root {
            root = self.parent[root];
        }
        // Point every node on the path straight at the root.
        let mut node = x;
        while self.parent[node] != root {
            let next = self.parent[node];
            self.parent[node] = root;
            node = next;
        }
        root
    }

    /// Merges the sets of `a` and `b`; returns false if they were already joined.
    pub fn union(&mut self, a: usize, b: usize) -> bool {
        let (mut ra, mut rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        if self.size[ra] < self.size[rb] {
            std::mem::swap(&mut ra, &mut rb);
        }
        self.parent[rb] = ra;
        self.size[ra] += self.size[rb];
        self.groups -= 1;
        true
    }

    pub fn connected(&mut self, a: usize, b: usize) -> bool {
        self.find(a) == self.find(b)
    }

    /// Size of the set containing `x`.
    pub fn set_size(&mut self, x: usize) -> usize {
        let r = self.find(x);
        self.size[r]
    }

    /// All sets, each sorted, ordered by their smallest member.
    pub fn sets(&mut self) -> Vec<Vec<usize>> {
        let mut by_root: HashMap<usize, Vec<usize>> = HashMap::new();
        for x in 0..self.len() {
            let r = self.find(x);
            by_root.entry(r).or_default().push(x);
        }
        let mut sets: Vec<Vec<usize>> = by_root.into_values().collect();
        sets.sort_by_key(|s| s[0]);
        sets
    }
}

/// A weighted undirected edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub a: usize,
    pub b: usize,
    pub weight: u32,
}

/// Kruskal: the edges of a minimum spanning forest and its total weight.
/// Ties between equal weights keep the input order.
pub fn minimum_spanning_forest(nodes: usize, edges: &[Edge]) -> (Vec<Edge>, u64) {
    let mut sorted = edges.to_vec();
    sorted.sort_by_key(|e| e.weight);
    let mut sets = DisjointSets::new(nodes);
    let mut chosen = Vec::new();
    let mut total = 0u64;
    for e in sorted {
        if e.a < nodes && e.b < nodes && sets.union(e.a, e.b) {
            total += u64::from(e.weight);
            chosen.push(e);
        }
    }
    (chosen, total)
}

/// Groups names that were declared equal in pairs ("alias" relations),
/// returning the groups sorted alphabetically.
pub fn alias_groups<'a>(pairs: &[(&'a str, &'a str)]) -> Vec<Vec<&'a str>> {
    let mut ids: HashMap<&'a str, usize> = HashMap::new();
    let mut names: Vec<&'a str> = Vec::new();
    let mut id_of = |name: &'a str| {
        *ids.entry(name).or_insert_with(|| {
            names.push(name);
            names.len() - 1
        })
    };
    let numbered: Vec<(usize, usize)> = pairs.iter().map(|&(a, b)| (id_of(a), id_of(b))).collect();
    let mut sets = DisjointSets::new(names.len());
    for (a, b) in numbered {
        sets.union(a, b);
    }
    let mut groups: Vec<Vec<&'a str>> = sets
        .sets()
        .into_iter()
        .map(|members| {
            let mut g: Vec<&'a str> = members.into_iter().map(|i| names[i]).collect();
            g.sort_unstable();
            g
        })
        .collect();
    groups.sort();
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_and_find() {
        let mut s = DisjointSets::new(6);
        assert_eq!(s.group_count(), 6);
        assert!(s.union(0, 1));
        assert!(s.union(2, 3));
        assert!(s.union(1, 3));
        assert!(!s.union(0, 2));
        assert!(s.connected(0, 3));
        assert!(!s.connected(0, 4));
        assert_eq!(s.set_size(2), 4);
        assert_eq!(s.group_count(), 3);
        assert_eq!(s.sets(), vec![vec![0, 1, 2, 3], vec![4], vec![5]]);
    }

    #[test]
    fn long_chains_stay_fast() {
        let n = 100_000;
        let mut s = DisjointSets::new(n);
        for i in 1..n {
            s.union(i - 1, i);
        }
        assert_eq!(s.group_count(), 1);
        assert!(s.connected(0, n - 1));
        assert_eq!(s.set_size(12345), n);
    }

    #[test]
    fn spanning_tree() {
        let e = |a, b, weight| Edge { a, b, weight };
        let edges = [
            e(0, 1, 4),
            e(0, 2, 1),
            e(1, 2, 2),
            e(1, 3, 5),
            e(2, 3, 8),
            e(3, 4, 3),
        ];
        let (tree, total) = minimum_spanning_forest(5, &edges);
        assert_eq!(total, 11);
        assert_eq!(tree, vec![e(0, 2, 1), e(1, 2, 2), e(3, 4, 3), e(1, 3, 5)]);
        let (forest, total) = minimum_spanning_forest(4, &[e(0, 1, 7), e(2, 3, 1)]);
        assert_eq!((forest.len(), total), (2, 8));
        assert_eq!(minimum_spanning_forest(3, &[e(0, 9, 1)]).0, vec![]);
    }

    #[test]
    fn aliases() {
        let groups = alias_groups(&[
            ("nyc", "new york"),
            ("big apple", "nyc"),
            ("sf", "san francisco"),
            ("la", "la"),
        ]);
        assert_eq!(
            groups,
            vec![
                vec!["big apple", "new york", "nyc"],
                vec!["la"],
                vec!["san francisco", "sf"]
            ]
        );
        assert!(alias_groups(&[]).is_empty());
    }

    #[test]
    fn empty_structure() {
        let mut s = DisjointSets::new(0);
        assert!(s.is_empty());
        assert!(s.sets().is_empty());
    }
}
