//! Getting a fresh token family from the target without a person: the profile's bootstrap
//! grant (password, authorization code + PKCE through the target's authorization mechanism,
//! device code with an approval hook, JWT bearer, or a seeded refresh token).

use super::authorize::AuthorizeRequest;
use super::hook::run_hook;
use super::{DpopBinding, Record, Session};
use crate::http::client::form_body;
use crate::http::jwt;
use crate::http::{HttpResponse, PreparedRequest, pkce};
use crate::profile::{ApproveHook, Authorization, Bootstrap};
use serde_json::Value;
use std::time::{Duration, Instant};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// What to bootstrap: the client role and what to change about the profile's defaults.
#[derive(Debug, Clone)]
pub struct BootstrapRequest {
    /// Client role.
    pub role: String,
    /// Scope (default: the client's, else the target's).
    pub scope: Option<String>,
    /// Grant (default: the role's bootstrap grant, else the profile's).
    pub grant: Option<String>,
    /// Extra token request parameters.
    pub params: Vec<(String, String)>,
    /// Bind the tokens to this DPoP key.
    pub dpop: Option<DpopBinding>,
}

impl BootstrapRequest {
    /// The profile's defaults for `role`.
    pub fn new(role: &str) -> BootstrapRequest {
        BootstrapRequest {
            role: role.to_owned(),
            scope: None,
            grant: None,
            params: Vec::new(),
            dpop: None,
        }
    }
}

impl Session {
    /// Runs the bootstrap grant; returns the final token response (any status).
    pub async fn bootstrap(
        &self,
        b: &BootstrapRequest,
        rec: &mut dyn Record,
    ) -> Result<HttpResponse, String> {
        let role = b.role.as_str();
        let client = self.client(role)?;
        let default = self.target.bootstrap_of(role);
        let grant = b
            .grant
            .clone()
            .unwrap_or_else(|| default.grant().to_owned());
        let scope = b
            .scope
            .clone()
            .or_else(|| client.scope.clone())
            .unwrap_or_else(|| {
                if grant == "client_credentials" {
                    self.target.scopes().resource()
                } else {
                    self.target.scope.clone()
                }
            });
        // The settings of that grant: the role's own, else the profile's (named like the keys
        // of `bootstrap_keys`).
        let (config, owner) = [
            (client.bootstrap.as_ref(), role),
            (Some(&self.target.bootstrap), ""),
        ]
        .into_iter()
        .find_map(|(c, owner)| c.filter(|c| c.grant() == grant).map(|c| (Some(c), owner)))
        .unwrap_or((None, ""));
        let mut form: Vec<(String, String)> = Vec::new();
        match (grant.as_str(), config) {
            ("password", Some(Bootstrap::Password { username, password })) => {
                form.push(("grant_type".into(), "password".into()));
                form.push(("username".into(), username.clone()));
                form.push(("password".into(), password.expose().to_owned()));
            }
            ("password", _) => {
                return Err(
                    "bootstrap grant `password` needs username and password in the target profile"
                        .into(),
                );
            }
            ("authorization_code", boot) => {
                // The role's own code-flow settings win over the profile's mechanism.
                let via = match boot {
                    Some(Bootstrap::AuthorizationCode { params, command })
                        if command.is_some() || !params.is_empty() =>
                    {
                        Some(Authorization {
                            params: params.clone(),
                            command: command.clone(),
                        })
                    }
                    _ => None,
                };
                let redirect = client.redirect_uri.clone().ok_or_else(|| {
                    format!("client `{role}` needs a redirect_uri for the code flow")
                })?;
                let verifier = pkce::verifier();
                let mut req = AuthorizeRequest {
                    client_id: client.id.clone(),
                    redirect_uri: redirect.clone(),
                    scope: scope.clone(),
                    state: AuthorizeRequest::fresh_state(),
                    code_challenge: pkce::challenge_s256(&verifier),
                    code_challenge_method: "S256".into(),
                    ..AuthorizeRequest::default()
                };
                if let Some(d) = &b.dpop {
                    req.params.push(("dpop_jkt".into(), d.key.thumbprint()));
                }
                let code = self.authorize_via(via, &req, rec).await?.code()?;
                form.push(("grant_type".into(), "authorization_code".into()));
                form.push(("code".into(), code));
                form.push(("redirect_uri".into(), redirect));
                form.push(("code_verifier".into(), verifier));
            }
            ("device_code", boot) => {
                let (approve, command) = match boot {
                    Some(Bootstrap::DeviceCode { approve, command }) => {
                        (approve.as_ref(), command.as_deref())
                    }
                    _ => (None, None),
                };
                return self.device_flow(b, &scope, approve, command, rec).await;
            }
            (
                "jwt_bearer",
                Some(Bootstrap::JwtBearer {
                    issuer,
                    subject,
                    audience,
                    ..
                }),
            ) => {
                let aud = match audience {
                    Some(a) => a.clone(),
                    None => self.endpoint("token")?.to_string(),
                };
                let key = match self.bootstrap_keys.get(owner) {
                    Some(Ok(k)) => k,
                    Some(Err(e)) => return Err(e.clone()),
                    None => return Err("the bootstrap grant has no key".into()),
                };
                let now = jwt::now_secs();
                let mut claims = jwt::client_assertion_claims(issuer, &aud, now);
                claims.insert("sub".into(), Value::String(subject.clone()));
                claims.insert("exp".into(), Value::from(now + 300));
                let assertion =
                    jwt::sign(Default::default(), claims, key).map_err(|e| e.to_string())?;
                self.redactor.add("assertion", &assertion);
                form.push(("grant_type".into(), JWT_GRANT.into()));
                form.push(("assertion".into(), assertion));
            }
            ("refresh_token", Some(Bootstrap::RefreshToken { token })) => {
                let fresh = self
                    .seeds_used
                    .lock()
                    .map_err(|_| "the seeded refresh tokens' lock is poisoned")?
                    .insert(owner.to_owned());
                if !fresh {
                    return Err("the seeded refresh token was already used by another scenario: a seeded token serves one scenario; use a repeatable bootstrap grant (password, authorization_code, device_code, jwt_bearer) to run more".into());
                }
                form.push(("grant_type".into(), "refresh_token".into()));
                form.push(("refresh_token".into(), token.expose().to_owned()));
            }
            ("client_credentials", _) => {
                form.push(("grant_type".into(), "client_credentials".into()));
            }
            (g, _) => {
                return Err(format!(
                    "bootstrap grant `{g}` is not configured in the target profile (client `{role}` bootstraps with `{}`)",
                    default.grant()
                ));
            }
        }
        if !scope.is_empty() && grant != "refresh_token" && grant != "authorization_code" {
            form.push(("scope".into(), scope));
        }
        form.extend(b.params.iter().cloned());
        self.token_request(b, form, rec).await
    }

