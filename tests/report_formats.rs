//! The machine-readable formats against the schemas CI tools read, and the CI conventions of
//! `run`: JUnit XML valid under the Jenkins/GitLab schema (`tests/schemas/junit-10.xsd`, checked
//! with `xmllint`), SARIF valid under the OASIS 2.1.0 schema, `--fail-on`, GitHub Actions
//! annotations, and `untested` requirements in every format.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tokencert::report::sarif::{Location, Log, Rule, SarifLevel, SarifResult};
use tokencert::report::{RunReport, json, junit, sarif};

fn schema(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/schemas")
        .join(name)
}

fn tokencert(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tokencert"));
    cmd.args(args).env_remove("GITHUB_ACTIONS");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run tokencert")
}

/// `tokencert run` against the embedded server into `dir`, with `args` added.
fn run(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let dir = dir.to_str().expect("utf-8 path");
    let mut all = vec!["run", "--no-progress", "--report-dir", dir];
    all.extend_from_slice(args);
    tokencert(&all, envs)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A report with every outcome, every optional field, and text that XML and JSON writers must
/// escape: control characters, quotes, markup, non-ASCII.
fn every_outcome() -> RunReport {
    let nasty = "<x a=\"1\" b='2'>&amp; \u{1b}[31m\u{7} é ]]> --></x>";
    let exchange = serde_json::json!({
        "request": {
            "method": "POST",
            "url": "http://127.0.0.1:1/token",
            "headers": [["content-type", "application/x-www-form-urlencoded"]],
            "body": format!("grant_type=refresh_token&refresh_token=[REDACTED]&x={nasty}")
        },
        "response": {
            "status": 400,
            "headers": [["content-type", "application/json"], ["x-evil", nasty]],
            "body": format!("{{\"error\":\"invalid_grant\",\"error_description\":\"{}\"}}", nasty.replace('"', "\\\""))
        },
        "duration_ms": 3
    });
    let finding = |req: &str, level: &str, location: &str| {
        serde_json::json!({
            "requirement": req, "level": level, "requirement_text": format!("`{req}` {nasty}"),
            "step": "refresh", "subject": "status", "expected": "400", "observed": nasty,
            "location": location, "snippet": format!("error: {nasty}\n  ^^^"), "exchange": 0
        })
    };
    let result = |scenario: &str, cell: &str, outcome: &str, findings: Vec<serde_json::Value>| {
        serde_json::json!({
            "scenario": scenario, "cell": cell, "title": format!("Title {nasty}"),
            "file": format!("specs/{scenario}.yaml"), "outcome": outcome,
            "reason": format!("because {nasty}"),
            "requirements": [{ "id": "RFC6749-5.2.a", "level": "MUST" }],
            "duration_ms": 1234,
            "steps": [{ "phase": "steps", "id": "refresh", "kind": "request", "outcome": "fail",
                        "message": nasty, "exchanges": [exchange.clone()], "duration_ms": 5 }],
            "findings": findings
        })
    };
    let must = || vec![finding("RFC6749-5.2.a", "MUST", "specs/a.yaml:12:9")];
    let results = vec![
        result("pass", "", "pass", vec![]),
        result("fail", "client=public", "fail", must()),
        result("fail", "client=confidential", "fail", must()),
        result(
            "warn",
            "",
            "warn",
            vec![finding("RFC6749-5.2.b", "SHOULD", "specs/b.yaml:3")],
        ),
        result(
            "info",
            "",
            "info",
            vec![finding("RFC6749-5.2.c", "MAY", "")],
        ),
        result("skip", "", "skip", vec![]),
        result("xfail", "", "xfail", must()),
        result("xpass", "", "xpass", vec![]),
        result("timeout", "", "timeout", vec![]),
        result(&format!("error{nasty}"), nasty, "error", vec![]),
        // Rows the claims checks add: no steps, a finding without location.
        serde_json::json!({
            "scenario": "policy.rotation.public", "cell": "", "title": "Policy check",
            "file": "", "outcome": "fail",
            "requirements": [{ "id": "RFC9700-4.14.2.a", "level": "MUST" }],
            "duration_ms": 0, "steps": [],
            "findings": [{ "requirement": "RFC9700-4.14.2.a", "level": "MUST", "step": "",
                           "subject": "policy rotation", "expected": "rotated or bound",
                           "observed": "neither", "location": "", "snippet": "" }]
        }),
    ];
    let doc = serde_json::json!({
        "schema_version": 2,
        "tool": { "name": "tokencert", "version": "0.0.0" },
        "run_id": format!("run {nasty}"),
        "started_at": "2026-01-02T03:04:05Z",
        "duration_ms": 12345,
        "target": { "name": format!("target {nasty}"), "base_url": "http://127.0.0.1:1",
                    "policy": "rfc9700", "flaws": [], "capabilities": ["refresh"] },
        "summary": {},
        "results": results,
        "requirements": [
            { "id": "RFC6749-5.2.a", "level": "MUST", "spec": "RFC 6749", "text": nasty,
              "outcome": "fail", "counts": { "FAIL": 2 } },
            { "id": "RFC7009-2.1.a", "level": "MUST", "spec": "RFC 7009", "text": "untested one",
              "outcome": "untested", "counts": { "SKIP": 1 } }
        ],
        "exit_code": 4
    });
    let mut report = json::parse(&doc.to_string()).expect("a valid report");
    report.summary = tokencert::report::summarize(&report.results);
    report.coverage = tokencert::report::Coverage::of(&report.requirements, &report.summary);
    report
}

/// Whether a tool CI installs is here; outside CI a missing one skips the check (saying so).
fn have(tool: &str, why: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is missing in CI: .ci/run installs it ({why})"
        );
        eprintln!("SKIPPED: {tool} is not installed ({why}); `apt-get install {tool}` to run it");
    }
    found
}

