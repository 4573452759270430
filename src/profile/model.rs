//! The target profile model: where the server is, its clients, its bootstrap grant, policy and
//! known deviations, and what scenarios see of it (capabilities and template values).

use super::secret::{Redactor, Secret};
use super::vocabulary::{OFFLINE_ACCESS, ScopeVocabulary, Scopes, TestUser};
use crate::capability;
use crate::diagnostic::Diagnostic;
use crate::yaml::{Loc, Source};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokencert_policy::Policy;

/// A client of the target, under a role name scenarios use (`confidential`, `public`…).
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Role (the key under `clients:`).
    pub role: String,
    /// `client_id`.
    pub id: String,
    /// Client secret (for secret-based methods).
    pub secret: Option<Secret>,
    /// Registered authentication method.
    pub auth_method: String,
    /// Public client (auth method `none`).
    pub public: bool,
    /// PEM private key for `private_key_jwt`.
    pub private_key: Option<Secret>,
    /// Audience of client assertions: `token_endpoint` (default), `issuer`, or a URL.
    pub assertion_audience: String,
    /// Redirect URI for the code flow.
    pub redirect_uri: Option<String>,
    /// Scope to ask for when bootstrapping with this client.
    pub scope: Option<String>,
    /// This role's own bootstrap grant (`clients.<role>.bootstrap`), else the profile's.
    pub bootstrap: Option<Bootstrap>,
}

/// How to obtain a fresh token family.
#[derive(Debug, Clone)]
pub enum Bootstrap {
    /// Resource owner password grant.
    Password {
        /// Username.
        username: String,
        /// Password.
        password: Secret,
    },
    /// Authorization code + PKCE through an unattended consent URL or an external command.
    AuthorizationCode {
        /// Extra authorization request parameters (e.g. `login_hint` for test-user consent).
        params: Vec<(String, String)>,
        /// External command: gets `TOKENCERT_AUTHORIZE_URL` (and the test user), prints the
        /// redirect URL (or code).
        command: Option<String>,
    },
    /// Device authorization grant with an approval hook.
    DeviceCode {
        /// The approval request (templates see `user_code`, `device_code`, `verification_uri`).
        approve: Option<ApproveHook>,
        /// Or a command given `TOKENCERT_USER_CODE` and `TOKENCERT_VERIFICATION_URI` (and the
        /// test user).
        command: Option<String>,
    },
    /// RFC 7523 JWT bearer grant with an assertion the harness signs.
    JwtBearer {
        /// PEM key that signs the assertion.
        key: Secret,
        /// `iss` of the assertion.
        issuer: String,
        /// `sub` (the user).
        subject: String,
        /// `aud` (default: the token endpoint).
        audience: Option<String>,
    },
    /// A refresh token seeded from the environment: usable by one scenario only.
    RefreshToken {
        /// The token.
        token: Secret,
    },
    /// Client credentials (RFC 6749 §4.4): tokens for the client itself, for a role that may
    /// use no other grant (no refresh token is expected).
    ClientCredentials,
}

impl Bootstrap {
    /// The grant name.
    pub fn grant(&self) -> &'static str {
        match self {
            Bootstrap::Password { .. } => "password",
            Bootstrap::AuthorizationCode { .. } => "authorization_code",
            Bootstrap::DeviceCode { .. } => "device_code",
            Bootstrap::JwtBearer { .. } => "jwt_bearer",
            Bootstrap::RefreshToken { .. } => "refresh_token",
            Bootstrap::ClientCredentials => "client_credentials",
        }
    }

    /// Registers the grant's secrets with the redactor, named under `prefix` (`bootstrap`,
    /// `clients.public.bootstrap`).
    fn register_secrets(&self, prefix: &str, r: &Redactor) {
        match self {
            Bootstrap::Password { password, .. } => {
                r.add(&format!("{prefix}.password"), password.expose())
            }
            Bootstrap::JwtBearer { key, .. } => {
                r.add(&format!("{prefix}.assertion_key"), key.expose())
            }
            Bootstrap::RefreshToken { token } => {
                r.add(&format!("{prefix}.refresh_token"), token.expose())
            }
            Bootstrap::AuthorizationCode { .. }
            | Bootstrap::DeviceCode { .. }
            | Bootstrap::ClientCredentials => {}
        }
    }

    /// Whether the policy issues a refresh token for this grant.
    fn issues_refresh_tokens(&self, p: &Policy) -> bool {
        match self {
            Bootstrap::Password { .. } => p.refresh_tokens.password,
            Bootstrap::AuthorizationCode { .. } => p.refresh_tokens.authorization_code,
            Bootstrap::DeviceCode { .. } => p.refresh_tokens.device_code,
            Bootstrap::JwtBearer { .. } => p.refresh_tokens.jwt_bearer,
            Bootstrap::RefreshToken { .. } => true,
            // RFC 6749 §4.4.3: a refresh token SHOULD NOT be included.
            Bootstrap::ClientCredentials => false,
        }
    }
}

