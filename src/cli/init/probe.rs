//! Safe probes with the test client: nothing a probe sends can hurt a token family other than
//! the one it creates for itself, and nothing is replayed (a replay of a superseded refresh token
//! could trigger reuse detection). Each probe records what it saw as an inferred policy value,
//! or a note saying why it could not tell.
//!
//! 1. Client authentication: a refresh with a made-up refresh token under each secret-based
//!    method. `invalid_grant` means the client authenticated (the token was the problem);
//!    `invalid_client` means the method was refused. One more with a wrong secret in the body
//!    shows the status of `invalid_client` without the Authorization header.
//! 2. Grant types: each sent with made-up values (`unsupported_grant_type` means not offered).
//!    A malformed `DPoP` header on a client_credentials request: rejected means DPoP is read.
//! 3. The bootstrap grant (password, else client_credentials): does it return a refresh token,
//!    `expires_in`, `Pragma: no-cache`, the scope when it is the one asked for.
//! 4. One refresh: a new refresh token (rotation), the same one, or none.
//! 5. Introspection of the new access and refresh tokens by their own client.
//! 6. Revocation of the probe's refresh token, when the server has the endpoint (clean-up).

use super::infer;
use super::infer::Findings;
use crate::http::client::form_body;
use crate::http::{HttpResponse, PreparedRequest};
use crate::session::{AuthOverrides, BootstrapRequest, Session, Unrecorded};
use serde_json::Value;
use tokencert_policy::{AuthMethod, GrantType};

/// The role the test client plays in the draft.
pub(super) const ROLE: &str = "confidential";

/// Secret-based methods a probe can try with the client's secret.
const METHODS: [AuthMethod; 3] = [
    AuthMethod::ClientSecretBasic,
    AuthMethod::ClientSecretPost,
    AuthMethod::ClientSecretJwt,
];

