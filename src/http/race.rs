//! Last-byte-synchronised races, the technique OAuch uses to test refresh-token reuse.
//!
//! Sending N requests "at the same time" from N tasks is not enough: connection set-up, TLS
//! handshakes and request writing take far longer than a server needs to rotate a token, so
//! the first request usually finishes before the last one has even connected. Instead every
//! request gets its own connection, is written except for its final byte, and only when all of
//! them are primed are the final bytes written, back to back. The server cannot act on any
//! request before that moment, so the requests reach its token logic within microseconds.
//!
//! HTTP/1.1 is written and parsed by hand (not through reqwest) because the harness needs that
//! control over the wire, and [`send_raw`] reuses it to send deliberately malformed requests.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::Barrier;
use tokio::time::{Instant, timeout_at};

use super::{HttpResponse, PreparedRequest};

/// Most requests in one race; each holds a socket and a task, and more adds nothing to a race.
pub const MAX_RACE: usize = 64;
/// Largest response body accepted; token endpoint answers are tiny, so more means trouble.
const MAX_BODY: usize = 1 << 20;
/// Largest status line + headers accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 8 * 1024;
/// Most `1xx` interim responses skipped before the final one.
const MAX_INTERIM: usize = 8;
/// Most trailer fields accepted after a chunked body.
const MAX_TRAILERS: usize = 64;
/// Bytes read from the socket per call.
const READ_CHUNK: usize = 16 * 1024;

/// Anything we can speak HTTP over: a plain TCP stream or a TLS stream.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}
type Conn = Box<dyn Io>;

