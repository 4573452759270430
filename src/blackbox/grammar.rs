//! The request grammar: valid bases and the mutations applied to them.

use crate::http::PreparedRequest;
use crate::http::client::form_body;
use crate::profile::Bootstrap;
use crate::session::{ASSERTION_TYPE, AuthOverrides, Session};
use base64::Engine as _;
use rand::Rng as _;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use tokencert_policy::AuthMethod;

/// A valid request to start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// `grant_type=refresh_token` with a live token, as the confidential client.
    Refresh,
    /// `grant_type=client_credentials`.
    ClientCredentials,
    /// `grant_type=password` with the bootstrap user (when the target has one).
    Password,
    /// A code redemption with a code that does not exist (always fails).
    AuthorizationCode,
    /// A device-code poll with an unknown device code (always fails).
    DeviceCode,
    /// A JWT-bearer grant with a garbage assertion (always fails).
    JwtBearer,
    /// Token exchange of a live access token.
    TokenExchange,
    /// An unknown grant type (always fails).
    UnknownGrant,
}

impl Base {
    pub fn needs_refresh_token(self) -> bool {
        self == Base::Refresh
    }
    pub fn needs_access_token(self) -> bool {
        self == Base::TokenExchange
    }
    /// Whether the unmutated request must fail anyway.
    fn fails(self) -> bool {
        matches!(
            self,
            Base::AuthorizationCode | Base::DeviceCode | Base::JwtBearer | Base::UnknownGrant
        )
    }
    fn grant_type(self) -> &'static str {
        match self {
            Base::Refresh => "refresh_token",
            Base::ClientCredentials => "client_credentials",
            Base::Password => "password",
            Base::AuthorizationCode => "authorization_code",
            Base::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            Base::JwtBearer => "urn:ietf:params:oauth:grant-type:jwt-bearer",
            Base::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
            Base::UnknownGrant => "urn:example:tokencert:no-such-grant",
        }
    }
    /// Parameters the grant cannot do without.
    fn required(self) -> &'static [&'static str] {
        match self {
            Base::Refresh => &["grant_type", "refresh_token"],
            Base::Password => &["grant_type", "username", "password"],
            Base::TokenExchange => &["grant_type", "subject_token", "subject_token_type"],
            _ => &["grant_type"],
        }
    }
}

/// One thing done to a valid request. `invalidates` says whether the result must be refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Remove a parameter.
    DropParam(String),
    /// Send a parameter twice (RFC 6749 §3.2: MUST NOT).
    DuplicateParam(String),
    /// Send a parameter with an empty value.
    EmptyParam(String),
    /// Replace a parameter's value with a long one.
    LongValue(String, usize),
    /// Add a parameter the server does not know (must be ignored).
    UnknownParam(usize),
    /// Another `grant_type` value.
    GrantType(String),
    /// Append a malformed percent-encoding.
    BadPercent,
    /// Append bytes that are not UTF-8.
    InvalidUtf8,
    /// Another content type (`None`: no header).
    ContentType(Option<String>),
    /// The parameters as a JSON object instead of a form.
    JsonBody,
    /// Another HTTP method.
    Method(String),
    /// A malformed `Authorization` header instead of the client's authentication.
    MalformedAuthorization(String),
    /// The right client id with a wrong secret, by Basic.
    WrongSecret,
    /// Only `client_id` for a confidential client.
    ClientIdOnly,
    /// Basic and body credentials together (RFC 6749 §2.3).
    TwoMethods,
    /// A client assertion with `alg: none`.
    AssertionNone,
    /// A DPoP header that is not a valid proof.
    DpopGarbage(String),
    /// The refresh token with one character changed.
    TamperToken,
    /// Client credentials in the query string.
    CredentialsInQuery,
    /// A body padded to this many bytes with an unknown parameter.
    Oversize(usize),
}

