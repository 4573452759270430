//! tokencert's bundled OAuth 2.0 authorization server: the known-good target of the conformance
//! suite and the embedded default of `tokencert run`.
//!
//! Every refresh-token behaviour a conformant server may legitimately choose is switchable through
//! the shared [`policy::Policy`]; deliberate bugs are switchable through [`Flaw`] so the suite can
//! prove it catches them.
//!
//! In-process use:
//!
//! ```no_run
//! # async fn demo() -> Result<(), reference_server::ServerError> {
//! use reference_server::{Config, policy::Policy, spawn};
//! let server = spawn(Config::new(Policy::preset("rfc9700")?)).await?;
//! let token_endpoint = format!("{}/token", server.base_url());
//! let alice = &server.description().users[0];
//! # let _ = (token_endpoint, alice);
//! server.shutdown().await;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod cli;
pub mod client;
pub mod client_auth;
pub mod clock;
pub mod config;
pub mod connection;
pub mod dpop;
pub mod endpoint;
pub mod error;
pub mod flaw;
pub mod fuzz_entry;
pub mod grant;
pub mod keys;
pub mod limits;
pub mod policy;
pub mod purger;
pub mod request;
pub mod secret;
pub mod server;
pub mod state;
pub mod store;
pub mod token;

pub use cli::{ServeArgs, serve};
pub use config::{Config, DemoClient, Description, Endpoints, TestUser};
pub use error::{OAuthError, OAuthErrorCode, ServerError};
pub use flaw::Flaw;
pub use limits::ConnectionLimits;
pub use request::{TokenRequest, parse_token_request};
pub use server::{Running, spawn};
