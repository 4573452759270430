//! HTTP endpoints: one module each, plus the router and the response conventions they share.

pub mod authorize;
pub mod device;
pub mod introspect;
pub mod metadata;
pub mod revoke;
pub mod test_control;
pub mod token;

use crate::error::OAuthError;
use crate::flaw::Flaw;
use crate::request::{
    MAX_BODY_BYTES, ParseOptions, TokenRequest, body_too_large, parse_token_request_with,
    unreadable_body,
};
use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use std::sync::Arc;

/// The server's routes.
pub fn router(state: Arc<AppState>) -> Router {
    let mut r = Router::new()
        .route("/token", any(token::token))
        .route("/authorize", get(authorize::authorize))
        .route("/revoke", any(revoke::revoke))
        .route("/introspect", any(introspect::introspect))
        .route("/device_authorization", any(device::device_authorization))
        .route("/device/approve", post(device::approve))
        .route("/jwks", get(metadata::jwks))
        .route(
            "/.well-known/oauth-authorization-server",
            get(metadata::metadata),
        )
        .route("/.well-known/openid-configuration", get(metadata::metadata));
    if state.test_control {
        r = r
            .route("/test/clock", get(test_control::clock))
            .route("/test/clock/advance", post(test_control::advance))
            .route(
                "/test/jwt-bearer-assertion",
                post(test_control::jwt_bearer_assertion),
            );
    }
    r.fallback(not_found).with_state(state)
}

async fn not_found() -> Response {
    let e = OAuthError::new(
        crate::error::OAuthErrorCode::Extension("not_found".into()),
        "no such endpoint",
    )
    .with_status(StatusCode::NOT_FOUND);
    e.render(400, false)
}

/// Reads and parses a POSTed form: method, size limit, then [`crate::request`]'s parser.
pub(crate) async fn read_form(
    state: &AppState,
    parts: &Parts,
    body: Body,
) -> Result<TokenRequest, OAuthError> {
    let options = ParseOptions {
        form_decode_basic: !state.flaw(Flaw::BasicNotFormDecoded),
    };
    if parts.method == Method::GET
        && parts.uri.path() == "/token"
        && state.flaw(Flaw::TokenEndpointAcceptsGet)
    {
        // The query string is parsed as if it were the form body.
        let mut headers = parts.headers.clone();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let query = parts.uri.query().unwrap_or("");
        return parse_token_request_with(&headers, query.as_bytes(), options);
    }
    if parts.method != Method::POST {
        return Err(
            OAuthError::invalid_request("use POST").with_status(StatusCode::METHOD_NOT_ALLOWED)
        );
    }
    // An oversize body is a malformed one for the flaw below, as when the parser refused it.
    let crash = |e: OAuthError| {
        if state.flaw(Flaw::ServerErrorOnMalformedBody)
            && e.code != crate::error::OAuthErrorCode::InvalidClient
        {
            OAuthError::server_error()
        } else {
            e
        }
    };
    if declared_length(&parts.headers).is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(crash(body_too_large()));
    }
    let bytes = match read_body(body).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return Err(crash(body_too_large())),
        Err(BodyError::Unreadable(e)) => return Err(e),
    };
    parse_token_request_with(&parts.headers, &bytes, options).map_err(crash)
}

/// Why [`read_body`] gave up.
enum BodyError {
    /// Past [`MAX_BODY_BYTES`].
    TooLarge,
    /// Broken framing, cut short, or too slow.
    Unreadable(OAuthError),
}

/// The `Content-Length` the client declared (hyper has already refused conflicting ones).
fn declared_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Reads the whole body, refusing it as soon as it passes [`MAX_BODY_BYTES`]; a body that breaks
/// its framing, stops short or arrives too slowly is `invalid_request`, not a size problem.
async fn read_body(mut body: Body) -> Result<Vec<u8>, BodyError> {
    use http_body_util::BodyExt;
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Unreadable(unreadable_body(&e)))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > MAX_BODY_BYTES {
                return Err(BodyError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf)
}

/// Adds the no-store headers (RFC 6749 §5.1) unless the `missing-no-store` flaw is on.
pub(crate) fn no_store(state: &AppState, resp: &mut Response) {
    if state.flaw(Flaw::MissingNoStore) {
        return;
    }
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if state.policy.pragma_no_cache {
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    }
}

/// Turns a handler result into a response with the shared conventions: §5.2 JSON errors with the
/// policy's `invalid_client` status, `Allow` on 405, and the no-store headers on everything.
pub(crate) fn respond(state: &AppState, result: Result<Response, OAuthError>) -> Response {
    let mut resp = match result {
        Ok(r) => r,
        Err(e) => {
            let unchallenged = state.flaw(Flaw::UnchallengedInvalidClient)
                && e.challenge != Some(crate::error::ChallengeKind::Basic);
            let www = !state.flaw(Flaw::MissingWwwAuthenticate) && !unchallenged;
            let mut r = e.render(state.policy.clients.invalid_client_status, www);
            if r.status() == StatusCode::METHOD_NOT_ALLOWED {
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            r
        }
    };
    no_store(state, &mut resp);
    resp
}

/// JSON 200.
pub(crate) fn json(value: serde_json::Value) -> Response {
    (StatusCode::OK, axum::Json(value)).into_response()
}

/// Values a client assertion's `aud` may take at `path`: the issuer, the token endpoint, and the
/// endpoint itself (RFC 7523 §3 item 3).
pub(crate) fn audiences(state: &AppState, path: &str) -> Vec<String> {
    let mut v = vec![state.issuer.clone(), state.token_endpoint()];
    let here = format!("{}{path}", state.issuer);
    if !v.contains(&here) {
        v.push(here);
    }
    v
}
