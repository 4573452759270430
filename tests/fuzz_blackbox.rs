//! The black-box fuzzer against the in-process reference server: quiet on the clean server;
//! each parsing or error-handling flaw found within a bounded run as a handful of root causes;
//! every reproducer validates, fails against the flawed server and passes against the clean
//! one; the request bound is never exceeded.

use reference_server::{Config, Flaw};
use std::sync::Arc;
use std::time::Duration;
use tokencert::blackbox::{FuzzOptions, FuzzSummary, Oracle};
use tokencert::invariant::Rule;
use tokencert::runner::{RunOptions, Runner};
use tokencert::scenario::{LoadOptions, load_paths};
use tokencert::session::Session;
use tokencert_policy::Policy;

const MAX_REQUESTS: u64 = 1_500;

fn policy(flaws: &[Flaw]) -> Policy {
    let preset = flaws
        .iter()
        .find_map(|f| f.showcase_preset())
        .unwrap_or("rfc9700");
    Policy::preset(preset).expect("preset")
}

async fn fuzz(flaws: &[Flaw], out: &std::path::Path) -> FuzzSummary {
    let mut config = Config::new(policy(flaws));
    config.flaws = flaws.to_vec();
    let running = reference_server::spawn(config).await.expect("spawn");
    let target = tokencert::profile::embedded::target(&running).expect("target");
    let session = Arc::new(Session::new(target).await.expect("session"));
    let opts = FuzzOptions {
        duration: Duration::from_secs(120),
        max_requests: MAX_REQUESTS,
        seed: 7,
        out: out.to_path_buf(),
        // Generous: a loaded CI machine must not turn into "slow" findings.
        latency_bound: Duration::from_secs(10),
        connections: 4,
        ..FuzzOptions::default()
    };
    let summary = tokencert::blackbox::run(Arc::clone(&session), &opts).await;
    let written = tokencert::blackbox::write_reports(&summary, &opts, "test", &session.redactor)
        .expect("write");
    assert!(written.redacted.is_empty(), "{:?}", written.redacted);
    assert!(summary.write_error.is_none(), "{:?}", summary.write_error);
    running.shutdown().await;
    assert!(
        summary.requests <= MAX_REQUESTS,
        "{} requests sent, the bound is {MAX_REQUESTS}",
        summary.requests
    );
    summary
}

/// Runs the reproducers in `dir` against a server with `flaws`; the cells whose outcome is
/// not one of `want`, by file.
async fn replay(
    dir: &std::path::Path,
    flaws: &[Flaw],
    policy_of: &[Flaw],
    want: &[tokencert::report::Outcome],
) -> Vec<String> {
    let (cat, diags) = load_paths(&[dir.to_path_buf()], &LoadOptions::default());
    let errs: Vec<String> = diags.iter().map(|d| d.render()).collect();
    assert!(
        errs.is_empty(),
        "reproducers must validate:\n{}",
        errs.join("\n")
    );
    let mut config = Config::new(policy(policy_of));
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
        .filter(|r| !want.contains(&r.outcome))
        .map(|r| format!("{} {:?}", r.file, r.outcome))
        .collect()
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
    assert_eq!(s.requests, MAX_REQUESTS, "the run stops at its bound");
}

/// Each flaw with the oracle that must find it.
const CASES: &[(Flaw, Oracle)] = &[
    (
        Flaw::ServerErrorOnMalformedBody,
        Oracle::Invariant(Rule::ServerError),
    ),
    (Flaw::MissingNoStore, Oracle::Invariant(Rule::NoStore)),
    (
        Flaw::MissingWwwAuthenticate,
        Oracle::Invariant(Rule::BasicChallenge),
    ),
    (
        Flaw::ClientAuthSkippedOnRefresh,
        Oracle::TokenForInvalidRequest,
    ),
    (
        Flaw::MultipleAuthMethodsAccepted,
        Oracle::TokenForInvalidRequest,
    ),
    (
        Flaw::AnonymousRefreshAccepted,
        Oracle::TokenForInvalidRequest,
    ),
    (
        Flaw::UnknownGrantTypeFallsBackToRefresh,
        Oracle::TokenForInvalidRequest,
    ),
    (
        Flaw::TokenEndpointAcceptsGet,
        Oracle::TokenForInvalidRequest,
    ),
    (
        Flaw::ErrorDescriptionEchoesInput,
        Oracle::Invariant(Rule::ErrorCharset),
    ),
    // `invalid_token` is no token-endpoint error code (a resource server's, RFC 6750).
    (
        Flaw::InvalidTokenWrongStatus,
        Oracle::Invariant(Rule::ErrorJson),
    ),
    (
        Flaw::UnchallengedInvalidClient,
        Oracle::Invariant(Rule::Challenge),
    ),
    (Flaw::CodeGrantCacheable, Oracle::Invariant(Rule::NoStore)),
    (
        Flaw::RefreshTokenEchoedInError,
        Oracle::Invariant(Rule::SecretEcho),
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parsing_and_error_flaws_are_found_deduplicated_and_replayed() {
    use tokencert::report::Outcome;
    let mut problems = Vec::new();
    for &(flaw, oracle) in CASES {
        let out = tempfile::tempdir().expect("tempdir");
        let s = fuzz(&[flaw], out.path()).await;
        if !s.findings.iter().any(|f| f.oracle == oracle) {
            problems.push(format!(
                "{}: no {oracle:?} finding in {} requests: {:?}",
                flaw.name(),
                s.requests,
                s.findings.iter().map(|f| f.oracle).collect::<Vec<_>>()
            ));
        }
        // One flaw is a handful of root causes, not one finding per request.
        if s.findings.len() > 8 {
            problems.push(format!(
                "{}: {} findings: {:#?}",
                flaw.name(),
                s.findings.len(),
                s.findings.iter().map(|f| &f.key).collect::<Vec<_>>()
            ));
        }
        for missing in s
            .findings
            .iter()
            .filter(|f| f.file.is_none() && f.oracle != Oracle::Slow)
        {
            problems.push(format!(
                "{}: no reproducer for {}",
                flaw.name(),
                missing.key
            ));
        }
        // Every reproducer fails against the flaw (warns, for a broken SHOULD) and passes
        // without it.
        let broken = [Outcome::Fail, Outcome::Warn];
        for bad in replay(out.path(), &[flaw], &[flaw], &broken).await {
            problems.push(format!(
                "{}: does not fail with the flaw: {bad}",
                flaw.name()
            ));
        }
        for bad in replay(out.path(), &[], &[flaw], &[Outcome::Pass]).await {
            problems.push(format!("{}: fails on the clean server: {bad}", flaw.name()));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
