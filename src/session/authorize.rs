//! One authorization request of the code flow (RFC 6749 §4.1.1), through the target's
//! authorization mechanism: the profile's `command` hook, else a GET with unattended consent.
//! The bootstrap's code flow and the scenario `authorize` step both come through here, so the
//! URL and the mechanism are written once.

use super::hook::{run_hook, tail};
use super::{Record, Session};
use crate::http::{HttpResponse, PreparedRequest};
use crate::profile::Authorization;
use serde_json::{Map, Value};
use std::time::Instant;

/// What one authorization request asks for. Every empty value is left out of the request
/// (RFC 6749 §3.1 treats an empty parameter as omitted).
#[derive(Debug, Clone, Default)]
pub struct AuthorizeRequest {
    /// `client_id`.
    pub client_id: String,
    /// `redirect_uri`.
    pub redirect_uri: String,
    /// `scope`.
    pub scope: String,
    /// `state`, echoed in the redirect.
    pub state: String,
    /// `nonce` (OpenID Connect).
    pub nonce: String,
    /// PKCE `code_challenge`.
    pub code_challenge: String,
    /// PKCE `code_challenge_method`.
    pub code_challenge_method: String,
    /// More parameters, after the ones above.
    pub params: Vec<(String, String)>,
}

impl AuthorizeRequest {
    /// A fresh random `state`.
    pub fn fresh_state() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// The request's parameters in order: the named ones, `params`, then each of the
    /// mechanism's `defaults` whose name the request leaves empty; empty values dropped.
    fn pairs(&self, defaults: &[(String, String)]) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("scope", self.scope.as_str()),
            ("state", self.state.as_str()),
            ("nonce", self.nonce.as_str()),
            ("code_challenge", self.code_challenge.as_str()),
            ("code_challenge_method", self.code_challenge_method.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .chain(self.params.iter().cloned())
        .collect();
        for (k, v) in defaults {
            match pairs.iter_mut().find(|(n, _)| n == k) {
                Some((_, cur)) if cur.is_empty() => cur.clone_from(v),
                Some(_) => {}
                None => pairs.push((k.clone(), v.clone())),
            }
        }
        pairs.retain(|(_, v)| !v.is_empty());
        pairs
    }
}

/// Where an authorization request ended: the redirect back to the client, or the
/// authorization endpoint's refusal (an error page, unattended only).
#[derive(Debug, Clone)]
pub struct AuthorizeAnswer {
    /// The endpoint's answer (unattended), or a 302 standing for the redirect a hook reached.
    pub response: HttpResponse,
    /// The redirect's parameters, query then fragment (empty without a redirect).
    pub params: Vec<(String, String)>,
    /// Whether the answer is a redirect.
    pub redirected: bool,
    /// The `state` that was sent (empty if none).
    pub state: String,
    /// Whether the redirect came from a hook.
    pub via_hook: bool,
}

impl AuthorizeAnswer {
    /// The first value of a redirect parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The code, or why there is none: no redirect, an error redirect, another `state` (a broken
    /// CSRF defence), or a redirect without a code.
    pub fn code(&self) -> Result<String, String> {
        if !self.redirected {
            let body = String::from_utf8_lossy(&self.response.body);
            return Err(format!(
                "the authorization endpoint answered {} without a redirect: {}",
                self.response.status,
                tail(body.trim(), 300)
            ));
        }
        if let Some(err) = self.param("error") {
            return Err(format!(
                "the authorization request came back with error={err}{}",
                self.param("error_description")
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            ));
        }
        if !self.state.is_empty() && self.param("state").is_some_and(|s| s != self.state) {
            return Err(
                "the authorization redirect carries another state: CSRF protection broken".into(),
            );
        }
        self.param("code")
            .map(str::to_owned)
            .ok_or_else(|| "the authorization redirect carries no code".into())
    }

