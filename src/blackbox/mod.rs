//! Black-box, grammar-aware fuzzing of a live token endpoint (`tokencert fuzz`).
//!
//! Each request starts from a valid one (a refresh with a live token, a password or
//! client-credentials grant, a code redemption…) and gets a few mutations from a grammar of what
//! goes wrong at token endpoints: grant types, missing, empty, repeated, oversized or unknown
//! parameters, parameters in the query string, broken percent-encoding and UTF-8, content types,
//! JSON bodies, methods, generated `Authorization` headers and client credentials, two
//! authentication methods at once, client assertions and DPoP proofs. A mutation knows whether
//! it makes the request one that must fail. Oracles judge every answer: a 5xx; a token issued for
//! a request that must fail; an error that is not RFC 6749 §5.2 JSON or has the wrong status; a
//! 401 after Basic without `WWW-Authenticate: Basic`; a token response without
//! `Cache-Control: no-store`; an answer slower than the bound.
//!
//! Several workers send concurrently over one session, sharing live tokens ([`pool`]) and one
//! [`budget::Budget`] that every request takes from — confirmation, minimisation and bootstraps
//! included — so `--max-requests` and `--duration` are hard bounds. A new kind of firing request
//! is sent again (a finding must reproduce), minimised (mutations dropped while the oracle still
//! fires) and filed under its root cause ([`triage`]); findings become scenario YAML
//! reproducers, `findings.json`, SARIF and a summary table ([`output`]).

mod budget;
mod credentials;
mod grammar;
pub mod oracle;
mod output;
mod pool;
mod request;
mod triage;
mod write;

use crate::http::client::HttpClient;
use crate::http::{HttpResponse, PreparedRequest};
use crate::session::Session;
use budget::Budget;
use grammar::{Base, Mutation, Offer};
pub use oracle::Oracle;
use oracle::Sent;
pub use output::{Written, summary_table, write_reports};
use pool::{Lease, Pool};
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use request::{Live, Req};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
pub use triage::Finding;
use triage::{Seen, Triage};

/// Bounds and output of a fuzzing run.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    /// Stop after this long (from `started`).
    pub duration: Duration,
    /// When the run's clock started (the command's start, so that setup counts too); `None`:
    /// when [`run`] is called.
    pub started: Option<Instant>,
    /// Time kept at the end of `duration` for writing the outputs.
    pub reserve: Duration,
    /// Stop after this many requests (every request counts: bootstraps, confirmation and
    /// minimisation too).
    pub max_requests: u64,
    /// RNG seed (with one connection, the same seed replays the same request sequence against
    /// the same target; with several, each connection's sequence is the same).
    pub seed: u64,
    /// Where the outputs go.
    pub out: PathBuf,
    /// At most this many requests per second (0: unbounded).
    pub rate: u32,
    /// Answers slower than this are findings.
    pub latency_bound: Duration,
    /// Requests in flight at once.
    pub connections: usize,
    /// Print a progress line.
    pub progress: bool,
}

