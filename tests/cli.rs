//! The CLI: exit codes 0/1/2/3/4, the three reports, secrets never leaking, and validation
//! errors rendered as snapshots (`tests/diagnostics/*.yaml` → `*.stderr`; refresh with
//! `SNAPSHOTS=overwrite cargo test --test cli`).

mod common;

use common::*;
use serde_json::json;
use std::path::Path;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const GOOD: &str = "id: ok.scenario
title: a refresh answers 200 with no-store
requirements: [{ id: RFC6749-5.1.d, level: MUST }]
steps:
  - bootstrap:
    capture:
      rt0: { json: $.refresh_token, secret: true }
  - request:
      endpoint: token
      client_auth: confidential
      form: { grant_type: refresh_token, refresh_token: '{{ rt0 }}' }
    expect:
      status: 200
      headers: { cache-control: { contains: no-store } }
";

const BAD: &str = "id: bad.scenario
title: expects a header the server does not send
requirements: [{ id: RFC6749-5.1.d, level: MUST }]
steps:
  - bootstrap:
    capture:
      rt0: { json: $.refresh_token, secret: true }
  - request:
      endpoint: token
      client_auth: confidential
      form: { grant_type: refresh_token, refresh_token: '{{ rt0 }}' }
    expect:
      status: 200
      headers: { x-missing: { exists: true } }
";

/// A failing check whose observed value is a token the scenario never captured.
const LEAK: &str = "id: leak.scenario
title: a failed check shows the observed token, redacted
requirements: [{ id: RFC6749-5.1.a, level: MUST }]
steps:
  - request:
      endpoint: token
      client_auth: confidential
      form: { grant_type: password }
    expect:
      json: { $.access_token: { absent: true } }
";

const PLANTED_TOKEN: &str = "RT-planted-token-5Hq2";

async fn server() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({
                    "access_token": "AT-planted-token-8Lm3",
                    "token_type": "Bearer",
                    "refresh_token": PLANTED_TOKEN,
                    // A server that echoes credentials back: they must still be redacted.
                    "debug": format!("saw secret {CLIENT_SECRET} and password {USER_PASSWORD}"),
                }))
                .insert_header("cache-control", "no-store"),
        )
        .mount(&s)
        .await;
    s
}

/// `--timeout`: a target slower than it makes the cell a TIMEOUT ("no answer within …", exit 3,
/// counted apart in every report), not a 5xx. `--max-wait`: without a test clock, a wait that
/// does not fit skips its cell naming the flag; `0` turns real-time waits off (`time.wait`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_and_max_wait_flags() {
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_secs(5)))
        .mount(&slow)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let waits = "id: waits.long
title: waits out a long lifetime
requirements: [{ id: RFC6749-6.a, level: MUST }]
requires: [time.wait]
steps:
  - wait: { past: 30 }
  - request: { endpoint: token, form: { grant_type: password } }
