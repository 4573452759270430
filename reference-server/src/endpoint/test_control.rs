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
