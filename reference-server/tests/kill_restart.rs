//! Durability: SIGKILL the `reference-server` binary while clients hammer it with refreshes, then
//! check the SQLite file and a restarted server: every rotation a client saw succeed is still
//! there, and no superseded token has come back to life.

mod common;

use common::{Auth, enc, form};
use reference_server::store::sqlite::SqliteStore;
use reference_server::store::{RefreshState, run};
use reference_server::token::TokenHash;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

async fn launch(db: &Path, policy: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args(["--bind", "127.0.0.1:0", "--policy"])
        .arg(policy)
        .arg("--db")
        .arg(db)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn reference-server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("startup in time")
        .expect("read")
        .expect("a line");
    let base = line.rsplit(' ').next().expect("url").to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");
    (child, base)
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    auth: Auth<'_>,
    pairs: &[(&str, &str)],
) -> reqwest::Result<(u16, serde_json::Value)> {
    let mut req = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .timeout(Duration::from_secs(10));
    if let Auth::Basic(id, secret) = auth {
        let b64 = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{}:{}", enc(id), enc(secret)),
        );
        req = req.header("authorization", format!("Basic {b64}"));
    }
    let r = req.body(form(pairs)).send().await?;
    let status = r.status().as_u16();
    let body = r.text().await?;
    Ok((
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_refresh_load_loses_no_committed_rotation() {
    sigkill_during_refresh_load(6, 200).await;
}

/// Many chains at once: their rotations share commits (group commit), and a SIGKILL between a
/// group's last write and its fsync must lose only rotations no client was told about.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_grouped_commits_loses_no_committed_rotation() {
    sigkill_during_refresh_load(48, 500).await;
}

/// `chain_count` clients refresh their own chains until `rotations_before_kill` succeeded (or
/// 10 s), then the
/// server is killed mid-load and its file checked, directly and through a restarted server.
async fn sigkill_during_refresh_load(chain_count: usize, rotations_before_kill: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("tokens.db");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "preset: rfc9700\ngrants: { password: true }\n").expect("policy");
    let secret = reference_server::config::TRICKY_SECRET;
    let auth = Auth::Basic("confidential-basic", secret);
    // reqwest is built without a default TLS provider in the workspace (tokencert's choice).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();

    let (mut child, base) = launch(&db, &policy).await;
    let token_url = format!("{base}/token");
    // chains[i] = every refresh token chain i received, in order.
    let chains: Arc<Mutex<Vec<Vec<String>>>> = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..chain_count {
        let (st, v) = post(
            &http,
            &token_url,
            auth,
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", "alice-password"),
            ],
        )
        .await
        .expect("password grant");
        assert_eq!(st, 200, "{v}");
        let rt = v["refresh_token"].as_str().expect("rt").to_owned();
        chains.lock().expect("lock").push(vec![rt]);
    }

    let deadline = Instant::now() + Duration::from_secs(20);
    let mut tasks = Vec::new();
    for i in 0..chain_count {
        let (http, url, chains) = (http.clone(), token_url.clone(), chains.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..5_000 {
                if Instant::now() > deadline {
                    break;
                }
                let current = chains.lock().expect("lock")[i]
                    .last()
                    .cloned()
                    .expect("token");
                let pairs = [
                    ("grant_type", "refresh_token"),
                    ("refresh_token", current.as_str()),
                ];
                match post(
                    &http,
                    &url,
                    Auth::Basic("confidential-basic", secret),
                    &pairs,
                )
                .await
                {
                    Ok((200, v)) => {
                        let rt = v["refresh_token"].as_str().expect("rt").to_owned();
                        chains.lock().expect("lock")[i].push(rt);
                    }
                    Ok((status, v)) => panic!("unexpected {status}: {v}"),
                    // The server was killed mid-request.
                    Err(_) => break,
                }
            }
        }));
    }
    // Let some rotations commit, then kill -9 while requests are in flight.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        let done: usize = chains
            .lock()
            .expect("lock")
            .iter()
            .map(|c| c.len() - 1)
            .sum();
        if done >= rotations_before_kill {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    for t in tasks {
        t.await.expect("client task");
    }
    let chains = chains.lock().expect("lock").clone();
    let rotations: usize = chains.iter().map(|c| c.len() - 1).sum();
    assert!(
        rotations >= chain_count,
        "the load produced too few rotations: {rotations}"
    );

    // The file itself: every token a client received was committed; every predecessor is
    // superseded; the newest is current unless an in-flight rotation committed after it.
    let mut current = Vec::new();
    {
        let store = SqliteStore::open(&db).expect("open db");
        for chain in &chains {
            let records = run(&store, |r| {
                chain
                    .iter()
                    .map(|t| r.refresh(&TokenHash::of(t).0).expect("read"))
                    .collect::<Vec<_>>()
            })
            .expect("tx");
            let (last, earlier) = records.split_last().expect("non-empty");
            for rec in earlier {
                let rec = rec.as_ref().expect("a rotation the client saw was lost");
                assert!(
                    matches!(rec.state, RefreshState::Superseded { .. }),
                    "superseded token came back: {rec:?}"
                );
            }
            let last = last
                .as_ref()
                .expect("the newest token the client saw was lost");
            match &last.state {
                RefreshState::Active => current.push(Some(chain.last().cloned().expect("t"))),
                RefreshState::Superseded { successor, .. } => {
                    let s = run(&store, |r| r.refresh(successor).expect("read")).expect("tx");
                    assert!(s.is_some_and(|s| s.state == RefreshState::Active));
                    current.push(None);
                }
                RefreshState::Revoked => panic!("revoked without reason"),
            }
        }
    }

    eprintln!(
        "{rotations} rotations acknowledged before SIGKILL; {} chains had a rotation commit unseen",
        current.iter().filter(|c| c.is_none()).count()
    );
    // A restarted server agrees.
    let (mut child, base) = launch(&db, &policy).await;
    let introspect_url = format!("{base}/introspect");
    let c2 = Auth::Basic("confidential-basic-2", "second-client-secret");
    for (chain, cur) in chains.iter().zip(&current) {
        for old in &chain[..chain.len() - 1] {
            let (st, v) = post(&http, &introspect_url, c2, &[("token", old)])
                .await
                .expect("introspect");
            assert_eq!((st, &v["active"]), (200, &serde_json::json!(false)));
        }
        if let Some(rt) = cur {
            let (st, v) = post(
                &http,
                &format!("{base}/token"),
                auth,
                &[("grant_type", "refresh_token"), ("refresh_token", rt)],
            )
            .await
            .expect("refresh");
            assert_eq!(
                st, 200,
                "the newest token no longer works after restart: {v}"
            );
        }
    }
    child.start_kill().expect("kill");
    let _ = child.wait().await;
}
