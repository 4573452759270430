//! `POST /token` (RFC 6749 §3.2): parse, pick the grant, authenticate the client, check the DPoP
//! proof, then hand over to the grant's handler ([`grants::HANDLERS`]) and run the transaction it
//! returns.

pub mod grants;

use super::{audiences, json, read_form, respond};
use crate::client::{Client, GrantType};
use crate::client_auth;
use crate::dpop::{self, Proof};
use crate::error::{OAuthError, OAuthErrorCode};
use crate::flaw::Flaw;
use crate::grant::refresh_token::{self, RefreshInput};
use crate::grant::{Ctx, Issued};
use crate::request::TokenRequest;
use crate::state::AppState;
use crate::store::{StoreError, run_async};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use grants::{GrantRequest, Work};
use std::sync::Arc;
use std::time::Duration;

/// The handler.
pub async fn token(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let result = handle(&state, req).await;
    let cacheable = matches!(&result, Ok(r) if r.extensions().get::<Cacheable>().is_some());
    let mut resp = respond(&state, result);
    if cacheable {
        resp.headers_mut().remove(header::CACHE_CONTROL);
        resp.headers_mut().remove(header::PRAGMA);
    }
    resp
}

/// Marks a token response the `code-grant-cacheable` flaw sends without the no-store headers.
#[derive(Clone, Copy)]
struct Cacheable;

fn flatten<T>(r: Result<Result<T, OAuthError>, StoreError>) -> Result<T, OAuthError> {
    r.map_err(OAuthError::from)?
}

/// Runs grant logic in one transaction with a fresh [`Ctx`].
async fn in_tx<T: Send + 'static>(
    state: &Arc<AppState>,
    now: u64,
    f: impl FnOnce(&mut crate::store::Records<'_>, &Ctx<'_>) -> Result<T, OAuthError> + Send + 'static,
) -> Result<T, OAuthError> {
    let st = state.clone();
    flatten(
        run_async(state.store.clone(), move |r| {
            let ctx = Ctx { state: &st, now };
            f(r, &ctx)
        })
        .await,
    )
}

async fn handle(state: &Arc<AppState>, req: Request) -> Result<Response, OAuthError> {
    let (parts, body) = req.into_parts();
    let form = read_form(state, &parts, body).await?;
    if state.flaw(Flaw::UnknownParameterRejected)
        && let Some(name) = form.params.names().find(|n| !KNOWN_PARAMETERS.contains(n))
    {
        return Err(OAuthError::invalid_request(format!(
            "unknown parameter {name}"
        )));
    }
    let unsupported = || {
        OAuthError::new(
            OAuthErrorCode::UnsupportedGrantType,
            "unsupported grant_type",
        )
    };
    let grant = match form.params.require("grant_type") {
        Err(_) if state.flaw(Flaw::MissingParameterMisreported) => Err(unsupported()),
        Ok(g)
            if GrantType::from_wire(g).is_none()
                && form.params.get("refresh_token").is_some()
                && state.flaw(Flaw::UnknownGrantTypeFallsBackToRefresh) =>
        {
            Ok(GrantType::RefreshToken)
        }
        Ok(g)
            if GrantType::from_wire(g).is_none()
                && state.flaw(Flaw::UnknownGrantTypeMisreported) =>
        {
            Err(OAuthError::invalid_request("invalid grant_type"))
        }
        r => r.and_then(|g| {
            GrantType::from_wire(g)
                .filter(|g| {
                    g.enabled(&state.policy.grants)
                        || (*g == GrantType::Password && state.flaw(Flaw::PasswordGrantAlwaysOn))
                })
                .ok_or_else(unsupported)
        }),
    }?;
    let identity = client_auth::authenticate(state, &form, &audiences(state, "/token")).await?;
    let proof = check_dpop(state, &parts, &form).await?;
    let now = state.clock.now();
    let handler = grants::handler(grant).ok_or_else(unsupported)?;
    let work = handler(GrantRequest {
        state,
        grant,
        params: &form.params,
        identity,
        proof,
    })?;
    let mut issued = match work {
        Work::Transaction(f) => in_tx(state, now, f).await?,
        Work::NonAtomicRefresh(input) => non_atomic_refresh(state, now, input).await?,
    };

    // The `wrong-expires-in` flaw announces twice the real access-token lifetime.
    if state.flaw(Flaw::WrongExpiresIn) {
        issued.expires_in = issued.expires_in.saturating_mul(2);
    }
    let mut resp = json(issued.to_json(&state.signer)?);
    if state.flaw(Flaw::CodeGrantCacheable) && grant != GrantType::RefreshToken {
        resp.extensions_mut().insert(Cacheable);
    }
    if state.policy.dpop.nonce_required
        && let Ok(v) = HeaderValue::from_str(&state.dpop_nonce())
    {
        resp.headers_mut().insert("DPoP-Nonce", v);
    }
    Ok(resp)
}

