//! Response invariants: rules every answer of the target keeps, whatever the request and
//! whichever scenario sent it. The runner evaluates them on every exchange of every cell and
//! reports each broken rule once per target ([`tally`]); the black-box fuzzer judges its answers
//! with the same function.
//!
//! Each rule is scoped as its RFC text is ([`Rule::scope`]): `no-store` covers responses that
//! carry tokens (RFC 6749 §5.1), the §5.2 error shape covers the token endpoint's errors to token
//! requests (a POST; HTTP-level refusals such as a framework's 405, 408, 411, 413, 414, 415, 429 or 431 are not token
//! errors), `Pragma` applies only to a target that claims RFC 6749 (OAuth 2.1 and OpenID Connect
//! dropped it).
//!
//! # How a caller uses it (the runner, and the black-box fuzzer)
//!
//! ```no_run
//! # use tokencert::invariant::{Context, Exchange, evaluate};
//! # fn demo(target: &tokencert::profile::Target, req: &tokencert::http::PreparedRequest,
//! #         resp: &tokencert::http::HttpResponse) {
//! // Once per run: the target's endpoints and what its claims switch on.
//! let ctx = Context::for_target(target);
//! // For every answer (a request with no answer is not judged here):
//! for v in evaluate(&ctx, &Exchange::from_wire(req, resp)) {
//!     println!("{} ({} {}): {}", v.rule, v.rule.requirement(), v.rule.level(), v.detail);
//! }
//! # }
//! ```
//!
//! The function is pure (no I/O, no redactor): it sees the raw exchange, so it can tell a
//! secret echoed in an error; callers redact before they show anything.

pub mod tally;

use crate::profile::Target;
use crate::profile::secret::SENSITIVE_FIELDS;
use base64::Engine as _;
use serde_json::Value;
use std::fmt;
use tokencert_policy::Level;

pub use tally::Tally;

macro_rules! rules {
    ( $( $(#[$doc:meta])* $variant:ident = $id:literal / $req:literal / $level:ident / $title:literal / $scope:literal, )+ ) => {
        /// A response invariant. The table below gives each its id, the requirement it enforces,
        /// its level, what it says and which exchanges it applies to.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule {
            $( $(#[$doc])* $variant, )+
        }

        impl Rule {
            /// Every rule, in report order.
            pub const ALL: &'static [Rule] = &[ $( Rule::$variant, )+ ];

            /// The rule's id (`no-store`); its report row is `invariant.<id>`.
            pub const fn id(self) -> &'static str {
                match self { $( Rule::$variant => $id, )+ }
            }

            /// The catalogue id of the requirement it enforces.
            pub const fn requirement(self) -> &'static str {
                match self { $( Rule::$variant => $req, )+ }
            }

            /// The level a violation is reported at.
            pub const fn level(self) -> Level {
                match self { $( Rule::$variant => Level::$level, )+ }
            }

            /// What the rule says, in one line.
            pub const fn title(self) -> &'static str {
                match self { $( Rule::$variant => $title, )+ }
            }

            /// Which exchanges it is evaluated on.
            pub const fn scope(self) -> &'static str {
                match self { $( Rule::$variant => $scope, )+ }
            }
        }
    };
}

