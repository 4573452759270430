//! Entry points for the cargo-fuzz targets (`fuzz/`) and their stable twins in `cargo test`.
//!
//! Each takes arbitrary bytes and must never panic, hang or allocate without bound: whatever the
//! input, the server answers with an RFC 6749 §5.2 error or accepts it.

use crate::config::Config;
use crate::policy::Policy;
use crate::request::{parse_form, parse_token_request};
use crate::state::AppState;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use std::sync::LazyLock;

/// Demo-client server state shared by the targets (no storage is touched).
static STATE: LazyLock<Option<AppState>> = LazyLock::new(|| {
    let policy = Policy::preset("rfc9700").ok()?;
    AppState::new(&Config::new(policy), "http://127.0.0.1:8080").ok()
});

/// Splits fuzz input into NUL-separated fields (at most `n`).
fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    data.splitn(n, |b| *b == 0).collect()
}

fn header(map: &mut HeaderMap, name: &'static str, value: &[u8]) {
    if let Ok(v) = HeaderValue::from_bytes(value) {
        map.append(HeaderName::from_static(name), v);
    }
}

/// A token request: `content-type \0 authorization \0 dpop \0 body`. Parses it and, when it
/// parses, runs client authentication (Basic decoding, post, client assertions) against the
/// demo clients.
pub fn token_request(data: &[u8]) {
    let f = fields(data, 4);
    let mut headers = HeaderMap::new();
    if let Some(ct) = f.first() {
        header(&mut headers, "content-type", ct);
    }
    if let Some(a) = f.get(1).filter(|a| !a.is_empty()) {
        header(&mut headers, "authorization", a);
    }
    if let Some(d) = f.get(2).filter(|d| !d.is_empty()) {
        header(&mut headers, "dpop", d);
    }
    let body = f.get(3).copied().unwrap_or_default();
    if let Ok(req) = parse_token_request(&headers, body)
        && let Some(state) = STATE.as_ref()
    {
        let audiences = vec![
            "http://127.0.0.1:8080".to_owned(),
            "http://127.0.0.1:8080/token".to_owned(),
        ];
        let _ = crate::client_auth::verify(state, &req, &audiences);
    }
}

/// `Authorization: Basic <data>` on an otherwise valid refresh request.
pub fn basic_header(data: &[u8]) {
    let mut value = b"Basic ".to_vec();
    value.extend_from_slice(data);
    let mut input = b"application/x-www-form-urlencoded\0".to_vec();
    input.extend_from_slice(&value);
    input.extend_from_slice(b"\0\0grant_type=refresh_token&refresh_token=x");
    token_request(&input);
}

/// A DPoP proof checked against `POST http://127.0.0.1:8080/token`.
pub fn dpop_proof(data: &[u8]) {
    let proof = String::from_utf8_lossy(data);
    let expected = crate::dpop::Expected {
        method: "POST",
        path: "/token",
        authorities: vec!["127.0.0.1:8080".to_owned()],
        now: 1_700_000_000,
        window: 60,
        skip_header_checks: false,
        skip_claim_checks: false,
    };
    let _ = crate::dpop::verify(&proof, &expected);
}

/// A form body and a scope string.
pub fn form_and_scope(data: &[u8]) {
    let _ = parse_form(data);
    let _ = crate::grant::parse_scope(&String::from_utf8_lossy(data));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points_accept_hostile_bytes() {
        let cases: &[&[u8]] = &[
            b"",
            b"\0\0\0",
            b"application/x-www-form-urlencoded\0Basic \xff\xfe\0\0grant_type=%zz",
            b"application/x-www-form-urlencoded\0\0a.b.c\0grant_type=refresh_token&refresh_token=a&refresh_token=b",
            b"application/x-www-form-urlencoded\0\0\0client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=e30.e30.&client_id=x",
        ];
        for c in cases {
            token_request(c);
            basic_header(c);
            dpop_proof(c);
            form_and_scope(c);
        }
    }
}
