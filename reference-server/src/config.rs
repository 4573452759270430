//! Server configuration, the fixed demo clients and test users, and the self-description that
//! `--print-config` prints and the harness reads.

use crate::client::{AuthMethod, Client, GrantType, Registry};
use crate::flaw::Flaw;
use crate::keys;
use crate::limits::ConnectionLimits;
use crate::policy::Policy;
use crate::token::ClientSecret;
use serde::Serialize;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

/// How to run a server.
#[derive(Debug, Clone)]
pub struct Config {
    /// The refresh policy.
    pub policy: Policy,
    /// Deliberate bugs to inject.
    pub flaws: Vec<Flaw>,
    /// SQLite file; in memory when `None`.
    pub db: Option<PathBuf>,
    /// Virtual clock, deterministic tokens and the `/test/*` endpoints.
    pub test_control: bool,
    /// Where to listen (port 0 picks a free one).
    pub bind: SocketAddr,
    /// Timeouts and connection limits against slow or hostile peers.
    pub limits: ConnectionLimits,
}

impl Config {
    /// In-process defaults: loopback on a free port, in memory, test control on, no flaws, default
    /// connection limits.
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            flaws: Vec::new(),
            db: None,
            test_control: true,
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            limits: ConnectionLimits::default(),
        }
    }
}

/// The seed of the deterministic token generator under test control.
pub const TEST_SEED: u64 = 0x746f_6b65_6e63_6572;

/// The scope every demo client may request.
pub const CLIENT_SCOPE: &str = "openid profile email offline_access api:read api:write";
/// The scope granted when a request names none.
pub const DEFAULT_SCOPE: &str = "openid profile api:read";
/// Where demo clients receive codes. Never fetched: the harness reads the `Location` header.
pub const REDIRECT_URI: &str = "https://client.tokencert.test/callback";

/// The secret of `confidential-basic`: `+`, `%`, `:` and a non-ASCII letter, so only a client that
/// form-urlencodes before Base64 (RFC 6749 §2.3.1) authenticates.
pub const TRICKY_SECRET: &str = "s3cr3t+%:\u{fc}ber/=&";

/// A test user for the password grant, device approval and unattended consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestUser {
    /// Login name (also the `sub`).
    pub username: String,
    /// Password.
    pub password: String,
}

/// The fixed test users.
pub fn test_users() -> Vec<TestUser> {
    [("alice", "alice-password"), ("bob", "bob-password")]
        .into_iter()
        .map(|(u, p)| TestUser {
            username: u.into(),
            password: p.into(),
        })
        .collect()
}

fn scope(s: &str) -> Vec<String> {
    s.split(' ').map(str::to_owned).collect()
}

/// The fixed demo clients.
pub fn demo_clients() -> Result<Registry, String> {
    let all = GrantType::ALL.to_vec();
    let user_grants: Vec<GrantType> = all
        .iter()
        .copied()
        .filter(|g| *g != GrantType::ClientCredentials)
        .collect();
    let client =
        |id: &str, secret: Option<&str>, method: AuthMethod, public: bool, grants: &[GrantType]| {
            Client {
                id: id.into(),
                secret: secret.map(ClientSecret::new),
                auth_method: method,
                public,
                private_key_pem: None,
                public_key: None,
                grants: grants.to_vec(),
                redirect_uris: vec![REDIRECT_URI.into()],
                scope: scope(CLIENT_SCOPE),
                default_scope: scope(DEFAULT_SCOPE),
                dpop_bound: false,
            }
        };
    let mut pkjwt = client(
        "confidential-private-key-jwt",
        None,
        AuthMethod::PrivateKeyJwt,
        false,
        &all,
    );
    pkjwt.private_key_pem = Some(keys::CLIENT_PRIVATE_KEY_JWT_PEM);
    pkjwt.public_key = Some(keys::public_coordinates(keys::CLIENT_PRIVATE_KEY_JWT_PEM)?);
    let mut dpop = client("public-dpop", None, AuthMethod::None, true, &user_grants);
    dpop.private_key_pem = Some(keys::DPOP_DEMO_PEM);
    dpop.dpop_bound = true;
    let no_refresh: Vec<GrantType> = all
        .iter()
        .copied()
        .filter(|g| *g != GrantType::RefreshToken)
        .collect();
    Ok(Registry::new(vec![
        client(
            "confidential-basic",
            Some(TRICKY_SECRET),
            AuthMethod::ClientSecretBasic,
            false,
            &all,
        ),
        client(
            "confidential-basic-2",
            Some("second-client-secret"),
            AuthMethod::ClientSecretBasic,
            false,
            &all,
        ),
        client(
            "confidential-post",
            Some("post+secret value"),
            AuthMethod::ClientSecretPost,
            false,
            &all,
        ),
        client(
            "confidential-secret-jwt",
            Some("hmac-secret-for-client-secret-jwt-0123456789"),
            AuthMethod::ClientSecretJwt,
            false,
            &all,
        ),
        pkjwt,
        client("public-1", None, AuthMethod::None, true, &user_grants),
        client("public-2", None, AuthMethod::None, true, &user_grants),
        dpop,
        client(
            "confidential-no-refresh",
            Some("no-refresh-secret"),
            AuthMethod::ClientSecretBasic,
            false,
            &no_refresh,
        ),
    ]))
}

