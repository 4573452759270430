//! `GET /authorize` (RFC 6749 §4.1.1) with unattended consent: `login_hint` naming a test user
//! stands in for login and consent, and the answer is an immediate 302 to the redirect URI with
//! `code`, `state` and `iss` (RFC 9207). Errors before the redirect URI is trusted are JSON 400;
//! after, they are redirects with `error` (RFC 6749 §4.1.2.1).

use super::respond;
use crate::client::GrantType;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::flaw::Flaw;
use crate::grant::authorization_code::valid_pkce_value;
use crate::grant::resolve_scope;
use crate::policy::PkceRequiredFor;
use crate::request::parse_form;
use crate::state::AppState;
use crate::store::{CodeRecord, run_async};
use crate::token::AuthorizationCode;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The handler.
pub async fn authorize(State(state): State<Arc<AppState>>, RawQuery(query): RawQuery) -> Response {
    match handle(&state, query.unwrap_or_default()).await {
        Ok(r) => r,
        Err(e) => respond(&state, Err(e)),
    }
}

fn redirect(uri: &str, pairs: &[(&str, &str)]) -> Result<Response, OAuthError> {
    let mut url =
        url::Url::parse(uri).map_err(|_| OAuthError::invalid_request("bad redirect_uri"))?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    let location = HeaderValue::from_str(url.as_str()).map_err(|_| OAuthError::server_error())?;
    let mut resp = StatusCode::FOUND.into_response();
    resp.headers_mut().insert(header::LOCATION, location);
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

async fn handle(state: &Arc<AppState>, query: String) -> Result<Response, OAuthError> {
    let params = parse_form(query.as_bytes())?;
    let client_id = params.require("client_id")?;
    let client = state
        .clients
        .get(client_id)
        .ok_or_else(|| OAuthError::invalid_request("unknown client_id"))?;
    let redirect_uri = match params.get("redirect_uri") {
        Some(r) if client.redirect_uris.iter().any(|u| u == r) => r.to_owned(),
        Some(_) => return Err(OAuthError::invalid_request("redirect_uri not registered")),
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return Err(OAuthError::invalid_request("redirect_uri required")),
    };
    // From here on errors go back to the client through the redirect URI.
    let st = params.get("state");
    let fail = |code: OAuthErrorCode, description: &str| {
        let mut pairs = vec![("error", code.as_str()), ("error_description", description)];
        if let Some(s) = st {
            pairs.push(("state", s));
        }
        pairs.push(("iss", state.issuer.as_str()));
        redirect(&redirect_uri, &pairs)
    };
    if params.get("response_type") != Some("code") {
        return fail(
            OAuthErrorCode::UnsupportedResponseType,
            "only response_type=code",
        );
    }
    if !state.policy.grants.authorization_code || !client.allows(GrantType::AuthorizationCode) {
        return fail(
            OAuthErrorCode::UnauthorizedClient,
            "code flow not allowed for this client",
        );
    }
    let scope = match resolve_scope(&client, params.get("scope")) {
        Ok(s) => s,
        Err(e) => return fail(e.code, e.description.as_deref().unwrap_or("invalid scope")),
    };
    let challenge = params.get("code_challenge");
    let method = params.get("code_challenge_method");
    let pkce = &state.policy.pkce;
    let required = match pkce.required_for {
        PkceRequiredFor::All => true,
        PkceRequiredFor::Public => client.public,
        PkceRequiredFor::None => false,
    };
    match (challenge, method) {
        (None, _) if required => {
            return fail(OAuthErrorCode::InvalidRequest, "code_challenge required");
        }
        (None, Some(_)) => {
            return fail(
                OAuthErrorCode::InvalidRequest,
                "code_challenge_method without code_challenge",
            );
        }
        (Some(c), m) => {
            // RFC 7636 §4.3: the method defaults to plain.
            let m = m.unwrap_or("plain");
            let plain_ok = pkce.plain_allowed || state.flaw(Flaw::PkcePlainAccepted);
            let ok_method = m == "S256" || (m == "plain" && plain_ok);
            if !ok_method {
                return fail(
                    OAuthErrorCode::InvalidRequest,
                    "unsupported code_challenge_method",
                );
            }
            if !valid_pkce_value(c) {
                return fail(OAuthErrorCode::InvalidRequest, "malformed code_challenge");
            }
        }
        (None, None) => {}
    }
    let Some(user) = params.get("login_hint").filter(|u| state.is_user(u)) else {
        return fail(
            OAuthErrorCode::LoginRequired,
            "login_hint must name a test user",
        );
    };
    if params.get("prompt") == Some("none") {
        // Consent is implied for test users, so prompt=none can be satisfied.
    }
    let now = state.clock.now();
    let code = AuthorizationCode::new(state.tokens.token());
    let record = CodeRecord {
        hash: code.hash().0,
        client_id: client.id.clone(),
        redirect_uri_param: params.get("redirect_uri").map(str::to_owned),
        redirect_uri: redirect_uri.clone(),
        scope: scope.join(" "),
        subject: user.to_owned(),
        code_challenge: challenge.map(str::to_owned),
        code_challenge_method: challenge.map(|_| method.unwrap_or("plain").to_owned()),
        nonce: params.get("nonce").map(str::to_owned),
        dpop_jkt: params.get("dpop_jkt").map(str::to_owned),
        auth_time: now,
        expires_at: now.saturating_add(state.policy.lifetimes.authorization_code),
        used: false,
        family: None,
    };
    run_async(state.store.clone(), move |r| r.put_code(&record))
        .await
        .map_err(OAuthError::from)?
        .map_err(OAuthError::from)?;
    let mut pairs = vec![("code", code.secret())];
    if let Some(s) = st {
        pairs.push(("state", s));
    }
    pairs.push(("iss", state.issuer.as_str()));
    redirect(&redirect_uri, &pairs)
}
