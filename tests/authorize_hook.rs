//! The code-flow scenarios run through a target profile's `command` hook, as they do against a
//! real server whose login needs a browser.
//!
//! A profile written at test time points at the reference server (in process) like an external
//! target: its bootstrap is `authorization_code` with a hook and **no** `authorize_params`, so the
//! server's unattended consent (it needs `login_hint`) cannot be what passes. The hook does the
//! login itself: it adds the test user the harness gives it (`TOKENCERT_TEST_USER`, from the
//! profile's `test_user`) as `login_hint` to `TOKENCERT_AUTHORIZE_URL`, GETs it without
//! following the redirect (curl) and prints where the redirect goes. Every code-flow
//! scenario (`grants.code-*`, `races.code-*`, `oidc.id-token-on-refresh-*`) must pass or skip for
//! a policy reason, with every authorization request through the hook. Without the hook the
//! scenarios skip naming `authorize.unattended`; a failing hook is an Error that shows the end
//! of its stderr, redacted.

mod common;
use common::shipped_catalogue;
use reference_server::{Config, Running};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokencert::profile::{ProcessEnv, Target};
use tokencert::report::{Outcome, ScenarioResult};
use tokencert::runner::{RunOptions, Runner};
use tokencert::session::Session;
use tokencert_policy::Policy;

const CODE_FLOW: &[&str] = &[
    "grants.code-*",
    "races.code-*",
    "oidc.id-token-on-refresh-*",
];

/// The hook: the login a browser would do, here the reference server's `login_hint`, as the
/// test user the harness names (with the password it would type). A progress line first (the
/// harness reads the last line); a log line per run, to count them.
const HOOK: &str = r#"#!/bin/sh
set -eu
[ -n "$TOKENCERT_TEST_USER_PASSWORD" ] || { echo "no password for $TOKENCERT_TEST_USER" >&2; exit 1; }
echo "logging $TOKENCERT_TEST_USER in"
echo run >> "$HOOK_LOG"
loc=$(curl -sS -o /dev/null -w '%{redirect_url}' "$TOKENCERT_AUTHORIZE_URL&login_hint=$TOKENCERT_TEST_USER")
[ -n "$loc" ] || { echo "no redirect from the authorization endpoint" >&2; exit 1; }
echo "$loc"
"#;

/// A profile for the running server as an external target would have one, with `bootstrap`.
fn profile(running: &Running, preset: &str, dir: &Path, bootstrap: &str) -> PathBuf {
    let t = tokencert::profile::embedded::target(running).expect("embedded target");
    let mut y = format!(
        "name: reference-server-through-a-hook\nbase_url: {}\npolicy: {preset}\nendpoints:\n",
        t.base_url
    );
    for (name, url) in &t.endpoints {
        y.push_str(&format!("  {name}: {url}\n"));
    }
    if let Some(clock) = &t.test_clock {
        y.push_str(&format!("test_clock: {clock}\n"));
    }
    y.push_str("clients:\n");
    for (role, c) in &t.clients {
        y.push_str(&format!(
            "  {role}:\n    id: \"{}\"\n    auth_method: {}\n",
            c.id, c.auth_method
        ));
        if let Some(s) = &c.secret {
            y.push_str(&format!("    secret: \"{}\"\n", s.expose()));
        }
        if let Some(k) = &c.private_key {
            let file = format!("{role}.pem");
            std::fs::write(dir.join(&file), k.expose()).expect("key file");
            y.push_str(&format!("    private_key: {{ file: {file} }}\n"));
        }
        if let Some(r) = &c.redirect_uri {
            y.push_str(&format!("    redirect_uri: \"{r}\"\n"));
        }
    }
    let s = t.scopes();
    y.push_str(&format!(
        "scopes:\n  granted: \"{}\"\n",
        s.granted.join(" ")
    ));
    if let Some(n) = &s.narrower {
        y.push_str(&format!("  narrower: \"{}\"\n", n.join(" ")));
    }
    if let Some(o) = &s.outside {
        y.push_str(&format!("  outside: \"{}\"\n", o.join(" ")));
    }
    let user = &running.description().users[0];
    y.push_str(&format!(
        "test_user:\n  username: \"{}\"\n  password: \"{}\"\n",
        user.username, user.password
    ));
    y.push_str(&format!(
        "bootstrap:\n  grant: authorization_code\n  scope: \"{}\"\n{bootstrap}",
        t.scope
    ));
    let path = dir.join("target.yaml");
    std::fs::write(&path, y).expect("profile");
    path
}

