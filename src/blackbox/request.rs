//! A generated request in one representation that both the bytes on the wire and the
//! reproducer come from, so a reproducer sends exactly what the fuzzer sent: live tokens and the
//! profile's values are symbols (resolved when sending, written as templates), every other byte
//! is a literal.

use crate::http::PreparedRequest;
use crate::http::client::form_body;
use crate::session::{AuthOverrides, Session};
use serde_json::{Map, Value};
use tokencert_policy::AuthMethod;

use super::grammar::{Base, Mutation};

/// The client every generated request speaks for.
pub const ROLE: &str = "confidential";

/// The content type of a token request.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// A value a replay gets anew or from its profile: written as a template, never as its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sym {
    /// The live refresh token.
    RefreshToken,
    /// The live refresh token with its middle character changed.
    TamperedRefreshToken,
    /// A live access token.
    AccessToken,
    /// The client's id.
    ClientId,
    /// The test user's name.
    Username,
    /// The test user's password.
    Password,
}

/// One value of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// Exactly this text (never a secret of the profile).
    Lit(String),
    /// A live or profile value.
    Sym(Sym),
}

impl Val {
    /// A literal.
    pub fn lit(s: impl Into<String>) -> Val {
        Val::Lit(s.into())
    }
}

/// The live tokens a request was built with.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The refresh token.
    pub refresh_token: Option<String>,
    /// The access token.
    pub access_token: Option<String>,
}

impl Live {
    /// Where [`Sym::TamperedRefreshToken`] changes the token (the `replace_char` filter's rule).
    fn tamper_at(&self) -> usize {
        self.refresh_token
            .as_deref()
            .map_or(0, |t| t.chars().count() / 2)
    }
}

/// The `replace_char` template filter, applied to a live value.
fn replace_char(v: &str, i: usize) -> String {
    let mut chars: Vec<char> = v.chars().collect();
    if let Some(c) = chars.get_mut(i) {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}

impl Sym {
    /// The template expression a reproducer writes for it.
    pub fn template(self, live: &Live) -> String {
        match self {
            Sym::RefreshToken => "rt0".into(),
            Sym::TamperedRefreshToken => format!("rt0 | replace_char({})", live.tamper_at()),
            Sym::AccessToken => "at0".into(),
            Sym::ClientId => format!("clients.{ROLE}.id"),
            Sym::Username => "test_user.username".into(),
            Sym::Password => "test_user.password".into(),
        }
    }

    fn resolve(self, live: &Live, session: &Session) -> Option<String> {
        match self {
            Sym::RefreshToken => live.refresh_token.clone(),
            Sym::TamperedRefreshToken => live
                .refresh_token
                .as_deref()
                .map(|t| replace_char(t, live.tamper_at())),
            Sym::AccessToken => live.access_token.clone(),
            Sym::ClientId => session.target.clients.get(ROLE).map(|c| c.id.clone()),
            Sym::Username => session.target.test_user().map(|u| u.username),
            Sym::Password => session
                .target
                .test_user()
                .and_then(|u| u.password)
                .map(|p| p.expose().to_owned()),
        }
    }
}

/// How the client authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// The client's registered method.
    Registered,
    /// Nothing.
    None,
    /// Another method, or a wrong secret (a literal that is never the client's), or an
    /// assertion's JOSE header changed: what a scenario's long `client_auth` form says.
    With {
        /// The method.
        method: AuthMethod,
        /// A wrong secret.
        secret: Option<String>,
        /// JOSE header members of an assertion.
        jwt_header: Vec<(String, String)>,
    },
}

impl Auth {
    /// Whether the credentials go into the body (which a raw body cannot take).
    pub fn in_body(&self, session: &Session) -> bool {
        let method = match self {
            Auth::Registered => session
                .target
                .clients
                .get(ROLE)
                .and_then(|c| crate::session::client_auth::parse_method(&c.auth_method).ok()),
            Auth::None => None,
            Auth::With { method, .. } => Some(*method),
        };
        method.is_some_and(|m| m != AuthMethod::ClientSecretBasic)
    }

