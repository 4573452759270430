//! Starting and stopping a server in-process.

use crate::config::{Config, Description};
use crate::endpoint;
use crate::error::ServerError;
use crate::state::AppState;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

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

/// Binds `config.bind` and serves in the background on the current tokio runtime.
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
    let app = endpoint::router(state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Ok(Running {
        addr,
        state,
        stop: Some(stop),
        task: Some(task),
    })
}
