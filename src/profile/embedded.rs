//! The embedded target: tokencert's own reference server, started in process on a free loopback
//! port, described to the harness by the server's own [`Description`].

use super::{Bootstrap, ClientConfig, Secret, Target};
use reference_server::{Description, Flaw, Running};
use std::collections::BTreeMap;
use std::time::Duration;

/// Which demo clients can play each scenario role, in order of preference. A role gets the first
/// whose authentication method the policy accepts (under `fapi2`, `confidential` is the
/// private_key_jwt client); a role none can play is left out, so its cells skip with the reason.
const ROLES: &[(&str, &[&str])] = &[
    (
        "confidential",
        &[
            "confidential-basic",
            "confidential-post",
            "confidential-secret-jwt",
            "confidential-private-key-jwt",
        ],
    ),
    ("basic_special", &["confidential-basic"]),
    ("confidential2", &["confidential-basic-2"]),
    ("post", &["confidential-post"]),
    ("secret_jwt", &["confidential-secret-jwt"]),
    ("private_key_jwt", &["confidential-private-key-jwt"]),
    ("public", &["public-1"]),
    ("public2", &["public-2"]),
    ("dpop", &["public-dpop"]),
    ("no_refresh", &["confidential-no-refresh"]),
];

/// Starts the reference server with a policy preset (or policy file) and flaws.
pub async fn start(policy: &str, flaws: &[Flaw]) -> Result<Running, String> {
    let policy = reference_server::cli::load_policy(policy).map_err(|e| e.to_string())?;
    let mut config = reference_server::Config::new(policy);
    config.flaws = flaws.to_vec();
    reference_server::spawn(config)
        .await
        .map_err(|e| format!("cannot start the embedded reference server: {e}"))
}

/// The target profile of a running reference server.
pub fn target(running: &Running) -> Result<Target, String> {
    let d: &Description = running.description();
    let url = |s: &str| url::Url::parse(s).map_err(|e| format!("reference server url `{s}`: {e}"));
    let mut endpoints = BTreeMap::new();
    let e = &d.endpoints;
    for (name, value) in [
        ("token", &e.token),
        ("authorization", &e.authorize),
        ("revocation", &e.revocation),
        ("introspection", &e.introspection),
        ("device_authorization", &e.device_authorization),
        ("jwks", &e.jwks),
        ("metadata", &e.metadata),
    ] {
        endpoints.insert(name.to_owned(), url(value)?);
    }
    let mut clients = BTreeMap::new();
    let allowed = &d.policy.clients.auth_methods;
    for (role, candidates) in ROLES {
        let Some(c) = candidates
            .iter()
            .filter_map(|id| d.client(id))
            .find(|c| allowed.iter().any(|m| m.as_str() == c.auth_method))
        else {
            continue;
        };
        clients.insert(
            (*role).to_owned(),
            ClientConfig {
                role: (*role).to_owned(),
                id: c.id.clone(),
                secret: c.secret.clone().map(Secret::new),
                auth_method: c.auth_method.clone(),
                public: c.public,
                private_key: c.private_key_pem.clone().map(Secret::new),
                assertion_audience: "token_endpoint".into(),
                redirect_uri: c.redirect_uris.first().cloned(),
                scope: Some(c.scope.clone()),
            },
        );
    }
    let user = d
        .users
        .first()
        .ok_or("the reference server describes no test user")?;
    let bootstrap = if d.policy.grants.password {
        Bootstrap::Password {
            username: user.username.clone(),
            password: Secret::new(user.password.clone()),
        }
    } else {
        Bootstrap::AuthorizationCode {
            params: vec![("login_hint".into(), user.username.clone())],
            command: None,
        }
    };
    let scope = clients
        .get("confidential")
        .and_then(|c| c.scope.clone())
        .unwrap_or_else(|| "openid offline_access".into());
    Ok(Target {
        name: format!("reference-server ({})", d.policy.name),
        base_url: url(&running.base_url())?,
        issuer: Some(d.issuer.clone()),
        discovery: None,
        endpoints,
        clients,
        bootstrap,
        scope,
        policy: d.policy.clone(),
        add_capabilities: Vec::new(),
        remove_capabilities: Vec::new(),
        deviations: Vec::new(),
        test_clock: match &e.test_clock_advance {
            Some(u) => Some(url(u)?),
            None => None,
        },
        insecure: false,
        timeout: Duration::from_secs(10),
        max_response: crate::http::BodyLimit::DEFAULT,
        flaws: d.flaws.iter().map(|f| f.name().to_owned()).collect(),
    })
}
