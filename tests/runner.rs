//! The runner's assertion logic against wiremock servers: a passing and a failing case for every
//! predicate, capture, gate, race outcome and level.

mod common;

use common::*;
use serde_json::json;
use tokencert::report::Outcome;
use wiremock::matchers::{body_string_contains, header_exists, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn token_body() -> serde_json::Value {
    json!({
        "access_token": "AT-planted-0001",
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "write read",
        "refresh_token": "RT-planted-0002",
        "list": ["a", "b"]
    })
}

async fn token_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body())
                .insert_header("cache-control", "no-store")
                .insert_header("pragma", "no-cache"),
        )
        .mount(&server)
        .await;
    server
}

fn scenario(id: &str, expect: &str) -> String {
    format!(
        "id: {id}
title: predicate case
requirements: [{{ id: RFC6749-5.1.a, level: MUST }}]
steps:
  - request:
      endpoint: token
      client_auth: confidential
      form: {{ grant_type: refresh_token, refresh_token: x }}
    expect:
{expect}"
    )
}

/// Every predicate: one expectation that holds and one that does not, against the same answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_predicate_passes_and_fails_against_a_real_response() {
    let server = token_server().await;
    let cases: &[(&str, &str, &str)] = &[
        (
            "equals",
            "      json: { $.token_type: { equals: Bearer } }",
            "      json: { $.token_type: { equals: DPoP } }",
        ),
        (
            "not_equals",
            "      json: { $.token_type: { not_equals: DPoP } }",
            "      json: { $.token_type: { not_equals: Bearer } }",
        ),
        (
            "equals_ci",
            "      json: { $.token_type: { equals_ci: bearer } }",
            "      json: { $.token_type: { equals_ci: dpop } }",
        ),
        (
            "one_of",
            "      status: [200, 201]",
            "      status: [400, 401]",
        ),
        (
            "not_one_of",
            "      status: { not_one_of: [500, 502] }",
            "      status: { not_one_of: [200] }",
        ),
        (
            "exists",
            "      json: { $.refresh_token: { exists: true } }",
            "      json: { $.id_token: { exists: true } }",
        ),
        (
            "absent",
            "      json: { $.error: { absent: true } }",
            "      json: { $.access_token: { absent: true } }",
        ),
        (
            "type",
            "      json: { $.expires_in: { type: integer } }",
            "      json: { $.expires_in: { type: string } }",
        ),
        (
            "matches",
            "      json: { $.access_token: { matches: '^AT-' } }",
            "      json: { $.access_token: { matches: '^RT-' } }",
        ),
        (
            "not_matches",
            "      json: { $.access_token: { not_matches: '\\s' } }",
            "      json: { $.access_token: { not_matches: 'planted' } }",
        ),
        (
            "contains",
            "      headers: { Cache-Control: { contains: no-store } }",
            "      headers: { Cache-Control: { contains: private } }",
        ),
        (
            "not_contains",
            "      json: { $.list: { not_contains: z } }",
            "      json: { $.list: { not_contains: a } }",
        ),
        (
            "starts_with",
            "      json: { $.refresh_token: { starts_with: RT- } }",
            "      json: { $.refresh_token: { starts_with: AT- } }",
        ),
        (
            "gt",
            "      json: { $.expires_in: { gt: 0 } }",
            "      json: { $.expires_in: { gt: 3600 } }",
        ),
        (
            "gte",
            "      json: { $.expires_in: { gte: 3600 } }",
            "      json: { $.expires_in: { gte: 3601 } }",
        ),
        (
            "lt",
            "      json: { $.expires_in: { lt: 3601 } }",
            "      json: { $.expires_in: { lt: 3600 } }",
        ),
        (
            "lte",
            "      json: { $.expires_in: { lte: 3600 } }",
            "      json: { $.expires_in: { lte: 10 } }",
        ),
        (
            "length",
            "      json: { $.list: { length: 2 } }",
            "      json: { $.list: { length: 3 } }",
        ),
        (
            "same_words",
            "      json: { $.scope: { same_words: read write } }",
            "      json: { $.scope: { same_words: read } }",
        ),
        (
            "words_subset_of",
            "      json: { $.scope: { words_subset_of: read write admin } }",
            "      json: { $.scope: { words_subset_of: read } }",
        ),
        (
            "words_exclude",
            "      json: { $.scope: { words_exclude: admin } }",
            "      json: { $.scope: { words_exclude: write } }",
        ),
    ];
    assert_eq!(
        cases.len(),
        tokencert::scenario::Op::ALL.len(),
        "a case for every predicate"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut files = vec![("target.yaml".to_owned(), target_yaml(&server.uri(), ""))];
    for (name, good, bad) in cases {
        files.push((
            format!("specs/{name}-pass.yaml"),
            scenario(&format!("{name}.pass"), good),
        ));
        files.push((
            format!("specs/{name}-fail.yaml"),
            scenario(&format!("{name}.fail"), bad),
        ));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    write(dir.path(), &refs);
    let results = run_dir(dir.path()).await;
    for (name, _, _) in cases {
        assert_eq!(
            outcome_of(&results, &format!("{name}.pass")),
            Outcome::Pass,
            "{name} should pass"
        );
        assert_eq!(
            outcome_of(&results, &format!("{name}.fail")),
            Outcome::Fail,
            "{name} should fail"
        );
    }
    let failed = results
        .iter()
        .find(|r| r.scenario == "equals.fail")
        .expect("present");
    let f = &failed.findings[0];
    assert_eq!(
        (f.requirement.as_str(), f.level.as_str()),
        ("RFC6749-5.1.a", "MUST")
    );
    assert_eq!(f.expected, "equals \"DPoP\"");
    assert_eq!(f.observed, "\"Bearer\"");
    assert!(
        f.location.ends_with("equals-fail.yaml:10:39"),
        "{}",
        f.location
    );
    assert!(f.snippet.contains("^^^^"), "{}", f.snippet);
}

/// Captures feed later steps: json, header + url_param, status, regex, jwt claim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_flow_into_later_steps_and_fail_when_missing() {
    let server = MockServer::start().await;
    // An id_token whose payload is {"sub":"alice"} (unsigned: only the claim is read).
    let id_token = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.";
    Mock::given(method("GET"))
        .and(path("/authorize"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", "https://client.example/cb?code=CODE123&state=s"),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("refresh_token=RT-planted-0002"))
        .and(body_string_contains("code=CODE123"))
        .and(body_string_contains("sub=alice"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "refresh_token": "RT-planted-0002", "id_token": id_token, "note": "value=42;"
        })))
        .mount(&server)
        .await;
    let chain = "id: capture.chain
title: captures
requirements: [{ id: RFC6749-6.a, level: MUST }]
steps:
  - request: { endpoint: token, form: { grant_type: password } }
    capture:
      rt: { json: $.refresh_token, secret: true }
      sub: { json: $.id_token, jwt_claim: sub }
      num: { json: $.note, regex: 'value=(\\d+)' }
      st: { status: true }
  - request: { url: /authorize, method: GET }
    capture:
      code: { header: location, url_param: code }
  - request:
      endpoint: token
      form: { grant_type: refresh_token, refresh_token: '{{ rt }}', code: '{{ code }}', sub: '{{ sub }}' }
    expect:
      json: { $.ok: true }
  - request: { endpoint: token, form: { n: '{{ num }}', s: '{{ st }}' } }
    expect:
      status: 200
";
    let missing = "id: capture.missing
title: a capture that finds nothing is an error
requirements: [{ id: RFC6749-6.a, level: MUST }]
steps:
  - request: { endpoint: token, form: { grant_type: password } }
    capture:
      nothing: { json: $.not_there }
";
    let dir = tempfile::tempdir().expect("tempdir");
    let target = target_yaml(&server.uri(), "");
    write(
        dir.path(),
        &[
            ("target.yaml", &target),
            ("specs/chain.yaml", chain),
            ("specs/missing.yaml", missing),
        ],
    );
    let results = run_dir(dir.path()).await;
    assert_eq!(
        outcome_of(&results, "capture.chain"),
        Outcome::Pass,
        "{:#?}",
        results[0]
    );
    assert_eq!(outcome_of(&results, "capture.missing"), Outcome::Error);
}

