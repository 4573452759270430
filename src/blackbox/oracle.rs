//! Oracles: what makes an answer a finding. The rules every answer keeps are the response
//! invariants the runner checks on every exchange ([`crate::invariant`]: one implementation,
//! each rule scoped as its RFC text); the fuzzer adds what only it knows, from how it built the
//! request: tokens for a request that must fail, a dropped connection, slowness.

use super::request::Req;
use crate::http::{HttpResponse, PreparedRequest};
use crate::invariant::{Context, Exchange, Rule};
use serde_json::Value;
use std::time::Duration;
use tokencert_policy::Level;

/// A kind of finding: a broken response invariant (the rules every answer keeps, shared with
/// the runner: [`crate::invariant`]), or what only the fuzzer can tell from its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Oracle {
    /// A response invariant the answer breaks.
    Invariant(Rule),
    /// Tokens came back for a request that must be refused.
    TokenForInvalidRequest,
    /// The connection closed without an answer.
    Dropped,
    /// Slower than the bound, or no answer before the request's deadline.
    Slow,
}

impl Oracle {
    /// Short name: file names, the console, a lab's expected findings.
    pub fn slug(self) -> &'static str {
        match self {
            Oracle::Invariant(r) => r.id(),
            Oracle::TokenForInvalidRequest => "token-for-invalid-request",
            Oracle::Dropped => "connection-dropped",
            Oracle::Slow => "slow",
        }
    }

    /// What it means.
    pub fn describe(self) -> &'static str {
        match self {
            Oracle::Invariant(r) => r.title(),
            Oracle::TokenForInvalidRequest => {
                "tokens were issued for a request that must be refused"
            }
            Oracle::Dropped => "the server closed the connection without an answer",
            Oracle::Slow => "the answer was slower than the latency bound (or did not come at all)",
        }
    }

    /// The requirement it breaks.
    pub fn requirement(self) -> &'static str {
        match self {
            Oracle::Invariant(r) => r.requirement(),
            Oracle::TokenForInvalidRequest | Oracle::Dropped | Oracle::Slow => "RFC6749-5.2.a",
        }
    }

    /// The level of that requirement.
    pub fn level(self) -> Level {
        match self {
            Oracle::Invariant(r) => r.level(),
            Oracle::TokenForInvalidRequest | Oracle::Dropped | Oracle::Slow => Level::Must,
        }
    }

    /// Whether the oracle is about the whole endpoint, however reached: its findings are one
    /// per status class, whatever the mutations.
    pub fn endpoint_wide(self) -> bool {
        matches!(
            self,
            Oracle::Invariant(Rule::NoStore | Rule::Pragma) | Oracle::Slow
        )
    }
}

/// One request sent and its answer.
pub struct Sent {
    /// The request.
    pub req: Req,
    /// What went on the wire.
    pub prepared: PreparedRequest,
    /// The answer, or why there was none.
    pub outcome: Result<HttpResponse, String>,
    /// A success's body parsed as JSON, once (`None` for other answers).
    pub json: Option<Value>,
}

impl Sent {
    /// Bytes of the request line and headers.
    fn head_len(&self) -> usize {
        let p = &self.prepared;
        p.method.len()
            + p.url.as_str().len()
            + p.headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 4)
                .sum::<usize>()
    }
}

/// The request head a server must take (RFC 9112 §3 recommends supporting request lines of at
/// least 8000 octets; common servers cap the whole head near 8 KiB). Over it, a server may
/// refuse by closing the connection.
const HEAD_LIMIT: usize = 8000;

/// Whether a success answer carries tokens.
pub fn issued(resp: &HttpResponse, json: Option<&Value>) -> bool {
    (200..300).contains(&resp.status)
        && json.is_some_and(|j| j.get("access_token").is_some() || j.get("refresh_token").is_some())
}

/// Every oracle the answer trips, with what the invariant saw (for the console).
pub fn judge(ctx: &Context, sent: &Sent, bound: Duration) -> Vec<(Oracle, String)> {
    let resp = match &sent.outcome {
        Ok(r) => r,
        // No answer in time says nothing about the answer: too slow, not a 5xx.
        Err(e) if crate::http::NoAnswer::is(e) => {
            return vec![(Oracle::Slow, "no answer in time".into())];
        }
        Err(_) if sent.head_len() > HEAD_LIMIT => return Vec::new(),
        Err(_) => return vec![(Oracle::Dropped, "no answer".into())],
    };
    let mut out: Vec<(Oracle, String)> = Vec::new();
    if resp.duration > bound {
        out.push((Oracle::Slow, format!("{} ms", resp.duration.as_millis())));
    }
    let ex = Exchange::from_wire(&sent.prepared, resp);
    out.extend(
        crate::invariant::evaluate(ctx, &ex)
            .into_iter()
            .map(|v| (Oracle::Invariant(v.rule), v.detail)),
    );
    if sent.req.must_fail && issued(resp, sent.json.as_ref()) {
        out.push((
            Oracle::TokenForInvalidRequest,
            format!("status {} with tokens", resp.status),
        ));
    }
    out
}

/// `(status, error)` of an outcome. The `error` is kept only when it looks like an error code
/// (a short word of `[A-Za-z0-9_.:-]`): it goes into the outputs, and a server that echoes its
/// input there must not get a token written out.
pub fn status_and_code(outcome: &Result<HttpResponse, String>) -> (Option<u16>, Option<String>) {
    let code_like = |s: &str| {
        (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
    };
    match outcome {
        Ok(r) => (
            Some(r.status),
            serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|j| j.get("error").cloned())
                .map(|e| match e.as_str() {
                    Some(s) if code_like(s) => s.to_owned(),
                    _ => "(not an error code)".to_owned(),
                }),
        ),
        Err(_) => (None, None),
    }
}