async fn run(profile: &Path, filters: &[&str]) -> Vec<ScenarioResult> {
    let target = Target::load(profile, &ProcessEnv)
        .map_err(|e| format!("{e:?}"))
        .expect("profile valid");
    let session = Session::new(target).await.expect("session");
    let runner = Arc::new(Runner::new(
        Arc::new(session),
        shipped_catalogue(),
        "hook".into(),
    ));
    let filters: Vec<String> = filters.iter().map(|f| (*f).to_owned()).collect();
    let cells = runner.plan(&filters);
    assert!(!cells.is_empty(), "no cell matches {filters:?}");
    runner.run(cells, &RunOptions::default()).await
}

fn hook_command(dir: &Path, script: &str) -> String {
    let hook = dir.join("hook.sh");
    std::fs::write(&hook, script).expect("hook");
    format!(
        "  command: HOOK_LOG='{}' sh '{}'\n",
        dir.join("hook.log").display(),
        hook.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_flow_scenarios_pass_through_a_command_hook() {
    assert!(
        std::process::Command::new("curl")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "this test's hook needs curl on PATH"
    );
    // rfc9700 refuses plain PKCE and revokes on code replay; rfc6749 allows plain and no PKCE.
    for preset in ["rfc9700", "rfc6749"] {
        let policy = Policy::preset(preset).expect("preset");
        let running = reference_server::spawn(Config::new(policy))
            .await
            .expect("server");
        let dir = tempfile::tempdir().expect("tempdir");
        let cmd = hook_command(dir.path(), HOOK);
        let path = profile(&running, preset, dir.path(), &cmd);
        let results = run(&path, CODE_FLOW).await;
        let bad: Vec<String> = results
            .iter()
            .filter(|r| !matches!(r.outcome, Outcome::Pass | Outcome::Skip))
            .map(|r| format!("{} {:?}: {:?}", r.name(), r.outcome, r.reason))
            .collect();
        assert!(bad.is_empty(), "{preset}: {}", bad.join("\n"));
        let passed = results
            .iter()
            .filter(|r| r.outcome == Outcome::Pass)
            .count();
        // Skips are policy gates only (pkce.plain, code.replay_revokes…), never the mechanism.
        for r in results.iter().filter(|r| r.outcome == Outcome::Skip) {
            let why = r.reason.as_deref().unwrap_or_default();
            assert!(!why.contains("authorize.unattended"), "{}: {why}", r.name());
        }
        eprintln!(
            "{preset}: {passed} of {} cells passed, {} hook runs",
            results.len(),
            std::fs::read_to_string(dir.path().join("hook.log"))
                .unwrap_or_default()
                .lines()
                .count()
        );
        assert!(passed >= 15, "{preset}: only {passed} passed");
        // Every authorization request went through the hook: at least one per passing cell.
        let runs = std::fs::read_to_string(dir.path().join("hook.log")).unwrap_or_default();
        assert!(
            runs.lines().count() >= passed,
            "{preset}: {} hook runs for {passed} passing cells",
            runs.lines().count()
        );
        running.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_mechanism_code_flow_scenarios_skip_and_a_failing_hook_is_a_redacted_error() {
    let running = reference_server::spawn(Config::new(Policy::preset("rfc9700").expect("preset")))
        .await
        .expect("server");
    let dir = tempfile::tempdir().expect("tempdir");
    // No hook, no authorize_params: the code flow would need a person.
    let path = profile(&running, "rfc9700", dir.path(), "");
    let results = run(&path, CODE_FLOW).await;
    for r in &results {
        let why = r.reason.as_deref().unwrap_or_default();
        assert!(
            r.outcome == Outcome::Skip
                && why.contains("authorize.unattended (give the target profile"),
            "{} {:?}: {why}",
            r.name(),
            r.outcome
        );
    }
    // A hook that fails and says so on stderr, quoting the client secret it was given and the
    // test user's password the harness gave it.
    let secret = tokencert::profile::embedded::target(&running)
        .expect("target")
        .clients["confidential"]
        .secret
        .as_ref()
        .expect("secret")
        .expose()
        .to_owned();
    let password = running.description().users[0].password.clone();
    let failing = format!(
        "#!/bin/sh\necho noise >&2\necho \"login rejected for {secret} as $TOKENCERT_TEST_USER:$TOKENCERT_TEST_USER_PASSWORD\" >&2\nexit 3\n"
    );
    let cmd = hook_command(dir.path(), &failing);
    let path = profile(&running, "rfc9700", dir.path(), &cmd);
    let results = run(&path, &["grants.code-pkce-s256-issues-refresh-token"]).await;
    let r = &results[0];
    let why = r.reason.as_deref().unwrap_or_default();
    eprintln!("failing hook: {why}");
    assert_eq!(r.outcome, Outcome::Error, "{why}");
    assert!(
        why.contains("fixtures/grants-authorize.yaml:")
            && why.contains("exit status: 3")
            && why.contains("login rejected for")
            && why.contains(&format!("as {}:", running.description().users[0].username))
            && !why.contains(&secret)
            && !why.contains(&password),
        "{why}"
    );
    running.shutdown().await;
}