";
    write(
        d,
        &[
            ("target.yaml", &target_yaml(&slow.uri(), "")),
            ("specs/ok.yaml", GOOD),
            ("specs/waits.yaml", waits),
        ],
    );
    let (code, out, err) = tokencert_async(
        d,
        &[
            "run",
            "--specs",
            "specs",
            "--target",
            "target.yaml",
            "--filter",
            "ok.*",
            "--timeout",
            "300ms",
            "--report-dir",
            "slow",
        ],
    )
    .await;
    assert_eq!(code, 3, "{err}");
    assert!(out.contains("TIMEOUT ok.scenario"), "{out}");
    assert!(out.contains("no answer within 0.3 s"), "{out}");
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.join("slow/report.json")).expect("report.json"),
    )
    .expect("json");
    assert_eq!(json["summary"]["timeout"], 1);
    assert_eq!(json["summary"]["error"], 0);
    let junit = std::fs::read_to_string(d.join("slow/junit.xml")).expect("junit");
    assert!(junit.contains("type=\"timeout\""), "{junit}");

    for (flag, reason) in [
        (
            "0",
            "target lacks time.wait (no test clock, and --max-wait is 0)",
        ),
        (
            "5s",
            "needs 32 s of real-time waiting, more than --max-wait (5 s)",
        ),
    ] {
        let (code, out, err) = tokencert_async(
            d,
            &[
                "run",
                "--specs",
                "specs",
                "--target",
                "target.yaml",
                "--filter",
                "waits.*",
                "--max-wait",
                flag,
                "--report-dir",
                "waits",
            ],
        )
        .await;
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("SKIP  waits.long"), "{out}");
        assert!(out.contains(reason), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_reports() {
    let s = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        &[
            ("target.yaml", &target_yaml(&s.uri(), "")),
            ("specs/ok.yaml", GOOD),
            ("specs/bad.yaml", BAD),
        ],
    );

    // 0: everything passes (the failing scenario filtered out); all three reports written.
    let (code, out, err) = tokencert_async(
        d,
        &[
            "run",
            "--specs",
            "specs",
            "--target",
            "target.yaml",
            "--filter",
            "ok.*",
            "--report-dir",
            "out0",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("PASS  ok.scenario"), "{out}");
    for f in ["junit.xml", "report.json", "report.html", "report.sarif"] {
        assert!(d.join("out0").join(f).is_file(), "{f} missing");
    }

    // 4: a conformance failure, with the requirement, the step and the YAML location.
    let (code, out, err) = tokencert_async(
        d,
        &[
            "run",
            "--specs",
            "specs",
            "--target",
            "target.yaml",
            "--report-dir",
            "out4",
        ],
    )
    .await;
    assert_eq!(code, 4, "{err}");
    assert!(out.contains("FAIL  bad.scenario"), "{out}");
    assert!(out.contains("RFC6749-5.1.d MUST at step `#2`"), "{out}");
    assert!(out.contains("bad.yaml:14:39"), "{out}");

    // 3: a known deviation that passes (XPASS) is a harness error…
    write(
        d,
        &[(
            "target3.yaml",
            &target_yaml(
                &s.uri(),
                "deviations:\n  - { scenario: ok.scenario, reason: thought broken }\n",
            ),
        )],
    );
    let (code, _, err) = tokencert_async(
        d,
        &[
            "run",
            "--specs",
            "specs",
            "--target",
            "target3.yaml",
            "--filter",
            "ok.*",
            "--report-dir",
            "out3",
        ],
    )
    .await;
    assert_eq!(code, 3, "{err}");
    // …and so is a target that cannot be reached, or a secret whose env var is unset.
    write(d, &[("dead.yaml", &target_yaml("http://127.0.0.1:1", ""))]);
    let (code, _, err) = tokencert_async(
        d,
        &[
            "run",
            "--specs",
            "specs",
            "--target",
            "dead.yaml",
            "--filter",
            "ok.*",
            "--report-dir",
            "out3b",
        ],
    )
    .await;
    assert_eq!(code, 3, "{err}");
    let env_target = target_yaml(&s.uri(), "").replace(
        &format!("\"{CLIENT_SECRET}\""),
        "{ env: TOKENCERT_TEST_UNSET_VAR }",
    );
    write(d, &[("env.yaml", &env_target)]);
    let (code, _, err) = tokencert_async(
        d,
        &[
            "run",
            "--specs",
            "specs",
            "--target",
            "env.yaml",
            "--report-dir",
            "out3c",
        ],
    )
    .await;
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("TOKENCERT_TEST_UNSET_VAR"), "{err}");

    // 2: an invalid scenario file stops the run before anything is sent.
    write(
        d,
        &[(
            "specs/broken.yaml",
            "id: x\ntitle: t\nrequirements: [{ id: RFC6749-6.a, level: MUST }]\nsteps:\n  - request: { endpoint: tokn }\n",
        )],
    );
    let (code, _, err) =
        tokencert_async(d, &["run", "--specs", "specs", "--target", "target.yaml"]).await;
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = tokencert_async(d, &["validate", "specs"]).await;
    assert_eq!(code, 2);
    assert!(
        err.contains("broken.yaml:5:26") && err.contains("did you mean `token`?"),
        "{err}"
    );

    // 1: usage errors.
    let (code, _, _) = tokencert_async(d, &["run", "--jobs", "many"]).await;
    assert_eq!(code, 1);
    let (code, _, _) = tokencert_async(d, &["frobnicate"]).await;
    assert_eq!(code, 1);
}

