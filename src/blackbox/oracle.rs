//! Oracles: what makes an answer a finding.

use super::grammar::Req;
use crate::http::{HttpResponse, PreparedRequest};
use crate::session::Session;
use std::time::Duration;

/// A kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Oracle {
    /// A 5xx answer, or a connection closed without an answer.
    ServerError,
    /// Tokens came back for a request that must be refused.
    TokenForInvalidRequest,
    /// An error that is not RFC 6749 §5.2 JSON (`error` string with allowed characters).
    MalformedError,
    /// An error with a status RFC 6749 §5.2 does not allow (400; 401 for invalid_client).
    WrongStatus,
    /// A 401 after Basic authentication without `WWW-Authenticate: Basic`.
    MissingChallenge,
    /// A token response (tokens issued) without `Cache-Control: no-store`.
    MissingNoStore,
    /// Slower than the bound, or no answer before the request's deadline.
    Slow,
}

impl Oracle {
    /// File-name slug.
    pub fn slug(self) -> &'static str {
        match self {
            Oracle::ServerError => "server-error",
            Oracle::TokenForInvalidRequest => "token-for-invalid-request",
            Oracle::MalformedError => "malformed-error",
            Oracle::WrongStatus => "wrong-status",
            Oracle::MissingChallenge => "missing-www-authenticate",
            Oracle::MissingNoStore => "missing-no-store",
            Oracle::Slow => "slow",
        }
    }

    /// What it means.
    pub fn describe(self) -> &'static str {
        match self {
            Oracle::ServerError => "the server answered 5xx (or dropped the connection)",
            Oracle::TokenForInvalidRequest => {
                "tokens were issued for a request that must be refused"
            }
            Oracle::MalformedError => "the error is not RFC 6749 §5.2 JSON",
            Oracle::WrongStatus => "the error status is not 400 (or 401 for invalid_client)",
            Oracle::MissingChallenge => {
                "401 after Basic authentication without WWW-Authenticate: Basic"
            }
            Oracle::MissingNoStore => "a token response without Cache-Control: no-store",
            Oracle::Slow => "the answer was slower than the latency bound (or did not come at all)",
        }
    }

    /// The requirement it breaks.
    pub fn requirement(self) -> &'static str {
        match self {
            Oracle::ServerError | Oracle::WrongStatus => "RFC6749-5.2.a",
            Oracle::TokenForInvalidRequest => "RFC6749-5.2.a",
            Oracle::MalformedError => "RFC6749-5.2.b",
            Oracle::MissingChallenge => "RFC6749-5.2.c",
            Oracle::MissingNoStore => "RFC6749-5.1.d",
            Oracle::Slow => "RFC6749-5.2.a",
        }
    }
}

/// Every oracle the answer trips.
pub fn judge(
    session: &Session,
    req: &Req,
    _prepared: &PreparedRequest,
    outcome: &Result<HttpResponse, String>,
    bound: Duration,
) -> Vec<Oracle> {
    let mut out = Vec::new();
    let resp = match outcome {
        Ok(r) => r,
        // No answer in time says nothing about the answer: too slow, not a 5xx.
        Err(e) if crate::http::NoAnswer::is(e) => return vec![Oracle::Slow],
        Err(_) => return vec![Oracle::ServerError],
    };
    if resp.duration > bound {
        out.push(Oracle::Slow);
    }
    if resp.status >= 500 {
        out.push(Oracle::ServerError);
        return out;
    }
    let json: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
    let issued = (200..300).contains(&resp.status)
        && json
            .as_ref()
            .is_some_and(|j| j.get("access_token").is_some() || j.get("refresh_token").is_some());
    if issued && req.must_fail {
        out.push(Oracle::TokenForInvalidRequest);
    }
    // HTTP-level refusals (another method than POST, a body too large or of another media type)
    // happen before any token request is read: RFC 6749 §5.2 shapes the errors of token
    // requests, not these answers (the catalogue's hygiene.get-not-accepted agrees).
    let http_refusal = req.method != "POST" || matches!(resp.status, 405 | 413 | 415);
    if !(200..300).contains(&resp.status) && !http_refusal {
        let error = json
            .as_ref()
            .and_then(|j| j.get("error"))
            .and_then(|e| e.as_str());
        let charset_ok = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        };
        let description_ok = json
            .as_ref()
            .and_then(|j| j.get("error_description"))
            .is_none_or(|d| d.as_str().is_some_and(charset_ok));
        match error {
            Some(e) if charset_ok(e) && description_ok => {
                let status_ok = match resp.status {
                    400 => true,
                    401 => e == "invalid_client",
                    _ => false,
                };
                if !status_ok {
                    out.push(Oracle::WrongStatus);
                }
            }
            _ => out.push(Oracle::MalformedError),
        }
    }
    if resp.status == 401
        && req.used_basic(session)
        && !resp
            .header_values("www-authenticate")
            .iter()
            .any(|v| v.to_ascii_lowercase().starts_with("basic"))
    {
        out.push(Oracle::MissingChallenge);
    }
    // RFC 6749 §5.1's MUST covers responses carrying tokens; errors carry none (the catalogue
    // judges no-store on errors as a SHOULD, in its errors.* scenarios).
    if issued
        && !resp
            .header_values("cache-control")
            .iter()
            .any(|v| v.to_ascii_lowercase().contains("no-store"))
    {
        out.push(Oracle::MissingNoStore);
    }
    out
}

/// `(status, error)` of an outcome.
pub fn status_and_code(outcome: &Result<HttpResponse, String>) -> (Option<u16>, Option<String>) {
    match outcome {
        Ok(r) => (
            Some(r.status),
            serde_json::from_slice::<serde_json::Value>(&r.body)
                .ok()
                .and_then(|j| j.get("error").and_then(|e| e.as_str()).map(str::to_owned)),
        ),
        Err(_) => (None, None),
    }
}

/// Findings are the same when the oracle, the status class and the mutation kinds agree.
pub fn dedupe_key(o: Oracle, req: &Req, outcome: &Result<HttpResponse, String>) -> String {
    let (status, _) = status_and_code(outcome);
    let mut kinds: Vec<String> = req.mutations.iter().map(|m| m.kind()).collect();
    kinds.sort();
    kinds.dedup();
    // Oracles about the whole endpoint (no-store, slow) are one finding however reached.
    if matches!(o, Oracle::MissingNoStore | Oracle::Slow) {
        return format!("{o:?}/{}", status.map_or(0, |s| s / 100));
    }
    format!("{o:?}/{}/{}", status.unwrap_or(0), kinds.join("+"))
}
