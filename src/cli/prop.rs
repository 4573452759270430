//! `tokencert prop`: model-based property tests of rotation invariants; a counterexample is
//! shrunk and written as scenario YAML.

use super::target::{SetupOptions, TargetArgs};
use super::{EXIT_FAIL, EXIT_HARNESS, EXIT_OK};
use crate::profile::Redactor;
use crate::prop::{PropOptions, PropSummary, Source};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(super) struct PropArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Cases to try.
    #[arg(long, default_value_t = 200)]
    cases: u32,
    /// Generator seed: the same seed replays the same cases.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where a shrunk reproducer is written.
    #[arg(long, default_value = "reports/prop")]
    out: PathBuf,
    /// Most operations per case.
    #[arg(long, default_value_t = 10)]
    max_ops: usize,
    /// Collect up to this many counterexamples, each breaking another invariant, instead of
    /// stopping at the first (the search goes on with the cases left).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    keep_going: u32,
    /// Run the embedded server on a SQLite file and add restarts to the operations.
    #[arg(long)]
    durable: bool,
    /// Allow a target that is not on a loopback address.
    #[arg(long)]
    allow_remote: bool,
}

pub(super) async fn prop(a: PropArgs) -> u8 {
    let setup = SetupOptions {
        embedded_only: &[("--durable", a.durable)],
        loopback_only: Some("prop sends many requests and moves its clock"),
        allow_remote: a.allow_remote,
        defer_embedded: true,
        ..SetupOptions::default()
    };
    let opened = match super::target::open(&a.target, &setup).await {
        Ok(o) => o,
        Err(stop) => return stop.print(),
    };
    let (source, name) = match &opened.session {
        Some(session) => (
            Source::Fixed(std::sync::Arc::clone(session)),
            session.target.name.clone(),
        ),
        // Without a profile, a fresh embedded server per case.
        None => match embedded_source(&a) {
            Ok(s) => s,
            Err(code) => return code,
        },
    };
    // What the console and the reproducers are redacted with: the live target's session
    // knows its secrets and every token it handed out.
    let redactor = match &opened.session {
        Some(s) => s.redactor.clone(),
        None => crate::profile::Redactor::new(),
    };
    let code = search(&a, source, &name, &redactor).await;
    opened.close().await;
    code
}

/// Without the embedded server, prop needs --target.
#[cfg(not(feature = "embedded-server"))]
fn embedded_source(_: &PropArgs) -> Result<(Source, String), u8> {
    eprintln!("error: {}", crate::embedded::ABSENT);
    Err(super::EXIT_USAGE)
}

#[cfg(feature = "embedded-server")]
fn embedded_source(a: &PropArgs) -> Result<(Source, String), u8> {
    let policy = match &a.target.policy {
        Some(p) => match reference_server::cli::load_policy(p) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("error: {e}");
                return Err(super::EXIT_INVALID);
            }
        },
        None => None,
    };
    let name = format!(
        "the embedded reference server ({})",
        policy
            .as_ref()
            .map_or_else(|| "random policies".to_owned(), |p| p.name.clone())
    );
    let source = Source::Embedded {
        flaws: a.target.flaws.clone(),
        policy,
        durable: a.durable,
    };
    Ok((source, name))
}

async fn search(a: &PropArgs, source: Source, name: &str, redactor: &Redactor) -> u8 {
    let flaw_names: Vec<String> = a.target.flaws.iter().map(|f| f.name().to_owned()).collect();
    eprintln!(
        "prop: {} cases (seed {}) against {name}{}",
        a.cases,
        a.seed,
        if flaw_names.is_empty() {
            String::new()
        } else {
            format!(", flaws: {}", flaw_names.join(", "))
        }
    );
    let opts = PropOptions {
        cases: a.cases,
        seed: a.seed,
        max_ops: a.max_ops,
        keep_going: a.keep_going as usize,
        ..PropOptions::default()
    };
    let handle = tokio::runtime::Handle::current();
    let summary =
        match tokio::task::spawn_blocking(move || crate::prop::search(&handle, &source, &opts))
            .await
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: the search failed: {e}");
                return EXIT_HARNESS;
            }
        };
    report(a, &summary, name, &flaw_names, redactor)
}

fn report(
    a: &PropArgs,
    summary: &PropSummary,
    name: &str,
    flaw_names: &[String],
    redactor: &Redactor,
) -> u8 {
    let secs = summary.elapsed.as_secs_f64().max(0.001);
    eprintln!(
        "{} case(s), {} request(s) in {secs:.1} s ({:.1} cases/s, {:.0} req/s)",
        summary.cases,
        summary.requests,
        summary.cases as f64 / secs,
        summary.requests as f64 / secs
    );
    for (k, f) in summary.findings.iter().enumerate() {
        if summary.findings.len() > 1 || a.keep_going > 1 {
            eprintln!("counterexample {} of {}:", k + 1, summary.findings.len());
        }
        eprint!("{}", redactor.redact(&f.describe()));
        eprintln!("found after {} case(s)", f.cases_to_find);
        match crate::prop::write_reproducer(f, &a.out, name, flaw_names, a.seed, redactor) {
            Ok(files) => {
                for p in files {
                    eprintln!("  reproducer: {}", p.display());
                }
            }
            Err(e) => {
                eprintln!(
                    "error: cannot write the reproducer to {}: {e}",
                    a.out.display()
                );
                return EXIT_HARNESS;
            }
        }
    }
    if let Some(e) = &summary.error {
        eprintln!("error: {}", redactor.redact(e));
        return EXIT_HARNESS;
    }
    if !summary.findings.is_empty() {
        return EXIT_FAIL;
    }
    eprintln!("no counterexample");
    EXIT_OK
}