/// A run that stops before any cell runs still writes every report, holding one error testcase
/// that says why: invalid files (exit 2), missing secrets (all of them, each at its place in the
/// profile), failed discovery, and a target that cannot be reached (one error, not one per cell).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_stops_still_write_reports() {
    let s = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let unset = target_yaml(&s.uri(), "")
        .replace(
            &format!("\"{CLIENT_SECRET}\""),
            "{ env: TOKENCERT_TEST_UNSET_A }",
        )
        .replace(
            &format!("\"{USER_PASSWORD}\""),
            "{ env: TOKENCERT_TEST_UNSET_B }",
        );
    let discovery = target_yaml(&s.uri(), "").replace(
        "endpoints: { token: /token, revocation: /revoke, introspection: /introspect }",
        "discovery: true",
    );
    write(
        d,
        &[
            ("ok/ok.yaml", GOOD),
            ("ok/bad.yaml", BAD),
            (
                "broken/broken.yaml",
                "id: x\ntitle: t\nrequirements: [{ id: RFC6749-6.a, level: MUST }]\nsteps:\n  - request: { endpoint: token }\n    expect: { status: 4OO }\n",
            ),
            ("target.yaml", &target_yaml(&s.uri(), "")),
            (
                "invalid.yaml",
                &target_yaml(
                    &s.uri(),
                    "policy: { preset: rfc9700, rotation: sometimes }\n",
                ),
            ),
            ("unset.yaml", &unset),
            ("discovery.yaml", &discovery),
            ("dead.yaml", &target_yaml("http://127.0.0.1:1", "")),
        ],
    );
    // (specs, profile, exit code, stage, what the reason must say)
    let cases: &[(&str, &str, i32, &str, &[&str])] = &[
        (
            "broken",
            "target.yaml",
            2,
            "scenarios",
            &["broken.yaml:6:23: `4OO` is not an HTTP status (did you mean `400`?)"],
        ),
        ("ok", "invalid.yaml", 2, "profile", &["invalid.yaml:"]),
        (
            "ok",
            "unset.yaml",
            3,
            "secrets",
            &[
                "2 value(s) the profile reads from the environment are missing",
                "unset.yaml:5:46: clients.confidential.secret: environment variable `TOKENCERT_TEST_UNSET_A` is not set",
                "unset.yaml:8:65: bootstrap.password: environment variable `TOKENCERT_TEST_UNSET_B` is not set",
            ],
        ),
        (
            "ok",
            "discovery.yaml",
            3,
            "discovery",
            &["/.well-known/oauth-authorization-server: status 404"],
        ),
        (
            "ok",
            "dead.yaml",
            3,
            "preflight",
            &["the target is unreachable: cannot connect to 127.0.0.1:1"],
        ),
    ];
    let before = s.received_requests().await.map_or(0, |r| r.len());
    for (specs, profile, want_code, stage, says) in cases {
        let out = format!("out-{stage}");
        let (code, _, err) = tokencert_async(
            d,
            &[
                "run",
                "--specs",
                specs,
                "--target",
                profile,
                "--report-dir",
                &out,
            ],
        )
        .await;
        assert_eq!(code, *want_code, "{stage}: {err}");
        for f in ["junit.xml", "report.json", "report.html"] {
            assert!(d.join(&out).join(f).is_file(), "{stage}: no {f}");
        }
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.join(&out).join("report.json")).expect("report.json"),
        )
        .expect("json");
        assert_eq!(json["exit_code"], *want_code, "{stage}");
        let results = json["results"].as_array().expect("results");
        assert_eq!(results.len(), 1, "{stage}: one error testcase: {results:?}");
        assert_eq!(results[0]["scenario"], format!("tokencert.{stage}"));
        assert_eq!(results[0]["outcome"], "error");
        let reason = results[0]["reason"].as_str().unwrap_or_default();
        for want in *says {
            assert!(reason.contains(want), "{stage}: {want} not in {reason}");
            // The console says it too, with the source line.
            let message = want.split(" (").next().unwrap_or(want);
            let message = message.rsplit(": ").next().unwrap_or(message);
            assert!(err.contains(message), "{stage}: {message} not in {err}");
        }
        let junit = std::fs::read_to_string(d.join(&out).join("junit.xml")).expect("junit");
        assert_eq!(junit.matches("<testcase ").count(), 1, "{junit}");
        assert_eq!(junit.matches("<error ").count(), 1, "{junit}");
    }
    // Only discovery asked the server anything (one GET of the metadata); no token request.
    let after = s.received_requests().await.unwrap_or_default();
    assert_eq!(after.len() - before, 1, "{after:?}");
    assert!(
        after.iter().all(|r| r.method.as_str() == "GET"),
        "{after:?}"
    );
}

