//! Refresh throughput with rotation on (rfc9700 + password bootstrap): memory and SQLite, with and
//! without an ES256 ID token (scope `openid api:read` or `api:read`), at 1 and 16 concurrent
//! chains. Each chain owns its token: refresh, take the new refresh token, refresh again, over one
//! keep-alive connection pool. Every request is a successful rotation. Then the resident memory
//! of a fresh process after N refreshes (grant + store path in-process, short lifetimes on the
//! virtual clock, the purger running as in a server). Loopback only; every run is bounded by time
//! and request count.
//!
//! `cargo bench -p reference-server` (BENCH_SECS=N per throughput run, default 3, at most 10;
//! BENCH_RSS=N1,N2 for the refresh counts of the memory runs, default 200000,1000000, each cut
//! off after BENCH_RSS_SECS, default 60, and reported with the count it reached;
//! BENCH_ONLY=substring of `store/id|no-id/chains` to pick throughput runs; BENCH_ROUNDS=N, default
//! 1, at most 9, runs the matrix N times, memory and SQLite back to back in each configuration,
//! then prints medians and the ratios per round; SQLite runs also print what group commit did).
//!
//! With `BENCH_URL` (see `Target::external`) the same load generator drives an external token
//! endpoint instead (label `external/-/chains`, no RSS runs): `scripts/bench-peer.sh` uses it
//! for the side-by-side with a real server.

use base64::Engine;
use reference_server::client::Client;
use reference_server::grant::password::{PasswordInput, password};
use reference_server::grant::refresh_token::{Caller, RefreshInput, refresh};
use reference_server::grant::{Ctx, Issued};
use reference_server::policy::Policy;
use reference_server::state::AppState;
use reference_server::store::CommitStats;
use reference_server::token::RefreshToken;
use reference_server::{Config, spawn};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MAX_REQUESTS_PER_CLIENT: usize = 200_000;

/// Where the load goes and as whom: the in-process server, or an external token endpoint
/// (`BENCH_URL`, for a side-by-side with another server driven by this same load generator).
#[derive(Clone)]
struct Target {
    url: String,
    /// `Authorization: Basic` of the confidential client (RFC 6749 2.3.1: form-encoded first).
    authorization: String,
    /// The password-grant body that starts each chain.
    bootstrap: String,
    /// Whether each refresh must (Some(true)) or must not carry an ID token; None: not checked.
    want_id: Option<bool>,
}

impl Target {
    fn new(url: String, client: (&str, &str), user: (&str, &str), scope: &str) -> Target {
        let enc = |s: &str| -> String { form_urlencoded::byte_serialize(s.as_bytes()).collect() };
        let raw = format!("{}:{}", enc(client.0), enc(client.1));
        Target {
            url,
            authorization: format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            ),
            bootstrap: format!(
                "grant_type=password&username={}&password={}&scope={}",
                enc(user.0),
                enc(user.1),
                enc(scope)
            ),
            want_id: None,
        }
    }

    /// `BENCH_URL` plus `BENCH_CLIENT_ID`, `BENCH_CLIENT_SECRET`, `BENCH_USERNAME`,
    /// `BENCH_PASSWORD`, `BENCH_SCOPE` (the external server's generated test credentials).
    fn external() -> Option<Target> {
        let url = std::env::var("BENCH_URL").ok()?;
        let var = |k: &str| std::env::var(k).unwrap_or_default();
        Some(Target::new(
            url,
            (&var("BENCH_CLIENT_ID"), &var("BENCH_CLIENT_SECRET")),
            (&var("BENCH_USERNAME"), &var("BENCH_PASSWORD")),
            &var("BENCH_SCOPE"),
        ))
    }
}

