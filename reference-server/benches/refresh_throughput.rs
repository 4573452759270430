//! Refresh throughput with rotation on (rfc9700 + password bootstrap), in memory and on SQLite,
//! at 1 and 16 concurrent clients. Each client owns its own token chain, so every request is a
//! successful rotation. Loopback only; each run is bounded by time and request count.
//!
//! `cargo bench -p reference-server` (BENCH_SECS=N to change the per-run duration, default 3).

use base64::Engine;
use reference_server::policy::Policy;
use reference_server::{Config, spawn};
use std::time::{Duration, Instant};

const MAX_REQUESTS_PER_CLIENT: usize = 200_000;

fn basic() -> String {
    let enc = |s: &str| -> String { form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let raw = format!(
        "{}:{}",
        enc("confidential-basic"),
        enc(reference_server::config::TRICKY_SECRET)
    );
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

async fn token(http: &reqwest::Client, url: &str, body: String) -> Option<serde_json::Value> {
    let r = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", basic())
        .body(body)
        .send()
        .await
        .ok()?;
    if r.status().as_u16() != 200 {
        return None;
    }
    serde_json::from_slice(&r.bytes().await.ok()?).ok()
}

async fn run(db: Option<std::path::PathBuf>, clients: usize, secs: u64) -> (usize, Vec<Duration>) {
    let policy = Policy::resolve(
        "rfc9700",
        &serde_json::json!({"grants": {"password": true}}),
    )
    .expect("policy");
    let mut config = Config::new(policy);
    config.test_control = false;
    config.db = db;
    let server = spawn(config).await.expect("spawn");
    let url = format!("{}/token", server.base_url());
    // reqwest is built without a default TLS provider in the workspace (tokencert's choice).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let first = token(
                &http,
                &url,
                "grant_type=password&username=alice&password=alice-password".into(),
            )
            .await
            .expect("bootstrap");
            let mut rt = first["refresh_token"].as_str().expect("rt").to_owned();
            let mut latencies = Vec::new();
            while Instant::now() < deadline && latencies.len() < MAX_REQUESTS_PER_CLIENT {
                let t = Instant::now();
                let body = format!("grant_type=refresh_token&refresh_token={rt}");
                let v = token(&http, &url, body).await.expect("refresh succeeds");
                latencies.push(t.elapsed());
                rt = v["refresh_token"].as_str().expect("rt").to_owned();
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    server.shutdown().await;
    all.sort();
    (all.len(), all)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    // `cargo test --benches` passes --bench-less flags; only run when invoked as a benchmark.
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    println!("refresh throughput, rotation on, {secs} s per run, loopback");
    println!(
        "{:<8} {:>8} {:>10} {:>10} {:>9} {:>9}",
        "store", "clients", "requests", "req/s", "p50 ms", "p99 ms"
    );
    for (name, db) in [
        ("memory", None),
        ("sqlite", Some(dir.path().join("bench.db"))),
    ] {
        for clients in [1, 16] {
            if let Some(path) = &db {
                let _ = std::fs::remove_file(path);
            }
            let (n, lat) = rt.block_on(run(db.clone(), clients, secs));
            println!(
                "{:<8} {:>8} {:>10} {:>10.0} {:>9.2} {:>9.2}",
                name,
                clients,
                n,
                n as f64 / secs as f64,
                pct(&lat, 0.5),
                pct(&lat, 0.99)
            );
        }
    }
}
