//! JSON writer (`report.json`): the [`RunReport`] itself, pretty-printed.
//!
//! The document carries `schema_version` ([`super::SCHEMA_VERSION`]); `reports/README.md`
//! describes it field by field.

use super::RunReport;

/// Renders the report as pretty-printed JSON with a trailing newline.
pub fn render(report: &RunReport) -> String {
    match serde_json::to_string_pretty(report) {
        Ok(mut text) => {
            text.push('\n');
            text
        }
        // Unreachable for this model (string map keys only), but never panic in a writer:
        // emit a valid document that says what went wrong.
        Err(e) => {
            let fallback = serde_json::json!({
                "schema_version": report.schema_version,
                "run_id": report.run_id,
                "error": format!("could not serialise the report: {e}"),
            });
            format!("{fallback:#}\n")
        }
    }
}

/// Parses a `report.json` document back into a [`RunReport`].
pub fn parse(text: &str) -> Result<RunReport, serde_json::Error> {
    serde_json::from_str(text)
}

/// A hand-built report covering every outcome, shared by the writers' tests.
#[cfg(test)]
pub(crate) mod fixture {
    use std::collections::BTreeMap;

    use crate::report::*;

    fn req(id: &str, level: Level) -> RequirementRef {
        RequirementRef {
            id: id.into(),
            level,
        }
    }

