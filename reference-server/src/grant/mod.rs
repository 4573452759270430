//! Grant logic: one module per grant type, all pure bookkeeping over [`Records`] inside one store
//! transaction. HTTP, client authentication and DPoP proof checking happen before, in
//! `endpoint::token`; what reaches a grant is an authenticated client and validated input.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
pub mod jwt_bearer;
pub mod password;
pub mod refresh_token;
pub mod token_exchange;

use crate::client::{Client, GrantType};
use crate::error::OAuthError;
use crate::keys::Signer;
use crate::policy::Policy;
use crate::state::AppState;
use crate::store::{AccessRecord, Family, Records, RefreshRecord, RefreshState};
use crate::token::{AccessToken, RefreshToken};
use serde::Serialize;

/// What every grant sees.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// Server state (policy, flaws, clients, keys, generator).
    pub state: &'a AppState,
    /// Server time for this request (virtual under test control).
    pub now: u64,
}

impl Ctx<'_> {
    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.state.policy
    }
}

/// RFC 8693 token type URNs.
pub mod token_type {
    /// An OAuth access token.
    pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
    /// An OAuth refresh token.
    pub const REFRESH_TOKEN: &str = "urn:ietf:params:oauth:token-type:refresh_token";
}

/// A successful token response.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The access token.
    pub access_token: AccessToken,
    /// Bound to a DPoP key (`token_type` DPoP) or not (Bearer).
    pub dpop_bound: bool,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// A refresh token, new or (without rotation) the presented one.
    pub refresh_token: Option<RefreshToken>,
    /// The access token's scope.
    pub scope: String,
    /// Send `scope` in the response (policy `always_echo`, or it differs from the request).
    pub echo_scope: bool,
    /// An OIDC ID token, to be signed when the response is written.
    pub id_token: Option<IdToken>,
    /// RFC 8693 `issued_token_type`.
    pub issued_token_type: Option<&'static str>,
}

impl Issued {
    /// The RFC 6749 §5.1 JSON body, the ID token signed by `signer` (outside any transaction).
    pub fn to_json(&self, signer: &Signer) -> Result<serde_json::Value, OAuthError> {
        let mut m = serde_json::Map::new();
        m.insert("access_token".into(), self.access_token.secret().into());
        if let Some(t) = self.issued_token_type {
            m.insert("issued_token_type".into(), t.into());
        }
        let tt = if self.dpop_bound { "DPoP" } else { "Bearer" };
        m.insert("token_type".into(), tt.into());
        m.insert("expires_in".into(), self.expires_in.into());
        if let Some(rt) = &self.refresh_token {
            m.insert("refresh_token".into(), rt.secret().into());
        }
        if self.echo_scope {
            m.insert("scope".into(), self.scope.clone().into());
        }
        if let Some(id) = &self.id_token {
            m.insert("id_token".into(), id.sign(signer)?.into());
        }
        Ok(serde_json::Value::Object(m))
    }
}

/// Splits and validates a scope string (RFC 6749 §3.3: space-separated NQCHAR tokens), dropping
/// duplicates and keeping order.
pub fn parse_scope(s: &str) -> Result<Vec<String>, OAuthError> {
    let mut out: Vec<String> = Vec::new();
    for tok in s.split(' ').filter(|t| !t.is_empty()) {
        if !tok
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        {
            return Err(OAuthError::invalid_scope("malformed scope"));
        }
        if !out.iter().any(|o| o == tok) {
            out.push(tok.to_owned());
        }
    }
    Ok(out)
}

/// The scope for a new grant: the request (which must be within what the client may ask for) or
/// the client's default.
pub fn resolve_scope(client: &Client, requested: Option<&str>) -> Result<Vec<String>, OAuthError> {
    match requested {
        None => Ok(client.default_scope.clone()),
        Some(s) => {
            let scope = parse_scope(s)?;
            if scope.is_empty() {
                return Ok(client.default_scope.clone());
            }
            if let Some(bad) = scope.iter().find(|t| !client.scope.contains(t)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {bad} not allowed"
                )));
            }
            Ok(scope)
        }
    }
}

/// Whether a grant of this kind to this client gets a refresh token (RFC 6749 §1.5: the AS
/// decides; here the policy does).
pub fn refresh_issuable(
    policy: &Policy,
    client: &Client,
    grant: GrantType,
    scope: &[String],
) -> bool {
    let per_grant = match grant {
        GrantType::AuthorizationCode => policy.refresh_tokens.authorization_code,
        GrantType::Password => policy.refresh_tokens.password,
        GrantType::JwtBearer => policy.refresh_tokens.jwt_bearer,
        GrantType::DeviceCode => policy.refresh_tokens.device_code,
        GrantType::TokenExchange => policy.refresh_tokens.token_exchange,
        // RFC 6749 §4.4.3: no refresh token for client credentials.
        GrantType::ClientCredentials => false,
        GrantType::RefreshToken => true,
    };
    policy.grants.refresh_token
        && client.allows(GrantType::RefreshToken)
        && per_grant
        && (!client.public || policy.refresh_tokens.public_clients)
        && (!policy.oidc.offline_access_required || scope.iter().any(|s| s == "offline_access"))
}