/// The catalogue is built in: a profile anywhere (written like the README's, starting with
/// `name:`) validates and runs from a directory without `specs/`, its deviations are checked
/// against the built-in scenarios, and a `specs/` directory here is pointed out, never read
/// unasked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_catalogue_serves_any_directory() {
    let s = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let typo = "deviations:\n  - { scenario: examples.refresh-succes-shape, reason: r }\n";
    write(
        d,
        &[
            ("profiles/my-server.yaml", &target_yaml(&s.uri(), "")),
            ("profiles/typo.yaml", &target_yaml(&s.uri(), typo)),
        ],
    );
    let (code, out, err) = tokencert_async(d, &["validate", "profiles/my-server.yaml"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 target profile(s) valid"), "{out}");
    let (code, out, err) = tokencert_async(
        d,
        &[
            "run",
            "--target",
            "profiles/my-server.yaml",
            "-f",
            "examples.refresh-success-shape",
            "--report-dir",
            "out",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("examples.refresh-success-shape"), "{out}");
    // An unknown deviation id: exit 2 at its place, before anything is sent.
    let requests = s.received_requests().await.map_or(0, |r| r.len());
    for args in [
        &["validate", "profiles/typo.yaml"][..],
        &["run", "--target", "profiles/typo.yaml"],
    ] {
        let (code, _, err) = tokencert_async(d, args).await;
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("profiles/typo.yaml:11:17")
                && err.contains("did you mean `examples.refresh-success-shape`?"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(s.received_requests().await.map_or(0, |r| r.len()), requests);
    // A `specs/` directory here is not the catalogue unless named.
    write(d, &[("specs/ok.yaml", GOOD)]);
    let (code, _, err) = tokencert_async(
        d,
        &[
            "run",
            "--target",
            "profiles/my-server.yaml",
            "-f",
            "ok.scenario",
        ],
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("./specs differs from the built-in catalogue"),
        "{err}"
    );
    let (code, _, err) = tokencert_async(
        d,
        &[
            "run",
            "--specs",
            "specs",
            "--target",
            "profiles/my-server.yaml",
            "-f",
            "ok.scenario",
            "--report-dir",
            "out2",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("differs"), "{err}");
}

/// No planted secret (the client's secret, the user's password, tokens, the Basic credentials)
/// in any of `outputs` (name, text).
fn assert_no_plant(outputs: &[(String, String)]) {
    let plants = [
        CLIENT_SECRET,
        USER_PASSWORD,
        PLANTED_TOKEN,
        "AT-planted-token-8Lm3",
        "cGxhbnRlZC1jbGllbnQtc2VjcmV0",
    ];
    for (name, text) in outputs {
        for p in plants {
            assert!(!text.contains(p), "{p} leaked into {name}");
        }
    }
}

/// Known secrets planted in the target profile, the server's answers and captures never appear
/// in the console or in any report file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_never_reach_any_output() {
    let s = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        &[
            ("target.yaml", &target_yaml(&s.uri(), "")),
            ("specs/bad.yaml", BAD),
            ("specs/ok.yaml", GOOD),
            ("specs/leak.yaml", LEAK),
        ],
    );
    let (code, out, err) = tokencert_async(
        d,
        &[
            "run",
            "--specs",
            "specs",
            "--target",
            "target.yaml",
            "-v",
            "--report-dir",
            "out",
        ],
    )
    .await;
    assert_eq!(code, 4, "{err}");
    let mut outputs = vec![("stdout".to_owned(), out), ("stderr".to_owned(), err)];
    for f in std::fs::read_dir(d.join("out")).expect("reports") {
        let p = f.expect("entry").path();
        outputs.push((
            p.display().to_string(),
            std::fs::read_to_string(&p).expect("read"),
        ));
    }
    assert_eq!(outputs.len(), 6, "stdout, stderr and the four reports");
    assert_no_plant(&outputs);
    // The reports still show that something was there.
    let json = std::fs::read_to_string(d.join("out/report.json")).expect("json");
    assert!(json.contains("[REDACTED"), "redaction markers expected");
}

/// The same planted secrets never reach what `tokencert fuzz` and `tokencert prop` leave: the
/// console, the reproducers, findings.json and findings.sarif. The mock issues tokens for
/// anything (so the fuzzer writes reproducers of requests carrying the client's secret, the
/// user's password and live tokens) and always the same refresh token (so prop finds a
/// rotation counterexample).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_never_reach_fuzz_or_prop_outputs() {
    let s = server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let target = target_yaml(&s.uri(), "");
    // prop needs no revocation or introspection endpoint (the mock has neither).
    let token_only = target.replace(
        "endpoints: { token: /token, revocation: /revoke, introspection: /introspect }",
        "endpoints: { token: /token }",
    );
    assert_ne!(target, token_only);
    write(
        d,
        &[("target.yaml", &target), ("token-only.yaml", &token_only)],
    );
    let (fuzz_code, fuzz_out, fuzz_err) = tokencert_async(
        d,
        &[
            "fuzz",
            "--target",
            "target.yaml",
            "--max-requests",
            "600",
            "--duration",
            "60s",
            "--connections",
            "4",
            "--out",
            "fuzz",
        ],
    )
    .await;
    assert_eq!(
        fuzz_code, 4,
        "the mock issues tokens for anything\n{fuzz_err}"
    );
    let (prop_code, prop_out, prop_err) = tokencert_async(
        d,
        &[
            "prop",
            "--target",
            "token-only.yaml",
            "--cases",
            "10",
            "--keep-going",
            "3",
            "--out",
            "prop",
        ],
    )
    .await;
    assert_eq!(prop_code, 4, "{prop_err}");
    let mut outputs = vec![
        ("fuzz stdout".to_owned(), fuzz_out),
        ("fuzz stderr".to_owned(), fuzz_err),
        ("prop stdout".to_owned(), prop_out),
        ("prop stderr".to_owned(), prop_err),
    ];
    for sub in ["fuzz", "prop"] {
        for f in std::fs::read_dir(d.join(sub)).expect("outputs") {
            let p = f.expect("entry").path();
            outputs.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).expect("read"),
            ));
        }
    }
    let names: Vec<&str> = outputs.iter().map(|(n, _)| n.as_str()).collect();
    for want in [
        "findings.json",
        "findings.sarif",
        "fuzz-token-for-invalid-request",
        "prop-",
    ] {
        assert!(
            names.iter().any(|n| n.contains(want)),
            "no {want} among {names:?}"
        );
    }
    // Some reproducer must have sent the client's secret and the user's password (as
    // templates): otherwise this test proves nothing about them.
    let all: String = outputs.iter().map(|(_, t)| t.as_str()).collect();
    assert!(all.contains("{{ test_user.password }}"), "{names:?}");
    assert!(all.contains("client_auth: confidential"), "{names:?}");
    assert_no_plant(&outputs);
}

