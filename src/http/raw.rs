//! The raw HTTP/1.1 client: HTTP/1.1 written and parsed by hand (not through reqwest), one
//! request per connection, for when the harness needs control over the wire — deliberately
//! malformed requests ([`send_raw`]) and last-byte-synchronised races (`super::race`, built on
//! [`prime`] and [`Primed::fire`]).

mod connect;
mod response;

use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::time::{Instant, timeout_at};

use super::{BodyLimit, HttpResponse, NoAnswer, PreparedRequest};
use connect::{Conn, connect};

/// How the raw client sends and reads.
#[derive(Debug, Clone, Copy)]
pub struct RawOptions {
    /// Covers connecting, sending and reading the whole response.
    pub timeout: Duration,
    /// Accept any TLS certificate.
    pub insecure: bool,
    /// Largest response body read.
    pub max_body: BodyLimit,
}

/// Sends one request over the hand-written HTTP/1.1 path. Useful for deliberately malformed
/// requests: see [`serialize_request`] for exactly what goes on the wire.
pub async fn send_raw(req: &PreparedRequest, opts: RawOptions) -> Result<HttpResponse, String> {
    let deadline = Instant::now() + opts.timeout;
    let primed = match timeout_at(deadline, prime(req, opts)).await {
        Ok(r) => r?,
        Err(_) => return Err(timed_out_sending(opts.timeout)),
    };
    primed.fire(deadline, opts.timeout).await
}

/// Reported when the deadline passes before the request is (all but) written.
pub(super) fn timed_out_sending(d: Duration) -> String {
    NoAnswer::within_while(d, "connecting or sending the request")
}

/// The exact bytes sent for `req`.
///
/// Request line `METHOD path?query HTTP/1.1`, then `Host`, `Content-Length` and
/// `Connection: close` — each only if the caller did not supply that header itself (checked
/// case-insensitively; `Content-Length` is also skipped when the caller sets
/// `Transfer-Encoding`) — then the caller's headers in order, verbatim (duplicates and odd
/// values are sent as given), a blank line and the body.
pub fn serialize_request(req: &PreparedRequest) -> Vec<u8> {
    let has = |name: &str| {
        req.headers
            .iter()
            .any(|(n, _)| n.trim().eq_ignore_ascii_case(name))
    };
    let mut target = req.url.path().to_string();
    if let Some(q) = req.url.query() {
        target.push('?');
        target.push_str(q);
    }
    let mut head = format!("{} {} HTTP/1.1\r\n", req.method, target);
    if !has("host") {
        // host_str() keeps IPv6 brackets; port() is None for the scheme's default port.
        let host = req.url.host_str().unwrap_or_default();
        match req.url.port() {
            Some(p) => head.push_str(&format!("Host: {host}:{p}\r\n")),
            None => head.push_str(&format!("Host: {host}\r\n")),
        }
    }
    if !has("content-length") && !has("transfer-encoding") {
        head.push_str(&format!("Content-Length: {}\r\n", req.body.len()));
    }
    if !has("connection") {
        // One request per connection: the response then ends at the latest when it closes.
        head.push_str("Connection: close\r\n");
    }
    for (name, value) in &req.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut wire = head.into_bytes();
    wire.extend_from_slice(&req.body);
    wire
}

/// A connection with a request written except for its final byte.
pub(super) struct Primed {
    conn: Conn,
    last: u8,
    /// The request was HEAD: no body follows whatever the response headers say.
    head: bool,
    max_body: BodyLimit,
}

/// Connects and writes everything of `req` but the final byte.
pub(super) async fn prime(req: &PreparedRequest, opts: RawOptions) -> Result<Primed, String> {
    let mut wire = serialize_request(req);
    // Never empty: the request line alone is several bytes.
    let last = wire.pop().ok_or("empty request")?;
    let mut conn = connect(&req.url, opts.insecure).await?;
    conn.write_all(&wire)
        .await
        .map_err(|e| format!("sending request: {e}"))?;
    // Flush so the primed bytes (and for TLS the records) are on the wire now, not with the
    // final byte.
    conn.flush()
        .await
        .map_err(|e| format!("sending request: {e}"))?;
    Ok(Primed {
        conn,
        last,
        head: req.method.eq_ignore_ascii_case("HEAD"),
        max_body: opts.max_body,
    })
}

