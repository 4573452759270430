//! `POST /revoke` (RFC 7009). Revoking a refresh token revokes its whole grant, and (policy,
//! RFC 7009 §2.1 SHOULD) the grant's access tokens; revoking an access token may (policy, MAY)
//! revoke the refresh tokens. Unknown tokens and other clients' tokens get 200 and nothing
//! happens: no oracle for token existence.

use super::{audiences, read_form, respond};
use crate::client_auth::{self, ClientIdentity};
use crate::error::OAuthError;
use crate::flaw::Flaw;
use crate::state::AppState;
use crate::store::run_async;
use crate::token::TokenHash;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The handler.
pub async fn revoke(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let result = handle(&state, req).await;
    respond(&state, result)
}

async fn handle(state: &Arc<AppState>, req: Request) -> Result<Response, OAuthError> {
    let (parts, body) = req.into_parts();
    let form = read_form(state, &parts, body).await?;
    let identity = client_auth::authenticate(state, &form, &audiences(state, "/revoke")).await?;
    let unauthenticated = state.flaw(Flaw::RevocationUnauthenticated);
    let client = match identity {
        ClientIdentity::ClaimedOnly(c) if unauthenticated => Some(c),
        ClientIdentity::Anonymous if unauthenticated => None,
        other => Some(other.require(state)?),
    };
    // Whose tokens the caller may revoke: its own (anyone's only under the flaws).
    let any_owner = client.is_none() || state.flaw(Flaw::CrossClientRevocation);
    let caller = client.map(|c| c.id.clone()).unwrap_or_default();
    let owns = move |owner: &str| any_owner || owner == caller;
    let token = match form.params.require("token") {
        Err(_) if state.flaw(Flaw::RevocationMissingTokenOk) => {
            return Ok(StatusCode::OK.into_response());
        }
        t => t?,
    };
    let hash = TokenHash::of(token).0;
    let refresh_cascade = state.policy.revocation.refresh_revokes_access_tokens
        && !state.flaw(Flaw::NoRevocationCascade);
    let access_cascade = state.policy.revocation.access_revokes_refresh_token;
    let ignore_access = state.flaw(Flaw::AccessTokenRevocationIgnored);
    // The hint only orders the search (RFC 7009 §2.1: a wrong hint must not prevent revocation).
    let found = run_async(state.store.clone(), move |r| -> Result<bool, OAuthError> {
        if let Some(rt) = r.refresh(&hash)? {
            if owns(&rt.client_id) {
                r.revoke_family(&rt.family, refresh_cascade)?;
            }
            return Ok(true);
        }
        let Some(mut at) = r.access(&hash)? else {
            return Ok(false);
        };
        if owns(&at.client_id) && !ignore_access {
            at.revoked = true;
            r.put_access(&at)?;
            if access_cascade && let Some(f) = &at.family {
                r.revoke_family(f, false)?;
            }
        }
        Ok(true)
    })
    .await
    .map_err(OAuthError::from)??;
    if !found && state.flaw(Flaw::RevocationUnknownTokenError) {
        return Err(OAuthError::invalid_request("unknown token"));
    }
    Ok(StatusCode::OK.into_response())
}
