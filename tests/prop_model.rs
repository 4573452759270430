//! Model-based property tests of the reference server's token-family core.
//!
//! proptest generates a policy within the presets' space and a list of operations; each case
//! runs against a fresh in-process reference server and is judged by the reference model after
//! every step. The clean server must yield no counterexample; every rotation-, reuse-, grace-,
//! lifetime-, scope-, revocation- or concurrency-related flaw must be found (and shrunk).

use reference_server::Flaw;
use std::sync::LazyLock;
use tokencert::prop::{PropOptions, PropSummary, Source, search};
use tokencert_policy::Policy;

static RT: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"))
});

fn run(source: &Source, cases: u32, seed: u64) -> PropSummary {
    let opts = PropOptions {
        cases,
        seed,
        max_ops: 8,
        shrink_iters: 128,
        ..PropOptions::default()
    };
    search(RT.handle(), source, &opts)
}

fn quiet(source: Source, cases: u32, what: &str) {
    let s = run(&source, cases, 7);
    assert!(s.error.is_none(), "{what}: harness error {:?}", s.error);
    if let Some(f) = s.findings.first() {
        panic!(
            "{what}: the clean server broke an invariant\n{}",
            f.describe()
        );
    }
    eprintln!(
        "{what}: {} cases, {} requests in {:.2} s ({:.0} cases/s)",
        s.cases,
        s.requests,
        s.elapsed.as_secs_f64(),
        s.cases as f64 / s.elapsed.as_secs_f64().max(0.001)
    );
}

#[test]
fn clean_server_random_policies_are_quiet() {
    quiet(
        Source::Embedded {
            flaws: vec![],
            policy: None,
            durable: false,
        },
        24,
        "random policies",
    );
}

#[test]
fn clean_server_every_preset_is_quiet() {
    for preset in tokencert_policy::PRESET_NAMES {
        let policy = Policy::preset(preset).unwrap_or_else(|e| panic!("{e}"));
        quiet(
            Source::Embedded {
                flaws: vec![],
                policy: Some(policy),
                durable: false,
            },
            3,
            preset,
        );
    }
}

/// The server-shaped test policies of the conformance suite (`tests/policies/`: introspection
/// that sees access tokens only, or answers only the token's owner; unrotated refreshes without
/// `refresh_token`): the model predicts them, so the clean server stays quiet.
#[test]
fn clean_server_test_policies_are_quiet() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policies");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{e}"));
        let policy = Policy::from_yaml(&text).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        quiet(
            Source::Embedded {
                flaws: vec![],
                policy: Some(policy),
                durable: false,
            },
            4,
            &f.display().to_string(),
        );
    }
}

#[test]
fn clean_server_durable_restarts_change_nothing() {
    quiet(
        Source::Embedded {
            flaws: vec![],
            policy: None,
            durable: true,
        },
        8,
        "durable store with restarts",
    );
}

/// Flaws the property suite must find, with the most cases it may need.
const FLAWS: &[&str] = &[
    "superseded-token-accepted",
    "no-family-revocation",
    "non-atomic-rotation",
    "unbounded-grace",
    "absolute-lifetime-reset",
    "expired-token-accepted",
    "scope-escalation",
    "narrowed-refresh-token",
    "no-revocation-cascade",
    "introspection-stale",
    "cross-client-refresh",
];

fn finds(name: &str) {
    let flaw: Flaw = name.parse().unwrap_or_else(|e| panic!("{e}"));
    // Absolute-lifetime resets only show where the idle timeout does not expire the family
    // first: give that search a policy where it can (random policies need ~190 cases).
    let policy = (name == "absolute-lifetime-reset").then(|| {
        let overrides = serde_json::json!({
            "lifetimes": { "refresh_idle": null, "refresh_absolute": 3600 }
        });
        Policy::resolve("rfc9700", &overrides).unwrap_or_else(|e| panic!("{e}"))
    });
    let s = run(
        &Source::Embedded {
            flaws: vec![flaw],
            policy,
            durable: false,
        },
        300,
        11,
    );
    let Some(f) = s.findings.first() else {
        panic!(
            "{name}: no counterexample in {} cases (error: {:?})",
            s.cases, s.error
        );
    };
    eprintln!(
        "{name}: found after {} case(s); {} cases incl. shrinking in {:.2} s; shrunk to {} op(s)\n{}",
        f.cases_to_find,
        s.cases,
        s.elapsed.as_secs_f64(),
        f.ops.len(),
        f.describe()
    );
    assert!(
        f.ops.len() <= 6,
        "{name}: shrinking left {} ops",
        f.ops.len()
    );
}

fn finds_all(names: &[&str]) {
    let mut missed = Vec::new();
    for name in names {
        if std::panic::catch_unwind(|| finds(name)).is_err() {
            missed.push(*name);
        }
    }
    assert!(missed.is_empty(), "not found: {missed:?}");
}

#[test]
fn finds_rotation_and_reuse_flaws() {
    finds_all(&FLAWS[..5]);
}

#[test]
fn finds_lifetime_scope_revocation_and_binding_flaws() {
    finds_all(&FLAWS[5..]);
}
