//! Closures as values: the `Fn`, `FnMut` and `FnOnce` traits, boxed
//! closures stored in collections, and functions that build and return
//! closures.
//!
//! Rule of thumb: accept the most general trait the code can use
//! (`FnOnce` if called once, `FnMut` if called repeatedly with mutation,
//! `Fn` if called from shared references), and return `impl Fn` when the
//! concrete closure type does not need to be named.

use std::collections::HashMap;

/// Composes two functions: `compose(f, g)(x) == g(f(x))`.
pub fn compose<A, B, C>(f: impl Fn(A) -> B, g: impl Fn(B) -> C) -> impl Fn(A) -> C {
    move |x| g(f(x))
}

/// Returns a closure that adds `n`; the closure owns its copy of `n`.
pub fn adder(n: i32) -> impl Fn(i32) -> i32 {
    move |x| x + n
}

/// Returns a counter closure with private mutable state.
pub fn counter(start: u32) -> impl FnMut() -> u32 {
    let mut next = start;
    move || {
        let current = next;
        next += 1;
        current
    }
}

/// Applies `f` `times` times to `value`.
pub fn apply_n<T>(value: T, times: usize, f: impl Fn(T) -> T) -> T {
    (0..times).fold(value, |acc, _| f(acc))
}

/// Calls `f` exactly once with a value it may consume.
pub fn with_resource<R>(name: &str, f: impl FnOnce(String) -> R) -> R {
    let resource = format!("<{}>", name);
    f(resource)
}

/// Wraps a function so that results are cached by argument.
pub struct Memo<F: Fn(u64) -> u64> {
    f: F,
    cache: HashMap<u64, u64>,
    calls: usize,
}

impl<F: Fn(u64) -> u64> Memo<F> {
    pub fn new(f: F) -> Self {
        Memo {
            f,
            cache: HashMap::new(),
            calls: 0,
        }
    }

    pub fn get(&mut self, x: u64) -> u64 {
        if let Some(&v) = self.cache.get(&x) {
            return v;
        }
        self.calls += 1;
        let v = (self.f)(x);
        self.cache.insert(x, v);
        v
    }

    /// How many times the wrapped function actually ran.
    pub fn calls(&self) -> usize {
        self.calls
    }
}

/// A named event with a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub topic: String,
    pub payload: i64,
}

type Handler = Box<dyn FnMut(&Event) -> bool>;

/// Publish/subscribe with boxed closures. A handler returns `false` to
/// unsubscribe itself.
#[derive(Default)]
pub struct EventBus {
    handlers: HashMap<String, Vec<Handler>>,
}

impl EventBus {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn subscribe(&mut self, topic: &str, handler: impl FnMut(&Event) -> bool + 'static) {
        self.handlers
            .entry(topic.to_string())
            .or_default()
            .push(Box::new(handler));
    }

    /// Delivers an event; returns how many handlers saw it.
    pub fn publish(&mut self, topic: &str, payload: i64) -> usize {
        let event = Event {
            topic: topic.to_string(),
            payload,
        };
        let Some(list) = self.handlers.get_mut(topic) else {
            return 0;
        };
        let delivered = list.len();
        list.retain_mut(|handler| handler(&event));
        delivered
    }

    pub fn subscriber_count(&self, topic: &str) -> usize {
        self.handlers.get(topic).map_or(0, Vec::len)
    }
}

/// A validation rule: a name and a predicate over strings.
pub struct Rule {
    pub name: &'static str,
    pub check: Box<dyn Fn(&str) -> bool>,
}

/// Builds a list of rules from closures with different captured state.
pub fn password_rules(min_len: usize, banned: Vec<String>) -> Vec<Rule> {
    vec![
        Rule {
            name: "length",
            check: Box::new(move |s| s.chars().count() >= min_len),
        },
        Rule {
            name: "digit",
            check: Box::new(|s| s.chars().any(|c| c.is_ascii_digit())),
        },
        Rule {
            name: "not banned",
            check: Box::new(move |s| !banned.iter().any(|b| s.eq_ignore_ascii_case(b))),
        },
    ]
}

/// Names of the rules a candidate breaks.
pub fn broken_rules<'r>(rules: &'r [Rule], candidate: &str) -> Vec<&'r str> {
    rules
        .iter()
        .filter(|r| !(r.check)(candidate))
        .map(|r| r.name)
        .collect()
}

/// Sorts with a key extracted by a closure, descending.
pub fn sort_desc_by_key<T, K: Ord>(items: &mut [T], key: impl Fn(&T) -> K) {
    items.sort_by_key(|item| std::cmp::Reverse(key(item)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    #[test]
    fn composing_and_returning_closures() {
        let add_then_double = compose(adder(3), |x| x * 2);
        assert_eq!(add_then_double(4), 14);
        let to_len = compose(|s: &str| s.trim(), |s: &str| s.len());
        assert_eq!(to_len("  four  "), 4);
        assert_eq!(apply_n(1u64, 10, |x| x * 2), 1024);
        assert_eq!(apply_n(String::from("a"), 3, |s| s + "b"), "abbb");
    }

    #[test]
    fn stateful_counters_are_independent() {
        let mut a = counter(10);
        let mut b = counter(0);
        assert_eq!((a(), a(), b(), a()), (10, 11, 0, 12));
    }

    #[test]
    fn fn_once_consumes() {
        let owned = String::from("abc");
        let total = with_resource("db", move |r| format!("{} {}", r, owned.len()));
        assert_eq!(total, "<db> 3");
    }

    #[test]
    fn memoization() {
        let mut slow_square = Memo::new(|x| x * x);
        assert_eq!(slow_square.get(12), 144);
        assert_eq!(slow_square.get(12), 144);
        assert_eq!(slow_square.get(3), 9);
        assert_eq!(slow_square.calls(), 2);
    }

    #[test]
    fn event_bus_delivers_and_unsubscribes() {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let mut bus = EventBus::new();
        let log = Rc::clone(&seen);
        bus.subscribe("price", move |e| {
            log.borrow_mut().push(e.payload);
            true
        });
        let mut remaining = 2;
        bus.subscribe("price", move |_| {
            remaining -= 1;
            remaining > 0
        });
        assert_eq!(bus.publish("price", 10), 2);
        assert_eq!(bus.publish("price", 20), 2);
        assert_eq!(bus.subscriber_count("price"), 1);
        assert_eq!(bus.publish("price", 30), 1);
        assert_eq!(bus.publish("volume", 1), 0);
        assert_eq!(*seen.borrow(), vec![10, 20, 30]);
    }

    #[test]
    fn rule_lists() {
        let rules = password_rules(8, vec!["password1".into()]);
        assert!(broken_rules(&rules, "correct horse 9").is_empty());
        assert_eq!(broken_rules(&rules, "short"), vec!["length", "digit"]);
        assert_eq!(broken_rules(&rules, "PASSWORD1"), vec!["not banned"]);
    }

    #[test]
    fn sorting_by_closure_key() {
        let mut words = vec!["kiwi", "fig", "banana", "apple"];
        sort_desc_by_key(&mut words, |w| w.len());
        assert_eq!(words, vec!["banana", "apple", "kiwi", "fig"]);
    }
}