impl Mutation {
    /// Whether the mutated request must be refused (no token may come back).
    pub fn invalidates(&self, base: Base, session: &Session) -> bool {
        match self {
            Mutation::DropParam(p) | Mutation::EmptyParam(p) => {
                base.required().contains(&p.as_str())
            }
            Mutation::LongValue(p, _) => p == "refresh_token" || p == "grant_type",
            // The malformed escape and the non-UTF-8 bytes go into an unknown parameter, which
            // the server must ignore (RFC 6749 §3.2); a lenient form parser (WHATWG) keeps them
            // as they are, so refusing is allowed but not required. They still must not crash
            // the server, and the catalogue's hygiene.invalid-* scenarios put them where a
            // lenient parser has to refuse.
            Mutation::UnknownParam(_)
            | Mutation::CredentialsInQuery
            | Mutation::Oversize(_)
            | Mutation::BadPercent
            | Mutation::InvalidUtf8 => false,
            // Judged on the final content type, after every mutation (see `build`).
            Mutation::ContentType(_) | Mutation::JsonBody => false,
            Mutation::DpopGarbage(_) => session.target.policy.dpop.supported,
            _ => true,
        }
    }

    /// Short name for dedupe keys and titles.
    pub fn kind(&self) -> String {
        match self {
            Mutation::DropParam(p) => format!("drop-{p}"),
            Mutation::DuplicateParam(p) => format!("duplicate-{p}"),
            Mutation::EmptyParam(p) => format!("empty-{p}"),
            Mutation::LongValue(p, _) => format!("long-{p}"),
            Mutation::UnknownParam(_) => "unknown-param".into(),
            Mutation::GrantType(_) => "grant-type".into(),
            Mutation::BadPercent => "bad-percent-encoding".into(),
            Mutation::InvalidUtf8 => "invalid-utf8".into(),
            Mutation::ContentType(c) => format!(
                "content-type-{}",
                c.as_deref()
                    .unwrap_or("none")
                    .split(';')
                    .next()
                    .unwrap_or("")
            ),
            Mutation::JsonBody => "json-body".into(),
            Mutation::Method(m) => format!("method-{m}"),
            Mutation::MalformedAuthorization(_) => "malformed-authorization".into(),
            Mutation::WrongSecret => "wrong-secret".into(),
            Mutation::ClientIdOnly => "client-id-only".into(),
            Mutation::TwoMethods => "two-auth-methods".into(),
            Mutation::AssertionNone => "assertion-alg-none".into(),
            Mutation::DpopGarbage(_) => "dpop-garbage".into(),
            Mutation::TamperToken => "tampered-token".into(),
            Mutation::CredentialsInQuery => "credentials-in-query".into(),
            Mutation::Oversize(_) => "oversize-body".into(),
        }
    }
}

/// How the client authenticates in a built request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// The confidential client's registered method.
    Registered,
    /// Nothing.
    None,
    /// A raw, non-secret `Authorization` value.
    Raw(String),
    /// Basic with a wrong secret.
    WrongSecret,
    /// Only `client_id`.
    IdOnly,
    /// Basic plus body credentials.
    Both,
    /// An unsigned client assertion.
    AssertionNone,
}

/// A generated request, before secrets are applied.
#[derive(Debug, Clone)]
pub struct Req {
    pub base: Base,
    pub mutations: Vec<Mutation>,
    pub method: String,
    pub params: Vec<(String, String)>,
    pub raw_suffix: Vec<u8>,
    pub json_body: bool,
    pub content_type: Option<String>,
    pub headers: Vec<(String, String)>,
    pub auth: Auth,
    pub query_credentials: bool,
    pub must_fail: bool,
    /// The live refresh token placed in `refresh_token` (reproducers write `{{ rt0 }}` instead).
    pub refresh_token: Option<String>,
}

pub fn pick_base(rng: &mut StdRng, session: &Session) -> Base {
    let mut bases = vec![
        Base::Refresh,
        Base::Refresh,
        Base::Refresh,
        Base::AuthorizationCode,
        Base::UnknownGrant,
        Base::DeviceCode,
        Base::JwtBearer,
    ];
    if session.target.policy.grants.client_credentials {
        bases.push(Base::ClientCredentials);
    }
    if matches!(session.target.bootstrap, Bootstrap::Password { .. }) {
        bases.push(Base::Password);
    }
    if session.target.policy.grants.token_exchange {
        bases.push(Base::TokenExchange);
    }
    *bases.choose(rng).unwrap_or(&Base::Refresh)
}

