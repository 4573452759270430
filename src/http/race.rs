//! Last-byte-synchronised races, the technique OAuch uses to test refresh-token reuse.
//!
//! Sending N requests "at the same time" from N tasks is not enough: connection set-up, TLS
//! handshakes and request writing take far longer than a server needs to rotate a token, so
//! the first request usually finishes before the last one has even connected. Instead every
//! request gets its own connection, is written except for its final byte, and only when all of
//! them are primed are the final bytes written, back to back. The server cannot act on any
//! request before that moment, so the requests reach its token logic within microseconds.
//!
//! The requests go over the raw HTTP/1.1 client (`super::raw`), which gives that control over
//! the wire.
//!
//! Two deadlines: connecting and priming every request must fit `opts.timeout`; the answers
//! then get `answers_within` from the moment the final bytes go out. The caller sizes the second
//! for the race: a server that handles the copies one at a time (a slow password hash for each
//! client authentication, say) legitimately needs N times its usual time for the last one. A
//! copy still unanswered at the deadline is a [`NoAnswer`](super::NoAnswer) error, never a 5xx.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Barrier;
use tokio::time::{Instant, timeout_at};

use super::raw::{self, RawOptions, timed_out_sending};
use super::{HttpResponse, NoAnswer, PreparedRequest};

/// Most requests in one race; each holds a socket and a task, and more adds nothing to a race.
pub const MAX_RACE: usize = 64;

/// Runs `requests` as one race and returns their outcomes in input order.
///
/// Each request gets its own connection (TLS for `https`, accepting any certificate when
/// `opts.insecure`); all are written except for their final byte, then the final bytes are
/// released together. `opts.timeout` bounds connecting and priming, from the start of the race;
/// `answers_within` bounds each response from the release of the final bytes; `duration` in each
/// response is measured from its final byte. More than [`MAX_RACE`] requests is refused (every
/// entry is an error).
pub async fn race(
    requests: Vec<PreparedRequest>,
    opts: RawOptions,
    answers_within: Duration,
) -> Vec<Result<HttpResponse, String>> {
    if requests.len() > MAX_RACE {
        let msg = format!(
            "a race is limited to {MAX_RACE} requests, got {}",
            requests.len()
        );
        return requests.iter().map(|_| Err(msg.clone())).collect();
    }
    if requests.is_empty() {
        return Vec::new();
    }
    let deadline = Instant::now() + opts.timeout;
    let barrier = Arc::new(Barrier::new(requests.len()));
    let handles: Vec<_> = requests
        .into_iter()
        .map(|req| {
            let barrier = Arc::clone(&barrier);
            tokio::spawn(
                async move { run_one(&req, &barrier, deadline, opts, answers_within).await },
            )
        })
        .collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(
            h.await
                .unwrap_or_else(|e| Err(format!("race task failed: {e}"))),
        );
    }
    out
}

