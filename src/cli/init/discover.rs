//! The server's metadata: both well-known locations are tried, RFC 8414's
//! (`/.well-known/oauth-authorization-server`, inserted before the issuer's path) and OpenID
//! Connect Discovery's (`/.well-known/openid-configuration`, appended to it), since servers
//! publish one, the other or both. What each answered is kept for the draft's comments.

use crate::http::PreparedRequest;
use crate::http::client::HttpClient;
use serde_json::Value;
use url::Url;

/// Which document a URL holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// RFC 8414 authorization server metadata.
    Rfc8414,
    /// OpenID Connect Discovery 1.0.
    Oidc,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Rfc8414 => "RFC 8414",
            Kind::Oidc => "OpenID Connect Discovery",
        }
    }
}

/// The two well-known URLs of `issuer`, RFC 8414's first.
pub(super) fn well_known(issuer: &Url) -> [(Kind, Url); 2] {
    let path = issuer.path().trim_end_matches('/');
    let with_path = |p: String| {
        let mut u = issuer.clone();
        u.set_path(&p);
        u.set_query(None);
        u.set_fragment(None);
        u
    };
    [
        (
            Kind::Rfc8414,
            with_path(format!("/.well-known/oauth-authorization-server{path}")),
        ),
        (
            Kind::Oidc,
            with_path(format!("{path}/.well-known/openid-configuration")),
        ),
    ]
}

/// What the well-known URLs answered.
pub(super) struct Discovery {
    /// Each URL tried with the metadata or why it gave none.
    pub tried: Vec<(Kind, Url, Result<Value, String>)>,
}

impl Discovery {
    /// The document used: RFC 8414's when it answered, else OpenID Connect's.
    pub fn chosen(&self) -> Option<(Kind, &Url, &Value)> {
        self.tried.iter().find_map(|(k, u, r)| match r {
            Ok(v) => Some((*k, u, v)),
            Err(_) => None,
        })
    }
}

/// Fetches both documents.
pub(super) async fn discover(http: &HttpClient, issuer: &Url) -> Discovery {
    let mut tried = Vec::new();
    for (kind, url) in well_known(issuer) {
        let got = fetch(http, &url).await;
        tried.push((kind, url, got));
    }
    Discovery { tried }
}

async fn fetch(http: &HttpClient, url: &Url) -> Result<Value, String> {
    let req = PreparedRequest {
        method: "GET".into(),
        url: url.clone(),
        headers: vec![("Accept".into(), "application/json".into())],
        body: Vec::new(),
    };
    let resp = http.send(&req, None).await?;
    if resp.status != 200 {
        return Err(format!("status {}", resp.status));
    }
    let v: Value = serde_json::from_slice(&resp.body).map_err(|e| format!("not JSON ({e})"))?;
    if v.get("token_endpoint").and_then(Value::as_str).is_none() {
        return Err("no token_endpoint in it".into());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8414_inserts_and_oidc_appends() {
        let urls = |issuer: &str| {
            well_known(&Url::parse(issuer).expect("url")).map(|(_, u)| u.to_string())
        };
        assert_eq!(
            urls("https://as.example"),
            [
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            urls("https://as.example/realms/test/"),
            [
                "https://as.example/.well-known/oauth-authorization-server/realms/test",
                "https://as.example/realms/test/.well-known/openid-configuration"
            ]
        );
    }
}
