//! Client authentication at the token, revocation, introspection and device endpoints:
//! client_secret_basic, client_secret_post (RFC 6749 §2.3.1), client_secret_jwt and
//! private_key_jwt (RFC 7523 §2.2, OIDC Core §9), and `none` for public clients.

use crate::client::{AuthMethod, Client};
use crate::error::{ChallengeKind, OAuthError};
use crate::flaw::Flaw;
use crate::request::TokenRequest;
use crate::secret::secrets_equal;
use crate::state::AppState;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use std::sync::Arc;

/// RFC 7523 §2.2.
pub const JWT_BEARER_ASSERTION_TYPE: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Who is calling.
#[derive(Debug, Clone)]
pub enum ClientIdentity {
    /// Credentials verified.
    Authenticated {
        /// The client.
        client: Arc<Client>,
        /// How.
        method: AuthMethod,
    },
    /// A public client named by `client_id` (method `none`).
    Public(Arc<Client>),
    /// A confidential client named by `client_id` without credentials.
    ClaimedOnly(Arc<Client>),
    /// No client information at all.
    Anonymous,
}

impl ClientIdentity {
    /// The client, when it is authenticated or a public client; `invalid_client` otherwise.
    pub fn require(self, _state: &AppState) -> Result<Arc<Client>, OAuthError> {
        match self {
            Self::Authenticated { client, .. } | Self::Public(client) => Ok(client),
            Self::ClaimedOnly(_) => Err(OAuthError::invalid_client(
                "client authentication required",
                ChallengeKind::Other,
            )),
            Self::Anonymous => Err(OAuthError::invalid_client(
                "no client authentication included",
                ChallengeKind::Other,
            )),
        }
    }

    /// The client, when it is authenticated (not public); errors otherwise.
    pub fn require_confidential(self, state: &AppState) -> Result<Arc<Client>, OAuthError> {
        match self {
            Self::Authenticated { client, .. } => Ok(client),
            Self::Public(_) => Err(OAuthError::invalid_client(
                "a public client cannot authenticate here",
                ChallengeKind::Other,
            )),
            other => other.require(state),
        }
    }
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    jti: Option<String>,
    exp: u64,
}

#[derive(Debug, Deserialize)]
struct UnverifiedClaims {
    sub: Option<String>,
    iss: Option<String>,
}

/// A JWT id to record as used, once the rest of authentication succeeded.
#[derive(Debug, Clone)]
pub struct SeenJti {
    /// Store key.
    pub key: String,
    /// Until when to remember it.
    pub expires_at: u64,
}

/// Authenticates the caller: verifies credentials and records assertion `jti`s.
/// `audiences` are the values a client assertion's `aud` may carry.
pub async fn authenticate(
    state: &Arc<AppState>,
    req: &TokenRequest,
    audiences: &[String],
) -> Result<ClientIdentity, OAuthError> {
    let (identity, jti) = verify(state, req, audiences)?;
    if let Some(jti) = jti
        && !state.flaw(Flaw::AssertionReplayAccepted)
    {
        let now = state.clock.wall();
        let fresh = crate::store::run_async(state.store.clone(), move |r| {
            r.first_use_of_jti(&jti.key, now, jti.expires_at)
        })
        .await
        .map_err(|_| OAuthError::server_error())?
        .map_err(|_| OAuthError::server_error())?;
        if !fresh {
            return Err(OAuthError::invalid_client(
                "client assertion jti already used",
                ChallengeKind::Other,
            ));
        }
    }
    Ok(identity)
}