/// One racer: prime, meet the others, fire the last byte, read the answer.
async fn run_one(
    req: &PreparedRequest,
    barrier: &Barrier,
    deadline: Instant,
    opts: RawOptions,
    answers_within: Duration,
) -> Result<HttpResponse, String> {
    let primed = match timeout_at(deadline, raw::prime(req, opts)).await {
        Ok(r) => r,
        Err(_) => Err(timed_out_sending(opts.timeout)),
    };
    // Every task reaches the barrier, failed ones included; otherwise the others would wait
    // until the deadline. The timeout also covers a racer whose task died.
    if timeout_at(deadline, barrier.wait()).await.is_err() {
        return Err(primed.err().unwrap_or_else(|| {
            NoAnswer::within_while(opts.timeout, "the other requests were not ready to race")
        }));
    }
    primed?
        .fire(Instant::now() + answers_within, answers_within)
        .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
mod tests {
    use super::*;
    use crate::http::raw::send_raw;
    use crate::http::raw::tests::{one_shot, opts, read_more, req};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use tokio::io::AsyncWriteExt as _;
    use tokio::net::{TcpListener, TcpSocket, TcpStream};

    /// Server side of the race test. One request (the "laggard") has a body far larger than
    /// the socket buffers, so the client cannot finish priming it until the server reads it —
    /// and the server only starts reading it once every other connection has delivered all
    /// but its last byte. Hence, if the client synchronises correctly, no other request can
    /// be complete before the server starts draining the laggard; any that is, is a violation.
    /// This needs no timing thresholds: with correct synchronisation a violation is
    /// impossible, and a client that sends whole requests immediately is caught every time.
    struct Judge {
        fast: usize,
        primed: AtomicUsize,
        completed: AtomicUsize,
        drain: tokio::sync::watch::Sender<bool>,
        violations: Mutex<Vec<String>>,
    }

    const LAGGARD_BODY: usize = 16 << 20;

    async fn serve_judged(mut s: TcpStream, judge: Arc<Judge>) {
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(read_more(&mut s, &mut buf).await, "EOF in request head");
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let field = |name: &str| {
            head.lines()
                .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_string))
                .unwrap()
        };
        let total = head_end + field("content-length").parse::<usize>().unwrap();
        let idx: usize = field("x-idx").parse().unwrap();
        let laggard = head.contains("x-laggard: 1");
        let mut drain = judge.drain.subscribe();
        if laggard {
            drain.wait_for(|d| *d).await.unwrap();
        } else {
            while buf.len() < total - 1 {
                assert!(read_more(&mut s, &mut buf).await, "EOF before priming");
            }
            // The final byte arrived together with the rest: it was sent before this
            // connection was counted as primed, so certainly before the laggard was.
            if buf.len() >= total {
                judge
                    .violations
                    .lock()
                    .unwrap()
                    .push(format!("#{idx} arrived whole"));
            }
            if judge.primed.fetch_add(1, Ordering::SeqCst) + 1 == judge.fast {
                judge.drain.send_replace(true);
            }
        }
        while buf.len() < total {
            assert!(
                read_more(&mut s, &mut buf).await,
                "EOF before the final byte"
            );
        }
        if !*drain.borrow() {
            judge
                .violations
                .lock()
                .unwrap()
                .push(format!("#{idx} completed before the laggard was primed"));
        }
        let order = judge.completed.fetch_add(1, Ordering::SeqCst);
        let status = if order == 0 {
            "200 OK"
        } else {
            "400 Bad Request"
        };
        let json = format!(r#"{{"idx":{idx},"order":{order}}}"#);
        let common = "Content-Type: application/json\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n";
        // Vary the framing so every body-reading path is exercised.
        let response = match idx % 3 {
            0 => format!(
                "HTTP/1.1 {status}\r\n{common}Content-Length: {}\r\n\r\n{json}",
                json.len()
            ),
            1 => {
                let (a, b) = json.split_at(5);
                format!(
                    "HTTP/1.1 {status}\r\n{common}Transfer-Encoding: chunked\r\n\r\n\
                     {:x};ext=1\r\n{a}\r\n{:X}\r\n{b}\r\n0\r\nX-Trailer: t\r\n\r\n",
                    a.len(),
                    b.len()
                )
            }
            _ => format!("HTTP/1.1 {status}\r\n{common}Connection: close\r\n\r\n{json}"),
        };
        s.write_all(response.as_bytes()).await.unwrap();
        s.shutdown().await.unwrap();
    }

    /// A listener whose accepted sockets keep a small, fixed receive buffer (disabling
    /// autotuning), so a big request body really does block the client until we read it.
    fn small_buffer_listener() -> TcpListener {
        let sock = TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(64 * 1024).unwrap();
        sock.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        sock.listen(MAX_RACE as u32).unwrap()
    }

    fn racing_requests(
        addr: std::net::SocketAddr,
        n: usize,
        laggard: usize,
    ) -> Vec<PreparedRequest> {
        (0..n)
            .map(|i| {
                let idx = i.to_string();
                let mut headers = vec![
                    ("Content-Type", "application/x-www-form-urlencoded"),
                    ("X-Idx", idx.as_str()),
                ];
                let body = if i == laggard {
                    headers.push(("X-Laggard", "1"));
                    vec![b'a'; LAGGARD_BODY]
                } else {
                    b"grant_type=refresh_token&refresh_token=rt-1".to_vec()
                };
                req(&format!("http://{addr}/token"), &headers, &body)
            })
            .collect()
    }

    /// Serves exactly `n` connections under a judge; returns the judge's violations.
    async fn judged_server(listener: TcpListener, n: usize) -> Vec<String> {
        let judge = Arc::new(Judge {
            fast: n - 1,
            primed: AtomicUsize::new(0),
            completed: AtomicUsize::new(0),
            drain: tokio::sync::watch::channel(false).0,
            violations: Mutex::new(Vec::new()),
        });
        let mut tasks = Vec::new();
        for _ in 0..n {
            let (s, _) = listener.accept().await.unwrap();
            tasks.push(tokio::spawn(serve_judged(s, Arc::clone(&judge))));
        }
        for t in tasks {
            t.await.unwrap();
        }
        judge.violations.lock().unwrap().clone()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn race_releases_final_bytes_only_when_all_are_primed() {
        const N: usize = 8;
        let listener = small_buffer_listener();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(judged_server(listener, N));
        let results = tokio::time::timeout(
            Duration::from_secs(60),
            race(
                racing_requests(addr, N, 3),
                opts(Duration::from_secs(30)),
                Duration::from_secs(30),
            ),
        )
        .await
        .unwrap();
        let violations = server.await.unwrap();
        assert!(
            violations.is_empty(),
            "synchronisation broken: {violations:?}"
        );

        assert_eq!(results.len(), N);
        let mut ok = 0;
        for (i, r) in results.iter().enumerate() {
            let resp = r.as_ref().unwrap();
            let body: serde_json::Value = serde_json::from_slice(&resp.body).unwrap();
            assert_eq!(body["idx"], i, "results must come back in input order");
            if body["order"] == 0 {
                assert_eq!(resp.status, 200);
                ok += 1;
            } else {
                assert_eq!(resp.status, 400);
            }
            assert_eq!(resp.header_values("content-type"), ["application/json"]);
            assert_eq!(resp.header_values("set-cookie"), ["a=1", "b=2"]);
            assert!(
                resp.headers
                    .iter()
                    .all(|(n, _)| *n == n.to_ascii_lowercase())
            );
        }
        assert_eq!(ok, 1);
    }

    /// Negative control: the same judge catches requests sent without synchronisation, so the
    /// test above could fail.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn judge_catches_unsynchronised_requests() {
        const N: usize = 4;
        let listener = small_buffer_listener();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(judged_server(listener, N));
        let sends = racing_requests(addr, N, 0).into_iter().map(|r| {
            tokio::spawn(async move { send_raw(&r, opts(Duration::from_secs(30))).await })
        });
        let handles: Vec<_> = sends.collect();
        for h in handles {
            h.await.unwrap().unwrap();
        }
        let violations = server.await.unwrap();
        assert!(!violations.is_empty());
    }
    #[tokio::test]
    async fn connection_errors_are_reported_per_request() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let (good, server) = one_shot(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").await;
        let results = race(
            vec![
                req(&format!("http://{addr}/"), &[], b"x"),
                req(&format!("http://{good}/"), &[], b"x"),
                req("ftp://example/", &[], b"x"),
            ],
            opts(Duration::from_secs(10)),
            Duration::from_secs(10),
        )
        .await;
        assert!(results[0].as_ref().unwrap_err().contains("connecting"));
        assert_eq!(results[1].as_ref().unwrap().status, 200);
        assert!(results[2].as_ref().unwrap_err().contains("scheme"));
        server.await.unwrap();
    }

    /// A copy the server holds past the answer deadline is a `NoAnswer`, the others are judged.
    #[tokio::test]
    async fn an_unanswered_copy_is_no_answer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let mut held = Vec::new();
            for _ in 0..2 {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = Vec::new();
                while !buf.ends_with(b"x") {
                    assert!(read_more(&mut s, &mut buf).await);
                }
                if String::from_utf8_lossy(&buf).contains("X-Idx: 0") {
                    s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .await
                        .unwrap();
                } else {
                    held.push(s);
                }
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(held);
        });
        let url = format!("http://{addr}/");
        let results = race(
            vec![
                req(&url, &[("X-Idx", "0")], b"x"),
                req(&url, &[("X-Idx", "1")], b"x"),
            ],
            opts(Duration::from_secs(10)),
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(results[0].as_ref().unwrap().status, 200);
        let err = results[1].as_ref().unwrap_err();
        assert_eq!(err, "no answer within 0.3 s");
        server.abort();
    }

    #[tokio::test]
    async fn oversized_race_is_refused() {
        let reqs = vec![req("http://127.0.0.1:9/", &[], b""); MAX_RACE + 1];
        let results = race(reqs, opts(Duration::from_secs(1)), Duration::from_secs(1)).await;
        assert_eq!(results.len(), MAX_RACE + 1);
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().unwrap_err().contains("limited"))
        );
        assert!(
            race(
                Vec::new(),
                opts(Duration::from_secs(1)),
                Duration::from_secs(1)
            )
            .await
            .is_empty()
        );
    }
}
