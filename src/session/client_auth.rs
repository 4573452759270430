//! Client authentication (RFC 6749 §2.3, RFC 7523 §2.2, OpenID Connect Core §9): the one place
//! that turns a client and its method into credentials on a request.

use super::Session;
use crate::http::client::basic_auth;
use crate::http::jwt::{self, SigningKey};
use crate::profile::ClientConfig;
use serde_json::{Map, Value};
use tokencert_policy::AuthMethod;

/// Client-assertion type URN (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// What a caller changes about a client's registered authentication (scenarios forge wrong
/// credentials on purpose; the default changes nothing).
#[derive(Debug, Clone, Default)]
pub struct AuthOverrides {
    /// Another method than the registered one.
    pub method: Option<AuthMethod>,
    /// Another `client_id` sent in the body.
    pub client_id: Option<String>,
    /// Another secret.
    pub secret: Option<String>,
    /// Claims merged into a client assertion (a JSON null removes the claim).
    pub claims: Map<String, Value>,
    /// Header members merged into a client assertion.
    pub jwt_header: Map<String, Value>,
}

impl Session {
    /// Adds `role`'s credentials to a request's form and headers. The role `none` sends none.
    pub fn authenticate(
        &self,
        role: &str,
        o: &AuthOverrides,
        form: &mut Vec<(String, String)>,
        headers: &mut Vec<(String, String)>,
    ) -> Result<(), String> {
        if role == "none" {
            return Ok(());
        }
        let client = self.client(role)?;
        let method = match o.method {
            Some(m) => m,
            None => parse_method(&client.auth_method)?,
        };
        let secret = || {
            o.secret
                .clone()
                .or_else(|| client.secret.as_ref().map(|s| s.expose().to_owned()))
                .ok_or_else(|| format!("client `{role}` has no secret for {method}"))
        };
        let body_id = || o.client_id.clone().unwrap_or_else(|| client.id.clone());
        match method {
            AuthMethod::None => form.push(("client_id".into(), body_id())),
            AuthMethod::ClientSecretBasic => {
                headers.push(("Authorization".into(), basic_auth(&client.id, &secret()?)));
            }
            AuthMethod::ClientSecretPost => {
                form.push(("client_id".into(), body_id()));
                form.push(("client_secret".into(), secret()?));
            }
            AuthMethod::ClientSecretJwt => {
                let key = SigningKey::hmac(secret()?.as_bytes());
                let assertion = self.client_assertion(client, &key, o)?;
                push_assertion(form, assertion);
            }
            AuthMethod::PrivateKeyJwt => {
                let key = match self.client_keys.get(role) {
                    Some(Ok(k)) => k,
                    Some(Err(e)) => return Err(format!("client `{role}`: {e}")),
                    None => return Err(format!("client `{role}` has no private_key")),
                };
                let assertion = self.client_assertion(client, key, o)?;
                push_assertion(form, assertion);
            }
        }
        // An explicit client_id also goes with the methods that do not carry one in the body.
        if let Some(id) = &o.client_id
            && !matches!(method, AuthMethod::None | AuthMethod::ClientSecretPost)
        {
            form.push(("client_id".into(), id.clone()));
        }
        Ok(())
    }

    /// A signed client assertion for `client`, registered with the redactor.
    fn client_assertion(
        &self,
        client: &ClientConfig,
        key: &SigningKey,
        o: &AuthOverrides,
    ) -> Result<String, String> {
        let aud = self.assertion_audience(client);
        let mut claims = jwt::client_assertion_claims(&client.id, &aud, jwt::now_secs());
        merge(&mut claims, o.claims.clone());
        let assertion = jwt::sign(o.jwt_header.clone(), claims, key).map_err(|e| e.to_string())?;
        self.redactor.add("client_assertion", &assertion);
        Ok(assertion)
    }

    /// The `aud` of the client's assertions: the token endpoint (default), the issuer, or the
    /// URL the profile gives.
    pub fn assertion_audience(&self, client: &ClientConfig) -> String {
        match client.assertion_audience.as_str() {
            "token_endpoint" | "" => self
                .target
                .endpoints
                .get("token")
                .map(url::Url::to_string)
                .unwrap_or_default(),
            "issuer" => self.target.issuer_id(),
            other => other.to_owned(),
        }
    }
}

/// A method by its registered name.
pub fn parse_method(name: &str) -> Result<AuthMethod, String> {
    AuthMethod::from_wire(name)
        .ok_or_else(|| format!("unknown client authentication method `{name}`"))
}

fn push_assertion(form: &mut Vec<(String, String)>, assertion: String) {
    form.push(("client_assertion_type".into(), ASSERTION_TYPE.into()));
    form.push(("client_assertion".into(), assertion));
}

/// Merges `over` into `base`; a JSON null removes the key (to forge a missing claim).
pub fn merge(base: &mut Map<String, Value>, over: Map<String, Value>) {
    for (k, v) in over {
        if v.is_null() {
            base.remove(&k);
        } else {
            base.insert(k, v);
        }
    }
}
