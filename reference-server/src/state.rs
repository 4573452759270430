//! Everything a request handler needs, built once per server.

use crate::client::Registry;
use crate::clock::{Clock, SystemClock, VirtualClock};
use crate::config::{Config, Description, TEST_SEED, TestUser, test_users};
use crate::error::ServerError;
use crate::flaw::{Flaw, FlawSet};
use crate::keys::{self, Signer};
use crate::policy::Policy;
use crate::store::{self, Store};
use crate::token::TokenGenerator;
use std::sync::{Arc, Mutex};

/// Rotating DPoP nonces (RFC 9449 §8): the current one and its predecessor are accepted.
#[derive(Debug)]
pub struct NonceState {
    /// The nonce handed out now.
    pub current: String,
    /// The one before (still accepted, so a client that just got it is not bounced).
    pub previous: String,
    /// Wall time of the last rotation.
    pub rotated_at: u64,
}

/// How long a DPoP nonce stays current.
pub const NONCE_ROTATION_SECS: u64 = 300;

/// Shared server state.
#[derive(Debug)]
pub struct AppState {
    /// The refresh policy.
    pub policy: Policy,
    /// Active flaws.
    pub flaws: FlawSet,
    /// Token storage.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Random material.
    pub tokens: TokenGenerator,
    /// Registered clients.
    pub clients: Registry,
    /// Test users.
    pub users: Vec<TestUser>,
    /// ID-token signer.
    pub signer: Signer,
    /// Trusted JWT-grant issuers: `(iss, (x, y))`.
    pub trusted_issuers: Vec<(String, (String, String))>,
    /// Issuer identifier = base URL.
    pub issuer: String,
    /// What `--print-config` prints.
    pub description: Description,
    /// Test control enabled.
    pub test_control: bool,
    /// DPoP nonces.
    pub nonces: Mutex<NonceState>,
}

impl AppState {
    /// Builds the state for a server reachable at `issuer`.
    pub fn new(config: &Config, issuer: &str) -> Result<Self, ServerError> {
        let clients = demo_registry()?;
        let retention = store::Retention {
            purge: config.flaws.is_empty(),
            refresh_idle: config.policy.lifetimes.refresh_idle,
        };
        let store = store::open(config.db.as_deref(), retention)?;
        let clock: Arc<dyn Clock> = if config.test_control {
            Arc::new(VirtualClock::new())
        } else {
            Arc::new(SystemClock)
        };
        // Deterministic tokens only in memory: a restarted server on the same database would
        // otherwise mint tokens that already exist.
        let tokens = if config.test_control && config.db.is_none() {
            TokenGenerator::seeded(TEST_SEED)
        } else {
            TokenGenerator::Os
        };
        let signer = Signer::from_pem(keys::ISSUER_SIGNING_PEM).map_err(ServerError::Key)?;
        let trusted =
            keys::public_coordinates(keys::TRUSTED_ISSUER_PEM).map_err(ServerError::Key)?;
        let nonces = NonceState {
            current: tokens.token(),
            previous: tokens.token(),
            rotated_at: clock.wall(),
        };
        Ok(Self {
            policy: config.policy.clone(),
            flaws: FlawSet::new(&config.flaws),
            store,
            clock,
            tokens,
            description: Description::new(config, issuer, &clients),
            clients,
            users: test_users(),
            signer,
            trusted_issuers: vec![(keys::TRUSTED_ISSUER.to_owned(), trusted)],
            issuer: issuer.to_owned(),
            test_control: config.test_control,
            nonces: Mutex::new(nonces),
        })
    }

    /// Whether a flaw is on.
    pub fn flaw(&self, flaw: Flaw) -> bool {
        self.flaws.has(flaw)
    }

    /// The token endpoint URL (audience of client assertions, `htu` of DPoP proofs).
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// The user with these credentials.
    pub fn check_user(&self, username: &str, password: &str) -> bool {
        self.users
            .iter()
            .any(|u| u.username == username && crate::secret::secrets_equal(&u.password, password))
    }

    /// Whether `username` is a test user.
    pub fn is_user(&self, username: &str) -> bool {
        self.users.iter().any(|u| u.username == username)
    }

    /// The current DPoP nonce, rotating it when due.
    pub fn dpop_nonce(&self) -> String {
        let wall = self.clock.wall();
        let mut n = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        if wall >= n.rotated_at + NONCE_ROTATION_SECS {
            n.previous = std::mem::replace(&mut n.current, self.tokens.token());
            n.rotated_at = wall;
        }
        n.current.clone()
    }

    /// Whether a proof's nonce is one the server handed out and still honours.
    pub fn dpop_nonce_valid(&self, nonce: &str) -> bool {
        let current = self.dpop_nonce();
        let n = self.nonces.lock().unwrap_or_else(|p| p.into_inner());
        nonce == current || nonce == n.previous
    }
}

/// The demo clients, as a startup error if the committed keys do not load.
pub fn demo_registry() -> Result<Registry, ServerError> {
    crate::config::demo_clients().map_err(ServerError::Key)
}
