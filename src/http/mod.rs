//! HTTP for the harness: prepared requests, the reqwest client, client authentication, JWT
//! assertions and DPoP proofs, PKCE, the raw HTTP/1.1 client, last-byte-synchronised races, and
//! the limits on what is read from a target.

pub mod client;
pub mod jwt;
pub mod limit;
pub mod pkce;
pub mod race;
pub mod raw;

use std::time::Duration;

pub use limit::{BodyLimit, NoAnswer};

/// A request ready to send: everything already rendered and authenticated.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    /// Method, upper case.
    pub method: String,
    /// Absolute URL.
    pub url: url::Url,
    /// Headers in order (names as given; duplicates allowed on purpose).
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty for none).
    pub body: Vec<u8>,
}

/// A response as received.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Time from the last request byte to the end of the response.
    pub duration: Duration,
}

impl HttpResponse {
    /// Every value of a header (case-insensitive name).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}
