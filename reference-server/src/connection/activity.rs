//! What a connection is doing and since when: the clock its timeouts and its eviction run on.

use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Where a connection is in its request cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Accepted, or a new request's first byte has arrived: a complete head is owed within the
    /// header-read timeout.
    AwaitingHead,
    /// A request is being served (its body read, its handler run).
    Serving,
    /// Between a response and the next request's first byte.
    Idle,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    since: Instant,
    in_flight: u32,
}

/// A connection's [`Phase`], updated from its I/O and its service, read by its watchdog and by
/// the accept loop choosing whom to evict.
#[derive(Debug)]
pub struct Activity {
    state: Mutex<State>,
    /// Woken on every phase change, so the watchdog recomputes its deadline.
    changed: Notify,
}

impl Activity {
    /// A connection just accepted.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                phase: Phase::AwaitingHead,
                since: Instant::now(),
                in_flight: 0,
            }),
            changed: Notify::new(),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn set(&self, s: &mut State, phase: Phase) {
        if s.phase != phase {
            s.phase = phase;
            s.since = Instant::now();
            self.changed.notify_one();
        }
    }

    /// The phase and when it began.
    pub fn snapshot(&self) -> (Phase, Instant) {
        self.with(|s| (s.phase, s.since))
    }

    /// Resolves after the next phase change.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    fn bytes_arrived(&self) {
        self.with(|s| {
            if s.phase == Phase::Idle {
                self.set(s, Phase::AwaitingHead);
            }
        });
    }

    /// A complete request head reached the service. The returned guard ends the request when
    /// dropped, however the handler finishes.
    pub fn request_started(self: &std::sync::Arc<Self>) -> Serving {
        self.with(|s| {
            s.in_flight += 1;
            self.set(s, Phase::Serving);
        });
        Serving(self.clone())
    }
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

/// A request in flight; see [`Activity::request_started`].
#[derive(Debug)]
pub struct Serving(std::sync::Arc<Activity>);

impl Drop for Serving {
    fn drop(&mut self) {
        let a = &self.0;
        a.with(|s| {
            s.in_flight = s.in_flight.saturating_sub(1);
            if s.in_flight == 0 {
                a.set(s, Phase::Idle);
            }
        });
    }
}

/// A socket that reports arriving bytes to its [`Activity`].
#[derive(Debug)]
pub struct ActivityIo<T> {
    inner: T,
    activity: std::sync::Arc<Activity>,
}

impl<T> ActivityIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, activity: std::sync::Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ActivityIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.bytes_arrived();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ActivityIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn phases_follow_bytes_and_requests() {
        let a = Arc::new(Activity::new());
        assert_eq!(a.snapshot().0, Phase::AwaitingHead);
        let one = a.request_started();
        let two = a.request_started();
        assert_eq!(a.snapshot().0, Phase::Serving);
        drop(one);
        assert_eq!(a.snapshot().0, Phase::Serving, "one still in flight");
        drop(two);
        assert_eq!(a.snapshot().0, Phase::Idle);
        a.bytes_arrived();
        assert_eq!(a.snapshot().0, Phase::AwaitingHead);
        let _three = a.request_started();
        a.bytes_arrived();
        assert_eq!(
            a.snapshot().0,
            Phase::Serving,
            "pipelined bytes do not reset it"
        );
    }
}