/// Runs `requests` as one race and returns their outcomes in input order.
///
/// Each request gets its own connection (TLS for `https`, accepting any certificate when
/// `insecure`); all are written except for their final byte, then the final bytes are released
/// together. `timeout` bounds each request from the start of the race to the end of its
/// response; `duration` in each response is measured from its final byte. More than
/// [`MAX_RACE`] requests is refused (every entry is an error).
pub async fn race(
    requests: Vec<PreparedRequest>,
    timeout: Duration,
    insecure: bool,
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
    let deadline = Instant::now() + timeout;
    let barrier = Arc::new(Barrier::new(requests.len()));
    let handles: Vec<_> = requests
        .into_iter()
        .map(|req| {
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move { run_one(&req, Some(&barrier), deadline, insecure).await })
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

/// Sends one request over the same hand-written HTTP/1.1 path as [`race`] (no
/// synchronisation). Useful for deliberately malformed requests: see [`serialize_request`]
/// for exactly what goes on the wire.
pub async fn send_raw(
    req: &PreparedRequest,
    timeout: Duration,
    insecure: bool,
) -> Result<HttpResponse, String> {
    run_one(req, None, Instant::now() + timeout, insecure).await
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

/// One racer: prime, meet the others, fire the last byte, read the answer.
async fn run_one(
    req: &PreparedRequest,
    barrier: Option<&Barrier>,
    deadline: Instant,
    insecure: bool,
) -> Result<HttpResponse, String> {
    let primed = match timeout_at(deadline, prime(req, insecure)).await {
        Ok(r) => r,
        Err(_) => Err("timed out connecting or sending the request".to_string()),
    };
    // Every task reaches the barrier, failed ones included; otherwise the others would wait
    // until the deadline. The timeout also covers a racer whose task died.
    if let Some(b) = barrier
        && timeout_at(deadline, b.wait()).await.is_err()
    {
        return Err(primed
            .err()
            .unwrap_or_else(|| "timed out waiting for the other requests".to_string()));
    }
    let (conn, last) = primed?;
    let head = req.method.eq_ignore_ascii_case("HEAD");
    match timeout_at(deadline, fire_and_read(conn, last, head)).await {
        Ok(r) => r,
        Err(_) => Err("timed out waiting for the response".to_string()),
    }
}

/// Connects and writes everything but the final byte, which is returned.
async fn prime(req: &PreparedRequest, insecure: bool) -> Result<(Conn, u8), String> {
    let mut wire = serialize_request(req);
    // Never empty: the request line alone is several bytes.
    let last = wire.pop().ok_or("empty request")?;
    let mut conn = connect(&req.url, insecure).await?;
    conn.write_all(&wire)
        .await
        .map_err(|e| format!("sending request: {e}"))?;
    // Flush so the primed bytes (and for TLS the records) are on the wire now, not with the
    // final byte.
    conn.flush()
        .await
        .map_err(|e| format!("sending request: {e}"))?;
    Ok((conn, last))
}

async fn fire_and_read(mut conn: Conn, last: u8, head: bool) -> Result<HttpResponse, String> {
    conn.write_all(&[last])
        .await
        .map_err(|e| format!("sending final byte: {e}"))?;
    conn.flush()
        .await
        .map_err(|e| format!("sending final byte: {e}"))?;
    let start = Instant::now();
    let (status, headers, body) = read_response(&mut conn, head).await?;
    Ok(HttpResponse {
        status,
        headers,
        body,
        duration: start.elapsed(),
    })
}

async fn connect(url: &url::Url, insecure: bool) -> Result<Conn, String> {
    let tls = match url.scheme() {
        "http" => false,
        "https" => true,
        other => return Err(format!("unsupported URL scheme {other:?}")),
    };
    let port = url.port_or_known_default().ok_or("URL has no port")?;
    let host = url.host().ok_or("URL has no host")?;
    let tcp = match &host {
        url::Host::Domain(d) => TcpStream::connect((*d, port)).await,
        url::Host::Ipv4(ip) => TcpStream::connect((*ip, port)).await,
        url::Host::Ipv6(ip) => TcpStream::connect((*ip, port)).await,
    }
    .map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
    // Without this, Nagle would hold the final byte back until the primed bytes are ACKed,
    // which (with delayed ACKs) can cost tens of milliseconds and spoil the race.
    tcp.set_nodelay(true)
        .map_err(|e| format!("setting TCP_NODELAY: {e}"))?;
    if !tls {
        return Ok(Box::new(tcp));
    }
    let name = match host {
        url::Host::Domain(d) => rustls::pki_types::ServerName::try_from(d.to_string())
            .map_err(|e| format!("invalid TLS server name {d:?}: {e}"))?,
        url::Host::Ipv4(ip) => {
            rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V4(ip).into())
        }
        url::Host::Ipv6(ip) => {
            rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V6(ip).into())
        }
    };
    let connector = tokio_rustls::TlsConnector::from(tls_config(insecure)?);
    let stream = connector.connect(name, tcp).await.map_err(|e| {
        format!(
            "TLS handshake with {}: {e}",
            url.host_str().unwrap_or_default()
        )
    })?;
    Ok(Box::new(stream))
}

/// Client TLS configuration, built once per mode. Uses the ring provider explicitly so it does
/// not depend on a process-wide default provider being installed.
fn tls_config(insecure: bool) -> Result<Arc<rustls::ClientConfig>, String> {
    static SECURE: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    static INSECURE: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    let cell = if insecure { &INSECURE } else { &SECURE };
    cell.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS configuration: {e}"))?;
        let mut config = if insecure {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCert { provider }))
                .with_no_client_auth()
        } else {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        // We speak HTTP/1.1 only; say so, or an h2-preferring server could pick h2.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    })
    .clone()
}

/// Accepts any server certificate (for test deployments with self-signed certificates), but
/// still checks the handshake signatures so the session is with the holder of that key.
#[derive(Debug)]
struct AnyCert {
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

// ---------------------------------------------------------------------------------------------
// Response parsing. Everything is bounded by the size caps above, and every loop either
// consumes input, grows the (capped) buffer, or stops at end of stream.

/// Buffered reader over the connection: `buf[pos..]` is received but not yet consumed.
struct Reader<'a, R> {
    io: &'a mut R,
    buf: Vec<u8>,
    pos: usize,
}

