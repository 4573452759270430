//! `body_raw:` text: any bytes written as YAML-safe text. `%XX` (two hex digits) is the byte
//! 0xXX, so `%25` is a percent sign; every other character stands for its UTF-8 bytes. Only the
//! literal text is unescaped — a `{{ … }}` expression inserts its value as it is.

use std::fmt::Write as _;

/// Bytes as `body_raw` literal text: printable ASCII as is, except `%`, `{` and `}` (which
/// would start an escape or a template), everything else as `%XX`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && !matches!(b, b'%' | b'{' | b'}') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The bytes of `body_raw` literal text; a `%` not followed by two hex digits is an error.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(b) => out.push(b),
                None => {
                    return Err(format!(
                        "`%` at byte {i} is not followed by two hex digits (write `%25` for a percent sign)"
                    ));
                }
            }
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
mod tests {
    use super::*;

    #[test]
    fn every_byte_survives_a_round_trip() {
        let all: Vec<u8> = (0..=255).collect();
        let text = escape(&all);
        assert!(text.is_ascii() && !text.contains(['{', '}']));
        assert_eq!(unescape(&text).unwrap(), all);
        assert_eq!(escape(b"a=b&c=%7B\xff"), "a=b&c=%257B%FF");
        assert_eq!(unescape("caf\u{e9}%FF").unwrap(), b"caf\xc3\xa9\xff");
        for bad in ["%", "%4", "%zz", "a%g0"] {
            assert!(unescape(bad).is_err(), "{bad}");
        }
    }
}
