//! DPoP proofs (RFC 9449) for a key a caller holds.

use crate::http::jwt::DpopKey;
use serde_json::{Map, Value};
use std::sync::Arc;

/// A DPoP key with the claims and header members to put in each of its proofs.
#[derive(Debug, Clone)]
pub struct DpopBinding {
    /// The key.
    pub key: Arc<DpopKey>,
    /// Extra claims (`nonce`, `ath`…).
    pub claims: Map<String, Value>,
    /// Header overrides.
    pub header: Map<String, Value>,
}

impl DpopBinding {
    /// A binding with no extra claims or header members.
    pub fn new(key: Arc<DpopKey>) -> DpopBinding {
        DpopBinding {
            key,
            claims: Map::new(),
            header: Map::new(),
        }
    }

    /// A proof for `method url`; `htu` is the URL without query and fragment (RFC 9449 §4.2).
    pub fn proof(&self, method: &str, url: &url::Url) -> Result<String, String> {
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        self.key
            .proof(
                method,
                htu.as_str(),
                self.claims.clone(),
                self.header.clone(),
                crate::http::jwt::now_secs(),
            )
            .map_err(|e| e.to_string())
    }
}