impl<R: AsyncRead + Unpin> Reader<'_, R> {
    fn pending(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// Reads more bytes; `Ok(false)` at end of stream.
    async fn more(&mut self) -> Result<bool, String> {
        // Drop what has been consumed so the buffer only ever holds one head/line/chunk.
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + READ_CHUNK, 0);
        let n = self
            .io
            .read(&mut self.buf[old..])
            .await
            .map_err(|e| format!("reading response: {e}"));
        self.buf.truncate(old + *n.as_ref().unwrap_or(&0));
        Ok(n? > 0)
    }

    /// Makes at least `n` unconsumed bytes available, or fails with `what` at end of stream.
    async fn need(&mut self, n: usize, what: &str) -> Result<(), String> {
        while self.pending().len() < n {
            if !self.more().await? {
                return Err(format!("connection closed {what}"));
            }
        }
        Ok(())
    }

    /// Next line without its `\n` / `\r\n`.
    async fn line(&mut self, what: &str) -> Result<Vec<u8>, String> {
        loop {
            if let Some(i) = self.pending().iter().position(|&b| b == b'\n') {
                let mut line = self.pending()[..i].to_vec();
                self.pos += i + 1;
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.pending().len() > MAX_LINE {
                return Err(format!("line longer than {MAX_LINE} bytes {what}"));
            }
            if !self.more().await? {
                return Err(format!("connection closed {what}"));
            }
        }
    }
}

type Headers = Vec<(String, String)>;

/// Reads one HTTP/1.x response: `(status, headers, body)`. `head` means the request was HEAD
/// (no body follows whatever the headers say).
async fn read_response<R: AsyncRead + Unpin>(
    io: &mut R,
    head: bool,
) -> Result<(u16, Headers, Vec<u8>), String> {
    let mut r = Reader {
        io,
        buf: Vec::new(),
        pos: 0,
    };
    let mut interim = 0;
    let (status, headers) = loop {
        let (status, headers) = read_head(&mut r).await?;
        // 1xx (e.g. 100 Continue, 103 Early Hints) are followed by the real response; 101
        // switches protocols, so there is nothing more of HTTP/1.1 to read.
        if (100..200).contains(&status) && status != 101 {
            interim += 1;
            if interim > MAX_INTERIM {
                return Err(format!("more than {MAX_INTERIM} interim (1xx) responses"));
            }
            continue;
        }
        break (status, headers);
    };
    let body = if head || (100..200).contains(&status) || status == 204 || status == 304 {
        Vec::new()
    } else if let Some(te) = last_header(&headers, "transfer-encoding") {
        // RFC 9112 §6.3: with Transfer-Encoding, chunked must be the final coding, otherwise
        // the body runs to the end of the connection. Content-Length is ignored either way.
        let last_coding = te.rsplit(',').next().unwrap_or_default().trim();
        if last_coding.eq_ignore_ascii_case("chunked") {
            read_chunked(&mut r).await?
        } else {
            read_to_close(&mut r).await?
        }
    } else if let Some(len) = content_length(&headers)? {
        if len > MAX_BODY as u64 {
            return Err(format!(
                "Content-Length {len} exceeds the {MAX_BODY}-byte cap"
            ));
        }
        let len = len as usize;
        r.need(len, "before the end of the Content-Length body")
            .await?;
        r.pending()[..len].to_vec()
    } else {
        read_to_close(&mut r).await?
    };
    Ok((status, headers, body))
}

/// Status line and header fields.
async fn read_head<R: AsyncRead + Unpin>(r: &mut Reader<'_, R>) -> Result<(u16, Headers), String> {
    // Find the blank line ending the head; accept bare LF line endings as RFC 9112 §2.2 allows.
    let (head_len, consumed) = loop {
        let p = r.pending();
        let end = p
            .iter()
            .enumerate()
            .find_map(|(i, &b)| match (b, p.get(i + 1), p.get(i + 2)) {
                (b'\n', Some(b'\n'), _) => Some((i, i + 2)),
                (b'\n', Some(b'\r'), Some(b'\n')) => Some((i, i + 3)),
                _ => None,
            });
        if let Some(e) = end {
            break e;
        }
        if p.len() > MAX_HEAD {
            return Err(format!("response head longer than {MAX_HEAD} bytes"));
        }
        if !r.more().await? {
            return Err(if r.pending().is_empty() {
                "connection closed without a response".to_string()
            } else {
                "connection closed inside the response head".to_string()
            });
        }
    };
    let text = String::from_utf8_lossy(&r.pending()[..head_len]).into_owned();
    r.pos += consumed;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    let status = parse_status_line(status_line)?;
    let mut headers: Headers = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding: a continuation of the previous field value.
            let Some((_, v)) = headers.last_mut() else {
                return Err("response head starts with a folded header line".to_string());
            };
            v.push(' ');
            v.push_str(line.trim());
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("malformed header line {:?}", truncate(line)));
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(format!("malformed header name {:?}", truncate(name)));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok((status, headers))
}