    /// The answer as a scenario step judges it: status and headers as they came (302 and
    /// `Location` for a hook), and for a redirect a JSON body of its parameters, so `expect.json`
    /// and `capture.json` read `$.code`, `$.state`, `$.error`.
    pub fn judged(&self) -> HttpResponse {
        let mut r = self.response.clone();
        if self.redirected {
            let mut m = Map::new();
            for (k, v) in &self.params {
                m.entry(k.clone())
                    .or_insert_with(|| Value::String(v.clone()));
            }
            r.body = Value::Object(m).to_string().into_bytes();
            r.headers
                .retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
            r.headers
                .push(("content-type".into(), "application/json".into()));
        }
        r
    }
}

impl Session {
    /// Runs one authorization request through the target's mechanism ([`crate::profile::Target::authorization`];
    /// without one, a bare GET that expects a redirect). Errors when the mechanism fails: the
    /// hook fails or prints nothing usable, the transport fails, or the endpoint answers below
    /// 400 without a redirect (a login page: no unattended consent). A refusal of 400 or more
    /// is an answer. Codes in the redirect are registered as secrets at once.
    pub async fn authorize(
        &self,
        req: &AuthorizeRequest,
        rec: &mut dyn Record,
    ) -> Result<AuthorizeAnswer, String> {
        self.authorize_via(None, req, rec).await
    }

    /// [`Session::authorize`] through `via` when given (a role's own code-flow bootstrap), else
    /// through the target's mechanism.
    pub async fn authorize_via(
        &self,
        via: Option<Authorization>,
        req: &AuthorizeRequest,
        rec: &mut dyn Record,
    ) -> Result<AuthorizeAnswer, String> {
        let via = via
            .or_else(|| self.target.authorization())
            .unwrap_or_default();
        let mut url = self
            .target
            .endpoints
            .get("authorization")
            .cloned()
            .ok_or("the target has no authorization endpoint for the code flow")?;
        url.query_pairs_mut().extend_pairs(req.pairs(&via.params));
        let answer = match &via.command {
            Some(cmd) => self.authorize_by_hook(cmd, &url, req).await?,
            None => self.authorize_unattended(url, req, rec).await?,
        };
        for (k, v) in &answer.params {
            if k == "code" {
                self.redactor.add("code", v);
            }
        }
        Ok(answer)
    }

    async fn authorize_unattended(
        &self,
        url: url::Url,
        req: &AuthorizeRequest,
        rec: &mut dyn Record,
    ) -> Result<AuthorizeAnswer, String> {
        let get = PreparedRequest {
            method: "GET".into(),
            url,
            headers: Vec::new(),
            body: Vec::new(),
        };
        let resp = self.send(&get, None, rec).await?;
        let location = resp
            .header_values("location")
            .first()
            .map(|s| (*s).to_owned());
        let redirect = match location {
            Some(loc) if (300..400).contains(&resp.status) => Some(self.parse_redirect(&loc)?),
            _ if resp.status < 400 => {
                return Err(format!(
                    "the authorization endpoint answered {} instead of a redirect: a login page? Give the target profile a bootstrap `command` hook that logs a test user in, or `authorize_params` the server consents to unattended",
                    resp.status
                ));
            }
            _ => None,
        };
        Ok(AuthorizeAnswer {
            redirected: redirect.is_some(),
            params: redirect.map(|u| redirect_params(&u)).unwrap_or_default(),
            response: resp,
            state: req.state.clone(),
            via_hook: false,
        })
    }

    async fn authorize_by_hook(
        &self,
        cmd: &str,
        url: &url::Url,
        req: &AuthorizeRequest,
    ) -> Result<AuthorizeAnswer, String> {
        let started = Instant::now();
        let user = self.hook_env();
        let mut env: Vec<(&str, &str)> = user.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.push(("TOKENCERT_AUTHORIZE_URL", url.as_str()));
        let out = run_hook(cmd, &env, self.target.max_response)
            .await
            .map_err(|e| self.redactor.redact(&e))?;
        // The last line: a hook may log progress on stdout before the redirect.
        let printed = out.lines().map(str::trim).rfind(|l| !l.is_empty());
        let (location, params) = match printed {
            Some(p) if p.contains("://") || p.starts_with('/') || p.contains('?') => {
                let u = self.parse_redirect(p)?;
                (u.to_string(), redirect_params(&u))
            }
            // A bare code stands for a redirect carrying it and the request's state.
            Some(code) if !code.contains(char::is_whitespace) => {
                self.redactor.add("code", code);
                let mut params = vec![("code".to_owned(), code.to_owned())];
                if !req.state.is_empty() {
                    params.push(("state".into(), req.state.clone()));
                }
                let mut loc = url::Url::parse(&req.redirect_uri)
                    .map_err(|_| "the authorization hook printed a bare code, and the request has no redirect_uri to stand for its redirect".to_owned())?;
                loc.query_pairs_mut().extend_pairs(&params);
                (loc.to_string(), params)
            }
            _ => {
                return Err(format!(
                    "the authorization hook `{cmd}` printed neither a redirect URL nor a code"
                ));
            }
        };
        Ok(AuthorizeAnswer {
            response: HttpResponse {
                status: 302,
                headers: vec![("location".into(), location)],
                body: Vec::new(),
                duration: started.elapsed(),
            },
            params,
            redirected: true,
            state: req.state.clone(),
            via_hook: true,
        })
    }