pub fn pick_mutations(rng: &mut StdRng, session: &Session, base: Base) -> Vec<Mutation> {
    let n = rng.random_range(0..=3);
    let params: Vec<&str> = match base {
        Base::Refresh => vec!["grant_type", "refresh_token", "scope"],
        Base::Password => vec!["grant_type", "username", "password", "scope"],
        Base::TokenExchange => vec!["grant_type", "subject_token", "subject_token_type"],
        _ => vec!["grant_type"],
    };
    let pick = |rng: &mut StdRng| (*params.choose(rng).unwrap_or(&"grant_type")).to_owned();
    let mut out: Vec<Mutation> = Vec::new();
    for _ in 0..n {
        let m = match rng.random_range(0..20) {
            0 => Mutation::DropParam(pick(rng)),
            1 => Mutation::DuplicateParam(pick(rng)),
            2 => Mutation::EmptyParam(pick(rng)),
            3 => Mutation::LongValue(pick(rng), *[300, 5_000, 70_000].choose(rng).unwrap_or(&300)),
            4 => Mutation::UnknownParam(rng.random_range(1..64)),
            5 => Mutation::GrantType(
                (*[
                    "",
                    "REFRESH_TOKEN",
                    "refresh_token ",
                    "urn:x:nope",
                    "implicit",
                    "refresh%5Ftoken",
                ]
                .choose(rng)
                .unwrap_or(&""))
                .to_owned(),
            ),
            6 => Mutation::BadPercent,
            7 => Mutation::InvalidUtf8,
            8 => Mutation::ContentType(
                [
                    Some("application/json"),
                    Some("text/plain"),
                    None,
                    Some("multipart/form-data; boundary=x"),
                    Some("application/x-www-form-urlencoded; charset=UTF-8"),
                ]
                .choose(rng)
                .copied()
                .flatten()
                .map(str::to_owned),
            ),
            9 => Mutation::JsonBody,
            10 => Mutation::Method(
                (*["GET", "PUT", "DELETE"].choose(rng).unwrap_or(&"GET")).to_owned(),
            ),
            11 => Mutation::MalformedAuthorization(
                (*[
                    "Basic !!!",
                    "Basic ",
                    "Basic Og==",
                    "Bearer abc",
                    "Basic Zm9v",
                    "basic",
                ]
                .choose(rng)
                .unwrap_or(&"Basic !!!"))
                .to_owned(),
            ),
            12 => Mutation::WrongSecret,
            13 => Mutation::ClientIdOnly,
            14 => Mutation::TwoMethods,
            15 => Mutation::AssertionNone,
            16 => Mutation::DpopGarbage(
                (*["x", "a.b.c", "eyJhbGciOiJub25lIn0.e30."]
                    .choose(rng)
                    .unwrap_or(&"x"))
                .to_owned(),
            ),
            17 if base == Base::Refresh => Mutation::TamperToken,
            18 => Mutation::CredentialsInQuery,
            _ => Mutation::Oversize(*[10_000, 100_000].choose(rng).unwrap_or(&10_000)),
        };
        // Authentication mutations replace each other: keep one.
        let is_auth = |m: &Mutation| {
            matches!(
                m,
                Mutation::MalformedAuthorization(_)
                    | Mutation::WrongSecret
                    | Mutation::ClientIdOnly
                    | Mutation::TwoMethods
                    | Mutation::AssertionNone
            )
        };
        if is_auth(&m) && out.iter().any(is_auth) {
            continue;
        }
        if !out.contains(&m) {
            out.push(m);
        }
    }
    let _ = session;
    out
}