fn parse_status_line(line: &str) -> Result<u16, String> {
    let bad = || format!("malformed status line {:?}", truncate(line));
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let code = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.")
        || code.len() != 3
        || !code.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let status: u16 = code.parse().map_err(|_| bad())?;
    if status < 100 {
        return Err(bad());
    }
    Ok(status)
}

fn last_header<'h>(headers: &'h Headers, name: &str) -> Option<&'h str> {
    headers
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// The Content-Length, if any. Several fields (or a comma list) must all agree (RFC 9112
/// §6.3); anything else is a framing error we report rather than guess around.
fn content_length(headers: &Headers) -> Result<Option<u64>, String> {
    let mut found: Option<u64> = None;
    for (_, v) in headers.iter().filter(|(n, _)| n == "content-length") {
        for item in v.split(',') {
            let item = item.trim();
            let n: u64 = item
                .parse()
                .ok()
                .filter(|_| item.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("invalid Content-Length {:?}", truncate(v)))?;
            if found.is_some_and(|f| f != n) {
                return Err("conflicting Content-Length values".to_string());
            }
            found = Some(n);
        }
    }
    Ok(found)
}

async fn read_chunked<R: AsyncRead + Unpin>(r: &mut Reader<'_, R>) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    // Every non-final chunk adds at least one byte, so this ends within MAX_BODY iterations.
    loop {
        let line = r.line("inside a chunk-size line").await?;
        let line = String::from_utf8_lossy(&line);
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .ok()
            .filter(|_| !size_text.is_empty() && !size_text.starts_with(['+', '-']))
            .ok_or_else(|| format!("invalid chunk size line {:?}", truncate(&line)))?;
        if size == 0 {
            break;
        }
        if size > MAX_BODY - body.len() {
            return Err(format!("chunked body exceeds the {MAX_BODY}-byte cap"));
        }
        r.need(size, "inside a chunk").await?;
        body.extend_from_slice(&r.pending()[..size]);
        r.pos += size;
        if !r.line("after a chunk").await?.is_empty() {
            return Err("chunk data not followed by CRLF".to_string());
        }
    }
    // Trailer section: fields until a blank line. Trailers are discarded.
    for _ in 0..=MAX_TRAILERS {
        if r.line("inside the chunked trailer").await?.is_empty() {
            return Ok(body);
        }
    }
    Err(format!("more than {MAX_TRAILERS} trailer fields"))
}

async fn read_to_close<R: AsyncRead + Unpin>(r: &mut Reader<'_, R>) -> Result<Vec<u8>, String> {
    // The buffer only grows here (nothing is consumed), so the cap check bounds the loop.
    while r.pending().len() <= MAX_BODY {
        if !r.more().await? {
            return Ok(r.pending().to_vec());
        }
    }
    Err(format!("response body exceeds the {MAX_BODY}-byte cap"))
}

