//! Parsing of form-encoded requests from raw bytes (RFC 6749 §3.2, Appendix B).
//!
//! The parser is strict and total: any byte string gives either a request or an
//! `invalid_request` error, never a panic. Axum's own extractors are not used for these bodies
//! because their rejections are plain text, not RFC 6749 §5.2 JSON. This module has no I/O and no
//! server state, so a fuzz target can call [`parse_token_request`] directly.

use crate::error::{ChallengeKind, OAuthError};
use crate::token::ClientSecret;
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use std::collections::BTreeMap;

/// Bodies above this size are refused with 413 and `invalid_request`.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Parameters that may legitimately repeat (RFC 8707 §2, RFC 8693 §2.1).
const MULTI_VALUED: &[&str] = &["resource", "audience"];

/// Decoded form parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, Vec<String>>);

impl Params {
    /// The value of a single-valued parameter. An empty value counts as omitted (RFC 6749 §3.2).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Every non-empty value of a multi-valued parameter.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .get(name)
            .map(|v| {
                v.iter()
                    .map(String::as_str)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the parameter was sent at all, even empty.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The names of every parameter sent.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// A required parameter, or `invalid_request` naming it.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("missing parameter {name}")))
    }
}

/// Credentials from `Authorization: Basic` (RFC 6749 §2.3.1), already form-urldecoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// The client identifier.
    pub client_id: String,
    /// The client secret.
    pub secret: ClientSecret,
}

/// A parsed token (or revocation, introspection, device) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The form parameters.
    pub params: Params,
    /// Basic credentials, when the Authorization header carried them.
    pub basic: Option<BasicCredentials>,
    /// The single `DPoP` header's value (RFC 9449 §4.3: more than one is an invalid proof).
    pub dpop: Option<String>,
}

/// Options that exist only so flaws can weaken the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Form-urldecode Basic user and password (RFC 6749 §2.3.1). Off only for the
    /// `basic-not-form-decoded` flaw.
    pub form_decode_basic: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            form_decode_basic: true,
        }
    }
}

/// Parses a POSTed form request: content type, body, Basic credentials, DPoP header.
pub fn parse_token_request(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    parse_token_request_with(headers, body, ParseOptions::default())
}

/// [`parse_token_request`] with explicit options.
pub fn parse_token_request_with(
    headers: &HeaderMap,
    body: &[u8],
    options: ParseOptions,
) -> Result<TokenRequest, OAuthError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(body_too_large());
    }
    check_content_type(headers)?;
    let params = parse_form(body)?;
    let basic = parse_authorization(headers, options)?;
    let dpop = single_header(headers, "dpop")
        .map_err(|_| OAuthError::invalid_dpop_proof("more than one DPoP header"))?
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| OAuthError::invalid_dpop_proof("DPoP header is not ASCII"))
        })
        .transpose()?;
    Ok(TokenRequest {
        params,
        basic,
        dpop,
    })
}

/// A body over [`MAX_BODY_BYTES`]: 413 with `invalid_request`.
pub fn body_too_large() -> OAuthError {
    OAuthError::invalid_request("request body too large").with_status(StatusCode::PAYLOAD_TOO_LARGE)
}

/// A body that could not be read: its chunked framing is broken, it ended before its
/// `Content-Length`, or it did not arrive within the header-read timeout. Always 400
/// `invalid_request`: the request is malformed, whatever its size.
pub fn unreadable_body(err: &(dyn std::error::Error + 'static)) -> OAuthError {
    let timed_out = std::iter::successors(Some(err), |e| e.source())
        .any(|e| e.is::<crate::connection::body::BodyTimedOut>());
    OAuthError::invalid_request(if timed_out {
        "request body not received in time"
    } else {
        "malformed request body"
    })
}

fn check_content_type(headers: &HeaderMap) -> Result<(), OAuthError> {
    let value = single_header(headers, header::CONTENT_TYPE.as_str())
        .map_err(|_| OAuthError::invalid_request("more than one Content-Type"))?
        .ok_or_else(|| {
            OAuthError::invalid_request("Content-Type must be application/x-www-form-urlencoded")
        })?;
    let media = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match media.as_deref() {
        Some("application/x-www-form-urlencoded") => Ok(()),
        _ => Err(OAuthError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        )),
    }
}

/// At most one header of that name.
fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &str,
) -> Result<Option<&'a axum::http::HeaderValue>, ()> {
    let mut it = headers.get_all(name).iter();
    let first = it.next();
    if it.next().is_some() {
        return Err(());
    }
    Ok(first)
}