/// A grant to record.
#[derive(Debug, Clone)]
pub struct NewGrant<'a> {
    /// The client.
    pub client: &'a Client,
    /// The resource owner.
    pub subject: Option<String>,
    /// The granted scope.
    pub scope: Vec<String>,
    /// Which grant produced it.
    pub grant: GrantType,
    /// User authentication time.
    pub auth_time: Option<u64>,
    /// OIDC nonce (code flow).
    pub nonce: Option<String>,
    /// Proof-of-possession key thumbprint from this request's DPoP proof.
    pub dpop_jkt: Option<String>,
    /// The scope the client asked for, to decide whether `scope` must be echoed.
    pub requested_scope: Option<String>,
    /// Issue a refresh token (already decided by the grant).
    pub with_refresh: bool,
}

/// Starts a family and issues its first tokens.
pub fn issue_new(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    g: NewGrant<'_>,
) -> Result<(Issued, Family), OAuthError> {
    let policy = ctx.policy();
    let mut family = Family {
        id: ctx.state.tokens.id(),
        client_id: g.client.id.clone(),
        subject: g.subject.clone(),
        scope: g.scope.join(" "),
        grant_type: g.grant.as_str().to_owned(),
        created_at: ctx.now,
        auth_time: g.auth_time,
        refresh_revoked: false,
        access_revoked: false,
        // RFC 9449 §5: a public client's refresh token is bound to the proof key.
        dpop_jkt: ((g.client.public
            || ctx
                .state
                .flaw(crate::flaw::Flaw::DpopConfidentialRefreshBound))
            && g.with_refresh
            && policy.dpop.bind_public_refresh_tokens)
            .then(|| g.dpop_jkt.clone())
            .flatten(),
        current_access: None,
    };
    let refresh_token = if g.with_refresh {
        let rt = RefreshToken::new(token_value(ctx));
        rec.put_refresh(&RefreshRecord {
            hash: rt.hash().0,
            family: family.id.clone(),
            client_id: g.client.id.clone(),
            state: RefreshState::Active,
            issued_at: ctx.now,
            last_used_at: ctx.now,
            absolute_expires_at: policy
                .lifetimes
                .refresh_absolute
                .map(|a| ctx.now.saturating_add(a)),
            grace_uses: 0,
        })?;
        Some(rt)
    } else {
        None
    };
    let access_token = mint_access(rec, ctx, &mut family, &g.scope, g.dpop_jkt.clone())?;
    rec.put_family(&family)?;
    let scope = g.scope.join(" ");
    let id_token = if g.scope.iter().any(|s| s == "openid") {
        id_token(ctx, &family, g.nonce.as_deref())
    } else {
        None
    };
    let echo_scope =
        policy.scope.always_echo || g.requested_scope.as_deref() != Some(scope.as_str());
    Ok((
        Issued {
            access_token,
            dpop_bound: g.dpop_jkt.is_some(),
            expires_in: policy.lifetimes.access_token,
            refresh_token,
            scope,
            echo_scope,
            id_token,
            issued_token_type: None,
        },
        family,
    ))
}

/// A new access or refresh token value; under the `token-whitespace` flaw wrapped by a line break.
pub fn token_value(ctx: &Ctx<'_>) -> String {
    let t = ctx.state.tokens.token();
    if ctx.state.flaw(crate::flaw::Flaw::TokenWhitespace) {
        let (a, b) = t.split_at(t.len() / 2);
        format!("{a}\r\n{b}")
    } else {
        t
    }
}

/// Issues an access token in `family` (the caller saves the family).
pub fn mint_access(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    family: &mut Family,
    scope: &[String],
    jkt: Option<String>,
) -> Result<AccessToken, OAuthError> {
    let at = AccessToken::new(token_value(ctx));
    let hash = at.hash().0;
    rec.put_access(&AccessRecord {
        hash: hash.clone(),
        family: Some(family.id.clone()),
        client_id: family.client_id.clone(),
        subject: family.subject.clone(),
        scope: scope.join(" "),
        issued_at: ctx.now,
        expires_at: ctx.now.saturating_add(ctx.policy().lifetimes.access_token),
        revoked: false,
        jkt,
    })?;
    family.current_access = Some(hash);
    Ok(at)
}

