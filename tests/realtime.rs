//! Real-time mode: the catalogue's expiry scenarios against the reference server started without
//! test control (no virtual clock), whose policy declares lifetimes of a few seconds, exactly as
//! a vendor would describe a short-lifetime test client in a profile. Waits then happen in real
//! time within `--max-wait`, padded by the real-time margin.
//!
//! Proves: the waiting cells pass (not skip) in real time; nothing fails, errors or times out
//! (the margins keep the expiry checks honest); a lifetime too short for the margin skips its
//! cell with the reason instead of failing it; a run whose `--max-wait` is too small skips the
//! waiting cells naming `--max-wait`; and a real-time expiry check still catches a server that
//! ignores expiry. Only outcomes are asserted, never how long anything took.

mod common;
use common::describe;
use reference_server::{Config, Flaw};
use std::sync::Arc;
use std::time::Duration;
use tokencert::report::{Outcome, ScenarioResult};
use tokencert::runner::{RunOptions, Runner};
use tokencert::scenario::{LoadOptions, load_paths};
use tokencert::session::Session;
use tokencert_policy::Policy;

/// Idle timeout, a grace window, no absolute lifetime. The idle timeout is long enough for a
/// check at half of it to stay clear of the 2 s margin; the device code outlives the polling
/// interval (5 s) plus the margin.
const IDLE: &str = "preset: rfc9700-grace
lifetimes: { access_token: 3, refresh_idle: 5, refresh_absolute: ~, authorization_code: 3, device_code: 10 }
grace: { seconds: 2, max_reuses: 1 }
";

/// An absolute lifetime and no idle timeout; the refresh token outlives the access token by more
/// than two margins, so "the access token expired, the refresh token still works" can be told.
const ABSOLUTE: &str = "preset: rfc9700
lifetimes: { access_token: 3, refresh_idle: ~, refresh_absolute: 8, authorization_code: 3, device_code: 10 }
";

/// A grace window and an idle timeout far beyond it: the reuse scenarios wait out the grace
/// (plus the margin) before replaying RT0, which must not idle out meanwhile, or the server
/// rightly refuses the replay as expired rather than as reused (seen with IDLE's 5 s on a
/// loaded machine).
const GRACE: &str = "preset: rfc9700-grace
lifetimes: { access_token: 3, refresh_idle: 60, refresh_absolute: ~, authorization_code: 3, device_code: 10 }
grace: { seconds: 2, max_reuses: 1 }
";

/// The reuse scenarios that wait out a grace window.
const GRACE_WAITING: &[&str] = &["reuse.grace-window-ends", "reuse.attacker-reuses-first"];

/// The scenarios that let time pass (and a few that only wait out a grace window).
const WAITING: &[&str] = &[
    "lifetimes.*",
    "errors.expired-refresh-token",
    "grants.code-expired-invalid-grant",
    "grants.device-code-*",
    "introspection.*expired*",
];

async fn run(
    policy: &str,
    flaws: &[Flaw],
    filters: &[&str],
    max_wait: Duration,
) -> Vec<ScenarioResult> {
    let policy = Policy::from_yaml(policy).unwrap_or_else(|e| panic!("policy: {e}"));
    let mut config = Config::new(policy);
    config.test_control = false;
    config.flaws = flaws.to_vec();
    let running = reference_server::spawn(config)
        .await
        .unwrap_or_else(|e| panic!("server: {e}"));
    let target = tokencert::profile::embedded::target(&running).expect("target");
    assert!(
        target.test_clock.is_none(),
        "no virtual clock without test control"
    );
    let session = Session::new(target).await.expect("session");
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs");
    let (cat, diags) = load_paths(&[root], &LoadOptions::default());
    assert!(diags.is_empty(), "{}", diags[0].render());
    let runner = Arc::new(Runner::new(
        Arc::new(session),
        Arc::new(cat),
        "realtime".into(),
    ));
    let filters: Vec<String> = filters.iter().map(|f| (*f).to_owned()).collect();
    let cells = runner.plan(&filters);
    let opts = RunOptions {
        jobs: 4,
        max_wait,
        ..RunOptions::default()
    };
    let results = runner.run(cells, &opts).await;
    running.shutdown().await;
    results
}