impl Default for FuzzOptions {
    fn default() -> Self {
        FuzzOptions {
            duration: Duration::from_secs(60),
            started: None,
            reserve: Duration::ZERO,
            max_requests: 100_000,
            seed: 1,
            out: PathBuf::from("reports/fuzz"),
            rate: 0,
            latency_bound: Duration::from_secs(2),
            connections: 1,
            progress: false,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct FuzzSummary {
    /// Requests sent (every one: bootstraps, confirmation and minimisation included).
    pub requests: u64,
    /// Wall time from the run's start.
    pub elapsed: Duration,
    /// Findings, one per root cause.
    pub findings: Vec<Finding>,
    /// Bootstraps (fresh token families).
    pub bootstraps: u64,
    /// Firing requests that did not fire again when sent a second time (not reported).
    pub dismissed: u64,
    /// Firing requests the bounds left no room to confirm (not reported).
    pub unconfirmed: u64,
    /// Concurrent connections used.
    pub connections: usize,
    /// Reproducers a secret had to be redacted from (a bug of tokencert).
    pub redacted: Vec<PathBuf>,
    /// Why a reproducer could not be written.
    pub write_error: Option<String>,
}

/// Reproducers written so far.
#[derive(Default)]
struct Reproducers {
    redacted: Vec<PathBuf>,
    error: Option<String>,
}

/// What the workers share.
struct Shared {
    session: Arc<Session>,
    /// What the response invariants know of the target.
    invariants: crate::invariant::Context,
    opts: FuzzOptions,
    budget: Budget,
    pool: Pool,
    offer: Offer,
    triage: Mutex<Triage>,
    /// Readers: ordinary requests. The writer: a request that must be alone to be judged
    /// (slowness is confirmed without the fuzzer's own load).
    solo: tokio::sync::RwLock<()>,
    /// A client without keep-alive, to retry on a fresh connection.
    fresh: HttpClient,
    /// The next send slot under `--rate`.
    next_slot: tokio::sync::Mutex<Instant>,
    /// Signatures still unconfirmed when the bounds stopped the run.
    pending: AtomicU64,
    reproducers: Mutex<Reproducers>,
}

/// Runs the fuzzer against the session's target.
pub async fn run(session: Arc<Session>, opts: &FuzzOptions) -> FuzzSummary {
    let started = opts.started.unwrap_or_else(Instant::now);
    let deadline = (started + opts.duration)
        .checked_sub(opts.reserve)
        .unwrap_or(started);
    let fresh = HttpClient::unpooled(
        opts.latency_bound * 4,
        session.target.insecure,
        session.target.max_response,
    )
    .unwrap_or_else(|_| session.http.clone());
    let connections = opts.connections.max(1);
    let shared = Arc::new(Shared {
        pool: Pool::new(Arc::clone(&session)),
        offer: Offer::new(&session),
        invariants: crate::invariant::Context::for_target(&session.target),
        session,
        opts: opts.clone(),
        budget: Budget::new(opts.max_requests, deadline),
        triage: Mutex::new(Triage::default()),
        solo: tokio::sync::RwLock::new(()),
        fresh,
        next_slot: tokio::sync::Mutex::new(Instant::now()),
        pending: AtomicU64::new(0),
        reproducers: Mutex::new(Reproducers::default()),
    });
    let progress = opts
        .progress
        .then(|| tokio::spawn(progress(Arc::clone(&shared), started)));
    let mut workers = tokio::task::JoinSet::new();
    for i in 0..connections {
        workers.spawn(worker(Arc::clone(&shared), i as u64));
    }
    while workers.join_next().await.is_some() {}
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    let triage = shared
        .triage
        .lock()
        .map(|mut t| std::mem::take(&mut *t))
        .unwrap_or_default();
    let dismissed = triage.dismissed;
    let (findings, merged) = triage.findings();
    // A finding folded into another root cause at the end leaves no reproducer of its own.
    for f in merged {
        let _ = std::fs::remove_file(f);
    }
    let reproducers = shared
        .reproducers
        .lock()
        .map(|mut r| std::mem::take(&mut *r))
        .unwrap_or_default();
    FuzzSummary {
        redacted: reproducers.redacted,
        write_error: reproducers.error,
        requests: shared.budget.used(),
        elapsed: started.elapsed(),
        findings,
        bootstraps: shared.pool.bootstraps(),
        dismissed,
        unconfirmed: shared.pending.load(Ordering::SeqCst),
        connections,
    }
}

async fn progress(sh: Arc<Shared>, started: Instant) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let n = sh.budget.used();
        let rps = n as f64 / started.elapsed().as_secs_f64().max(0.001);
        let found = sh.triage.lock().map(|t| t.len()).unwrap_or(0);
        eprint!("\r  {n} requests, {rps:.0} req/s, {found} findings   ");
    }
}

/// One connection's loop: generate, send, judge, file.
async fn worker(sh: Arc<Shared>, index: u64) {
    let mut rng = StdRng::seed_from_u64(sh.opts.seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // Bases the target cannot play (no token to be had, a value the profile lacks) build
    // nothing; a long run of those means nothing can be sent at all.
    let mut idle = 0u32;
    while !sh.budget.exhausted() && idle < 10_000 {
        let base = sh.offer.pick_base(&mut rng, sh.pool.alive());
        let mutations = grammar::pick_mutations(&mut rng, base);
        let Some(sent) = sh.attempt(base, &mutations, false).await else {
            idle += 1;
            continue;
        };
        idle = 0;
        let oracles = oracle::judge(&sh.invariants, &sent, sh.opts.latency_bound);
        for (o, detail) in oracles {
            let (status, code) = oracle::status_and_code(&sent.outcome);
            let raw = triage::raw_key(o, status, code.as_deref(), &sent.req);
            let seen = match sh.triage.lock() {
                Ok(mut t) => t.observe(&raw),
                Err(_) => return,
            };
            if let Seen::New = seen {
                sh.settle(o, &raw, &sent.req, detail).await;
            }
        }
    }
}

impl Shared {
    /// Builds and sends one request (`None` when it could not be built or the bounds stop it).
    async fn attempt(&self, base: Base, mutations: &[Mutation], solo: bool) -> Option<Sent> {
        self.attempt_with(base, mutations, solo, false).await
    }

    /// [`Shared::attempt`]; `fresh`: with a refresh token of a new family, not the pool's (a
    /// pooled token may have died without the fuzzer seeing it).
    async fn attempt_with(
        &self,
        base: Base,
        mutations: &[Mutation],
        solo: bool,
        fresh: bool,
    ) -> Option<Sent> {
        let lease = match (base.needs_refresh_token(), fresh) {
            (false, _) => None,
            (true, false) => Some(self.pool.refresh_token(&self.budget).await?),
            (true, true) => Some(self.pool.fresh_refresh_token(&self.budget).await?),
        };
        let access = if base.needs_access_token() {
            Some(self.pool.access_token(&self.budget).await?)
        } else {
            None
        };
        let live = Live {
            refresh_token: lease.as_ref().map(|l| l.token.clone()),
            access_token: access,
        };
        let built = grammar::build(&self.session, base, mutations, live)
            .and_then(|req| Some((req.prepare(&self.session)?, req)));
        let Some((prepared, req)) = built else {
            if let Some(l) = lease {
                self.pool.give_back(l, false);
            }
            return None;
        };
        let Some(outcome) = self.send(&prepared, solo).await else {
            if let Some(l) = lease {
                self.pool.give_back(l, false);
            }
            return None;
        };
        // Only a success is read here (its tokens); the invariants read every answer anyway.
        let json = outcome
            .as_ref()
            .ok()
            .filter(|r| (200..300).contains(&r.status))
            .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok());
        self.settle_lease(lease, &outcome, json.as_ref());
        Some(Sent {
            req,
            prepared,
            outcome,
            json,
        })
    }

    /// Keeps what an answer teaches about live tokens.
    fn settle_lease(
        &self,
        lease: Option<Lease>,
        outcome: &Result<HttpResponse, String>,
        json: Option<&Value>,
    ) {
        let Ok(resp) = outcome else { return };
        if (200..300).contains(&resp.status)
            && let Some(j) = json
        {
            self.pool.learn(j);
        }
        let Some(l) = lease else { return };
        let served = (200..300).contains(&resp.status);
        let returned = json
            .filter(|_| served)
            .and_then(|j| j.get("refresh_token"))
            .and_then(Value::as_str);
        // Rotated, or the same token back: `learn` has pooled what the server returned. Served
        // without a new token: it lives on. A refusal (even a 5xx) normally leaves the token
        // live too; the pool drops it after a few of those in case it did not.
        if returned.is_none() {
            self.pool.give_back(l, served);
        }
    }

    /// Sends within the bounds; `None` when they leave no room or the deadline cut the
    /// request short (a cut request says nothing about the server). A transport failure is
    /// retried once on a new connection, because a server may legitimately close a kept-alive
    /// connection right after an error, and a pooled client can race that close: only a
    /// failure that repeats on a fresh connection is the server's.
    async fn send(
        &self,
        prepared: &PreparedRequest,
        solo: bool,
    ) -> Option<Result<HttpResponse, String>> {
        self.pace().await;
        if !self.budget.take(1) {
            return None;
        }
        let _read;
        let _write;
        if solo {
            _write = self.solo.write().await;
        } else {
            _read = self.solo.read().await;
        }
        let per_request = self.opts.latency_bound * 4;
        let left = self.budget.left();
        let cut_short = left < per_request;
        let timeout = Some(per_request.min(left));
        // Straight to the client: the fuzzer writes no answer anywhere (reproducers hold
        // templates, never a token), so registering every token that arrives with the
        // redactor would only cost time.
        let outcome = self.session.http.send(prepared, timeout).await;
        match outcome {
            Ok(r) => Some(Ok(r)),
            Err(e) if crate::http::NoAnswer::is(&e) => (!cut_short).then_some(Err(e)),
            Err(_) => {
                if !self.budget.take(1) {
                    return None;
                }
                let left = self.budget.left();
                let outcome = self.fresh.send(prepared, Some(per_request.min(left))).await;
                match &outcome {
                    Err(e) if crate::http::NoAnswer::is(e) && left < per_request => None,
                    _ => Some(outcome),
                }
            }
        }
    }

    /// Waits for this request's slot under `--rate`.
    async fn pace(&self) {
        if self.opts.rate == 0 {
            return;
        }
        let spacing = Duration::from_secs_f64(1.0 / f64::from(self.opts.rate));
        let slot = {
            let mut next = self.next_slot.lock().await;
            let slot = (*next).max(Instant::now());
            *next = slot + spacing;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }

    /// Confirms a new signature (the same request sent again must trip the same oracle) and
    /// minimises it: mutations are dropped while the oracle still fires, until none can be. Slowness is judged
    /// with no other request in flight.
    async fn settle(&self, o: Oracle, raw: &str, first: &Req, detail: String) {
        let solo = o == Oracle::Slow && self.opts.connections > 1;
        let fires = |s: &Sent| {
            oracle::judge(&self.invariants, s, self.opts.latency_bound)
                .iter()
                .any(|(f, _)| *f == o)
        };
        // Whether `mutations` still trip the oracle: a refused request with a pooled token that
        // does not is tried once more with a token of a new family before the answer is
        // believed (the pooled token may have died unseen). A success proves the token alive.
        let check = |mutations: Vec<Mutation>| async move {
            let s = self.attempt(first.base, &mutations, solo).await?;
            let served = s
                .outcome
                .as_ref()
                .is_ok_and(|r| (200..300).contains(&r.status));
            if fires(&s) || served || !first.base.needs_refresh_token() {
                return Some(s);
            }
            self.attempt_with(first.base, &mutations, solo, true).await
        };
        let Some(again) = check(first.mutations.clone()).await else {
            self.pending.fetch_add(1, Ordering::SeqCst);
            return;
        };
        if !fires(&again) {
            if let Ok(mut t) = self.triage.lock() {
                t.dismiss(raw);
            }
            return;
        }
        let mut best = again;
        let mut i = 0;
        let mut complete = true;
        while i < best.req.mutations.len() {
            let mut fewer = best.req.mutations.clone();
            fewer.remove(i);
            match check(fewer).await {
                // Start over: a mutation needed only because of the one just dropped (it undid
                // or outweighed it) may go now.
                Some(s) if fires(&s) => {
                    best = s;
                    i = 0;
                }
                Some(_) => i += 1,
                None if self.budget.exhausted() => {
                    complete = false;
                    break;
                }
                // Not sent (no live token, say): whether the mutation is needed is unknown.
                None => {
                    complete = false;
                    i += 1;
                }
            }
        }
        let (status, code) = oracle::status_and_code(&best.outcome);
        let made = match self.triage.lock() {
            Ok(mut t) => t.resolve(raw, o, best.req, status, code, detail, complete),
            Err(_) => None,
        };
        if let Some((n, f)) = made {
            self.write_reproducer(n, &f);
        }
    }

    /// Writes a new finding's reproducer at once: the run's time bound covers it, and an
    /// interrupted run keeps what it found.
    fn write_reproducer(&self, n: usize, f: &Finding) {
        let written = output::write_reproducer(
            f,
            n,
            &self.opts,
            &self.session.target.name,
            &self.session.redactor,
        );
        let Ok(mut r) = self.reproducers.lock() else {
            return;
        };
        match written {
            Ok(Some((path, redacted))) => {
                if redacted {
                    r.redacted.push(path.clone());
                }
                if let Ok(mut t) = self.triage.lock() {
                    t.set_file(&f.key, path);
                }
            }
            Ok(None) => {}
            Err(e) => {
                r.error
                    .get_or_insert_with(|| format!("{}: {e}", self.opts.out.display()));
            }
        }
    }
}

/// A session on a small profile, for unit tests (nothing is sent).
#[cfg(test)]
fn test_session() -> Session {
    test_session_with("policy: rfc9700")
}

/// [`test_session`] with another `policy:` block.
#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
fn test_session_with(policy: &str) -> Session {
    let yaml = format!(
        "name: t
base_url: http://127.0.0.1:9
endpoints: {{ token: /token }}
clients:
  confidential: {{ id: conf-1, secret: s3cret, auth_method: client_secret_basic }}
bootstrap: {{ grant: password, username: alice, password: pw }}
{policy}
"
    );
    let target = crate::profile::Target::parse(
        crate::yaml::Source::new("t.yaml", yaml),
        std::path::Path::new("."),
        &crate::profile::PlaceholderEnv,
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(Session::new(target)).unwrap()
}

/// True when the URL's host is a loopback address (or `localhost`).
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}