/// Validates `xml` against the vendored Jenkins JUnit schema with xmllint.
fn assert_junit_valid(xml: &str, name: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(name);
    std::fs::write(&file, xml).expect("write");
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema("junit-10.xsd"))
        .arg(&file)
        .output()
        .expect("xmllint");
    assert!(
        out.status.success(),
        "{name} does not validate:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_sarif_valid(text: &str, name: &str) {
    let schema: serde_json::Value =
        serde_json::from_str(&read(&schema("sarif-schema-2.1.0.json"))).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("compile the SARIF schema");
    let doc: serde_json::Value = serde_json::from_str(text).expect("SARIF is JSON");
    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{name} is not valid SARIF 2.1.0:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_schema_checks_reject_what_they_should() {
    // The validators are not vacuous: a `file` attribute on a testcase, or a SARIF result
    // without a message, is refused.
    if have("xmllint", "JUnit schema validation") {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("bad.xml");
        std::fs::write(
            &file,
            "<testsuites><testsuite name=\"s\" tests=\"1\" failures=\"0\" errors=\"0\">\
             <testcase name=\"c\" file=\"x.yaml\"/></testsuite></testsuites>",
        )
        .expect("write");
        let out = Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(schema("junit-10.xsd"))
            .arg(&file)
            .output()
            .expect("xmllint");
        assert!(!out.status.success(), "the schema accepted testcase@file");
    }
    let schema: serde_json::Value =
        serde_json::from_str(&read(&schema("sarif-schema-2.1.0.json"))).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("schema");
    let bad = serde_json::json!({ "version": "2.1.0", "runs": [ { "tool": { "driver": { "name": "t" } },
        "results": [ { "ruleId": "x" } ] } ] });
    assert!(!validator.is_valid(&bad));
}

#[test]
fn junit_and_sarif_of_every_outcome_validate() {
    let report = every_outcome();
    assert_sarif_valid(&sarif::render_run(&report), "every-outcome.sarif");
    if have("xmllint", "JUnit schema validation") {
        assert_junit_valid(&junit::render(&report), "every-outcome.xml");
    }
}

#[test]
fn a_fuzzer_style_sarif_log_validates() {
    // What the black-box fuzzer writes: findings at an endpoint, not in a file.
    let mut log = Log::new("tokencert-fuzz", "0.0.0");
    log.rule(Rule {
        id: "server-error".into(),
        description: "the token endpoint never answers 5xx".into(),
        level: SarifLevel::Error,
        properties: [("requirement".to_owned(), serde_json::json!("RFC6749-5.2"))].into(),
    });
    log.result(SarifResult {
        rule_id: "server-error".into(),
        level: SarifLevel::Error,
        message: "POST /token answered 500 to a duplicated grant_type".into(),
        locations: vec![
            Location::Logical {
                name: "POST /token".into(),
                kind: "resource".into(),
            },
            Location::File {
                uri: "reports/fuzz/repro-1.yaml".into(),
                line: None,
                column: None,
            },
        ],
        fingerprint: "server-error POST /token grant_type dup".into(),
        properties: [("count".to_owned(), serde_json::json!(3))].into(),
    });
    log.notification(SarifLevel::Warning, "request budget reached");
    let text = log.render();
    assert_sarif_valid(&text, "fuzz.sarif");
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["runs"][0]["results"][0]["ruleIndex"], 0);
    let rule = &v["runs"][0]["tool"]["driver"]["rules"][0];
    assert_eq!(rule["id"], "server-error");
    assert_eq!(rule["properties"]["requirement"], "RFC6749-5.2");
}

