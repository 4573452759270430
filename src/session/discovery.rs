//! Authorization server metadata (RFC 8414 §3; the OpenID Connect Discovery document has the
//! same members): fills the endpoints and the issuer the profile leaves out.

use crate::http::PreparedRequest;
use crate::http::client::HttpClient;
use crate::profile::Target;
use serde_json::Value;

/// Endpoint names and the metadata members that give them.
const FIELDS: &[(&str, &str)] = &[
    ("token", "token_endpoint"),
    ("authorization", "authorization_endpoint"),
    ("revocation", "revocation_endpoint"),
    ("introspection", "introspection_endpoint"),
    ("device_authorization", "device_authorization_endpoint"),
    ("jwks", "jwks_uri"),
];

/// Fetches the metadata at `url` into `target`; what the profile sets by hand wins.
pub async fn discover(
    http: &HttpClient,
    target: &mut Target,
    url: &url::Url,
) -> Result<(), String> {
    let req = PreparedRequest {
        method: "GET".into(),
        url: url.clone(),
        headers: vec![("accept".into(), "application/json".into())],
        body: Vec::new(),
    };
    let resp = http
        .send(&req, None)
        .await
        .map_err(|e| format!("discovery at {url}: {e}"))?;
    if resp.status != 200 {
        return Err(format!(
            "discovery at {url}: status {} (expected 200)",
            resp.status
        ));
    }
    let meta: Value = serde_json::from_slice(&resp.body)
        .map_err(|e| format!("discovery at {url}: not JSON ({e})"))?;
    for (name, field) in FIELDS {
        if target.endpoints.contains_key(*name) {
            continue;
        }
        if let Some(u) = meta
            .get(*field)
            .and_then(Value::as_str)
            .and_then(|s| url::Url::parse(s).ok())
        {
            target.endpoints.insert((*name).to_owned(), u);
        }
    }
    target
        .endpoints
        .entry("metadata".into())
        .or_insert_with(|| url.clone());
    if target.issuer.is_none() {
        target.issuer = meta
            .get("issuer")
            .and_then(Value::as_str)
            .map(str::to_owned);
    }
    if !target.endpoints.contains_key("token") {
        return Err(format!(
            "discovery at {url}: no token_endpoint in the metadata"
        ));
    }
    Ok(())
}
