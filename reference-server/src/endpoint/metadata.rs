//! RFC 8414 metadata (also served as OIDC discovery) and the JWK Set. The metadata states exactly
//! what the policy enables, so a harness can derive capabilities from it.

use super::json;
use crate::client::GrantType;
use crate::config::CLIENT_SCOPE;
use crate::dpop::SUPPORTED_ALGS;
use crate::state::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

/// The metadata document.
pub fn document(state: &AppState) -> Value {
    let p = &state.policy;
    let e = &state.description.endpoints;
    let grants: Vec<&str> = GrantType::ALL
        .iter()
        .filter(|g| g.enabled(&p.grants))
        .map(|g| g.as_str())
        .collect();
    let methods = &p.clients.auth_methods;
    let mut signing: Vec<&str> = Vec::new();
    if methods.iter().any(|m| m == "client_secret_jwt") {
        signing.extend(["HS256", "HS384", "HS512"]);
    }
    if methods.iter().any(|m| m == "private_key_jwt") {
        signing.push("ES256");
    }
    let mut pkce = vec!["S256"];
    if p.pkce.plain_allowed {
        pkce.push("plain");
    }
    let mut m = serde_json::Map::new();
    m.insert("issuer".into(), state.issuer.clone().into());
    m.insert("authorization_endpoint".into(), e.authorize.clone().into());
    m.insert("token_endpoint".into(), e.token.clone().into());
    m.insert("jwks_uri".into(), e.jwks.clone().into());
    m.insert("revocation_endpoint".into(), e.revocation.clone().into());
    m.insert(
        "introspection_endpoint".into(),
        e.introspection.clone().into(),
    );
    if p.grants.device_code {
        m.insert(
            "device_authorization_endpoint".into(),
            e.device_authorization.clone().into(),
        );
    }
    m.insert("grant_types_supported".into(), json!(grants));
    m.insert("response_types_supported".into(), json!(["code"]));
    m.insert("response_modes_supported".into(), json!(["query"]));
    m.insert(
        "scopes_supported".into(),
        json!(CLIENT_SCOPE.split(' ').collect::<Vec<_>>()),
    );
    m.insert(
        "token_endpoint_auth_methods_supported".into(),
        json!(methods),
    );
    // Claims with no elements are omitted (RFC 8414 §3.2).
    if !signing.is_empty() {
        m.insert(
            "token_endpoint_auth_signing_alg_values_supported".into(),
            json!(signing),
        );
    }
    let non_public: Vec<&String> = methods.iter().filter(|m| *m != "none").collect();
    m.insert(
        "revocation_endpoint_auth_methods_supported".into(),
        json!(methods),
    );
    m.insert(
        "introspection_endpoint_auth_methods_supported".into(),
        json!(non_public),
    );
    if !signing.is_empty() {
        m.insert(
            "revocation_endpoint_auth_signing_alg_values_supported".into(),
            json!(signing),
        );
        m.insert(
            "introspection_endpoint_auth_signing_alg_values_supported".into(),
            json!(signing),
        );
    }
    m.insert("code_challenge_methods_supported".into(), json!(pkce));
    if p.dpop.supported {
        m.insert(
            "dpop_signing_alg_values_supported".into(),
            json!(SUPPORTED_ALGS),
        );
    }
    m.insert(
        "authorization_response_iss_parameter_supported".into(),
        true.into(),
    );
    m.insert("subject_types_supported".into(), json!(["public"]));
    m.insert(
        "id_token_signing_alg_values_supported".into(),
        json!(["ES256"]),
    );
    Value::Object(m)
}

/// `GET /.well-known/oauth-authorization-server`.
pub async fn metadata(State(state): State<Arc<AppState>>) -> Response {
    json(document(&state))
}

/// `GET /jwks`.
pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    json(state.signer.jwks())
}
