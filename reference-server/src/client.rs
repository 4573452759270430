//! Registered clients, their authentication methods and allowed grants.

use crate::token::ClientSecret;
use std::collections::BTreeMap;
use std::sync::Arc;

pub use tokencert_policy::{AuthMethod, GrantType};

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// Shared secret (confidential clients except private_key_jwt ones).
    pub secret: Option<ClientSecret>,
    /// The registered authentication method.
    pub auth_method: AuthMethod,
    /// Public client (cannot authenticate).
    pub public: bool,
    /// PKCS#8 PEM of the client's ES256 key (private_key_jwt; a demo DPoP key for DPoP clients).
    pub private_key_pem: Option<&'static str>,
    /// The public half as JWK coordinates `(x, y)`, base64url.
    pub public_key: Option<(String, String)>,
    /// Grants it may use.
    pub grants: Vec<GrantType>,
    /// Registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The scope it may ask for.
    pub scope: Vec<String>,
    /// The scope it gets when it asks for none.
    pub default_scope: Vec<String>,
    /// Registered with `dpop_bound_access_tokens = true` (RFC 9449 §5.2): proofs are mandatory.
    pub dpop_bound: bool,
}

impl Client {
    /// Whether the client may use `grant`.
    pub fn allows(&self, grant: GrantType) -> bool {
        self.grants.contains(&grant)
    }
}

/// The client registry.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    clients: BTreeMap<String, Arc<Client>>,
    order: Vec<String>,
}

impl Registry {
    /// From a list (later duplicates replace earlier ones).
    pub fn new(clients: Vec<Client>) -> Self {
        let mut r = Self::default();
        for c in clients {
            r.order.push(c.id.clone());
            r.clients.insert(c.id.clone(), Arc::new(c));
        }
        r
    }

    /// A client by id.
    pub fn get(&self, id: &str) -> Option<Arc<Client>> {
        self.clients.get(id).cloned()
    }

    /// Every client, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Client>> {
        self.order.iter().filter_map(|id| self.clients.get(id))
    }
}
