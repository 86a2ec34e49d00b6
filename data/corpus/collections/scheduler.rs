//! A job scheduler driven by a `BinaryHeap`.
//!
//! `BinaryHeap` is a max-heap; wrapping keys in `std::cmp::Reverse` (or
//! implementing `Ord` by hand, as below) turns it into a min-heap. The
//! scheduler runs jobs by priority, and within a priority by arrival order.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// How urgent a job is. Declared in increasing order so the derived `Ord` works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Low,
    Normal,
    High,
}

/// A unit of work waiting in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub name: String,
    pub priority: Priority,
    pub cost: u32,
    seq: u64,
}

impl Ord for Job {
    /// Higher priority first; for equal priority the earlier job (smaller
    /// sequence number) is "greater" so the max-heap pops it first.
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Job {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Queues jobs and hands them out in order.
#[derive(Debug, Default)]
pub struct Scheduler {
    heap: BinaryHeap<Job>,
    next_seq: u64,
}

impl Scheduler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a job.
    pub fn submit(&mut self, name: &str, priority: Priority, cost: u32) {
        let job = Job {
            name: name.to_string(),
            priority,
            cost,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        self.heap.push(job);
    }

    /// Takes the next job to run.
    pub fn next_job(&mut self) -> Option<Job> {
        self.heap.pop()
    }

    /// Looks at the next job without removing it.
    pub fn peek(&self) -> Option<&Job> {
        self.heap.peek()
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Runs jobs until `budget` cost units are spent. A job that does not fit
    /// into the remaining budget stays queued and stops the batch.
    pub fn run_batch(&mut self, budget: u32) -> Vec<String> {
        let mut done = Vec::new();
        let mut left = budget;
        while let Some(job) = self.heap.peek() {
            if job.cost > left {
                break;
            }
            left -= job.cost;
            if let Some(job) = self.heap.pop() {
                done.push(job.name);
            }
        }
        done
    }
}

/// Splits jobs with the given durations over `workers` machines, always
/// giving the next longest job to the least loaded worker. Returns the load
/// of every worker, sorted ascending.
pub fn balance_loads(durations: &[u32], workers: usize) -> Vec<u64> {
    if workers == 0 {
        return Vec::new();
    }
    let mut sorted = durations.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let mut heap: BinaryHeap<Reverse<u64>> = (0..workers).map(|_| Reverse(0)).collect();
    for d in sorted {
        if let Some(Reverse(load)) = heap.pop() {
            heap.push(Reverse(load + u64::from(d)));
        }
    }
    let mut loads: Vec<u64> = heap.into_iter().map(|Reverse(l)| l).collect();
    loads.sort_unstable();
    loads
}

/// Merges several individually sorted lists into one sorted list.
pub fn merge_sorted(lists: &[Vec<i32>]) -> Vec<i32> {
    let mut heap = BinaryHeap::new();
    for (which, list) in lists.iter().enumerate() {
        if let Some(&first) = list.first() {
            heap.push(Reverse((first, which, 0usize)));
        }
    }
    let mut out = Vec::with_capacity(lists.iter().map(Vec::len).sum());
    while let Some(Reverse((value, which, pos))) = heap.pop() {
        out.push(value);
        if let Some(&next) = lists[which].get(pos + 1) {
            heap.push(Reverse((next, which, pos + 1)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_then_arrival() {
        let mut s = Scheduler::new();
        s.submit("backup", Priority::Low, 5);
        s.submit("email", Priority::Normal, 1);
        s.submit("page", Priority::High, 1);
        s.submit("report", Priority::Normal, 2);
        let order: Vec<String> = std::iter::from_fn(|| s.next_job())
            .map(|j| j.name)
            .collect();
        assert_eq!(order, vec!["page", "email", "report", "backup"]);
        assert!(s.is_empty());
    }

    #[test]
    fn peek_is_next() {
        let mut s = Scheduler::new();
        assert!(s.peek().is_none());
        s.submit("a", Priority::Low, 1);
        s.submit("b", Priority::High, 1);
        assert_eq!(s.peek().map(|j| j.name.as_str()), Some("b"));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn batches_respect_budget() {
        let mut s = Scheduler::new();
        s.submit("x", Priority::High, 3);
        s.submit("y", Priority::High, 4);
        s.submit("z", Priority::Low, 1);
        assert_eq!(s.run_batch(5), vec!["x"]);
        assert_eq!(s.run_batch(10), vec!["y", "z"]);
        assert!(s.run_batch(10).is_empty());
    }

    #[test]
    fn balances_greedily() {
        assert_eq!(balance_loads(&[7, 5, 4, 3, 1], 2), vec![10, 10]);
        assert_eq!(balance_loads(&[], 3), vec![0, 0, 0]);
        assert_eq!(balance_loads(&[1, 2], 0), Vec::<u64>::new());
        let loads = balance_loads(&[u32::MAX, u32::MAX, u32::MAX], 1);
        assert_eq!(loads, vec![3 * u64::from(u32::MAX)]);
    }

    #[test]
    fn merges_sorted_lists() {
        let lists = vec![vec![1, 4, 9], vec![], vec![2, 3, 10], vec![4]];
        assert_eq!(merge_sorted(&lists), vec![1, 2, 3, 4, 4, 9, 10]);
        assert!(merge_sorted(&[]).is_empty());
    }
}
