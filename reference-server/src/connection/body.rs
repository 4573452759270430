//! The request body as handlers see it: bounded in time, and telling the connection whether it
//! was read to its end (when it was not, the connection cannot be reused).

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};

/// The body did not arrive within the header-read timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("request body not received in time")]
pub struct BodyTimedOut;

/// Whether a [`GuardedBody`] was read to its end.
#[derive(Debug, Clone, Default)]
pub struct Finished(Arc<AtomicBool>);

impl Finished {
    /// True once the last frame has been read (or there was no body).
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A request body with a deadline.
#[derive(Debug)]
pub struct GuardedBody {
    inner: Incoming,
    deadline: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    finished: Finished,
}

impl GuardedBody {
    /// Wraps `inner`, which must be complete by `deadline`.
    pub fn new(inner: Incoming, deadline: Instant) -> (Self, Finished) {
        let finished = Finished::default();
        if inner.is_end_stream() {
            finished.set();
        }
        let body = Self {
            inner,
            deadline,
            timer: None,
            finished: finished.clone(),
        };
        (body, finished)
    }
}

impl Body for GuardedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.finished.set();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Ok(frame))) => {
                if this.inner.is_end_stream() {
                    this.finished.set();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Pending => {
                // The timer exists only for bodies that make a handler wait.
                let deadline = this.deadline;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut)))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
