//! The black-box fuzzer against the in-process reference server: quiet on the clean server, and
//! each parsing or error-handling flaw found within a bounded run, with reproducers that
//! `validate` accepts and that fail against the flawed server.

use reference_server::{Config, Flaw};
use std::sync::Arc;
use std::time::Duration;
use tokencert::blackbox::{FuzzOptions, FuzzSummary};
use tokencert::runner::{RunOptions, Runner};
use tokencert::scenario::{LoadOptions, load_paths};
use tokencert::session::Session;
use tokencert_policy::Policy;

const MAX_REQUESTS: u64 = 1_500;

async fn fuzz(flaws: &[Flaw], out: &std::path::Path) -> FuzzSummary {
    let mut config = Config::new(Policy::preset("rfc9700").expect("preset"));
    config.flaws = flaws.to_vec();
    let running = reference_server::spawn(config).await.expect("spawn");
    let target = tokencert::profile::embedded::target(&running).expect("target");
    let session = Arc::new(Session::new(target).await.expect("session"));
    let opts = FuzzOptions {
        duration: Duration::from_secs(120),
        max_requests: MAX_REQUESTS,
        seed: 7,
        out: out.to_path_buf(),
        rate: 0,
        // Generous: a loaded CI machine must not turn into "slow" findings.
        latency_bound: Duration::from_secs(10),
        connections: 4,
        ..FuzzOptions::default()
    };
    let summary = tokencert::blackbox::run(Arc::clone(&session), &opts).await;
    tokencert::blackbox::write_reports(&summary, &opts, "test", &session.redactor)
        .expect("write");
    running.shutdown().await;
    summary
}

/// Runs the reproducers in `dir` against a server with `flaws`; returns the failed cell count.
async fn replay(dir: &std::path::Path, flaws: &[Flaw]) -> usize {
    let (cat, diags) = load_paths(&[dir.to_path_buf()], &LoadOptions::default());
    let errs: Vec<String> = diags.iter().map(|d| d.render()).collect();
    assert!(
        errs.is_empty(),
        "reproducers must validate:\n{}",
        errs.join("\n")
    );
    let mut config = Config::new(Policy::preset("rfc9700").expect("preset"));
    config.flaws = flaws.to_vec();
    let running = reference_server::spawn(config).await.expect("spawn");
    let target = tokencert::profile::embedded::target(&running).expect("target");
    let session = Session::new(target).await.expect("session");
    let ctx = Arc::new(Runner::new(
        Arc::new(session),
        Arc::new(cat),
        "replay".into(),
    ));
    let cells = ctx.plan(&[]);
    let results = ctx.run(cells, &RunOptions::default()).await;
    running.shutdown().await;
    results
        .iter()
        .filter(|r| r.outcome == tokencert::report::Outcome::Fail)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_server_gives_no_findings() {
    let out = tempfile::tempdir().expect("tempdir");
    let s = fuzz(&[], out.path()).await;
    let found: Vec<String> = s
        .findings
        .iter()
        .map(|f| format!("{:?} {:?}", f.oracle, f.req.mutations))
        .collect();
    assert!(
        found.is_empty(),
        "false positives on the clean server: {found:#?}"
    );
    assert!(s.requests >= MAX_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parsing_and_error_flaws_are_found_and_reproduced() {
    use tokencert::blackbox::Oracle;
    let cases = [
        (Flaw::ServerErrorOnMalformedBody, Oracle::ServerError),
        (Flaw::MissingNoStore, Oracle::MissingNoStore),
        (Flaw::MissingWwwAuthenticate, Oracle::MissingChallenge),
        (
            Flaw::ClientAuthSkippedOnRefresh,
            Oracle::TokenForInvalidRequest,
        ),
    ];
    for (flaw, oracle) in cases {
        let out = tempfile::tempdir().expect("tempdir");
        let s = fuzz(&[flaw], out.path()).await;
        assert!(
            s.findings.iter().any(|f| f.oracle == oracle),
            "{} not found in {} requests: {:?}",
            flaw.name(),
            s.requests,
            s.findings.iter().map(|f| f.oracle).collect::<Vec<_>>()
        );
        let failed = replay(out.path(), &[flaw]).await;
        assert!(
            failed > 0,
            "the reproducers of {} do not fail against it",
            flaw.name()
        );
        assert_eq!(
            replay(out.path(), &[]).await,
            0,
            "reproducers of {} fail on the clean server",
            flaw.name()
        );
    }
}