/// Builds the request for a base and its mutations; `None` when a needed token is missing.
pub fn build(
    session: &Session,
    base: Base,
    mutations: &[Mutation],
    refresh_token: Option<String>,
    access_token: Option<String>,
) -> Option<Req> {
    let mut params: Vec<(String, String)> = vec![("grant_type".into(), base.grant_type().into())];
    match base {
        Base::Refresh => params.push(("refresh_token".into(), refresh_token.clone()?)),
        Base::Password => {
            if let Bootstrap::Password { username, password } = &session.target.bootstrap {
                params.push(("username".into(), username.clone()));
                params.push(("password".into(), password.expose().to_owned()));
            }
        }
        Base::AuthorizationCode => {
            params.push(("code".into(), "tokencert-fuzz-no-such-code".into()));
            params.push(("redirect_uri".into(), "https://client.example/cb".into()));
            params.push(("code_verifier".into(), "a".repeat(43)));
        }
        Base::DeviceCode => params.push((
            "device_code".into(),
            "tokencert-fuzz-no-such-device-code".into(),
        )),
        Base::JwtBearer => params.push(("assertion".into(), "eyJhbGciOiJub25lIn0.e30.".into())),
        Base::TokenExchange => {
            params.push(("subject_token".into(), access_token?));
            params.push((
                "subject_token_type".into(),
                "urn:ietf:params:oauth:token-type:access_token".into(),
            ));
        }
        Base::ClientCredentials | Base::UnknownGrant => {}
    }
    let mut req = Req {
        base,
        mutations: mutations.to_vec(),
        method: "POST".into(),
        params,
        raw_suffix: Vec::new(),
        json_body: false,
        content_type: Some("application/x-www-form-urlencoded".into()),
        headers: Vec::new(),
        auth: Auth::Registered,
        query_credentials: false,
        must_fail: base.fails(),
        refresh_token,
    };
    for m in mutations {
        // A parameter mutation only counts when the parameter is there to mutate.
        let present = |p: &str| req.params.iter().any(|(k, _)| k == p);
        let applies = match m {
            Mutation::DropParam(p)
            | Mutation::DuplicateParam(p)
            | Mutation::EmptyParam(p)
            | Mutation::LongValue(p, _) => present(p),
            _ => true,
        };
        req.must_fail |= applies && m.invalidates(base, session);
        match m {
            Mutation::DropParam(p) => req.params.retain(|(k, _)| k != p),
            Mutation::DuplicateParam(p) => {
                if req.params.iter().any(|(k, _)| k == p) {
                    req.params.push((p.clone(), "tokencert-duplicate".into()));
                }
            }
            Mutation::EmptyParam(p) => {
                for (k, v) in &mut req.params {
                    if k == p {
                        v.clear();
                    }
                }
            }
            Mutation::LongValue(p, n) => {
                for (k, v) in &mut req.params {
                    if k == p {
                        *v = "A".repeat(*n);
                    }
                }
            }
            Mutation::UnknownParam(n) => req
                .params
                .push((format!("tokencert_unknown_{n}"), "1".into())),
            Mutation::GrantType(g) => {
                for (k, v) in &mut req.params {
                    if k == "grant_type" {
                        v.clone_from(g);
                    }
                }
            }
            Mutation::BadPercent => req.raw_suffix.extend_from_slice(b"&tokencert_x=%zz%C3"),
            Mutation::InvalidUtf8 => req
                .raw_suffix
                .extend_from_slice(b"&tokencert_y=\xff\xfe\xc3"),
            Mutation::ContentType(ct) => req.content_type.clone_from(ct),
            Mutation::JsonBody => {
                req.json_body = true;
                req.content_type = Some("application/json".into());
            }
            Mutation::Method(m) => req.method.clone_from(m),
            Mutation::MalformedAuthorization(v) => req.auth = Auth::Raw(v.clone()),
            Mutation::WrongSecret => req.auth = Auth::WrongSecret,
            Mutation::ClientIdOnly => req.auth = Auth::IdOnly,
            Mutation::TwoMethods => req.auth = Auth::Both,
            Mutation::AssertionNone => req.auth = Auth::AssertionNone,
            Mutation::DpopGarbage(v) => req.headers.push(("DPoP".into(), v.clone())),
            Mutation::TamperToken => {
                for (k, v) in &mut req.params {
                    if k == "refresh_token" && !v.is_empty() {
                        let mut chars: Vec<char> = v.chars().collect();
                        let i = chars.len() / 2;
                        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
                        *v = chars.into_iter().collect();
                    }
                }
            }
            Mutation::CredentialsInQuery => req.query_credentials = true,
            Mutation::Oversize(n) => req.params.push(("tokencert_pad".into(), "p".repeat(*n))),
        }
    }
    if req.json_body
        || !req
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    {
        req.must_fail = true;
    }
    if !session.target.clients.contains_key("confidential") && req.auth == Auth::Registered {
        req.auth = Auth::None;
    }
    Some(req)
}

