//! RFC 8628: `POST /device_authorization` starts a device flow; `POST /device/approve` is the
//! test users' stand-in for the verification page (form `user_code`, `username`, `password`,
//! optional `action=deny`).

use super::{audiences, json, read_form, respond};
use crate::client::GrantType;
use crate::client_auth;
use crate::error::{OAuthError, OAuthErrorCode};
use crate::grant::resolve_scope;
use crate::state::AppState;
use crate::store::{DeviceRecord, DeviceStatus, run_async};
use crate::token::DeviceCode;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::json;
use std::sync::Arc;

/// Minimum polling interval handed out (RFC 8628 §3.2 default).
pub const INTERVAL_SECS: u64 = 5;

/// `POST /device_authorization`.
pub async fn device_authorization(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let result = start(&state, req).await;
    respond(&state, result)
}

async fn start(state: &Arc<AppState>, req: Request) -> Result<Response, OAuthError> {
    let (parts, body) = req.into_parts();
    let form = read_form(state, &parts, body).await?;
    let identity =
        client_auth::authenticate(state, &form, &audiences(state, "/device_authorization")).await?;
    let client = identity.require(state)?;
    if !state.policy.grants.device_code || !client.allows(GrantType::DeviceCode) {
        return Err(OAuthError::unauthorized_client(
            "device flow not allowed for this client",
        ));
    }
    let scope = resolve_scope(&client, form.params.get("scope"))?.join(" ");
    let device_code = DeviceCode::new(state.tokens.token());
    let now = state.clock.now();
    let lifetime = state.policy.lifetimes.device_code;
    let st = state.clone();
    let hash = device_code.hash().0;
    let user_code = run_async(
        state.store.clone(),
        move |r| -> Result<String, OAuthError> {
            // User codes are short; retry the rare collision.
            for _ in 0..8 {
                let code = st.tokens.user_code();
                if r.device_by_user_code(&code)?.is_none() {
                    r.put_device(&DeviceRecord {
                        hash: hash.clone(),
                        user_code: code.clone(),
                        client_id: client.id.clone(),
                        scope: scope.clone(),
                        expires_at: now.saturating_add(lifetime),
                        interval: INTERVAL_SECS,
                        last_poll: None,
                        status: DeviceStatus::Pending,
                    })?;
                    return Ok(code);
                }
            }
            Err(OAuthError::server_error())
        },
    )
    .await
    .map_err(OAuthError::from)??;
    let verification_uri = format!("{}/device", state.issuer);
    Ok(json(json!({
        "device_code": device_code.secret(),
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": format!("{verification_uri}?user_code={user_code}"),
        "expires_in": lifetime,
        "interval": INTERVAL_SECS,
    })))
}

/// `POST /device/approve`.
pub async fn approve(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let result = approve_inner(&state, req).await;
    respond(&state, result)
}

async fn approve_inner(state: &Arc<AppState>, req: Request) -> Result<Response, OAuthError> {
    let (parts, body) = req.into_parts();
    let form = read_form(state, &parts, body).await?;
    let user_code = form
        .params
        .require("user_code")?
        .trim()
        .to_ascii_uppercase();
    let username = form.params.require("username")?.to_owned();
    let password = form.params.require("password")?;
    let deny = match form.params.get("action") {
        None | Some("approve") => false,
        Some("deny") => true,
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "action must be approve or deny",
            ));
        }
    };
    if !state.check_user(&username, password) {
        return Err(OAuthError::new(
            OAuthErrorCode::AccessDenied,
            "invalid user credentials",
        ));
    }
    let now = state.clock.now();
    let status = run_async(
        state.store.clone(),
        move |r| -> Result<&'static str, OAuthError> {
            let mut d = r
                .device_by_user_code(&user_code)?
                .ok_or_else(|| OAuthError::invalid_request("unknown user_code"))?;
            if now >= d.expires_at {
                return Err(OAuthError::new(
                    OAuthErrorCode::ExpiredToken,
                    "user_code expired",
                ));
            }
            if d.status != DeviceStatus::Pending {
                return Err(OAuthError::invalid_request("already decided"));
            }
            d.status = if deny {
                DeviceStatus::Denied
            } else {
                DeviceStatus::Approved {
                    subject: username,
                    auth_time: now,
                }
            };
            r.put_device(&d)?;
            Ok(if deny { "denied" } else { "approved" })
        },
    )
    .await
    .map_err(OAuthError::from)??;
    Ok(json(json!({ "status": status })))
}