    /// A redirect location, absolute or relative to the base URL.
    fn parse_redirect(&self, loc: &str) -> Result<url::Url, String> {
        url::Url::parse(loc)
            .or_else(|_| self.target.base_url.join(loc))
            .map_err(|e| format!("the authorization redirect `{loc}` is not a URL: {e}"))
    }
}

/// A redirect's parameters: the query's, then the fragment's (`response_mode=fragment`).
fn redirect_params(u: &url::Url) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = u.query_pairs().into_owned().collect();
    if let Some(f) = u.fragment() {
        out.extend(form_urlencoded::parse(f.as_bytes()).into_owned());
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
mod tests {
    use super::*;

    fn req() -> AuthorizeRequest {
        AuthorizeRequest {
            client_id: "c1".into(),
            redirect_uri: "https://client.example/cb".into(),
            scope: String::new(),
            state: "s1".into(),
            nonce: "n1".into(),
            code_challenge: "ch".into(),
            code_challenge_method: String::new(),
            params: vec![("prompt".into(), "none".into())],
        }
    }

    #[test]
    fn empty_values_are_left_out_and_the_request_wins_over_defaults() {
        let defaults = vec![
            ("login_hint".to_owned(), "u1".to_owned()),
            ("nonce".to_owned(), "profile-nonce".to_owned()),
            ("scope".to_owned(), "profile-scope".to_owned()),
            ("prompt".to_owned(), "login".to_owned()),
        ];
        let got: Vec<String> = req()
            .pairs(&defaults)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        assert_eq!(
            got,
            [
                "response_type=code",
                "client_id=c1",
                "redirect_uri=https://client.example/cb",
                "scope=profile-scope",
                "state=s1",
                "nonce=n1",
                "code_challenge=ch",
                "prompt=none",
                "login_hint=u1",
            ]
        );
    }

    fn answer(loc: &str) -> AuthorizeAnswer {
        let u = url::Url::parse(loc).unwrap();
        AuthorizeAnswer {
            response: HttpResponse {
                status: 302,
                headers: vec![("location".into(), loc.into())],
                body: Vec::new(),
                duration: std::time::Duration::ZERO,
            },
            params: redirect_params(&u),
            redirected: true,
            state: "s1".into(),
            via_hook: false,
        }
    }

    #[test]
    fn the_code_comes_from_a_redirect_that_is_not_an_error() {
        assert_eq!(
            answer("https://c.example/cb?code=abc&state=s1").code(),
            Ok("abc".into())
        );
        assert_eq!(
            answer("https://c.example/cb#state=s1&code=frag").code(),
            Ok("frag".into())
        );
        let err = answer("https://c.example/cb?error=invalid_request&error_description=bad+pkce")
            .code()
            .unwrap_err();
        assert_eq!(
            err,
            "the authorization request came back with error=invalid_request (bad pkce)"
        );
        assert!(
            answer("https://c.example/cb?code=abc&state=other")
                .code()
                .unwrap_err()
                .contains("CSRF")
        );
        let judged = answer("https://c.example/cb?code=abc&state=s1&iss=x").judged();
        let body: Value = serde_json::from_slice(&judged.body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"code": "abc", "state": "s1", "iss": "x"})
        );
        assert_eq!(judged.status, 302);
    }
}