fn parse_authorization(
    headers: &HeaderMap,
    options: ParseOptions,
) -> Result<Option<BasicCredentials>, OAuthError> {
    let Some(value) = single_header(headers, header::AUTHORIZATION.as_str())
        .map_err(|_| OAuthError::invalid_request("more than one Authorization header"))?
    else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials", ChallengeKind::Basic);
    let value = value.to_str().map_err(|_| bad())?.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_request(
            "unsupported Authorization scheme at this endpoint",
        ));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (user, pass) = decoded.split_once(':').ok_or_else(bad)?;
    let (client_id, secret) = if options.form_decode_basic {
        (
            form_decode(user.as_bytes()).map_err(|_| bad())?,
            form_decode(pass.as_bytes()).map_err(|_| bad())?,
        )
    } else {
        (user.to_owned(), pass.to_owned())
    };
    if client_id.is_empty() {
        return Err(bad());
    }
    Ok(Some(BasicCredentials {
        client_id,
        secret: ClientSecret::new(secret),
    }))
}

/// Parses `application/x-www-form-urlencoded` bytes (a body or a query string) strictly:
/// bad percent-escapes, invalid UTF-8, empty names and repeated single-valued parameters are
/// `invalid_request`.
pub fn parse_form(body: &[u8]) -> Result<Params, OAuthError> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for pair in body.split(|b| *b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let name = form_decode(name)?;
        let value = form_decode(value)?;
        if name.is_empty() {
            return Err(OAuthError::invalid_request("empty parameter name"));
        }
        let entry = map.entry(name).or_default();
        if !entry.is_empty() && !MULTI_VALUED.contains(&pair_name(pair)) {
            return Err(OAuthError::invalid_request("a parameter is repeated"));
        }
        entry.push(value);
    }
    Ok(Params(map))
}

/// The raw (undecoded) name of a pair, for the multi-valued check: the listed names need no
/// decoding, so a percent-encoded spelling of them is simply treated as single-valued.
fn pair_name(pair: &[u8]) -> &str {
    let end = pair.iter().position(|b| *b == b'=').unwrap_or(pair.len());
    std::str::from_utf8(&pair[..end]).unwrap_or("")
}

/// Decodes one form component: `+` is a space, `%XX` a byte, the result must be UTF-8.
pub fn form_decode(raw: &[u8]) -> Result<String, OAuthError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = raw.get(i + 1).and_then(|b| hex(*b));
                let lo = raw.get(i + 2).and_then(|b| hex(*b));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => return Err(OAuthError::invalid_request("bad percent-encoding")),
                }
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| OAuthError::invalid_request("parameters are not UTF-8"))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Form-urlencodes one component (for building Basic credentials and redirects).
pub fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::OAuthErrorCode;
    use axum::http::HeaderValue;

    fn form_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8"),
        );
        h
    }

    #[test]
    fn decodes_plus_and_percent_and_treats_empty_as_omitted() {
        let p = parse_form(b"a=x+y%20z&b=&c=%C3%A9").expect("valid");
        assert_eq!(p.get("a"), Some("x y z"));
        assert_eq!(p.get("b"), None);
        assert!(p.contains("b"));
        assert_eq!(p.get("c"), Some("\u{e9}"));
    }

    #[test]
    fn rejects_duplicates_bad_escapes_and_bad_utf8() {
        for bad in [
            &b"a=1&a=2"[..],
            b"a=1&a=1",
            b"a=%4",
            b"a=%zz",
            b"a=%FF",
            b"a=\xff",
            b"=x",
        ] {
            let e = parse_form(bad).expect_err("must fail");
            assert_eq!(e.code, OAuthErrorCode::InvalidRequest, "{bad:?}");
        }
        let p = parse_form(b"resource=a&resource=b").expect("multi ok");
        assert_eq!(p.all("resource"), vec!["a", "b"]);
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = form_headers();
        // client id "c 1", secret "p+%:é" encoded per RFC 6749 §2.3.1, then base64.
        let user = form_encode("c 1");
        let pass = form_encode("p+%:\u{e9}");
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {b64}")).expect("ascii"),
        );
        let r = parse_token_request(&h, b"grant_type=x").expect("valid");
        let basic = r.basic.expect("basic");
        assert_eq!(basic.client_id, "c 1");
        assert_eq!(basic.secret.secret(), "p+%:\u{e9}");
    }

    #[test]
    fn content_type_is_required() {
        let e = parse_token_request(&HeaderMap::new(), b"a=b").expect_err("no content type");
        assert_eq!(e.code, OAuthErrorCode::InvalidRequest);
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(parse_token_request(&h, b"{}").is_err());
    }

    #[test]
    fn oversized_bodies_are_413() {
        let body = vec![b'a'; MAX_BODY_BYTES + 1];
        let e = parse_token_request(&form_headers(), &body).expect_err("too big");
        assert_eq!(e.status(401), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap stand-in for the fuzz target: every short byte string over a small alphabet.
        let alphabet = b"a=&%+\xff\xc3";
        let mut buf = Vec::new();
        for n in 0..5u32 {
            for i in 0..alphabet.len().pow(n) {
                buf.clear();
                let mut k = i;
                for _ in 0..n {
                    buf.push(alphabet[k % alphabet.len()]);
                    k /= alphabet.len();
                }
                let _ = parse_token_request(&form_headers(), &buf);
            }
        }
    }
}
