//! Live tokens for the requests that need them, shared by the workers. A bootstrap is the
//! expensive part (against a real server it is a login through its pages), so tokens are
//! reused: every token a refresh issues joins the pool, and a token the server refused to
//! refresh goes back for another request (a refusal leaves it live), up to a few uses in case
//! the refusal killed it after all.

use super::budget::Budget;
use crate::http::{HttpResponse, PreparedRequest};
use crate::session::{Record, Session};
use serde_json::Value;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Uses of one refresh token that got no new one back, before it is dropped.
const MAX_USES: u8 = 8;
/// Live refresh tokens kept.
const KEEP: usize = 256;
/// Consecutive failed bootstraps after which the pool stops trying.
const MAX_FAILURES: u32 = 3;

/// A refresh token taken from the pool.
#[derive(Debug, Clone)]
pub struct Lease {
    /// The token.
    pub token: String,
    uses: u8,
}

/// Counts the requests a bootstrap sends.
struct Count(u64);

impl Record for Count {
    fn exchange(&mut self, _: &PreparedRequest, _: Result<&HttpResponse, &str>, _: Duration) {
        self.0 += 1;
    }
}

/// The pool.
pub struct Pool {
    session: Arc<Session>,
    role: &'static str,
    refresh: Mutex<Vec<Lease>>,
    access: Mutex<Vec<String>>,
    /// Requests one bootstrap takes (raised if one ever takes more).
    cost: AtomicU64,
    failures: AtomicU32,
    bootstraps: AtomicU64,
}

impl Pool {
    /// An empty pool bootstrapping the confidential client (or the public one).
    pub fn new(session: Arc<Session>) -> Pool {
        let role = if session.target.clients.contains_key("confidential") {
            "confidential"
        } else {
            "public"
        };
        // The requests of the target's bootstrap grant (a hook's own requests are the hook's).
        let grant = session.target.bootstrap_of(role).grant().to_owned();
        let cost = match grant.as_str() {
            "authorization_code"
                if session
                    .target
                    .authorization()
                    .is_some_and(|a| a.command.is_some()) =>
            {
                1
            }
            "authorization_code" => 2,
            "device_code" => 3,
            _ => 1,
        };
        Pool {
            session,
            role,
            refresh: Mutex::new(Vec::new()),
            access: Mutex::new(Vec::new()),
            cost: AtomicU64::new(cost),
            failures: AtomicU32::new(0),
            bootstraps: AtomicU64::new(0),
        }
    }

    /// Whether tokens can still be had.
    pub fn alive(&self) -> bool {
        self.failures.load(Ordering::SeqCst) < MAX_FAILURES
            || self.refresh.lock().is_ok_and(|r| !r.is_empty())
    }

    /// Bootstraps run so far.
    pub fn bootstraps(&self) -> u64 {
        self.bootstraps.load(Ordering::SeqCst)
    }

    /// A refresh token, bootstrapping a family when the pool is empty.
    pub async fn refresh_token(&self, budget: &Budget) -> Option<Lease> {
        if let Some(l) = self.refresh.lock().ok()?.pop() {
            return Some(l);
        }
        self.bootstrap(budget, true).await;
        self.refresh.lock().ok()?.pop()
    }

    /// A refresh token of a family bootstrapped for it.
    pub async fn fresh_refresh_token(&self, budget: &Budget) -> Option<Lease> {
        let json = self.bootstrap(budget, false).await?;
        let token = json.get("refresh_token")?.as_str()?.to_owned();
        Some(Lease { token, uses: 0 })
    }

    /// An access token (not consumed by its use).
    pub async fn access_token(&self, budget: &Budget) -> Option<String> {
        if let Some(t) = self.access.lock().ok()?.last().cloned() {
            return Some(t);
        }
        self.bootstrap(budget, true).await;
        self.access.lock().ok()?.last().cloned()
    }

    /// Returns a token the server did not rotate away. `served`: a refresh with it just
    /// succeeded without a new refresh token, which proves it alive (RFC 6749 §6: the client
    /// keeps using it), so its count of unproven uses starts over.
    pub fn give_back(&self, mut lease: Lease, served: bool) {
        lease.uses = if served { 0 } else { lease.uses + 1 };
        if lease.uses < MAX_USES
            && let Ok(mut r) = self.refresh.lock()
            && r.len() < KEEP
        {
            r.insert(0, lease);
        }
    }

    /// Keeps the tokens of a successful answer.
    pub fn learn(&self, json: &Value) {
        if let Some(rt) = json.get("refresh_token").and_then(Value::as_str)
            && let Ok(mut r) = self.refresh.lock()
            && r.len() < KEEP
        {
            r.push(Lease {
                token: rt.to_owned(),
                uses: 0,
            });
        }
        if let Some(at) = json.get("access_token").and_then(Value::as_str)
            && let Ok(mut a) = self.access.lock()
        {
            if a.len() >= 8 {
                a.remove(0);
            }
            a.push(at.to_owned());
        }
    }

    /// Bootstraps a family: its token response, whose tokens join the pool when `keep`.
    async fn bootstrap(&self, budget: &Budget, keep: bool) -> Option<Value> {
        if self.failures.load(Ordering::SeqCst) >= MAX_FAILURES {
            return None;
        }
        let cost = self.cost.load(Ordering::SeqCst);
        if !budget.take(cost) {
            return None;
        }
        let mut count = Count(0);
        let request = crate::session::BootstrapRequest::new(self.role);
        let run = self.session.bootstrap(&request, &mut count);
        let outcome = tokio::time::timeout_at(budget.deadline().into(), run).await;
        // A bootstrap that took more requests than any before it: count them all, and
        // reserve that many from now on.
        if count.0 > cost {
            budget.charge(count.0 - cost);
            self.cost.fetch_max(count.0, Ordering::SeqCst);
        } else {
            budget.refund(cost - count.0);
        }
        self.bootstraps.fetch_add(1, Ordering::SeqCst);
        let json = match outcome {
            Ok(Ok(resp)) if (200..300).contains(&resp.status) => {
                serde_json::from_slice::<Value>(&resp.body).ok()
            }
            _ => None,
        };
        match &json {
            Some(j) if j.get("refresh_token").is_some() => {
                self.failures.store(0, Ordering::SeqCst);
                if keep {
                    self.learn(j);
                }
            }
            // No refresh token: the family is of no use to the requests that need one.
            other => {
                if let Some(j) = other {
                    self.learn(j);
                }
                self.failures.fetch_add(1, Ordering::SeqCst);
            }
        }
        json
    }
}