async fn token(
    http: &reqwest::Client,
    target: &Target,
    body: String,
) -> Result<serde_json::Value, String> {
    let r = http
        .post(&target.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", &target.authorization)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let bytes = r.bytes().await.map_err(|e| e.to_string())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
    if status != 200 {
        return Err(format!("{status} {}", v["error"]));
    }
    Ok(v)
}

fn bench_policy(extra: serde_json::Value) -> Policy {
    let mut overrides = serde_json::json!({"grants": {"password": true}});
    if let (Some(o), Some(e)) = (overrides.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    Policy::resolve("rfc9700", &overrides).expect("policy")
}

struct Run {
    db: Option<std::path::PathBuf>,
    chains: usize,
    id_token: bool,
    secs: u64,
}

async fn throughput(run: Run) -> (Vec<Duration>, Option<CommitStats>) {
    let mut config = Config::new(bench_policy(serde_json::json!({})));
    config.test_control = false;
    config.db = run.db;
    let server = spawn(config).await.expect("spawn");
    let scope = if run.id_token {
        "openid api:read"
    } else {
        "api:read"
    };
    let mut target = Target::new(
        format!("{}/token", server.base_url()),
        (
            "confidential-basic",
            reference_server::config::TRICKY_SECRET,
        ),
        ("alice", "alice-password"),
        scope,
    );
    target.want_id = Some(run.id_token);
    let before = server.store().commit_stats();
    let lat = drive(&target, run.chains, run.secs).await;
    let stats = server
        .store()
        .commit_stats()
        .zip(before)
        .map(|(a, b)| CommitStats {
            commits: a.commits - b.commits,
            jobs: a.jobs - b.jobs,
            syncs: a.syncs - b.syncs,
            run_nanos: a.run_nanos - b.run_nanos,
            commit_nanos: a.commit_nanos - b.commit_nanos,
            sync_nanos: a.sync_nanos - b.sync_nanos,
            checkpoint_nanos: a.checkpoint_nanos - b.checkpoint_nanos,
        });
    server.shutdown().await;
    (lat, stats)
}

/// Group commit during a run: jobs per commit, and where the writer's time went.
fn commit_row(s: &CommitStats) {
    let per = |n: u64, d: u64| n as f64 / d.max(1) as f64;
    println!(
        "         group commit: {} commits, {:.1} jobs each, {:.1} per sync; per job {:.0} us running; per commit {:.2} ms in COMMIT, {:.2} ms checkpointing; per sync {:.2} ms",
        s.commits,
        per(s.jobs, s.commits),
        per(s.jobs, s.syncs),
        per(s.run_nanos, s.jobs) / 1e3,
        per(s.commit_nanos, s.commits) / 1e6,
        per(s.checkpoint_nanos, s.commits) / 1e6,
        per(s.sync_nanos, s.syncs) / 1e6,
    );
}

/// The load generator: `chains` independent refresh chains over one keep-alive pool for `secs`
/// seconds; the sorted latencies of the successful refreshes.
async fn drive(target: &Target, chains: usize, secs: u64) -> Vec<Duration> {
    // reqwest is built without a default TLS provider in the workspace (tokencert's choice).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..chains {
        let (http, target) = (http.clone(), target.clone());
        tasks.push(tokio::spawn(async move {
            let first = token(&http, &target, target.bootstrap.clone())
                .await
                .expect("bootstrap");
            let mut rt = first["refresh_token"].as_str().expect("rt").to_owned();
            let mut latencies = Vec::new();
            while Instant::now() < deadline && latencies.len() < MAX_REQUESTS_PER_CLIENT {
                let t = Instant::now();
                let rt_enc: String = form_urlencoded::byte_serialize(rt.as_bytes()).collect();
                let body = format!("grant_type=refresh_token&refresh_token={rt_enc}");
                let v = match token(&http, &target, body).await {
                    Ok(v) => v,
                    Err(e) => {
                        // Counted and reported; retrying could replay a token that rotated.
                        eprintln!("refresh failed: {e}");
                        break;
                    }
                };
                latencies.push(t.elapsed());
                if let Some(want) = target.want_id {
                    assert_eq!(v.get("id_token").is_some(), want, "ID token as asked");
                }
                rt = v["refresh_token"].as_str().expect("rt").to_owned();
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    all.sort();
    all
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn row(store: &str, id_token: &str, chains: usize, lat: &[Duration], secs: u64) {
    println!(
        "{:<8} {:>8} {:>8} {:>10} {:>10.0} {:>9.2} {:>9.2}",
        store,
        id_token,
        chains,
        lat.len(),
        lat.len() as f64 / secs as f64,
        pct(lat, 0.5),
        pct(lat, 0.99)
    );
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The child process of the RSS measurement: `n` refreshes over 16 chains on the memory store,
/// one virtual second per 1,000 refreshes, refresh tokens idle out after 60 virtual seconds and
/// access tokens live 60 (so without purging every record stays, with it about 60,000 refreshes'
/// worth).
fn rss_child(n: usize) {
    let policy = bench_policy(serde_json::json!({
        "lifetimes": {"access_token": 60, "refresh_idle": 60},
    }));
    let mut config = Config::new(policy);
    config.test_control = true;
    let state = Arc::new(AppState::new(&config, "http://127.0.0.1:9").expect("state"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    start_purger(&rt, &state);
    let client: Arc<Client> = state.clients.get("confidential-basic").expect("client");
    let in_tx =
        |f: &mut dyn FnMut(&mut reference_server::store::Records<'_>, &Ctx<'_>) -> Issued| {
            let now = state.clock.now();
            reference_server::store::run(&*state.store, |r| f(r, &Ctx { state: &state, now }))
                .expect("tx")
        };
    let mut chains: Vec<RefreshToken> = (0..16)
        .map(|_| {
            let input = PasswordInput {
                username: "alice".into(),
                password: "alice-password".into(),
                scope: Some("api:read".into()),
                dpop_jkt: None,
            };
            in_tx(&mut |r, ctx| password(r, ctx, &client, &input).expect("password"))
                .refresh_token
                .expect("rt")
        })
        .collect();
    let started = Instant::now();
    let cap = Duration::from_secs(
        std::env::var("BENCH_RSS_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60),
    );
    let mut done = 0;
    for i in 0..n {
        if i % 1_000 == 0 && started.elapsed() > cap {
            break;
        }
        done += 1;
        let slot = i % chains.len();
        let input = RefreshInput {
            token: chains[slot].clone(),
            scope: None,
            caller: Caller::Authenticated(client.clone()),
            dpop_jkt: None,
        };
        let issued = in_tx(&mut |r, ctx| refresh(r, ctx, &input).expect("refresh"));
        chains[slot] = issued.refresh_token.expect("rt");
        if i % 1_000 == 999 {
            state.clock.advance(1);
        }
    }
    let elapsed = started.elapsed();
    // Give the purger one more round at the final virtual time.
    std::thread::sleep(Duration::from_millis(1_500));
    let (rss, hwm) = rss_kib();
    println!("{done} {rss} {hwm} {:.2}", elapsed.as_secs_f64());
}

/// Starts the store purger the server runs.
fn start_purger(rt: &tokio::runtime::Runtime, state: &Arc<AppState>) {
    let _guard = rt.enter();
    reference_server::purger::spawn(state);
}

fn rss_run(n: usize) -> Option<(usize, u64, u64, f64)> {
    let exe = std::env::current_exe().ok()?;
    let out = std::process::Command::new(exe)
        .env("BENCH_RSS_CHILD", n.to_string())
        .arg("--bench")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last()?;
    let f: Vec<&str> = line.split_whitespace().collect();
    Some((
        f.first()?.parse().ok()?,
        f.get(1)?.parse().ok()?,
        f.get(2)?.parse().ok()?,
        f.get(3)?.parse().ok()?,
    ))
}

/// One measured configuration of one round.
struct Measured {
    store: &'static str,
    id_token: bool,
    chains: usize,
    req_s: f64,
    p50: f64,
    p99: f64,
}

/// The whole matrix once, memory and SQLite back to back for each configuration (so that their
/// ratio is taken under the same conditions).
fn matrix_round(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    secs: u64,
    only: &str,
) -> Vec<Measured> {
    let mut out = Vec::new();
    for id_token in [false, true] {
        for chains in [1, 16] {
            for (name, db) in [("memory", None), ("sqlite", Some(dir.join("bench.db")))] {
                let label = format!("{name}/{}/{chains}", if id_token { "id" } else { "no-id" });
                if !only.is_empty() && !label.contains(only) {
                    continue;
                }
                if let Some(path) = &db {
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                    }
                }
                let (lat, stats) = rt.block_on(throughput(Run {
                    db,
                    chains,
                    id_token,
                    secs,
                }));
                let id = if id_token { "ES256" } else { "-" };
                row(name, id, chains, &lat, secs);
                if let Some(s) = &stats {
                    commit_row(s);
                }
                out.push(Measured {
                    store: name,
                    id_token,
                    chains,
                    req_s: lat.len() as f64 / secs as f64,
                    p50: pct(&lat, 0.5),
                    p99: pct(&lat, 0.99),
                });
            }
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Medians over the rounds, and the ratios the issue asks for, per round.
fn summary(results: &[Measured], rounds: usize) {
    println!("medians of {rounds} rounds");
    println!(
        "{:<8} {:>8} {:>8} {:>10} {:>9} {:>9}",
        "store", "id_token", "chains", "req/s", "p50 ms", "p99 ms"
    );
    let pick = |store: &str, id: bool, chains: usize| -> Vec<&Measured> {
        results
            .iter()
            .filter(|m| m.store == store && m.id_token == id && m.chains == chains)
            .collect()
    };
    for store in ["memory", "sqlite"] {
        for id in [false, true] {
            for chains in [1, 16] {
                let ms = pick(store, id, chains);
                if ms.is_empty() {
                    continue;
                }
                println!(
                    "{:<8} {:>8} {:>8} {:>10.0} {:>9.2} {:>9.2}",
                    store,
                    if id { "ES256" } else { "-" },
                    chains,
                    median(ms.iter().map(|m| m.req_s).collect()),
                    median(ms.iter().map(|m| m.p50).collect()),
                    median(ms.iter().map(|m| m.p99).collect()),
                );
            }
        }
    }
    let ratio = |name: &str, num: Vec<&Measured>, den: Vec<&Measured>| {
        if num.len() != den.len() || num.is_empty() {
            return;
        }
        let per: Vec<String> = num
            .iter()
            .zip(&den)
            .map(|(n, d)| format!("{:.2}", n.req_s / d.req_s.max(1e-9)))
            .collect();
        println!("{name}, per round: {}", per.join(", "));
    };
    ratio(
        "16 chains, memory: ES256 / no ID token",
        pick("memory", true, 16),
        pick("memory", false, 16),
    );
    for id in [false, true] {
        ratio(
            &format!(
                "16 chains, {}: SQLite / memory",
                if id { "ES256" } else { "no ID token" }
            ),
            pick("sqlite", id, 16),
            pick("memory", id, 16),
        );
    }
}

fn main() {
    if let Some(n) = std::env::var("BENCH_RSS_CHILD")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        rss_child(n);
        return;
    }
    // `cargo test --benches` passes --bench-less flags; only run when invoked as a benchmark.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .clamp(1, 10);
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    println!("refresh throughput, rotation on, {secs} s per run, loopback");
    println!(
        "{:<8} {:>8} {:>8} {:>10} {:>10} {:>9} {:>9}",
        "store", "id_token", "chains", "requests", "req/s", "p50 ms", "p99 ms"
    );
    if let Some(target) = Target::external() {
        for chains in [1, 16] {
            if !only.is_empty() && !format!("external/-/{chains}").contains(&only) {
                continue;
            }
            let lat = rt.block_on(drive(&target, chains, secs));
            row("external", "?", chains, &lat, secs);
        }
        return;
    }
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .clamp(1, 9);
    let mut results = Vec::new();
    for round in 1..=rounds {
        if rounds > 1 {
            println!("round {round}");
        }
        results.extend(matrix_round(&rt, dir.path(), secs, &only));
    }
    if rounds > 1 {
        summary(&results, rounds);
    }
    let counts: Vec<usize> = std::env::var("BENCH_RSS")
        .unwrap_or_else(|_| "200000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    if counts.is_empty() {
        return;
    }
    println!("resident memory after N refreshes (memory store, fresh process each)");
    println!(
        "{:>10} {:>10} {:>10} {:>8}",
        "refreshes", "RSS MiB", "peak MiB", "secs"
    );
    for n in counts {
        match rss_run(n) {
            Some((done, rss, hwm, s)) => println!(
                "{:>10} {:>10.1} {:>10.1} {:>8.2}",
                done,
                rss as f64 / 1024.0,
                hwm as f64 / 1024.0,
                s
            ),
            None => println!("{n:>10} (measurement failed)"),
        }
    }
}
