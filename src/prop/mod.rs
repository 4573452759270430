//! Model-based property tests of refresh-token rotation invariants (`tokencert prop`).
//!
//! One engine, two drivers. proptest generates a case: a policy (random within the presets'
//! space, or the target's), the client of the first family, and a list of [`ops::Op`]s (start a
//! family; refresh with the current token, a superseded one, another client's, a revoked one;
//! narrower or broader scope; revoke the refresh or the access token; advance the clock; two
//! refreshes at once; restart on the durable store). [`exec`] runs the case over HTTP — against
//! an in-process reference server or a live target — and after every step compares the answers
//! and introspection (`active`, `scope`, `exp`) with the [`model`], which predicts them from the
//! policy. A mismatch is a counterexample; proptest shrinks it to a minimal operation list and
//! [`write`] turns it into a scenario YAML file that reproduces it with `tokencert run`.

pub mod exec;
pub mod model;
pub mod ops;
pub mod write;

use crate::embedded::Flaw;
use crate::http::client::HttpClient;
use crate::session::Session;
use exec::{Exec, Restarter, Step, Violation};
use ops::{Abilities, Kind, Op, PolicyKnobs};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestError, TestRng, TestRunner};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokencert_policy::Policy;

/// Where cases run.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Source {
    /// One target for every case (a live server, or one embedded server).
    Fixed(Arc<Session>),
    /// A fresh in-process reference server per case.
    Embedded {
        /// Flaws to switch on.
        flaws: Vec<Flaw>,
        /// The policy; `None`: a random one per case.
        policy: Option<Policy>,
        /// On a SQLite file (offers the restart operation).
        durable: bool,
    },
}

/// Bounds of a search.
#[derive(Debug, Clone)]
pub struct PropOptions {
    /// Cases to try.
    pub cases: u32,
    /// Seed of the generator.
    pub seed: u64,
    /// Most operations per case.
    pub max_ops: usize,
    /// Most shrinking steps.
    pub shrink_iters: u32,
    /// Counterexamples to collect, each breaking another invariant (at least 1).
    pub keep_going: usize,
}

impl Default for PropOptions {
    fn default() -> Self {
        PropOptions {
            cases: 100,
            seed: 1,
            max_ops: 10,
            shrink_iters: 256,
            keep_going: 1,
        }
    }
}

/// A minimal counterexample.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The policy it was judged by.
    pub policy: Policy,
    /// The random policy's overrides, when the policy was generated.
    pub knobs: Option<PolicyKnobs>,
    /// The first family's client.
    pub first: Kind,
    /// The shrunk operations.
    pub ops: Vec<Op>,
    /// The broken invariant.
    pub violation: Violation,
    /// The executed steps, for the reproducer.
    pub steps: Vec<Step>,
    /// Cases run until the first failure (1-based).
    pub cases_to_find: u64,
    /// The seed of the search round that found it.
    pub seed: u64,
}

impl Finding {
    /// The operation list, numbered, as printed on failure.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "counterexample (policy {}{}): {} [{}]\n  0. start a family ({:?} client)\n",
            self.policy.name,
            self.knobs
                .as_ref()
                .map(|k| format!(" with overrides {}", write::overrides(k)))
                .unwrap_or_default(),
            self.violation.message,
            self.violation.requirement,
            self.first
        );
        for (i, op) in self.ops.iter().enumerate() {
            let mark = if i + 1 == self.violation.op {
                "  <- broken here"
            } else {
                ""
            };
            s.push_str(&format!("  {}. {op}{mark}\n", i + 1));
        }
        s
    }
}

/// What a search did.
#[derive(Debug, Default)]
pub struct PropSummary {
    /// Cases run (including shrinking).
    pub cases: u64,
    /// HTTP requests sent.
    pub requests: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// The counterexamples, shrunk, each breaking another invariant (in the order found).
    pub findings: Vec<Finding>,
    /// A harness error that stopped the search.
    pub error: Option<String>,
}

/// The target of one case.
struct CaseTarget {
    session: Arc<Session>,
    restart: Option<EmbeddedRestart>,
}

#[cfg(feature = "embedded-server")]
struct EmbeddedRestart {
    running: Option<reference_server::Running>,
    config: reference_server::Config,
    http: HttpClient,
}