/// Every parameter some grant or client authentication method defines (only the
/// `unknown-parameter-rejected` flaw looks at this; RFC 6749 §3.2 says to ignore the rest).
const KNOWN_PARAMETERS: &[&str] = &[
    "grant_type",
    "refresh_token",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "username",
    "password",
    "device_code",
    "assertion",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "resource",
    "audience",
];

/// The client may use this grant, and brings a proof if it registered for DPoP-bound tokens.
pub(crate) fn permitted(
    client: &Client,
    grant: GrantType,
    proof: Option<&Proof>,
) -> Result<(), OAuthError> {
    if !client.allows(grant) {
        return Err(OAuthError::unauthorized_client(
            "grant type not allowed for this client",
        ));
    }
    if client.dpop_bound && proof.is_none() {
        // RFC 9449 §5.2: dpop_bound_access_tokens clients must always send a proof.
        return Err(OAuthError::invalid_dpop_proof(
            "DPoP proof required for this client",
        ));
    }
    Ok(())
}

/// The `non-atomic-rotation` flaw: check in one transaction, pause, write in another, so that
/// concurrent refreshes of one token all pass the check before any of them rotates it.
async fn non_atomic_refresh(
    state: &Arc<AppState>,
    now: u64,
    input: RefreshInput,
) -> Result<Issued, OAuthError> {
    let planned = in_tx(state, now, move |r, ctx| {
        match refresh_token::plan(r, ctx, &input) {
            Ok(p) => Ok(Ok(p)),
            Err(rej) => {
                refresh_token::reject(r, &rej)?;
                Ok(Err(rej.error))
            }
        }
    })
    .await??;
    tokio::time::sleep(Duration::from_millis(50)).await;
    in_tx(state, now, move |r, ctx| {
        refresh_token::apply(r, ctx, planned)
    })
    .await
}

/// Validates the DPoP header when DPoP is supported (ignored otherwise, RFC 9449 §5).
async fn check_dpop(
    state: &Arc<AppState>,
    parts: &Parts,
    form: &TokenRequest,
) -> Result<Option<Proof>, OAuthError> {
    let Some(raw) = &form.dpop else {
        return Ok(None);
    };
    if !state.policy.dpop.supported {
        return Ok(None);
    }
    let mut authorities = Vec::new();
    if let Ok(u) = url::Url::parse(&state.issuer) {
        let host = u.host_str().unwrap_or("").to_owned();
        authorities.push(match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host,
        });
    }
    if let Some(host) = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        authorities.push(host.to_ascii_lowercase());
    }
    let wall = state.clock.wall();
    let window = state.policy.dpop.iat_window;
    let proof = dpop::verify(
        raw,
        &dpop::Expected {
            method: parts.method.as_str(),
            path: "/token",
            authorities,
            now: wall,
            window,
            skip_header_checks: state.flaw(Flaw::DpopProofHeaderUnchecked),
            skip_claim_checks: state.flaw(Flaw::DpopProofClaimsUnchecked),
        },
    )
    .map_err(|e| {
        if state.flaw(Flaw::DpopProofWrongErrorCode) {
            OAuthError::invalid_request(e.description.unwrap_or_default())
        } else {
            e
        }
    })?;
    if state.policy.dpop.nonce_required {
        let ok = if state.flaw(Flaw::DpopNonceUnchecked) {
            // Only a key's first proof is challenged, and any nonce value passes.
            let key = format!("dpop-nonce-challenged:{}", proof.jkt);
            proof.nonce.is_some()
                || !run_async(state.store.clone(), move |r| {
                    r.first_use_of_jti(&key, wall, wall.saturating_add(86_400))
                })
                .await
                .map_err(OAuthError::from)?
                .map_err(OAuthError::from)?
        } else {
            proof
                .nonce
                .as_deref()
                .is_some_and(|n| state.dpop_nonce_valid(n))
        };
        if !ok {
            let mut e = OAuthError::new(
                OAuthErrorCode::UseDpopNonce,
                "use the DPoP-Nonce value in the proof",
            );
            e.dpop_nonce = Some(state.dpop_nonce());
            return Err(e);
        }
    }
    let key = format!("dpop:{}:{}", proof.jkt, proof.jti);
    let fresh = run_async(state.store.clone(), move |r| {
        r.first_use_of_jti(&key, wall, wall.saturating_add(window.saturating_mul(2)))
    })
    .await
    .map_err(OAuthError::from)?
    .map_err(OAuthError::from)?;
    if !fresh && !state.flaw(Flaw::DpopJtiReplayAccepted) {
        return Err(OAuthError::invalid_dpop_proof(
            "DPoP proof jti already used",
        ));
    }
    Ok(Some(proof))
}
