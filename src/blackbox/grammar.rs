//! The request grammar: valid bases and the mutations applied to them.

use super::credentials::{Cred, Forged, WRONG_SECRET};
#[cfg(test)]
use super::request::Seg;
use super::request::{Auth, FORM, Live, ROLE, Req, Sym, Val, template_safe};
use crate::profile::Bootstrap;
use crate::session::Session;
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
    /// `grant_type=password` with the test user (when the target has one with a password).
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
    /// The parameters of the unmutated request.
    fn params(self) -> Vec<(String, Val)> {
        let p = |k: &str, v: Val| (k.to_owned(), v);
        let mut out = vec![p("grant_type", Val::lit(self.grant_type()))];
        match self {
            Base::Refresh => out.push(p("refresh_token", Val::Sym(Sym::RefreshToken))),
            Base::Password => {
                out.push(p("username", Val::Sym(Sym::Username)));
                out.push(p("password", Val::Sym(Sym::Password)));
            }
            Base::AuthorizationCode => {
                out.push(p("code", Val::lit("tokencert-fuzz-no-such-code")));
                out.push(p("redirect_uri", Val::lit("https://client.example/cb")));
                out.push(p("code_verifier", Val::lit("a".repeat(43))));
            }
            Base::DeviceCode => out.push(p(
                "device_code",
                Val::lit("tokencert-fuzz-no-such-device-code"),
            )),
            Base::JwtBearer => out.push(p("assertion", Val::lit("eyJhbGciOiJub25lIn0.e30."))),
            Base::TokenExchange => {
                out.push(p("subject_token", Val::Sym(Sym::AccessToken)));
                out.push(p(
                    "subject_token_type",
                    Val::lit("urn:ietf:params:oauth:token-type:access_token"),
                ));
            }
            Base::ClientCredentials | Base::UnknownGrant => {}
        }
        out
    }
    /// The single-valued parameters a mutation may pick (RFC 6749 §3.2: none may repeat):
    /// the grant's, plus those client authentication and scope add.
    fn single_valued(self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = match self {
            Base::Refresh => vec!["grant_type", "refresh_token"],
            Base::Password => vec!["grant_type", "username", "password"],
            Base::AuthorizationCode => vec!["grant_type", "code", "redirect_uri", "code_verifier"],
            Base::DeviceCode => vec!["grant_type", "device_code"],
            Base::JwtBearer => vec!["grant_type", "assertion"],
            Base::TokenExchange => vec!["grant_type", "subject_token", "subject_token_type"],
            Base::ClientCredentials | Base::UnknownGrant => vec!["grant_type"],
        };
        v.extend([
            "scope",
            "client_id",
            "client_secret",
            "client_assertion",
            "client_assertion_type",
        ]);
        v
    }
}

/// Which of two authentication methods is wrong (RFC 6749 §2.3: one method per request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwoMethods {
    /// Basic with the client's secret, and a wrong `client_secret` in the body.
    BodyWrong,
    /// A Basic header with a wrong secret, and the client's secret in the body.
    BasicWrong,
    /// Basic with the client's secret, and an unsigned `client_assertion` in the body.
    Assertion,
}

/// One thing done to a valid request.
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
    /// A parameter moved from the body into the query string of the POST.
    ParamInQuery(String),
    /// `client_id` and a wrong `client_secret` in the query string, beside the registered
    /// authentication (RFC 6749 §2.3.1: never in the URI).
    CredentialsInQuery,
    /// A generated `Authorization` header instead of the client's authentication.
    Authorization(Forged),
    /// Generated `client_id` / `client_secret` in the body instead of the client's
    /// authentication.
    BodyCredentials(Cred),
    /// The client's id with a wrong secret, by Basic.
    WrongSecret,
    /// Only `client_id` for a confidential client.
    ClientIdOnly,
    /// Two authentication methods, one of them wrong.
    TwoMethods(TwoMethods),
    /// A client assertion with `alg: none`.
    AssertionNone,
    /// A DPoP header that is not a valid proof.
    DpopGarbage(String),
    /// The refresh token with one character changed.
    TamperToken,
    /// A body padded to this many bytes with an unknown parameter.
    Oversize(usize),
}

