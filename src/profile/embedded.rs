//! The embedded target: tokencert's own reference server, started in process on a free loopback
//! port, described to the harness by the server's own [`Description`].

use super::vocabulary::{OFFLINE_ACCESS, OPENID, ScopeVocabulary, TestUser};
use super::{Authorization, Bootstrap, ClientConfig, Secret, Target};
use reference_server::{Description, Flaw, Running};
use std::collections::BTreeMap;

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

/// Why the embedded server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The policy preset or file is invalid.
    #[error("{0}")]
    Policy(String),
    /// The server could not start.
    #[error("cannot start the embedded reference server: {0}")]
    Server(String),
}

/// Starts the reference server with a policy preset (or policy file) and flaws.
pub async fn start(policy: &str, flaws: &[Flaw]) -> Result<Running, StartError> {
    let policy = reference_server::cli::load_policy(policy)
        .map_err(|e| StartError::Policy(e.to_string()))?;
    let mut config = reference_server::Config::new(policy);
    config.flaws = flaws.to_vec();
    reference_server::spawn(config)
        .await
        .map_err(|e| StartError::Server(e.to_string()))
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
        ("device_approve", &e.device_approve),
    ] {
        endpoints.insert(name.to_owned(), url(value)?);
    }
    if d.test_control {
        // Test control also mints RFC 7523 grant assertions signed by the trusted demo issuer.
        let minter = format!("{}/test/jwt-bearer-assertion", d.issuer);
        endpoints.insert("jwt_bearer_assertion".to_owned(), url(&minter)?);
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
                // Every demo client asks for the granted scope (below), so scenarios know it.
                scope: None,
                bootstrap: None,
            },
        );
    }
    let user = d
        .users
        .first()
        .ok_or("the reference server describes no test user")?;
    // The server consents for a test user named in login_hint, whatever the bootstrap grant.
    let consent = Authorization {
        params: vec![("login_hint".into(), user.username.clone())],
        command: None,
    };
    let bootstrap = if d.policy.grants.password {
        Bootstrap::Password {
            username: user.username.clone(),
            password: Secret::new(user.password.clone()),
        }
    } else {
        Bootstrap::AuthorizationCode {
            params: consent.params.clone(),
            command: None,
        }
    };
    let confidential = d
        .client(
            &clients
                .get("confidential")
                .map(|c| c.id.clone())
                .unwrap_or_default(),
        )
        .ok_or("the reference server describes no client for the `confidential` role")?;
    let scopes = vocabulary(&confidential.scope, &confidential.default_scope);
    let scope = scopes.granted.clone().unwrap_or_default();
    Ok(Target {
        name: format!("reference-server ({})", d.policy.name),
        base_url: url(&running.base_url())?,
        issuer: Some(d.issuer.clone()),
        discovery: None,
        endpoints,
        clients,
        bootstrap,
        scope,
        scopes,
        test_user: Some(TestUser {
            username: user.username.clone(),
            password: Some(Secret::new(user.password.clone())),
        }),
        authorization: Some(consent),
        policy: d.policy.clone(),
        add_capabilities: Vec::new(),
        remove_capabilities: Vec::new(),
        // The embedded server claims what its policy's preset is meant for.
        claims: tokencert_policy::preset_claims(&d.policy.name).unwrap_or_default(),
        deviations: Vec::new(),
        test_clock: match &e.test_clock_advance {
            Some(u) => Some(url(u)?),
            None => None,
        },
        insecure: false,
        timeout: crate::embedded::TIMEOUT,
        max_response: crate::http::BodyLimit::DEFAULT,
        flaws: d.flaws.iter().map(|f| f.name().to_owned()).collect(),
        source: None,
    })
}

/// The vocabulary of a demo client, from what the server lets it ask for (`allowed`) and what it
/// grants when asked for nothing (`default`): the first allowed word the default lacks (other than
/// openid and offline_access) stays outside the grant, for escalation; the grant is the rest, so it
/// differs from the default scope; the narrower scope is the default scope within the grant.
fn vocabulary(allowed: &str, default: &str) -> ScopeVocabulary {
    let default: Vec<&str> = default.split_whitespace().collect();
    let allowed: Vec<&str> = allowed.split_whitespace().collect();
    let outside = allowed
        .iter()
        .find(|w| !default.contains(w) && **w != OPENID && **w != OFFLINE_ACCESS)
        .copied();
    let granted: Vec<&str> = allowed
        .iter()
        .copied()
        .filter(|w| Some(*w) != outside)
        .collect();
    let narrower: Vec<&str> = default
        .iter()
        .copied()
        .filter(|w| granted.contains(w))
        .collect();
    let strict = !narrower.is_empty() && narrower.len() < granted.len();
    ScopeVocabulary {
        granted: Some(granted.join(" ")),
        narrower: strict.then(|| narrower.join(" ")),
        outside: outside.map(str::to_owned),
        unknown: None,
        offline: None,
        openid: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vocabulary_keeps_one_allowed_word_outside_the_grant() {
        let v = vocabulary(
            "openid profile email offline_access a b",
            "openid profile a",
        );
        assert_eq!(
            v.granted.as_deref(),
            Some("openid profile offline_access a b")
        );
        assert_eq!(v.narrower.as_deref(), Some("openid profile a"));
        assert_eq!(v.outside.as_deref(), Some("email"));
        assert!(v.problems("").is_empty());
    }
}
