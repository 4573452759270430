//! The claims catalogue is valid data, every preset is clean under its own claims, and every
//! forbidden choice is found in its example (tests/conformance.rs then plays each example against
//! the reference server).

use super::*;
use crate::scenario::requirements::Requirements;
use tokencert_policy::{PRESET_NAMES, preset_claims};

fn cat() -> &'static ClaimsCatalogue {
    let c = ClaimsCatalogue::builtin();
    assert!(!c.forbidden.is_empty(), "specs/claims.yaml did not parse");
    c
}

#[test]
fn the_catalogue_parses_and_locates_every_rule() {
    let parsed = ClaimsCatalogue::parse(BUILTIN).expect("specs/claims.yaml");
    assert_eq!(parsed.lines.len(), parsed.forbidden.len());
    for (i, r) in parsed.forbidden.iter().enumerate() {
        let line = BUILTIN.lines().nth(parsed.lines[i] - 1).unwrap_or("");
        assert!(line.contains(&r.key), "{}: `{line}`", parsed.location(i));
    }
    let bad = "standards: { a: A }\nforbidden:\n  - key: k\n    when: { k: 1 }\n    by: { b: { requirement: X, level: MUST } }\n    why: w\n    example: {}\n";
    assert!(ClaimsCatalogue::parse(bad).is_err_and(|e| e.contains("`b`")));
}

#[test]
fn every_rule_names_real_requirements_keys_scenarios_and_capabilities() {
    let reqs = Requirements::builtin();
    let base = serde_json::to_value(Policy::preset("base").expect("base")).expect("json");
    let (built, _) = crate::scenario::load(
        &crate::scenario::SpecSource::BuiltIn,
        &crate::scenario::LoadOptions::default(),
    );
    let scenarios: Vec<String> = built.scenarios.iter().map(|s| s.id.clone()).collect();
    for r in &cat().forbidden {
        assert!(lookup(&base, &r.key).is_some(), "key `{}`", r.key);
        for k in r.when.keys().chain(r.unless.keys()) {
            assert!(lookup(&base, k).is_some(), "{}: condition on `{k}`", r.key);
        }
        for (std, by) in &r.by {
            let row = reqs
                .get(&by.requirement)
                .unwrap_or_else(|| panic!("{}/{std}: {} unknown", r.key, by.requirement));
            // Never stricter than the catalogue says the requirement is.
            assert!(by.level >= row.level, "{}/{std}: {}", r.key, by.requirement);
        }
        for s in &r.scenarios {
            let id = s.split('[').next().unwrap_or(s);
            assert!(scenarios.iter().any(|x| x == id), "{}: scenario {s}", r.key);
        }
        for c in r.assume.iter().chain(&r.refute) {
            assert!(crate::capability::is_known(c), "{}: capability {c}", r.key);
        }
        assert_eq!(
            r.scenarios.is_empty(),
            r.assume.is_empty() && r.refute.is_empty(),
            "{}: scenarios and the capabilities they run with go together",
            r.key
        );
    }
}

#[test]
fn every_preset_is_clean_under_its_own_claims() {
    for name in PRESET_NAMES.iter().chain(&["base"]) {
        let claims = preset_claims(name).expect("claims");
        for c in &claims {
            assert!(cat().knows(c), "{name} claims unknown `{c}`");
        }
        let policy = Policy::preset(name).expect("preset");
        let breaches = cat().check(&policy, &claims);
        let named: Vec<String> = breaches
            .iter()
            .map(|b| format!("{} by {}", cat().forbidden[b.rule].key, b.standard))
            .collect();
        assert!(named.is_empty(), "{name}: {named:?}");
    }
}

#[test]
fn every_forbidden_choice_is_found_in_its_example() {
    for (i, r) in cat().forbidden.iter().enumerate() {
        let policy = r.example_policy().expect("example");
        let p = serde_json::to_value(&policy).expect("json");
        assert!(r.applies(&p), "{}: example does not make the choice", r.key);
        for (std, by) in &r.by {
            let breaches = cat().check(&policy, &[std.clone()]);
            assert!(
                breaches
                    .iter()
                    .any(|b| b.rule == i && b.standard == *std && b.by == *by),
                "{} by {std}",
                r.key
            );
            // Claiming nothing, or another standard only, finds nothing of this rule.
            assert!(!cat().check(&policy, &[]).iter().any(|b| b.rule == i));
        }
    }
}

