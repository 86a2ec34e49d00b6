//! Sharing work between threads with the standard library only.
//!
//! - `std::thread::scope` lets threads borrow local data safely, because the
//!   scope waits for every thread before returning.
//! - `mpsc` channels move results back to the caller.
//! - `Arc<Mutex<_>>` and atomics share state when a channel does not fit.
//!
//! All functions produce the same answer as their sequential versions; the
//! tests check exactly that, never timings.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

/// Splits `data` into `parts` nearly equal slices.
pub fn split_evenly<T>(data: &[T], parts: usize) -> Vec<&[T]> {
    let parts = parts.max(1);
    let base = data.len() / parts;
    let extra = data.len() % parts;
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for i in 0..parts {
        let len = base + usize::from(i < extra);
        out.push(&data[start..start + len]);
        start += len;
    }
    out
}

/// Sums squares in parallel with scoped threads borrowing the slice.
pub fn parallel_sum_of_squares(data: &[i64], threads: usize) -> i128 {
    thread::scope(|scope| {
        let handles: Vec<_> = split_evenly(data, threads)
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|&x| i128::from(x) * i128::from(x))
                        .sum::<i128>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker panicked"))
            .sum()
    })
}

/// Counts words across documents: each worker sends a partial map through a
/// channel and the caller merges them.
pub fn parallel_word_count(docs: &[&str], threads: usize) -> HashMap<String, usize> {
    let (sender, receiver) = mpsc::channel::<HashMap<String, usize>>();
    thread::scope(|scope| {
        for chunk in split_evenly(docs, threads) {
            let sender = sender.clone();
            scope.spawn(move || {
                let mut local = HashMap::new();
                for doc in chunk {
                    for word in doc.split_whitespace() {
                        *local.entry(word.to_lowercase()).or_insert(0) += 1;
                    }
                }
                // The receiver outlives the scope, so sending cannot fail.
                let _ = sender.send(local);
            });
        }
    });
    drop(sender);
    let mut total = HashMap::new();
    for partial in receiver {
        for (word, n) in partial {
            *total.entry(word).or_insert(0) += n;
        }
    }
    total
}

/// Runs `job` on every item with a fixed number of workers pulling from a
/// shared index, returning results in input order.
pub fn parallel_map<T, R, F>(items: &[T], workers: usize, job: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = job(item);
                results
                    .lock()
                    .expect("no worker panics while holding the lock")[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .expect("lock is not poisoned")
        .into_iter()
        .map(|r| r.expect("every index was processed"))
        .collect()
}

/// A thread-safe counter handed to long-lived threads via `Arc`.
#[derive(Debug, Clone, Default)]
pub struct HitCounter {
    hits: Arc<Mutex<HashMap<String, u64>>>,
}

impl HitCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn hit(&self, page: &str) {
        let mut map = self.hits.lock().expect("counter lock poisoned");
        *map.entry(page.to_string()).or_insert(0) += 1;
    }

    pub fn get(&self, page: &str) -> u64 {
        self.hits
            .lock()
            .expect("counter lock poisoned")
            .get(page)
            .copied()
            .unwrap_or(0)
    }
}

/// Simulates `clients` threads each recording `per_client` hits.
pub fn simulate_traffic(counter: &HitCounter, clients: usize, per_client: usize) {
    let handles: Vec<thread::JoinHandle<()>> = (0..clients)
        .map(|id| {
            let counter = counter.clone();
            thread::spawn(move || {
                for n in 0..per_client {
                    counter.hit(if (id + n) % 2 == 0 { "/home" } else { "/about" });
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("client thread panicked");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_splits() {
        let data: Vec<u32> = (0..10).collect();
        let lens: Vec<usize> = split_evenly(&data, 3).iter().map(|s| s.len()).collect();
        assert_eq!(lens, vec![4, 3, 3]);
        assert_eq!(split_evenly(&data, 0).len(), 1);
        assert_eq!(split_evenly::<u8>(&[], 2), vec![&[] as &[u8], &[]]);
        let rejoined: Vec<u32> = split_evenly(&data, 4).concat();
        assert_eq!(rejoined, data);
    }

    #[test]
    fn sum_matches_sequential() {
        let data: Vec<i64> = (-500..1500).collect();
        let expected: i128 = data.iter().map(|&x| i128::from(x) * i128::from(x)).sum();
        for threads in [1, 2, 3, 8] {
            assert_eq!(parallel_sum_of_squares(&data, threads), expected);
        }
        assert_eq!(
            parallel_sum_of_squares(&[i64::MAX, i64::MIN], 2),
            i128::from(i64::MAX).pow(2) + i128::from(i64::MIN).pow(2)
        );
    }

    #[test]
    fn word_counts_merge() {
        let docs = ["the cat", "The dog", "a cat and a dog", "", "THE END"];
        let counts = parallel_word_count(&docs, 3);
        assert_eq!(counts["the"], 3);
        assert_eq!(counts["cat"], 2);
        assert_eq!(counts["a"], 2);
        assert_eq!(counts.values().sum::<usize>(), 11);
        assert!(parallel_word_count(&[], 4).is_empty());
    }

    #[test]
    fn map_keeps_order() {
        let items: Vec<u64> = (0..200).collect();
        let squares = parallel_map(&items, 4, |&x| x * x);
        assert_eq!(squares, items.iter().map(|x| x * x).collect::<Vec<_>>());
        let words = ["a", "bb", "ccc"];
        assert_eq!(parallel_map(&words, 0, |w| w.len()), vec![1, 2, 3]);
    }

    #[test]
    fn shared_counter_counts_everything() {
        let counter = HitCounter::new();
        simulate_traffic(&counter, 6, 50);
        assert_eq!(counter.get("/home") + counter.get("/about"), 300);
        assert_eq!(counter.get("/home"), 150);
        assert_eq!(counter.get("/missing"), 0);
    }
}