    fn overrides(&self) -> Option<AuthOverrides> {
        match self {
            Auth::Registered => Some(AuthOverrides::default()),
            Auth::None => None,
            Auth::With {
                method,
                secret,
                jwt_header,
            } => Some(AuthOverrides {
                method: Some(*method),
                secret: secret.clone(),
                jwt_header: jwt_header
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
                ..AuthOverrides::default()
            }),
        }
    }
}

/// A piece of a raw body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// These bytes.
    Lit(Vec<u8>),
    /// A symbol, form-encoded.
    Form(Sym),
    /// A symbol as a JSON string.
    Json(Sym),
}

/// A generated request.
#[derive(Debug, Clone)]
pub struct Req {
    /// The valid request it started from.
    pub base: Base,
    /// What was done to it.
    pub mutations: Vec<Mutation>,
    /// HTTP method.
    pub method: String,
    /// Query parameters.
    pub query: Vec<(String, Val)>,
    /// Body parameters, in order (repeats allowed).
    pub params: Vec<(String, Val)>,
    /// Bytes appended to a form body.
    pub raw_suffix: Vec<u8>,
    /// The parameters as a JSON object instead of a form.
    pub json_body: bool,
    /// `Content-Type` (`None`: no header).
    pub content_type: Option<String>,
    /// Other headers, literal (never a credential of the profile).
    pub headers: Vec<(String, String)>,
    /// Client authentication.
    pub auth: Auth,
    /// Whether the request must be refused (no token may come back).
    pub must_fail: bool,
    /// Whether the body is raw (see [`Req::raw_body`]), decided once the request is built.
    pub raw: Option<bool>,
    /// The live tokens the symbols stand for.
    pub live: Live,
}

impl Req {
    /// Whether the body must be written as bytes: not a plain form the runner would build the
    /// same way from `form:` (another content type, JSON, appended bytes, no parameters, or
    /// text YAML cannot hold).
    pub fn raw_body(&self) -> bool {
        self.raw.unwrap_or_else(|| self.judge_raw())
    }

    fn judge_raw(&self) -> bool {
        self.json_body
            || !self.raw_suffix.is_empty()
            || self.content_type.as_deref() != Some(FORM)
            || self.params.is_empty()
            || self
                .params
                .iter()
                .any(|(k, v)| !template_safe(k) || matches!(v, Val::Lit(l) if !template_safe(l)))
    }

    /// Decides [`Req::raw_body`] once, when the request is complete.
    pub fn settle_raw(&mut self) {
        self.raw = Some(self.judge_raw());
    }

    /// The raw body, as literal bytes and symbols.
    pub fn body_segments(&self) -> Vec<Seg> {
        let mut segs: Vec<Seg> = Vec::new();
        let lit = |segs: &mut Vec<Seg>, b: &[u8]| match segs.last_mut() {
            Some(Seg::Lit(l)) => l.extend_from_slice(b),
            _ => segs.push(Seg::Lit(b.to_vec())),
        };
        if self.json_body {
            lit(&mut segs, b"{");
            for (i, (k, v)) in self.params.iter().enumerate() {
                let key = Value::String(k.clone()).to_string();
                lit(
                    &mut segs,
                    format!("{}{key}:", if i > 0 { "," } else { "" }).as_bytes(),
                );
                match v {
                    Val::Lit(l) => lit(&mut segs, Value::String(l.clone()).to_string().as_bytes()),
                    Val::Sym(s) => segs.push(Seg::Json(*s)),
                }
            }
            lit(&mut segs, b"}");
        } else {
            for (i, (k, v)) in self.params.iter().enumerate() {
                let enc =
                    |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
                lit(
                    &mut segs,
                    format!("{}{}=", if i > 0 { "&" } else { "" }, enc(k)).as_bytes(),
                );
                match v {
                    Val::Lit(l) => lit(&mut segs, enc(l).as_bytes()),
                    Val::Sym(s) => segs.push(Seg::Form(*s)),
                }
            }
            lit(&mut segs, &self.raw_suffix);
        }
        segs
    }