    /// POSTs a form to the token endpoint with the client's authentication (and DPoP if asked).
    async fn token_request(
        &self,
        b: &BootstrapRequest,
        form: Vec<(String, String)>,
        rec: &mut dyn Record,
    ) -> Result<HttpResponse, String> {
        let req = self.form_request("token", Some(&b.role), form, b.dpop.as_ref())?;
        self.send(&req, None, rec).await
    }

    /// The device authorization grant (RFC 8628): ask, approve through the hook, poll.
    async fn device_flow(
        &self,
        b: &BootstrapRequest,
        scope: &str,
        approve: Option<&ApproveHook>,
        command: Option<&str>,
        rec: &mut dyn Record,
    ) -> Result<HttpResponse, String> {
        let url = self
            .target
            .endpoints
            .get("device_authorization")
            .cloned()
            .ok_or("the target has no device_authorization endpoint")?;
        let client = self.client(&b.role)?;
        let mut form = vec![("client_id".to_owned(), client.id.clone())];
        if !scope.is_empty() {
            form.push(("scope".into(), scope.to_owned()));
        }
        let req = PreparedRequest {
            method: "POST".into(),
            url,
            headers: vec![(
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: form_body(&form),
        };
        let resp = self.send(&req, None, rec).await?;
        let body: Value = serde_json::from_slice(&resp.body)
            .map_err(|_| format!("device authorization answered {} without JSON", resp.status))?;
        let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let device_code =
            field("device_code").ok_or("device authorization response has no device_code")?;
        let user_code =
            field("user_code").ok_or("device authorization response has no user_code")?;
        let verification_uri = field("verification_uri").unwrap_or_default();
        self.redactor.add("device_code", &device_code);
        let interval = body
            .get("interval")
            .and_then(Value::as_u64)
            .unwrap_or(5)
            .clamp(0, 30);
        match (approve, command) {
            (Some(hook), _) => {
                self.approve(hook, &user_code, &verification_uri, rec)
                    .await?;
            }
            (None, Some(cmd)) => {
                let user = self.hook_env();
                let mut env: Vec<(&str, &str)> =
                    user.iter().map(|(k, v)| (*k, v.as_str())).collect();
                env.push(("TOKENCERT_USER_CODE", &user_code));
                env.push(("TOKENCERT_VERIFICATION_URI", &verification_uri));
                run_hook(cmd, &env, self.target.max_response)
                    .await
                    .map_err(|e| self.redactor.redact(&e))?;
            }
            (None, None) => return Err("no device approval hook configured".into()),
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut wait = Duration::from_secs(interval);
        loop {
            let mut form = vec![
                ("grant_type".to_owned(), DEVICE_GRANT.to_owned()),
                ("device_code".to_owned(), device_code.clone()),
            ];
            form.extend(b.params.iter().cloned());
            let resp = self.token_request(b, form, rec).await?;
            let err = serde_json::from_slice::<Value>(&resp.body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned));
            match err.as_deref() {
                Some("authorization_pending") if Instant::now() < deadline => {}
                Some("slow_down") if Instant::now() < deadline => wait += Duration::from_secs(5),
                _ => return Ok(resp),
            }
            tokio::time::sleep(wait.max(Duration::from_millis(200))).await;
        }
    }

    /// The profile's device approval request, with the user code filled in.
    async fn approve(
        &self,
        hook: &ApproveHook,
        user_code: &str,
        verification_uri: &str,
        rec: &mut dyn Record,
    ) -> Result<(), String> {
        let fill = |s: &str| {
            s.replace("{{ user_code }}", user_code)
                .replace("{{user_code}}", user_code)
                .replace("{{ verification_uri }}", verification_uri)
        };
        let url = self
            .target
            .base_url
            .join(&fill(&hook.url))
            .map_err(|e| format!("approve url: {e}"))?;
        let pairs: Vec<(String, String)> = hook
            .form
            .iter()
            .map(|(k, v)| (k.clone(), fill(v)))
            .collect();
        let req = PreparedRequest {
            method: hook.method.to_ascii_uppercase(),
            url,
            headers: vec![(
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: form_body(&pairs),
        };
        let resp = self.send(&req, None, rec).await?;
        if resp.status >= 400 {
            return Err(format!("the device approval hook answered {}", resp.status));
        }
        Ok(())
    }
}
