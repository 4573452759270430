//! tokencert's bundled OAuth 2.0 authorization server (stub until its own issue lands).
//!
//! It will be the known-good target and the embedded default of `tokencert run`. For now it owns
//! the [`policy::Policy`] type that the harness's target profiles share.
#![warn(missing_docs)]

pub mod policy;