impl Mutation {
    /// Whether the mutated request must be refused (no token may come back). Content types
    /// are judged on the final request, after every mutation (see [`build`]).
    fn invalidates(&self, base: Base, session: &Session) -> bool {
        match self {
            // A long value is "AAA…", never the real one.
            Mutation::DropParam(p)
            | Mutation::EmptyParam(p)
            | Mutation::ParamInQuery(p)
            | Mutation::LongValue(p, _) => base.required().contains(&p.as_str()),
            // The malformed escape and the non-UTF-8 bytes go into an unknown parameter, which
            // the server must ignore (RFC 6749 §3.2); a lenient form parser (WHATWG) keeps them
            // as they are, so refusing is allowed but not required. They still must not crash
            // the server, and the catalogue's hygiene.invalid-* scenarios put them where a
            // lenient parser has to refuse. Query parameters are no part of a token request.
            // Judged on the final body (see `build`): a later mutation may move a repeated
            // parameter out of it.
            Mutation::DuplicateParam(_)
            | Mutation::UnknownParam(_)
            | Mutation::CredentialsInQuery
            | Mutation::Oversize(_)
            | Mutation::BadPercent
            | Mutation::InvalidUtf8
            | Mutation::ContentType(_)
            | Mutation::JsonBody => false,
            Mutation::DpopGarbage(_) => session.target.policy.dpop.supported,
            Mutation::GrantType(_)
            | Mutation::Method(_)
            | Mutation::Authorization(_)
            | Mutation::BodyCredentials(_)
            | Mutation::WrongSecret
            | Mutation::ClientIdOnly
            | Mutation::TwoMethods(_)
            | Mutation::AssertionNone
            | Mutation::TamperToken => true,
        }
    }

    /// Short name for titles, the console and a lab's expected findings.
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
            Mutation::ParamInQuery(p) => format!("query-{p}"),
            Mutation::CredentialsInQuery => "credentials-in-query".into(),
            Mutation::Authorization(f) => format!("authorization-{}", f.cred_name()),
            Mutation::BodyCredentials(c) => format!("body-credentials-{}", c.name()),
            Mutation::WrongSecret => "wrong-secret".into(),
            Mutation::ClientIdOnly => "client-id-only".into(),
            Mutation::TwoMethods(TwoMethods::BodyWrong) => "two-auth-methods".into(),
            Mutation::TwoMethods(TwoMethods::BasicWrong) => "two-auth-methods-basic-wrong".into(),
            Mutation::TwoMethods(TwoMethods::Assertion) => "two-auth-methods-assertion".into(),
            Mutation::AssertionNone => "assertion-alg-none".into(),
            Mutation::DpopGarbage(_) => "dpop-garbage".into(),
            Mutation::TamperToken => "tampered-token".into(),
            Mutation::Oversize(_) => "oversize-body".into(),
        }
    }

    /// The root-cause class findings are deduplicated by: what part of the request the
    /// mutation breaks, whatever the parameter or the exact bytes.
    pub fn class(&self) -> &'static str {
        match self {
            Mutation::DropParam(_) => "missing-parameter",
            Mutation::EmptyParam(_) => "empty-parameter",
            Mutation::DuplicateParam(_) => "repeated-parameter",
            Mutation::LongValue(..) | Mutation::Oversize(_) => "size",
            Mutation::UnknownParam(_) => "unknown-parameter",
            Mutation::GrantType(_) => "grant-type",
            Mutation::BadPercent | Mutation::InvalidUtf8 => "body-encoding",
            Mutation::ContentType(_) | Mutation::JsonBody => "content-type",
            Mutation::Method(_) => "method",
            Mutation::ParamInQuery(_) | Mutation::CredentialsInQuery => "query-parameters",
            Mutation::Authorization(_) => "authorization-header",
            Mutation::BodyCredentials(_) | Mutation::WrongSecret | Mutation::ClientIdOnly => {
                "client-credentials"
            }
            Mutation::TwoMethods(_) => "two-auth-methods",
            Mutation::AssertionNone => "client-assertion",
            Mutation::DpopGarbage(_) => "dpop",
            Mutation::TamperToken => "token-value",
        }
    }

    /// Whether it replaces the client's authentication (at most one such per request).
    fn is_auth(&self) -> bool {
        matches!(
            self,
            Mutation::Authorization(_)
                | Mutation::BodyCredentials(_)
                | Mutation::WrongSecret
                | Mutation::ClientIdOnly
                | Mutation::TwoMethods(_)
                | Mutation::AssertionNone
        )
    }
}

