//! tokencert: a conformance harness and fuzzer for OAuth 2.0 token endpoints, centred on refresh
//! tokens.
//!
//! YAML scenarios (`specs/`) describe one rule each, with the RFC requirements they check. A
//! target profile describes the server under test: where it is, its clients, how to get a fresh
//! token family without a person, and its policy. The runner plays the scenarios against the
//! target and writes console, JUnit, JSON and HTML reports.
#![warn(missing_docs)]

pub mod capability;
pub mod cli;
pub mod diagnostic;
pub mod fuzz;
pub mod fuzzing;
pub mod http;
pub mod prop;
pub mod report;
pub mod runner;
pub mod spec;
pub mod target;
pub mod template;
pub mod yaml;
