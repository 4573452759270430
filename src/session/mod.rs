//! A session with one target: the HTTP client, the redactor, endpoints and discovery, client
//! authentication, bootstrap of fresh token families, and the test clock.
//!
//! The scenario runner, the black-box fuzzer and the property tests all talk to a target
//! through a [`Session`], so each of these is written once: a new client authentication method
//! is added in [`client_auth`] only.

mod authorize;
mod bootstrap;
pub mod client_auth;
mod discovery;
mod dpop;
mod hook;
pub mod preflight;

pub use authorize::{AuthorizeAnswer, AuthorizeRequest};
pub use bootstrap::BootstrapRequest;
pub use client_auth::{ASSERTION_TYPE, AuthOverrides};
pub use dpop::DpopBinding;

use crate::http::client::{HttpClient, form_body};
use crate::http::jwt::SigningKey;
use crate::http::{HttpResponse, PreparedRequest};
use crate::profile::{Bootstrap, ClientConfig, Redactor, Target};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Discovery or client setup failed.
    #[error("{0}")]
    Setup(String),
}

/// Receives every exchange a session makes on a caller's behalf (the runner keeps them for
/// the report; the fuzzer and prop keep nothing).
pub trait Record: Send {
    /// One request with its response, or the transport error that replaced it.
    fn exchange(
        &mut self,
        req: &PreparedRequest,
        outcome: Result<&HttpResponse, &str>,
        elapsed: Duration,
    );
}

/// A [`Record`] that keeps nothing.
pub struct Unrecorded;

impl Record for Unrecorded {
    fn exchange(&mut self, _: &PreparedRequest, _: Result<&HttpResponse, &str>, _: Duration) {}
}

/// Everything needed to talk to one target.
pub struct Session {
    /// The target, with discovered endpoints filled in.
    pub target: Target,
    /// The one HTTP client of the session.
    pub http: HttpClient,
    /// The session-wide redactor: every secret of the profile, every credential that arrived.
    pub redactor: Redactor,
    /// Capabilities of the target.
    pub capabilities: BTreeSet<String>,
    /// Client private keys by role, parsed once (a bad key fails the requests that need it).
    client_keys: BTreeMap<String, Result<SigningKey, String>>,
    /// The JWT-bearer bootstrap grants' keys, parsed once: by role for a role's own grant,
    /// under `""` for the profile's.
    bootstrap_keys: BTreeMap<String, Result<SigningKey, String>>,
    /// The seeded refresh tokens (bootstrap grant `refresh_token`) already handed out, named
    /// like the keys above.
    seeds_used: Mutex<BTreeSet<String>>,
}

impl Session {
    /// Opens a session: builds the HTTP client, fetches the metadata when the profile asks for
    /// discovery, registers the profile's secrets, parses the client keys.
    pub async fn new(target: Target) -> Result<Session, SessionError> {
        let http = HttpClient::new(target.timeout, target.insecure, target.max_response)
            .map_err(SessionError::Setup)?;
        Session::with_http(target, http).await
    }

    /// Opens a session on an existing HTTP client (several short-lived targets, one client).
    pub async fn with_http(mut target: Target, http: HttpClient) -> Result<Session, SessionError> {
        if let Some(url) = target.discovery.clone() {
            discovery::discover(&http, &mut target, &url)
                .await
                .map_err(SessionError::Setup)?;
        }
        let redactor = Redactor::new();
        target.register_secrets(&redactor);
        let parse = |pem: &str| SigningKey::from_pem(pem).map_err(|e| e.to_string());
        let client_keys = target
            .clients
            .iter()
            .filter_map(|(role, c)| {
                let pem = c.private_key.as_ref()?;
                Some((role.clone(), parse(pem.expose())))
            })
            .collect();
        let grants = std::iter::once((String::new(), &target.bootstrap)).chain(
            target
                .clients
                .iter()
                .filter_map(|(role, c)| Some((role.clone(), c.bootstrap.as_ref()?))),
        );
        let bootstrap_keys = grants
            .filter_map(|(owner, b)| match b {
                Bootstrap::JwtBearer { key, .. } => Some((owner, parse(key.expose()))),
                _ => None,
            })
            .collect();
        Ok(Session {
            capabilities: target.capabilities(),
            target,
            http,
            redactor,
            client_keys,
            bootstrap_keys,
            seeds_used: Mutex::new(BTreeSet::new()),
        })
    }

