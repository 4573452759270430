//! The refresh-token policy: every legitimate choice an authorization server may make.
//!
//! One type serves both sides. The reference server is driven by it, and a tokencert target
//! profile describes the server under test with it, so scenarios never hard-code one camp
//! (RFC 9700 one-time use versus FAPI 2.0 retries, say): they read the policy.
//!
//! A policy is written as a preset name plus overrides:
//!
//! ```yaml
//! preset: rfc9700
//! grace: { seconds: 10, max_reuses: 1 }
//! ```
//!
//! The presets are in [`crate::preset`].

use crate::AuthMethod;
use crate::preset;
use serde::{Deserialize, Serialize};

/// Why a policy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The preset name is not one of [`crate::PRESET_NAMES`].
    #[error("unknown policy preset `{name}` (known: {known})")]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A preset file or an override does not fit the policy's shape.
    #[error("invalid policy: {0}")]
    Invalid(String),
}

/// Grant types the server offers at its token endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grants {
    /// RFC 6749 §4.1.
    pub authorization_code: bool,
    /// RFC 6749 §4.3 (dropped by RFC 9700 §2.4 and OAuth 2.1).
    pub password: bool,
    /// RFC 6749 §4.4.
    pub client_credentials: bool,
    /// RFC 6749 §6.
    pub refresh_token: bool,
    /// RFC 7523 §2.1.
    pub jwt_bearer: bool,
    /// RFC 8628.
    pub device_code: bool,
    /// RFC 8693.
    pub token_exchange: bool,
}

/// Which grants hand out a refresh token next to the access token (RFC 6749 §1.5: AS discretion).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshIssuance {
    /// authorization_code.
    pub authorization_code: bool,
    /// password.
    pub password: bool,
    /// jwt-bearer (RFC 7523).
    pub jwt_bearer: bool,
    /// device_code (RFC 8628).
    pub device_code: bool,
    /// token-exchange (RFC 8693), when `requested_token_type` asks for one.
    pub token_exchange: bool,
    /// Public clients get refresh tokens at all.
    pub public_clients: bool,
}

/// Whether a refresh returns a new refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RotationMode {
    /// The same refresh token is returned (or none); it stays valid until it expires.
    Never,
    /// Every refresh returns a new refresh token and supersedes the presented one.
    Always,
    /// Only public clients' refresh tokens rotate (RFC 9700 §4.14.2 minimum).
    PublicOnly,
}

/// What a refresh that does not rotate the refresh token answers in `refresh_token`
/// (RFC 6749 §5.1 and §6: the member is optional; without it the client keeps the old token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnrotatedRefreshToken {
    /// The presented refresh token comes back.
    Same,
    /// No `refresh_token` member; the presented token stays valid.
    Omitted,
}

/// The window in which a superseded refresh token still works (no RFC defines one; vendors do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grace {
    /// Seconds after rotation during which the predecessor is still accepted; 0 = none.
    pub seconds: u64,
    /// How many times the predecessor may be replayed inside the window.
    pub max_reuses: u32,
}

/// What the server does when a superseded refresh token is presented outside the grace window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReuseResponse {
    /// Refuse the replayed token only; the family's current token keeps working.
    RejectOnly,
    /// Refuse it and revoke every refresh token of the family (RFC 9700 §4.14.2).
    RevokeFamily,
    /// Also revoke the access tokens issued from the family (OAuth 2.1 §4.3.1, RFC 6819 §5.2.2.3).
    RevokeFamilyAndAccessTokens,
}

/// Token lifetimes in seconds. `None` means unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lifetimes {
    /// Access token lifetime (`expires_in`).
    pub access_token: u64,
    /// Refresh token idle (sliding) timeout: unused this long, it expires.
    pub refresh_idle: Option<u64>,
    /// Refresh token absolute lifetime, counted from the family's first issue.
    pub refresh_absolute: Option<u64>,
    /// A rotated token gets a fresh absolute lifetime (WSO2 does; RFC 9700 guidance says not to).
    pub rotation_resets_absolute: bool,
    /// Authorization code lifetime.
    pub authorization_code: u64,
    /// Device code lifetime (RFC 8628 `expires_in`).
    pub device_code: u64,
}