rules! {
    /// A 5xx from an OAuth endpoint.
    ServerError = "server-error" / "RFC6749-5.2.a" / Must
        / "the token, revocation, introspection and device authorization endpoints never answer 5xx"
        / "every answer of those endpoints (a 503 from the revocation endpoint is allowed: RFC 7009 §2.2.1)",
    /// A token-endpoint error that is not §5.2 JSON with a registered code.
    ErrorJson = "error-json" / "RFC6749-5.2.a" / Must
        / "token-endpoint errors are application/json objects whose `error` is a registered code"
        / "4xx answers of the token endpoint to a POST, except HTTP-level refusals (405, 408, 411, 413, 414, 415, 429, 431)",
    /// `error` or `error_description` outside the §5.2 character set.
    ErrorCharset = "error-charset" / "RFC6749-5.2.b" / Must
        / "`error` and `error_description` use only the characters RFC 6749 §5.2 allows"
        / "4xx answers of the token endpoint to a POST, except HTTP-level refusals (405, 408, 411, 413, 414, 415, 429, 431)",
    /// A registered error with another status than §5.2 gives it.
    ErrorStatus = "error-status" / "RFC6749-5.2.a" / Must
        / "token-endpoint errors use 400 (401 allowed for invalid_client)"
        / "4xx answers of the token endpoint to a POST whose `error` is a registered code, except HTTP-level refusals",
    /// A 401 without any challenge.
    Challenge = "challenge" / "RFC9110-15.5.2.a" / Must
        / "every 401 carries a WWW-Authenticate challenge"
        / "401 answers of the token, revocation, introspection and device authorization endpoints",
    /// Basic was tried and the answer does not challenge Basic.
    BasicChallenge = "basic-challenge" / "RFC6749-5.2.c" / Must
        / "after Basic authentication, invalid_client is a 401 with a Basic challenge"
        / "answers of the token, revocation, introspection and device authorization endpoints to a POST with `Authorization: Basic`: every 401, and every invalid_client",
    /// A response with tokens that may be cached.
    NoStore = "no-store" / "RFC6749-5.1.d" / Must
        / "responses carrying tokens have Cache-Control: no-store"
        / "2xx answers whose JSON carries access_token, refresh_token or id_token",
    /// A response with tokens without `Pragma: no-cache`, from a server claiming RFC 6749.
    Pragma = "pragma" / "RFC6749-5.1.d" / Must
        / "responses carrying tokens have Pragma: no-cache (RFC 6749 only)"
        / "2xx answers whose JSON carries access_token, refresh_token or id_token, when the profile claims rfc6749",
    /// An error repeating a credential or token of its request.
    SecretEcho = "secret-echo" / "RFC6749-10.3.a" / Should
        / "an error repeats no credential or token of its request"
        / "4xx and 5xx answers of the token, revocation, introspection and device authorization endpoints; values of at least 8 characters from sensitive form fields, the query, Basic credentials and Authorization tokens",
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Error codes a token endpoint may answer with: RFC 6749 §5.2's own, and the extensions
/// registered for the token endpoint that tokencert's catalogue covers.
pub const TOKEN_ERROR_CODES: &[(&str, &str)] = &[
    ("invalid_request", "RFC 6749 §5.2"),
    ("invalid_client", "RFC 6749 §5.2"),
    ("invalid_grant", "RFC 6749 §5.2"),
    ("unauthorized_client", "RFC 6749 §5.2"),
    ("unsupported_grant_type", "RFC 6749 §5.2"),
    ("invalid_scope", "RFC 6749 §5.2"),
    ("authorization_pending", "RFC 8628 §3.5"),
    ("slow_down", "RFC 8628 §3.5"),
    ("access_denied", "RFC 8628 §3.5"),
    ("expired_token", "RFC 8628 §3.5"),
    ("invalid_target", "RFC 8707 §2"),
    ("invalid_dpop_proof", "RFC 9449 §5"),
    ("use_dpop_nonce", "RFC 9449 §8"),
    ("invalid_authorization_details", "RFC 9396 §5"),
];

/// The OAuth endpoints the rules distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// RFC 6749 §3.2.
    Token,
    /// RFC 7009.
    Revocation,
    /// RFC 7662.
    Introspection,
    /// RFC 8628 §3.1.
    DeviceAuthorization,
}

/// What the rules need to know about the target: where its OAuth endpoints are, and whether it
/// claims RFC 6749 (which alone requires `Pragma: no-cache`).
#[derive(Debug, Clone, Default)]
pub struct Context {
    endpoints: Vec<(Endpoint, url::Url)>,
    /// Judge `Pragma: no-cache` (the target claims RFC 6749).
    pub pragma: bool,
}

impl Context {
    /// The context of a target: its endpoints, and `pragma` when it claims `rfc6749`.
    pub fn for_target(target: &Target) -> Context {
        let mut ctx = Context {
            pragma: target.claims.iter().any(|c| c == "rfc6749"),
            ..Context::default()
        };
        for (name, e) in [
            ("token", Endpoint::Token),
            ("revocation", Endpoint::Revocation),
            ("introspection", Endpoint::Introspection),
            ("device_authorization", Endpoint::DeviceAuthorization),
        ] {
            if let Some(u) = target.endpoints.get(name) {
                ctx = ctx.with_endpoint(e, u.clone());
            }
        }
        ctx
    }

