use super::*;
use crate::report::{Finding, HttpRequestRecord, HttpResponseRecord, Level, Phase, StepResult};

fn exchange(status: u16, body: &str) -> Exchange {
    Exchange {
        request: HttpRequestRecord {
            method: "POST".into(),
            url: "https://as.example/token".into(),
            headers: vec![("authorization".into(), "Basic [REDACTED]".into())],
            body: Some("grant_type=refresh_token&refresh_token=[REDACTED:refresh_token]".into()),
        },
        response: Some(HttpResponseRecord {
            status,
            headers: vec![("cache-control".into(), "no-store".into())],
            body: body.into(),
        }),
        error: None,
        duration_ms: 3,
    }
}

fn step(id: &str, kind: &str, exchanges: Vec<Exchange>) -> StepResult {
    StepResult {
        phase: Phase::Steps,
        id: id.into(),
        name: None,
        kind: kind.into(),
        outcome: StepOutcome::Fail,
        message: None,
        location: None,
        exchanges,
        duration_ms: 3,
    }
}

fn finding(req: &str, level: Level, step: &str, subject: &str, exchange: Option<usize>) -> Finding {
    Finding {
        requirement: req.into(),
        level,
        requirement_text: format!("what {req} says"),
        step: step.into(),
        subject: subject.into(),
        expected: "equals 400".into(),
        observed: "200".into(),
        location: "specs/x.yaml:9:15".into(),
        snippet: format!("error: {subject}: expected equals 400, observed 200\n"),
        exchange,
    }
}

fn result(
    scenario: &str,
    outcome: Outcome,
    steps: Vec<StepResult>,
    findings: Vec<Finding>,
) -> ScenarioResult {
    ScenarioResult {
        scenario: scenario.into(),
        cell: String::new(),
        title: scenario.into(),
        file: "specs/x.yaml".into(),
        outcome,
        reason: None,
        requirements: Vec::new(),
        duration_ms: 5,
        steps,
        findings,
    }
}

const PLAIN: View = View {
    verbose: false,
    paint: Paint { on: false },
};

/// Several predicates failing on one exchange print it once, after all of them.
#[test]
fn an_exchange_is_printed_once_for_all_its_findings() {
    let r = result(
        "a.b",
        Outcome::Fail,
        vec![step("#2", "request", vec![exchange(200, "{\"marker\":1}")])],
        vec![
            finding("R-1", Level::Must, "#2", "status", Some(0)),
            finding("R-2", Level::Must, "#2", "$.error", Some(0)),
            finding("R-3", Level::Should, "#2", "header cache-control", Some(0)),
        ],
    );
    for verbose in [false, true] {
        let text = render_result(&r, View { verbose, ..PLAIN });
        assert_eq!(text.matches("marker").count(), 1, "{text}");
        assert_eq!(text.matches("at step `#2`").count(), 3, "{text}");
        // The exchange follows the last finding on it.
        let last = text.find("R-3 SHOULD").unwrap_or(usize::MAX);
        assert!(text.find("marker").is_some_and(|m| m > last), "{text}");
    }
}

/// A race judged over its set (no single exchange) shows every copy under `-v`, once.
#[test]
fn race_copies_show_under_verbose() {
    let copies: Vec<Exchange> = (0..3)
        .map(|i| exchange(200, &format!("{{\"copy\":{i}}}")))
        .collect();
    let r = result(
        "races.x",
        Outcome::Fail,
        vec![step("#3", "race", copies)],
        vec![
            finding("R-1", Level::Must, "#3", "successes", None),
            finding("R-1", Level::Must, "#3", "server_errors", None),
            finding("R-1", Level::Must, "#3", "each_success $.x", Some(1)),
        ],
    );
    let quiet = render_result(&r, PLAIN);
    assert!(!quiet.contains("\"copy\":0"), "{quiet}");
    let verbose = render_result(
        &r,
        View {
            verbose: true,
            ..PLAIN
        },
    );
    for i in 0..3 {
        assert_eq!(
            verbose.matches(&format!("\"copy\":{i}")).count(),
            1,
            "{verbose}"
        );
    }
    assert!(verbose.contains("copy 3/3:"), "{verbose}");
}

/// Results completing in any order come out in plan order.
#[test]
fn results_print_in_plan_order() {
    let mut order = InOrder::default();
    assert_eq!(order.add(2, "c".into()), "");
    assert_eq!(order.add(1, "b".into()), "");
    assert_eq!(order.add(0, "a".into()), "abc");
    assert_eq!(order.add(4, "e".into()), "");
    assert_eq!(order.add(3, "d".into()), "de");
}

/// The recap groups findings by requirement, MUST before SHOULD, and lists what could not be
/// judged; nothing to recap prints nothing.
#[test]
fn the_recap_groups_failures_by_requirement() {
    let results = vec![
        result(
            "w.one",
            Outcome::Warn,
            Vec::new(),
            vec![finding("R-SHOULD", Level::Should, "#1", "status", None)],
        ),
        result(
            "f.one",
            Outcome::Fail,
            Vec::new(),
            vec![finding("R-MUST", Level::Must, "#1", "status", None)],
        ),
        result("p.one", Outcome::Pass, Vec::new(), Vec::new()),
        result(
            "f.two",
            Outcome::Fail,
            Vec::new(),
            vec![finding("R-MUST", Level::Must, "#4", "$.error", None)],
        ),
        ScenarioResult {
            reason: Some("connection refused".into()),
            ..result("e.one", Outcome::Error, Vec::new(), Vec::new())
        },
        result("x.one", Outcome::Xfail, Vec::new(), Vec::new()),
    ];
    let text = recap(&results, Paint { on: false });
    let must = text.find("R-MUST MUST").unwrap_or(usize::MAX);
    let should = text.find("R-SHOULD SHOULD").unwrap_or(0);
    assert!(must < should, "{text}");
    assert_eq!(text.matches("R-MUST MUST").count(), 1, "{text}");
    let one = text.find("FAIL  f.one").unwrap_or(usize::MAX);
    let two = text.find("FAIL  f.two").unwrap_or(0);
    assert!(must < one && one < two && two < should, "{text}");
    assert!(text.contains("WARN  w.one"), "{text}");
    assert!(
        text.contains("Could not be judged:\n  ERROR e.one  connection refused"),
        "{text}"
    );
    assert!(text.contains("1 known deviation(s)"), "{text}");
    assert!(!text.contains("p.one"), "{text}");
    assert_eq!(recap(&results[2..3], Paint { on: false }), "");
}
