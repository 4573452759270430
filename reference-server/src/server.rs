//! Starting and stopping a server in-process: the accept loop, the connection limit and
//! eviction. Each connection is served by [`crate::connection`].

use crate::config::{Config, Description};
use crate::connection::{self, Handle, activity::Phase};
use crate::endpoint;
use crate::error::ServerError;
use crate::limits::ConnectionLimits;
use crate::state::AppState;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

/// A running server. Dropping it stops the server (abruptly); [`Running::shutdown`] stops it
/// gracefully.
#[derive(Debug)]
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// `http://127.0.0.1:PORT`, which is also the issuer identifier.
    pub fn base_url(&self) -> String {
        self.state.issuer.clone()
    }

    /// Clients, users, endpoints and policy: what `--print-config` prints.
    pub fn description(&self) -> &Description {
        &self.state.description
    }

    /// The server's store (for its [`crate::store::Store::commit_stats`]).
    pub fn store(&self) -> Arc<dyn crate::store::Store> {
        self.state.store.clone()
    }

    /// Stops accepting connections, lets in-flight requests finish (up to 5 s), then returns.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Binds `config.bind` and serves in the background on the current tokio runtime, within
/// `config.limits`.
pub async fn spawn(config: Config) -> Result<Running, ServerError> {
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.bind,
        source,
    })?;
    let issuer = format!("http://{addr}");
    let state = Arc::new(AppState::new(&config, &issuer)?);
    crate::purger::spawn(&state);
    let app = endpoint::router(state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(accept_loop(listener, app, config.limits, stopped));
    Ok(Running {
        addr,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}

/// The live connections, for eviction when the server is full.
#[derive(Debug, Default)]
struct Registry {
    next: AtomicU64,
    live: Mutex<HashMap<u64, Arc<Handle>>>,
}

impl Registry {
    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Handle>>> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert(self: &Arc<Self>) -> (Arc<Handle>, Deregister) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let handle = Arc::new(Handle::default());
        self.live().insert(id, handle.clone());
        (handle, Deregister(self.clone(), id))
    }

    /// Evicts the connection that has waited longest for a complete request; none while every
    /// connection is serving one.
    fn evict_one(&self) -> bool {
        let live = self.live();
        let victim = live
            .values()
            .filter(|h| !h.evicting())
            .filter_map(|h| match h.activity.snapshot() {
                (Phase::Serving, _) => None,
                (_, since) => Some((since, h)),
            })
            .min_by_key(|(since, _)| *since);
        victim.is_some_and(|(_, h)| h.evict())
    }
}

/// Removes a connection from the [`Registry`] when its task ends, however it ends.
struct Deregister(Arc<Registry>, u64);

impl Drop for Deregister {
    fn drop(&mut self) {
        self.0.live().remove(&self.1);
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ConnectionLimits,
    mut stopped: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let registry = Arc::new(Registry::default());
    let (stop_all, stop_rx) = watch::channel(false);
    // Owning the tasks here means aborting this task (dropping `Running`) ends them all.
    let mut conns = JoinSet::new();
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                // Out of descriptors or a connection reset while queued: back off, keep serving.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                registry.evict_one();
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    _ = &mut stopped => break,
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (handle, deregister) = registry.insert();
        let conn = connection::serve(stream, app.clone(), limits, handle, stop_rx.clone());
        conns.spawn(async move {
            let _slot = permit;
            let _deregister = deregister;
            conn.await;
        });
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop_all.send(true);
    while conns.join_next().await.is_some() {}
    Ok(())
}
