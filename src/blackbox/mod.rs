//! Black-box, grammar-aware fuzzing of a live token endpoint (`tokencert fuzz`).
//!
//! Each request starts from a valid one (a refresh with a live token, a password or
//! client-credentials grant, a code redemption…) and gets a few mutations from a grammar of what
//! goes wrong at token endpoints: grant types, missing, empty, duplicated, oversized or unknown
//! parameters, broken percent-encoding and UTF-8, content types, JSON bodies, methods,
//! Authorization headers, client assertions and DPoP proofs. A mutation knows whether it makes
//! the request one that must fail. Oracles judge every answer: a 5xx; a token issued for a request
//! that must fail; an error that is not RFC 6749 §5.2 JSON or has the wrong status; a 401 after
//! Basic without `WWW-Authenticate: Basic`; a token-endpoint answer without
//! `Cache-Control: no-store`; an answer slower than the bound. Findings are deduplicated,
//! minimized (mutations dropped while the oracle still fires) and written as scenario YAML.

mod grammar;
pub mod oracle;
mod write;

use crate::http::{HttpResponse, PreparedRequest};
use crate::session::{Session, Unrecorded};
use grammar::{Base, Mutation, Req};
pub use oracle::Oracle;
use rand::SeedableRng as _;
use rand::rngs::StdRng;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bounds and output of a fuzzing run.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    /// Stop after this long.
    pub duration: Duration,
    /// Stop after this many requests.
    pub max_requests: u64,
    /// RNG seed (the same seed replays the same request sequence against the same target).
    pub seed: u64,
    /// Where reproducers go.
    pub out: PathBuf,
    /// At most this many requests per second (0: unbounded).
    pub rate: u32,
    /// Answers slower than this are findings.
    pub latency_bound: Duration,
    /// Print a progress line.
    pub progress: bool,
}

/// One deduplicated finding.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What went wrong.
    pub oracle: Oracle,
    /// The minimized request.
    pub req: Req,
    /// Status seen.
    pub status: Option<u16>,
    /// `error` seen, if any.
    pub error_code: Option<String>,
    /// How many requests hit the same finding.
    pub hits: u64,
    /// The reproducer file, once written.
    pub file: Option<PathBuf>,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct FuzzSummary {
    /// Requests sent (including minimization).
    pub requests: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Findings, deduplicated.
    pub findings: Vec<Finding>,
}

/// A pool of live refresh tokens (each used once) refilled by bootstrapping.
struct Tokens {
    session: Arc<Session>,
    refresh: Vec<String>,
    access: Vec<String>,
}

impl Tokens {
    async fn refresh_token(&mut self) -> Option<String> {
        if self.refresh.is_empty() {
            self.refill().await;
        }
        self.refresh.pop()
    }

    async fn access_token(&mut self) -> Option<String> {
        if self.access.is_empty() {
            self.refill().await;
        }
        self.access.last().cloned()
    }

    async fn refill(&mut self) {
        let role = if self.session.target.clients.contains_key("confidential") {
            "confidential"
        } else {
            "public"
        };
        if let Ok(v) = self.session.bootstrap_family(role).await {
            if let Some(rt) = v.get("refresh_token").and_then(|t| t.as_str()) {
                self.refresh.push(rt.to_owned());
            }
            if let Some(at) = v.get("access_token").and_then(|t| t.as_str()) {
                self.access.push(at.to_owned());
            }
        }
    }

    fn learn(&mut self, resp: &HttpResponse) {
        if !(200..300).contains(&resp.status) {
            return;
        }
        // Tokens are already redacted (`Session::learn_secrets` on arrival); keep a few live
        // ones to mutate.
        if self.refresh.len() < 64
            && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&resp.body)
            && let Some(rt) = v.get("refresh_token").and_then(|t| t.as_str())
        {
            self.refresh.push(rt.to_owned());
        }
    }
}