impl Req {
    /// The bytes on the wire, with the confidential client's real credentials applied.
    pub fn prepare(&self, session: &Session) -> Option<PreparedRequest> {
        let mut url = session.target.endpoints.get("token")?.clone();
        let client = session.target.clients.get("confidential");
        let mut params = self.params.clone();
        let mut headers: Vec<(String, String)> = Vec::new();
        if let Some(c) = client {
            let secret = c
                .secret
                .as_ref()
                .map(|s| s.expose().to_owned())
                .unwrap_or_default();
            // The mutations that forge credentials go through the same client authentication
            // as the registered one, with another method or secret.
            let with = |method: AuthMethod, secret: Option<&str>| AuthOverrides {
                method: Some(method),
                secret: secret.map(str::to_owned),
                ..AuthOverrides::default()
            };
            let auth = |o: AuthOverrides, p: &mut Vec<(String, String)>, h: &mut Vec<_>| {
                session.authenticate("confidential", &o, p, h).ok()
            };
            let (p, h) = (&mut params, &mut headers);
            match &self.auth {
                Auth::Registered => auth(AuthOverrides::default(), p, h)?,
                Auth::None => {}
                Auth::Raw(v) => h.push(("Authorization".into(), v.clone())),
                Auth::WrongSecret => {
                    auth(
                        with(
                            AuthMethod::ClientSecretBasic,
                            Some("tokencert-wrong-secret"),
                        ),
                        p,
                        h,
                    )?;
                }
                Auth::IdOnly => auth(with(AuthMethod::None, None), p, h)?,
                Auth::Both => {
                    auth(with(AuthMethod::ClientSecretBasic, Some(&secret)), p, h)?;
                    auth(with(AuthMethod::ClientSecretPost, Some(&secret)), p, h)?;
                }
                Auth::AssertionNone => {
                    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .encode(br#"{"alg":"none"}"#);
                    let claims = serde_json::json!({"iss": c.id, "sub": c.id, "aud": url.as_str(), "exp": crate::http::jwt::now_secs() + 60, "jti": uuid::Uuid::new_v4().to_string()});
                    let payload =
                        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
                    p.push(("client_id".into(), c.id.clone()));
                    p.push(("client_assertion_type".into(), ASSERTION_TYPE.into()));
                    p.push(("client_assertion".into(), format!("{header}.{payload}.")));
                }
            }
            if self.query_credentials {
                url.query_pairs_mut()
                    .append_pair("client_id", &c.id)
                    .append_pair("client_secret", &secret);
            }
        }
        let body = if self.json_body {
            let map: serde_json::Map<String, serde_json::Value> = params
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            serde_json::Value::Object(map).to_string().into_bytes()
        } else {
            let mut b = form_body(&params);
            b.extend_from_slice(&self.raw_suffix);
            b
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

    /// Whether the client authenticated with Basic in this request.
    pub fn used_basic(&self, session: &Session) -> bool {
        match &self.auth {
            Auth::Registered => session
                .target
                .clients
                .get("confidential")
                .is_some_and(|c| c.auth_method == "client_secret_basic"),
            Auth::Raw(v) => v.to_ascii_lowercase().starts_with("basic"),
            Auth::WrongSecret | Auth::Both => true,
            _ => false,
        }
    }
}
