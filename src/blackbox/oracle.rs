//! Oracles: what makes an answer a finding. Each is scoped as its rule: §5.2's error shape
//! applies to the token endpoint's errors, not to HTTP-level refusals (another method, a body
//! too large or of another media type); no-store to responses that carry tokens.

use super::request::Req;
use crate::http::HttpResponse;
use crate::session::Session;
use serde_json::Value;
use std::time::Duration;

/// A kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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

    /// Whether the oracle is about the whole endpoint, however reached: its findings are one
    /// per status class, whatever the mutations.
    pub fn endpoint_wide(self) -> bool {
        matches!(self, Oracle::MissingNoStore | Oracle::Slow)
    }
}

/// `error` / `error_description` characters (RFC 6749 §5.2, Appendix A.7-A.8).
pub fn error_charset(s: &str) -> bool {
    s.bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// Statuses that refuse a request at the HTTP level, before any token request is read: RFC
/// 6749 §5.2 shapes the errors of token requests, not these (the catalogue's
/// hygiene.get-not-accepted agrees). 405 method, 413 content too large, 414 URI too long, 415
/// media type, 431 header fields too large.
pub fn http_refusal(req: &Req, status: u16) -> bool {
    req.method != "POST" || matches!(status, 405 | 413 | 414 | 415 | 431)
}

/// Whether a success answer carries tokens.
pub fn issued(resp: &HttpResponse, json: Option<&Value>) -> bool {
    (200..300).contains(&resp.status)
        && json.is_some_and(|j| j.get("access_token").is_some() || j.get("refresh_token").is_some())
}

/// One request sent and its answer.
pub struct Sent {
    /// The request.
    pub req: Req,
    /// Bytes of its request line and headers.
    pub head_len: usize,
    /// The answer, or why there was none.
    pub outcome: Result<HttpResponse, String>,
    /// The answer's body parsed as JSON, once.
    pub json: Option<Value>,
}

/// The request head a server must take (RFC 9112 §3 recommends supporting request lines of at
/// least 8000 octets; common servers cap the whole head near 8 KiB). Over it, a server may
/// refuse by closing the connection.
const HEAD_LIMIT: usize = 8000;

/// Every oracle the answer trips.
pub fn judge(session: &Session, sent: &Sent, bound: Duration) -> Vec<Oracle> {
    let (req, json) = (&sent.req, sent.json.as_ref());
    let mut out = Vec::new();
    let resp = match &sent.outcome {
        Ok(r) => r,
        // No answer in time says nothing about the answer: too slow, not a 5xx.
        Err(e) if crate::http::NoAnswer::is(e) => return vec![Oracle::Slow],
        Err(_) if sent.head_len > HEAD_LIMIT => return Vec::new(),
        Err(_) => return vec![Oracle::ServerError],
    };
    if resp.duration > bound {
        out.push(Oracle::Slow);
    }
    if resp.status >= 500 {
        out.push(Oracle::ServerError);
        return out;
    }
    let issued = issued(resp, json);
    if issued && req.must_fail {
        out.push(Oracle::TokenForInvalidRequest);
    }
    if !(200..300).contains(&resp.status) && !http_refusal(req, resp.status) {
        let error = json.and_then(|j| j.get("error")).and_then(Value::as_str);
        let description_ok = json
            .and_then(|j| j.get("error_description"))
            .is_none_or(|d| d.as_str().is_some_and(error_charset));
        match error {
            Some(e) if !e.is_empty() && error_charset(e) && description_ok => {
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

/// `(status, error)` of an outcome. The `error` is kept only when it looks like an error code
/// (a short word of `[A-Za-z0-9_.:-]`): it goes into the outputs, and a server that echoes its
/// input there must not get a token written out.
pub fn status_and_code(
    outcome: &Result<HttpResponse, String>,
    json: Option<&Value>,
) -> (Option<u16>, Option<String>) {
    let code_like = |s: &str| {
        (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
    };
    match outcome {
        Ok(r) => (
            Some(r.status),
            json.and_then(|j| j.get("error")).map(|e| match e.as_str() {
                Some(s) if code_like(s) => s.to_owned(),
                _ => "(not an error code)".to_owned(),
            }),
        ),
        Err(_) => (None, None),
    }
}