/// How the harness gets through the authorization endpoint without a person: the code flow's
/// login and consent. Scenarios that drive the code flow need one (`authorize.unattended`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorization {
    /// Parameters for every authorization request (e.g. `login_hint` naming a test user, for a
    /// server with unattended consent); a request's own value of the same name wins.
    pub params: Vec<(String, String)>,
    /// Operator hook: gets `TOKENCERT_AUTHORIZE_URL` and the test user (`TOKENCERT_TEST_USER`,
    /// `TOKENCERT_TEST_USER_PASSWORD`), logs that user in, prints the redirect URL (or the bare
    /// code).
    pub command: Option<String>,
}

/// A device-code approval request.
#[derive(Debug, Clone)]
pub struct ApproveHook {
    /// URL (absolute or relative to the base URL).
    pub url: String,
    /// Method (default POST).
    pub method: String,
    /// Form fields; values may use `{{ user_code }}`.
    pub form: Vec<(String, String)>,
}

/// A known deviation: the scenario is expected to fail on this target.
#[derive(Debug, Clone)]
pub struct Deviation {
    /// Scenario id.
    pub scenario: String,
    /// Matrix cell (`client=public`), or all cells.
    pub cell: Option<String>,
    /// Why.
    pub reason: String,
    /// Where `scenario` and `cell` are written in the profile (checked against the catalogue).
    pub at: (Loc, Option<Loc>),
}

/// A loaded target profile.
#[derive(Debug, Clone)]
pub struct Target {
    /// Profile name.
    pub name: String,
    /// Base URL.
    pub base_url: url::Url,
    /// Issuer identifier (from metadata or the profile).
    pub issuer: Option<String>,
    /// Fetch RFC 8414 metadata to fill endpoints (the URL, if set).
    pub discovery: Option<url::Url>,
    /// Endpoints by name, absolute.
    pub endpoints: BTreeMap<String, url::Url>,
    /// Clients by role.
    pub clients: BTreeMap<String, ClientConfig>,
    /// Bootstrap grant.
    pub bootstrap: Bootstrap,
    /// Default bootstrap scope.
    pub scope: String,
    /// The scope vocabulary scenarios use (`scopes:`).
    pub scopes: ScopeVocabulary,
    /// The test user as declared (`test_user:`); else derived from the bootstrap grant.
    pub test_user: Option<TestUser>,
    /// An authorization mechanism besides the bootstrap's (the embedded reference server's
    /// unattended consent, whatever its bootstrap grant); see [`Target::authorization`].
    pub authorization: Option<Authorization>,
    /// The policy the scenarios judge by.
    pub policy: Policy,
    /// The standards the server claims to conform to (`claims:`, names of `specs/claims.yaml`):
    /// they decide which policy choices are findings and which skips are legitimate.
    pub claims: Vec<String>,
    /// Capabilities added by hand.
    pub add_capabilities: Vec<String>,
    /// Capabilities removed by hand.
    pub remove_capabilities: Vec<String>,
    /// Known deviations.
    pub deviations: Vec<Deviation>,
    /// Virtual clock endpoint (POST `seconds=N`), if the target has one.
    pub test_clock: Option<url::Url>,
    /// Accept invalid TLS certificates.
    pub insecure: bool,
    /// Per-request timeout, from connecting to the last body byte.
    pub timeout: Duration,
    /// Largest response body (and bootstrap hook output) read from the target.
    pub max_response: crate::http::BodyLimit,
    /// Flaws switched on (embedded reference server only).
    pub flaws: Vec<String>,
    /// The profile's file, for diagnostics found after loading (none for the embedded server).
    pub source: Option<Source>,
}

