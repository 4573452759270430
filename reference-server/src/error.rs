//! OAuth error responses (RFC 6749 §5.2) and the server's own startup errors.
//!
//! Every client-visible failure is an [`OAuthError`]: a wire code, an optional description made of
//! the characters §5.2 allows, and the HTTP details (status, `WWW-Authenticate`, `DPoP-Nonce`).
//! Internal failures (storage) become an opaque `server_error` and are never described to clients.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The error codes this server sends, with their RFC spelling from [`OAuthErrorCode::as_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuthErrorCode {
    /// "The request is missing a required parameter, includes an unsupported parameter value
    /// (other than grant type), repeats a parameter, includes multiple credentials, utilizes more
    /// than one mechanism for authenticating the client, or is otherwise malformed." (RFC 6749 §5.2)
    InvalidRequest,
    /// "Client authentication failed (e.g., unknown client, no client authentication included, or
    /// unsupported authentication method)." (RFC 6749 §5.2)
    InvalidClient,
    /// "The provided authorization grant (e.g., authorization code, resource owner credentials) or
    /// refresh token is invalid, expired, revoked, does not match the redirection URI used in the
    /// authorization request, or was issued to another client." (RFC 6749 §5.2)
    InvalidGrant,
    /// "The authenticated client is not authorized to use this authorization grant type."
    /// (RFC 6749 §5.2)
    UnauthorizedClient,
    /// "The authorization grant type is not supported by the authorization server." (RFC 6749 §5.2)
    UnsupportedGrantType,
    /// "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the
    /// resource owner." (RFC 6749 §5.2)
    InvalidScope,
    /// "The resource owner or authorization server denied the request." (RFC 6749 §4.1.2.1;
    /// RFC 8628 §3.5: "The authorization request was denied.")
    AccessDenied,
    /// "The authorization server does not support obtaining an authorization code using this
    /// method." (RFC 6749 §4.1.2.1)
    UnsupportedResponseType,
    /// "The authorization server encountered an unexpected condition that prevented it from
    /// fulfilling the request." (RFC 6749 §4.1.2.1)
    ServerError,
    /// "The authorization request is still pending as the end user hasn't yet completed the
    /// user-interaction steps." (RFC 8628 §3.5)
    AuthorizationPending,
    /// "A variant of 'authorization_pending', the authorization request is still pending and
    /// polling should continue, but the interval MUST be increased by 5 seconds for this and all
    /// subsequent requests." (RFC 8628 §3.5)
    SlowDown,
    /// "The 'device_code' has expired, and the device authorization session has concluded."
    /// (RFC 8628 §3.5)
    ExpiredToken,
    /// "The DPoP proof is invalid." (RFC 9449 §5, §12.2)
    InvalidDpopProof,
    /// "The authorization server requires nonce in DPoP proof." (RFC 9449 §8, §12.2)
    UseDpopNonce,
    /// "The authorization server does not support the revocation of the presented token type."
    /// (RFC 7009 §2.2.1)
    UnsupportedTokenType,
    /// "The requested resource is invalid, missing, unknown, or malformed." (RFC 8707 §2)
    InvalidTarget,
    /// "The end-user is not logged in" — here: `/authorize` was called without a known
    /// `login_hint`, so unattended consent cannot pick a user. (OIDC Core §3.1.2.6)
    LoginRequired,
    /// A code outside the registries (used only by flaws that answer with a made-up code).
    Extension(String),
}

impl OAuthErrorCode {
    /// The RFC spelling sent in the `error` member.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidTarget => "invalid_target",
            Self::LoginRequired => "login_required",
            Self::Extension(s) => s,
        }
    }
}

/// How the client tried to authenticate, which decides the status of `invalid_client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeKind {
    /// The `Authorization: Basic` header was used: 401 plus `WWW-Authenticate: Basic` (§5.2 MUST).
    Basic,
    /// Anything else: the policy's `invalid_client_status`.
    Other,
}