/// The credential checks, without storage.
pub fn verify(
    state: &AppState,
    req: &TokenRequest,
    audiences: &[String],
) -> Result<(ClientIdentity, Option<SeenJti>), OAuthError> {
    let params = &req.params;
    let has_post = params.contains("client_secret");
    let has_jwt = params.contains("client_assertion") || params.contains("client_assertion_type");
    let used = [req.basic.is_some(), has_post, has_jwt]
        .iter()
        .filter(|b| **b)
        .count();
    if used > 1 && !state.flaw(Flaw::MultipleAuthMethodsAccepted) {
        return Err(OAuthError::invalid_request(
            "more than one client authentication method",
        ));
    }
    let other = |d: &str| OAuthError::invalid_client(d, ChallengeKind::Other);
    let (client, method, jti) = if let Some(basic) = &req.basic {
        let bad =
            || OAuthError::invalid_client("client authentication failed", ChallengeKind::Basic);
        let client = state.clients.get(&basic.client_id).ok_or_else(bad)?;
        let ok = client
            .secret
            .as_ref()
            .is_some_and(|s| secrets_equal(s.secret(), basic.secret.secret()));
        if !ok {
            return Err(bad());
        }
        if params.get("client_id").is_some_and(|id| id != client.id)
            && !state.flaw(Flaw::BasicClientIdMismatchIgnored)
        {
            return Err(OAuthError::invalid_request(
                "client_id does not match the authenticated client",
            ));
        }
        if params.get("client_id").is_some() && state.flaw(Flaw::ClientIdWithBasicRejected) {
            return Err(OAuthError::invalid_request(
                "client_id must not be sent with Basic credentials",
            ));
        }
        (client, AuthMethod::ClientSecretBasic, None)
    } else if has_post {
        let id = params.require("client_id")?;
        let client = state
            .clients
            .get(id)
            .ok_or_else(|| other("client authentication failed"))?;
        let secret = params.get("client_secret").unwrap_or("");
        let ok = client
            .secret
            .as_ref()
            .is_some_and(|s| secrets_equal(s.secret(), secret));
        if !ok {
            return Err(other("client authentication failed"));
        }
        (client, AuthMethod::ClientSecretPost, None)
    } else if has_jwt {
        let (client, method, jti) = verify_assertion(state, req, audiences)?;
        (client, method, Some(jti))
    } else if let Some(id) = params.get("client_id") {
        let client = state
            .clients
            .get(id)
            .ok_or_else(|| other("unknown client"))?;
        if !client.public {
            return Ok((ClientIdentity::ClaimedOnly(client), None));
        }
        check_method_allowed(state, &client, AuthMethod::None)?;
        return Ok((ClientIdentity::Public(client), None));
    } else {
        return Ok((ClientIdentity::Anonymous, None));
    };
    let challenge = if method == AuthMethod::ClientSecretBasic {
        ChallengeKind::Basic
    } else {
        ChallengeKind::Other
    };
    check_method_allowed(state, &client, method).map_err(|mut e| {
        e.challenge = Some(challenge);
        e
    })?;
    Ok((ClientIdentity::Authenticated { client, method }, jti))
}

fn check_method_allowed(
    state: &AppState,
    client: &Client,
    method: AuthMethod,
) -> Result<(), OAuthError> {
    let policy = &state.policy.clients;
    if !policy.accepts(method) {
        return Err(OAuthError::invalid_client(
            "authentication method not supported",
            ChallengeKind::Other,
        ));
    }
    if policy.enforce_registered_method
        && method != client.auth_method
        && !state.flaw(Flaw::RegisteredMethodNotEnforced)
    {
        return Err(OAuthError::invalid_client(
            "not the client's registered authentication method",
            ChallengeKind::Other,
        ));
    }
    Ok(())
}

