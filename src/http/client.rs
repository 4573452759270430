//! The harness's HTTP client: reqwest with redirects never followed (a redirect is an answer to
//! assert on, not to chase), no proxy, verified TLS unless `--insecure`, and every response
//! bounded: a deadline per request that covers the whole body, and a body size limit. Races and
//! raw requests go through it too, so they share its TLS mode and limits.

use super::race::race;
use super::raw::{RawOptions, send_raw};
use super::{BodyLimit, HttpResponse, NoAnswer, PreparedRequest};
use base64::Engine as _;
use std::time::{Duration, Instant};

/// The longest a connection may take to open, whatever the request's deadline.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long an idle keep-alive connection is reused. Servers close idle connections after a
/// few seconds (gunicorn 2 s, Node.js 5 s, Apache 5 s); a request sent on a connection the
/// server is closing at that moment meets a reset, an Error in a random cell. Dropping idle
/// connections before the shortest common server timeout leaves that race no room; the cost is
/// a new connection after a pause, which the cells' waits make rare.
const POOL_IDLE: Duration = Duration::from_secs(1);

/// Sends prepared requests.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    /// Accept any TLS certificate.
    pub insecure: bool,
    /// Default per-request timeout, from connecting to the last body byte.
    pub timeout: Duration,
    /// Largest response body read.
    pub max_body: BodyLimit,
}

/// Installs rustls's ring provider once per process (reqwest is built without a default one).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl HttpClient {
    /// A client with the given default timeout and body limit.
    pub fn new(
        timeout: Duration,
        insecure: bool,
        max_body: BodyLimit,
    ) -> Result<HttpClient, String> {
        Self::build(timeout, insecure, max_body, 32)
    }

    /// A client that opens a new connection for every request (no keep-alive pool): used to
    /// retry a request whose pooled connection the server had just closed.
    pub fn unpooled(
        timeout: Duration,
        insecure: bool,
        max_body: BodyLimit,
    ) -> Result<HttpClient, String> {
        Self::build(timeout, insecure, max_body, 0)
    }

    fn build(
        timeout: Duration,
        insecure: bool,
        max_body: BodyLimit,
        idle: usize,
    ) -> Result<HttpClient, String> {
        install_crypto_provider();
        let inner = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(timeout.min(CONNECT_TIMEOUT))
            .danger_accept_invalid_certs(insecure)
            .pool_max_idle_per_host(idle)
            .pool_idle_timeout(POOL_IDLE)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(HttpClient {
            inner,
            insecure,
            timeout,
            max_body,
        })
    }

    /// Sends one request; transport failures, a body over the limit and a response not complete
    /// within `timeout` (default: the client's) are `Err` with a readable reason.
    pub async fn send(
        &self,
        req: &PreparedRequest,
        timeout: Option<Duration>,
    ) -> Result<HttpResponse, String> {
        let timeout = timeout.unwrap_or(self.timeout);
        // One deadline from connecting to the last body byte, whatever the server drips.
        match tokio::time::timeout(timeout, self.exchange(req)).await {
            Ok(r) => r,
            Err(_) => Err(NoAnswer::within(timeout)),
        }
    }

    /// Races `requests` (see [`race`]) with the client's TLS mode and body limit: `timeout`
    /// to connect and prime them all, `answers_within` from the release of the final bytes.
    pub async fn race(
        &self,
        requests: Vec<PreparedRequest>,
        timeout: Duration,
        answers_within: Duration,
    ) -> Vec<Result<HttpResponse, String>> {
        race(requests, self.raw_options(timeout), answers_within).await
    }

    /// Sends one request over the raw HTTP/1.1 client (see [`send_raw`]).
    pub async fn send_raw(
        &self,
        req: &PreparedRequest,
        timeout: Duration,
    ) -> Result<HttpResponse, String> {
        send_raw(req, self.raw_options(timeout)).await
    }

    fn raw_options(&self, timeout: Duration) -> RawOptions {
        RawOptions {
            timeout,
            insecure: self.insecure,
            max_body: self.max_body,
        }
    }

    async fn exchange(&self, req: &PreparedRequest) -> Result<HttpResponse, String> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes())
            .map_err(|_| format!("`{}` is not an HTTP method", req.method))?;
        let mut b = self.inner.request(method, req.url.clone());
        for (n, v) in &req.headers {
            b = b.header(n.as_str(), v.as_str());
        }
        if !req.body.is_empty() {
            b = b.body(req.body.clone());
        }
        let start = Instant::now();
        let describe = |e: reqwest::Error| self.describe(e);
        let mut resp = b.send().await.map_err(describe)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        // Known too long: refuse without reading any of it.
        if let Some(len) = resp.content_length()
            && self.max_body.exceeded_by(len)
        {
            return Err(format!(
                "{} (Content-Length {len})",
                self.max_body.exceeded()
            ));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(describe)? {
            if self.max_body.exceeded_by((body.len() + chunk.len()) as u64) {
                return Err(self.max_body.exceeded());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body,
            duration: start.elapsed(),
        })
    }
}

impl HttpClient {
    fn describe(&self, e: reqwest::Error) -> String {
        // Only the connect timeout fires inside reqwest (the whole exchange is bounded above).
        if e.is_timeout() {
            return NoAnswer::within_while(self.connect_timeout(), "connecting");
        }
        describe(e)
    }

    fn connect_timeout(&self) -> Duration {
        self.timeout.min(CONNECT_TIMEOUT)
    }
}

fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let mut msg = format!("{kind}: {e}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}

/// `application/x-www-form-urlencoded` encoding of ordered pairs (repeats allowed).
pub fn form_body(pairs: &[(String, String)]) -> Vec<u8> {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish().into_bytes()
}

/// `Basic` credentials per RFC 6749 §2.3.1: id and secret are form-urlencoded (Appendix B)
/// before they are joined with `:` and base64-encoded.
pub fn basic_auth(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(id), enc(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_form_encodes_id_and_secret_first() {
        // "a b:c" → "a+b%3Ac"; "p+%ä" → "p%2B%25%C3%A4".
        let h = basic_auth("a b:c", "p+%ä");
        let b64 = h.strip_prefix("Basic ").expect("basic");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64");
        assert_eq!(String::from_utf8_lossy(&raw), "a+b%3Ac:p%2B%25%C3%A4");
    }

    #[test]
    fn form_bodies_keep_repeated_parameters() {
        let body = form_body(&[
            ("grant_type".into(), "refresh_token".into()),
            ("scope".into(), "a b".into()),
            ("scope".into(), "c".into()),
        ]);
        assert_eq!(
            String::from_utf8_lossy(&body),
            "grant_type=refresh_token&scope=a+b&scope=c"
        );
    }
}