/// Gates: requires/unless skip with a reason, step-level when skips a step, an undefined matrix
/// client skips its cell, and a scenario whose every step is skipped is a Skip.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capability_gates_skip_with_reasons() {
    let server = token_server().await;
    let base = |id: &str, gate: &str, step_gate: &str| {
        format!(
            "id: {id}
title: gate
requirements: [{{ id: RFC6749-6.a, level: MUST }}]
{gate}
steps:
  - request: {{ endpoint: token, form: {{ grant_type: x }} }}
{step_gate}    expect: {{ status: 200 }}
"
        )
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let target = target_yaml(&server.uri(), "");
    let files = [
        (
            "specs/a.yaml",
            base(
                "gate.requires-missing",
                "requires: [dpop.nonce, refresh.rotation]",
                "",
            ),
        ),
        (
            "specs/b.yaml",
            base("gate.requires-present", "requires: [refresh.rotation]", ""),
        ),
        (
            "specs/c.yaml",
            base("gate.unless-present", "unless: [refresh.rotation]", ""),
        ),
        (
            "specs/d.yaml",
            base("gate.unless-absent", "unless: [refresh.grace]", ""),
        ),
        (
            "specs/e.yaml",
            base(
                "gate.all-steps-skipped",
                "",
                "    when: [client_auth.enforce_registered_method]\n",
            ),
        ),
        (
            "specs/f.yaml",
            base(
                "gate.matrix",
                "matrix: { client: [confidential, dpop] }",
                "",
            ),
        ),
    ];
    let mut all: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    all.push(("target.yaml", &target));
    write(dir.path(), &all);
    let results = run_dir(dir.path()).await;
    let reason = |n: &str| {
        results
            .iter()
            .find(|r| r.name() == n)
            .and_then(|r| r.reason.clone())
            .unwrap_or_default()
    };
    assert_eq!(outcome_of(&results, "gate.requires-missing"), Outcome::Skip);
    assert_eq!(
        reason("gate.requires-missing"),
        "target lacks dpop.nonce (policy: dpop.supported, dpop.nonce_required; no standard claimed)"
    );
    assert_eq!(outcome_of(&results, "gate.requires-present"), Outcome::Pass);
    assert_eq!(outcome_of(&results, "gate.unless-present"), Outcome::Skip);
    assert!(reason("gate.unless-present").contains("refresh.rotation"));
    assert_eq!(outcome_of(&results, "gate.unless-absent"), Outcome::Pass);
    assert_eq!(
        outcome_of(&results, "gate.all-steps-skipped"),
        Outcome::Skip
    );
    assert_eq!(
        outcome_of(&results, "gate.matrix[client=confidential]"),
        Outcome::Pass
    );
    assert_eq!(
        outcome_of(&results, "gate.matrix[client=dpop]"),
        Outcome::Skip
    );
    assert_eq!(
        reason("gate.matrix[client=dpop]"),
        "target defines no `dpop` client"
    );
}

