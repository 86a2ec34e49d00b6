//! Retrying fallible operations with exponential backoff.
//!
//! The policy decides *whether* and *how long* to wait; the caller supplies
//! the operation as a closure and a "sleeper" so that tests can run without
//! real waiting. Errors are classified as transient (worth retrying) or
//! permanent through a small trait.

use std::fmt;
use std::time::Duration;

/// Lets the retry loop ask an error whether another attempt could help.
pub trait Transient {
    fn is_transient(&self) -> bool;
}

/// Backoff settings. Delays grow by `factor` each attempt, capped at `max_delay`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub initial_delay: Duration,
    pub factor: f64,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_delay: Duration::from_millis(100),
            factor: 2.0,
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1`, where `attempt` starts at 1.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1) as i32;
        let scaled = self.initial_delay.as_secs_f64() * self.factor.powi(exponent);
        if !scaled.is_finite() || scaled >= self.max_delay.as_secs_f64() {
            self.max_delay
        } else {
            Duration::from_secs_f64(scaled)
        }
    }

    /// All delays a full run of failures would wait, for display or planning.
    pub fn schedule(&self) -> Vec<Duration> {
        (1..self.max_attempts)
            .map(|a| self.delay_after(a))
            .collect()
    }
}

/// Why a retried operation finally gave up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryError<E> {
    /// A permanent error; retrying would not help.
    Permanent { attempts: u32, error: E },
    /// Every allowed attempt failed with a transient error; this is the last one.
    Exhausted { attempts: u32, error: E },
}

impl<E: fmt::Display> fmt::Display for RetryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RetryError::Permanent { attempts, error } => {
                write!(f, "failed permanently on attempt {}: {}", attempts, error)
            }
            RetryError::Exhausted { attempts, error } => {
                write!(f, "gave up after {} attempts: {}", attempts, error)
            }
        }
    }
}

impl<E> RetryError<E> {
    pub fn into_inner(self) -> E {
        match self {
            RetryError::Permanent { error, .. } | RetryError::Exhausted { error, .. } => error,
        }
    }
}

/// Runs `op` until it succeeds, fails permanently, or runs out of attempts.
/// `sleep` is called with each backoff delay.
pub fn retry<T, E, Op, Sleep>(
    policy: &RetryPolicy,
    mut op: Op,
    mut sleep: Sleep,
) -> Result<T, RetryError<E>>
where
    E: Transient,
    Op: FnMut(u32) -> Result<T, E>,
    Sleep: FnMut(Duration),
{
    let attempts = policy.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        match op(attempt) {
            Ok(value) => return Ok(value),
            Err(error) if !error.is_transient() => {
                return Err(RetryError::Permanent {
                    attempts: attempt,
                    error,
                })
            }
            Err(error) if attempt >= attempts => {
                return Err(RetryError::Exhausted {
                    attempts: attempt,
                    error,
                })
            }
            Err(_) => {
                sleep(policy.delay_after(attempt));
                attempt += 1;
            }
        }
    }
}

/// An example error type for a network call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    Timeout,
    ServerBusy(u16),
    NotFound,
}

impl Transient for FetchError {
    fn is_transient(&self) -> bool {
        matches!(self, FetchError::Timeout | FetchError::ServerBusy(_))
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Timeout => f.write_str("request timed out"),
            FetchError::ServerBusy(code) => write!(f, "server busy (HTTP {})", code),
            FetchError::NotFound => f.write_str("not found"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast_policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            initial_delay: Duration::from_millis(10),
            factor: 3.0,
            max_delay: Duration::from_millis(200),
        }
    }

    #[test]
    fn delays_grow_and_cap() {
        let p = fast_policy(6);
        let ms: Vec<u128> = p.schedule().iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![10, 30, 90, 200, 200]);
        assert_eq!(p.delay_after(1000), Duration::from_millis(200));
    }

    #[test]
    fn succeeds_after_transient_failures() {
        let mut waited = Vec::new();
        let result = retry(
            &fast_policy(5),
            |attempt| {
                if attempt < 3 {
                    Err(FetchError::Timeout)
                } else {
                    Ok(attempt * 10)
                }
            },
            |d| waited.push(d),
        );
        assert_eq!(result, Ok(30));
        assert_eq!(
            waited,
            vec![Duration::from_millis(10), Duration::from_millis(30)]
        );
    }

    #[test]
    fn stops_on_permanent_errors() {
        let mut calls = 0;
        let result: Result<(), _> = retry(
            &fast_policy(5),
            |_| {
                calls += 1;
                Err(FetchError::NotFound)
            },
            |_| panic!("must not sleep before a permanent error"),
        );
        assert_eq!(
            result,
            Err(RetryError::Permanent {
                attempts: 1,
                error: FetchError::NotFound
            })
        );
        assert_eq!(calls, 1);
    }

    #[test]
    fn gives_up_when_exhausted() {
        let mut sleeps = 0;
        let result: Result<(), _> = retry(
            &fast_policy(3),
            |_| Err(FetchError::ServerBusy(503)),
            |_| sleeps += 1,
        );
        let err = result.unwrap_err();
        assert_eq!(
            err.to_string(),
            "gave up after 3 attempts: server busy (HTTP 503)"
        );
        assert_eq!(sleeps, 2);
        assert_eq!(err.into_inner(), FetchError::ServerBusy(503));
    }

    #[test]
    fn zero_attempts_still_tries_once() {
        let mut calls = 0;
        let _ = retry::<(), _, _, _>(
            &fast_policy(0),
            |_| {
                calls += 1;
                Err(FetchError::Timeout)
            },
            |_| {},
        );
        assert_eq!(calls, 1);
    }

    #[test]
    fn default_policy_is_reasonable() {
        let p = RetryPolicy::default();
        assert_eq!(p.schedule().len(), 4);
        assert_eq!(p.delay_after(1), Duration::from_millis(100));
        assert_eq!(p.delay_after(4), Duration::from_millis(800));
    }
}