#[test]
fn a_run_writes_valid_junit_and_sarif_and_honours_fail_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    // One SHOULD broken: `token-endpoint-accepts-get` makes `hygiene.get-not-accepted` WARN.
    let args = [
        "--flaw",
        "token-endpoint-accepts-get",
        "-f",
        "hygiene.get-not-accepted",
    ];
    let plain = run(&dir.path().join("plain"), &args, &[]);
    assert_eq!(
        plain.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let report = json::parse(&read(&dir.path().join("plain/report.json"))).expect("report");
    assert!(report.summary.warn > 0, "the flaw shows as a WARN");
    assert!(read(&dir.path().join("plain/junit.xml")).contains("WARN: 3 non-blocking finding(s)"));

    let mut strict_args = args.to_vec();
    strict_args.extend(["--fail-on", "warn"]);
    let strict = run(&dir.path().join("strict"), &strict_args, &[]);
    assert_eq!(
        strict.status.code(),
        Some(4),
        "--fail-on warn fails on a SHOULD"
    );
    let xml = read(&dir.path().join("strict/junit.xml"));
    assert!(xml.contains("<failure ") && xml.contains("type=\"SHOULD\""));
    assert!(xml.contains("<property name=\"fail_on\" value=\"warn\"/>"));
    let report = json::parse(&read(&dir.path().join("strict/report.json"))).expect("report");
    assert_eq!((report.exit_code, report.fail_on.as_str()), (4, "warn"));
    let mut info_args = args.to_vec();
    info_args.extend(["--fail-on", "info"]);
    assert_eq!(
        run(&dir.path().join("info"), &info_args, &[]).status.code(),
        Some(4)
    );

    // An unknown level is a usage error.
    let mut bad = args.to_vec();
    bad.extend(["--fail-on", "should"]);
    let out = run(&dir.path().join("bad"), &bad, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fail, warn, info"));

    for d in ["plain", "strict"] {
        assert_sarif_valid(&read(&dir.path().join(d).join("report.sarif")), d);
        if have("xmllint", "JUnit schema validation") {
            assert_junit_valid(&read(&dir.path().join(d).join("junit.xml")), d);
        }
    }
    let sarif: serde_json::Value =
        serde_json::from_str(&read(&dir.path().join("plain/report.sarif"))).expect("sarif");
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["level"], "warning");
    assert!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .is_some_and(|u| u.ends_with("get-not-accepted.yaml")),
        "{result}"
    );
}