    /// Adds an endpoint (tests, and callers without a profile).
    pub fn with_endpoint(mut self, e: Endpoint, url: url::Url) -> Context {
        self.endpoints.push((e, url));
        self
    }

    /// Which OAuth endpoint `url` is, by scheme, host, port and path (query and a trailing `/`
    /// ignored).
    pub fn endpoint_of(&self, url: &str) -> Option<Endpoint> {
        let u = url::Url::parse(url).ok()?;
        let key = |u: &url::Url| {
            (
                u.scheme().to_owned(),
                u.host_str().map(str::to_ascii_lowercase),
                u.port_or_known_default(),
                u.path().trim_end_matches('/').to_owned(),
            )
        };
        let k = key(&u);
        self.endpoints
            .iter()
            .find(|(_, e)| key(e) == k)
            .map(|(e, _)| *e)
    }
}

/// One answered request, borrowed from wherever the caller keeps it.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    /// Request method.
    pub method: &'a str,
    /// Request URL, absolute.
    pub url: &'a str,
    /// Request headers.
    pub request_headers: &'a [(String, String)],
    /// Request body.
    pub request_body: &'a [u8],
    /// Response status.
    pub status: u16,
    /// Response headers.
    pub response_headers: &'a [(String, String)],
    /// Response body.
    pub response_body: &'a [u8],
}

impl<'a> Exchange<'a> {
    /// From a request as sent and its answer (the fuzzer's view).
    pub fn from_wire(
        req: &'a crate::http::PreparedRequest,
        resp: &'a crate::http::HttpResponse,
    ) -> Exchange<'a> {
        Exchange {
            method: &req.method,
            url: req.url.as_str(),
            request_headers: &req.headers,
            request_body: &req.body,
            status: resp.status,
            response_headers: &resp.headers,
            response_body: &resp.body,
        }
    }

    /// From a report exchange, before redaction (the runner's view); `None` without an answer.
    pub fn from_record(x: &'a crate::report::Exchange) -> Option<Exchange<'a>> {
        let resp = x.response.as_ref()?;
        Some(Exchange {
            method: &x.request.method,
            url: &x.request.url,
            request_headers: &x.request.headers,
            request_body: x.request.body.as_deref().unwrap_or("").as_bytes(),
            status: resp.status,
            response_headers: &resp.headers,
            response_body: resp.body.as_bytes(),
        })
    }

    fn response_header(&self, name: &str) -> Vec<&'a str> {
        header(self.response_headers, name)
    }

    /// Whether the request authenticated with Basic (RFC 7617): the scheme and a token68 that
    /// decodes to `id:secret`. A malformed header is no Basic authentication a server must
    /// challenge; it may refuse it as any other malformed request.
    fn used_basic(&self) -> bool {
        use base64::Engine as _;
        // RFC 9110 §11.4: the scheme, then one or more SP (a tab is no separator there).
        header(self.request_headers, "authorization")
            .iter()
            .any(|v| {
                v.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("basic "))
                    && v.get(6..).is_some_and(|t| {
                        base64::engine::general_purpose::STANDARD
                            .decode(t.trim())
                            .is_ok_and(|d| d.contains(&b':') && !d.iter().any(u8::is_ascii_control))
                    })
            })
    }
}

/// A broken rule on one exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// What was seen, never a secret value (`status 500`, "no Cache-Control").
    pub detail: String,
}

impl Violation {
    fn new(rule: Rule, detail: impl Into<String>) -> Violation {
        Violation {
            rule,
            detail: detail.into(),
        }
    }
}

/// Every rule `ex` breaks.
pub fn evaluate(ctx: &Context, ex: &Exchange<'_>) -> Vec<Violation> {
    let mut out = Vec::new();
    let endpoint = ctx.endpoint_of(ex.url);
    let json: Option<Value> = serde_json::from_slice(ex.response_body).ok();
    let error = json
        .as_ref()
        .and_then(|j| j.get("error"))
        .and_then(Value::as_str);
    if let Some(e) = endpoint {
        server_error(e, ex, &mut out);
        challenges(ex, error, &mut out);
        if ex.status >= 400 {
            secret_echo(ex, json.as_ref(), &mut out);
        }
        if e == Endpoint::Token {
            token_error(ex, json.as_ref(), &mut out);
        }
    }
    caching(ctx, ex, json.as_ref(), &mut out);
    out
}

