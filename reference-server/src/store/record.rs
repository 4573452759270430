//! What the store keeps. Every key is a [`crate::token::TokenHash`] or a random identifier:
//! no raw token is ever stored.

use serde::{Deserialize, Serialize};

/// One grant: everything issued from one authorization (a code, a password login, a device
/// approval…) belongs to one family. Rotation, reuse detection, revocation and the code-replay
/// cascade all act on families.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Family {
    /// Random identifier.
    pub id: String,
    /// The client the grant was made to.
    pub client_id: String,
    /// The resource owner (test user), if any.
    pub subject: Option<String>,
    /// The scope the resource owner granted: refreshes never exceed it (RFC 6749 §6).
    pub scope: String,
    /// The grant type that started the family (wire name).
    pub grant_type: String,
    /// When the family was created.
    pub created_at: u64,
    /// When the user authenticated (OIDC `auth_time`).
    pub auth_time: Option<u64>,
    /// Every refresh token of the family is dead (reuse detected, revoked, code replayed).
    pub refresh_revoked: bool,
    /// Every access token of the family is dead too.
    pub access_revoked: bool,
    /// JWK thumbprint the family's refresh tokens are bound to (RFC 9449 §5, public clients).
    pub dpop_jkt: Option<String>,
    /// Hash of the most recent access token (to revoke it on refresh when the policy says so).
    pub current_access: Option<String>,
}

/// Where a refresh token is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RefreshState {
    /// The family's current token.
    Active,
    /// Rotated out at `at`; `successor` is the hash of the token that replaced it.
    Superseded {
        /// Rotation time.
        at: u64,
        /// Hash of the successor.
        successor: String,
    },
    /// Revoked individually.
    Revoked,
}

/// A refresh token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// SHA-256 of the token.
    pub hash: String,
    /// Its family.
    pub family: String,
    /// The client it was issued to (RFC 6749 §10.4 binding).
    pub client_id: String,
    /// Lifecycle state.
    pub state: RefreshState,
    /// Issue time.
    pub issued_at: u64,
    /// Last successful use (or issue): the idle timeout counts from here.
    pub last_used_at: u64,
    /// Absolute deadline, inherited by successors unless the policy resets it.
    pub absolute_expires_at: Option<u64>,
    /// How often it was replayed inside the grace window.
    pub grace_uses: u32,
}

/// An access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    /// SHA-256 of the token.
    pub hash: String,
    /// The family it came from.
    pub family: Option<String>,
    /// The client it was issued to.
    pub client_id: String,
    /// The resource owner, if any.
    pub subject: Option<String>,
    /// Its scope.
    pub scope: String,
    /// Issue time.
    pub issued_at: u64,
    /// Expiry.
    pub expires_at: u64,
    /// Revoked individually.
    pub revoked: bool,
    /// DPoP key thumbprint when sender-constrained (`token_type` DPoP).
    pub jkt: Option<String>,
}

/// An authorization code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    /// SHA-256 of the code.
    pub hash: String,
    /// The client it was issued to.
    pub client_id: String,
    /// `redirect_uri` as sent in the authorization request (must match at the token endpoint).
    pub redirect_uri_param: Option<String>,
    /// The redirect URI actually used.
    pub redirect_uri: String,
    /// Granted scope.
    pub scope: String,
    /// The user who consented.
    pub subject: String,
    /// PKCE challenge.
    pub code_challenge: Option<String>,
    /// PKCE method (`S256` or `plain`).
    pub code_challenge_method: Option<String>,
    /// OIDC nonce, repeated in the first ID token only.
    pub nonce: Option<String>,
    /// `dpop_jkt` from the authorization request (RFC 9449 §10).
    pub dpop_jkt: Option<String>,
    /// Authentication time.
    pub auth_time: u64,
    /// Expiry.
    pub expires_at: u64,
    /// Redeemed already.
    pub used: bool,
    /// The family its tokens belong to, once redeemed.
    pub family: Option<String>,
}

/// An RFC 8628 device authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// SHA-256 of the device code.
    pub hash: String,
    /// The user code shown to the user.
    pub user_code: String,
    /// The client that started it.
    pub client_id: String,
    /// Requested scope.
    pub scope: String,
    /// Expiry.
    pub expires_at: u64,
    /// Current minimum polling interval.
    pub interval: u64,
    /// Last poll time.
    pub last_poll: Option<u64>,
    /// Where the user is.
    pub status: DeviceStatus,
}

/// The user's side of a device authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Not yet decided.
    Pending,
    /// Approved by `subject` at `auth_time`.
    Approved {
        /// The user.
        subject: String,
        /// When.
        auth_time: u64,
    },
    /// Denied by the user.
    Denied,
    /// Tokens already issued.
    Consumed,
}
