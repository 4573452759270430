//! A passing and a failing exchange for every rule, and the scope edges the RFC text draws.

use super::*;

const TOKEN: &str = "https://as.example/oauth/token";
const REVOKE: &str = "https://as.example/oauth/revoke";

fn ctx(pragma: bool) -> Context {
    let u = |s: &str| url::Url::parse(s).expect("url");
    let mut c = Context::default()
        .with_endpoint(Endpoint::Token, u(TOKEN))
        .with_endpoint(Endpoint::Revocation, u(REVOKE));
    c.pragma = pragma;
    c
}

struct Ex {
    method: &'static str,
    url: &'static str,
    req_headers: Vec<(String, String)>,
    req_body: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// A refresh request to the token endpoint answered with `status`, `headers` and `body`.
fn ex(status: u16, headers: &[(&str, &str)], body: &str) -> Ex {
    Ex {
        method: "POST",
        url: TOKEN,
        req_headers: h(&[("Content-Type", "application/x-www-form-urlencoded")]),
        req_body: "grant_type=refresh_token&refresh_token=rt-0123456789abcdef".into(),
        status,
        headers: h(headers),
        body: body.into(),
    }
}

fn rules(c: &Context, e: &Ex) -> Vec<Rule> {
    let x = Exchange {
        method: e.method,
        url: e.url,
        request_headers: &e.req_headers,
        request_body: e.req_body.as_bytes(),
        status: e.status,
        response_headers: &e.headers,
        response_body: e.body.as_bytes(),
    };
    evaluate(c, &x).into_iter().map(|v| v.rule).collect()
}

const JSON: (&str, &str) = ("content-type", "application/json; charset=utf-8");
const TOKENS: &str = r#"{"access_token":"at","token_type":"Bearer","refresh_token":"rt"}"#;

#[test]
fn a_conformant_success_and_error_break_nothing() {
    let ok = ex(
        200,
        &[JSON, ("cache-control", "no-store"), ("pragma", "no-cache")],
        TOKENS,
    );
    assert_eq!(rules(&ctx(true), &ok), []);
    let err = ex(
        400,
        &[JSON],
        r#"{"error":"invalid_grant","error_description":"expired"}"#,
    );
    assert_eq!(rules(&ctx(true), &err), []);
}

#[test]
fn server_errors_break_the_rule_except_a_revocation_503() {
    assert_eq!(rules(&ctx(false), &ex(500, &[], "")), [Rule::ServerError]);
    let mut revoke = ex(503, &[], "");
    revoke.url = REVOKE;
    assert_eq!(rules(&ctx(false), &revoke), []);
    revoke.status = 502;
    assert_eq!(rules(&ctx(false), &revoke), [Rule::ServerError]);
    // Not an OAuth endpoint of the target: not judged.
    let mut other = ex(500, &[], "");
    other.url = "https://as.example/login";
    assert_eq!(rules(&ctx(false), &other), []);
}

#[test]
fn token_errors_are_json_with_a_registered_code() {
    let c = ctx(false);
    assert_eq!(
        rules(&c, &ex(400, &[("content-type", "text/plain")], "bad")),
        [Rule::ErrorJson]
    );
    assert_eq!(rules(&c, &ex(400, &[JSON], "[1]")), [Rule::ErrorJson]);
    assert_eq!(
        rules(&c, &ex(400, &[JSON], r#"{"message":"no"}"#)),
        [Rule::ErrorJson]
    );
    assert_eq!(
        rules(
            &c,
            &ex(400, &[JSON], r#"{"error":"invalid_refresh_token"}"#)
        ),
        [Rule::ErrorJson]
    );
    for (code, _) in TOKEN_ERROR_CODES {
        let body = format!(r#"{{"error":"{code}"}}"#);
        assert_eq!(rules(&c, &ex(400, &[JSON], &body)), [], "{code}");
    }
}

#[test]
fn http_level_refusals_and_other_methods_are_not_token_errors() {
    let c = ctx(false);
    for status in [405, 413, 415, 429, 431] {
        assert_eq!(
            rules(
                &c,
                &ex(status, &[("content-type", "text/html")], "<h1>no</h1>")
            ),
            [],
            "{status}"
        );
    }
    let mut get = ex(404, &[("content-type", "text/html")], "<h1>no</h1>");
    get.method = "GET";
    assert_eq!(rules(&c, &get), []);
}

#[test]
fn error_members_keep_the_charset() {
    let body = r#"{"error":"invalid_grant","error_description":"token \"x\" is bad"}"#;
    assert_eq!(
        rules(&ctx(false), &ex(400, &[JSON], body)),
        [Rule::ErrorCharset]
    );
}

#[test]
fn error_statuses_are_400_or_401_for_invalid_client() {
    let c = ctx(false);
    let grant = r#"{"error":"invalid_grant"}"#;
    assert_eq!(
        rules(&c, &ex(401, &[JSON, ("www-authenticate", "Bearer")], grant)),
        [Rule::ErrorStatus]
    );
    assert_eq!(rules(&c, &ex(403, &[JSON], grant)), [Rule::ErrorStatus]);
    let client = r#"{"error":"invalid_client"}"#;
    assert_eq!(
        rules(
            &c,
            &ex(
                401,
                &[JSON, ("www-authenticate", "Basic realm=\"x\"")],
                client
            )
        ),
        []
    );
    assert_eq!(rules(&c, &ex(400, &[JSON], client)), []);
}

#[test]
fn every_401_carries_a_challenge() {
    let client = r#"{"error":"invalid_client"}"#;
    assert_eq!(
        rules(&ctx(false), &ex(401, &[JSON], client)),
        [Rule::Challenge]
    );
    let mut revoke = ex(401, &[JSON], client);
    revoke.url = REVOKE;
    assert_eq!(rules(&ctx(false), &revoke), [Rule::Challenge]);
}

#[test]
fn basic_authentication_gets_a_basic_challenge_and_401() {
    let client = r#"{"error":"invalid_client"}"#;
    let basic = |status, headers: &[(&str, &str)]| {
        let mut e = ex(status, headers, client);
        e.req_headers
            .push(("Authorization".into(), "Basic Y2xpZW50OnNlY3JldA==".into()));
        e
    };
    let c = ctx(false);
    assert_eq!(
        rules(
            &c,
            &basic(401, &[JSON, ("www-authenticate", "Basic realm=\"as\"")])
        ),
        []
    );
    assert_eq!(
        rules(
            &c,
            &basic(401, &[JSON, ("www-authenticate", "Bearer, basic realm=x")])
        ),
        []
    );
    assert_eq!(
        rules(&c, &basic(401, &[JSON, ("www-authenticate", "Bearer")])),
        [Rule::BasicChallenge]
    );
    assert_eq!(
        rules(&c, &basic(401, &[JSON])),
        [Rule::Challenge, Rule::BasicChallenge]
    );
    assert_eq!(rules(&c, &basic(400, &[JSON])), [Rule::BasicChallenge]);
    // A GET is no token request: only RFC 9110's rule applies to its 401.
    let mut get = basic(401, &[JSON]);
    get.method = "GET";
    assert_eq!(rules(&c, &get), [Rule::Challenge]);
    // Without Basic, 400 invalid_client is the policy's choice (RFC 6749 §5.2 MAY).
    assert_eq!(rules(&c, &ex(400, &[JSON], client)), []);
}

#[test]
fn responses_with_tokens_are_not_cacheable() {
    let c = ctx(false);
    assert_eq!(rules(&c, &ex(200, &[JSON], TOKENS)), [Rule::NoStore]);
    assert_eq!(
        rules(
            &c,
            &ex(200, &[JSON, ("cache-control", "private, No-Store")], TOKENS)
        ),
        []
    );
    assert_eq!(
        rules(
            &c,
            &ex(200, &[JSON, ("cache-control", "no-store-ish")], TOKENS)
        ),
        [Rule::NoStore]
    );
    // No token in the body: nothing to protect (an introspection answer, a revocation 200).
    assert_eq!(rules(&c, &ex(200, &[JSON], r#"{"active":false}"#)), []);
    // Tokens anywhere, not only at the token endpoint.
    let mut other = ex(200, &[JSON], TOKENS);
    other.url = "https://elsewhere.example/x";
    assert_eq!(rules(&c, &other), [Rule::NoStore]);
}

#[test]
fn pragma_only_under_rfc6749() {
    let resp = ex(200, &[JSON, ("cache-control", "no-store")], TOKENS);
    assert_eq!(rules(&ctx(false), &resp), []);
    assert_eq!(rules(&ctx(true), &resp), [Rule::Pragma]);
}

#[test]
fn errors_repeat_no_credential_of_the_request() {
    let c = ctx(false);
    let echo =
        r#"{"error":"invalid_grant","error_description":"unknown token rt-0123456789abcdef"}"#;
    assert_eq!(rules(&c, &ex(400, &[JSON], echo)), [Rule::SecretEcho]);
    // Basic credentials, decoded: client:s3cret-value.
    let mut basic = ex(
        401,
        &[JSON, ("www-authenticate", "Basic")],
        r#"{"error":"invalid_client","error_description":"bad secret s3cret-value"}"#,
    );
    basic.req_headers.push((
        "Authorization".into(),
        "Basic Y2xpZW50OnMzY3JldC12YWx1ZQ==".into(),
    ));
    assert_eq!(rules(&c, &basic), [Rule::SecretEcho]);
    // Short values and successes are not judged: a refresh may return the same token.
    let mut short = ex(
        400,
        &[JSON],
        r#"{"error":"invalid_grant","error_description":"abc"}"#,
    );
    short.req_body = "grant_type=refresh_token&refresh_token=abc".into();
    assert_eq!(rules(&c, &short), []);
    let same =
        r#"{"access_token":"x","token_type":"Bearer","refresh_token":"rt-0123456789abcdef"}"#;
    assert_eq!(
        rules(&c, &ex(200, &[JSON, ("cache-control", "no-store")], same)),
        []
    );
}

#[test]
fn the_rule_table_is_consistent() {
    let reqs = crate::scenario::requirements::Requirements::builtin();
    let mut ids: Vec<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), Rule::ALL.len());
    for r in Rule::ALL {
        let row = reqs
            .get(r.requirement())
            .unwrap_or_else(|| panic!("{r}: {} not in the catalogue", r.requirement()));
        // A rule is never enforced more strictly than its requirement's catalogue level.
        assert!(r.level() >= row.level, "{r}");
        assert!(!r.title().is_empty() && !r.scope().is_empty());
    }
}

#[test]
fn an_echo_is_judged_on_the_json_strings_of_a_json_answer() {
    // The request's "token" is the text of an error body; the answer quotes nothing of it.
    let mut e = ex(
        400,
        &[JSON],
        r#"{"error":"invalid_grant","error_description":"unknown"}"#,
    );
    e.req_body = "grant_type=refresh_token&refresh_token=%22error%22%3A%22invalid_grant%22".into();
    assert_eq!(rules(&ctx(false), &e), []);
    let plain = ex(
        401,
        &[("www-authenticate", "Basic")],
        "no such token rt-0123456789abcdef",
    );
    assert!(rules(&ctx(false), &plain).contains(&Rule::SecretEcho));
}
