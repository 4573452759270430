//! Registered clients, their authentication methods and allowed grants.

use crate::token::ClientSecret;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Token-endpoint client authentication methods (RFC 8414 / RFC 7591 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// RFC 6749 §2.3.1, HTTP Basic.
    ClientSecretBasic,
    /// RFC 6749 §2.3.1, credentials in the body.
    ClientSecretPost,
    /// OIDC Core §9, HS256 assertion keyed with the client secret.
    ClientSecretJwt,
    /// RFC 7523 §2.2 / OIDC Core §9, assertion signed with the client's private key.
    PrivateKeyJwt,
    /// A public client: `client_id` only.
    None,
}

impl AuthMethod {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }
}

/// Grant types, with their wire names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// RFC 6749 §4.1.
    AuthorizationCode,
    /// RFC 6749 §4.3.
    Password,
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 6749 §6.
    RefreshToken,
    /// RFC 7523 §2.1.
    JwtBearer,
    /// RFC 8628 §3.4.
    DeviceCode,
    /// RFC 8693 §2.1.
    TokenExchange,
}

impl GrantType {
    /// Every grant type, in metadata order.
    pub const ALL: [GrantType; 7] = [
        Self::AuthorizationCode,
        Self::Password,
        Self::ClientCredentials,
        Self::RefreshToken,
        Self::JwtBearer,
        Self::DeviceCode,
        Self::TokenExchange,
    ];

    /// The `grant_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::Password => "password",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
            Self::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            Self::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    }

    /// Parses a `grant_type` value.
    pub fn from_wire(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// Whether the policy offers this grant.
    pub fn enabled(self, grants: &crate::policy::Grants) -> bool {
        match self {
            Self::AuthorizationCode => grants.authorization_code,
            Self::Password => grants.password,
            Self::ClientCredentials => grants.client_credentials,
            Self::RefreshToken => grants.refresh_token,
            Self::JwtBearer => grants.jwt_bearer,
            Self::DeviceCode => grants.device_code,
            Self::TokenExchange => grants.token_exchange,
        }
    }
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// Shared secret (confidential clients except private_key_jwt ones).
    pub secret: Option<ClientSecret>,
    /// The registered authentication method.
    pub auth_method: AuthMethod,
    /// Public client (cannot authenticate).
    pub public: bool,
    /// PKCS#8 PEM of the client's ES256 key (private_key_jwt; a demo DPoP key for DPoP clients).
    pub private_key_pem: Option<&'static str>,
    /// The public half as JWK coordinates `(x, y)`, base64url.
    pub public_key: Option<(String, String)>,
    /// Grants it may use.
    pub grants: Vec<GrantType>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The scope it may ask for.
    pub scope: Vec<String>,
    /// The scope it gets when it asks for none.
    pub default_scope: Vec<String>,
    /// Registered with `dpop_bound_access_tokens = true` (RFC 9449 §5.2): proofs are mandatory.
    pub dpop_bound: bool,
}

impl Client {
    /// Whether the client may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grants.contains(&grant)
    }
}

/// The client registry.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    clients: BTreeMap<String, Arc<Client>>,
    order: Vec<String>,
}

impl Registry {
    /// From a list (later duplicates replace earlier ones).
    pub fn new(clients: Vec<Client>) -> Self {
        let mut r = Self::default();
        for c in clients {
            r.order.push(c.id.clone());
            r.clients.insert(c.id.clone(), Arc::new(c));
        }
        r
    }

    /// A client by id.
    pub fn get(&self, id: &str) -> Option<Arc<Client>> {
        self.clients.get(id).cloned()
    }

    /// Every client, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Client>> {
        self.order.iter().filter_map(|id| self.clients.get(id))
    }
}
