//! How much, and how long, the harness reads from a target. Token endpoint answers are a few
//! hundred bytes, so a body of megabytes means a broken or hostile target; reading it whole would
//! let one endless response exhaust the harness's memory, so every reader stops at a
//! [`BodyLimit`]. Every request also has a deadline; one that passes is [`NoAnswer`], which
//! says nothing about what the server would have answered (never a 5xx).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt as _};

/// The most bytes of one response body (or one hook's output) the harness reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(usize);

impl BodyLimit {
    /// 4 MiB: thousands of times a real token response, small enough for `-j` cells at once.
    pub const DEFAULT: BodyLimit = BodyLimit(4 << 20);

    /// A limit of `bytes` (at least one).
    pub fn new(bytes: usize) -> Result<BodyLimit, String> {
        if bytes == 0 {
            return Err("the response size limit must be at least one byte".to_string());
        }
        Ok(BodyLimit(bytes))
    }

    /// The limit in bytes.
    pub fn bytes(self) -> usize {
        self.0
    }

    /// Whether a body of `len` bytes is over the limit.
    pub fn exceeded_by(self, len: u64) -> bool {
        len > self.0 as u64
    }

    /// The error for a response body over the limit.
    pub fn exceeded(self) -> String {
        format!("{EXCEEDED}{self}")
    }

    /// Whether `error` is (or starts with) one [`BodyLimit::exceeded`] made.
    pub fn is_exceeded(error: &str) -> bool {
        error.starts_with(EXCEEDED)
    }
}

const EXCEEDED: &str = "response body exceeded ";

impl Default for BodyLimit {
    fn default() -> Self {
        BodyLimit::DEFAULT
    }
}

const UNITS: [(&str, usize); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];

impl fmt::Display for BodyLimit {
    /// The largest binary unit that divides the limit exactly: `4 MiB`, `1536 KiB`, `1000 bytes`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in UNITS {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{} {unit}", self.0 / size);
            }
        }
        match self.0 {
            1 => write!(f, "1 byte"),
            n => write!(f, "{n} bytes"),
        }
    }
}

impl FromStr for BodyLimit {
    type Err = String;

    /// A byte count, optionally with a binary unit: `4194304`, `4MiB`, `4 MiB`, `512KiB`, `4M`.
    fn from_str(s: &str) -> Result<BodyLimit, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = (&s[..split], s[split..].trim());
        let bad = || format!("`{s}` is not a size (use bytes, or a unit: 512KiB, 4MiB, 1GiB)");
        let n: usize = digits.parse().map_err(|_| bad())?;
        let scale = match unit.to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            _ => return Err(bad()),
        };
        BodyLimit::new(n.checked_mul(scale).ok_or_else(bad)?)
    }
}

/// The error of a request that got no complete answer before its deadline.
pub struct NoAnswer;

const NO_ANSWER: &str = "no answer within ";

impl NoAnswer {
    /// `no answer within 10 s`.
    pub fn within(d: Duration) -> String {
        format!("{NO_ANSWER}{}", seconds(d))
    }

    /// `no answer within 10 s (what was under way)`.
    pub fn within_while(d: Duration, what: &str) -> String {
        format!("{} ({what})", Self::within(d))
    }

    /// Whether `error` is (or starts with) one [`NoAnswer`] made.
    pub fn is(error: &str) -> bool {
        error.starts_with(NO_ANSWER)
    }
}

/// `10 s`, `2.5 s`, `0.3 s`: whole seconds without decimals.
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{s:.1} s")
    }
}

/// Reads `io` to its end, but no more than `limit` bytes: `Ok(None)` if it had more.
pub async fn read_capped<R: AsyncRead + Unpin>(
    io: R,
    limit: BodyLimit,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut out = Vec::new();
    // One byte past the limit tells "exactly the limit" from "more".
    io.take(limit.0 as u64 + 1).read_to_end(&mut out).await?;
    Ok((out.len() <= limit.0).then_some(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print_in_binary_units() {
        let cases = [
            ("4194304", 4 << 20, "4 MiB"),
            ("4MiB", 4 << 20, "4 MiB"),
            ("4 mib", 4 << 20, "4 MiB"),
            ("1536k", 1536 << 10, "1536 KiB"),
            ("1G", 1 << 30, "1 GiB"),
            ("1000", 1000, "1000 bytes"),
            ("1b", 1, "1 byte"),
        ];
        for (text, bytes, shown) in cases {
            let l: BodyLimit = text.parse().unwrap();
            assert_eq!(l.bytes(), bytes, "{text}");
            assert_eq!(l.to_string(), shown, "{text}");
        }
        for bad in ["", "0", "4 MB", "-1", "1.5MiB", "99999999999999999999G"] {
            assert!(bad.parse::<BodyLimit>().is_err(), "{bad}");
        }
        assert_eq!(
            BodyLimit::DEFAULT.exceeded(),
            "response body exceeded 4 MiB"
        );
    }

    #[test]
    fn no_answer_names_the_deadline() {
        let e = NoAnswer::within(Duration::from_secs(10));
        assert_eq!(e, "no answer within 10 s");
        assert!(NoAnswer::is(&e));
        let e = NoAnswer::within_while(Duration::from_millis(2500), "connecting");
        assert_eq!(e, "no answer within 2.5 s (connecting)");
        assert!(NoAnswer::is(&e) && !NoAnswer::is("connection refused"));
        assert!(!BodyLimit::is_exceeded(&e));
    }

    #[tokio::test]
    async fn read_capped_stops_one_byte_past_the_limit() {
        let limit = BodyLimit::new(4).unwrap();
        assert_eq!(
            read_capped(&b"abcd"[..], limit).await.unwrap(),
            Some(b"abcd".to_vec())
        );
        assert_eq!(read_capped(&b"abcde"[..], limit).await.unwrap(), None);
        // An endless reader ends too.
        assert_eq!(
            read_capped(tokio::io::repeat(b'x'), limit).await.unwrap(),
            None
        );
    }
}