#[test]
fn conditions_match_as_written() {
    let m = |yaml: &str| -> Matcher { serde_saphyr::from_str(yaml).expect("matcher") };
    let list = serde_json::json!(["client_secret_post", "none"]);
    assert!(m("false").matches(&serde_json::json!(false)));
    assert!(!m("false").matches(&serde_json::json!(true)));
    assert!(m("~").matches(&Value::Null));
    assert!(m("{ not: all }").matches(&serde_json::json!("public")));
    assert!(!m("{ not: all }").matches(&serde_json::json!("all")));
    assert!(m("{ in: [always, public_only] }").matches(&serde_json::json!("public_only")));
    assert!(m("{ above: 60 }").matches(&serde_json::json!(61)));
    assert!(!m("{ above: 60 }").matches(&serde_json::json!(60)));
    assert!(!m("{ above: 60 }").matches(&Value::Null));
    assert!(m("{ has: none }").matches(&list));
    assert!(m("{ lacks: client_secret_basic, has_any: [client_secret_post] }").matches(&list));
    assert!(!m("{ lacks: none }").matches(&list));
    assert!(!m("{ lacks: none }").matches(&serde_json::json!("none")));
}

#[test]
fn an_unless_clause_lifts_the_rule() {
    let rotation = cat()
        .forbidden
        .iter()
        .position(|r| r.key == "rotation" && r.by.contains_key("rfc9700"))
        .expect("rule");
    let claims = vec!["rfc9700".to_owned()];
    let unbound = Policy::from_yaml(
        "preset: rfc9700\nrotation: never\nreuse: reject_only\ndpop: { bind_public_refresh_tokens: false }\n",
    )
    .expect("policy");
    assert!(
        cat()
            .check(&unbound, &claims)
            .iter()
            .any(|b| b.rule == rotation)
    );
    // Sender-constrained by DPoP instead of rotated: allowed.
    let bound = Policy::from_yaml("preset: rfc9700\nrotation: never\nreuse: reject_only\n")
        .expect("policy");
    assert!(
        !cat()
            .check(&bound, &claims)
            .iter()
            .any(|b| b.rule == rotation)
    );
    // No public clients at all: nothing to protect.
    let confidential = Policy::from_yaml(
        "preset: rfc9700\nrotation: never\nreuse: reject_only\ndpop: { bind_public_refresh_tokens: false }\nclients: { auth_methods: [client_secret_basic, client_secret_post] }\n",
    )
    .expect("policy");
    assert!(
        !cat()
            .check(&confidential, &claims)
            .iter()
            .any(|b| b.rule == rotation)
    );
}

#[test]
fn a_breach_forces_only_the_cells_it_names_and_says_why() {
    let policy = Policy::from_yaml("preset: rfc9700\npragma_no_cache: false\n").expect("policy");
    let claims = vec!["rfc6749".to_owned()];
    let breaches = cat().check(&policy, &claims);
    let f = cat().forced(
        &breaches,
        "refresh.success-pragma-no-cache",
        "client=public",
    );
    assert_eq!(f.decides("headers.pragma"), Some(true));
    assert_eq!(f.level, Some(Level::Must));
    assert!(f.because[0].contains("rfc6749") && f.because[0].contains("RFC6749-5.1.d"));
    assert!(
        cat()
            .forced(&breaches, "refresh.success-token-response", "")
            .is_empty()
    );
    assert!(names_cell("a.b[client=public]", "a.b", "client=public"));
    assert!(!names_cell(
        "a.b[client=public]",
        "a.b",
        "client=confidential"
    ));
}

#[test]
fn skip_notes_say_what_the_claims_make_of_the_choice() {
    let policy =
        Policy::from_yaml("preset: rfc9700\nlifetimes: { refresh_idle: ~ }\n").expect("policy");
    let none: Vec<String> = Vec::new();
    assert_eq!(
        cat().skip_note(&["lifetimes.refresh_idle"], &none, &[]),
        "no standard claimed"
    );
    let claims = vec!["rfc6749".to_owned(), "rfc9700".to_owned()];
    let breaches = cat().check(&policy, &claims);
    assert_eq!(
        cat().skip_note(&["rotation"], &claims, &breaches),
        "allowed by every claimed standard: rfc6749, rfc9700"
    );
    assert_eq!(
        cat().skip_note(&["lifetimes.refresh_idle"], &claims, &breaches),
        "rfc9700 forbids it where it applies (policy.lifetimes.refresh_idle)"
    );
}

#[test]
fn breaches_become_one_row_per_key_at_the_strictest_level() {
    let policy =
        Policy::from_yaml("preset: rfc9700\ngrants: { password: true }\n").expect("policy");
    let claims = vec!["rfc9700".to_owned(), "oauth21".to_owned()];
    let breaches = cat().check(&policy, &claims);
    let rows = rows(cat(), &breaches, &policy, &Requirements::builtin());
    let row = rows
        .iter()
        .find(|r| r.scenario == "policy.grants.password")
        .expect("row");
    assert_eq!(row.outcome, crate::report::Outcome::Fail);
    assert_eq!(row.findings.len(), 2);
    let ids: Vec<&str> = row.requirements.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["OAUTH21-10.a", "RFC9700-2.4.a"]);
    assert!(row.findings[0].observed.contains("grants.password = true"));
    assert!(row.findings[0].location.starts_with("specs/claims.yaml:"));
}
