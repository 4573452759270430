//! `tokencert fuzz`: grammar-aware black-box fuzzing of a token endpoint; findings become
//! scenario YAML.

use super::target::{SetupOptions, TargetArgs};
use super::{EXIT_FAIL, EXIT_HARNESS, EXIT_OK};
use crate::blackbox::{FuzzOptions, FuzzSummary};
use crate::session::Session;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub(super) struct FuzzArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Stop after this long.
    #[arg(long, default_value = "60s")]
    duration: humantime::Duration,
    /// Stop after this many requests.
    #[arg(long, default_value_t = 100_000)]
    max_requests: u64,
    /// RNG seed: the same seed replays the same requests.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where reproducers are written.
    #[arg(long, default_value = "reports/fuzz")]
    out: PathBuf,
    /// At most this many requests per second (0: as fast as the target answers).
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Answers slower than this are findings.
    #[arg(long, default_value = "2s")]
    latency_bound: humantime::Duration,
    /// Allow a target that is not on a loopback address.
    #[arg(long)]
    allow_remote: bool,
}

pub(super) async fn fuzz(a: FuzzArgs) -> u8 {
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
        Some(session) => fuzz_against(&a, Arc::clone(session)).await,
        None => EXIT_HARNESS,
    };
    opened.close().await;
    code
}

async fn fuzz_against(a: &FuzzArgs, session: Arc<Session>) -> u8 {
    let name = session.target.name.clone();
    eprintln!(
        "fuzzing {} (seed {}, at most {} or {} requests)",
        session
            .target
            .endpoints
            .get("token")
            .map_or_else(|| "?".into(), |u| u.to_string()),
        a.seed,
        a.duration,
        a.max_requests
    );
    let opts = FuzzOptions {
        duration: a.duration.into(),
        max_requests: a.max_requests,
        seed: a.seed,
        out: a.out.clone(),
        rate: a.rate,
        latency_bound: a.latency_bound.into(),
        progress: std::io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
    };
    let mut summary = crate::blackbox::run(session, &opts).await;
    let files = match crate::blackbox::write_reproducers(&mut summary, &opts, &name) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "error: cannot write reproducers to {}: {e}",
                opts.out.display()
            );
            return EXIT_HARNESS;
        }
    };
    print_findings(&summary);
    let rps = summary.requests as f64 / summary.elapsed.as_secs_f64().max(0.001);
    eprintln!(
        "{} requests in {:.1} s ({rps:.0} req/s): {} finding(s), {} reproducer(s) in {}",
        summary.requests,
        summary.elapsed.as_secs_f64(),
        summary.findings.len(),
        files.len(),
        opts.out.display()
    );
    if summary.findings.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAIL
    }
}

fn print_findings(summary: &FuzzSummary) {
    for f in &summary.findings {
        // The mutation kinds (sorted, `+`-joined, `-` for none) let a lab's expected findings
        // name the request they are about (interop/lib/check.py).
        let mut kinds: Vec<String> = f.req.mutations.iter().map(|m| m.kind()).collect();
        kinds.sort();
        kinds.dedup();
        eprintln!(
            "FINDING {} ({}): {} — status {}, error {}, mutations {}, {} hit(s){}",
            f.oracle.slug(),
            f.oracle.requirement(),
            f.oracle.describe(),
            f.status.map_or("none".into(), |s| s.to_string()),
            f.error_code.as_deref().unwrap_or("-"),
            if kinds.is_empty() {
                "-".to_owned()
            } else {
                kinds.join("+")
            },
            f.hits,
            f.file
                .as_ref()
                .map(|p| format!(", reproducer {}", p.display()))
                .unwrap_or_default()
        );
    }
}