/// Introspection asks as the client the policy says answers (`client.introspector`): the token's
/// owner under `introspection.callers: owner`; a cell whose client's tokens nobody may
/// introspect (a public client there) skips the check and names it in the result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn introspection_asks_the_owner_and_reports_checks_it_cannot_make() {
    let server = token_server().await;
    Mock::given(method("POST"))
        .and(path("/introspect"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"active": true})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let target = target_yaml(&server.uri(), "").replace(
        "policy: rfc9700",
        "policy: { preset: rfc9700, introspection: { callers: owner } }",
    );
    let scenario = "id: observe
title: observe
requirements: [{ id: RFC7662-2.2.a, level: MUST }]
matrix: { client: [confidential, confidential2, public] }
steps:
  - id: refresh
    request: { endpoint: token, client_auth: \"{{ matrix.client }}\", form: { grant_type: x } }
    expect: { status: 200 }
  - id: introspect
    when: [introspection.refresh_tokens, introspection.cell_client]
    request: { endpoint: introspection, client_auth: \"{{ client.introspector }}\", form: { token: t } }
    expect: { json: { $.active: true } }
";
    write(
        dir.path(),
        &[("specs/observe.yaml", scenario), ("target.yaml", &target)],
    );
    let results = run_dir(dir.path()).await;
    let cell = |c: &str| {
        results
            .iter()
            .find(|r| r.name() == format!("observe[client={c}]"))
            .unwrap_or_else(|| panic!("no cell {c}"))
    };
    for c in ["confidential", "confidential2", "public"] {
        assert_eq!(cell(c).outcome, Outcome::Pass, "{c}: {:?}", cell(c).reason);
    }
    // confidential2 authenticates in the body (client_secret_post): it asked itself.
    let asked = &cell("confidential2").steps[1].exchanges[0].request;
    assert!(
        asked
            .body
            .as_deref()
            .unwrap_or("")
            .contains("client_id=conf-2")
    );
    assert_eq!(cell("confidential").reason, None);
    let note = cell("public").reason.clone().unwrap_or_default();
    assert!(
        note.starts_with("checks skipped: introspect (target lacks introspection.cell_client")
            && note.contains("introspection.callers"),
        "{note}"
    );
}

fn race_scenario(id: &str, expect: &str) -> String {
    format!(
        "id: {id}
title: race
requirements: [{{ id: RFC9700-4.14.2.d, level: MUST }}]
steps:
  - race:
      count: 5
      request: {{ endpoint: token, client_auth: confidential, form: {{ grant_type: refresh_token, refresh_token: r }} }}
    expect:
{expect}"
    )
}

/// Races: exactly one winner passes; several winners or a 5xx fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn race_outcomes_are_judged_over_the_set() {
    let one_winner = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": "a"})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&one_winner)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .with_priority(2)
        .mount(&one_winner)
        .await;
    let all_win = token_server().await;
    let crashing = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&crashing)
        .await;
    let expect = "      successes: 1\n      server_errors: 0\n      each_failure: { json: { $.error: invalid_grant } }\n";
    for (server, want) in [
        (&one_winner, Outcome::Pass),
        (&all_win, Outcome::Fail),
        (&crashing, Outcome::Fail),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = target_yaml(&server.uri(), "");
        let s = race_scenario("race.one-winner", expect);
        write(
            dir.path(),
            &[("target.yaml", &target), ("specs/race.yaml", &s)],
        );
        let results = run_dir(dir.path()).await;
        assert_eq!(
            outcome_of(&results, "race.one-winner"),
            want,
            "{:#?}",
            results[0].findings
        );
        assert_eq!(
            results[0].steps[0].exchanges.len(),
            5,
            "every racer is recorded"
        );
    }
}

/// A target slower than the timeout: a request with no complete answer is a Timeout naming
/// the deadline, never a 5xx finding; in a race, unanswered copies are not server errors, a
/// count they could still change is not judged (the cell is a Timeout), and a finding that
/// holds whatever they would have answered still fails the cell.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_target_times_out_and_is_never_a_5xx() {
    use std::time::Duration;
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body())
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&slow)
        .await;
    // Two copies answered at once (`first` 200s, then 400s), the rest held past the deadline.
    let partly = |first: u16| async move {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(first).set_body_json(json!({"error": "invalid_grant"})),
            )
            .up_to_n_times(2)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
            .with_priority(2)
            .mount(&server)
            .await;
        server
    };
    let request = "id: slow.request
title: one slow request
requirements: [{ id: RFC6749-5.1.a, level: MUST }]
steps:
  - request:
      endpoint: token
      client_auth: confidential
      form: { grant_type: refresh_token, refresh_token: x }
      timeout: 300ms
    expect:
      status: { lt: 500 }