    /// The URL of a named endpoint.
    pub fn endpoint(&self, name: &str) -> Result<url::Url, String> {
        self.target
            .endpoints
            .get(name)
            .cloned()
            .ok_or_else(|| format!("the target has no `{name}` endpoint"))
    }

    /// The client playing `role`.
    pub fn client(&self, role: &str) -> Result<&ClientConfig, String> {
        self.target
            .clients
            .get(role)
            .ok_or_else(|| format!("the target defines no `{role}` client"))
    }

    /// Sends one request, registers the credentials its answer carries, and records it.
    pub async fn send(
        &self,
        req: &PreparedRequest,
        timeout: Option<Duration>,
        rec: &mut dyn Record,
    ) -> Result<HttpResponse, String> {
        let start = Instant::now();
        match self.http.send(req, timeout).await {
            Ok(resp) => {
                self.learn_secrets(&resp);
                rec.exchange(req, Ok(&resp), resp.duration);
                Ok(resp)
            }
            Err(e) => {
                rec.exchange(req, Err(&e), start.elapsed());
                Err(e)
            }
        }
    }

    /// Sends requests with their last bytes at once (see [`HttpClient::race`]); every answer's
    /// credentials are registered on arrival.
    pub async fn race(
        &self,
        reqs: Vec<PreparedRequest>,
        timeout: Duration,
        answers_within: Duration,
    ) -> Vec<Result<HttpResponse, String>> {
        let out = self.http.race(reqs, timeout, answers_within).await;
        for resp in out.iter().flatten() {
            self.learn_secrets(resp);
        }
        out
    }

    /// A form POST to a named endpoint, authenticated as `role` (none when `None`), with a DPoP
    /// proof when `dpop` is given.
    pub fn form_request(
        &self,
        endpoint: &str,
        role: Option<&str>,
        mut form: Vec<(String, String)>,
        dpop: Option<&DpopBinding>,
    ) -> Result<PreparedRequest, String> {
        let url = self.endpoint(endpoint)?;
        let mut headers = Vec::new();
        if let Some(role) = role {
            self.authenticate(role, &AuthOverrides::default(), &mut form, &mut headers)?;
        }
        if let Some(d) = dpop {
            headers.push(("DPoP".into(), d.proof("POST", &url)?));
        }
        headers.push((
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        ));
        headers.push(("Accept".into(), "application/json".into()));
        Ok(PreparedRequest {
            method: "POST".into(),
            url,
            headers,
            body: form_body(&form),
        })
    }

    /// Moves the target's virtual clock forward by `secs` (0 reads it); the clock's answer.
    pub async fn advance_clock(
        &self,
        secs: u64,
        rec: &mut dyn Record,
    ) -> Result<HttpResponse, String> {
        let url = self
            .target
            .test_clock
            .clone()
            .ok_or("the target has no test clock")?;
        let req = PreparedRequest {
            method: "POST".into(),
            url,
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("Accept".into(), "application/json".into()),
            ],
            body: form_body(&[("seconds".into(), secs.to_string())]),
        };
        let resp = self
            .send(&req, None, rec)
            .await
            .map_err(|e| format!("test clock: {e}"))?;
        if !(200..300).contains(&resp.status) {
            return Err(format!("the test clock answered {}", resp.status));
        }
        Ok(resp)
    }

    /// Registers every credential a response carries (token fields of a JSON body, a `code` in a
    /// Location header) with the redactor at once, so no later message can leak them.
    pub fn learn_secrets(&self, resp: &HttpResponse) {
        if let Ok(v) = serde_json::from_slice::<Value>(&resp.body) {
            for field in crate::profile::secret::SENSITIVE_FIELDS {
                if let Some(t) = v.get(*field).and_then(Value::as_str) {
                    self.redactor.add(field, t);
                }
            }
        }
        for loc in resp.header_values("location") {
            if let Ok(u) = url::Url::parse(loc) {
                for (k, v) in u.query_pairs() {
                    if k == "code" {
                        self.redactor.add("code", &v);
                    }
                }
            }
        }
    }

    /// A fresh token family for `role` with the target's bootstrap grant and defaults, outside
    /// any scenario: the token response's JSON (its tokens already registered as secrets).
    pub async fn bootstrap_family(&self, role: &str) -> Result<Value, String> {
        let resp = self
            .bootstrap(&BootstrapRequest::new(role), &mut Unrecorded)
            .await?;
        if !(200..300).contains(&resp.status) {
            return Err(format!("bootstrap answered {}", resp.status));
        }
        serde_json::from_slice(&resp.body).map_err(|e| format!("bootstrap: {e}"))
    }
}
