//! The connection-level defences, over raw sockets: header-read and idle timeouts, the
//! connection limit, the per-connection request cap, and RFC 6749 §5.2 JSON for every rejection
//! the HTTP layer makes. Timeouts are configured short; nothing asserts on speed.

use reference_server::policy::Policy;
use reference_server::{Config, ConnectionLimits, Running, spawn};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long any single read here may wait before the test gives up.
const PATIENCE: Duration = Duration::from_secs(10);

async fn server(limits: ConnectionLimits) -> Running {
    let mut config = Config::new(Policy::preset("rfc9700").expect("preset"));
    config.limits = limits;
    spawn(config).await.expect("spawn")
}

fn short() -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(300),
        ..ConnectionLimits::default()
    }
}

async fn connect(s: &Running) -> TcpStream {
    TcpStream::connect(s.addr).await.expect("connect")
}

/// Reads until the server closes; `None` if it is still open after `PATIENCE`.
async fn read_to_close(c: &mut TcpStream) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let until = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(until, c.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends `raw` on a fresh connection and returns everything until the server closes.
async fn exchange(s: &Running, raw: &[u8]) -> String {
    let mut c = connect(s).await;
    c.write_all(raw).await.expect("write");
    read_to_close(&mut c).await.expect("the server closes")
}

/// Splits a response into lower-cased head and body.
fn split(resp: &str) -> (String, &str) {
    let (head, body) = resp.split_once("\r\n\r\n").expect("a response head");
    (head.to_ascii_lowercase(), body)
}

fn assert_oauth_error(resp: &str, status: u16, what: &str) {
    let (head, body) = split(resp);
    assert!(
        head.starts_with(&format!("http/1.1 {status} ")),
        "{what}: {head}"
    );
    assert!(
        head.contains("content-type: application/json"),
        "{what}: {head}"
    );
    assert!(head.contains("cache-control: no-store"), "{what}: {head}");
    assert!(head.contains("connection: close"), "{what}: {head}");
    let v: serde_json::Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(v["error"], "invalid_request", "{what}: {body}");
}

#[tokio::test]
async fn a_slow_header_connection_is_closed() {
    let s = server(short()).await;
    let mut c = connect(&s).await;
    c.write_all(b"POST /token HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    // One more header line, then nothing: the head never completes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _ = c.write_all(b"X-Slow: 1\r\n").await;
    assert_eq!(read_to_close(&mut c).await.as_deref(), Some(""));
    // A connection that sends nothing at all is cut off the same way.
    let mut silent = connect(&s).await;
    assert_eq!(read_to_close(&mut silent).await.as_deref(), Some(""));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let s = server(short()).await;
    let mut c = connect(&s).await;
    c.write_all(b"GET /jwks HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let resp = read_to_close(&mut c).await.expect("closed when idle");
    assert!(resp.starts_with("HTTP/1.1 200 "), "{resp}");
}

#[tokio::test]
async fn a_slow_body_is_invalid_request() {
    let s = server(short()).await;
    let mut c = connect(&s).await;
    c.write_all(
        b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
          Content-Length: 20\r\n\r\ngrant_type=",
    )
    .await
    .expect("write");
    let resp = read_to_close(&mut c).await.expect("closed");
    assert_oauth_error(&resp, 400, "slow body");
    assert!(resp.contains("not received in time"), "{resp}");
}

#[tokio::test]
async fn the_connection_limit_holds_and_a_normal_client_is_still_served() {
    let limits = ConnectionLimits {
        max_connections: 3,
        ..ConnectionLimits::default()
    };
    let s = server(limits).await;
    let mut slow = Vec::new();
    for _ in 0..10 {
        let mut c = connect(&s).await;
        c.write_all(b"POST /token HTTP/1.1\r\n")
            .await
            .expect("write");
        slow.push(c);
        // Let the accept loop take each in turn, so the eviction order is the arrival order.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let resp = exchange(
        &s,
        b"GET /jwks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 200 "), "{resp}");
    // Everyone but the newest (limit - 1) half-sent connections has been let go.
    let mut open = 0;
    for c in &mut slow {
        let mut b = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(200), c.read(&mut b)).await {
            Err(_) => open += 1,
            Ok(r) => assert!(
                matches!(r, Ok(0) | Err(_)),
                "no bytes for a half-sent request"
            ),
        }
    }
    assert!(
        open < 3,
        "{open} half-sent connections still held with a limit of 3"
    );
}

#[tokio::test]
async fn the_last_request_on_a_connection_says_connection_close() {
    let limits = ConnectionLimits {
        max_requests_per_connection: 2,
        ..ConnectionLimits::default()
    };
    let s = server(limits).await;
    let one = b"GET /jwks HTTP/1.1\r\nHost: x\r\n\r\n";
    let resp = exchange(&s, &[&one[..], one, one].concat()).await;
    let heads: Vec<String> = resp
        .split("HTTP/1.1 ")
        .skip(1)
        .map(|r| split(r).0)
        .collect();
    assert_eq!(heads.len(), 2, "two responses, then the close: {resp}");
    assert!(!heads[0].contains("connection: close"), "{}", heads[0]);
    assert!(heads[1].contains("connection: close"), "{}", heads[1]);
}

#[tokio::test]
async fn http_layer_rejections_are_oauth_json() {
    let s = server(ConnectionLimits::default()).await;
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    let many: String = (0..2000).map(|i| format!("X-{i}: y\r\n")).collect();
    let cases: Vec<(&str, u16, String)> = vec![
        ("garbage request line", 400, "GARBAGE\r\n\r\n".into()),
        (
            "duplicate Content-Length",
            400,
            format!(
                "POST /token HTTP/1.1\r\nHost: x\r\n{form}Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
            ),
        ),
        (
            "bad Transfer-Encoding",
            400,
            format!(
                "POST /token HTTP/1.1\r\nHost: x\r\n{form}Transfer-Encoding: gzip, chunked, x\r\n\r\n"
            ),
        ),
        (
            "URI too long",
            414,
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)),
        ),
        (
            "2,000 headers",
            431,
            format!("POST /token HTTP/1.1\r\nHost: x\r\n{many}\r\n"),
        ),
        (
            "invalid chunk framing",
            400,
            format!(
                "POST /token HTTP/1.1\r\nHost: x\r\n{form}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"
            ),
        ),
        (
            "truncated chunked body",
            400,
            format!(
                "POST /revoke HTTP/1.1\r\nHost: x\r\n{form}Transfer-Encoding: chunked\r\n\r\n5\r\nab"
            ),
        ),
        (
            "oversize body",
            413,
            format!(
                "POST /introspect HTTP/1.1\r\nHost: x\r\n{form}Content-Length: 100000\r\n\r\naaaa"
            ),
        ),
        (
            "oversize chunked body",
            413,
            format!(
                "POST /token HTTP/1.1\r\nHost: x\r\n{form}Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n",
                70_000,
                "a".repeat(70_000)
            ),
        ),
    ];
    for (what, status, raw) in cases {
        let mut c = connect(&s).await;
        c.write_all(raw.as_bytes()).await.expect("write");
        if what == "truncated chunked body" {
            // The peer gives up sending; its half-close ends the body early.
            c.shutdown().await.expect("half-close");
        }
        let resp = read_to_close(&mut c).await.expect("the server closes");
        assert_oauth_error(&resp, status, what);
    }
}