/// What the target offers the grammar, decided once per run.
#[derive(Debug, Clone)]
pub struct Offer {
    bases: Vec<Base>,
}

impl Offer {
    /// The bases the target can play: token-based ones only while tokens can be had.
    pub fn new(session: &Session) -> Offer {
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
        let password = matches!(session.target.bootstrap, Bootstrap::Password { .. })
            && session
                .target
                .test_user()
                .is_some_and(|u| u.password.is_some());
        if password {
            bases.push(Base::Password);
        }
        if session.target.policy.grants.token_exchange {
            bases.push(Base::TokenExchange);
        }
        Offer { bases }
    }

    /// A base; `tokens` says whether live tokens can still be had.
    pub fn pick_base(&self, rng: &mut StdRng, tokens: bool) -> Base {
        loop {
            let b = *self.bases.choose(rng).unwrap_or(&Base::UnknownGrant);
            if tokens || !(b.needs_refresh_token() || b.needs_access_token()) {
                return b;
            }
        }
    }
}

fn pick<T: Copy>(rng: &mut StdRng, from: &[T]) -> T {
    // Callers pass non-empty tables.
    from[rng.random_range(0..from.len())]
}

/// Up to three mutations for `base`.
pub fn pick_mutations(rng: &mut StdRng, base: Base) -> Vec<Mutation> {
    let n = rng.random_range(0..=3);
    let params = base.single_valued();
    let param = |rng: &mut StdRng| pick(rng, &params).to_owned();
    let grant_param = |rng: &mut StdRng| pick(rng, base.required()).to_owned();
    let mut out: Vec<Mutation> = Vec::new();
    for _ in 0..n {
        let m = match rng.random_range(0..25) {
            0 => Mutation::DropParam(grant_param(rng)),
            1 | 2 => Mutation::DuplicateParam(param(rng)),
            3 => Mutation::EmptyParam(grant_param(rng)),
            4 => Mutation::LongValue(grant_param(rng), pick(rng, &[300, 5_000, 70_000])),
            5 => Mutation::UnknownParam(rng.random_range(1..64)),
            6 => Mutation::GrantType(
                pick(
                    rng,
                    &[
                        "",
                        "REFRESH_TOKEN",
                        "refresh_token ",
                        "urn:x:nope",
                        "implicit",
                        "refresh%5Ftoken",
                    ],
                )
                .to_owned(),
            ),
            7 => Mutation::BadPercent,
            8 => Mutation::InvalidUtf8,
            9 => Mutation::ContentType(
                pick(
                    rng,
                    &[
                        Some("application/json"),
                        Some("text/plain"),
                        None,
                        Some("multipart/form-data; boundary=x"),
                        Some("application/x-www-form-urlencoded; charset=UTF-8"),
                    ],
                )
                .map(str::to_owned),
            ),
            10 => Mutation::JsonBody,
            11 => Mutation::Method(pick(rng, &["GET", "PUT", "DELETE"]).to_owned()),
            12 => Mutation::ParamInQuery(pick(rng, &params[..params.len() - 4]).to_owned()),
            13 => Mutation::CredentialsInQuery,
            14..=16 => Mutation::Authorization(Forged::pick(rng)),
            17 => Mutation::BodyCredentials(Cred::pick(rng)),
            18 if rng.random_bool(0.5) => Mutation::WrongSecret,
            18 => Mutation::ClientIdOnly,
            19 => Mutation::TwoMethods(pick(
                rng,
                &[
                    TwoMethods::BodyWrong,
                    TwoMethods::BasicWrong,
                    TwoMethods::Assertion,
                ],
            )),
            20 => Mutation::AssertionNone,
            21 => Mutation::DpopGarbage(
                pick(rng, &["x", "a.b.c", "eyJhbGciOiJub25lIn0.e30."]).to_owned(),
            ),
            22 if base == Base::Refresh => Mutation::TamperToken,
            _ => Mutation::Oversize(pick(rng, &[10_000, 100_000])),
        };
        if m.is_auth() && out.iter().any(Mutation::is_auth) {
            continue;
        }
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// Builds the request for a base and its mutations; `None` when a needed value is missing
/// or the combination cannot be written as a reproducer (credentials in a raw body).
pub fn build(session: &Session, base: Base, mutations: &[Mutation], live: Live) -> Option<Req> {
    let client = session.target.clients.get(ROLE);
    let client_id = client.map(|c| c.id.clone()).unwrap_or_default();
    let mut req = Req {
        base,
        mutations: mutations.to_vec(),
        method: "POST".into(),
        query: Vec::new(),
        params: base.params(),
        raw_suffix: Vec::new(),
        json_body: false,
        content_type: Some(FORM.into()),
        headers: Vec::new(),
        auth: if client.is_some() {
            Auth::Registered
        } else {
            Auth::None
        },
        must_fail: base.fails(),
        live,
    };
    let with = |method: AuthMethod, secret: Option<&str>| Auth::With {
        method,
        secret: secret.map(str::to_owned),
        jwt_header: Vec::new(),
    };
    for m in mutations {
        // A parameter mutation only counts when the parameter is there to mutate.
        let present = |p: &str| req.params.iter().any(|(k, _)| k == p);
        let applies = match m {
            Mutation::DropParam(p)
            | Mutation::EmptyParam(p)
            | Mutation::LongValue(p, _)
            | Mutation::ParamInQuery(p) => present(p),

            Mutation::TamperToken => present("refresh_token"),
            _ => true,
        };
        if !applies {
            continue;
        }
        req.must_fail |= m.invalidates(base, session);
        let set = |req: &mut Req, p: &str, f: &dyn Fn(&Val) -> Val| {
            for (k, v) in &mut req.params {
                if k == p {
                    *v = f(v);
                }
            }
        };
        match m {
            Mutation::DropParam(p) => req.params.retain(|(k, _)| k != p),
            // An absent parameter goes in twice (a body client_id may go beside any method,
            // RFC 6749 §3.2.1), so that repeating it needs no other mutation to put it there.
            Mutation::DuplicateParam(p) => {
                if !req.params.iter().any(|(k, _)| k == p) {
                    let first = if p == "client_id" {
                        Val::Sym(Sym::ClientId)
                    } else {
                        Val::lit("tokencert-first")
                    };
                    req.params.push((p.clone(), first));
                }
                req.params
                    .push((p.clone(), Val::lit("tokencert-duplicate")));
            }
            Mutation::EmptyParam(p) => set(&mut req, p, &|_| Val::lit("")),
            Mutation::LongValue(p, n) => set(&mut req, p, &|_| Val::lit("A".repeat(*n))),
            Mutation::UnknownParam(n) => req
                .params
                .push((format!("tokencert_unknown_{n}"), Val::lit("1"))),
            Mutation::GrantType(g) => set(&mut req, "grant_type", &|_| Val::lit(g.clone())),
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
            Mutation::ParamInQuery(p) => {
                let moved: Vec<(String, Val)> =
                    req.params.iter().filter(|(k, _)| k == p).cloned().collect();
                req.params.retain(|(k, _)| k != p);
                req.query.extend(moved);
            }
            Mutation::CredentialsInQuery => {
                req.query
                    .push(("client_id".into(), Val::Sym(Sym::ClientId)));
                req.query
                    .push(("client_secret".into(), Val::lit(WRONG_SECRET)));
            }
            Mutation::Authorization(f) => {
                req.auth = Auth::None;
                req.headers
                    .push(("Authorization".into(), f.value(&client_id)));
            }
            Mutation::BodyCredentials(c) => {
                req.auth = Auth::None;
                let (id, secret) = c.parts(&client_id);
                let mut put = |k: &str, v: &[u8]| match std::str::from_utf8(v) {
                    Ok(s) if s == client_id => req.params.push((k.into(), Val::Sym(Sym::ClientId))),
                    Ok(s) if template_safe(s) => req.params.push((k.into(), Val::lit(s))),
                    // Bytes a form value cannot hold go in form-encoded, after the rest.
                    _ => {
                        req.raw_suffix
                            .extend_from_slice(format!("&{k}=").as_bytes());
                        req.raw_suffix
                            .extend(form_urlencoded::byte_serialize(v).flat_map(str::bytes));
                    }
                };
                put("client_id", &id);
                if let Some(s) = secret {
                    put("client_secret", &s);
                }
            }
            Mutation::WrongSecret => {
                req.auth = with(AuthMethod::ClientSecretBasic, Some(WRONG_SECRET));
            }
            Mutation::ClientIdOnly => {
                req.auth = Auth::None;
                req.params
                    .push(("client_id".into(), Val::Sym(Sym::ClientId)));
            }
            Mutation::TwoMethods(TwoMethods::BodyWrong) => {
                req.auth = with(AuthMethod::ClientSecretBasic, None);
                req.params
                    .push(("client_id".into(), Val::Sym(Sym::ClientId)));
                req.params
                    .push(("client_secret".into(), Val::lit(WRONG_SECRET)));
            }
            Mutation::TwoMethods(TwoMethods::BasicWrong) => {
                req.auth = with(AuthMethod::ClientSecretPost, None);
                req.headers.push((
                    "Authorization".into(),
                    Forged::wrong_secret().value(&client_id),
                ));
            }
            Mutation::TwoMethods(TwoMethods::Assertion) => {
                req.auth = with(AuthMethod::ClientSecretBasic, None);
                req.params.push((
                    "client_assertion_type".into(),
                    Val::lit(crate::session::ASSERTION_TYPE),
                ));
                req.params.push((
                    "client_assertion".into(),
                    Val::lit("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0."),
                ));
            }
            Mutation::AssertionNone => {
                req.auth = Auth::With {
                    method: AuthMethod::ClientSecretJwt,
                    secret: None,
                    jwt_header: vec![("alg".into(), "none".into())],
                };
            }
            Mutation::DpopGarbage(v) => req.headers.push(("DPoP".into(), v.clone())),
            Mutation::TamperToken => set(&mut req, "refresh_token", &|v| match v {
                Val::Sym(Sym::RefreshToken) => Val::Sym(Sym::TamperedRefreshToken),
                other => other.clone(),
            }),
            Mutation::Oversize(n) => req
                .params
                .push(("tokencert_pad".into(), Val::lit("p".repeat(*n)))),
        }
    }
    if req.json_body
        || req
            .content_type
            .as_deref()
            .is_none_or(|c| !c.starts_with(FORM))
    {
        req.must_fail = true;
    }
    // RFC 6749 §3.2: no parameter may be included more than once, but unrecognized parameters
    // MUST be ignored: the client-assertion parameters count only at a target that takes
    // client assertions (RFC 7521 §4.2), elsewhere a repeat of them is a repeat of nothing.
    let assertions = [AuthMethod::ClientSecretJwt, AuthMethod::PrivateKeyJwt]
        .iter()
        .any(|m| session.target.policy.clients.auth_methods.contains(m));
    let recognised =
        |name: &[u8]| assertions || !matches!(name, b"client_assertion" | b"client_assertion_type");
    let mut names: Vec<&[u8]> = req.params.iter().map(|(k, _)| k.as_bytes()).collect();
    names.extend(
        req.raw_suffix
            .split(|b| *b == b'&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split(|b| *b == b'=').next().unwrap_or(p)),
    );
    names.retain(|n| recognised(n));
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        req.must_fail = true;
    }
    if req.raw_body() && req.auth.in_body(session) {
        // A raw body cannot take credentials the session adds (a reproducer could not write
        // the client's secret into it): the registered client's secret goes by Basic instead,
        // anything else is not generated.
        let has_secret = client.is_some_and(|c| c.secret.is_some());
        if req.auth == Auth::Registered && has_secret {
            req.auth = with(AuthMethod::ClientSecretBasic, None);
        } else {
            return None;
        }
    }
    Some(req)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
mod tests {
    use super::*;

    use super::super::test_session as session;

    fn live() -> Live {
        Live {
            refresh_token: Some("rt-live".into()),
            access_token: None,
        }
    }

    /// A repeated client assertion is a repeat only where the target takes client assertions:
    /// elsewhere the parameter is unrecognized and must be ignored (RFC 6749 §3.2).
    #[test]
    fn a_repeated_unrecognised_parameter_need_not_be_refused() {
        let dup = [Mutation::DuplicateParam("client_assertion".into())];
        let mut s = session();
        s.target.policy.clients.auth_methods = vec![AuthMethod::ClientSecretJwt];
        assert!(build(&s, Base::Refresh, &dup, live()).unwrap().must_fail);
        s.target.policy.clients.auth_methods =
            vec![AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost];
        assert!(!build(&s, Base::Refresh, &dup, live()).unwrap().must_fail);
        let scope = [Mutation::DuplicateParam("scope".into())];
        assert!(build(&s, Base::Refresh, &scope, live()).unwrap().must_fail);
    }

    #[test]
    fn must_fail_is_judged_on_the_final_request() {
        let s = session();
        let build = |m: &[Mutation]| build(&s, Base::Refresh, m, live()).unwrap();
        assert!(!build(&[]).must_fail);
        let dup = Mutation::DuplicateParam("scope".into());
        let query = Mutation::ParamInQuery("scope".into());
        assert!(
            build(std::slice::from_ref(&dup)).must_fail,
            "scope twice in the body"
        );
        // Moved into the query string, the repeated scope is no part of the token request.
        assert!(!build(&[dup.clone(), query.clone()]).must_fail);
        // Moved first, then repeated in the body: repeated after all.
        assert!(build(&[query, dup]).must_fail);
        assert!(build(&[Mutation::ParamInQuery("refresh_token".into())]).must_fail);
        assert!(!build(&[Mutation::UnknownParam(3)]).must_fail);
        assert!(
            !build(&[Mutation::BadPercent]).must_fail,
            "an unknown parameter"
        );
        assert!(build(&[Mutation::ContentType(Some("text/plain".into()))]).must_fail);
        assert!(build(&[Mutation::TwoMethods(TwoMethods::BodyWrong)]).must_fail);
        let forged = Mutation::Authorization(Forged::wrong_secret());
        let r = build(&[forged]);
        assert!(r.must_fail && r.auth == Auth::None, "{r:?}");
    }

    #[test]
    fn the_wire_and_the_reproducer_hold_the_same_request() {
        let s = session();
        let r = build(
            &s,
            Base::Password,
            &[
                Mutation::InvalidUtf8,
                Mutation::DuplicateParam("client_id".into()),
            ],
            Live::default(),
        )
        .unwrap();
        let wire = r.prepare(&s).unwrap();
        let body = String::from_utf8_lossy(&wire.body).into_owned();
        assert!(
            body.contains("password=pw") && body.contains("client_id=conf-1"),
            "{body}"
        );
        // The raw body is made of the same segments, symbols resolved in place.
        let segs = r.body_segments();
        assert!(segs.contains(&Seg::Form(Sym::Password)), "{segs:?}");
        assert!(segs.contains(&Seg::Form(Sym::ClientId)), "{segs:?}");
    }

    #[test]
    fn classes_group_kinds() {
        let a = Mutation::DuplicateParam("grant_type".into());
        let b = Mutation::DuplicateParam("scope".into());
        assert_ne!(a.kind(), b.kind());
        assert_eq!(a.class(), b.class());
        assert_eq!(Mutation::BadPercent.class(), Mutation::InvalidUtf8.class());
        assert_eq!(
            Mutation::TwoMethods(TwoMethods::BodyWrong).kind(),
            "two-auth-methods"
        );
    }
}
