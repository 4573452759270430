//! hyper answers requests it cannot parse (a garbage request line, too many or too large
//! headers, conflicting `Content-Length`, a bad `Transfer-Encoding`) itself, before any request
//! reaches the router, with an empty body. This wrapper on the socket recognises those responses
//! on their way out and gives them an RFC 6749 §5.2 JSON body (`invalid_request`),
//! `Cache-Control: no-store` and `Connection: close` (hyper closes after them anyway). Their status
//! (400, 414 or 431) is hyper's and is kept. It is not told the endpoint: the request line may be
//! unreadable, so every path gets the same JSON error.
//!
//! Recognised: a response head written by hyper with status 400, 414 or 431, `content-length: 0`
//! and no `content-type`. Every response the router produces at those statuses has a JSON body,
//! so it never matches.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The statuses hyper answers parse errors with, and what the JSON says for each.
const CANNED: &[(&[u8], &str)] = &[
    (b"HTTP/1.1 400 ", "malformed HTTP request"),
    (b"HTTP/1.1 431 ", "request header fields too large"),
    (b"HTTP/1.1 414 ", "request URI too long"),
];

/// A socket that rewrites hyper's empty-bodied parse-error responses; see the module docs.
#[derive(Debug)]
pub struct WireErrors<T> {
    inner: T,
    /// Rewritten bytes not yet accepted by `inner`.
    pending: Vec<u8>,
    sent: usize,
}

impl<T> WireErrors<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            sent: 0,
        }
    }
}

impl<T: AsyncWrite + Unpin> WireErrors<T> {
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.sent < self.pending.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.pending.clear();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

/// Where in `buf` a response head of a canned status starts, if anywhere.
fn find_canned_start(buf: &[u8]) -> Option<usize> {
    (0..buf.len()).find(|&i| CANNED.iter().any(|(p, _)| buf[i..].starts_with(p)))
}

/// If `buf` starts with one of hyper's canned heads: its length and the rewritten response.
fn rewrite(buf: &[u8]) -> Option<(usize, Vec<u8>)> {
    let (prefix, description) = CANNED.iter().find(|(p, _)| buf.starts_with(p))?;
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut date = None;
    let mut empty = false;
    for line in lines.filter(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-type" => return None,
            "content-length" => empty = value == "0",
            "date" => date = Some(value),
            _ => {}
        }
    }
    if !empty {
        return None;
    }
    debug_assert!(status_line.as_bytes().starts_with(prefix));
    let body = serde_json::json!({"error": "invalid_request", "error_description": description})
        .to_string();
    let mut out = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncache-control: no-store\r\n\
         connection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some(d) = date {
        out.push_str(&format!("date: {d}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some((end, out.into_bytes()))
}

impl<T: AsyncRead + Unpin> AsyncRead for WireErrors<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for WireErrors<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        match find_canned_start(buf) {
            Some(0) => {
                if let Some((consumed, replacement)) = rewrite(buf) {
                    this.pending = replacement;
                    // Best effort now; the rest goes out on the next write, flush or shutdown.
                    if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
                        return Poll::Ready(Err(e));
                    }
                    return Poll::Ready(Ok(consumed));
                }
                Pin::new(&mut this.inner).poll_write(cx, buf)
            }
            // Earlier responses first, so the head starts the next write.
            Some(k) => Pin::new(&mut this.inner).poll_write(cx, &buf[..k]),
            None => Pin::new(&mut this.inner).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hypers_empty_400_becomes_oauth_json() {
        let canned = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\
                       date: Wed, 02 Dec 2026 01:00:00 GMT\r\n\r\n";
        let (n, out) = rewrite(canned).expect("rewritten");
        assert_eq!(n, canned.len());
        let out = String::from_utf8(out).expect("utf8");
        let (head, body) = out.split_once("\r\n\r\n").expect("head");
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        for h in [
            "content-type: application/json",
            "cache-control: no-store",
            "connection: close",
            "date: Wed, 02 Dec 2026 01:00:00 GMT",
        ] {
            assert!(head.contains(h), "{h} in {head}");
        }
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["error"], "invalid_request");
    }

    #[test]
    fn the_routers_own_responses_are_left_alone() {
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
                     content-length: 2\r\n\r\n{}";
        assert!(rewrite(ours).is_none());
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        assert!(rewrite(ok).is_none());
        let mut two = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}".to_vec();
        let at = two.len();
        two.extend_from_slice(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n",
        );
        assert_eq!(find_canned_start(&two), Some(at));
        assert!(rewrite(&two[at..]).is_some());
    }
}
