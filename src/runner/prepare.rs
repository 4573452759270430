//! Turning a request spec into bytes on the wire: templates, then the session's client
//! authentication and DPoP proofs.

use super::execute::ScenarioRun;
use super::failure::StepError;
use crate::http::PreparedRequest;
use crate::http::client::form_body;
use crate::http::jwt::DpopKey;
use crate::scenario::{
    AuthorizeSpec, BootstrapSpec, ClientAuthSpec, DpopSpec, RequestSpec, Tpl, TplValue,
};
use crate::session::client_auth::parse_method;
use crate::session::{AuthOverrides, AuthorizeRequest, BootstrapRequest, DpopBinding};
use serde_json::{Map, Value};
use std::sync::Arc;

impl ScenarioRun<'_> {
    /// Renders a request spec into a prepared request.
    pub(crate) fn prepare(&mut self, r: &RequestSpec) -> Result<PreparedRequest, StepError> {
        let method = match &r.method {
            Some(m) => self.render_tpl(m)?.to_ascii_uppercase(),
            None => "POST".to_owned(),
        };
        let mut url = self.resolve_url(r)?;
        if !r.query.is_empty() {
            let mut q = url.query_pairs_mut();
            for (k, vs) in &r.query {
                for v in vs {
                    q.append_pair(k, &self.render_tpl(v)?);
                }
            }
        }
        let mut form: Vec<(String, String)> = Vec::new();
        for (k, vs) in &r.form {
            for v in vs {
                form.push((k.clone(), self.render_tpl(v)?));
            }
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(auth) = &r.client_auth {
            let (role, overrides) = self.auth_overrides(auth)?;
            self.session()
                .authenticate(&role, &overrides, &mut form, &mut headers)?;
        }
        if let Some(d) = &r.dpop {
            let proof = self.dpop_binding(d)?.proof(&method, &url)?;
            headers.push(("DPoP".into(), proof));
        }
        let mut body = Vec::new();
        if let Some(b) = &r.body {
            body = self.render_tpl(b)?.into_bytes();
        } else if let Some(b) = &r.body_raw {
            body = b
                .template
                .render_bytes(self, crate::scenario::escape::unescape)
                .map_err(|e| StepError::at(b.loc, format!("template: {}", e.0)))?
                .map_err(|e| StepError::at(b.loc, format!("body_raw: {e}")))?;
        } else if !form.is_empty() || (method == "POST" && r.client_auth.is_some()) {
            body = form_body(&form);
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
        }
        // A header written in the scenario replaces the harness's own of the same name; a
        // repeated one (a list) is sent repeated.
        headers.retain(|(hn, _)| !r.headers.iter().any(|(n, _)| hn.eq_ignore_ascii_case(n)));
        for (n, v) in &r.headers {
            let value = self.render_tpl(v)?;
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

    fn resolve_url(&mut self, r: &RequestSpec) -> Result<url::Url, StepError> {
        if let Some(e) = &r.endpoint {
            let name = self.render_tpl(e)?;
            return self.session().endpoint(&name).map_err(|err| {
                StepError::at(
                    e.loc,
                    format!("{err} (gate the scenario with `requires: [endpoint.{name}]`)"),
                )
            });
        }
        let raw = match &r.url {
            Some(u) => self.render_tpl(u)?,
            None => return Err("a request needs `endpoint` or `url`".into()),
        };
        let base = &self.session().target.base_url;
        base.join(&raw).map_err(|e| {
            let at = r.url.as_ref().map_or(r.loc, |u| u.loc);
            StepError::at(at, format!("`{raw}` is not a URL: {e}"))
        })
    }

    fn render_map(
        &mut self,
        entries: &[(String, TplValue)],
    ) -> Result<Map<String, Value>, StepError> {
        let mut m = Map::new();
        for (k, v) in entries {
            let val = super::predicate::render_value(&v.value, self)
                .map_err(|e| StepError::at(v.loc, e.0))?;
            m.insert(k.clone(), val);
        }
        Ok(m)
    }

    /// The client role and the changes a `client_auth:` spec makes to its authentication.
    fn auth_overrides(
        &mut self,
        spec: &ClientAuthSpec,
    ) -> Result<(String, AuthOverrides), StepError> {
        let role = self.render_tpl(&spec.client)?;
        let mut o = AuthOverrides::default();
        if let Some(m) = &spec.method {
            let name = self.render_tpl(m)?;
            o.method = Some(parse_method(&name).map_err(|e| StepError::at(m.loc, e))?);
        }
        if let Some(s) = &spec.secret {
            o.secret = Some(self.render_tpl(s)?);
        }
        if let Some(t) = &spec.client_id {
            o.client_id = Some(self.render_tpl(t)?);
        }
        o.claims = self.render_map(&spec.claims)?;
        o.jwt_header = self.render_map(&spec.jwt_header)?;
        Ok((role, o))
    }

    /// The named DPoP key (generated on first use) with the spec's claims and header.
    fn dpop_binding(&mut self, d: &DpopSpec) -> Result<DpopBinding, StepError> {
        let name = self.render_tpl(&d.key)?;
        Ok(DpopBinding {
            claims: self.render_map(&d.claims)?,
            header: self.render_map(&d.jwt_header)?,
            key: self.dpop_key(&name),
        })
    }

    pub(crate) fn dpop_key(&mut self, name: &str) -> Arc<DpopKey> {
        Arc::clone(
            self.dpop_keys
                .entry(name.to_owned())
                .or_insert_with(|| Arc::new(DpopKey::generate())),
        )
    }

    /// A `bootstrap:` spec rendered into the session's request.
    pub(crate) fn bootstrap_request(
        &mut self,
        b: &BootstrapSpec,
    ) -> Result<BootstrapRequest, StepError> {
        let role = match &b.client {
            Some(t) => self.render_tpl(t)?,
            None => self.default_role(),
        };
        let mut req = BootstrapRequest::new(&role);
        if let Some(t) = &b.scope {
            req.scope = Some(self.render_tpl(t)?);
        }
        if let Some(g) = &b.grant {
            req.grant = Some(self.render_tpl(g)?);
        }
        for (k, v) in &b.params {
            req.params.push((k.clone(), self.render_tpl(v)?));
        }
        if let Some(d) = &b.dpop {
            req.dpop = Some(self.dpop_binding(d)?);
        }
        Ok(req)
    }

    /// An `authorize:` spec rendered into the session's request: the role's client_id,
    /// redirect_uri and scope unless the spec sets them, a fresh state, S256 with a challenge.
    pub(crate) fn authorize_request(
        &mut self,
        a: &AuthorizeSpec,
    ) -> Result<AuthorizeRequest, StepError> {
        let role = match &a.client {
            Some(t) => self.render_tpl(t)?,
            None => self.default_role(),
        };
        let client = self.session().target.clients.get(&role);
        let client_id = match &a.client_id {
            Some(t) => self.render_tpl(t)?,
            None => client.map(|c| c.id.clone()).ok_or_else(|| {
                StepError::at(
                    a.loc,
                    format!("the target defines no `{role}` client: name another in `client`, or set `client_id` and `redirect_uri`"),
                )
            })?,
        };
        let redirect_uri = match &a.redirect_uri {
            Some(t) => self.render_tpl(t)?,
            None => client.and_then(|c| c.redirect_uri.clone()).ok_or_else(|| {
                StepError::at(
                    a.loc,
                    format!("client `{role}` has no redirect_uri: declare it in the target profile, or set `redirect_uri` on the step"),
                )
            })?,
        };
        let scope = match &a.scope {
            Some(t) => self.render_tpl(t)?,
            None => client
                .and_then(|c| c.scope.clone())
                .unwrap_or_else(|| self.session().target.scope.clone()),
        };
        let state = match &a.state {
            Some(t) => self.render_tpl(t)?,
            None => AuthorizeRequest::fresh_state(),
        };
        let opt = |me: &mut Self, t: &Option<Tpl>| match t {
            Some(t) => me.render_tpl(t),
            None => Ok(String::new()),
        };
        let nonce = opt(self, &a.nonce)?;
        let code_challenge = opt(self, &a.code_challenge)?;
        let code_challenge_method = match &a.code_challenge_method {
            Some(t) => self.render_tpl(t)?,
            None if code_challenge.is_empty() => String::new(),
            None => "S256".into(),
        };
        let mut params = Vec::new();
        for (k, v) in &a.params {
            params.push((k.clone(), self.render_tpl(v)?));
        }
        Ok(AuthorizeRequest {
            client_id,
            redirect_uri,
            scope,
            state,
            nonce,
            code_challenge,
            code_challenge_method,
            params,
        })
    }
}