fn server_error(e: Endpoint, ex: &Exchange<'_>, out: &mut Vec<Violation>) {
    let allowed = e == Endpoint::Revocation && ex.status == 503;
    if ex.status >= 500 && !allowed {
        out.push(Violation::new(
            Rule::ServerError,
            format!("status {}", ex.status),
        ));
    }
}

/// Statuses that refuse a request at the HTTP level, before any token request is read: the
/// method (405), a timeout (408), a missing length (411), a body, URI or header block too large
/// (413, 414, 431), the media type (415), the rate (429).
pub const HTTP_REFUSALS: &[u16] = &[405, 408, 411, 413, 414, 415, 429, 431];

/// Whether a 4xx to a token request is a §5.2 token error rather than an HTTP-level refusal
/// that happens before any token request is read (method, timeout, length, size of the body,
/// target or header fields, media type, rate: RFC 9110 §15.5, RFC 6585).
fn is_token_error(ex: &Exchange<'_>) -> bool {
    ex.method.eq_ignore_ascii_case("POST")
        && (400..500).contains(&ex.status)
        && !HTTP_REFUSALS.contains(&ex.status)
}

fn token_error(ex: &Exchange<'_>, json: Option<&Value>, out: &mut Vec<Violation>) {
    if !is_token_error(ex) {
        return;
    }
    let content_type = ex.response_header("content-type");
    let media = content_type.first().map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    if media.as_deref() != Some("application/json") {
        out.push(Violation::new(
            Rule::ErrorJson,
            format!(
                "status {} with Content-Type {}",
                ex.status,
                media.as_deref().unwrap_or("(none)")
            ),
        ));
        return;
    }
    let Some(obj) = json.and_then(Value::as_object) else {
        out.push(Violation::new(
            Rule::ErrorJson,
            format!("status {}: the body is not a JSON object", ex.status),
        ));
        return;
    };
    let Some(code) = obj.get("error").and_then(Value::as_str) else {
        out.push(Violation::new(
            Rule::ErrorJson,
            format!("status {}: no string `error` member", ex.status),
        ));
        return;
    };
    for member in ["error", "error_description"] {
        match obj.get(member) {
            Some(Value::String(s)) if charset_ok(s) => {}
            None => {}
            Some(_) => out.push(Violation::new(
                Rule::ErrorCharset,
                format!("`{member}` holds characters outside %x20-21 / %x23-5B / %x5D-7E"),
            )),
        }
    }
    if !TOKEN_ERROR_CODES.iter().any(|(c, _)| *c == code) {
        out.push(Violation::new(
            Rule::ErrorJson,
            format!(
                "`error` is `{}`, not a code registered for the token endpoint",
                printable(code)
            ),
        ));
        return;
    }
    let status_ok = ex.status == 400 || (ex.status == 401 && code == "invalid_client");
    if !status_ok {
        out.push(Violation::new(
            Rule::ErrorStatus,
            format!("{code} with status {}", ex.status),
        ));
    }
}

fn challenges(ex: &Exchange<'_>, error: Option<&str>, out: &mut Vec<Violation>) {
    let challenges = ex.response_header("www-authenticate");
    let any = challenges.iter().any(|v| !v.trim().is_empty());
    if ex.status == 401 && !any {
        out.push(Violation::new(
            Rule::Challenge,
            "401 without WWW-Authenticate",
        ));
    }
    // RFC 6749 §5.2 speaks of requests to the endpoints (POST); a GET gets only RFC 9110's rule.
    if !ex.used_basic() || !ex.method.eq_ignore_ascii_case("POST") {
        return;
    }
    let basic = challenges
        .iter()
        .flat_map(|v| v.split(','))
        .any(|c| scheme_is(c.trim(), "basic"));
    if ex.status == 401 && !basic {
        out.push(Violation::new(
            Rule::BasicChallenge,
            if any {
                "401 after Basic authentication without a Basic challenge"
            } else {
                "401 after Basic authentication without WWW-Authenticate"
            },
        ));
    } else if error == Some("invalid_client") && ex.status != 401 {
        out.push(Violation::new(
            Rule::BasicChallenge,
            format!(
                "invalid_client after Basic authentication with status {}",
                ex.status
            ),
        ));
    }
}

