//! `tokencert fuzz`: grammar-aware black-box fuzzing of a token endpoint; findings become
//! scenario YAML, `findings.json` and SARIF.

use super::target::{SetupOptions, TargetArgs};
use super::{EXIT_FAIL, EXIT_HARNESS, EXIT_OK};
use crate::blackbox::{FuzzOptions, FuzzSummary};
use crate::session::Session;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub(super) struct FuzzArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Stop after this long: the whole command, setup and outputs included, never takes longer.
    #[arg(long, default_value = "60s")]
    duration: humantime::Duration,
    /// Stop after this many requests: every request counts (bootstraps, confirmation and
    /// minimisation of findings included), and the run never sends more.
    #[arg(long, default_value_t = 100_000)]
    max_requests: u64,
    /// RNG seed: the same seed generates the same requests.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where reproducers, findings.json and findings.sarif are written.
    #[arg(long, default_value = "reports/fuzz")]
    out: PathBuf,
    /// At most this many requests per second (0: as fast as the target answers).
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Answers slower than this are findings.
    #[arg(long, default_value = "2s")]
    latency_bound: humantime::Duration,
    /// Requests in flight at once. Default: 8 against the embedded server, 1 against a
    /// --target (raise it for a server that serves concurrent requests).
    #[arg(long)]
    connections: Option<usize>,
    /// Allow a target that is not on a loopback address.
    #[arg(long)]
    allow_remote: bool,
}

/// Time kept at the end of `--duration` for the outputs and shutting the embedded server down.
fn reserve(duration: Duration) -> Duration {
    (duration / 50).min(Duration::from_millis(500))
}

pub(super) async fn fuzz(a: FuzzArgs) -> u8 {
    let started = Instant::now();
    let setup = SetupOptions {
        loopback_only: Some("fuzzing sends many malformed requests"),
        allow_remote: a.allow_remote,
        ..SetupOptions::default()
    };
    let opened = match super::target::open(&a.target, &setup).await {
        Ok(o) => o,
        Err(stop) => return stop.print(),
    };
    let code = match &opened.session {
        Some(session) => fuzz_against(&a, Arc::clone(session), started).await,
        None => EXIT_HARNESS,
    };
    opened.close().await;
    code
}

async fn fuzz_against(a: &FuzzArgs, session: Arc<Session>, started: Instant) -> u8 {
    let name = session.target.name.clone();
    let connections = a
        .connections
        .unwrap_or(if a.target.target.is_some() { 1 } else { 8 });
    eprintln!(
        "fuzzing {} (seed {}, {} connection(s), at most {} or {} requests)",
        session
            .target
            .endpoints
            .get("token")
            .map_or_else(|| "?".into(), |u| u.to_string()),
        a.seed,
        connections,
        a.duration,
        a.max_requests
    );
    let duration: Duration = a.duration.into();
    let opts = FuzzOptions {
        duration,
        started: Some(started),
        reserve: reserve(duration),
        max_requests: a.max_requests,
        seed: a.seed,
        out: a.out.clone(),
        rate: a.rate,
        latency_bound: a.latency_bound.into(),
        connections,
        progress: std::io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
    };
    let summary = crate::blackbox::run(Arc::clone(&session), &opts).await;
    let written = crate::blackbox::write_reports(&summary, &opts, &name, &session.redactor);
    let written = match (written, &summary.write_error) {
        (Ok(w), None) => w,
        (Err(e), _) => {
            eprintln!("error: cannot write to {}: {e}", opts.out.display());
            return EXIT_HARNESS;
        }
        (_, Some(e)) => {
            eprintln!("error: cannot write a reproducer to {e}");
            return EXIT_HARNESS;
        }
    };
    print_findings(&summary, &session);
    let rps = summary.requests as f64 / summary.elapsed.as_secs_f64().max(0.001);
    eprintln!(
        "{} requests in {:.1} s ({rps:.0} req/s, {} bootstrap(s)): {} finding(s), {} reproducer(s), findings.json and findings.sarif in {}",
        summary.requests,
        summary.elapsed.as_secs_f64(),
        summary.bootstraps,
        summary.findings.len(),
        written.reproducers.len(),
        opts.out.display()
    );
    if summary.dismissed + summary.unconfirmed > 0 {
        eprintln!(
            "  not reported: {} signature(s) that did not fire again, {} the bounds left unconfirmed",
            summary.dismissed, summary.unconfirmed
        );
    }
    if !written.redacted.is_empty() {
        for p in &written.redacted {
            eprintln!(
                "error: {} held a secret (written redacted): a bug of tokencert, please report it",
                p.display()
            );
        }
        return EXIT_HARNESS;
    }
    if summary.findings.is_empty() {
        return EXIT_OK;
    }
    eprint!("\n{}", crate::blackbox::summary_table(&summary));
    // As `run` fails on a broken MUST: a SHOULD (an echoed secret) is reported, not failed on.
    if summary
        .findings
        .iter()
        .any(|f| f.oracle.level() == tokencert_policy::Level::Must)
    {
        EXIT_FAIL
    } else {
        EXIT_OK
    }
}

fn print_findings(summary: &FuzzSummary, session: &Session) {
    for f in &summary.findings {
        // The mutation kinds (sorted, `+`-joined, `-` for none) let a lab's expected findings
        // name the request they are about (interop/lib/check.py).
        let line = format!(
            "FINDING {} ({}): [{}] {}: {} — {}, {} hit(s), root cause {}{}",
            f.oracle.slug(),
            f.oracle.requirement(),
            f.oracle.level(),
            f.oracle.describe(),
            f.detail,
            f.answer_label(),
            f.hits,
            f.key,
            f.file
                .as_ref()
                .map(|p| format!(", reproducer {}", p.display()))
                .unwrap_or_default()
        );
        eprintln!("{}", session.redactor.redact(&line));
    }
}