";
    let race = |id: &str, expect: &str| {
        format!(
            "id: {id}
title: a race against a slow target
requirements: [{{ id: RFC9700-4.14.2.d, level: MUST }}]
steps:
  - race:
      count: 5
      request: {{ endpoint: token, client_auth: confidential, form: {{ grant_type: refresh_token, refresh_token: r }}, timeout: 500ms }}
    expect:
{expect}"
        )
    };
    let no_5xx = race(
        "slow.race",
        "      successes: { lte: 1 }\n      server_errors: 0\n",
    );
    let two_wins = race("slow.two-winners", "      successes: 1\n");
    let a_5xx = race("slow.five-hundred", "      server_errors: 0\n");
    let cases: Vec<(&MockServer, &str, Outcome, &str)> = vec![
        (&slow, request, Outcome::Timeout, "no answer within 0.3 s"),
        (
            &slow,
            &no_5xx,
            Outcome::Timeout,
            "5 of 5 requests got no answer within 0.5 s",
        ),
    ];
    let partly_400 = partly(400).await;
    let partly_200 = partly(200).await;
    let partly_500 = partly(500).await;
    let cases: Vec<(&MockServer, &str, Outcome, &str)> = cases
        .into_iter()
        .chain([
            (
                &partly_400,
                no_5xx.as_str(),
                Outcome::Timeout,
                "3 of 5 requests got no answer",
            ),
            (&partly_200, two_wins.as_str(), Outcome::Fail, ""),
            (&partly_500, a_5xx.as_str(), Outcome::Fail, ""),
        ])
        .collect();
    for (server, spec, want, reason) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = target_yaml(&server.uri(), "");
        write(
            dir.path(),
            &[("target.yaml", &target), ("specs/s.yaml", spec)],
        );
        let results = run_dir(dir.path()).await;
        let r = &results[0];
        let got = r.reason.clone().unwrap_or_default();
        assert_eq!(r.outcome, want, "{}: {got} {:#?}", r.scenario, r.findings);
        assert!(got.contains(reason), "{}: {got}", r.scenario);
        if want == Outcome::Timeout {
            assert!(r.findings.is_empty(), "{}: {:#?}", r.scenario, r.findings);
        }
        // Only the two 500s are server errors, not the three copies still unanswered.
        if r.scenario == "slow.five-hundred" {
            assert_eq!(r.findings.len(), 1, "{:#?}", r.findings);
            assert_eq!(r.findings[0].observed, "2");
        }
    }
}

/// Without a test clock, waits happen in real time within `--max-wait`: a short one runs, one
/// that does not fit the budget or the margin skips its cell before anything is sent, naming
/// the reason; a lifetime-bound wait pads the lifetime with the margin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_time_waits_fit_the_budget_or_skip() {
    let server = token_server().await;
    let waiting = |id: &str, wait: &str| {
        format!(
            "id: {id}
title: waits
requirements: [{{ id: RFC6749-6.a, level: MUST }}]
requires: [time.wait]
steps:
  - id: issue
    request: {{ endpoint: token, form: {{ grant_type: password }} }}
    expect: {{ status: 200 }}
  - wait: {wait}
  - request: {{ endpoint: token, form: {{ grant_type: password }} }}
    expect: {{ status: 200 }}
"
        )
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let target = target_yaml(&server.uri(), "");
    let files = [
        ("specs/a.yaml", waiting("wait.short", "0.2")),
        ("specs/b.yaml", waiting("wait.past", "{ past: 0.1 }")),
        (
            "specs/c.yaml",
            waiting("wait.too-long", "{ past: 600, since: issue }"),
        ),
        (
            "specs/d.yaml",
            waiting("wait.too-tight", "{ for: 2, within: 3 }"),
        ),
        (
            "specs/e.yaml",
            waiting("wait.guard", "{ for: 0, within: [1, 100], since: issue }"),
        ),
    ];
    let mut all: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    all.push(("target.yaml", &target));
    write(dir.path(), &all);
    let results = run_dir(dir.path()).await;
    let get = |n: &str| {
        let r = results.iter().find(|r| r.scenario == n).expect(n);
        (
            r.outcome,
            r.reason.clone().unwrap_or_default(),
            r.steps.len(),
        )
    };
    assert_eq!(
        get("wait.short").0,
        Outcome::Pass,
        "{:?}",
        get("wait.short")
    );
    let (o, _, _) = get("wait.past");
    assert_eq!(o, Outcome::Pass);
    let past = results
        .iter()
        .find(|r| r.scenario == "wait.past")
        .expect("past");
    let msg = past.steps[1].message.clone().unwrap_or_default();
    assert!(msg.contains("in real time (margin 2"), "{msg}");
    let (o, why, steps) = get("wait.too-long");
    assert_eq!(o, Outcome::Skip);
    assert!(
        why.contains("needs 602 s of real-time waiting, more than --max-wait (120 s)"),
        "{why}"
    );
    assert_eq!(steps, 0, "skipped before anything was sent");
    let (o, why, _) = get("wait.too-tight");
    assert_eq!(o, Outcome::Skip);
    assert!(
        why.contains("within 2 s of the end of a 3 s lifetime"),
        "{why}"
    );
    let (o, why, _) = get("wait.guard");
    assert_eq!(o, Outcome::Skip, "{why}");
}

