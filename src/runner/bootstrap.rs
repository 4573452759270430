//! Getting a fresh token family from the target without a person.

use super::execute::ScenarioRun;
use super::hook::run_hook;
use super::prepare::now;
use crate::http::client::form_body;
use crate::http::jwt::{self, SigningKey};
use crate::http::{HttpResponse, PreparedRequest, pkce};
use crate::profile::Bootstrap;
use crate::report::StepResult;
use crate::scenario::{BootstrapSpec, ClientAuthSpec, RequestSpec, Tpl};
use crate::template::Template;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const JWT_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

impl ScenarioRun<'_> {
    /// Runs the target's bootstrap grant for a client; returns the final token response.
    pub(crate) async fn bootstrap(
        &mut self,
        b: &BootstrapSpec,
        record: &mut StepResult,
    ) -> Result<HttpResponse, String> {
        let role = match &b.client {
            Some(t) => self.render_str(&t.template)?,
            None => self.default_role(),
        };
        let client = self.client(&role)?.clone();
        let scope = match &b.scope {
            Some(t) => self.render_str(&t.template)?,
            None => client
                .scope
                .clone()
                .unwrap_or_else(|| self.ctx.target.scope.clone()),
        };
        let mut extra = Vec::new();
        for (k, v) in &b.params {
            extra.push((k.clone(), self.render_str(&v.template)?));
        }
        let grant = match &b.grant {
            Some(g) => self.render_str(&g.template)?,
            None => self.ctx.target.bootstrap.grant().to_owned(),
        };
        let mut form: Vec<(String, String)> = Vec::new();
        match (grant.as_str(), &self.ctx.target.bootstrap) {
            ("password", Bootstrap::Password { username, password }) => {
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
                let params = match boot {
                    Bootstrap::AuthorizationCode { params, .. } => params.clone(),
                    _ => Vec::new(),
                };
                let command = match boot {
                    Bootstrap::AuthorizationCode { command, .. } => command.clone(),
                    _ => None,
                };
                let redirect = client.redirect_uri.clone().ok_or_else(|| {
                    format!("client `{role}` needs a redirect_uri for the code flow")
                })?;
                let verifier = pkce::verifier();
                let code = self
                    .authorize(
                        &client.id,
                        &redirect,
                        &scope,
                        &verifier,
                        &params,
                        command.as_deref(),
                        b,
                        record,
                    )
                    .await?;
                self.ctx.redactor.add("code", &code);
                form.push(("grant_type".into(), "authorization_code".into()));
                form.push(("code".into(), code));
                form.push(("redirect_uri".into(), redirect));
                form.push(("code_verifier".into(), verifier));
            }
            ("device_code", boot) => {
                let (approve, command) = match boot {
                    Bootstrap::DeviceCode { approve, command } => {
                        (approve.clone(), command.clone())
                    }
                    _ => (None, None),
                };
                return self
                    .device_flow(&role, &scope, approve, command, &extra, b, record)
                    .await;
            }
            (
                "jwt_bearer",
                Bootstrap::JwtBearer {
                    key,
                    issuer,
                    subject,
                    audience,
                },
            ) => {
                let token_url = self.token_url()?;
                let aud = audience.clone().unwrap_or_else(|| token_url.to_string());
                let key = SigningKey::from_pem(key.expose()).map_err(|e| e.to_string())?;
                let mut claims = jwt::client_assertion_claims(issuer, &aud, now());
                claims.insert("sub".into(), Value::String(subject.clone()));
                claims.insert("exp".into(), Value::from(now() + 300));
                let assertion =
                    jwt::sign(Default::default(), claims, &key).map_err(|e| e.to_string())?;
                self.ctx.redactor.add("assertion", &assertion);
                form.push(("grant_type".into(), JWT_GRANT.into()));
                form.push(("assertion".into(), assertion));
            }
            ("refresh_token", Bootstrap::RefreshToken { token }) => {
                if self.ctx.seed_used.swap(true, Ordering::SeqCst) {
                    return Err("the seeded refresh token was already used by another scenario: a seeded token serves one scenario; use a repeatable bootstrap grant (password, authorization_code, device_code, jwt_bearer) to run more".into());
                }
                form.push(("grant_type".into(), "refresh_token".into()));
                form.push(("refresh_token".into(), token.expose().to_owned()));
            }
            (g, _) => {
                return Err(format!(
                    "bootstrap grant `{g}` is not configured in the target profile (its bootstrap grant is `{}`)",
                    self.ctx.target.bootstrap.grant()
                ));
            }
        }
        if !scope.is_empty() && grant != "refresh_token" && grant != "authorization_code" {
            form.push(("scope".into(), scope));
        }
        form.extend(extra);
        self.token_request(&role, form, b, record).await
    }

    fn token_url(&self) -> Result<url::Url, String> {
        self.ctx
            .target
            .endpoints
            .get("token")
            .cloned()
            .ok_or_else(|| "the target has no token endpoint".to_owned())
    }

    /// POSTs a form to the token endpoint with the client's authentication (and DPoP if asked).
    async fn token_request(
        &mut self,
        role: &str,
        form: Vec<(String, String)>,
        b: &BootstrapSpec,
        record: &mut StepResult,
    ) -> Result<HttpResponse, String> {
        let spec = RequestSpec {
            method: None,
            endpoint: Some(lit("token")),
            url: None,
            query: Vec::new(),
            form: form.into_iter().map(|(k, v)| (k, vec![lit(&v)])).collect(),
            body: None,
            body_raw: None,
            headers: Vec::new(),
            client_auth: Some(ClientAuthSpec {
                client: lit(role),
                method: None,
                client_id: None,
                secret: None,
                claims: Vec::new(),
                jwt_header: Vec::new(),
                loc: b.loc,
            }),
            dpop: b.dpop.clone(),
            timeout: None,
            loc: b.loc,
        };
        let req = self.prepare(&spec)?;
        self.send(&req, None, record).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn authorize(
        &mut self,
        client_id: &str,
        redirect: &str,
        scope: &str,
        verifier: &str,
        params: &[(String, String)],
        command: Option<&str>,
        b: &BootstrapSpec,
        record: &mut StepResult,
    ) -> Result<String, String> {
        let mut url = self
            .ctx
            .target
            .endpoints
            .get("authorization")
            .cloned()
            .ok_or("the target has no authorization endpoint for the code flow")?;
        let state = uuid::Uuid::new_v4().to_string();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code");
            q.append_pair("client_id", client_id);
            q.append_pair("redirect_uri", redirect);
            if !scope.is_empty() {
                q.append_pair("scope", scope);
            }
            q.append_pair("state", &state);
            q.append_pair("code_challenge", &pkce::challenge_s256(verifier));
            q.append_pair("code_challenge_method", "S256");
            for (k, v) in params {
                q.append_pair(k, v);
            }
        }
        if let Some(d) = &b.dpop {
            let key = self.dpop_key(&self.render_str(&d.key.template)?)?;
            url.query_pairs_mut()
                .append_pair("dpop_jkt", &key.thumbprint());
        }
        let location = match command {
            Some(cmd) => {
                run_hook(
                    cmd,
                    &[("TOKENCERT_AUTHORIZE_URL", url.as_str())],
                    self.ctx.target.max_response,
                )
                .await?
            }
            None => {
                let req = PreparedRequest {
                    method: "GET".into(),
                    url: url.clone(),
                    headers: Vec::new(),
                    body: Vec::new(),
                };
                let resp = self.send(&req, None, record).await?;
                if !(300..400).contains(&resp.status) {
                    return Err(format!(
                        "the authorization endpoint answered {} instead of a redirect: is unattended consent configured (authorize_params)?",
                        resp.status
                    ));
                }
                resp.header_values("location")
                    .first()
                    .map(|s| (*s).to_owned())
                    .ok_or("the authorization redirect has no Location header")?
            }
        };
        let loc = location.trim();
        let parsed = url::Url::parse(loc).or_else(|_| self.ctx.target.base_url.join(loc));
        match parsed {
            Ok(u) => {
                let get = |k: &str| {
                    u.query_pairs()
                        .find(|(n, _)| n == k)
                        .map(|(_, v)| v.into_owned())
                };
                if let Some(err) = get("error") {
                    return Err(format!(
                        "authorization failed: {err} {}",
                        get("error_description").unwrap_or_default()
                    ));
                }
                if get("state").is_some_and(|s| s != state) {
                    return Err(
                        "the authorization redirect carries another state: CSRF protection broken"
                            .into(),
                    );
                }
                get("code").ok_or_else(|| "the authorization redirect has no code".into())
            }
            // A hook may print the bare code.
            Err(_) if !loc.is_empty() && !loc.contains(char::is_whitespace) => Ok(loc.to_owned()),
            Err(_) => {
                Err("the authorization hook printed neither a redirect URL nor a code".into())
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn device_flow(
        &mut self,
        role: &str,
        scope: &str,
        approve: Option<crate::profile::ApproveHook>,
        command: Option<String>,
        extra: &[(String, String)],
        b: &BootstrapSpec,
        record: &mut StepResult,
    ) -> Result<HttpResponse, String> {
        let url = self
            .ctx
            .target
            .endpoints
            .get("device_authorization")
            .cloned()
            .ok_or("the target has no device_authorization endpoint")?;
        let client = self.client(role)?.clone();
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
        let resp = self.send(&req, None, record).await?;
        let body: Value = serde_json::from_slice(&resp.body)
            .map_err(|_| format!("device authorization answered {} without JSON", resp.status))?;
        let field = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
        let device_code =
            field("device_code").ok_or("device authorization response has no device_code")?;
        let user_code =
            field("user_code").ok_or("device authorization response has no user_code")?;
        let verification_uri = field("verification_uri").unwrap_or_default();
        self.ctx.redactor.add("device_code", &device_code);
        let interval = body
            .get("interval")
            .and_then(Value::as_u64)
            .unwrap_or(5)
            .clamp(0, 30);
        match (approve, command) {
            (Some(hook), _) => {
                let fill = |s: &str| {
                    s.replace("{{ user_code }}", &user_code)
                        .replace("{{user_code}}", &user_code)
                        .replace("{{ verification_uri }}", &verification_uri)
                };
                let url = self
                    .ctx
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
                let resp = self.send(&req, None, record).await?;
                if resp.status >= 400 {
                    return Err(format!("the device approval hook answered {}", resp.status));
                }
            }
            (None, Some(cmd)) => {
                run_hook(
                    &cmd,
                    &[
                        ("TOKENCERT_USER_CODE", &user_code),
                        ("TOKENCERT_VERIFICATION_URI", &verification_uri),
                    ],
                    self.ctx.target.max_response,
                )
                .await?;
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
            form.extend(extra.iter().cloned());
            let resp = self.token_request(role, form, b, record).await?;
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
}

fn lit(s: &str) -> Tpl {
    Tpl {
        template: Template::literal(s),
        loc: crate::yaml::Loc::default(),
        raw: s.to_owned(),
    }
}