/// A demo client as printed for the harness.
#[derive(Debug, Clone, Serialize)]
pub struct DemoClient {
    /// `client_id`.
    pub id: String,
    /// Shared secret, when it has one.
    pub secret: Option<String>,
    /// Registered token-endpoint authentication method.
    pub auth_method: String,
    /// Public client.
    pub public: bool,
    /// PKCS#8 PEM ES256 key (private_key_jwt signing key, or a demo DPoP key).
    pub private_key_pem: Option<String>,
    /// Allowed grant types (wire names).
    pub grants: Vec<String>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The scope it may request (space-separated).
    pub scope: String,
    /// The scope granted when none is requested.
    pub default_scope: String,
    /// DPoP proofs are mandatory for it (`dpop_bound_access_tokens`).
    pub dpop_bound_access_tokens: bool,
}

impl From<&Client> for DemoClient {
    fn from(c: &Client) -> Self {
        Self {
            id: c.id.clone(),
            secret: c.secret.as_ref().map(|s| s.secret().to_owned()),
            auth_method: c.auth_method.as_str().into(),
            public: c.public,
            private_key_pem: c.private_key_pem.map(str::to_owned),
            grants: c.grants.iter().map(|g| g.as_str().to_owned()).collect(),
            redirect_uris: c.redirect_uris.clone(),
            scope: c.scope.join(" "),
            default_scope: c.default_scope.join(" "),
            dpop_bound_access_tokens: c.dpop_bound,
        }
    }
}

/// An issuer trusted for RFC 7523 JWT authorization grants.
#[derive(Debug, Clone, Serialize)]
pub struct TrustedIssuer {
    /// Its `iss`.
    pub issuer: String,
    /// PKCS#8 PEM ES256 key it signs with.
    pub private_key_pem: String,
}

/// Absolute URLs of every endpoint.
#[derive(Debug, Clone, Serialize)]
pub struct Endpoints {
    /// RFC 6749 token endpoint.
    pub token: String,
    /// RFC 6749 authorization endpoint (unattended consent with `login_hint`).
    pub authorize: String,
    /// RFC 7009.
    pub revocation: String,
    /// RFC 7662.
    pub introspection: String,
    /// RFC 8628 device authorization endpoint.
    pub device_authorization: String,
    /// Approves (or denies) a user code as a test user: form `user_code`, `username`, `password`,
    /// optional `action=deny`.
    pub device_approve: String,
    /// JWK Set.
    pub jwks: String,
    /// RFC 8414 metadata.
    pub metadata: String,
    /// `GET`: the virtual clock (test control only).
    pub test_clock: Option<String>,
    /// `POST seconds=N`: advance the virtual clock (test control only).
    pub test_clock_advance: Option<String>,
}

impl Endpoints {
    /// The endpoints under `issuer`.
    pub fn new(issuer: &str, test_control: bool) -> Self {
        let u = |p: &str| format!("{issuer}{p}");
        Self {
            token: u("/token"),
            authorize: u("/authorize"),
            revocation: u("/revoke"),
            introspection: u("/introspect"),
            device_authorization: u("/device_authorization"),
            device_approve: u("/device/approve"),
            jwks: u("/jwks"),
            metadata: u("/.well-known/oauth-authorization-server"),
            test_clock: test_control.then(|| u("/test/clock")),
            test_clock_advance: test_control.then(|| u("/test/clock/advance")),
        }
    }
}

/// Everything a harness needs to drive this server: what `--print-config` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Description {
    /// The issuer identifier (also the base URL).
    pub issuer: String,
    /// The effective policy.
    pub policy: Policy,
    /// Injected flaws (empty for a correct server).
    pub flaws: Vec<Flaw>,
    /// Whether the test-control endpoints exist.
    pub test_control: bool,
    /// Demo clients with their credentials.
    pub clients: Vec<DemoClient>,
    /// Test users.
    pub users: Vec<TestUser>,
    /// Issuers trusted for JWT authorization grants.
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// Endpoint URLs.
    pub endpoints: Endpoints,
}

impl Description {
    /// Describes a server with this configuration at `issuer`.
    pub fn new(config: &Config, issuer: &str, clients: &Registry) -> Self {
        let mut flaws = config.flaws.clone();
        flaws.sort();
        flaws.dedup();
        Self {
            issuer: issuer.to_owned(),
            policy: config.policy.clone(),
            flaws,
            test_control: config.test_control,
            clients: clients.iter().map(|c| DemoClient::from(&**c)).collect(),
            users: test_users(),
            trusted_issuers: vec![TrustedIssuer {
                issuer: keys::TRUSTED_ISSUER.into(),
                private_key_pem: keys::TRUSTED_ISSUER_PEM.into(),
            }],
            endpoints: Endpoints::new(issuer, config.test_control),
        }
    }

    /// A demo client by id.
    pub fn client(&self, id: &str) -> Option<&DemoClient> {
        self.clients.iter().find(|c| c.id == id)
    }

    /// As YAML.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}
