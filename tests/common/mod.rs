//! Shared helpers: write scenarios and a target into a temp dir, run them through the library.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use tokencert::profile::{ProcessEnv, Target};
use tokencert::report::{Outcome, ScenarioResult};
use tokencert::runner::{RunOptions, Runner};
use tokencert::scenario::{Catalogue, LoadOptions, load_paths};
use tokencert::session::Session;

/// Secrets the tests plant and later search for in every output.
pub const CLIENT_SECRET: &str = "planted-client-secret-7Qx";
pub const USER_PASSWORD: &str = "planted-user-password-9Zk";

pub fn target_yaml(base: &str, extra: &str) -> String {
    format!(
        "name: mock
base_url: {base}
endpoints: {{ token: /token, revocation: /revoke, introspection: /introspect }}
clients:
  confidential: {{ id: conf-1, secret: \"{CLIENT_SECRET}\", auth_method: client_secret_basic }}
  confidential2: {{ id: conf-2, secret: \"other-secret-2\", auth_method: client_secret_post }}
  public: {{ id: pub-1, auth_method: none }}
bootstrap: {{ grant: password, username: alice, password: \"{USER_PASSWORD}\", scope: read write }}
policy: rfc9700
{extra}"
    )
}

/// Writes files into `dir` (creating parents).
pub fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
    }
}

/// Runs every scenario under `dir/specs` against `dir/target.yaml`; results by `id[cell]`.
pub async fn run_dir(dir: &Path) -> Vec<ScenarioResult> {
    run_dir_with(dir, &RunOptions::default()).await
}

/// [`run_dir`] with the given run options.
pub async fn run_dir_with(dir: &Path, opts: &RunOptions) -> Vec<ScenarioResult> {
    let (cat, diags) = load_paths(&[dir.join("specs")], &LoadOptions::default());
    let errors: Vec<String> = diags.iter().map(|d| d.render()).collect();
    assert!(errors.is_empty(), "specs invalid:\n{}", errors.join("\n"));
    let target = Target::load(&dir.join("target.yaml"), &ProcessEnv)
        .map_err(|e| format!("{e:?}"))
        .expect("target valid");
    let session = Session::new(target).await.expect("session");
    let ctx = Arc::new(Runner::new(Arc::new(session), Arc::new(cat), "test".into()));
    let cells = ctx.plan(&[]);
    ctx.run(cells, opts).await
}

pub fn outcome_of(results: &[ScenarioResult], name: &str) -> Outcome {
    results
        .iter()
        .find(|r| r.name() == name)
        .map(|r| r.outcome)
        .unwrap_or_else(|| {
            panic!(
                "no result {name}; have {:?}",
                results.iter().map(|r| r.name()).collect::<Vec<_>>()
            )
        })
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tokencert"))
}

/// The shipped catalogue (`specs/`), which must load without a diagnostic.
pub fn shipped_catalogue() -> Arc<Catalogue> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs");
    let (cat, diags) = load_paths(&[root], &LoadOptions::default());
    let errors: Vec<String> = diags.iter().map(|d| d.render()).collect();
    assert!(
        errors.is_empty(),
        "the catalogue is invalid:\n{}",
        errors.join("\n")
    );
    Arc::new(cat)
}

/// One result for a failure message: outcome, cell, reason and each finding's snippet.
pub fn describe(r: &ScenarioResult) -> String {
    let mut s = format!("{} {}", r.outcome.label(), r.name());
    if let Some(reason) = &r.reason {
        s.push_str(&format!(" ({reason})"));
    }
    for f in &r.findings {
        s.push_str(&format!("\n{}", f.snippet));
    }
    s
}

/// Runs the binary in `dir`: exit code, stdout, stderr.
pub fn tokencert(dir: &Path, args: &[&str]) -> (i32, String, String) {
    tokencert_env(dir, args, &[])
}

/// [`tokencert`] with environment variables set.
pub fn tokencert_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_remove("TOKENCERT_TARGET")
        .envs(env.iter().copied())
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`tokencert`] from async code.
pub async fn tokencert_async(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let dir = dir.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        tokencert(&dir, &refs)
    })
    .await
    .expect("joins")
}
