//! A hostile target: endless, huge and dripping response bodies. The harness must turn each into
//! an Error naming the limit (or the deadline) while its memory stays bounded.
//!
//! Each case runs in a child process — this test binary again, with `HOSTILE_CASE` set — so the
//! peak resident set it reports (`VmHWM` from `/proc/self/status`) is that case's alone. The
//! hostile server runs in the parent, so its buffers are not counted either.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokencert::profile::{ProcessEnv, Target};
use tokencert::report::Outcome;
use tokencert::runner::{RunOptions, Runner};
use tokencert::scenario::{LoadOptions, load_paths};
use tokencert::session::Session;

/// Peak resident set allowed for one case. Reading any of these bodies whole would take at least
/// 1 GiB; with the 4 MiB limit a case peaks at a few tens of MiB.
const PEAK_BOUND_KIB: u64 = 160 * 1024;

/// How long the server keeps feeding one connection at most (bounded even if nobody hangs up).
const FEED_FOR: Duration = Duration::from_secs(60);

// ---- the hostile server (parent process) ---------------------------------------------------

fn hostile_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || serve(conn));
        }
    });
    addr
}

/// Reads one request (head and Content-Length body) and answers by path; returns when the
/// client hangs up, the answer is complete, or [`FEED_FOR`] has passed.
fn serve(mut s: TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
    }
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let start = Instant::now();
    let json = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n";
    let block = vec![b' '; 16 * 1024];
    match path.as_str() {
        "/endless" => {
            if write!(s, "{json}Transfer-Encoding: chunked\r\n\r\n").is_err() {
                return;
            }
            let mut chunk = format!("{:x}\r\n", block.len()).into_bytes();
            chunk.extend_from_slice(&block);
            chunk.extend_from_slice(b"\r\n");
            while start.elapsed() < FEED_FOR && s.write_all(&chunk).is_ok() {}
        }
        "/endless-close" => {
            if write!(s, "{json}\r\n").is_err() {
                return;
            }
            while start.elapsed() < FEED_FOR && s.write_all(&block).is_ok() {}
        }
        "/huge" => {
            const GIB: usize = 1 << 30;
            if write!(s, "{json}Content-Length: {GIB}\r\n\r\n").is_err() {
                return;
            }
            let mut sent = 0;
            while sent < GIB && start.elapsed() < FEED_FOR && s.write_all(&block).is_ok() {
                sent += block.len();
            }
        }
        "/drip" => {
            const LEN: usize = 600;
            if write!(s, "{json}Content-Length: {LEN}\r\n\r\n").is_err() {
                return;
            }
            for _ in 0..LEN {
                if s.write_all(b" ").and_then(|()| s.flush()).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        _ => {
            let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        }
    }
}

// ---- one case (child process) --------------------------------------------------------------

fn target_yaml(addr: SocketAddr, token_path: &str, extra: &str) -> String {
    format!(
        "name: hostile
base_url: http://{addr}
endpoints: {{ token: {token_path} }}
clients:
  confidential: {{ id: c, secret: s3cret-value, auth_method: client_secret_basic }}
bootstrap: {{ grant: password, username: u, password: p4ssword }}
policy: rfc9700
timeout: 3s
{extra}"
    )
}

/// Eight cells, run four at a time: each sends one request to the token endpoint.
fn request_scenarios(dir: &Path) {
    for i in 0..8 {
        common::write(
            dir,
            &[(
                &format!("specs/s{i}.yaml"),
                &format!(
                    "id: hostile.request{i}
title: t
requirements: [{{ id: RFC6749-6.a, level: MUST }}]
steps:
  - request:
      endpoint: token
      client_auth: confidential
      form: {{ grant_type: refresh_token, refresh_token: r1 }}
    expect:
      status: 200
"
                ),
            )],
        );
    }
}

fn race_scenario(dir: &Path) {
    common::write(
        dir,
        &[(
            "specs/race.yaml",
            "id: hostile.race
title: t
requirements: [{ id: RFC6749-6.a, level: MUST }]
steps:
  - race:
      count: 4
      request:
        endpoint: token
        client_auth: confidential
        form: { grant_type: refresh_token, refresh_token: r1 }
    expect:
      successes: 1
",
        )],
    );
}

async fn context(dir: &Path) -> Result<Runner, String> {
    let (cat, diags) = load_paths(&[dir.join("specs")], &LoadOptions::default());
    assert!(diags.is_empty(), "{}", diags[0].render());
    let target = Target::load(&dir.join("target.yaml"), &ProcessEnv).expect("target");
    let session = Session::new(target).await.map_err(|e| e.to_string())?;
    Ok(Runner::new(
        Arc::new(session),
        Arc::new(cat),
        "hostile".into(),
    ))
}

/// Runs every cell; each must be an Error (a Timeout when `want` is a missing answer) whose
/// reason contains `want`.
async fn run_expecting(dir: &Path, want: &str) -> String {
    let ctx = Arc::new(context(dir).await.expect("context"));
    let cells = ctx.plan(&[]);
    let opts = RunOptions {
        jobs: 4,
        ..RunOptions::default()
    };
    let results = ctx.run(cells, &opts).await;
    assert!(!results.is_empty());
    for r in &results {
        let reason = r.reason.clone().unwrap_or_default();
        let outcome = if tokencert::http::NoAnswer::is(want) {
            Outcome::Timeout
        } else {
            Outcome::Error
        };
        assert_eq!(r.outcome, outcome, "{}: {reason}", r.name());
        assert!(reason.contains(want), "{}: {reason}", r.name());
    }
    results[0].reason.clone().unwrap_or_default()
}

async fn case(name: &str, addr: SocketAddr, dir: &Path) -> String {
    const LIMIT: &str = "response body exceeded 4 MiB";
    let setup = |path: &str, extra: &str| {
        common::write(dir, &[("target.yaml", &target_yaml(addr, path, extra))]);
    };
    match name {
        "run-endless-chunked" => {
            setup("/endless", "");
            request_scenarios(dir);
            run_expecting(dir, LIMIT).await
        }
        "run-1gib-content-length" => {
            setup("/huge", "");
            request_scenarios(dir);
            run_expecting(dir, &format!("{LIMIT} (Content-Length 1073741824)")).await
        }
        "run-drip" => {
            setup("/drip", "");
            request_scenarios(dir);
            run_expecting(dir, "no answer within 3 s").await
        }
        "race-endless-chunked" | "race-endless-close" => {
            setup(
                if name.ends_with("chunked") {
                    "/endless"
                } else {
                    "/endless-close"
                },
                "",
            );
            race_scenario(dir);
            run_expecting(dir, LIMIT).await
        }
        "discovery-endless" => {
            setup("/token", &format!("discovery: http://{addr}/endless\n"));
            request_scenarios(dir);
            let err = context(dir).await.err().expect("discovery must fail");
            assert!(err.contains(LIMIT), "{err}");
            err
        }
        "prop-endless" => {
            setup("/endless", "");
            std::fs::create_dir_all(dir.join("specs")).expect("mkdir");
            let ctx = context(dir).await.expect("context");
            let source = tokencert::prop::Source::Fixed(Arc::clone(&ctx.session));
            let opts = tokencert::prop::PropOptions {
                cases: 4,
                ..tokencert::prop::PropOptions::default()
            };
            let handle = tokio::runtime::Handle::current();
            let summary = tokio::task::spawn_blocking(move || {
                tokencert::prop::search(&handle, &source, &opts)
            })
            .await
            .expect("search");
            let err = summary.error.expect("prop must stop with an error");
            assert!(err.contains(LIMIT), "{err}");
            err
        }
        "fuzz-endless" => {
            setup("/endless", "");
            std::fs::create_dir_all(dir.join("specs")).expect("mkdir");
            let mut target = Target::load(&dir.join("target.yaml"), &ProcessEnv).expect("target");
            target.timeout = Duration::from_secs(3);
            let session = Arc::new(Session::new(target).await.expect("session"));
            let opts = tokencert::blackbox::FuzzOptions {
                duration: Duration::from_secs(30),
                max_requests: 40,
                seed: 3,
                out: dir.join("fuzz"),
                rate: 0,
                latency_bound: Duration::from_secs(2),
                ..tokencert::blackbox::FuzzOptions::default()
            };
            let summary = tokencert::blackbox::run(session, &opts).await;
            assert!(summary.requests > 0);
            format!(
                "{} requests, {} findings",
                summary.requests,
                summary.findings.len()
            )
        }
        other => panic!("unknown case {other}"),
    }
}

fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// The child side: does nothing unless started by [`hostile_responses_are_errors_in_bounded_memory`].
#[test]
fn hostile_case() {
    let (Ok(name), Ok(addr)) = (std::env::var("HOSTILE_CASE"), std::env::var("HOSTILE_ADDR"))
    else {
        return;
    };
    let addr: SocketAddr = addr.parse().expect("addr");
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let what = rt.block_on(case(&name, addr, dir.path()));
    println!("HOSTILE peak_kib={} {what}", peak_kib());
}

// ---- the parent ----------------------------------------------------------------------------

#[test]
fn hostile_responses_are_errors_in_bounded_memory() {
    if std::env::var("HOSTILE_CASE").is_ok() {
        return;
    }
    let addr = hostile_server();
    let exe = std::env::current_exe().expect("current exe");
    let cases = [
        "run-endless-chunked",
        "run-1gib-content-length",
        "run-drip",
        "race-endless-chunked",
        "race-endless-close",
        "discovery-endless",
        "prop-endless",
        "fuzz-endless",
    ];
    let mut report = Vec::new();
    for name in cases {
        let out = Command::new(&exe)
            .args(["--exact", "hostile_case", "--nocapture", "--test-threads=1"])
            .env("HOSTILE_CASE", name)
            .env("HOSTILE_ADDR", addr.to_string())
            .output()
            .expect("run the case");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("HOSTILE ").map(|(_, r)| r))
            .unwrap_or_else(|| panic!("{name}: no result line in\n{stdout}"));
        let peak: u64 = line
            .strip_prefix("peak_kib=")
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .expect("peak");
        eprintln!("{name}: peak {} MiB: {line}", peak / 1024);
        report.push((name, peak));
    }
    for (name, peak) in report {
        assert!(
            peak < PEAK_BOUND_KIB,
            "{name}: peak resident set {peak} KiB exceeds {PEAK_BOUND_KIB} KiB"
        );
    }
}

/// The CLI flag changes the limit, and the Error names it.
#[test]
fn max_response_bytes_flag_sets_the_limit() {
    if std::env::var("HOSTILE_CASE").is_ok() {
        return;
    }
    let addr = hostile_server();
    let dir = tempfile::tempdir().expect("tempdir");
    common::write(
        dir.path(),
        &[("target.yaml", &target_yaml(addr, "/endless", ""))],
    );
    request_scenarios(dir.path());
    let out = Command::new(common::bin())
        .current_dir(dir.path())
        .args([
            "run",
            "--target",
            "target.yaml",
            "--specs",
            "specs",
            "--no-progress",
            "--max-response-bytes",
            "64KiB",
            "-f",
            "hostile.request0",
        ])
        .output()
        .expect("run tokencert");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(3), "{all}");
    assert!(all.contains("response body exceeded 64 KiB"), "{all}");
}
