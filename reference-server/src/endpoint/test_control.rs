//! Test control (only routed with `--test-control`): read and advance the virtual clock.

use super::{json, read_form, respond};
use crate::error::OAuthError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::response::Response;
use std::sync::Arc;

fn clock_json(state: &AppState) -> serde_json::Value {
    serde_json::json!({
        "now": state.clock.now(),
        "wall": state.clock.wall(),
        "offset": state.clock.offset(),
    })
}

/// `GET /test/clock`.
pub async fn clock(State(state): State<Arc<AppState>>) -> Response {
    json(clock_json(&state))
}

/// `POST /test/clock/advance` with form `seconds=N`.
pub async fn advance(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let result = async {
        let (parts, body) = req.into_parts();
        let form = read_form(&state, &parts, body).await?;
        let seconds: u64 =
            form.params.require("seconds")?.parse().map_err(|_| {
                OAuthError::invalid_request("seconds must be a non-negative integer")
            })?;
        state
            .clock
            .advance(seconds)
            .ok_or_else(|| OAuthError::invalid_request("the clock is not virtual"))?;
        Ok(json(clock_json(&state)))
    }
    .await;
    respond(&state, result)
}

/// `POST /test/jwt-bearer-assertion` with form `sub=<test user>` (default the first test user):
/// an RFC 7523 authorization grant signed by the trusted demo issuer, so the jwt-bearer grant can
/// be walked through with curl. Test control only: it mints credentials on request.
pub async fn jwt_bearer_assertion(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let result = async {
        let (parts, body) = req.into_parts();
        let form = read_form(&state, &parts, body).await?;
        let sub = match form.params.get("sub") {
            Some(s) => s.to_owned(),
            None => state
                .users
                .first()
                .map(|u| u.username.clone())
                .ok_or_else(|| OAuthError::invalid_request("no test user"))?,
        };
        let signer = crate::keys::Signer::from_pem(crate::keys::TRUSTED_ISSUER_PEM)
            .map_err(|_| OAuthError::invalid_request("the trusted issuer key is unusable"))?;
        let now = state.clock.wall();
        let jti: String = (0..16)
            .map(|_| format!("{:02x}", rand::random::<u8>()))
            .collect();
        let claims = serde_json::json!({
            "iss": crate::keys::TRUSTED_ISSUER,
            "sub": sub,
            "aud": state.issuer,
            "iat": now,
            "exp": now + 300,
            "jti": jti,
        });
        let assertion = signer
            .sign(&claims)
            .map_err(|_| OAuthError::invalid_request("cannot sign the assertion"))?;
        Ok(json(serde_json::json!({ "assertion": assertion })))
    }
    .await;
    respond(&state, result)
}