/// `-j 1` runs one cell at a time, waiting cells included (they otherwise start outside `-j`):
/// every answer takes 50 ms, so no request may arrive before the previous one was answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_job_runs_one_cell_at_a_time() {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};
    /// Records when each token request arrives; answers 50 ms later.
    struct Arrivals(Arc<Mutex<Vec<Instant>>>);
    impl wiremock::Respond for Arrivals {
        fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
            if let Ok(mut v) = self.0.lock() {
                v.push(Instant::now());
            }
            ResponseTemplate::new(200)
                .set_body_json(token_body())
                .insert_header("cache-control", "no-store")
                .set_delay(Duration::from_millis(50))
        }
    }
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(Arrivals(Arc::clone(&arrivals)))
        .mount(&server)
        .await;
    let cell = |id: &str, wait: bool| {
        format!(
            "id: {id}
title: one at a time
requirements: [{{ id: RFC6749-6.a, level: MUST }}]
{}steps:
  - request: {{ endpoint: token, form: {{ grant_type: password }} }}
    expect: {{ status: 200 }}
{}  - request: {{ endpoint: token, form: {{ grant_type: password }} }}
    expect: {{ status: 200 }}
",
            if wait { "requires: [time.wait]\n" } else { "" },
            if wait { "  - wait: 0.1\n" } else { "" }
        )
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let target = target_yaml(&server.uri(), "");
    let files: Vec<(String, String)> = (0..3)
        .flat_map(|i| {
            [
                (
                    format!("specs/w{i}.yaml"),
                    cell(&format!("serial.wait{i}"), true),
                ),
                (
                    format!("specs/n{i}.yaml"),
                    cell(&format!("serial.plain{i}"), false),
                ),
            ]
        })
        .collect();
    let mut all: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    all.push(("target.yaml", &target));
    write(dir.path(), &all);
    let opts = tokencert::runner::RunOptions {
        jobs: 1,
        ..Default::default()
    };
    let results = run_dir_with(dir.path(), &opts).await;
    assert!(
        results.iter().all(|r| r.outcome == Outcome::Pass),
        "{:?}",
        results
            .iter()
            .map(|r| (r.name(), r.outcome))
            .collect::<Vec<_>>()
    );
    let mut seen = arrivals.lock().expect("arrivals").clone();
    seen.sort();
    assert_eq!(seen.len(), 12);
    for pair in seen.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(50),
            "two requests in flight at once under -j 1"
        );
    }
}

/// Levels decide outcomes; known deviations turn Fail into XFail and Pass into XPass; a broken
/// setup or an unreachable target is an Error, not a Fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn levels_deviations_and_errors() {
    let server = token_server().await;
    let with_level = |id: &str, level: &str, value: &str| {
        format!(
            "id: {id}
title: level
requirements: [{{ id: RFC6749-5.1.b, level: {level} }}]
steps:
  - request: {{ endpoint: token, form: {{ grant_type: x }} }}
    expect:
      json: {{ $.expires_in: {value} }}
"
        )
    };
    let setup_fails = "id: setup.fails
title: setup
requirements: [{ id: RFC6749-6.a, level: MUST }]
setup:
  - request: { endpoint: token, form: { a: b } }
    expect: { status: 418 }
steps:
  - request: { endpoint: token, form: { a: b } }
";
    let dir = tempfile::tempdir().expect("tempdir");
    let target = target_yaml(
        &server.uri(),
        "deviations:\n  - { scenario: dev.fails, reason: vendor choice }\n  - { scenario: dev.passes, reason: fixed since }\n",
    );
    let files = [
        ("specs/a.yaml", with_level("level.should", "SHOULD", "1")),
        ("specs/b.yaml", with_level("level.may", "MAY", "1")),
        ("specs/c.yaml", with_level("level.must", "MUST", "1")),
        ("specs/d.yaml", with_level("dev.fails", "MUST", "1")),
        ("specs/e.yaml", with_level("dev.passes", "MUST", "3600")),
        ("specs/f.yaml", setup_fails.to_owned()),
    ];
    let mut all: Vec<(&str, &str)> = files.iter().map(|(a, b)| (*a, b.as_str())).collect();
    all.push(("target.yaml", &target));
    write(dir.path(), &all);
    let results = run_dir(dir.path()).await;
    assert_eq!(outcome_of(&results, "level.should"), Outcome::Warn);
    assert_eq!(outcome_of(&results, "level.may"), Outcome::Info);
    assert_eq!(outcome_of(&results, "level.must"), Outcome::Fail);
    assert_eq!(outcome_of(&results, "dev.fails"), Outcome::Xfail);
    assert_eq!(outcome_of(&results, "dev.passes"), Outcome::Xpass);
    assert_eq!(outcome_of(&results, "setup.fails"), Outcome::Error);

    // Nothing listens on the target: every cell errors, deviations or not.
    let dead = target_yaml("http://127.0.0.1:1", "");
    write(dir.path(), &[("target.yaml", &dead)]);
    let results = run_dir(dir.path()).await;
    let outcomes: Vec<Outcome> = results.iter().map(|r| r.outcome).collect();
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Error),
        "{outcomes:?}"
    );
}