/// Why a profile could not be used.
#[derive(Debug)]
pub enum TargetError {
    /// The file is invalid (exit 2).
    Invalid(Vec<Diagnostic>),
    /// Secrets' environment variables or files are missing (exit 3): every one, at its place.
    MissingSecret(Vec<Diagnostic>),
}

impl Target {
    /// Registers every secret of the profile with the redactor.
    pub fn register_secrets(&self, r: &Redactor) {
        for c in self.clients.values() {
            if let Some(s) = &c.secret {
                r.add(&format!("{}.secret", c.role), s.expose());
            }
            if let Some(k) = &c.private_key {
                r.add(&format!("{}.private_key", c.role), k.expose());
            }
        }
        self.bootstrap.register_secrets("bootstrap", r);
        for c in self.clients.values() {
            if let Some(b) = &c.bootstrap {
                b.register_secrets(&format!("clients.{}.bootstrap", c.role), r);
            }
        }
        if let Some(p) = self.test_user.as_ref().and_then(|u| u.password.as_ref()) {
            r.add("test_user.password", p.expose());
        }
    }

    /// The scope vocabulary with its defaults applied.
    pub fn scopes(&self) -> Scopes {
        self.scopes.resolve(&self.scope)
    }

    /// The test user: declared, else the password grant's user, the authorization request's
    /// `login_hint` or the JWT bearer grant's subject.
    pub fn test_user(&self) -> Option<TestUser> {
        if let Some(u) = &self.test_user {
            return Some(u.clone());
        }
        match &self.bootstrap {
            Bootstrap::Password { username, password } => Some(TestUser {
                username: username.clone(),
                password: Some(password.clone()),
            }),
            Bootstrap::AuthorizationCode { params, .. } => params
                .iter()
                .find(|(k, _)| k == "login_hint")
                .map(|(_, v)| TestUser {
                    username: v.clone(),
                    password: None,
                }),
            Bootstrap::JwtBearer { subject, .. } => Some(TestUser {
                username: subject.clone(),
                password: None,
            }),
            Bootstrap::DeviceCode { .. }
            | Bootstrap::RefreshToken { .. }
            | Bootstrap::ClientCredentials => None,
        }
    }

    /// How to run an authorization request without a person: the one set on the target, else
    /// the code-flow bootstrap's hook or unattended-consent parameters. `None` when the target
    /// has neither (its code flow needs a person).
    pub fn authorization(&self) -> Option<Authorization> {
        if let Some(a) = &self.authorization {
            return Some(a.clone());
        }
        // The profile's bootstrap first, then the first role whose own bootstrap is a code flow
        // with a mechanism.
        std::iter::once(&self.bootstrap)
            .chain(self.clients.values().filter_map(|c| c.bootstrap.as_ref()))
            .find_map(|b| match b {
                Bootstrap::AuthorizationCode { params, command }
                    if command.is_some() || !params.is_empty() =>
                {
                    Some(Authorization {
                        params: params.clone(),
                        command: command.clone(),
                    })
                }
                _ => None,
            })
    }

    /// The `scopes` template namespace.
    pub fn scopes_value(&self) -> serde_json::Value {
        self.scopes().template_value()
    }

    /// The `test_user` template namespace (absent without a test user).
    pub fn test_user_value(&self) -> Option<serde_json::Value> {
        self.test_user().map(|u| u.template_value())
    }

