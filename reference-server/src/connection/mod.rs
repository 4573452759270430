//! Serving one HTTP/1.1 connection within [`ConnectionLimits`]: the header-read and idle
//! timeouts, the per-connection request cap, `Connection: close` whenever the server will close
//! after a response, and eviction when the server is full.

pub mod activity;
pub mod body;
pub mod wire_error;

use crate::limits::ConnectionLimits;
use activity::{Activity, ActivityIo, Phase};
use axum::Router;
use axum::http::{HeaderValue, Request, header};
use axum::response::Response;
use body::GuardedBody;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use wire_error::WireErrors;

/// What the accept loop knows of a live connection.
#[derive(Debug, Default)]
pub struct Handle {
    /// Its phase, for choosing whom to evict.
    pub activity: Arc<Activity>,
    evict: Notify,
    evicting: AtomicBool,
}

impl Handle {
    /// Asks the connection to go: at once unless a request is being served, in which case that
    /// response is finished (with `Connection: close`) first. Returns false if already asked.
    pub fn evict(&self) -> bool {
        if self.evicting.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.evict.notify_one();
        true
    }

    /// Whether [`Handle::evict`] was called.
    pub fn evicting(&self) -> bool {
        self.evicting.load(Ordering::Acquire)
    }
}

/// Serves `stream` until the peer is done, a timeout fires, it is evicted, or `stop` turns true.
pub async fn serve(
    stream: TcpStream,
    router: Router,
    limits: ConnectionLimits,
    handle: Arc<Handle>,
    mut stop: watch::Receiver<bool>,
) {
    let activity = handle.activity.clone();
    let io = TokioIo::new(WireErrors::new(ActivityIo::new(stream, activity.clone())));
    let service = ConnService {
        router,
        activity: activity.clone(),
        served: Arc::new(AtomicU32::new(0)),
        limits,
    };
    let conn = hyper::server::conn::http1::Builder::new()
        // One buffer per write, so WireErrors sees hyper's own error responses whole.
        .writev(false)
        .serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut closing = false;
    loop {
        let deadline = match activity.snapshot() {
            (Phase::AwaitingHead, since) => Some(since + limits.header_read_timeout),
            (Phase::Idle, since) => Some(since + limits.idle_timeout),
            // The body has its own deadline (GuardedBody); the handler always finishes.
            (Phase::Serving, _) => None,
        };
        let expired = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = activity.changed() => {}
            () = expired => {
                // Checked in this task, so no request can have started since the snapshot.
                if activity.snapshot().0 != Phase::Serving {
                    return;
                }
            }
            _ = handle.evict.notified(), if !closing => {
                if activity.snapshot().0 != Phase::Serving {
                    return;
                }
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            r = stop.changed(), if !closing => {
                if r.is_err() || *stop.borrow() {
                    if activity.snapshot().0 != Phase::Serving {
                        return;
                    }
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// The router behind one connection, counting its requests.
#[derive(Clone)]
struct ConnService {
    router: Router,
    activity: Arc<Activity>,
    served: Arc<AtomicU32>,
    limits: ConnectionLimits,
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let serving = self.activity.request_started();
        let n = self.served.fetch_add(1, Ordering::AcqRel).saturating_add(1);
        let last = n >= self.limits.max_requests_per_connection;
        let (parts, body) = req.into_parts();
        let (body, finished) =
            GuardedBody::new(body, Instant::now() + self.limits.header_read_timeout);
        let req = Request::from_parts(parts, body);
        let mut router = self.router.clone();
        Box::pin(async move {
            let _serving = serving;
            let Ok(mut resp) = tower_service::Service::call(&mut router, req).await;
            // A body left unread means hyper cannot find the next request and will close; say so.
            if last || !finished.get() {
                resp.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(resp)
        })
    }
}
