//! The hostile-peer suite: what a malicious or broken client can do to the reference server over
//! loopback, measured. Ignored by default (minutes of load on a shared machine); run with
//! `scripts/hostile.sh` or
//! `cargo test -p reference-server --test hostile -- --ignored --nocapture --test-threads=1`.
//!
//! Every loop is bounded in count and in time; sizes can be lowered with `HOSTILE_FLOOD`,
//! `HOSTILE_SLOW`, `HOSTILE_RACES`, `HOSTILE_REVOKE_RACES` and `HOSTILE_KILLS`. Each test prints
//! one `hostile:` line of figures.

mod common;

use common::{Auth, Srv, enc, form};
use reference_server::policy::Policy;
use reference_server::store::sqlite::SqliteStore;
use reference_server::store::{RefreshState, run};
use reference_server::token::TokenHash;
use reference_server::{Config, ConnectionLimits, spawn};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::Semaphore;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The soft `ulimit -n` of this process.
fn fd_limit() -> usize {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| {
            l.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(1024)
}

fn password_policy() -> Policy {
    Policy::from_yaml("preset: rfc9700\ngrants: { password: true }\n").expect("policy")
}

async fn in_process(db: Option<&Path>) -> Srv {
    let mut config = Config::new(password_policy());
    config.db = db.map(Path::to_owned);
    let running = spawn(config).await.expect("spawn");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    Srv { running, http }
}

/// Counts panics anywhere in this process (the in-process server included).
fn panic_counter() -> Arc<AtomicUsize> {
    let n = Arc::new(AtomicUsize::new(0));
    let seen = n.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        seen.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    n
}

// ---------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 response reader for raw sockets.

struct RawResponse {
    status: u16,
    close: bool,
    no_store: bool,
    body: Vec<u8>,
}

impl RawResponse {
    fn is_oauth_error(&self) -> bool {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .is_some_and(|v| v["error"].is_string())
    }
}

/// Reads one response; `None` when the server closed (or stalled) before a complete one.
async fn read_response(c: &mut TcpStream, buf: &mut Vec<u8>) -> Option<RawResponse> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut chunk = [0u8; 16 * 1024];
    let (head_end, head, status) = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i + 4]).to_ascii_lowercase();
            let status: u16 = head.get(9..12)?.parse().ok()?;
            if (100..200).contains(&status) {
                // `100 Continue` and friends precede the real response.
                buf.drain(..i + 4);
                continue;
            }
            break (i + 4, head, status);
        }
        match tokio::time::timeout_at(deadline, c.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    };
    let header = |name: &str| {
        head.lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(n, _)| n.trim() == name)
            .map(|(_, v)| v.trim().to_owned())
            .collect::<Vec<_>>()
    };
    let len: usize = header("content-length").first()?.parse().ok()?;
    let connection = header("connection");
    // HTTP/1.0 closes unless the response says keep-alive.
    let close = connection.iter().any(|v| v.contains("close"))
        || (head.starts_with("http/1.0") && !connection.iter().any(|v| v.contains("keep-alive")));
    let no_store = header("cache-control")
        .iter()
        .any(|v| v.contains("no-store"));
    while buf.len() < head_end + len {
        match tokio::time::timeout_at(deadline, c.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
    let body = buf[head_end..head_end + len].to_vec();
    buf.drain(..head_end + len);
    Some(RawResponse {
        status,
        close,
        no_store,
        body,
    })
}

// ---------------------------------------------------------------------------------------------
// Malformed floods.

/// Hostile request shapes, each complete as hyper frames it (so nothing is left over on a
/// connection the server keeps open).
fn hostile_corpus() -> Vec<(&'static str, Vec<u8>)> {
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    let req = |path: &str, headers: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    };
    let many: String = (0..2000).map(|i| format!("X-{i}: y\r\n")).collect();
    let mut random = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..512 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        random.push((x >> 24) as u8);
    }
    random.extend_from_slice(b"\r\n\r\n");
    vec![
        (
            "duplicate Content-Length",
            format!("POST /token HTTP/1.1\r\nHost: x\r\n{form}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd").into_bytes(),
        ),
        (
            "bad Transfer-Encoding",
            format!("POST /token HTTP/1.1\r\nHost: x\r\n{form}Transfer-Encoding: gzip, chunked, foo\r\n\r\n").into_bytes(),
        ),
        ("garbage request line", b"GARBAGE \x01\x02 NONSENSE\r\n\r\n".to_vec()),
        (
            "2,000 headers",
            format!("POST /token HTTP/1.1\r\nHost: x\r\n{many}\r\n").into_bytes(),
        ),
        (
            "invalid chunk size",
            format!("POST /token HTTP/1.1\r\nHost: x\r\n{form}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n").into_bytes(),
        ),
        (
            "chunk longer than declared",
            format!("POST /revoke HTTP/1.1\r\nHost: x\r\n{form}Transfer-Encoding: chunked\r\n\r\n2\r\nabcdef\r\n0\r\n\r\n").into_bytes(),
        ),
        (
            "oversize Content-Length",
            format!("POST /introspect HTTP/1.1\r\nHost: x\r\n{form}Content-Length: 1000000\r\n\r\naaaa").into_bytes(),
        ),
        (
            "oversize chunked body",
            format!(
                "POST /token HTTP/1.1\r\nHost: x\r\n{form}Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
                70_000,
                "a".repeat(70_000)
            )
            .into_bytes(),
        ),
        ("random bytes", random),
        ("NUL in request line", b"POST /to\0ken HTTP/1.1\r\nHost: x\r\n\r\n".to_vec()),
        ("space in header name", b"POST /token HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n".to_vec()),
        (
            "obs-fold header",
            b"POST /token HTTP/1.1\r\nHost: x\r\nX-A: a\r\n  folded\r\nContent-Length: 0\r\n\r\n".to_vec(),
        ),
        ("unknown method", b"BREW /token HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".to_vec()),
        ("GET with a body", b"GET /token HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc".to_vec()),
        ("bad percent-escape", req("/token", form, "grant_type=%zz")),
        ("invalid UTF-8", req("/token", form, "grant_type=%FF%FE")),
        ("repeated parameter", req("/token", form, "grant_type=password&grant_type=password")),
        ("wrong content type", req("/token", "Content-Type: application/json\r\n", "{}")),
        ("no content type", req("/revoke", "", "token=x")),
        (
            "two Authorization headers",
            req("/token", &format!("{form}Authorization: Basic YTpi\r\nAuthorization: Basic YzpkIA==\r\n"), "grant_type=client_credentials"),
        ),
        ("malformed Basic", req("/introspect", &format!("{form}Authorization: Basic !!!\r\n"), "token=x")),
        ("non-ASCII header value", {
            let mut r = b"POST /token HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \xff\xfe\r\n".to_vec();
            r.extend_from_slice(format!("{form}Content-Length: 0\r\n\r\n").as_bytes());
            r
        }),
        ("HTTP/1.0 without Host", b"POST /token HTTP/1.0\r\nContent-Length: 0\r\n\r\n".to_vec()),
        ("absolute-form target", req("http://x/token", form, "grant_type=x")),
        ("Expect: 100-continue", req("/token", &format!("{form}Expect: 100-continue\r\n"), "grant_type=x")),
        ("bare LF line endings", b"POST /token HTTP/1.1\nHost: x\nContent-Length: 0\n\n".to_vec()),
    ]
}