/// What a refresh asking for more scope than granted gets (RFC 6749 §6 vs §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeEscalation {
    /// 400 `invalid_scope`.
    Reject,
    /// 200 with the extra scope silently dropped; `scope` then present in the response.
    Drop,
}

/// Scope rules on refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopePolicy {
    /// A broader scope on refresh: error or dropped.
    pub escalation: ScopeEscalation,
    /// A narrower scope on refresh is honoured (the family keeps its full grant).
    pub narrowing: bool,
    /// `scope` is always echoed in token responses (OAuth 2.1 RECOMMENDED), not only when it differs.
    pub always_echo: bool,
}

/// Client authentication and binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientPolicy {
    /// Methods accepted at the token endpoint (RFC 8414 `token_endpoint_auth_methods_supported`).
    pub auth_methods: Vec<AuthMethod>,
    /// Only the method registered for a client is accepted (OIDC §9).
    pub enforce_registered_method: bool,
    /// Status for `invalid_client` when the Authorization header was not used: 400 or 401.
    pub invalid_client_status: u16,
    /// A public client must send `client_id` when refreshing.
    pub public_requires_client_id: bool,
}

/// PKCE rules (RFC 7636, RFC 9700 §2.1.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkce {
    /// Which clients must send a code challenge: `all`, `public` or `none`.
    pub required_for: PkceRequiredFor,
    /// The `plain` method is accepted.
    pub plain_allowed: bool,
}

/// Which clients must use PKCE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PkceRequiredFor {
    /// Every client.
    All,
    /// Public clients only.
    Public,
    /// Nobody (PKCE still honoured when sent).
    None,
}

/// DPoP at the token endpoint (RFC 9449).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dpop {
    /// DPoP proofs are understood.
    pub supported: bool,
    /// The server demands a nonce (`use_dpop_nonce`, RFC 9449 §8).
    pub nonce_required: bool,
    /// How old (or how far ahead) a proof's `iat` may be, in seconds.
    pub iat_window: u64,
    /// Public clients' refresh tokens are bound to the proof key (RFC 9449 §5: MUST when proof sent).
    pub bind_public_refresh_tokens: bool,
}

/// Revocation (RFC 7009) cascade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationPolicy {
    /// Revoking a refresh token also revokes its family's access tokens (RFC 7009 §2.1 SHOULD).
    pub refresh_revokes_access_tokens: bool,
    /// Revoking an access token also revokes its refresh token (RFC 7009 §2.1 MAY).
    pub access_revokes_refresh_token: bool,
}

/// What introspection (RFC 7662) reports on, and to whom. RFC 7662 §2.1 leaves the token types
/// to the server ("the server MAY…") and §2.2 lets it answer callers differently; a token it does
/// not report on is `{"active": false}` to that caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionPolicy {
    /// Access tokens are introspected.
    pub access_tokens: bool,
    /// Refresh tokens are introspected.
    pub refresh_tokens: bool,
    /// Which authenticated clients learn about a token.
    pub callers: IntrospectionCallers,
    /// Public clients' tokens are introspected at all.
    pub public_clients: bool,
}

/// Which authenticated (confidential) clients introspection answers about a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntrospectionCallers {
    /// Any authenticated confidential client, as a resource server would.
    AnyClient,
    /// Only the client the token was issued to (a public client, which cannot authenticate,
    /// never learns about its own tokens).
    Owner,
}

/// OpenID Connect behaviour on refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Oidc {
    /// A refresh token is issued only when `offline_access` was granted (Auth0, OIDC §11).
    pub offline_access_required: bool,
    /// An ID token is returned on refresh when `openid` is in scope (OIDC §12.2).
    pub id_token_on_refresh: bool,
}