impl Primed {
    /// Writes the final byte and reads the response, all before `deadline` (`window` after
    /// the request started, for the message); `duration` is measured from the final byte.
    pub(super) async fn fire(
        self,
        deadline: Instant,
        window: Duration,
    ) -> Result<HttpResponse, String> {
        match timeout_at(deadline, self.fire_and_read()).await {
            Ok(r) => r,
            Err(_) => Err(NoAnswer::within(window)),
        }
    }

    async fn fire_and_read(mut self) -> Result<HttpResponse, String> {
        self.conn
            .write_all(&[self.last])
            .await
            .map_err(|e| format!("sending final byte: {e}"))?;
        self.conn
            .flush()
            .await
            .map_err(|e| format!("sending final byte: {e}"))?;
        let start = Instant::now();
        let (status, headers, body) =
            response::read_response(&mut self.conn, self.head, self.max_body).await?;
        Ok(HttpResponse {
            status,
            headers,
            body,
            duration: start.elapsed(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
pub(super) mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;
    use tokio::net::{TcpListener, TcpStream};

    pub(crate) fn req(url: &str, headers: &[(&str, &str)], body: &[u8]) -> PreparedRequest {
        PreparedRequest {
            method: "POST".into(),
            url: url::Url::parse(url).unwrap(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
        }
    }

    /// Default options with the given timeout.
    pub(crate) fn opts(timeout: Duration) -> RawOptions {
        RawOptions {
            timeout,
            insecure: false,
            max_body: BodyLimit::DEFAULT,
        }
    }

    /// Appends what one read returns; false at end of stream or on error.
    pub(crate) async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
        let mut tmp = [0u8; 64 * 1024];
        match s.read(&mut tmp).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                buf.extend_from_slice(&tmp[..n]);
                true
            }
        }
    }

    // ---- send_raw and the wire format -------------------------------------------------------

    /// Accepts one connection, captures the full request (until the client's last byte, found
    /// via its Content-Length), answers `response`, and returns what it captured.
    pub(crate) async fn one_shot(
        response: &'static [u8],
    ) -> (std::net::SocketAddr, tokio::task::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let h = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            loop {
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap_or(0));
                    if buf.len() >= i + 4 + len {
                        break;
                    }
                }
                if !read_more(&mut s, &mut buf).await {
                    break;
                }
            }
            s.write_all(response).await.unwrap();
            s.shutdown().await.unwrap();
            buf
        });
        (addr, h)
    }

    #[tokio::test]
    async fn send_raw_writes_exact_wire_format() {
        let (addr, server) =
            one_shot(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-A: 1\r\nx-a: 2\r\n\r\nok")
                .await;
        let r = req(
            &format!("http://{addr}/token?x=1"),
            &[
                ("Authorization", "Basic YTpi"),
                ("X-Dup", "1"),
                ("X-Dup", "2"),
            ],
            b"a=b",
        );
        let resp = send_raw(&r, opts(Duration::from_secs(10))).await.unwrap();
        assert_eq!(resp.status, 201);
        assert_eq!(resp.body, b"ok");
        assert_eq!(resp.header_values("X-A"), ["1", "2"]);
        let wire = String::from_utf8(server.await.unwrap()).unwrap();
        assert_eq!(
            wire,
            format!(
                "POST /token?x=1 HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 3\r\nConnection: close\r\n\
                 Authorization: Basic YTpi\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\na=b"
            )
        );
    }

    #[test]
    fn caller_headers_replace_defaults() {
        let r = req(
            "https://as.example/t",
            &[
                ("host", "evil.example"),
                ("Content-Length", "99"),
                ("connection", "keep-alive"),
            ],
            b"x",
        );
        let wire = String::from_utf8(serialize_request(&r)).unwrap();
        assert_eq!(
            wire,
            "POST /t HTTP/1.1\r\nhost: evil.example\r\nContent-Length: 99\r\nconnection: keep-alive\r\n\r\nx"
        );
        let r = req(
            "http://[::1]:8080/",
            &[("Transfer-Encoding", "chunked")],
            b"",
        );
        let wire = String::from_utf8(serialize_request(&r)).unwrap();
        assert!(wire.starts_with("POST / HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n"));
        assert!(!wire.to_ascii_lowercase().contains("content-length"));
    }

    #[tokio::test]
    async fn send_raw_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accept and hold the connection without answering.
        let _hold = tokio::spawn(async move {
            let conn = listener.accept().await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(conn);
        });
        let r = req(&format!("http://{addr}/"), &[], b"");
        let err = send_raw(&r, opts(Duration::from_millis(300)))
            .await
            .unwrap_err();
        assert!(NoAnswer::is(&err), "{err}");
    }
}
