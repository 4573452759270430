//! The console of `tokencert run`: results on stdout in plan order whatever order the cells
//! complete in, progress and diagnostics on stderr, the failure recap grouped by requirement,
//! `--quiet`, and colour only when asked for (`--color`, `NO_COLOR`; a pipe is not a terminal).

mod common;

use common::*;
use std::time::Duration;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Scenario `order.n<i>` sends `seq=<i>` and expects a 200 with no-store (`fails` expects a header
/// the server never sends, under a requirement of its own).
fn scenario(i: usize, fails: bool) -> String {
    let (req, check) = if fails {
        ("RFC6749-5.1.a", "headers: { x-missing: { exists: true } }")
    } else {
        (
            "RFC6749-5.1.d",
            "headers: { cache-control: { contains: no-store } }",
        )
    };
    format!(
        "id: order.n{i:02}
title: cell {i}
requirements: [{{ id: {req}, level: MUST }}]
steps:
  - request:
      endpoint: token
      client_auth: confidential
      form: {{ grant_type: client_credentials, seq: '{i}' }}
    expect:
      status: 200
      {check}
"
    )
}

/// Answers `seq=<i>` later the lower `i` is, so cells complete in the reverse of plan order.
async fn server(cells: usize) -> MockServer {
    let s = MockServer::start().await;
    for i in 0..cells {
        let delay = Duration::from_millis(40 * (cells - i) as u64);
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains(format!("seq={i}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_delay(delay)
                    .set_body_json(
                        serde_json::json!({ "access_token": "at-1", "token_type": "Bearer" }),
                    )
                    .insert_header("cache-control", "no-store"),
            )
            .mount(&s)
            .await;
    }
    s
}

const CELLS: usize = 8;

async fn setup() -> (MockServer, tempfile::TempDir) {
    let s = server(CELLS).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = vec![("target.yaml".to_owned(), target_yaml(&s.uri(), ""))];
    for i in 0..CELLS {
        files.push((format!("specs/n{i:02}.yaml"), scenario(i, i % 3 == 1)));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    write(dir.path(), &refs);
    (s, dir)
}

fn run_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "run",
        "--specs",
        "specs",
        "--target",
        "target.yaml",
        "-j",
        "8",
        "--report-dir",
        "out",
    ];
    v.extend_from_slice(extra);
    v
}

/// The result lines of a console output, in order.
fn result_lines(out: &str) -> Vec<String> {
    out.lines()
        .filter(|l| l.starts_with("PASS ") || l.starts_with("FAIL "))
        .map(|l| l.split("  ").take(2).collect::<Vec<_>>().join("  "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_on_stdout_in_plan_order_with_a_recap() {
    let (_s, dir) = setup().await;
    let d = dir.path();
    let (code, out, err) = tokencert_async(d, &run_args(&[])).await;
    assert_eq!(code, 4, "{out}{err}");
    let want: Vec<String> = (0..CELLS)
        .map(|i| {
            let label = if i % 3 == 1 { "FAIL " } else { "PASS " };
            format!("{label} order.n{i:02}")
        })
        .collect();
    assert_eq!(result_lines(&out), want, "{out}");
    // Progress and diagnostics only on stderr; no result there.
    assert!(result_lines(&err).is_empty(), "{err}");
    assert!(err.contains("report: out/junit.xml"), "{err}");
    assert!(!out.contains("report:"), "{out}");
    // The recap: the failing requirement once, its cells under it in plan order, after every
    // result line and before the summary.
    let recap = out.find("Failures by requirement:").expect("a recap");
    assert!(
        out.rfind("PASS  order.").is_some_and(|p| p < recap),
        "{out}"
    );
    assert_eq!(out.matches("RFC6749-5.1.a MUST").count(), 1 + 3, "{out}");
    let tail = &out[recap..];
    let cells: Vec<&str> = tail
        .lines()
        .filter(|l| l.starts_with("  FAIL "))
        .filter_map(|l| l.split_whitespace().nth(1))
        .collect();
    assert_eq!(cells, ["order.n01", "order.n04", "order.n07"], "{tail}");
    assert!(tail.contains("8 scenario cells in"), "{tail}");
    // No colour into a pipe.
    assert!(!out.contains('\u{1b}') && !err.contains('\u{1b}'), "{out}");

    // The same run again: the same lines in the same order.
    let (_, again, _) = tokencert_async(d, &run_args(&[])).await;
    assert_eq!(result_lines(&again), result_lines(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_prints_the_recap_and_summary_only() {
    let (_s, dir) = setup().await;
    let (code, out, err) = tokencert_async(dir.path(), &run_args(&["--quiet"])).await;
    assert_eq!(code, 4, "{out}{err}");
    assert!(result_lines(&out).is_empty(), "{out}");
    assert!(
        out.contains("Failures by requirement:") && out.contains("8 scenario cells"),
        "{out}"
    );
    assert!(err.is_empty(), "{err}");
    assert!(
        dir.path().join("out/junit.xml").is_file(),
        "quiet still writes reports"
    );
    let (code, _, err) = tokencert_async(dir.path(), &run_args(&["-q", "-v"])).await;
    assert_eq!(code, 1, "--quiet with --verbose is a usage error: {err}");
}

/// Flags, environment, whether the output is coloured.
type Case = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
    bool,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colour_follows_the_flag_and_no_color() {
    let (_s, dir) = setup().await;
    let d = dir.path().to_path_buf();
    let cases: &[Case] = &[
        (&["--color", "always"], &[], true),
        // An explicit flag wins over the environment.
        (&["--color", "always"], &[("NO_COLOR", "1")], true),
        (&["--color", "never"], &[], false),
        (&[], &[("NO_COLOR", "1")], false),
        // Not a terminal.
        (&[], &[], false),
    ];
    for (flags, env, coloured) in cases {
        let d = d.clone();
        let case = format!("{flags:?} {env:?}");
        let args: Vec<String> = run_args(flags).iter().map(|s| (*s).to_owned()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let (code, out, _) = tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            let e: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            tokencert_env(&d, &a, &e)
        })
        .await
        .expect("joins");
        assert_eq!(code, 4);
        assert_eq!(out.contains('\u{1b}'), *coloured, "{case} {out}");
        // Colour never changes the words.
        let plain: String = strip_ansi(&out);
        assert!(plain.contains("FAIL  order.n01"), "{plain}");
    }
}

/// Removes ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
