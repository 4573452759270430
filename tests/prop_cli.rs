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

/// The `.yaml` files in `dir`, sorted.
fn reproducers(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

/// `tokencert run` of one reproducer against the embedded server (with the reproducer's
/// generated policy, when it has one), with or without `flaw`; the exit code and output.
fn replay(file: &std::path::Path, flaw: Option<&str>, reports: &str) -> (i32, String) {
    let policy = file.with_extension("policy");
    let file = file.to_string_lossy().into_owned();
    let policy = policy.to_string_lossy().into_owned();
    let mut args = vec![
        "run",
        "--specs",
        &file,
        "--no-progress",
        "--report-dir",
        reports,
    ];
    if std::path::Path::new(&policy).exists() {
        args.extend(["--policy", &policy]);
    }
    if let Some(f) = flaw {
        args.extend(["--flaw", f]);
    }
    tokencert(&args)
}

/// With `--keep-going`, prop collects several counterexamples (each breaking another
/// invariant), and every reproducer it writes — rotation, a race, scope, introspection —
/// fails against the flawed server and passes against the clean one, under the policy it was
/// judged by.
#[test]
fn every_prop_reproducer_replays() {
    let mut problems = Vec::new();
    let mut counts = Vec::new();
    for flaw in [
        "superseded-token-accepted",
        "non-atomic-rotation",
        "scope-escalation",
        "narrowed-refresh-token",
        "no-revocation-cascade",
    ] {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = dir.path().join("out");
        let out_s = out.to_string_lossy().into_owned();
        let (code, text) = tokencert(&[
            "prop",
            "--flaw",
            flaw,
            "--cases",
            "60",
            "--keep-going",
            "3",
            "--max-ops",
            "6",
            "--out",
            &out_s,
        ]);
        assert_eq!(code, 4, "{flaw}: {text}");
        let files = reproducers(&out);
        counts.push((flaw, files.len()));
        assert!(!files.is_empty(), "{flaw}: {text}");
        let reports = dir.path().join("reports").to_string_lossy().into_owned();
        for f in &files {
            let (code, text) = replay(f, Some(flaw), &reports);
            if code != 4 {
                problems.push(format!("{}: passes with {flaw}:\n{text}", f.display()));
            }
            let (code, text) = replay(f, None, &reports);
            if code != 0 {
                problems.push(format!("{}: fails without {flaw}:\n{text}", f.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{counts:?}\n{}", problems.join("\n"));
    assert!(
        counts.iter().any(|(_, n)| *n > 1),
        "--keep-going found one counterexample per flaw: {counts:?}"
    );
}