#[derive(Default, Debug)]
struct FloodTally {
    hostile: u64,
    probes: u64,
    by_status: BTreeMap<u16, u64>,
    server_errors: u64,
    not_oauth_json: u64,
    no_store_missing: u64,
    no_response: u64,
    /// Kept open (no `Connection: close`) yet the next request on it went unanswered.
    lost_after_keep_alive: u64,
    /// The shapes behind every failure above.
    failing_shapes: BTreeMap<&'static str, u64>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hostile-peer suite: minutes of load; run scripts/hostile.sh"]
async fn malformed_floods_get_oauth_json_and_never_a_5xx() {
    let panics = panic_counter();
    let s = in_process(None).await;
    let addr = s.running.addr;
    let corpus = Arc::new(hostile_corpus());
    let total = env_usize("HOSTILE_FLOOD", 200_000) as u64;
    let budget = Duration::from_secs(600);
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..32 {
        let (corpus, next) = (corpus.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut t = FloodTally::default();
            let mut conn: Option<(TcpStream, Vec<u8>)> = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || started.elapsed() > budget {
                    return t;
                }
                let (shape, raw) = &corpus[(i % corpus.len() as u64) as usize];
                let fail = |t: &mut FloodTally| *t.failing_shapes.entry(shape).or_default() += 1;
                let (mut c, mut buf) = match conn.take() {
                    Some(c) => c,
                    None => (TcpStream::connect(addr).await.expect("connect"), Vec::new()),
                };
                t.hostile += 1;
                if c.write_all(raw).await.is_err() {
                    t.no_response += 1;
                    fail(&mut t);
                    continue;
                }
                let Some(r) = read_response(&mut c, &mut buf).await else {
                    t.no_response += 1;
                    fail(&mut t);
                    continue;
                };
                *t.by_status.entry(r.status).or_default() += 1;
                let bad = [
                    (r.status >= 500, &mut t.server_errors),
                    (
                        r.status >= 400 && !r.is_oauth_error(),
                        &mut t.not_oauth_json,
                    ),
                    (r.status >= 400 && !r.no_store, &mut t.no_store_missing),
                ];
                let mut failed = false;
                for (cond, count) in bad {
                    if cond {
                        *count += 1;
                        failed = true;
                    }
                }
                if failed {
                    fail(&mut t);
                }
                if r.close {
                    continue;
                }
                // The server promised to keep the connection: it must answer the next request.
                t.probes += 1;
                let probe = b"GET /jwks HTTP/1.1\r\nHost: x\r\n\r\n";
                match c.write_all(probe).await {
                    Ok(()) => match read_response(&mut c, &mut buf).await {
                        Some(p) if p.status == 200 => {
                            if !p.close {
                                conn = Some((c, buf));
                            }
                        }
                        _ => {
                            t.lost_after_keep_alive += 1;
                            fail(&mut t);
                        }
                    },
                    Err(_) => {
                        t.lost_after_keep_alive += 1;
                        fail(&mut t);
                    }
                }
            }
        }));
    }
    let mut all = FloodTally::default();
    for w in workers {
        let t = w.await.expect("worker");
        all.hostile += t.hostile;
        all.probes += t.probes;
        for (k, v) in t.by_status {
            *all.by_status.entry(k).or_default() += v;
        }
        all.server_errors += t.server_errors;
        all.not_oauth_json += t.not_oauth_json;
        all.no_store_missing += t.no_store_missing;
        all.no_response += t.no_response;
        all.lost_after_keep_alive += t.lost_after_keep_alive;
        for (k, v) in t.failing_shapes {
            *all.failing_shapes.entry(k).or_default() += v;
        }
    }
    let panics = panics.load(Ordering::SeqCst);
    eprintln!(
        "hostile: flood {} hostile requests + {} keep-alive probes in {:.1?} over {} shapes; \
         statuses {:?}; 5xx {}; not §5.2 JSON {}; no-store missing {}; no response {}; \
         lost after keep-alive {}; panics {}; failing shapes {:?}",
        all.hostile,
        all.probes,
        started.elapsed(),
        corpus.len(),
        all.by_status,
        all.server_errors,
        all.not_oauth_json,
        all.no_store_missing,
        all.no_response,
        all.lost_after_keep_alive,
        panics,
        all.failing_shapes
    );
    assert_eq!(all.server_errors, 0, "{all:?}");
    assert_eq!(all.not_oauth_json, 0, "{all:?}");
    assert_eq!(all.no_store_missing, 0, "{all:?}");
    assert_eq!(all.no_response, 0, "{all:?}");
    assert_eq!(all.lost_after_keep_alive, 0, "{all:?}");
    assert_eq!(panics, 0);
    s.running.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Slow connections, against the binary so its descriptors and memory can be read from /proc.

