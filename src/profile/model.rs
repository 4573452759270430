//! The target profile model: where the server is, its clients, its bootstrap grant, policy and
//! known deviations, and what scenarios see of it (capabilities and template values).

use super::secret::{Redactor, Secret};
use super::vocabulary::{OFFLINE_ACCESS, ScopeVocabulary, Scopes, TestUser};
use crate::capability;
use crate::diagnostic::Diagnostic;
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
        /// External command: gets `TOKENCERT_AUTHORIZE_URL`, prints the redirect URL (or code).
        command: Option<String>,
    },
    /// Device authorization grant with an approval hook.
    DeviceCode {
        /// The approval request (templates see `user_code`, `device_code`, `verification_uri`).
        approve: Option<ApproveHook>,
        /// Or a command given `TOKENCERT_USER_CODE` and `TOKENCERT_VERIFICATION_URI`.
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
        }
    }
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
    /// The policy the scenarios judge by.
    pub policy: Policy,
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
}

/// Why a profile could not be used.
#[derive(Debug)]
pub enum TargetError {
    /// The file is invalid (exit 2).
    Invalid(Vec<Diagnostic>),
    /// A secret's environment variable or file is missing (exit 3).
    MissingSecret(String),
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
        match &self.bootstrap {
            Bootstrap::Password { password, .. } => r.add("bootstrap.password", password.expose()),
            Bootstrap::JwtBearer { key, .. } => r.add("bootstrap.assertion_key", key.expose()),
            Bootstrap::RefreshToken { token } => r.add("bootstrap.refresh_token", token.expose()),
            Bootstrap::AuthorizationCode { .. } | Bootstrap::DeviceCode { .. } => {}
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
            Bootstrap::DeviceCode { .. } | Bootstrap::RefreshToken { .. } => None,
        }
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
        let p = &self.policy;
        let grant_issues = match self.bootstrap.grant() {
            "password" => p.refresh_tokens.password,
            "authorization_code" => p.refresh_tokens.authorization_code,
            "device_code" => p.refresh_tokens.device_code,
            "jwt_bearer" => p.refresh_tokens.jwt_bearer,
            _ => true,
        };
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
