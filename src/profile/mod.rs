//! Target profiles: where the server is, its clients, how to get a fresh token family without a
//! person, its policy, and its known deviations. The format is documented in `specs/README.md`.
//!
//! Only target profiles read the environment (`{ env: NAME }`); scenarios see credentials only
//! through the target.

pub mod decode;
pub mod deviations;
#[cfg(feature = "embedded-server")]
pub mod embedded;
pub mod env;
pub mod model;
pub mod secret;
pub mod vocabulary;

pub use env::{Env, PlaceholderEnv, ProcessEnv};
pub use model::*;
pub use secret::{Redactor, Secret};
pub use vocabulary::{ScopeVocabulary, Scopes, TestUser};