async fn launch(args: &[&str]) -> (Child, std::net::SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reference-server"))
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
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
    let addr = line
        .rsplit("http://")
        .next()
        .and_then(|a| a.parse().ok())
        .expect("address");
    (child, addr)
}

/// Open descriptors and resident memory (KiB) of a process.
fn usage(pid: u32) -> (usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0);
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0);
    (fds, rss)
}

/// One slowloris peer: a request line, then a header line a second, reconnecting a second after
/// the server lets it go, until `until`. Returns (connections made, connections cut by the server).
async fn slowloris(
    addr: std::net::SocketAddr,
    until: Instant,
    open: Arc<AtomicUsize>,
) -> (u64, u64) {
    let (mut made, mut cut) = (0, 0);
    while Instant::now() < until {
        let Ok(Ok(mut c)) =
            tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await
        else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        made += 1;
        open.fetch_add(1, Ordering::Relaxed);
        let mut ok = c
            .write_all(b"POST /token HTTP/1.1\r\nHost: x\r\n")
            .await
            .is_ok();
        let mut b = [0u8; 256];
        while ok && Instant::now() < until {
            tokio::select! {
                r = c.read(&mut b) => { if matches!(r, Ok(0) | Err(_)) { cut += 1; ok = false; } }
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    ok = c.write_all(b"X-Slow: 1\r\n").await.is_ok();
                    if !ok { cut += 1; }
                }
            }
        }
        open.fetch_sub(1, Ordering::Relaxed);
        drop(c);
        if Instant::now() < until {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
    (made, cut)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hostile-peer suite: minutes of load; run scripts/hostile.sh"]
async fn slow_connections_stay_bounded_and_a_normal_client_is_served() {
    let max_connections = ConnectionLimits::DEFAULT_MAX_CONNECTIONS;
    // Our side holds every slow connection; leave room for the runtime and the normal client.
    let want = env_usize("HOSTILE_SLOW", 5_000);
    let n = want.min(fd_limit().saturating_sub(256));
    if n < want {
        eprintln!(
            "hostile: ulimit -n {} allows only {n} slow connections",
            fd_limit()
        );
    }
    let (mut child, addr) = launch(&["--policy", "rfc9700"]).await;
    let pid = child.id().expect("pid");
    let (idle_fds, idle_rss) = usage(pid);
    let duration = Duration::from_secs(env_usize("HOSTILE_SLOW_SECONDS", 30) as u64);
    let until = Instant::now() + duration;
    let open = Arc::new(AtomicUsize::new(0));
    let mut peers = Vec::new();
    for _ in 0..n {
        peers.push(tokio::spawn(slowloris(addr, until, open.clone())));
    }
    // The normal client and the sampler, side by side with the flood.
    let (mut served, mut failed, mut slowest) = (0u32, 0u32, Duration::ZERO);
    let (mut max_fds, mut max_rss, mut max_open) = (0usize, 0u64, 0usize);
    let mut last_sample = Instant::now();
    while Instant::now() < until {
        let t = Instant::now();
        let ok = async {
            let mut c = TcpStream::connect(addr).await.ok()?;
            c.write_all(b"GET /.well-known/oauth-authorization-server HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
                .ok()?;
            read_response(&mut c, &mut Vec::new())
                .await
                .filter(|r| r.status == 200)
        };
        match tokio::time::timeout(Duration::from_secs(10), ok).await {
            Ok(Some(_)) => served += 1,
            _ => failed += 1,
        }
        slowest = slowest.max(t.elapsed());
        if last_sample.elapsed() >= Duration::from_millis(500) {
            let (fds, rss) = usage(pid);
            max_fds = max_fds.max(fds);
            max_rss = max_rss.max(rss);
            max_open = max_open.max(open.load(Ordering::Relaxed));
            last_sample = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let (mut made, mut cut) = (0, 0);
    for p in peers {
        let (m, c) = p.await.expect("peer");
        made += m;
        cut += c;
    }
    let (after_fds, _) = usage(pid);
    child.start_kill().expect("kill");
    let _ = child.wait().await;
    eprintln!(
        "hostile: slow {n} slowloris peers for {duration:?} (limit {max_connections}): \
         {made} connections made, {cut} cut by the server, at most {max_open} open at once from \
         the peers' side; server descriptors idle {idle_fds}, max {max_fds}, after {after_fds}; \
         RSS idle {} KiB, max {} KiB; normal client {served} served, {failed} failed, slowest {slowest:?}",
        idle_rss, max_rss
    );
    assert!(
        max_fds <= max_connections + 64,
        "{max_fds} descriptors with a limit of {max_connections}"
    );
    assert_eq!(failed, 0, "the normal client was refused");
    assert!(served > 0);
}

// ---------------------------------------------------------------------------------------------
// Refresh races.

/// Outcomes of a batch of races: (good, bad, 5xx).
#[derive(Default)]
struct RaceTally {
    good: usize,
    bad: usize,
    server_errors: usize,
}

impl RaceTally {
    fn add(&mut self, (good, server_errors): (bool, usize)) {
        if good {
            self.good += 1;
        } else {
            self.bad += 1;
        }
        self.server_errors += server_errors;
    }
}

/// Runs `races` copies of `race` on `s`, 16 at a time, within ten minutes.
async fn run_races<F, Fut>(s: &Arc<Srv>, races: usize, race: F) -> (RaceTally, Duration)
where
    F: Fn(Arc<Srv>) -> Fut,
    Fut: std::future::Future<Output = (bool, usize)> + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(16));
    let started = Instant::now();
    let budget = Duration::from_secs(600);
    let mut tasks = tokio::task::JoinSet::new();
    let mut tally = RaceTally::default();
    for _ in 0..races {
        let permit = gate.clone().acquire_owned().await.expect("gate");
        if started.elapsed() > budget {
            break;
        }
        let fut = race(s.clone());
        tasks.spawn(async move {
            let _permit = permit;
            fut.await
        });
        while let Some(r) = tasks.try_join_next() {
            tally.add(r.expect("race"));
        }
    }
    while let Some(r) = tasks.join_next().await {
        tally.add(r.expect("race"));
    }
    (tally, started.elapsed())
}

fn statuses_5xx(statuses: &[u16]) -> usize {
    statuses.iter().filter(|s| **s >= 500).count()
}

/// Two refreshes of one token at once: exactly one may win (no grace period in this policy).
async fn double_refresh(s: Arc<Srv>) -> (bool, usize) {
    let secret = s.secret("confidential-basic");
    let tokens = s.password("api:read").await;
    if tokens.status != 200 {
        eprintln!(
            "hostile: password grant failed: {} {}",
            tokens.status, tokens.text
        );
        return (false, statuses_5xx(&[tokens.status]));
    }
    let rt = tokens.rt();
    let auth = Auth::Basic("confidential-basic", &secret);
    let (a, b) = tokio::join!(s.refresh(auth, &rt), s.refresh(auth, &rt));
    let winners = [a.status, b.status].iter().filter(|s| **s == 200).count();
    (winners == 1, statuses_5xx(&[a.status, b.status]))
}

/// A refresh and a revocation of one token at once: afterwards no token of the grant is active.
async fn refresh_against_revoke(s: Arc<Srv>) -> (bool, usize) {
    let secret = s.secret("confidential-basic");
    let tokens = s.password("api:read").await;
    if tokens.status != 200 {
        eprintln!(
            "hostile: password grant failed: {} {}",
            tokens.status, tokens.text
        );
        return (false, statuses_5xx(&[tokens.status]));
    }
    let (at, rt) = (tokens.at(), tokens.rt());
    let auth = Auth::Basic("confidential-basic", &secret);
    let revoke = [("token", rt.as_str())];
    let (r, v) = tokio::join!(s.refresh(auth, &rt), s.post("/revoke", auth, &revoke, &[]));
    let mut alive = vec![at, rt];
    if r.status == 200 {
        alive.push(r.at());
        alive.push(r.rt());
    }
    let mut good = v.status == 200 && (r.status == 200 || r.err() == "invalid_grant");
    for t in &alive {
        good &= s.introspect(t).await["active"] == false;
    }
    (good, statuses_5xx(&[r.status, v.status]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hostile-peer suite: minutes of load; run scripts/hostile.sh"]
async fn double_refresh_races_have_exactly_one_winner_on_both_stores() {
    let races = env_usize("HOSTILE_RACES", 10_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("races.db");
    for (name, db) in [("memory", None), ("sqlite", Some(db.as_path()))] {
        let s = Arc::new(in_process(db).await);
        let (t, took) = run_races(&s, races, double_refresh).await;
        eprintln!(
            "hostile: races {name}: {} double-refresh races in {took:.1?}: {} with exactly one \
             winner, {} with none or two, {} 5xx",
            t.good + t.bad,
            t.good,
            t.bad,
            t.server_errors
        );
        assert_eq!((t.good, t.bad, t.server_errors), (races, 0, 0), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hostile-peer suite: minutes of load; run scripts/hostile.sh"]
async fn refresh_racing_revoke_leaves_nothing_alive_on_both_stores() {
    let races = env_usize("HOSTILE_REVOKE_RACES", 1_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("revoke.db");
    for (name, db) in [("memory", None), ("sqlite", Some(db.as_path()))] {
        let s = Arc::new(in_process(db).await);
        let (t, took) = run_races(&s, races, refresh_against_revoke).await;
        eprintln!(
            "hostile: revoke races {name}: {} refresh-vs-revoke races in {took:.1?}: {} left \
             nothing alive, {} left a token active, {} 5xx",
            t.good + t.bad,
            t.good,
            t.bad,
            t.server_errors
        );
        assert_eq!((t.good, t.bad, t.server_errors), (races, 0, 0), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// kill -9 under refresh load.

async fn post(
    http: &reqwest::Client,
    url: &str,
    auth: (&str, &str),
    pairs: &[(&str, &str)],
) -> reqwest::Result<(u16, serde_json::Value)> {
    let b64 = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{}:{}", enc(auth.0), enc(auth.1)),
    );
    let r = http
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {b64}"))
        .timeout(Duration::from_secs(10))
        .body(form(pairs))
        .send()
        .await?;
    let status = r.status().as_u16();
    let body = r.text().await?;
    Ok((
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    ))
}

/// One kill cycle: chains of refreshes against a fresh binary on `db`, SIGKILL mid-load, then
/// the file and a restarted server are checked. Returns (rotations acknowledged, lost).
async fn kill_cycle(db: &Path, policy: &Path, kill_after: usize) -> (usize, usize) {
    const CHAINS: usize = 8;
    let auth = (
        "confidential-basic",
        reference_server::config::TRICKY_SECRET,
    );
    let http = reqwest::Client::new();
    let policy_arg = policy.to_str().expect("utf8");
    let db_arg = db.to_str().expect("utf8");
    let (mut child, addr) = launch(&["--policy", policy_arg, "--db", db_arg]).await;
    let token_url = format!("http://{addr}/token");
    let chains: Arc<std::sync::Mutex<Vec<Vec<String>>>> = Arc::default();
    for _ in 0..CHAINS {
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
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut tasks = Vec::new();
    for i in 0..CHAINS {
        let (http, url, chains) = (http.clone(), token_url.clone(), chains.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..10_000 {
                if Instant::now() > deadline {
                    break;
                }
                let current = chains.lock().expect("lock")[i].last().cloned().expect("t");
                let pairs = [
                    ("grant_type", "refresh_token"),
                    ("refresh_token", current.as_str()),
                ];
                match post(&http, &url, auth, &pairs).await {
                    Ok((200, v)) => {
                        let rt = v["refresh_token"].as_str().expect("rt").to_owned();
                        chains.lock().expect("lock")[i].push(rt);
                    }
                    Ok((status, v)) => panic!("unexpected {status}: {v}"),
                    Err(_) => break,
                }
            }
        }));
    }
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        let done: usize = chains
            .lock()
            .expect("lock")
            .iter()
            .map(|c| c.len() - 1)
            .sum();
        if done >= kill_after {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.start_kill().expect("SIGKILL");
    let _ = child.wait().await;
    for t in tasks {
        t.await.expect("client task");
    }
    let chains = chains.lock().expect("lock").clone();
    let rotations: usize = chains.iter().map(|c| c.len() - 1).sum();
    let mut lost = 0;
    // Which token of each chain should still work: the newest seen, unless a rotation the
    // client never saw committed after it.
    let mut current = Vec::new();
    {
        let store = SqliteStore::open(db).expect("open db");
        for chain in &chains {
            let records = run(&store, |r| {
                chain
                    .iter()
                    .map(|t| r.refresh(&TokenHash::of(t).0).expect("read"))
                    .collect::<Vec<_>>()
            })
            .expect("tx");
            let (last, earlier) = records.split_last().expect("non-empty");
            lost += earlier
                .iter()
                .filter(|r| {
                    !r.as_ref()
                        .is_some_and(|r| matches!(r.state, RefreshState::Superseded { .. }))
                })
                .count();
            match last.as_ref().map(|r| &r.state) {
                Some(RefreshState::Active) => current.push(chain.last().cloned()),
                Some(RefreshState::Superseded { .. }) => current.push(None),
                _ => {
                    lost += 1;
                    current.push(None);
                }
            }
        }
    }
    let (mut child, addr) = launch(&["--policy", policy_arg, "--db", db_arg]).await;
    for rt in current.iter().flatten() {
        let pairs = [
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
        ];
        match post(&http, &format!("http://{addr}/token"), auth, &pairs).await {
            Ok((200, _)) => {}
            _ => lost += 1,
        }
    }
    child.start_kill().expect("kill");
    let _ = child.wait().await;
    (rotations, lost)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "hostile-peer suite: minutes of load; run scripts/hostile.sh"]
async fn kill_9_under_refresh_load_loses_no_rotation() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kills = env_usize("HOSTILE_KILLS", 10);
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "preset: rfc9700\ngrants: { password: true }\n").expect("policy");
    let (mut rotations, mut lost) = (0, 0);
    for k in 0..kills {
        let db = dir.path().join(format!("kill-{k}.db"));
        // Kill at a different point each cycle.
        let (r, l) = kill_cycle(&db, &policy, 50 + 97 * k % 400).await;
        rotations += r;
        lost += l;
    }
    eprintln!(
        "hostile: kill -9 {kills} SIGKILLs under refresh load: {rotations} rotations \
         acknowledged, {lost} lost"
    );
    assert_eq!(lost, 0);
}
