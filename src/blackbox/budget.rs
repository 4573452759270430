//! The run's hard bounds: a request count and a deadline that every request of the run —
//! mutated ones, their confirmation and minimisation, bootstraps — takes from, so neither
//! `--max-requests` nor `--duration` is ever exceeded.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Requests and time left.
#[derive(Debug)]
pub struct Budget {
    max: u64,
    used: AtomicU64,
    deadline: Instant,
}

impl Budget {
    /// At most `max` requests, none after `deadline`.
    pub fn new(max: u64, deadline: Instant) -> Budget {
        Budget {
            max,
            used: AtomicU64::new(0),
            deadline,
        }
    }

    /// Takes `n` requests; `false` (taking none) when they do not fit or time is up.
    pub fn take(&self, n: u64) -> bool {
        if self.expired() {
            return false;
        }
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                u.checked_add(n).filter(|t| *t <= self.max)
            })
            .is_ok()
    }

    /// Gives back `n` requests taken but not sent.
    pub fn refund(&self, n: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                Some(u.saturating_sub(n))
            });
    }

    /// Counts `n` requests already sent beyond what was taken (a bootstrap that took more
    /// requests than any before it).
    pub fn charge(&self, n: u64) {
        self.used.fetch_add(n, Ordering::SeqCst);
    }

    /// Requests taken so far.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    /// Whether no request fits any more.
    pub fn exhausted(&self) -> bool {
        self.expired() || self.used() >= self.max
    }

    /// Whether the deadline has passed.
    pub fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// The deadline.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left (zero once past the deadline).
    pub fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_gives_more_than_the_maximum() {
        let b = Budget::new(5, Instant::now() + Duration::from_secs(60));
        assert!(b.take(3));
        assert!(!b.take(3), "3 + 3 > 5");
        assert!(b.take(2));
        assert!(!b.take(1));
        assert!(b.exhausted());
        b.refund(2);
        assert!(b.take(2));
        assert_eq!(b.used(), 5);
        let late = Budget::new(5, Instant::now());
        assert!(!late.take(1), "nothing after the deadline");
    }
}