/// The harness applies client authentication as RFC 6749 §2.3.1 says: Basic with form-encoded
/// id and secret; post with body credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_auth_methods_reach_the_wire() {
    let server = MockServer::start().await;
    // "conf-1:planted-client-secret-7Qx" base64.
    Mock::given(method("POST"))
        .and(wiremock::matchers::header(
            "authorization",
            "Basic Y29uZi0xOnBsYW50ZWQtY2xpZW50LXNlY3JldC03UXg=",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"via": "basic"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains(
            "client_id=conf-2&client_secret=other-secret-2",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"via": "post"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_string_contains("client_id=pub-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"via": "none"})))
        .mount(&server)
        .await;
    let s = "id: auth.methods
title: auth
requirements: [{ id: RFC6749-2.3.1.a, level: MUST }]
matrix: { client: [confidential, confidential2, public] }
steps:
  - request: { endpoint: token, client_auth: '{{ matrix.client }}', form: { grant_type: x } }
    expect:
      status: 200
      json: { $.via: { one_of: [basic, post, none] } }
";
    let dir = tempfile::tempdir().expect("tempdir");
    let target = target_yaml(&server.uri(), "");
    write(dir.path(), &[("target.yaml", &target), ("specs/a.yaml", s)]);
    let results = run_dir(dir.path()).await;
    for cell in ["confidential", "confidential2", "public"] {
        assert_eq!(
            outcome_of(&results, &format!("auth.methods[client={cell}]")),
            Outcome::Pass,
            "{cell}"
        );
    }
}

/// A role with its own bootstrap grant uses it for every family bootstrapped for it; the other
/// roles use the profile's, and a step naming another grant finds that grant's settings in the
/// profile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_bootstraps_with_its_own_grant() {
    let server = MockServer::start().await;
    for (needle, via) in [
        (
            "grant_type=client_credentials&scope=batch%3Arun",
            "client_credentials",
        ),
        ("grant_type=password&username=alice", "password"),
    ] {
        Mock::given(method("POST"))
            .and(path("/token"))
            .and(body_string_contains(needle))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "via": via })))
            .mount(&server)
            .await;
    }
    let target = format!(
        "name: roles
base_url: {}
endpoints: {{ token: /token }}
clients:
  confidential: {{ id: conf-1, secret: s1 }}
  no_refresh:
    id: batch-1
    secret: s2
    bootstrap: {{ grant: client_credentials, scope: batch:run }}
bootstrap: {{ grant: password, username: alice, password: pw, scope: read }}
policy: rfc9700
",
        server.uri()
    );
    let case = |id: &str, bootstrap: &str, via: &str| {
        format!(
            "id: {id}
title: bootstrap
requirements: [{{ id: RFC6749-4.4.a, level: MUST }}]
steps:
  - bootstrap: {bootstrap}
    expect: {{ json: {{ $.via: {{ equals: {via} }} }} }}
"
        )
    };
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        &[
            ("target.yaml", &target),
            (
                "specs/a.yaml",
                &case("profile.grant", "confidential", "password"),
            ),
            (
                "specs/b.yaml",
                &case("own.grant", "no_refresh", "client_credentials"),
            ),
            (
                "specs/c.yaml",
                &case(
                    "named.grant",
                    "{ client: no_refresh, grant: password }",
                    "password",
                ),
            ),
        ],
    );
    let results = run_dir(dir.path()).await;
    for id in ["profile.grant", "own.grant", "named.grant"] {
        assert_eq!(
            outcome_of(&results, id),
            Outcome::Pass,
            "{id}: {results:#?}"
        );
    }
}

/// An idempotent step with `retry` is tried again until its expectations hold (or attempts run
/// out); a failed check never turns into an Error through a capture that finds nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_and_failed_captures() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/introspect"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"active": true})))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/introspect"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"active": false})))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .mount(&server)
        .await;
    let retry = |id: &str, attempts: u32| {
        format!(
            "id: {id}
title: eventually inactive
requirements: [{{ id: RFC7009-2.1.c, level: MUST }}]
steps:
  - request: {{ endpoint: introspection, form: {{ token: t }} }}
    idempotent: true
    retry: {{ attempts: {attempts}, interval: 10ms }}
    expect:
      json: {{ $.active: false }}
"
        )
    };
    let capture_after_fail = "id: fail.then.capture
title: a failed check with a capture stays a Fail
requirements: [{ id: RFC6749-6.a, level: MUST }]
steps:
  - request: { endpoint: token, form: { grant_type: refresh_token, refresh_token: x } }
    expect: { status: 200 }
    capture:
      rt1: { json: $.refresh_token }
";
    let dir = tempfile::tempdir().expect("tempdir");
    let target = target_yaml(&server.uri(), "");
    let a = retry("retry.enough", 3);
    write(
        dir.path(),
        &[
            ("target.yaml", &target),
            ("specs/a.yaml", &a),
            ("specs/c.yaml", capture_after_fail),
        ],
    );
    let results = run_dir(dir.path()).await;
    assert_eq!(outcome_of(&results, "retry.enough"), Outcome::Pass);
    assert_eq!(
        results[0].steps[0].exchanges.len(),
        3,
        "two misses, then the hit"
    );
    assert_eq!(outcome_of(&results, "fail.then.capture"), Outcome::Fail);

    let server2 = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"active": true})))
        .mount(&server2)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let target = target_yaml(&server2.uri(), "");
    let b = retry("retry.exhausted", 2);
    write(
        dir.path(),
        &[("target.yaml", &target), ("specs/b.yaml", &b)],
    );
    let results = run_dir(dir.path()).await;
    assert_eq!(outcome_of(&results, "retry.exhausted"), Outcome::Fail);
    assert_eq!(results[0].steps[0].exchanges.len(), 2);
}

/// Runs scenario `yaml` (its id `id`) against a server that answers every POST 200: the
/// outcome and the requests the server received.
async fn run_against_ok_server(id: &str, yaml: &str) -> (Outcome, Vec<wiremock::Request>) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let target = target_yaml(&server.uri(), "");
    write(
        dir.path(),
        &[("target.yaml", &target), ("specs/a.yaml", yaml)],
    );
    let results = run_dir(dir.path()).await;
    let got = server.received_requests().await.expect("recording");
    (outcome_of(&results, id), got)
}

/// `body_raw` sends exactly the bytes it spells: `%XX` escapes (any byte, invalid UTF-8
/// included) in the literal text, templates inserted as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_raw_sends_exact_bytes() {
    let s = "id: body.raw
title: raw body
requirements: [{ id: RFC6749-6.a, level: MUST }]
vars: { v: 'a%b' }
steps:
  - request:
      endpoint: token
      headers: { content-type: application/x-www-form-urlencoded }
      body_raw: 'x=%FF%FE%00%25{{ v }}&y=caf\u{e9}'
    expect: { status: 200 }