/// A misspelt `--policy`, `--flaw` or `--filter` is a usage error (exit 1) naming the near
/// miss, reported before any server is started or asked.
#[test]
fn unknown_names_on_the_command_line_are_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "--policy", "rfc970"],
            "unknown policy preset `rfc970`: did you mean `rfc9700`?",
        ),
        (
            &["run", "--policy", "mine.yaml"],
            "no policy file `mine.yaml`",
        ),
        (
            &["fuzz", "--policy", "fapi"],
            "unknown policy preset `fapi`: did you mean `fapi2`?",
        ),
        (
            &["run", "-f", "rotaton.*"],
            "--filter `rotaton.*` matches no scenario: did you mean `rotation.*`?",
        ),
        (
            &[
                "run",
                "-f",
                "rotation.*",
                "-f",
                "rotation.superseded-token-rejectd",
            ],
            "did you mean `rotation.superseded-token-rejected`?",
        ),
        (
            &["run", "-f", "tag:basik"],
            "--filter `tag:basik` matches no scenario: did you mean `tag:basic`?",
        ),
        #[cfg(feature = "embedded-server")]
        (
            &["run", "--flaw", "superseded-token-acepted"],
            "unknown flaw `superseded-token-acepted`: did you mean `superseded-token-accepted`?",
        ),
        #[cfg(feature = "embedded-server")]
        (
            &["prop", "--flaw", "grace-ignord"],
            "did you mean `grace-ignored`?",
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = tokencert(dir.path(), args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(
            !err.contains("target:") && out.is_empty(),
            "{args:?} started something: {out}{err}"
        );
    }
}