fn outcome(results: &[ScenarioResult], name: &str) -> (Outcome, String) {
    let r = results
        .iter()
        .find(|r| r.name() == name)
        .unwrap_or_else(|| panic!("no result {name}"));
    (r.outcome, r.reason.clone().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifetime_scenarios_pass_in_real_time() {
    let minute = Duration::from_secs(60);
    let (idle, grace, absolute, flawed, tight_budget) = tokio::join!(
        run(IDLE, &[], WAITING, minute),
        run(GRACE, &[], GRACE_WAITING, minute),
        run(ABSOLUTE, &[], WAITING, minute),
        run(
            IDLE,
            &[Flaw::ExpiredTokenAccepted],
            &["lifetimes.idle-timeout-expires"],
            minute
        ),
        run(
            IDLE,
            &[],
            &["lifetimes.idle-timeout-expires"],
            Duration::from_secs(3)
        ),
    );

    // Nothing fails, errors or times out: every cell passes or skips with its reason.
    let bad: Vec<String> = idle
        .iter()
        .chain(&grace)
        .chain(&absolute)
        .filter(|r| !matches!(r.outcome, Outcome::Pass | Outcome::Skip))
        .map(describe)
        .collect();
    assert!(bad.is_empty(), "{}", bad.join("\n"));

    // The waiting cells really ran, in real time.
    for name in [
        "lifetimes.idle-timeout-expires[client=confidential]",
        "lifetimes.idle-timeout-expires[client=public]",
        "lifetimes.idle-expired-introspects-inactive[client=confidential]",
        "lifetimes.idle-window-slides-with-use[client=confidential]",
        "introspection.idle-expired-token-inactive",
        "grants.code-expired-invalid-grant",
        "grants.device-code-expired-token",
        "grants.device-code-pending-then-tokens",
    ] {
        assert_eq!(
            outcome(&idle, name).0,
            Outcome::Pass,
            "{name}: {:?}",
            outcome(&idle, name)
        );
    }
    for name in [
        "reuse.grace-window-ends[client=confidential]",
        "reuse.attacker-reuses-first[client=public]",
    ] {
        assert_eq!(
            outcome(&grace, name).0,
            Outcome::Pass,
            "{name}: {:?}",
            outcome(&grace, name)
        );
    }
    for name in [
        "lifetimes.absolute-lifetime-expires-unused[client=confidential]",
        "errors.expired-refresh-token[client=public]",
        "introspection.absolute-expired-token-inactive",
        "lifetimes.expired-access-token-inactive[client=confidential]",
        "introspection.expired-access-token-inactive",
    ] {
        let got = outcome(&absolute, name);
        assert_eq!(got.0, Outcome::Pass, "{name}: {got:?}");
    }

    // Too short for the margin: skipped with the reason, never failed. Nine tenths of an 8 s
    // absolute lifetime is not 2 s clear of its end; a 3 s access token cannot be shown expired
    // while a 5 s idle timeout still keeps the refresh token alive.
    for (results, name) in [
        (
            &absolute,
            "lifetimes.absolute-lifetime-not-extended-by-refresh[client=confidential]",
        ),
        (
            &idle,
            "lifetimes.expired-access-token-inactive[client=public]",
        ),
    ] {
        let (o, why) = outcome(results, name);
        assert_eq!(o, Outcome::Skip, "{name}: {why}");
        assert!(
            why.contains("too close to tell a live token from one checked late"),
            "{name}: {why}"
        );
    }

    // A real-time expiry check catches a server that ignores expiry.
    let (o, why) = outcome(
        &flawed,
        "lifetimes.idle-timeout-expires[client=confidential]",
    );
    assert_eq!(o, Outcome::Fail, "{why}");

    // A budget too small for the wait skips the cell, naming --max-wait and the time it needed.
    let (o, why) = outcome(
        &tight_budget,
        "lifetimes.idle-timeout-expires[client=confidential]",
    );
    assert_eq!(o, Outcome::Skip, "{why}");
    assert!(
        why.contains("needs 7 s of real-time waiting, more than --max-wait (3 s)"),
        "{why}"
    );
}
