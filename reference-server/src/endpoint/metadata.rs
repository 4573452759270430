//! RFC 8414 metadata (also served as OIDC discovery) and the JWK Set. The metadata states exactly
//! what the policy enables, so a harness can derive capabilities from it.

use super::json;
use crate::client::{AuthMethod, GrantType};
use crate::config::CLIENT_SCOPE;
use crate::dpop::SUPPORTED_ALGS;
use crate::flaw::Flaw;
use crate::keys;
use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

/// The metadata document.
pub fn document(state: &AppState) -> Value {
    let p = &state.policy;
    let e = &state.description.endpoints;
    // The `metadata-capabilities-misreported` flaw leaves out the refresh and device grants, adds
    // `none` to the signing algorithms and drops the PKCE methods.
    let misreport = state.flaw(Flaw::MetadataCapabilitiesMisreported);
    let grants: Vec<&str> = GrantType::ALL
        .iter()
        .filter(|g| g.enabled(&p.grants))
        .filter(|g| !misreport || !matches!(g, GrantType::RefreshToken | GrantType::DeviceCode))
        .map(|g| g.as_str())
        .collect();
    let methods = &p.clients.auth_methods;
    let mut signing: Vec<&str> = Vec::new();
    if p.clients.accepts(AuthMethod::ClientSecretJwt) {
        signing.extend(["HS256", "HS384", "HS512"]);
    }
    if p.clients.accepts(AuthMethod::PrivateKeyJwt) {
        signing.push("ES256");
    }
    if misreport {
        signing.push("none");
    }
    let mut pkce = vec!["S256"];
    if p.pkce.plain_allowed {
        pkce.push("plain");
    }
    // The `metadata-endpoints-misreported` flaw names the issuer with a trailing slash and points
    // the token, revocation, introspection and device endpoints at paths that do not answer.
    let wrong = state.flaw(Flaw::MetadataEndpointsMisreported);
    let elsewhere = |url: &str| {
        if wrong {
            url.replacen(state.issuer.as_str(), &format!("{}/v1", state.issuer), 1)
        } else {
            url.to_owned()
        }
    };
    let issuer = if wrong {
        format!("{}/", state.issuer)
    } else {
        state.issuer.clone()
    };
    let mut m = serde_json::Map::new();
    m.insert("issuer".into(), issuer.into());
    m.insert("authorization_endpoint".into(), e.authorize.clone().into());
    m.insert("token_endpoint".into(), elsewhere(&e.token).into());
    m.insert("jwks_uri".into(), e.jwks.clone().into());
    m.insert(
        "revocation_endpoint".into(),
        elsewhere(&e.revocation).into(),
    );
    m.insert(
        "introspection_endpoint".into(),
        elsewhere(&e.introspection).into(),
    );
    if p.grants.device_code {
        m.insert(
            "device_authorization_endpoint".into(),
            elsewhere(&e.device_authorization).into(),
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
    let non_public: Vec<&AuthMethod> = methods.iter().filter(|m| **m != AuthMethod::None).collect();
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
    if !misreport {
        m.insert("code_challenge_methods_supported".into(), json!(pkce));
    }
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
    let doc = document(&state);
    if state.flaw(Flaw::MetadataWrongContentType) {
        // The body is still JSON; only the media type lies (RFC 8414 §3.2: application/json).
        return (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            doc.to_string(),
        )
            .into_response();
    }
    json(doc)
}

/// `GET /jwks`.
pub async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    let mut set = state.signer.jwks();
    if state.flaw(Flaw::JwksPrivateKeyExposed)
        && let (Some(key), Ok(d)) = (
            set["keys"][0].as_object_mut(),
            private_scalar(keys::ISSUER_SIGNING_PEM),
        )
    {
        key.insert("d".into(), d.into());
    }
    json(set)
}

/// The base64url private scalar `d` of a PKCS#8 P-256 key (for the `jwks-private-key-exposed`
/// flaw only).
fn private_scalar(pem: &str) -> Result<String, String> {
    use base64::Engine;
    use p256::pkcs8::DecodePrivateKey;
    let sk = p256::SecretKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sk.to_bytes()))
}