/// `tokencert validate` output for broken files, pinned as snapshots.
#[test]
fn validation_errors_match_snapshots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diagnostics");
    let overwrite = std::env::var("SNAPSHOTS").is_ok_and(|v| v == "overwrite");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/diagnostics")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "expected diagnostics cases");
    let mut failures = Vec::new();
    for case in cases {
        let name = case
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let (code, _, err) = tokencert(&root, &["validate", &name]);
        assert_eq!(code, 2, "{name} should be invalid:\n{err}");
        let snap = case.with_extension("stderr");
        if overwrite {
            std::fs::write(&snap, &err).expect("write snapshot");
            continue;
        }
        let want = std::fs::read_to_string(&snap).unwrap_or_default();
        if want != err {
            failures.push(format!("--- {name}: expected\n{want}\n--- got\n{err}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(SNAPSHOTS=overwrite to accept)",
        failures.join("\n")
    );
}

/// Without `--target`, the embedded reference server is the target: the catalogue passes against
/// it, and fails (exit 4) when a flaw the catalogue covers is switched on.
#[cfg(feature = "embedded-server")]
#[test]
fn embedded_reference_server_is_the_default_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().expect("tempdir");
    let dir = |n: &str| out.path().join(n).display().to_string();
    let (code, _, err) = tokencert(
        root,
        &["run", "--specs", "specs", "--report-dir", &dir("clean")],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("embedded reference server"), "{err}");
    // grace-ignored only shows with a grace window: --flaw picks the preset where it does.
    for flaw in [
        "superseded-token-accepted",
        "cross-client-refresh",
        "missing-no-store",
        "grace-ignored",
    ] {
        let (code, _, err) = tokencert(
            root,
            &[
                "run",
                "--specs",
                "specs",
                "--flaw",
                flaw,
                "--report-dir",
                &dir(flaw),
            ],
        );
        assert_eq!(code, 4, "{flaw} not caught:\n{err}");
    }
    let (code, _, _) = tokencert(root, &["run", "--flaw", "no-such-flaw"]);
    assert_eq!(code, 1);
}

/// A build without the embedded server says so for everything that needs one (exit 1), and
/// still runs against a target profile.
#[cfg(not(feature = "embedded-server"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_embedded_server_embedded_runs_are_usage_errors() {
    let out = tempfile::tempdir().expect("tempdir");
    let d = out.path();
    // A valid catalogue, so what is refused is the missing server, not the scenarios.
    write(d, &[("specs/ok.yaml", GOOD)]);
    for args in [
        &["run", "--specs", "specs"][..],
        &["run", "--policy", "rfc9700"],
        &["run", "--flaw", "missing-no-store"],
        &["serve", "--policy", "rfc9700"],
        &["fuzz", "--max-requests", "1"],
        &["prop", "--cases", "1"],
    ] {
        let (code, _, err) = tokencert(d, args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(
            err.contains("built without the embedded reference server"),
            "{args:?}: {err}"
        );
    }
    let s = server().await;
    write(
        d,
        &[
            ("target.yaml", &target_yaml(&s.uri(), "")),
            ("specs/ok.yaml", GOOD),
        ],
    );
    let (code, out, err) =
        tokencert_async(d, &["run", "--specs", "specs", "--target", "target.yaml"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("PASS  ok.scenario"), "{out}");
}

/// A scenario that plays a client role with a prerequisite outside its matrix `client` is
/// refused: the runner gates cells by that dimension, so the prerequisite would not gate it.
#[test]
fn a_gated_role_outside_the_matrix_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let pre = "title: the prerequisite
requirements: [{ id: RFC6749-2.3.1.b, level: MUST }]
prerequisite_for: { client: basic_special }
steps:
  - bootstrap: { client: basic_special }
    expect: { status: 200 }
";
    let user = |how: &str| {
        format!(
            "title: a user of the role
requirements: [{{ id: RFC6749-2.3.1.b, level: MUST }}]
{how}
steps:
  - request:
      endpoint: token
      client_auth: {{ client: \"{{{{ matrix.client }}}}\" }}
      form: {{ grant_type: refresh_token, refresh_token: x }}
    expect: {{ status: 400 }}
"
        )
    };
    let outside = user("setup:\n  - include: obtain-tokens\n    with: { role: basic_special }")
        .replace("\"{{ matrix.client }}\"", "basic_special");
    let inside = user("matrix: { client: [basic_special] }\nsetup:\n  - include: obtain-tokens");
    let fixture = "fixture: obtain-tokens
params: { role: confidential }
steps:
  - bootstrap: { client: \"{{ role }}\" }
    expect: { status: 200 }
";
    write(
        d,
        &[
            ("specs/pre.yaml", pre),
            ("specs/inside.yaml", &inside),
            ("specs/fixtures/obtain-tokens.yaml", fixture),
        ],
    );
    let (code, _, err) = tokencert(d, &["validate", "specs"]);
    assert_eq!(code, 0, "{err}");
    write(d, &[("specs/outside.yaml", &outside)]);
    let (code, _, err) = tokencert(d, &["validate", "specs"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        err.matches("the `basic_special` client has a prerequisite (`pre`)")
            .count(),
        2,
        "the include's role and the request's client_auth: {err}"
    );
}