/// The whole policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// The preset this policy started from.
    pub name: String,
    /// Offered grants.
    pub grants: Grants,
    /// Which grants issue refresh tokens.
    pub refresh_tokens: RefreshIssuance,
    /// Rotation on refresh.
    pub rotation: RotationMode,
    /// What a refresh that does not rotate returns in `refresh_token`.
    pub unrotated_refresh_token: UnrotatedRefreshToken,
    /// Grace window for the superseded token.
    pub grace: Grace,
    /// Response to reuse of a superseded token.
    pub reuse: ReuseResponse,
    /// Lifetimes.
    pub lifetimes: Lifetimes,
    /// Scope on refresh.
    pub scope: ScopePolicy,
    /// Client authentication.
    pub clients: ClientPolicy,
    /// PKCE.
    pub pkce: Pkce,
    /// DPoP.
    pub dpop: Dpop,
    /// Revocation cascade.
    pub revocation: RevocationPolicy,
    /// What introspection observes.
    pub introspection: IntrospectionPolicy,
    /// OpenID Connect.
    pub oidc: Oidc,
    /// `Pragma: no-cache` next to `Cache-Control: no-store` (RFC 6749 §5.1; dropped by OAuth 2.1).
    pub pragma_no_cache: bool,
    /// A replayed authorization code revokes the tokens issued from it (RFC 6749 §4.1.2 SHOULD).
    pub code_replay_revokes: bool,
    /// A refresh revokes the previous access token (unspecified).
    pub previous_access_token_revoked_on_refresh: bool,
}

impl ClientPolicy {
    /// Whether the token endpoint accepts `method` at all.
    pub fn accepts(&self, method: AuthMethod) -> bool {
        self.auth_methods.contains(&method)
    }
}

impl Policy {
    /// A shipped preset, fully resolved.
    pub fn preset(name: &str) -> Result<Policy, PolicyError> {
        Self::resolve(name, &serde_json::Value::Object(Default::default()))
    }

    /// A preset with `overrides` deep-merged over it (a JSON object shaped like [`Policy`], partial).
    pub fn resolve(preset: &str, overrides: &serde_json::Value) -> Result<Policy, PolicyError> {
        let mut value = preset::preset_value(preset, 0)?;
        preset::merge(&mut value, overrides);
        if let serde_json::Value::Object(map) = &mut value {
            map.insert("name".into(), serde_json::Value::String(preset.to_owned()));
        }
        serde_json::from_value(value).map_err(|e| PolicyError::Invalid(e.to_string()))
    }

    /// Parses a policy file: `preset: NAME` plus overrides (or a whole policy with `preset: base`).
    pub fn from_yaml(text: &str) -> Result<Policy, PolicyError> {
        let mut value: serde_json::Value =
            serde_saphyr::from_str(text).map_err(|e| PolicyError::Invalid(e.to_string()))?;
        let preset = match &mut value {
            serde_json::Value::Object(map) => match map.remove("preset") {
                Some(serde_json::Value::String(s)) => s,
                Some(_) => return Err(PolicyError::Invalid("`preset` must be a string".into())),
                None => "base".to_owned(),
            },
            _ => return Err(PolicyError::Invalid("a policy is a mapping".into())),
        };
        Self::resolve(&preset, &value)
    }

    /// Whether refreshing with a token of a public (`public = true`) or confidential client rotates.
    pub fn rotates_for(&self, public: bool) -> bool {
        match self.rotation {
            RotationMode::Never => false,
            RotationMode::Always => true,
            RotationMode::PublicOnly => public,
        }
    }

    /// Whether a token of a public (`owner_public = true`) or confidential client can be
    /// introspected by some authenticated client: its owner under `callers: owner` (which a
    /// public client cannot be), else any confidential client.
    pub fn introspects_tokens_of(&self, owner_public: bool) -> bool {
        !owner_public
            || (self.introspection.public_clients
                && self.introspection.callers == IntrospectionCallers::AnyClient)
    }

    /// Whether a refresh returns `refresh_token` for a token of a public (`public = true`) or
    /// confidential client: always when it rotates, else as `unrotated_refresh_token` says.
    pub fn returns_refresh_token(&self, public: bool) -> bool {
        self.rotates_for(public) || self.unrotated_refresh_token == UnrotatedRefreshToken::Same
    }

    /// The policy as YAML (for `--print-config`).
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_else(|e| format!("# cannot render policy: {e}\n"))
    }
}
