//! Directed graphs stored as adjacency lists, with breadth-first search,
//! depth-first reachability, topological sorting and cycle detection.
//!
//! Nodes are dense indices `0..n`; callers that have names keep a separate
//! lookup table (see [`NamedGraph`]).

use std::collections::{HashMap, VecDeque};

/// A directed graph with `n` nodes.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    edges: Vec<Vec<usize>>,
}

impl Graph {
    /// Creates a graph with `n` nodes and no edges.
    pub fn with_nodes(n: usize) -> Self {
        Graph {
            edges: vec![Vec::new(); n],
        }
    }

    pub fn node_count(&self) -> usize {
        self.edges.len()
    }

    /// Adds the edge `from -> to`, growing the graph if needed.
    pub fn add_edge(&mut self, from: usize, to: usize) {
        let needed = from.max(to) + 1;
        if self.edges.len() < needed {
            self.edges.resize(needed, Vec::new());
        }
        self.edges[from].push(to);
    }

    pub fn neighbours(&self, node: usize) -> &[usize] {
        self.edges.get(node).map_or(&[], Vec::as_slice)
    }

    /// Shortest path (fewest edges) from `start` to `goal`, including both ends.
    pub fn shortest_path(&self, start: usize, goal: usize) -> Option<Vec<usize>> {
        if start >= self.node_count() || goal >= self.node_count() {
            return None;
        }
        let mut parent: Vec<Option<usize>> = vec![None; self.node_count()];
        let mut visited = vec![false; self.node_count()];
        let mut queue = VecDeque::from([start]);
        visited[start] = true;
        while let Some(node) = queue.pop_front() {
            if node == goal {
                let mut path = vec![goal];
                let mut current = goal;
                while let Some(p) = parent[current] {
                    path.push(p);
                    current = p;
                }
                path.reverse();
                return Some(path);
            }
            for &next in &self.edges[node] {
                if !visited[next] {
                    visited[next] = true;
                    parent[next] = Some(node);
                    queue.push_back(next);
                }
            }
        }
        None
    }

    /// Distance in edges from `start` to every node (`None` if unreachable).
    pub fn distances_from(&self, start: usize) -> Vec<Option<usize>> {
        let mut dist = vec![None; self.node_count()];
        if start >= self.node_count() {
            return dist;
        }
        dist[start] = Some(0);
        let mut queue = VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            let d = dist[node].unwrap_or(0);
            for &next in &self.edges[node] {
                if dist[next].is_none() {
                    dist[next] = Some(d + 1);
                    queue.push_back(next);
                }
            }
        }
        dist
    }

    /// All nodes reachable from `start` (including it), in DFS pre-order.
    pub fn reachable(&self, start: usize) -> Vec<usize> {
        let mut seen = vec![false; self.node_count()];
        let mut order = Vec::new();
        let mut stack = vec![start];
        while let Some(node) = stack.pop() {
            if node >= seen.len() || seen[node] {
                continue;
            }
            seen[node] = true;
            order.push(node);
            // Push in reverse so the first neighbour is visited first.
            stack.extend(self.edges[node].iter().rev());
        }
        order
    }

    /// Kahn's algorithm. Returns the nodes in an order where every edge goes
    /// forward, choosing the smallest available node first so the answer is
    /// deterministic; `Err` carries the nodes left on a cycle.
    pub fn topological_order(&self) -> Result<Vec<usize>, Vec<usize>> {
        let n = self.node_count();
        let mut indegree = vec![0usize; n];
        for targets in &self.edges {
            for &t in targets {
                indegree[t] += 1;
            }
        }
        let mut ready: std::collections::BTreeSet<usize> =
            (0..n).filter(|&v| indegree[v] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(node) = ready.pop_first() {
            order.push(node);
            for &t in &self.edges[node] {
                indegree[t] -= 1;
                if indegree[t] == 0 {
                    ready.insert(t);
                }
            }
        }
        if order.len() == n {
            Ok(order)
        } else {
            Err((0..n).filter(|&v| indegree[v] > 0).collect())
        }
    }

    pub fn has_cycle(&self) -> bool {
        self.topological_order().is_err()
    }
}

/// A graph whose nodes have string names, such as build targets.
#[derive(Debug, Default)]
pub struct NamedGraph {
    ids: HashMap<String, usize>,
    names: Vec<String>,
    graph: Graph,
}

impl NamedGraph {
    pub fn new() -> Self {
        Self::default()
    }

    fn id(&mut self, name: &str) -> usize {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len();
        self.ids.insert(name.to_string(), id);
        self.names.push(name.to_string());
        self.graph.add_edge(id, id); // make room for the node...
        self.graph.edges[id].pop(); // ...without keeping a self-loop
        id
    }

    /// Records that `before` must come before `after`.
    pub fn add_dependency(&mut self, before: &str, after: &str) {
        let (a, b) = (self.id(before), self.id(after));
        self.graph.add_edge(a, b);
    }

    /// Names in a valid build order, or the names stuck on a cycle.
    pub fn build_order(&self) -> Result<Vec<&str>, Vec<&str>> {
        let names = |ids: Vec<usize>| ids.into_iter().map(|i| self.names[i].as_str()).collect();
        self.graph.topological_order().map(names).map_err(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Graph {
        let mut g = Graph::with_nodes(6);
        for (a, b) in [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)] {
            g.add_edge(a, b);
        }
        g
    }

    #[test]
    fn shortest_paths() {
        let g = sample();
        assert_eq!(g.shortest_path(0, 4), Some(vec![0, 1, 3, 4]));
        assert_eq!(g.shortest_path(2, 2), Some(vec![2]));
        assert_eq!(g.shortest_path(4, 0), None);
        assert_eq!(g.shortest_path(0, 5), None);
        assert_eq!(g.shortest_path(0, 99), None);
    }

    #[test]
    fn distances() {
        let g = sample();
        assert_eq!(
            g.distances_from(0),
            vec![Some(0), Some(1), Some(1), Some(2), Some(3), None]
        );
        assert!(g.distances_from(10).iter().all(Option::is_none));
    }

    #[test]
    fn dfs_reachability() {
        let g = sample();
        assert_eq!(g.reachable(0), vec![0, 1, 3, 4, 2]);
        assert_eq!(g.reachable(5), vec![5]);
        assert_eq!(g.neighbours(0), &[1, 2]);
        assert!(g.neighbours(77).is_empty());
    }

    #[test]
    fn topological_sort_and_cycles() {
        let g = sample();
        assert_eq!(g.topological_order(), Ok(vec![0, 1, 2, 3, 4, 5]));
        let mut cyclic = sample();
        cyclic.add_edge(4, 1);
        assert!(cyclic.has_cycle());
        assert_eq!(cyclic.topological_order(), Err(vec![1, 3, 4]));
    }

    #[test]
    fn named_build_order() {
        let mut g = NamedGraph::new();
        g.add_dependency("fetch", "compile");
        g.add_dependency("compile", "test");
        g.add_dependency("compile", "package");
        g.add_dependency("test", "package");
        assert_eq!(
            g.build_order(),
            Ok(vec!["fetch", "compile", "test", "package"])
        );
        g.add_dependency("package", "compile");
        assert_eq!(g.build_order(), Err(vec!["compile", "test", "package"]));
    }
}