";
    let (outcome, got) = run_against_ok_server("body.raw", s).await;
    assert_eq!(outcome, Outcome::Pass);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, b"x=\xff\xfe\x00%a%b&y=caf\xc3\xa9");

    // A `%` that is not an escape is a validation error, not a surprise on the wire.
    let bad = s.replace("%FF%FE", "%FG");
    let err = tokencert::scenario::load::scenario_from_str("bad.yaml", &bad).expect_err("invalid");
    assert!(err[0].message.contains("body_raw"), "{}", err[0].render());
}

/// A header written as a list goes on the wire once per element (a reproducer of two DPoP
/// headers replays two), and still replaces the harness's own of that name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_header_is_sent_repeated() {
    let s = "id: header.repeated
title: two DPoP headers
requirements: [{ id: RFC6749-6.a, level: MUST }]
steps:
  - request:
      endpoint: token
      headers: { DPoP: [a.b.c, x], Accept: text/plain }
      form: { grant_type: refresh_token }
    expect: { status: 200 }
";
    let (outcome, got) = run_against_ok_server("header.repeated", s).await;
    assert_eq!(outcome, Outcome::Pass);
    let values = |name: &str| -> Vec<String> {
        got[0]
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(values("dpop"), ["a.b.c", "x"]);
    assert_eq!(values("accept"), ["text/plain"]);
}

/// A step that cannot run reports where, as a failed predicate does: `file:line:col` of the
/// template or value that failed (in the fixture's file for a fixture's step), on the result's
/// reason and on the step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_errors_carry_their_source_location() {
    let server = token_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let no_endpoint = "id: error.no-endpoint
title: an endpoint the target lacks
requirements: [{ id: RFC6749-5.1.a, level: MUST }]
steps:
  - request:
      endpoint: device_authorization
      form: { a: b }
";
    let bad_wait = "id: error.bad-wait
title: a wait that is no duration
requirements: [{ id: RFC6749-5.1.a, level: MUST }]
steps:
  - wait: \"{{ target.name }}\"
";
    let in_fixture = "id: error.in-fixture
title: a fixture's step that cannot run
requirements: [{ id: RFC6749-5.1.a, level: MUST }]
steps:
  - include: broken
";
    let fixture = "fixture: broken
steps:
  - request:
      endpoint: device_authorization
";
    let target = target_yaml(&server.uri(), "");
    write(
        dir.path(),
        &[
            ("specs/no-endpoint.yaml", no_endpoint),
            ("specs/bad-wait.yaml", bad_wait),
            ("specs/in-fixture.yaml", in_fixture),
            ("specs/fixtures/broken.yaml", fixture),
            ("target.yaml", &target),
        ],
    );
    let results = run_dir(dir.path()).await;
    let specs = dir.path().join("specs");
    let cases = [
        ("error.no-endpoint", specs.join("no-endpoint.yaml"), 6, 17),
        ("error.bad-wait", specs.join("bad-wait.yaml"), 5, 11),
        (
            "error.in-fixture",
            specs.join("fixtures/broken.yaml"),
            4,
            17,
        ),
    ];
    for (name, file, line, col) in cases {
        let r = results
            .iter()
            .find(|r| r.name() == name)
            .unwrap_or_else(|| panic!("no result {name}"));
        assert_eq!(r.outcome, Outcome::Error, "{name}");
        let at = format!("{}:{line}:{col}", file.display());
        let reason = r.reason.clone().unwrap_or_default();
        assert!(
            reason.starts_with(&format!("{at}: step `")),
            "{name}: {reason}"
        );
        let errored: Vec<_> = r
            .steps
            .iter()
            .filter(|s| s.outcome == tokencert::report::StepOutcome::Error)
            .collect();
        assert!(
            errored
                .iter()
                .any(|s| s.location.as_deref() == Some(at.as_str())),
            "{name}: {:?}",
            errored.iter().map(|s| &s.location).collect::<Vec<_>>()
        );
    }
}

/// A scenario declared `prerequisite_for` a client role runs first; where it fails, every other
/// cell of that client is skipped naming it (its setup could not get tokens: one deviation, one
/// Fail), and no other cell is touched: an Error for any other reason stays an Error. A filtered
/// run that selects such a cell brings the prerequisite in. Under `-j 1` too (waiting for the
/// prerequisite holds no place).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_prerequisite_skips_its_clients_cells_and_hides_no_other_error() {
    use std::sync::Arc;
    use tokencert::profile::{ProcessEnv, Target};
    use tokencert::runner::{RunOptions, Runner};
    use tokencert::scenario::{LoadOptions, load_paths};
    use tokencert::session::Session;
    // `conf2_works`: whether the server authenticates confidential2 (client_secret_post).
    async fn server(conf2_works: bool) -> MockServer {
        let server = MockServer::start().await;
        if !conf2_works {
            Mock::given(method("POST"))
                .and(path("/token"))
                .and(body_string_contains("client_id=conf-2"))
                .respond_with(
                    ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"})),
                )
                .with_priority(1)
                .mount(&server)
                .await;
        }
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(token_body())
                    .insert_header("cache-control", "no-store"),
            )
            .mount(&server)
            .await;
        server
    }
    const PREREQ: &str = "id: auth.conf2-works
title: confidential2 authenticates
requirements: [{ id: RFC6749-2.3.1.a, level: MUST }]
prerequisite_for: { client: confidential2 }
steps:
  - bootstrap: { client: confidential2 }
    expect: { status: { equals: 200, message: confidential2 was refused } }
