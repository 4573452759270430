//! `POST /introspect` (RFC 7662), for confidential clients. This is the harness's non-destructive
//! oracle: a token is `active` exactly when the token endpoint would accept it now (for refresh
//! tokens, ignoring client binding and DPoP). Inactive tokens get only `{"active": false}`
//! (§2.2: no hint why).
//!
//! What it reports on is the policy's `introspection` choice (RFC 7662 §2.1 leaves the token
//! types to the server, §2.2 lets it answer callers differently): a token of a type it does not
//! cover, of a public client when those are hidden, or (`callers: owner`) of another client than
//! the caller is `{"active": false}` to that caller, as django-oidc-provider and Glewlwyd answer.

use super::{audiences, json, read_form, respond};
use crate::client_auth;
use crate::error::{ChallengeKind, OAuthError, OAuthErrorCode};
use crate::flaw::Flaw;
use crate::grant::{Ctx, access_active, refresh_active};
use crate::state::AppState;
use crate::store::{RefreshState, run_async};
use crate::token::TokenHash;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use tokencert_policy::IntrospectionCallers;

/// The handler.
pub async fn introspect(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let result = handle(&state, req).await.map_err(|mut e| {
        // RFC 7662 §2.3: a caller that fails authentication gets 401.
        if e.code == OAuthErrorCode::InvalidClient {
            e.status = Some(StatusCode::UNAUTHORIZED);
            e.challenge.get_or_insert(ChallengeKind::Other);
        }
        e
    });
    respond(&state, result)
}

async fn handle(state: &Arc<AppState>, req: Request) -> Result<Response, OAuthError> {
    let (parts, body) = req.into_parts();
    let form = read_form(state, &parts, body).await?;
    let identity =
        client_auth::authenticate(state, &form, &audiences(state, "/introspect")).await?;
    let caller = if state.flaw(Flaw::IntrospectionUnauthenticated) {
        None
    } else {
        Some(identity.require_confidential(state)?)
    };
    let visible = Visibility::new(state, caller.as_ref().map(|c| c.id.clone()));
    // The `introspection-caller-client-id` flaw names the caller instead of the token's client.
    let named = caller
        .filter(|_| state.flaw(Flaw::IntrospectionCallerClientId))
        .map(|c| c.id.clone());
    let client_id = move |owner: &str| named.clone().unwrap_or_else(|| owner.to_owned());
    let hash = TokenHash::of(form.params.require("token")?).0;
    // The hint does not restrict the search (RFC 7662 §2.1), except under the flaw.
    let hint = form.params.get("token_type_hint");
    let strict = state.flaw(Flaw::IntrospectionHintStrict);
    let search_refresh = !strict || hint.is_none_or(|h| h == "refresh_token");
    let search_access = !strict || hint.is_none_or(|h| h == "access_token");
    let st = state.clone();
    let now = state.clock.now();
    let mut body = run_async(state.store.clone(), move |r| -> Result<Value, OAuthError> {
        let ctx = Ctx { state: &st, now };
        if search_refresh && let Some(rt) = r.refresh(&hash)? {
            if !visible.refresh_token(&rt.client_id) {
                return Ok(json!({"active": false}));
            }
            let family = if st.flaw(Flaw::IntrospectionStale) {
                r.family(&rt.family)?
                    .filter(|_| rt.state != RefreshState::Revoked)
            } else {
                refresh_active(r, &ctx, &rt)?
            };
            let Some(family) = family else {
                return Ok(json!({"active": false}));
            };
            let idle = st
                .policy
                .lifetimes
                .refresh_idle
                .map(|i| rt.last_used_at.saturating_add(i));
            let exp = match (idle, rt.absolute_expires_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let mut v = json!({
                "active": true,
                "scope": family.scope,
                "client_id": client_id(&rt.client_id),
                "token_type": "refresh_token",
                "iat": rt.issued_at,
                "iss": st.issuer,
            });
            if let Some(sub) = &family.subject {
                v["sub"] = sub.clone().into();
                v["username"] = sub.clone().into();
            }
            if let Some(exp) = exp {
                v["exp"] = exp.into();
            }
            if let Some(jkt) = &family.dpop_jkt {
                v["cnf"] = json!({"jkt": jkt});
            }
            return Ok(v);
        }
        if search_access
            && let Some(at) = r.access(&hash)?
            && visible.access_token(&at.client_id)
            && access_active(r, &access_ctx(&ctx, &at), &at)?
        {
            let mut v = json!({
                "active": true,
                "scope": at.scope,
                "client_id": client_id(&at.client_id),
                "token_type": if at.jkt.is_some() { "DPoP" } else { "Bearer" },
                "exp": at.expires_at,
                "iat": at.issued_at,
                "iss": st.issuer,
            });
            if let Some(sub) = &at.subject {
                v["sub"] = sub.clone().into();
                v["username"] = sub.clone().into();
            }
            if let Some(jkt) = &at.jkt {
                v["cnf"] = json!({"jkt": jkt});
            }
            return Ok(v);
        }
        Ok(json!({"active": false}))
    })
    .await
    .map_err(OAuthError::from)??;
    if body["active"] == false && state.flaw(Flaw::IntrospectionVerboseInactive) {
        body["reason"] = "unknown, expired or revoked token".into();
    }
    Ok(json(body))
}

/// Which tokens the policy lets one caller learn about.
struct Visibility {
    state: Arc<AppState>,
    /// The authenticated caller (`None` only under the `introspection-unauthenticated` flaw).
    caller: Option<String>,
}

impl Visibility {
    fn new(state: &Arc<AppState>, caller: Option<String>) -> Visibility {
        Visibility {
            state: Arc::clone(state),
            caller,
        }
    }

    fn refresh_token(&self, owner: &str) -> bool {
        self.state.policy.introspection.refresh_tokens && self.of_owner(owner)
    }

    fn access_token(&self, owner: &str) -> bool {
        self.state.policy.introspection.access_tokens && self.of_owner(owner)
    }

    /// The caller may learn about a token of client `owner`.
    fn of_owner(&self, owner: &str) -> bool {
        let p = &self.state.policy.introspection;
        let public = self.state.clients.get(owner).is_some_and(|c| c.public);
        (p.public_clients || !public)
            && (p.callers == IntrospectionCallers::AnyClient
                || self.caller.as_deref().is_none_or(|c| c == owner))
    }
}

/// The context an access token's activity is judged in: now, or under the
/// `expired-access-token-active` flaw the token's issue time, so that expiry never shows.
fn access_ctx<'a>(ctx: &Ctx<'a>, at: &crate::store::AccessRecord) -> Ctx<'a> {
    if ctx.state.flaw(Flaw::ExpiredAccessTokenActive) {
        Ctx {
            state: ctx.state,
            now: at.issued_at,
        }
    } else {
        *ctx
    }
}