/// Without the embedded server no session has one to restart.
#[cfg(not(feature = "embedded-server"))]
struct EmbeddedRestart {
    running: Option<crate::embedded::Running>,
}

#[cfg(not(feature = "embedded-server"))]
impl Restarter for EmbeddedRestart {
    fn restart(
        &mut self,
        _: u64,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Arc<Session>, String>> + Send + '_>> {
        Box::pin(async { Err(crate::embedded::ABSENT.to_owned()) })
    }
}

#[cfg(feature = "embedded-server")]
impl Drop for EmbeddedRestart {
    fn drop(&mut self) {
        if let Some(db) = &self.config.db {
            let _ = std::fs::remove_file(db);
            for ext in ["-wal", "-shm"] {
                let mut p = db.clone().into_os_string();
                p.push(ext);
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// A session with a reference server started for a case, on the search's one HTTP client.
#[cfg(feature = "embedded-server")]
async fn session_of(
    running: &reference_server::Running,
    http: &HttpClient,
) -> Result<Arc<Session>, String> {
    let target = crate::profile::embedded::target(running)?;
    let session = Session::with_http(target, http.clone())
        .await
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(session))
}

#[cfg(feature = "embedded-server")]
impl Restarter for EmbeddedRestart {
    fn restart(
        &mut self,
        offset: u64,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Arc<Session>, String>> + Send + '_>> {
        Box::pin(async move {
            if let Some(r) = self.running.take() {
                r.shutdown().await;
            }
            let running = reference_server::spawn(self.config.clone())
                .await
                .map_err(|e| format!("restart: {e}"))?;
            let session = session_of(&running, &self.http).await?;
            // The virtual clock lives in memory: put it back where it was.
            if offset > 0 && session.target.test_clock.is_some() {
                session
                    .advance_clock(offset, &mut crate::session::Unrecorded)
                    .await?;
            }
            self.running = Some(running);
            Ok(session)
        })
    }
}

async fn case_target(
    source: &Source,
    knobs: Option<&PolicyKnobs>,
    http: &HttpClient,
) -> Result<CaseTarget, String> {
    match source {
        Source::Fixed(session) => Ok(CaseTarget {
            session: Arc::clone(session),
            restart: None,
        }),
        #[cfg(not(feature = "embedded-server"))]
        Source::Embedded { .. } => {
            let _ = (knobs, http);
            Err(crate::embedded::ABSENT.to_owned())
        }
        #[cfg(feature = "embedded-server")]
        Source::Embedded {
            flaws,
            policy,
            durable,
        } => {
            let policy = match (policy, knobs) {
                (Some(p), _) => p.clone(),
                (None, Some(k)) => k.policy()?,
                (None, None) => Policy::preset("rfc9700").map_err(|e| e.to_string())?,
            };
            let mut config = reference_server::Config::new(policy);
            config.flaws = flaws.clone();
            if *durable {
                config.db = Some(std::env::temp_dir().join(format!(
                    "tokencert-prop-{}.db",
                    uuid::Uuid::new_v4().simple()
                )));
            }
            let running = reference_server::spawn(config.clone())
                .await
                .map_err(|e| format!("cannot start the reference server: {e}"))?;
            let session = session_of(&running, http).await?;
            Ok(CaseTarget {
                session,
                restart: Some(EmbeddedRestart {
                    running: Some(running),
                    config,
                    http: http.clone(),
                }),
            })
        }
    }
}

/// The outcome of one case.
struct Ran {
    violation: Option<Violation>,
    steps: Vec<Step>,
    requests: u64,
    policy: Policy,
}

async fn run_case(
    source: &Source,
    http: &HttpClient,
    knobs: Option<&PolicyKnobs>,
    first: Kind,
    ops: &[Op],
) -> Result<Ran, String> {
    let mut s = case_target(source, knobs, http).await?;
    let durable = matches!(source, Source::Embedded { durable: true, .. });
    let restarter: Option<&mut dyn Restarter> = match (&mut s.restart, durable) {
        (Some(r), true) => Some(r),
        _ => None,
    };
    let mut exec = Exec::new(Arc::clone(&s.session), restarter);
    let result = exec.run(first, ops).await;
    let policy = exec.policy().clone();
    let log = std::mem::take(&mut exec.log);
    drop(exec);
    if let Some(mut r) = s.restart.take()
        && let Some(running) = r.running.take()
    {
        running.shutdown().await;
    }
    let violation = result.map_err(|e| e.0)?;
    Ok(Ran {
        violation,
        steps: log.steps,
        requests: log.requests,
        policy,
    })
}

/// What the generator may use against `source`.
pub fn abilities(source: &Source) -> Abilities {
    match source {
        Source::Fixed(session) => Abilities {
            clock: session.target.test_clock.is_some(),
            restart: false,
            public: session
                .target
                .clients
                .get("public")
                .is_some_and(|c| c.public),
            confidential: session
                .target
                .clients
                .get("confidential")
                .is_some_and(|c| !c.public),
            revoke: session.target.endpoints.contains_key("revocation"),
        },
        Source::Embedded { durable, .. } => Abilities {
            clock: true,
            restart: *durable,
            public: true,
            confidential: true,
            revoke: true,
        },
    }
}

type CaseValue = (Option<PolicyKnobs>, Kind, Vec<Op>);

/// The case strategy for `source`.
pub fn strategy(source: &Source, max_ops: usize) -> BoxedStrategy<CaseValue> {
    let ab = abilities(source);
    let knobs = match source {
        Source::Embedded { policy: None, .. } => ops::policy_knobs().prop_map(Some).boxed(),
        _ => Just(None).boxed(),
    };
    let first = match (ab.confidential, ab.public) {
        (true, true) => prop_oneof![Just(Kind::Confidential), Just(Kind::Public)].boxed(),
        (false, true) => Just(Kind::Public).boxed(),
        _ => Just(Kind::Confidential).boxed(),
    };
    (knobs, first, ops::ops(ab, max_ops)).boxed()
}

/// Searches for counterexamples, up to `opts.keep_going` of them, each breaking an invariant
/// the ones before did not: after one is found and shrunk, the search goes on with the cases
/// left (a new seed), taking cases that only break known invariants as passing. Blocks: call it
/// from a thread that may block on `handle` (a test's main thread, or `spawn_blocking`).
pub fn search(handle: &tokio::runtime::Handle, source: &Source, opts: &PropOptions) -> PropSummary {
    let started = Instant::now();
    let mut summary = PropSummary::default();
    // One HTTP client for every case: the per-case servers differ only in their port.
    let http = match source {
        Source::Fixed(session) => Ok(session.http.clone()),
        Source::Embedded { .. } => HttpClient::new(
            crate::embedded::TIMEOUT,
            false,
            crate::http::BodyLimit::DEFAULT,
        ),
    };
    let http = match http {
        Ok(h) => h,
        Err(e) => {
            summary.error = Some(e);
            summary.elapsed = started.elapsed();
            return summary;
        }
    };
    let mut known: Vec<String> = Vec::new();
    let mut left = u64::from(opts.cases);
    for round in 0..opts.keep_going.max(1) as u64 {
        if left == 0 {
            break;
        }
        let seed = opts.seed.wrapping_add(round);
        let cases = u32::try_from(left).unwrap_or(u32::MAX);
        let r = search_once(handle, source, &http, opts, seed, cases, &known);
        summary.cases += r.cases;
        summary.requests += r.requests;
        if r.error.is_some() {
            summary.error = r.error;
            break;
        }
        let Some(mut f) = r.finding else { break };
        left = left.saturating_sub(f.cases_to_find);
        f.seed = seed;
        known.push(f.violation.invariant.clone());
        summary.findings.push(f);
    }
    summary.elapsed = started.elapsed();
    summary
}

/// One search round.
struct Round {
    cases: u64,
    requests: u64,
    finding: Option<Finding>,
    error: Option<String>,
}

fn search_once(
    handle: &tokio::runtime::Handle,
    source: &Source,
    http: &HttpClient,
    opts: &PropOptions,
    seed: u64,
    cases_wanted: u32,
    known: &[String],
) -> Round {
    let mut config = Config::with_cases(cases_wanted);
    config.failure_persistence = None;
    config.max_shrink_iters = opts.shrink_iters;
    config.max_global_rejects = 1_000_000;
    config.verbose = 0;
    let mut rng_seed = [0u8; 32];
    rng_seed[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &rng_seed));
    let cases = AtomicU64::new(0);
    let requests = AtomicU64::new(0);
    let first_fail = AtomicU64::new(0);
    let error: Mutex<Option<String>> = Mutex::new(None);
    let last: Mutex<Option<(Violation, Vec<Step>, Policy)>> = Mutex::new(None);
    let strat = strategy(source, opts.max_ops);
    let result = runner.run(&strat, |(knobs, first, ops)| {
        if error.lock().map(|e| e.is_some()).unwrap_or(true) {
            return Ok(());
        }
        let n = cases.fetch_add(1, Ordering::SeqCst) + 1;
        let ran = handle.block_on(run_case(source, http, knobs.as_ref(), first, &ops));
        match ran {
            Err(e) => {
                // Shrinking may build a case the target cannot play; only a search case stops.
                if first_fail.load(Ordering::SeqCst) == 0
                    && let Ok(mut g) = error.lock()
                {
                    *g = Some(e);
                }
                Ok(())
            }
            Ok(r) => {
                requests.fetch_add(r.requests, Ordering::SeqCst);
                match r.violation {
                    // An invariant an earlier round broke: this round looks for another.
                    Some(v) if !known.contains(&v.invariant) => {
                        let _ =
                            first_fail.compare_exchange(0, n, Ordering::SeqCst, Ordering::SeqCst);
                        let msg = format!("{} [{}]", v.message, v.requirement);
                        if let Ok(mut g) = last.lock() {
                            *g = Some((v, r.steps, r.policy));
                        }
                        Err(TestCaseError::fail(msg))
                    }
                    _ => Ok(()),
                }
            }
        }
    });
    let mut round = Round {
        cases: cases.load(Ordering::SeqCst),
        requests: requests.load(Ordering::SeqCst),
        error: error.lock().ok().and_then(|g| g.clone()),
        finding: None,
    };
    if let Err(TestError::Fail(_, (knobs, first, ops))) = result {
        // Replay the minimal case for a fresh trace; fall back on the last failing run.
        let replay = handle.block_on(run_case(source, http, knobs.as_ref(), first, &ops));
        let (violation, steps, policy) = match replay {
            Ok(Ran {
                violation: Some(v),
                steps,
                policy,
                ..
            }) if !known.contains(&v.invariant) => (v, steps, policy),
            _ => match last.lock().ok().and_then(|mut g| g.take()) {
                Some(x) => x,
                None => {
                    round.error = Some("the counterexample did not replay".into());
                    return round;
                }
            },
        };
        round.error = None;
        round.finding = Some(Finding {
            policy,
            knobs,
            first,
            ops,
            violation,
            steps,
            cases_to_find: first_fail.load(Ordering::SeqCst),
            seed,
        });
    }
    round
}

/// Writes the finding's reproducer (and, for a generated policy, the policy file) into `out`.
pub fn write_reproducer(
    f: &Finding,
    out: &std::path::Path,
    target: &str,
    flaws: &[String],
    seed: u64,
    redactor: &crate::profile::Redactor,
) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out)?;
    let slug = write::slug(&f.violation);
    let slug = if f.seed == seed {
        slug
    } else {
        format!("{slug}-seed{}", f.seed)
    };
    let path = out.join(format!("prop-{slug}.yaml"));
    let mut files = Vec::new();
    let policy_file = f.knobs.as_ref().map(|k| {
        let p = out.join(format!("prop-{slug}.policy"));
        (p, write::policy_file(k))
    });
    let text = write::scenario(
        f,
        target,
        flaws,
        seed,
        policy_file.as_ref().map(|(p, _)| p.as_path()),
    )
    .map_err(std::io::Error::other)?;
    // The reproducer holds templates, never a token; the redactor is the safety net.
    std::fs::write(&path, redactor.redact(&text))?;
    files.push(path);
    if let Some((p, text)) = policy_file {
        std::fs::write(&p, text)?;
        files.push(p);
    }
    Ok(files)
}