    fn exchange(status: u16, body: &str) -> Exchange {
        Exchange {
            request: HttpRequestRecord {
                method: "POST".into(),
                url: "https://as.example/token".into(),
                headers: vec![
                    (
                        "content-type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ),
                    ("authorization".into(), "Basic [REDACTED]".into()),
                ],
                body: Some("grant_type=refresh_token&refresh_token=[REDACTED]".into()),
            },
            response: Some(HttpResponseRecord {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.into(),
            }),
            error: None,
            duration_ms: 120,
        }
    }

    fn step(id: &str, outcome: StepOutcome, exchanges: Vec<Exchange>) -> StepResult {
        StepResult {
            phase: Phase::Steps,
            id: id.into(),
            name: Some(format!("{id} step")),
            kind: "request".into(),
            outcome,
            message: None,
            location: None,
            exchanges,
            duration_ms: 130,
        }
    }

    fn finding(requirement: &str, level: Level, step: &str, observed: &str) -> Finding {
        Finding {
            requirement: requirement.into(),
            level,
            requirement_text: format!("{requirement} says <so> & so"),
            step: step.into(),
            subject: "status".into(),
            expected: "200".into(),
            observed: observed.into(),
            location: "specs/refresh.yaml:12:9".into(),
            snippet: "error: status mismatch\n  --> specs/refresh.yaml:12:9\n   |\n12 |   status: 200\n   |     ^^^^^^ expected 200\n".into(),
            exchange: Some(0),
        }
    }

    fn result(scenario: &str, cell: &str, outcome: Outcome) -> ScenarioResult {
        ScenarioResult {
            scenario: scenario.into(),
            cell: cell.into(),
            title: format!("Title of {scenario}"),
            file: format!("specs/{scenario}.yaml"),
            outcome,
            reason: None,
            requirements: vec![req("RFC6749-6-refresh", Level::Must)],
            duration_ms: 250,
            steps: vec![step(
                "refresh",
                StepOutcome::Pass,
                vec![exchange(200, "{}")],
            )],
            findings: Vec::new(),
        }
    }

    /// Nine results, one per outcome; nasty strings (`<&"'>`, control characters) in ids,
    /// titles, reasons and observations; a flaw matrix.
    pub(crate) fn fixture() -> RunReport {
        let pass = result("refresh-basic", "client=confidential", Outcome::Pass);

        let mut fail = result("refresh-rotation", "client=public", Outcome::Fail);
        fail.requirements
            .push(req("RFC9700-4.14-rotation", Level::Should));
        fail.steps = vec![
            step("bootstrap", StepOutcome::Pass, vec![exchange(200, "{}")]),
            step(
                "refresh",
                StepOutcome::Fail,
                vec![exchange(400, "{\"error\":\"invalid_grant\",\"x\":\"<b>\"}")],
            ),
        ];
        fail.findings = vec![
            finding(
                "RFC6749-6-refresh",
                Level::Must,
                "refresh",
                "<html> & \"quotes\" 'x'",
            ),
            finding("RFC9700-4.14-rotation", Level::Should, "refresh", "400"),
        ];

        let mut warn = result("rotation-should", "", Outcome::Warn);
        warn.requirements = vec![req("RFC9700-4.14-rotation", Level::Should)];
        warn.findings = vec![finding(
            "RFC9700-4.14-rotation",
            Level::Should,
            "refresh",
            "201",
        )];

        let mut info = result("scope-may", "", Outcome::Info);
        info.requirements = vec![req("RFC6749-6-scope", Level::May)];
        let mut f = finding("RFC6749-6-scope", Level::May, "refresh", "scope omitted");
        f.exchange = None;
        info.findings = vec![f];

        let mut skip = result("revoke-family", "client=public", Outcome::Skip);
        skip.reason = Some("target lacks capability `revocation`".into());
        skip.requirements = vec![req("RFC7009-2.1-revoke", Level::Must)];
        skip.steps.clear();

        let mut xfail = result("reuse-detect", "", Outcome::Xfail);
        xfail.reason = Some("known deviation: PROJ-1 <open>".into());
        xfail.findings = vec![finding("RFC6749-6-refresh", Level::Must, "refresh", "200")];

        let mut xpass = result("old-bug", "", Outcome::Xpass);
        xpass.reason = Some("PROJ-2".into());

        let mut error = result("weird<&\"'>", "cell=\u{7}bell", Outcome::Error);
        error.title = "Escape \u{1b}[31m <me> & \"you\"".into();
        error.reason = Some("connection refused".into());
        let mut boot = step("bootstrap", StepOutcome::Error, Vec::new());
        boot.message = Some("connection refused".into());
        boot.exchanges = vec![Exchange {
            request: exchange(0, "").request,
            response: None,
            error: Some("tcp connect error: connection refused".into()),
            duration_ms: 3,
        }];
        error.steps = vec![boot];

        let mut timeout = result("slow-race", "client=confidential", Outcome::Timeout);
        timeout.reason = Some("no answer within 10 s".into());
        let mut slow = step("refresh", StepOutcome::Error, Vec::new());
        slow.message = Some("no answer within 10 s".into());
        slow.exchanges = vec![Exchange {
            request: exchange(0, "").request,
            response: None,
            error: Some("no answer within 10 s".into()),
            duration_ms: 10_000,
        }];
        timeout.steps = vec![slow];

        let results = vec![pass, fail, warn, info, skip, xfail, xpass, error, timeout];

        let counts = |pairs: &[(&str, usize)]| -> BTreeMap<String, usize> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        let requirements = vec![
            RequirementSummary {
                id: "RFC6749-6-refresh".into(),
                level: Level::Must,
                spec: "RFC 6749".into(),
                text: "Refresh <tokens> & \"grants\"".into(),
                outcome: RequirementOutcome::of([Outcome::Error]),
                counts: counts(&[("PASS", 1), ("FAIL", 1), ("ERROR", 1), ("XFAIL", 1)]),
            },
            RequirementSummary {
                id: "RFC6749-6-scope".into(),
                level: Level::May,
                spec: "RFC 6749".into(),
                text: "Scope may be omitted".into(),
                outcome: RequirementOutcome::of([Outcome::Info]),
                counts: counts(&[("INFO", 1)]),
            },
            RequirementSummary {
                id: "RFC7009-2.1-revoke".into(),
                level: Level::Must,
                spec: "RFC 7009".into(),
                text: "The `token` parameter is **required** <b>".into(),
                outcome: RequirementOutcome::UNTESTED,
                counts: counts(&[("SKIP", 1)]),
            },
            RequirementSummary {
                id: "RFC9700-4.14-rotation".into(),
                level: Level::Should,
                spec: "RFC 9700".into(),
                text: "Rotate refresh tokens".into(),
                outcome: RequirementOutcome::of([Outcome::Fail]),
                counts: counts(&[("FAIL", 1), ("WARN", 1)]),
            },
        ];

        RunReport {
            schema_version: SCHEMA_VERSION,
            tool: Tool {
                name: "tokencert".into(),
                version: "0.1.0".into(),
            },
            run_id: "run-2025<01>&'x'".into(),
            started_at: "2025-01-02T03:04:05Z".into(),
            duration_ms: 12_345,
            target: TargetInfo {
                name: "acme <prod> & \"co\"".into(),
                base_url: "https://as.example".into(),
                policy: "rfc9700-strict".into(),
                flaws: vec!["accept-reused-refresh".into()],
                capabilities: vec!["refresh".into(), "rotation".into()],
            },
            summary: Summary {
                total: 9,
                pass: 1,
                fail: 1,
                warn: 1,
                info: 1,
                skip: 1,
                error: 1,
                timeout: 1,
                xfail: 1,
                xpass: 1,
            },
            coverage: Coverage {
                requirements_applicable: 4,
                requirements_tested: 3,
                cells_total: 9,
                cells_skipped: 1,
            },
            results,
            requirements,
            exit_code: 4,
            fail_on: FailOn::Fail,
            flaw_matrix: Some(FlawMatrix {
                rows: vec!["accept-reused-refresh".into(), "no-<rotation>".into()],
                columns: vec!["refresh-rotation".into(), "reuse-detect".into()],
                cells: vec![
                    vec!["caught".into(), "passed".into()],
                    vec!["caught".into(), "skip".into()],
                ],
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::fixture;
    use super::*;

    #[test]
    fn round_trip() {
        let report = fixture();
        let text = render(&report);
        assert!(text.ends_with("}\n"));
        let back = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        // Re-rendering the parsed report gives the same bytes: nothing lost, nothing added.
        assert_eq!(render(&back), text);
        assert_eq!(back.summary, report.summary);
        assert_eq!(back.results.len(), 9);
        assert_eq!(back.results[7].scenario, "weird<&\"'>");
        assert_eq!(back.results[7].cell, "cell=\u{7}bell");
        assert_eq!(back.results[1].findings[0].exchange, Some(0));
        assert!(back.flaw_matrix.is_some());
    }

    #[test]
    fn schema_version_and_shape() {
        let text = render(&fixture());
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(value["schema_version"], 2);
        assert_eq!(value["coverage"]["requirements_tested"], 3);
        assert_eq!(value["requirements"][2]["outcome"], "untested");
        assert!(
            value.get("fail_on").is_none(),
            "the default threshold is not written"
        );
        assert_eq!(value["results"][1]["outcome"], "fail");
        assert_eq!(value["results"][0]["steps"][0]["phase"], "steps");
        assert_eq!(
            value["results"][0]["steps"][0]["exchanges"][0]["request"]["headers"][0],
            serde_json::json!(["content-type", "application/x-www-form-urlencoded"])
        );
        // Optional fields are omitted when absent.
        assert!(value["results"][0].get("reason").is_none());
        assert!(
            value["results"][7]["steps"][0]["exchanges"][0]
                .get("response")
                .is_none()
        );
        // The first key is schema_version (preserve_order), so readers can sniff it cheaply.
        assert!(text.starts_with("{\n  \"schema_version\": 2,"));
    }

    #[test]
    fn without_flaw_matrix() {
        let mut report = fixture();
        report.flaw_matrix = None;
        let text = render(&report);
        assert!(!text.contains("flaw_matrix"));
        let back = parse(&text).unwrap_or_else(|e| panic!("{e}"));
        assert!(back.flaw_matrix.is_none());
    }

    #[test]
    fn parse_rejects_garbage() {
        assert!(parse("{\"schema_version\": 1}").is_err());
        assert!(parse("not json").is_err());
    }
}