/// Keeps error messages short when echoing server data.
fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::net::{TcpListener, TcpSocket};

    fn req(url: &str, headers: &[(&str, &str)], body: &[u8]) -> PreparedRequest {
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

    async fn parse(bytes: &[u8]) -> Result<(u16, Headers, Vec<u8>), String> {
        read_response(&mut &bytes[..], false).await
    }

    // ---- the synchronisation test -------------------------------------------------------

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

    async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
        let mut tmp = [0u8; 64 * 1024];
        match s.read(&mut tmp).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                buf.extend_from_slice(&tmp[..n]);
                true
            }
        }
    }

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
            race(racing_requests(addr, N, 3), Duration::from_secs(30), false),
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
            tokio::spawn(async move { send_raw(&r, Duration::from_secs(30), false).await })
        });
        let handles: Vec<_> = sends.collect();
        for h in handles {
            h.await.unwrap().unwrap();
        }
        let violations = server.await.unwrap();
        assert!(!violations.is_empty());
    }

    // ---- send_raw and the wire format -------------------------------------------------------

    /// Accepts one connection, captures the full request (until the client's last byte, found
    /// via its Content-Length), answers `response`, and returns what it captured.
    async fn one_shot(
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
        let resp = send_raw(&r, Duration::from_secs(10), false).await.unwrap();
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
        let err = send_raw(&r, Duration::from_millis(300), false)
            .await
            .unwrap_err();
        assert!(err.contains("timed out"), "{err}");
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
            Duration::from_secs(10),
            false,
        )
        .await;
        assert!(results[0].as_ref().unwrap_err().contains("connecting"));
        assert_eq!(results[1].as_ref().unwrap().status, 200);
        assert!(results[2].as_ref().unwrap_err().contains("scheme"));
        server.await.unwrap();
    }

    #[tokio::test]
    async fn oversized_race_is_refused() {
        let reqs = vec![req("http://127.0.0.1:9/", &[], b""); MAX_RACE + 1];
        let results = race(reqs, Duration::from_secs(1), false).await;
        assert_eq!(results.len(), MAX_RACE + 1);
        assert!(
            results
                .iter()
                .all(|r| r.as_ref().unwrap_err().contains("limited"))
        );
        assert!(
            race(Vec::new(), Duration::from_secs(1), false)
                .await
                .is_empty()
        );
    }

    // ---- response parsing ---------------------------------------------------------------

    #[tokio::test]
    async fn parses_chunked_with_extensions_and_trailers() {
        let (status, headers, body) = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 1\r\n\r\n\
              4;a=b\r\nWiki\r\n5\r\npedia\r\n0\r\nT: v\r\n\r\n",
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
        assert_eq!(headers.len(), 2);
        assert_eq!(body, b"Wikipedia");
    }

    #[tokio::test]
    async fn skips_interim_and_handles_lf_only_and_folding() {
        let (status, headers, body) = parse(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\nX-Long: a\n  b\nContent-Length: 2\n\nhi",
        )
        .await
        .unwrap();
        assert_eq!(status, 200);
        assert_eq!(headers[0], ("x-long".to_string(), "a b".to_string()));
        assert_eq!(body, b"hi");
    }

    #[tokio::test]
    async fn no_body_for_head_204_and_304() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        let (_, _, body) = read_response(&mut &bytes[..], true).await.unwrap();
        assert!(body.is_empty());
        for code in ["204 No Content", "304 Not Modified"] {
            let resp = format!("HTTP/1.1 {code}\r\nContent-Length: 5\r\n\r\n");
            let (_, _, body) = parse(resp.as_bytes()).await.unwrap();
            assert!(body.is_empty());
        }
    }

    #[tokio::test]
    async fn malformed_responses_are_errors() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "without a response"),
            (b"HTTP/1.1 200 OK\r\nContent-Le", "inside the response head"),
            (b"garbage\r\n\r\n", "status line"),
            (b"HTTP/1.1 2000 OK\r\n\r\n", "status line"),
            (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "header line"),
            (b"HTTP/1.1 200 OK\r\n folded\r\n\r\n", "folded"),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
                "Content-Length body",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                "invalid Content-Length",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                "conflicting",
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
                "cap",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                "chunk size",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n",
                "CRLF",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                "inside a chunk",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n",
                "cap",
            ),
        ];
        for (bytes, want) in cases {
            let err = parse(bytes).await.unwrap_err();
            assert!(
                err.contains(want),
                "{:?}: {err}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[tokio::test]
    async fn close_delimited_body_is_capped() {
        let mut bytes = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        bytes.extend(vec![b'x'; MAX_BODY]);
        assert_eq!(parse(&bytes).await.unwrap().2.len(), MAX_BODY);
        bytes.push(b'x');
        assert!(parse(&bytes).await.unwrap_err().contains("cap"));
        let mut interim = Vec::new();
        for _ in 0..=MAX_INTERIM {
            interim.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\n\r\n");
        }
        assert!(parse(&interim).await.unwrap_err().contains("interim"));
    }
}
