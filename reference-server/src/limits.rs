//! How long and how much a single peer may hold the server: the bounds that keep a hostile or
//! broken client (slow headers, idle sockets, connection floods, endless keep-alive) from
//! starving everyone else.

use std::time::Duration;

/// Connection-level limits, enforced by [`crate::server`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time allowed from a connection's first byte (or its accept, when nothing comes) to the end
    /// of a request head, and again from the end of the head to the end of its body. A peer that
    /// dribbles a header line a second is cut off here.
    pub header_read_timeout: Duration,
    /// Time a keep-alive connection may sit between a response and the next request's first byte.
    pub idle_timeout: Duration,
    /// Connections served at once. When full, a new connection displaces the one that has waited
    /// longest for a complete request (never one whose request is being served); when every
    /// connection is busy, accepting pauses until one ends.
    pub max_connections: usize,
    /// Requests served on one connection; the last response carries `Connection: close`.
    pub max_requests_per_connection: u32,
}

impl ConnectionLimits {
    /// Default [`Self::header_read_timeout`]: generous for any real client on loopback or a LAN.
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default [`Self::idle_timeout`]: below the 90 s that common client pools keep idle
    /// connections, so the server, not a stale pool, decides; above any pause in a test run.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    /// Default [`Self::max_connections`]: far above what the harness opens, far below the usual
    /// descriptor limit.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
    /// Default [`Self::max_requests_per_connection`].
    pub const DEFAULT_MAX_REQUESTS_PER_CONNECTION: u32 = 1000;
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_requests_per_connection: Self::DEFAULT_MAX_REQUESTS_PER_CONNECTION,
        }
    }
}