/// A POST to a named endpoint as the test client, with `method` (else its own) and `secret`
/// (else its own).
async fn call(
    session: &Session,
    endpoint: &str,
    mut form: Vec<(String, String)>,
    method: Option<AuthMethod>,
    secret: Option<String>,
) -> Result<HttpResponse, String> {
    let url = session.endpoint(endpoint)?;
    let mut headers = Vec::new();
    let o = AuthOverrides {
        method,
        secret,
        ..AuthOverrides::default()
    };
    session.authenticate(ROLE, &o, &mut form, &mut headers)?;
    headers.push((
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    headers.push(("Accept".into(), "application/json".into()));
    let req = PreparedRequest {
        method: "POST".into(),
        url,
        headers,
        body: form_body(&form),
    };
    session.send(&req, None, &mut Unrecorded).await
}

fn json(resp: &HttpResponse) -> Value {
    serde_json::from_slice(&resp.body).unwrap_or(Value::Null)
}

/// `400 invalid_grant`, `200`: what an answer was, in a few words (the `error` code is
/// server-controlled: kept short, printable).
fn shown(resp: &HttpResponse) -> String {
    match json(resp).get("error").and_then(Value::as_str) {
        Some(e) => format!("{} {}", resp.status, super::draft::printable(e, 40)),
        None => resp.status.to_string(),
    }
}

fn error_of(resp: &HttpResponse) -> Option<String> {
    json(resp)
        .get("error")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// Which secret-based methods the token endpoint accepts for the test client; the first
/// accepted is the client's method in the draft.
pub(super) async fn auth_methods(session: &Session, f: &mut Findings) -> Option<AuthMethod> {
    let bogus = vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        (
            "refresh_token".to_owned(),
            format!("tokencert-init-probe-{}", uuid::Uuid::new_v4().simple()),
        ),
    ];
    let mut accepted = Vec::new();
    let mut seen = Vec::new();
    for m in METHODS {
        match call(session, "token", bogus.clone(), Some(m), None).await {
            Ok(resp) => {
                seen.push(format!("{m}: {}", shown(&resp)));
                match error_of(&resp).as_deref() {
                    Some("invalid_client") => {}
                    Some("invalid_grant") => accepted.push(m),
                    _ if resp.status == 401 => {}
                    _ => {}
                }
            }
            Err(e) => seen.push(format!("{m}: {}", super::draft::printable(&e, 60))),
        }
    }
    let evidence = format!(
        "a refresh with a made-up token answered {} (invalid_grant: authenticated)",
        seen.join(", ")
    );
    if accepted.is_empty() {
        f.warn(format!(
            "the token endpoint accepted none of the secret-based methods for this client ({}): set the client's auth_method (private_key_jwt needs a private_key)",
            seen.join(", ")
        ));
        return None;
    }
    // Methods the metadata lists that a secret cannot try (private_key_jwt, none) stay listed.
    let listed: Vec<String> = f
        .get("clients.auth_methods")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let methods: Vec<&str> = AuthMethod::ALL
        .iter()
        .filter(|m| {
            accepted.contains(m) || (!METHODS.contains(m) && listed.iter().any(|l| l == m.as_str()))
        })
        .map(|m| m.as_str())
        .collect();
    let untried = if methods.len() > accepted.len() {
        "; the others as the metadata lists them (not probed)"
    } else {
        ""
    };
    f.set(
        "clients.auth_methods",
        methods,
        format!("{evidence}{untried}"),
    );
    // The status of invalid_client when the Authorization header was not used.
    let wrong = Some("tokencert-init-wrong-secret".to_owned());
    if let Ok(resp) = call(
        session,
        "token",
        bogus,
        Some(AuthMethod::ClientSecretPost),
        wrong,
    )
    .await
        && error_of(&resp).as_deref() == Some("invalid_client")
        && matches!(resp.status, 400 | 401)
    {
        f.set(
            "clients.invalid_client_status",
            resp.status,
            format!(
                "a wrong client_secret in the body answered {}",
                shown(&resp)
            ),
        );
    }
    accepted.first().copied()
}

/// Which grant types the token endpoint offers this client: each is sent with made-up values
/// (a password grant for a user that does not exist, so no real account sees a failed login).
/// `unsupported_grant_type` or `unauthorized_client` means no; an error about the made-up
/// values means yes. The refresh_token grant answered the client authentication probe already.
pub(super) async fn grants(session: &Session, f: &mut Findings) {
    let made_up = || format!("tokencert-init-probe-{}", uuid::Uuid::new_v4().simple());
    for g in GrantType::ALL {
        let params: Vec<(&str, String)> = match g {
            GrantType::RefreshToken => continue,
            GrantType::AuthorizationCode => vec![
                ("code", made_up()),
                ("redirect_uri", "https://tokencert.invalid/cb".into()),
            ],
            GrantType::Password => vec![("username", made_up()), ("password", made_up())],
            GrantType::ClientCredentials => Vec::new(),
            GrantType::JwtBearer => vec![("assertion", made_up())],
            GrantType::DeviceCode => vec![("device_code", made_up())],
            GrantType::TokenExchange => vec![
                ("subject_token", made_up()),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token".into(),
                ),
            ],
        };
        let mut form = vec![("grant_type".to_owned(), g.as_str().to_owned())];
        form.extend(params.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let key = infer::grant_key(g);
        let resp = match call(session, "token", form, None, None).await {
            Ok(r) => r,
            Err(e) => {
                f.note(format!("{key}: {}", super::draft::printable(&e, 80)));
                continue;
            }
        };
        let error = error_of(&resp);
        let offered = match error.as_deref() {
            _ if resp.status == 200 => Some(true),
            Some("unsupported_grant_type" | "unauthorized_client") => Some(false),
            Some(
                "invalid_grant"
                | "invalid_request"
                | "invalid_scope"
                | "invalid_target"
                | "expired_token"
                | "authorization_pending"
                | "access_denied",
            ) => Some(true),
            _ => None,
        };
        let evidence = format!(
            "grant_type={} with made-up values answered {}",
            g.as_str(),
            shown(&resp)
        );
        match offered {
            Some(on) => f.set(key, on, evidence),
            None => f.note(format!("{key}: {evidence}; not inferred")),
        }
    }
}

/// Whether the token endpoint understands DPoP (RFC 9449): a client_credentials request (one
/// the client may make) with a `DPoP` header that is no proof at all. `invalid_dpop_proof`
/// means it reads the header; a token means it ignores it.
pub(super) async fn dpop(session: &Session, f: &mut Findings) {
    if f.get("grants.client_credentials") != Some(&Value::Bool(true)) {
        return;
    }
    let Ok(url) = session.endpoint("token") else {
        return;
    };
    let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
    let mut headers = vec![("DPoP".to_owned(), "tokencert-init-not-a-proof".to_owned())];
    if session
        .authenticate(ROLE, &AuthOverrides::default(), &mut form, &mut headers)
        .is_err()
    {
        return;
    }
    headers.push((
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    let req = PreparedRequest {
        method: "POST".into(),
        url,
        headers,
        body: form_body(&form),
    };
    let Ok(resp) = session.send(&req, None, &mut Unrecorded).await else {
        return;
    };
    let supported = match error_of(&resp).as_deref() {
        Some("invalid_dpop_proof") => true,
        _ if resp.status == 200 => false,
        _ => {
            f.note(format!(
                "dpop.supported: a malformed DPoP header answered {}; not inferred",
                shown(&resp)
            ));
            return;
        }
    };
    f.set(
        "dpop.supported",
        supported,
        format!(
            "a client_credentials request with a malformed DPoP header answered {}",
            shown(&resp)
        ),
    );
}

/// What the probes of a token family need to know.
pub(super) struct Family<'a> {
    /// The bootstrap grant's name (`password` or `client_credentials`).
    pub grant: &'a str,
    /// The scope asked for, if one was.
    pub scope: Option<&'a str>,
}

/// Bootstrap, one refresh, introspection and clean-up.
pub(super) async fn family(session: &Session, fam: &Family<'_>, f: &mut Findings) {
    let boot = match session
        .bootstrap(&BootstrapRequest::new(ROLE), &mut Unrecorded)
        .await
    {
        Ok(r) => r,
        Err(e) => {
            f.warn(format!(
                "the bootstrap's {} grant failed ({}): no token family was probed, and the draft's bootstrap will not work as written",
                fam.grant,
                super::draft::printable(&e, 80)
            ));
            return;
        }
    };
    if boot.status != 200 {
        f.warn(format!(
            "the bootstrap's {} grant answered {}: no token family was probed, and the draft's bootstrap will not work as written (an authorization_code bootstrap with a login hook may: README)",
            fam.grant,
            shown(&boot)
        ));
        return;
    }
    let body = json(&boot);
    let grant = fam.grant;
    let pragma = |r: &HttpResponse| {
        r.header_values("pragma")
            .iter()
            .any(|v| v.to_ascii_lowercase().contains("no-cache"))
    };
    let mut pragma_seen = vec![(format!("the {grant} grant"), pragma(&boot))];
    let mut echo_seen: Vec<(String, bool)> = Vec::new();
    if fam.scope.is_some() {
        // RFC 6749 §5.1: `scope` may be left out when it is the one asked for.
        let echoed = body.get("scope").is_some();
        echo_seen.push((format!("the {grant} grant asking for a scope"), echoed));
    }
    if let Some(n) = body.get("expires_in").and_then(Value::as_u64) {
        f.set(
            "lifetimes.access_token",
            n,
            format!("the {grant} grant answered expires_in {n}"),
        );
    }
    let rt0 = body
        .get("refresh_token")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let at = body
        .get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if grant == "password" {
        f.set(
            "refresh_tokens.password",
            rt0.is_some(),
            format!(
                "the password grant answered {} refresh_token",
                if rt0.is_some() { "with a" } else { "without a" }
            ),
        );
    }
    let mut current_rt = rt0.clone();
    let mut current_at = at;
    if let Some(rt0) = &rt0 {
        let form = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), rt0.clone()),
        ];
        match call(session, "token", form, None, None).await {
            Ok(resp) if resp.status == 200 => {
                let r = json(&resp);
                let rt1 = r.get("refresh_token").and_then(Value::as_str);
                let (rotation, unrotated, saw) = match rt1 {
                    Some(t) if t != rt0 => ("always", None, "a new refresh token"),
                    Some(_) => ("never", Some("same"), "the same refresh token"),
                    None => ("never", Some("omitted"), "no refresh_token"),
                };
                let evidence = format!(
                    "a refresh by this confidential client returned {saw} (a server may rotate only public clients' tokens: `public_only`)"
                );
                f.set("rotation", rotation, evidence.clone());
                if let Some(u) = unrotated {
                    f.set("unrotated_refresh_token", u, evidence);
                }
                pragma_seen.push(("the refresh".to_owned(), pragma(&resp)));
                echo_seen.push((
                    "a refresh without scope".to_owned(),
                    r.get("scope").is_some(),
                ));
                if let Some(t) = rt1 {
                    current_rt = Some(t.to_owned());
                }
                if let Some(t) = r.get("access_token").and_then(Value::as_str) {
                    current_at = Some(t.to_owned());
                }
            }
            Ok(resp) => f.note(format!(
                "rotation: the refresh answered {}; not inferred",
                shown(&resp)
            )),
            Err(e) => f.note(format!(
                "rotation: the refresh failed ({}); not inferred",
                super::draft::printable(&e, 80)
            )),
        }
    } else {
        f.note(format!(
            "rotation and refresh: the {grant} grant returned no refresh token{}",
            if grant == "client_credentials" {
                " (give --username and --password-env for a password grant)"
            } else {
                ""
            }
        ));
    }
    let all = |seen: &[(String, bool)]| seen.iter().all(|(_, b)| *b);
    let describe = |seen: &[(String, bool)], what: &str| {
        seen.iter()
            .map(|(w, b)| format!("{w}: {}{what}", if *b { "" } else { "no " }))
            .collect::<Vec<_>>()
            .join(", ")
    };
    f.set(
        "pragma_no_cache",
        all(&pragma_seen),
        describe(&pragma_seen, "Pragma: no-cache"),
    );
    if !echo_seen.is_empty() {
        f.set(
            "scope.always_echo",
            all(&echo_seen),
            describe(&echo_seen, "scope in the answer"),
        );
    }
    introspection(session, current_at.as_deref(), current_rt.as_deref(), f).await;
    // Clean-up: the probe's family is not needed any more.
    if let (Some(rt), Ok(_)) = (&current_rt, session.endpoint("revocation")) {
        let form = vec![
            ("token".to_owned(), rt.clone()),
            ("token_type_hint".to_owned(), "refresh_token".to_owned()),
        ];
        let _ = call(session, "revocation", form, None, None).await;
    }
}

/// Introspection of the probe's own tokens by their own client.
async fn introspection(session: &Session, at: Option<&str>, rt: Option<&str>, f: &mut Findings) {
    if session.endpoint("introspection").is_err() {
        f.note("introspection: the server names no introspection endpoint");
        return;
    }
    for (token, key, what) in [
        (at, "introspection.access_tokens", "access token"),
        (rt, "introspection.refresh_tokens", "refresh token"),
    ] {
        let Some(token) = token else { continue };
        let form = vec![("token".to_owned(), token.to_owned())];
        match call(session, "introspection", form, None, None).await {
            Ok(resp) if resp.status == 200 => match json(&resp).get("active") {
                Some(Value::Bool(active)) => f.set(
                    key,
                    *active,
                    format!("its own client introspecting a live {what} got active: {active}"),
                ),
                _ => f.note(format!(
                    "introspection of a {what}: no `active` in the answer"
                )),
            },
            Ok(resp) => f.note(format!(
                "introspection of a {what} by its own client answered {}; not inferred",
                shown(&resp)
            )),
            Err(e) => f.note(format!(
                "introspection of a {what}: {}",
                super::draft::printable(&e, 80)
            )),
        }
    }
}
