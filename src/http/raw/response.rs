//! Reading one HTTP/1.x response off a connection. Everything is bounded by the size caps
//! below, and every loop either consumes input, grows the (capped) buffer, or stops at end of
//! stream.

use tokio::io::{AsyncRead, AsyncReadExt as _};

use crate::http::BodyLimit;

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

pub(super) type Headers = Vec<(String, String)>;

/// Reads one HTTP/1.x response: `(status, headers, body)`. `head` means the request was HEAD
/// (no body follows whatever the headers say); a body over `limit` is an error, found without
/// reading more than `limit` bytes of it.
pub(super) async fn read_response<R: AsyncRead + Unpin>(
    io: &mut R,
    head: bool,
    limit: BodyLimit,
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
            read_chunked(&mut r, limit).await?
        } else {
            read_to_close(&mut r, limit).await?
        }
    } else if let Some(len) = content_length(&headers)? {
        if limit.exceeded_by(len) {
            return Err(format!("{} (Content-Length {len})", limit.exceeded()));
        }
        let len = len as usize;
        r.need(len, "before the end of the Content-Length body")
            .await?;
        r.pending()[..len].to_vec()
    } else {
        read_to_close(&mut r, limit).await?
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

async fn read_chunked<R: AsyncRead + Unpin>(
    r: &mut Reader<'_, R>,
    limit: BodyLimit,
) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    // Every non-final chunk adds at least one byte, so this ends within `limit` iterations.
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
        if size > limit.bytes() - body.len() {
            return Err(limit.exceeded());
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

async fn read_to_close<R: AsyncRead + Unpin>(
    r: &mut Reader<'_, R>,
    limit: BodyLimit,
) -> Result<Vec<u8>, String> {
    // The buffer only grows here (nothing is consumed), so the cap check bounds the loop.
    while r.pending().len() <= limit.bytes() {
        if !r.more().await? {
            return Ok(r.pending().to_vec());
        }
    }
    Err(limit.exceeded())
}

/// Keeps error messages short when echoing server data.
fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}
#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
mod tests {
    use super::*;

    const LIMIT: usize = 1 << 20;

    fn limit() -> BodyLimit {
        BodyLimit::new(LIMIT).unwrap()
    }

    async fn parse(bytes: &[u8]) -> Result<(u16, Headers, Vec<u8>), String> {
        read_response(&mut &bytes[..], false, limit()).await
    }

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
        let (_, _, body) = read_response(&mut &bytes[..], true, limit()).await.unwrap();
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
                "response body exceeded 1 MiB",
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
                "response body exceeded 1 MiB",
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
        bytes.extend(vec![b'x'; LIMIT]);
        assert_eq!(parse(&bytes).await.unwrap().2.len(), LIMIT);
        bytes.push(b'x');
        assert_eq!(
            parse(&bytes).await.unwrap_err(),
            "response body exceeded 1 MiB"
        );
        let mut interim = Vec::new();
        for _ in 0..=MAX_INTERIM {
            interim.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\n\r\n");
        }
        assert!(parse(&interim).await.unwrap_err().contains("interim"));
    }

    #[tokio::test]
    async fn endless_body_stops_at_the_limit() {
        let head = b"HTTP/1.1 200 OK\r\n\r\n";
        let mut endless = (&head[..]).chain(tokio::io::repeat(b'x'));
        let err = read_response(&mut endless, false, limit())
            .await
            .unwrap_err();
        assert_eq!(err, "response body exceeded 1 MiB");
    }
}