    /// The bytes on the wire, with live values and the client's real credentials applied;
    /// `None` when a value is missing (no live token, no test user).
    pub fn prepare(&self, session: &Session) -> Option<PreparedRequest> {
        let mut url = session.target.endpoints.get("token")?.clone();
        let resolve = |v: &Val| match v {
            Val::Lit(l) => Some(l.clone()),
            Val::Sym(s) => s.resolve(&self.live, session),
        };
        if !self.query.is_empty() {
            let mut pairs = Vec::with_capacity(self.query.len());
            for (k, v) in &self.query {
                pairs.push((k, resolve(v)?));
            }
            let mut q = url.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, &v);
            }
        }
        let mut params: Vec<(String, String)> = Vec::with_capacity(self.params.len() + 2);
        for (k, v) in &self.params {
            params.push((k.clone(), resolve(v)?));
        }
        let mut headers: Vec<(String, String)> = Vec::new();
        let raw = self.raw_body();
        if let Some(o) = self.auth.overrides() {
            let before = params.len();
            session
                .authenticate(ROLE, &o, &mut params, &mut headers)
                .ok()?;
            // A raw body cannot take credentials (`build` moves them out of the way).
            if raw && params.len() != before {
                return None;
            }
        }
        let body = if raw {
            let mut b = Vec::new();
            for s in self.body_segments() {
                match s {
                    Seg::Lit(l) => b.extend_from_slice(&l),
                    Seg::Form(s) => b.extend(
                        form_urlencoded::byte_serialize(s.resolve(&self.live, session)?.as_bytes())
                            .flat_map(str::bytes),
                    ),
                    Seg::Json(s) => b.extend_from_slice(
                        Value::String(s.resolve(&self.live, session)?)
                            .to_string()
                            .as_bytes(),
                    ),
                }
            }
            b
        } else {
            form_body(&params)
        };
        if let Some(ct) = &self.content_type {
            headers.push(("Content-Type".into(), ct.clone()));
        }
        headers.extend(self.headers.iter().cloned());
        headers.push(("Accept".into(), "application/json".into()));
        Some(PreparedRequest {
            method: self.method.clone(),
            url,
            headers,
            body,
        })
    }

    /// The mutation kinds, sorted and without repeats.
    pub fn kinds(&self) -> Vec<String> {
        let mut k: Vec<String> = self.mutations.iter().map(Mutation::kind).collect();
        k.sort();
        k.dedup();
        k
    }

    /// The root-cause classes of the mutations, sorted and without repeats.
    pub fn classes(&self) -> Vec<&'static str> {
        let mut c: Vec<&'static str> = self.mutations.iter().map(Mutation::class).collect();
        c.sort_unstable();
        c.dedup();
        c
    }
}

/// Whether a literal can be written in a YAML template string as it is: printable (YAML 1.2
/// §5.1) and without `{{` / `}}`, which would start or end a template.
pub fn template_safe(s: &str) -> bool {
    let printable = |c: char| {
        matches!(c, '\u{20}'..='\u{7e}')
            || ('\u{a0}'..='\u{d7ff}').contains(&c)
            || ('\u{e000}'..='\u{fffd}').contains(&c)
            || c >= '\u{10000}'
    };
    // Printable ASCII byte by byte (most values, and the long ones); characters otherwise.
    let ascii = s.bytes().all(|b| (0x20..0x7f).contains(&b));
    (ascii || s.chars().all(printable)) && !s.contains("{{") && !s.contains("}}")
}

/// JSON header members as a map (for the emitted `client_auth`).
pub fn header_map(h: &[(String, String)]) -> Map<String, Value> {
    h.iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}