/// Whether an access token is usable now: not revoked, not expired, its family's access tokens
/// not revoked.
pub fn access_active(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    at: &AccessRecord,
) -> Result<bool, OAuthError> {
    if at.revoked || ctx.now >= at.expires_at {
        return Ok(false);
    }
    Ok(match &at.family {
        Some(f) => rec.family(f)?.is_some_and(|f| !f.access_revoked),
        None => true,
    })
}

/// Whether a refresh token would be accepted now (ignoring client binding and DPoP): the current
/// token of a live family, or a predecessor still inside its grace window.
pub fn refresh_active(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    rt: &RefreshRecord,
) -> Result<Option<Family>, OAuthError> {
    let policy = ctx.policy();
    let Some(family) = rec.family(&rt.family)? else {
        return Ok(None);
    };
    let expired = rt.absolute_expires_at.is_some_and(|t| ctx.now >= t)
        || policy
            .lifetimes
            .refresh_idle
            .is_some_and(|idle| ctx.now >= rt.last_used_at.saturating_add(idle));
    if family.refresh_revoked || expired {
        return Ok(None);
    }
    let live = match &rt.state {
        RefreshState::Active => true,
        RefreshState::Revoked => false,
        RefreshState::Superseded { at, successor } => {
            policy.grace.seconds > 0
                && ctx.now < at.saturating_add(policy.grace.seconds)
                && rt.grace_uses < policy.grace.max_reuses
                && rec
                    .refresh(successor)?
                    .is_some_and(|s| s.state == RefreshState::Active)
        }
    };
    Ok(live.then_some(family))
}

/// An OIDC ID token's claims, decided inside the grant's transaction and signed after it (so no
/// store lock or transaction waits for the signature).
#[derive(Debug, Clone, Serialize)]
pub struct IdToken {
    iss: String,
    sub: String,
    aud: String,
    iat: u64,
    exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
}

impl IdToken {
    /// The signed compact JWT.
    pub fn sign(&self, signer: &Signer) -> Result<String, OAuthError> {
        signer.sign(self).map_err(|_| OAuthError::server_error())
    }
}

/// An ES256 ID token for the family's user, or `None` when there is no user (client credentials).
/// On refresh `nonce` is `None` (OIDC Core §12.2); `iss`, `sub` and `aud` stay the same.
pub fn id_token(ctx: &Ctx<'_>, family: &Family, nonce: Option<&str>) -> Option<IdToken> {
    let sub = family.subject.as_deref()?;
    // ID tokens are validated by clients against their own clock, hence wall time.
    let iat = ctx.state.clock.wall();
    Some(IdToken {
        iss: ctx.state.issuer.clone(),
        sub: sub.to_owned(),
        aud: family.client_id.clone(),
        iat,
        exp: iat + ctx.policy().lifetimes.access_token.max(60),
        auth_time: family.auth_time,
        nonce: nonce.map(str::to_owned),
    })
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Builds a server state on the in-memory store, for grant unit tests.
    use crate::config::Config;
    use crate::flaw::Flaw;
    use crate::policy::Policy;
    use crate::state::AppState;

    /// State for `preset` with `flaws`.
    pub fn state(preset: &str, flaws: &[Flaw]) -> AppState {
        let mut config = Config::new(Policy::preset(preset).expect("preset"));
        config.flaws = flaws.to_vec();
        AppState::new(&config, "http://127.0.0.1:9").expect("state")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_parsing() {
        assert_eq!(parse_scope("a  b a").expect("ok"), vec!["a", "b"]);
        assert!(parse_scope("a\"b").is_err());
        assert!(parse_scope("").expect("ok").is_empty());
    }

    #[test]
    fn client_credentials_never_get_refresh_tokens() {
        let st = test_support::state("base", &[]);
        let c = st.clients.get("confidential-basic").expect("client");
        assert!(!refresh_issuable(
            &st.policy,
            &c,
            GrantType::ClientCredentials,
            &[]
        ));
        assert!(refresh_issuable(&st.policy, &c, GrantType::Password, &[]));
        let nr = st.clients.get("confidential-no-refresh").expect("client");
        assert!(!refresh_issuable(&st.policy, &nr, GrantType::Password, &[]));
        let a0 = test_support::state("auth0", &[]);
        assert!(!refresh_issuable(
            &a0.policy,
            &c,
            GrantType::Password,
            &["openid".into()]
        ));
        assert!(refresh_issuable(
            &a0.policy,
            &c,
            GrantType::Password,
            &["offline_access".into()]
        ));
    }
}