fn verify_assertion(
    state: &AppState,
    req: &TokenRequest,
    audiences: &[String],
) -> Result<(Arc<Client>, AuthMethod, SeenJti), OAuthError> {
    let bad = |d: &str| OAuthError::invalid_client(d, ChallengeKind::Other);
    let params = &req.params;
    if params.get("client_assertion_type") != Some(JWT_BEARER_ASSERTION_TYPE) {
        return Err(bad("unsupported client_assertion_type"));
    }
    let assertion = params
        .get("client_assertion")
        .ok_or_else(|| bad("missing client_assertion"))?;
    if params.get("client_id").is_none() && state.flaw(Flaw::AssertionWithoutClientIdRejected) {
        return Err(OAuthError::invalid_request(
            "client_id is required with a client assertion",
        ));
    }
    if state.flaw(Flaw::AssertionSignatureUnchecked) {
        return verify_assertion_unsigned(state, params, assertion, audiences);
    }
    let header =
        jsonwebtoken::decode_header(assertion).map_err(|_| bad("malformed client assertion"))?;
    let unverified: UnverifiedClaims = jsonwebtoken::dangerous::insecure_decode_claims(assertion)
        .map_err(|_| bad("malformed client assertion"))?;
    let id = match (params.get("client_id"), unverified.sub.as_deref()) {
        (Some(a), Some(b)) if a != b && !state.flaw(Flaw::AssertionClaimsUnchecked) => {
            return Err(bad("client_id does not match the assertion"));
        }
        (Some(a), _) => a.to_owned(),
        (None, Some(b)) => b.to_owned(),
        (None, None) => return Err(bad("assertion has no sub")),
    };
    let client = state
        .clients
        .get(&id)
        .ok_or_else(|| bad("unknown client"))?;
    let (key, method) = match header.alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            let secret = client
                .secret
                .as_ref()
                .ok_or_else(|| bad("client has no secret"))?;
            (
                DecodingKey::from_secret(secret.secret().as_bytes()),
                AuthMethod::ClientSecretJwt,
            )
        }
        Algorithm::ES256 => {
            let (x, y) = client
                .public_key
                .as_ref()
                .ok_or_else(|| bad("client has no registered key"))?;
            let key =
                DecodingKey::from_ec_components(x, y).map_err(|_| OAuthError::server_error())?;
            (key, AuthMethod::PrivateKeyJwt)
        }
        _ => return Err(bad("unsupported assertion algorithm")),
    };
    let mut v = Validation::new(header.alg);
    v.leeway = 30;
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    v.set_audience(audiences);
    v.set_issuer(&[&client.id]);
    v.sub = Some(client.id.clone());
    if state.flaw(Flaw::AssertionClaimsUnchecked) {
        // Only the signature (and iss) is checked.
        v.validate_exp = false;
        v.validate_nbf = false;
        v.validate_aud = false;
        v.sub = None;
        v.required_spec_claims.clear();
    }
    let data = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &v)
        .map_err(|_| bad("client assertion rejected"))?;
    if unverified.iss.as_deref() != Some(client.id.as_str()) {
        return Err(bad("assertion iss must be the client_id"));
    }
    let jti = data
        .claims
        .jti
        .ok_or_else(|| bad("client assertion has no jti"))?;
    Ok((
        client.clone(),
        method,
        SeenJti {
            key: format!("client-assertion:{}:{jti}", client.id),
            expires_at: data.claims.exp.saturating_add(60),
        },
    ))
}

/// The `assertion-signature-unchecked` flaw: the assertion's claims are checked as usual (unless
/// `assertion-claims-unchecked` is on too), its signature not at all, `alg: none` included.
fn verify_assertion_unsigned(
    state: &AppState,
    params: &crate::request::Params,
    assertion: &str,
    audiences: &[String],
) -> Result<(Arc<Client>, AuthMethod, SeenJti), OAuthError> {
    use base64::Engine;
    use serde_json::Value;
    let bad = |d: &str| OAuthError::invalid_client(d, ChallengeKind::Other);
    let header: Value = assertion
        .split('.')
        .next()
        .and_then(|h| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("malformed client assertion"))?;
    let claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(assertion)
        .map_err(|_| bad("malformed client assertion"))?;
    let text = |k: &str| claims.get(k).and_then(Value::as_str);
    let id = params
        .get("client_id")
        .or(text("sub"))
        .ok_or_else(|| bad("assertion has no sub"))?;
    let client = state.clients.get(id).ok_or_else(|| bad("unknown client"))?;
    if !state.flaw(Flaw::AssertionClaimsUnchecked) {
        let now = state.clock.wall();
        let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
        let nbf = claims.get("nbf").and_then(Value::as_u64).unwrap_or(0);
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => audiences.contains(a),
            Some(Value::Array(v)) => v
                .iter()
                .any(|a| a.as_str().is_some_and(|a| audiences.iter().any(|x| x == a))),
            _ => false,
        };
        let me = Some(client.id.as_str());
        if now > exp.saturating_add(30)
            || nbf > now.saturating_add(30)
            || !aud_ok
            || text("iss") != me
            || text("sub") != me
        {
            return Err(bad("client assertion rejected"));
        }
    }
    let method = match header.get("alg").and_then(Value::as_str).unwrap_or("") {
        a if a.starts_with("HS") => AuthMethod::ClientSecretJwt,
        "ES256" => AuthMethod::PrivateKeyJwt,
        _ => client.auth_method,
    };
    let jti = text("jti").ok_or_else(|| bad("client assertion has no jti"))?;
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    Ok((
        client.clone(),
        method,
        SeenJti {
            key: format!("client-assertion:{}:{jti}", client.id),
            expires_at: exp.saturating_add(60),
        },
    ))
}