";
    const DEPENDENT: &str = "id: dep.refresh
title: each client refreshes
requirements: [{ id: RFC6749-6.a, level: MUST }]
matrix: { client: [confidential, confidential2] }
setup:
  - include: tokens
steps:
  - request:
      endpoint: token
      client_auth: '{{ matrix.client }}'
      form: { grant_type: refresh_token, refresh_token: '{{ rt0 }}' }
    expect: { status: 200 }
";
    // Its setup breaks for another reason (the answer is never 201): an Error, except in the
    // cells the failed prerequisite skips.
    const BROKEN: &str = "id: dep.broken-setup
title: a setup that cannot work
requirements: [{ id: RFC6749-6.a, level: MUST }]
matrix: { client: [confidential, confidential2] }
setup:
  - bootstrap: {}
    expect: { status: 201 }
steps:
  - request: { endpoint: token, form: { grant_type: password } }
    expect: { status: 200 }
";
    const TOKENS: &str = "fixture: tokens
steps:
  - bootstrap: {}
    expect: { status: 200 }
    capture: { rt0: { json: $.refresh_token, secret: true } }
";
    for (conf2_works, jobs) in [(false, 1), (false, 4), (true, 4)] {
        let server = server(conf2_works).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let target = target_yaml(&server.uri(), "");
        write(
            dir.path(),
            &[
                ("specs/prereq.yaml", PREREQ),
                ("specs/dep.yaml", DEPENDENT),
                ("specs/broken.yaml", BROKEN),
                ("specs/fixtures/tokens.yaml", TOKENS),
                ("target.yaml", &target),
            ],
        );
        let opts = RunOptions {
            jobs,
            ..RunOptions::default()
        };
        let results = run_dir_with(dir.path(), &opts).await;
        let got = |name: &str| {
            let r = results
                .iter()
                .find(|r| r.name() == name)
                .unwrap_or_else(|| panic!("no result {name}"));
            (r.outcome, r.reason.clone().unwrap_or_default())
        };
        let label = format!("conf2_works={conf2_works} -j {jobs}");
        assert_eq!(
            got("dep.refresh[client=confidential]").0,
            Outcome::Pass,
            "{label}"
        );
        assert_eq!(
            got("dep.broken-setup[client=confidential]").0,
            Outcome::Error,
            "{label}"
        );
        let (dependent, why) = got("dep.refresh[client=confidential2]");
        let broken = got("dep.broken-setup[client=confidential2]").0;
        if conf2_works {
            assert_eq!(got("auth.conf2-works").0, Outcome::Pass, "{label}");
            assert_eq!(dependent, Outcome::Pass, "{label}: {why}");
            assert_eq!(broken, Outcome::Error, "{label}");
        } else {
            assert_eq!(got("auth.conf2-works").0, Outcome::Fail, "{label}");
            assert_eq!(broken, Outcome::Skip, "{label}");
            assert_eq!(dependent, Outcome::Skip, "{label}: {why}");
            assert_eq!(
                why,
                "target lacks a prerequisite of the `confidential2` client: auth.conf2-works \
                 fails (\"confidential2 authenticates\")",
                "{label}"
            );
        }
        // A filtered run brings the prerequisite of the clients it selects, and only that.
        let (cat, _) = load_paths(&[dir.path().join("specs")], &LoadOptions::default());
        let target = Target::load(&dir.path().join("target.yaml"), &ProcessEnv).expect("target");
        let session = Session::new(target).await.expect("session");
        let runner = Runner::new(Arc::new(session), Arc::new(cat), "test".into());
        let planned = |filter: &str| -> Vec<String> {
            let mut ids: Vec<String> = runner
                .plan(&[filter.to_owned()])
                .iter()
                .map(|c| runner.catalogue.scenarios[c.scenario].id.clone())
                .collect();
            ids.sort();
            ids.dedup();
            ids
        };
        assert_eq!(planned("dep.refresh"), ["auth.conf2-works", "dep.refresh"]);
        assert_eq!(planned("auth.conf2-works"), ["auth.conf2-works"]);
    }
}

/// A target without an introspection endpoint lacks what introspection would observe as well:
/// the skip names the endpoint, once, not the policy keys of introspection it does not have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skip_names_the_missing_feature_not_its_policy() {
    let server = token_server().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let target = target_yaml(&server.uri(), "").replace(
        "endpoints: { token: /token, revocation: /revoke, introspection: /introspect }",
        "endpoints: { token: /token }",
    );
    let gated = |id: &str, requires: &str| {
        format!(
            "id: {id}
title: gate
requirements: [{{ id: RFC7662-2.2.a, level: MUST }}]
requires: [{requires}]
matrix: {{ client: [confidential] }}
steps:
  - request: {{ endpoint: token, form: {{ grant_type: x }} }}
    expect: {{ status: 200 }}
"
        )
    };
    let a = gated("gate.cell-client", "introspection.cell_client");
    let b = gated(
        "gate.both",
        "introspection.cell_client, endpoint.introspection, refresh.rotation",
    );
    write(
        dir.path(),
        &[
            ("specs/a.yaml", &a),
            ("specs/b.yaml", &b),
            ("target.yaml", &target),
        ],
    );
    let results = run_dir(dir.path()).await;
    for r in &results {
        assert_eq!(r.outcome, Outcome::Skip, "{}", r.name());
        assert_eq!(
            r.reason.as_deref(),
            Some("target lacks endpoint.introspection"),
            "{}",
            r.name()
        );
    }
    assert_eq!(results.len(), 2);
}