fn caching(ctx: &Context, ex: &Exchange<'_>, json: Option<&Value>, out: &mut Vec<Violation>) {
    let carries_tokens = (200..300).contains(&ex.status)
        && json.is_some_and(|j| {
            ["access_token", "refresh_token", "id_token"]
                .iter()
                .any(|k| j.get(k).is_some_and(Value::is_string))
        });
    if !carries_tokens {
        return;
    }
    let has = |name: &str, directive: &str| {
        ex.response_header(name)
            .iter()
            .flat_map(|v| v.split(','))
            .any(|d| d.trim().eq_ignore_ascii_case(directive))
    };
    if !has("cache-control", "no-store") {
        out.push(Violation::new(
            Rule::NoStore,
            "a response with tokens without Cache-Control: no-store",
        ));
    }
    if ctx.pragma && !has("pragma", "no-cache") {
        out.push(Violation::new(
            Rule::Pragma,
            "a response with tokens without Pragma: no-cache",
        ));
    }
}

/// Shortest value judged as an echo: shorter ones appear in ordinary text by chance.
const MIN_ECHO: usize = 8;

fn secret_echo(ex: &Exchange<'_>, json: Option<&Value>, out: &mut Vec<Violation>) {
    let sent = sensitive_values(ex);
    if sent.is_empty() {
        return;
    }
    // In a JSON answer only its strings count: a value the request carried may itself look
    // like JSON text (a scenario that sends an error body as a token, say).
    let mut texts: Vec<String> = Vec::new();
    match json {
        Some(j) => strings_of(j, &mut texts),
        None => texts.push(String::from_utf8_lossy(ex.response_body).into_owned()),
    }
    texts.extend(ex.response_headers.iter().map(|(_, v)| v.clone()));
    let mut echoed: Vec<&str> = Vec::new();
    for (name, value) in &sent {
        if texts.iter().any(|t| t.contains(value.as_str())) && !echoed.contains(&name.as_str()) {
            echoed.push(name);
        }
    }
    if !echoed.is_empty() {
        out.push(Violation::new(
            Rule::SecretEcho,
            format!(
                "the error repeats the request's {}",
                echoed
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
}

/// `(where, value)` of every credential or token the request carried, `MIN_ECHO` long or more.
fn sensitive_values(ex: &Exchange<'_>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let query = url::Url::parse(ex.url)
        .ok()
        .map(|u| u.query().unwrap_or("").as_bytes().to_vec())
        .unwrap_or_default();
    for source in [ex.request_body, query.as_slice()] {
        for (k, v) in form_urlencoded::parse(source) {
            if SENSITIVE_FIELDS.contains(&k.as_ref()) {
                out.push((k.into_owned(), v.into_owned()));
            }
        }
    }
    for v in header(ex.request_headers, "authorization") {
        let mut parts = v.splitn(2, ' ');
        let scheme = parts.next().unwrap_or("").to_ascii_lowercase();
        let cred = parts.next().unwrap_or("").trim();
        if scheme == "basic" {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(cred)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            if let Some((_, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                out.push(("client secret (Basic)".into(), secret.to_owned()));
                let form: String = form_urlencoded::parse(format!("s={secret}").as_bytes())
                    .map(|(_, v)| v.into_owned())
                    .collect();
                out.push(("client secret (Basic)".into(), form));
            }
        } else if !cred.is_empty() {
            out.push((format!("{scheme} token (Authorization)"), cred.to_owned()));
        }
    }
    out.retain(|(_, v)| v.chars().count() >= MIN_ECHO);
    out
}

fn strings_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings_of(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings_of(x, out)),
        _ => {}
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Whether a credentials or challenge value starts with the auth scheme `scheme`.
fn scheme_is(value: &str, scheme: &str) -> bool {
    value
        .split_whitespace()
        .next()
        .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
}

/// RFC 6749 §5.2's character set for `error` and `error_description`.
fn charset_ok(s: &str) -> bool {
    s.bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// A code as it may be shown: at most 40 printable ASCII characters.
fn printable(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .take(40)
        .collect();
    if s.chars().count() > 40 {
        format!("{clean}…")
    } else {
        clean
    }
}

#[cfg(test)]
mod tests;
