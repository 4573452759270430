//! tokencert: a conformance harness and fuzzer for OAuth 2.0 token endpoints, centred on refresh
//! tokens.
//!
//! YAML scenarios (`specs/`) describe one rule each, with the RFC requirements they check. A
//! target profile describes the server under test: where it is, its clients, how to get a fresh
//! token family without a person, and its policy. The runner plays the scenarios against the
//! target and writes console, JUnit, JSON and HTML reports.
#![warn(missing_docs)]

pub mod blackbox;
pub mod capability;
pub mod claims;
pub mod cli;
pub mod diagnostic;
pub mod embedded;
pub mod fuzz_entry;
pub mod http;
pub mod invariant;
pub mod profile;
pub mod prop;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod session;
pub mod template;
pub mod yaml;
