//! `tokencert prop` from outside: quiet on the clean server, finds a flaw, writes a reproducer
//! that `tokencert validate` accepts and `tokencert run` fails on (and passes without the flaw).

use std::process::Command;

fn tokencert(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tokencert"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("cannot run tokencert: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn prop_is_quiet_on_the_clean_server() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().to_string_lossy().into_owned();
    let (code, text) = tokencert(&[
        "prop", "--policy", "rfc9700", "--cases", "10", "--out", &out,
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("no counterexample"), "{text}");
}

#[test]
fn prop_finds_superseded_token_accepted_with_a_valid_reproducer() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().to_string_lossy().into_owned();
    let (code, text) = tokencert(&[
        "prop",
        "--flaw",
        "superseded-token-accepted",
        "--policy",
        "rfc9700",
        "--cases",
        "100",
        "--out",
        &out,
    ]);
    assert_eq!(code, 4, "{text}");
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}\n{text}");
    let file = files[0].to_string_lossy().into_owned();
    let (code, text) = tokencert(&["validate", &file]);
    assert_eq!(code, 0, "{text}");
    let reports = dir.path().join("reports").to_string_lossy().into_owned();
    let (code, text) = tokencert(&[
        "run",
        "--specs",
        &file,
        "--no-progress",
        "--report-dir",
        &reports,
    ]);
    assert_eq!(code, 0, "clean server must pass the reproducer\n{text}");
    let (code, text) = tokencert(&[
        "run",
        "--specs",
        &file,
        "--no-progress",
        "--report-dir",
        &reports,
        "--flaw",
        "superseded-token-accepted",
    ]);
    assert_eq!(code, 4, "the reproducer must fail with the flaw\n{text}");
}