/// A client-visible OAuth error.
#[derive(Debug, Clone)]
pub struct OAuthError {
    /// The `error` code.
    pub code: OAuthErrorCode,
    /// The `error_description` (sanitised to RFC 6749 §5.2's character set when rendered).
    pub description: Option<String>,
    /// Explicit HTTP status; when `None` it follows from the code.
    pub status: Option<StatusCode>,
    /// For `invalid_client`: how the client authenticated.
    pub challenge: Option<ChallengeKind>,
    /// `DPoP-Nonce` to send (RFC 9449 §8).
    pub dpop_nonce: Option<String>,
    /// Send the description as is, unsanitised (only the `error-description-echoes-input` flaw).
    pub verbatim: bool,
}

impl OAuthError {
    /// An error with a code and a description.
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: Some(description.into()),
            status: None,
            challenge: None,
            dpop_nonce: None,
            verbatim: false,
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidGrant, description)
    }

    /// `invalid_client`, remembering whether Basic was used.
    pub fn invalid_client(description: impl Into<String>, challenge: ChallengeKind) -> Self {
        let mut e = Self::new(OAuthErrorCode::InvalidClient, description);
        e.challenge = Some(challenge);
        e
    }

    /// `invalid_scope`.
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidScope, description)
    }

    /// `unauthorized_client`.
    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::UnauthorizedClient, description)
    }

    /// `invalid_dpop_proof`.
    pub fn invalid_dpop_proof(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidDpopProof, description)
    }

    /// The opaque internal failure: no detail leaves the process.
    pub fn server_error() -> Self {
        Self::new(OAuthErrorCode::ServerError, "internal error")
    }

    /// Overrides the HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// The status this error is sent with, given the policy's status for `invalid_client`
    /// when the client did not use the Authorization header.
    pub fn status(&self, invalid_client_status: u16) -> StatusCode {
        if let Some(s) = self.status {
            return s;
        }
        match self.code {
            OAuthErrorCode::InvalidClient => match self.challenge {
                Some(ChallengeKind::Basic) => StatusCode::UNAUTHORIZED,
                _ => {
                    StatusCode::from_u16(invalid_client_status).unwrap_or(StatusCode::UNAUTHORIZED)
                }
            },
            OAuthErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The JSON body: `error` and, when present, `error_description`.
    pub fn body(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        map.insert("error".into(), sanitize(self.code.as_str()).into());
        if let Some(d) = &self.description {
            let d = if self.verbatim {
                d.clone()
            } else {
                sanitize(d)
            };
            map.insert("error_description".into(), d.into());
        }
        serde_json::Value::Object(map)
    }

    /// Renders the error with the given `invalid_client` status and `WWW-Authenticate` choice.
    pub fn render(&self, invalid_client_status: u16, www_authenticate: bool) -> Response {
        let status = self.status(invalid_client_status);
        let mut resp = (status, axum::Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED && www_authenticate {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tokencert-reference\""),
            );
        }
        if let Some(nonce) = &self.dpop_nonce
            && let Ok(v) = HeaderValue::from_str(nonce)
        {
            resp.headers_mut().insert("DPoP-Nonce", v);
        }
        resp
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(e: crate::store::StoreError) -> Self {
        // The cause is internal; the client learns only that the server failed. The operator
        // learns why (store errors carry no token or secret).
        eprintln!("reference-server: storage error: {e}");
        OAuthError::server_error()
    }
}

/// Keeps only %x20-21 / %x23-5B / %x5D-7E (RFC 6749 §5.2): no `"`, no `\`, nothing non-ASCII.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listening socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database could not be opened or migrated.
    #[error("storage: {0}")]
    Store(#[from] crate::store::StoreError),
    /// A built-in key could not be loaded (a build defect).
    #[error("key material: {0}")]
    Key(String),
    /// The policy could not be loaded.
    #[error(transparent)]
    Policy(#[from] crate::policy::PolicyError),
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_keep_only_allowed_characters() {
        assert_eq!(sanitize("a \"b\\c\u{e9}\n"), "a 'b'c??");
    }

    #[test]
    fn invalid_client_status_follows_the_challenge() {
        let basic = OAuthError::invalid_client("x", ChallengeKind::Basic);
        assert_eq!(basic.status(400), StatusCode::UNAUTHORIZED);
        let post = OAuthError::invalid_client("x", ChallengeKind::Other);
        assert_eq!(post.status(400), StatusCode::BAD_REQUEST);
        assert_eq!(
            OAuthError::invalid_grant("x").status(401),
            StatusCode::BAD_REQUEST
        );
    }
}