    /// The capabilities scenarios are gated on.
    pub fn capabilities(&self) -> BTreeSet<String> {
        let mut caps = capability::from_policy(&self.policy);
        for e in self.endpoints.keys() {
            caps.insert(format!("endpoint.{e}"));
        }
        for role in self.clients.keys() {
            caps.insert(format!("client.{role}"));
        }
        if self.test_clock.is_some() {
            caps.insert("test.clock".into());
        }
        if self.authorization().is_some() && self.endpoints.contains_key("authorization") {
            caps.insert("authorize.unattended".into());
        }
        let p = &self.policy;
        // Every role bootstraps with its own grant or the profile's: refresh tokens are issued
        // when each of these grants issues them (`no_refresh` is meant to get none).
        let grant_issues = self.bootstrap.issues_refresh_tokens(p)
            && self
                .clients
                .values()
                .filter(|c| c.role != "no_refresh")
                .filter_map(|c| c.bootstrap.as_ref())
                .all(|b| b.issues_refresh_tokens(p));
        let scopes = self.scopes();
        let offline = scopes.offline.as_deref().unwrap_or(OFFLINE_ACCESS);
        let offline_ok =
            !p.oidc.offline_access_required || self.scope.split_whitespace().any(|s| s == offline);
        if p.grants.refresh_token && grant_issues && offline_ok {
            caps.insert("refresh.issued".into());
        }
        caps.extend(scopes.capabilities().into_iter().map(str::to_owned));
        if let Some(u) = self.test_user() {
            caps.extend(u.capabilities().into_iter().map(str::to_owned));
        }
        caps.extend(self.add_capabilities.iter().cloned());
        for r in &self.remove_capabilities {
            caps.remove(r);
        }
        caps
    }

    /// The deviation covering a scenario cell, if any.
    pub fn deviation(&self, scenario: &str, cell: &str) -> Option<&Deviation> {
        self.deviations
            .iter()
            .find(|d| d.scenario == scenario && d.cell.as_deref().is_none_or(|c| c == cell))
    }

    /// The bootstrap grant a role uses: its own, else the profile's.
    pub fn bootstrap_of(&self, role: &str) -> &Bootstrap {
        self.clients
            .get(role)
            .and_then(|c| c.bootstrap.as_ref())
            .unwrap_or(&self.bootstrap)
    }

    /// The issuer identifier: the profile's (or the metadata's), else the base URL without its
    /// trailing `/`. Templates and client-assertion audiences both use this one.
    pub fn issuer_id(&self) -> String {
        self.issuer
            .clone()
            .unwrap_or_else(|| self.base_url.as_str().trim_end_matches('/').to_owned())
    }

    /// The `target` template namespace.
    pub fn template_value(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "base_url": self.base_url.as_str().trim_end_matches('/'),
            "issuer": self.issuer_id(),
            "endpoints": self.endpoints.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.to_string()))).collect::<serde_json::Map<_, _>>(),
            "scope": self.scope,
            "bootstrap": { "grant": self.bootstrap.grant(), "scope": self.scope },
            "flaws": self.flaws,
        })
    }

    /// The role that introspects the tokens of client `role` under capabilities `caps`: the
    /// client itself when introspection answers only a token's owner, else `confidential` (the
    /// resource server every scenario introspects as); `None` when no client of the profile can
    /// (no introspection endpoint, or a public client's token where the policy hides those).
    pub fn introspector(&self, role: &str, caps: &BTreeSet<String>) -> Option<String> {
        let owner = self.clients.get(role)?;
        if !caps.contains("endpoint.introspection")
            || (owner.public && !caps.contains("introspection.public_clients"))
        {
            return None;
        }
        let caller = if caps.contains("introspection.any_client") {
            "confidential"
        } else {
            role
        };
        self.clients
            .get(caller)
            .filter(|c| !c.public)
            .map(|c| c.role.clone())
    }

    /// The `clients` template namespace (public facts only, never secrets); `caps` are the
    /// run's capabilities, which decide each client's `introspector`.
    pub fn clients_value(&self, caps: &BTreeSet<String>) -> serde_json::Value {
        serde_json::Value::Object(
            self.clients
                .iter()
                .map(|(role, c)| {
                    let mut v = client_value(c);
                    v["introspector"] = self.introspector(role, caps).into();
                    (role.clone(), v)
                })
                .collect(),
        )
    }
}

/// The `client` template value of one client (without `introspector`, which needs the run's
/// capabilities: see [`Target::clients_value`]).
pub fn client_value(c: &ClientConfig) -> serde_json::Value {
    serde_json::json!({
        "role": c.role,
        "id": c.id,
        "auth_method": c.auth_method,
        "public": c.public,
        "redirect_uri": c.redirect_uri,
    })
}