/// Runs the fuzzer against the context's target.
pub async fn run(session: Arc<Session>, opts: &FuzzOptions) -> FuzzSummary {
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let mut tokens = Tokens {
        session: Arc::clone(&session),
        refresh: Vec::new(),
        access: Vec::new(),
    };
    let started = Instant::now();
    let mut summary = FuzzSummary::default();
    let fresh = crate::http::client::HttpClient::unpooled(
        opts.latency_bound * 4,
        session.target.insecure,
        session.target.max_response,
    )
    .unwrap_or_else(|_| session.http.clone());
    let mut found: BTreeMap<String, Finding> = BTreeMap::new();
    let mut last_progress = Instant::now();
    let spacing = if opts.rate == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(1.0 / f64::from(opts.rate))
    };
    while started.elapsed() < opts.duration && summary.requests < opts.max_requests {
        let tick = Instant::now();
        let base = grammar::pick_base(&mut rng, &session);
        let mutations = grammar::pick_mutations(&mut rng, &session, base);
        let Some((req, prepared)) = build(&session, &mut tokens, base, &mutations).await else {
            continue;
        };
        summary.requests += 1;
        let outcome = send(&session, &fresh, &prepared, opts).await;
        if let Ok(resp) = &outcome {
            tokens.learn(resp);
        }
        for o in oracle::judge(&session, &req, &prepared, &outcome, opts.latency_bound) {
            let key = oracle::dedupe_key(o, &req, &outcome);
            match found.get_mut(&key) {
                Some(f) => f.hits += 1,
                None => {
                    let (status, code) = oracle::status_and_code(&outcome);
                    found.insert(
                        key,
                        Finding {
                            oracle: o,
                            req: req.clone(),
                            status,
                            error_code: code,
                            hits: 1,
                            file: None,
                        },
                    );
                }
            }
        }
        if opts.progress && last_progress.elapsed() > Duration::from_millis(500) {
            let rps = summary.requests as f64 / started.elapsed().as_secs_f64().max(0.001);
            eprint!(
                "\r  {} requests, {rps:.0} req/s, {} findings   ",
                summary.requests,
                found.len()
            );
            last_progress = Instant::now();
        }
        if let Some(rest) = spacing.checked_sub(tick.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    if opts.progress {
        eprintln!();
    }
    // Minimize each finding (drop mutations while the same oracle still fires), then merge the
    // findings whose minimized requests agree: many mutated requests share one root cause.
    let mut merged: BTreeMap<String, Finding> = BTreeMap::new();
    for mut f in found.into_values() {
        if summary.requests < opts.max_requests.saturating_add(2_000) {
            let (req, sent) = minimize(&session, &fresh, &mut tokens, &f, opts).await;
            summary.requests += sent;
            f.req = req;
        }
        let mut kinds: Vec<String> = f.req.mutations.iter().map(Mutation::kind).collect();
        kinds.sort();
        let key = format!(
            "{:?}/{}/{}/{}",
            f.oracle,
            f.status.unwrap_or(0),
            f.error_code.as_deref().unwrap_or(""),
            kinds.join("+")
        );
        match merged.get_mut(&key) {
            Some(m) => m.hits += f.hits,
            None => {
                merged.insert(key, f);
            }
        }
    }
    summary.findings = merged.into_values().collect();
    summary.elapsed = started.elapsed();
    summary
}

/// Sends a request; a transport failure is retried once on a new connection, because a server
/// may legitimately close a kept-alive connection right after an error, and a pooled client can
/// race that close. Only a failure that repeats on a fresh connection is the server's.
async fn send(
    session: &Session,
    fresh: &crate::http::client::HttpClient,
    prepared: &PreparedRequest,
    opts: &FuzzOptions,
) -> Result<HttpResponse, String> {
    let timeout = Some(opts.latency_bound * 4);
    match session.send(prepared, timeout, &mut Unrecorded).await {
        Ok(r) => Ok(r),
        // A request that got no answer in time would only wait as long again.
        Err(e) if crate::http::NoAnswer::is(&e) => Err(e),
        Err(_) => {
            let outcome = fresh.send(prepared, timeout).await;
            if let Ok(r) = &outcome {
                session.learn_secrets(r);
            }
            outcome
        }
    }
}

async fn build(
    session: &Session,
    tokens: &mut Tokens,
    base: Base,
    mutations: &[Mutation],
) -> Option<(Req, PreparedRequest)> {
    let rt = if base.needs_refresh_token() {
        tokens.refresh_token().await
    } else {
        None
    };
    let at = if base.needs_access_token() {
        tokens.access_token().await
    } else {
        None
    };
    let req = grammar::build(session, base, mutations, rt, at)?;
    let prepared = req.prepare(session)?;
    Some((req, prepared))
}

async fn minimize(
    session: &Session,
    fresh: &crate::http::client::HttpClient,
    tokens: &mut Tokens,
    f: &Finding,
    opts: &FuzzOptions,
) -> (Req, u64) {
    let mut best = f.req.clone();
    let mut sent = 0;
    let mut i = 0;
    while i < best.mutations.len() && sent < 32 {
        let mut fewer = best.mutations.clone();
        fewer.remove(i);
        let Some((req, prepared)) = build(session, tokens, best.base, &fewer).await else {
            i += 1;
            continue;
        };
        sent += 1;
        let outcome = send(session, fresh, &prepared, opts).await;
        if let Ok(resp) = &outcome {
            tokens.learn(resp);
        }
        if oracle::judge(session, &req, &prepared, &outcome, opts.latency_bound).contains(&f.oracle)
        {
            best = req;
        } else {
            i += 1;
        }
    }
    (best, sent)
}

/// Writes one reproducer per finding (slow answers have none: no scenario predicate times) and
/// returns the files.
pub fn write_reproducers(
    summary: &mut FuzzSummary,
    opts: &FuzzOptions,
    target_name: &str,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(&opts.out)?;
    let mut files = Vec::new();
    for (i, f) in summary.findings.iter_mut().enumerate() {
        if let Some(text) = write::scenario(f, opts.seed, target_name, i + 1) {
            let text = text.map_err(std::io::Error::other)?;
            let path = opts
                .out
                .join(format!("fuzz-{}-{:02}.yaml", f.oracle.slug(), i + 1));
            std::fs::write(&path, text)?;
            f.file = Some(path.clone());
            files.push(path);
        }
    }
    Ok(files)
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
