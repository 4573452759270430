//! Turning a request spec into bytes on the wire: templates, client authentication, DPoP.

use super::execute::ScenarioRun;
use crate::http::PreparedRequest;
use crate::http::client::{basic_auth, form_body};
use crate::http::jwt::{self, DpopKey, SigningKey};
use crate::profile::ClientConfig;
use crate::scenario::{ClientAuthSpec, DpopSpec, RequestSpec, TplValue};
use crate::template::value_to_text;
use serde_json::{Map, Value};

/// Client-assertion type URN (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl ScenarioRun<'_> {
    /// Renders a request spec into a prepared request.
    pub(crate) fn prepare(&mut self, r: &RequestSpec) -> Result<PreparedRequest, String> {
        let method = match &r.method {
            Some(m) => self.render_str(&m.template)?.to_ascii_uppercase(),
            None => "POST".to_owned(),
        };
        let mut url = self.resolve_url(r)?;
        if !r.query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, vs) in &r.query {
                for v in vs {
                    q.append_pair(k, &self.render_str(&v.template)?);
                }
            }
        }
        let mut form: Vec<(String, String)> = Vec::new();
        for (k, vs) in &r.form {
            for v in vs {
                form.push((k.clone(), self.render_str(&v.template)?));
            }
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(auth) = &r.client_auth {
            self.apply_client_auth(auth, &mut form, &mut headers)?;
        }
        if let Some(d) = &r.dpop {
            let proof = self.dpop_proof(d, &method, &url)?;
            headers.push(("DPoP".into(), proof));
        }
        let mut body = Vec::new();
        if let Some(b) = &r.body {
            body = self.render_str(&b.template)?.into_bytes();
        } else if let Some(b) = &r.body_raw {
            body = b
                .template
                .render_bytes(self, crate::scenario::escape::unescape)
                .map_err(|e| format!("template: {}", e.0))?
                .map_err(|e| format!("body_raw: {e}"))?;
        } else if !form.is_empty() || (method == "POST" && r.client_auth.is_some()) {
            body = form_body(&form);
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        for (n, v) in &r.headers {
            let value = self.render_str(&v.template)?;
            // A header written in the scenario replaces the harness's own of the same name.
            headers.retain(|(hn, _)| !hn.eq_ignore_ascii_case(n));
            headers.push((n.clone(), value));
        }
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("accept"))
        {
            headers.push(("Accept".into(), "application/json".into()));
        }
        // Drop a url fragment: it is never sent on the wire.
        url.set_fragment(None);
        Ok(PreparedRequest {
            method,
            url,
            headers,
            body,
        })
    }

    fn resolve_url(&mut self, r: &RequestSpec) -> Result<url::Url, String> {
        if let Some(e) = &r.endpoint {
            let name = self.render_str(&e.template)?;
            return self.ctx.target.endpoints.get(&name).cloned().ok_or_else(|| {
                format!("the target has no `{name}` endpoint (gate the scenario with `requires: [endpoint.{name}]`)")
            });
        }
        let raw = match &r.url {
            Some(u) => self.render_str(&u.template)?,
            None => return Err("a request needs `endpoint` or `url`".into()),
        };
        let base = &self.ctx.target.base_url;
        base.join(&raw)
            .map_err(|e| format!("`{raw}` is not a URL: {e}"))
    }

    /// The client config for a role (the matrix cell's `client` when the role is empty).
    pub(crate) fn client(&self, role: &str) -> Result<&ClientConfig, String> {
        self.ctx
            .target
            .clients
            .get(role)
            .ok_or_else(|| format!("the target defines no `{role}` client"))
    }

    fn render_map(&mut self, entries: &[(String, TplValue)]) -> Result<Map<String, Value>, String> {
        let mut m = Map::new();
        for (k, v) in entries {
            let val = super::predicate::render_value(&v.value, self).map_err(|e| e.0)?;
            m.insert(k.clone(), val);
        }
        Ok(m)
    }

    fn apply_client_auth(
        &mut self,
        spec: &ClientAuthSpec,
        form: &mut Vec<(String, String)>,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(), String> {
        let role = self.render_str(&spec.client.template)?;
        if role == "none" {
            return Ok(());
        }
        let client = self.client(&role)?.clone();
        let method = match &spec.method {
            Some(m) => self.render_str(&m.template)?,
            None => client.auth_method.clone(),
        };
        let secret = match &spec.secret {
            Some(s) => Some(self.render_str(&s.template)?),
            None => client.secret.as_ref().map(|s| s.expose().to_owned()),
        };
        let explicit_id = match &spec.client_id {
            Some(t) => Some(self.render_str(&t.template)?),
            None => None,
        };
        let need_secret = || {
            secret
                .clone()
                .ok_or_else(|| format!("client `{role}` has no secret for {method}"))
        };
        match method.as_str() {
            "none" => form.push((
                "client_id".into(),
                explicit_id.clone().unwrap_or_else(|| client.id.clone()),
            )),
            "client_secret_basic" => {
                headers.push((
                    "Authorization".into(),
                    basic_auth(&client.id, &need_secret()?),
                ));
            }
            "client_secret_post" => {
                form.push((
                    "client_id".into(),
                    explicit_id.clone().unwrap_or_else(|| client.id.clone()),
                ));
                form.push(("client_secret".into(), need_secret()?));
            }
            "client_secret_jwt" | "private_key_jwt" => {
                let key = if method == "client_secret_jwt" {
                    SigningKey::hmac(need_secret()?.as_bytes())
                } else {
                    let pem = client
                        .private_key
                        .as_ref()
                        .ok_or_else(|| format!("client `{role}` has no private_key"))?;
                    SigningKey::from_pem(pem.expose()).map_err(|e| e.to_string())?
                };
                let aud = self.assertion_audience(&client);
                let mut claims = jwt::client_assertion_claims(&client.id, &aud, now());
                merge(&mut claims, self.render_map(&spec.claims)?);
                let header = self.render_map(&spec.jwt_header)?;
                let assertion = jwt::sign(header, claims, &key).map_err(|e| e.to_string())?;
                self.ctx.redactor.add("client_assertion", &assertion);
                form.push(("client_assertion_type".into(), ASSERTION_TYPE.into()));
                form.push(("client_assertion".into(), assertion));
            }
            other => return Err(format!("unknown client authentication method `{other}`")),
        }
        if let Some(id) = explicit_id
            && !matches!(method.as_str(), "none" | "client_secret_post")
        {
            form.push(("client_id".into(), id));
        }
        Ok(())
    }

    fn assertion_audience(&self, client: &ClientConfig) -> String {
        match client.assertion_audience.as_str() {
            "token_endpoint" | "" => self
                .ctx
                .target
                .endpoints
                .get("token")
                .map(url::Url::to_string)
                .unwrap_or_default(),
            "issuer" => value_to_text(&self.ctx.target_json()["issuer"]),
            other => other.to_owned(),
        }
    }

    /// A DPoP proof for `method url` with the named key (generated on first use).
    pub(crate) fn dpop_proof(
        &mut self,
        d: &DpopSpec,
        method: &str,
        url: &url::Url,
    ) -> Result<String, String> {
        let name = self.render_str(&d.key.template)?;
        let claims = self.render_map(&d.claims)?;
        let header = self.render_map(&d.jwt_header)?;
        let key = self.dpop_key(&name)?;
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        key.proof(method, htu.as_str(), claims, header, now())
            .map_err(|e| e.to_string())
    }

    pub(crate) fn dpop_key(&mut self, name: &str) -> Result<std::sync::Arc<DpopKey>, String> {
        if let Some(k) = self.dpop_keys.get(name) {
            return Ok(std::sync::Arc::clone(k));
        }
        let k = std::sync::Arc::new(DpopKey::generate());
        self.dpop_keys
            .insert(name.to_owned(), std::sync::Arc::clone(&k));
        Ok(k)
    }
}

/// Merges `over` into `base`; a JSON null removes the key (to forge a missing claim).
pub(crate) fn merge(base: &mut Map<String, Value>, over: Map<String, Value>) {
    for (k, v) in over {
        if v.is_null() {
            base.remove(&k);
        } else {
            base.insert(k, v);
        }
    }
}
