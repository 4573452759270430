//! Time, injectable so tests can jump over a 14-day idle timeout in a millisecond.
//!
//! Two readings exist on purpose. [`Clock::now`] drives every lifetime the server owns (codes,
//! access and refresh tokens, grace windows, device codes) and is virtual under test control.
//! [`Clock::wall`] judges JWTs the *client* minted (client assertions, DPoP `iat`, ID token
//! stamps): the harness signs those with its own real clock, so advancing the virtual clock to
//! expire a refresh token must not also make its freshly signed proof look stale.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, from the system.
pub fn system_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The server's clock.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The time that server-owned lifetimes are measured against.
    fn now(&self) -> u64;
    /// Real time, for client-minted JWTs.
    fn wall(&self) -> u64 {
        system_now()
    }
    /// Moves virtual time forward; `None` when the clock is not virtual.
    fn advance(&self, _seconds: u64) -> Option<u64> {
        None
    }
    /// How far virtual time is ahead of real time.
    fn offset(&self) -> u64 {
        0
    }
}

/// Real time.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        system_now()
    }
}

/// Real time plus an offset that only grows (test control): time never runs backwards, so
/// "issued at" values stay ordered.
#[derive(Debug, Default)]
pub struct VirtualClock {
    offset: AtomicU64,
}

impl VirtualClock {
    /// A clock that starts at real time.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> u64 {
        system_now().saturating_add(self.offset.load(Ordering::SeqCst))
    }

    fn advance(&self, seconds: u64) -> Option<u64> {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
        Some(self.now())
    }

    fn offset(&self) -> u64 {
        self.offset.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_advances_only_now() {
        let c = VirtualClock::new();
        let before = c.now();
        c.advance(86_400);
        assert!(c.now() >= before + 86_400);
        assert!(c.wall() < before + 86_400);
        assert_eq!(SystemClock.advance(5), None);
    }
}