#[test]
fn github_actions_annotations_only_under_github_actions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let args = [
        "--flaw",
        "superseded-token-accepted",
        "-f",
        "rotation.*",
        "-f",
        "errors.rotated-out-refresh-token",
    ];
    let gh = run(&dir.path().join("gh"), &args, &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(gh.status.code(), Some(4));
    let stdout = String::from_utf8_lossy(&gh.stdout);
    let commands: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    let errors: Vec<&&str> = commands
        .iter()
        .filter(|l| l.starts_with("::error file=specs/"))
        .collect();
    assert!(!errors.is_empty(), "{stdout}");
    for e in &errors {
        assert!(
            e.contains(",line=") && e.contains(",col=") && e.contains(",title=FAIL "),
            "{e}"
        );
        assert!(!e.contains('\r'));
    }
    // One annotation per root cause, fewer than failing cells.
    let report = json::parse(&read(&dir.path().join("gh/report.json"))).expect("report");
    assert!(
        errors.len() < report.summary.fail,
        "{} vs {}",
        errors.len(),
        report.summary.fail
    );
    assert!(
        commands.last().is_some_and(
            |l| l.starts_with("::notice title=tokencert%3A ") && l.contains("FAILED: ")
        ),
        "{stdout}"
    );

    let plain = run(&dir.path().join("plain"), &args, &[]);
    assert!(
        !String::from_utf8_lossy(&plain.stdout)
            .lines()
            .any(|l| l.starts_with("::")),
        "annotations outside GitHub Actions"
    );
}

#[test]
fn untested_requirements_read_untested_in_every_format() {
    // Under fapi2 several grant scenarios skip (the password grant is off, ...): the
    // requirements only they reference were not tested.
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(dir.path(), &["--policy", "fapi2", "-f", "grants.*"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let report = json::parse(&read(&dir.path().join("report.json"))).expect("report");
    let untested: Vec<&str> = report
        .requirements
        .iter()
        .filter(|r| !r.outcome.is_tested())
        .map(|r| r.id.as_str())
        .collect();
    assert!(!untested.is_empty(), "some requirement is untested");
    let cov = &report.coverage;
    assert_eq!(cov.requirements_untested(), untested.len());
    assert!(cov.cells_skipped > 0 && cov.cells_skipped < cov.cells_total);
    // Every requirement whose cells all skipped is untested, never pass.
    for req in &report.requirements {
        let skipped_only = report
            .results
            .iter()
            .filter(|r| r.requirements.iter().any(|q| q.id == req.id))
            .all(|r| r.outcome == tokencert::report::Outcome::Skip);
        assert_eq!(!req.outcome.is_tested(), skipped_only, "{}", req.id);
    }
    let json_text = read(&dir.path().join("report.json"));
    assert!(json_text.contains("\"outcome\": \"untested\""));
    let headline = format!(
        "PASSED: {} of {} requirements tested ({} untested); {} of {} cells skipped",
        cov.requirements_tested,
        cov.requirements_applicable,
        untested.len(),
        cov.cells_skipped,
        cov.cells_total
    );
    // Console (results and the verdict go to stdout), JUnit, HTML.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&headline), "{stdout}");
    let xml = read(&dir.path().join("junit.xml"));
    assert!(xml.contains(&format!(
        "<property name=\"verdict\" value=\"{headline}\"/>"
    )));
    for id in &untested {
        assert!(
            xml.contains(&format!(
                "name=\"requirement:{id}\" value=\"MUST UNTESTED\""
            )) || xml.contains(&format!(
                "name=\"requirement:{id}\" value=\"SHOULD UNTESTED\""
            )) || xml.contains(&format!("name=\"requirement:{id}\" value=\"MAY UNTESTED\"")),
            "{id}"
        );
    }
    let html = read(&dir.path().join("report.html"));
    assert_eq!(
        html.matches("<tr class=\"untested\">").count(),
        untested.len()
    );
    assert!(html.contains(&format!(
        "<strong>{} of {}</strong> requirements tested",
        cov.requirements_tested, cov.requirements_applicable
    )));
}
