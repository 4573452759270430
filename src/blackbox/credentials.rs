//! A grammar of client credentials that are never the client's: the `Authorization` header
//! (scheme spelling and spacing, base64 validity, the decoded bytes' charset, the separator,
//! lengths) and `client_id` / `client_secret` in the body. None of them carries the client's
//! secret, so every request using one alone must be refused, and a reproducer can write it out.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use rand::Rng as _;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;

/// A wrong secret (a literal: never the client's).
pub const WRONG_SECRET: &str = "tokencert-wrong-secret";

/// The id and secret parts, before any encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cred {
    /// The client's id with a wrong secret.
    WrongSecret,
    /// An id no client has.
    UnknownId,
    /// The id alone, no separator.
    NoSeparator,
    /// An empty id.
    EmptyId,
    /// The id and an empty secret.
    EmptySecret,
    /// Nothing at all.
    Empty,
    /// A second separator in the secret.
    ExtraColon,
    /// Id and secret of this many characters.
    Long(usize),
    /// A secret with non-ASCII UTF-8.
    NonAscii,
    /// A secret whose bytes are not UTF-8.
    InvalidUtf8,
    /// A secret with control characters.
    Control,
    /// A secret with a malformed percent-escape (a form-decoding server trips on it).
    BadPercent,
}

impl Cred {
    const ALL: &'static [Cred] = &[
        Cred::WrongSecret,
        Cred::UnknownId,
        Cred::NoSeparator,
        Cred::EmptyId,
        Cred::EmptySecret,
        Cred::Empty,
        Cred::ExtraColon,
        Cred::Long(300),
        Cred::Long(10_000),
        Cred::NonAscii,
        Cred::InvalidUtf8,
        Cred::Control,
        Cred::BadPercent,
    ];

    /// A random one.
    pub fn pick(rng: &mut StdRng) -> Cred {
        *Cred::ALL.choose(rng).unwrap_or(&Cred::WrongSecret)
    }

    /// Short name.
    pub fn name(self) -> &'static str {
        match self {
            Cred::WrongSecret => "wrong-secret",
            Cred::UnknownId => "unknown-id",
            Cred::NoSeparator => "no-separator",
            Cred::EmptyId => "empty-id",
            Cred::EmptySecret => "empty-secret",
            Cred::Empty => "empty",
            Cred::ExtraColon => "extra-colon",
            Cred::Long(_) => "long",
            Cred::NonAscii => "non-ascii",
            Cred::InvalidUtf8 => "invalid-utf8",
            Cred::Control => "control-chars",
            Cred::BadPercent => "bad-percent",
        }
    }

    /// `(id, secret)` bytes; no secret means no separator. `id` is the client's id.
    pub fn parts(self, id: &str) -> (Vec<u8>, Option<Vec<u8>>) {
        let id = id.as_bytes().to_vec();
        let wrong = WRONG_SECRET.as_bytes().to_vec();
        let with = |s: &[u8]| {
            let mut v = wrong.clone();
            v.extend_from_slice(s);
            Some(v)
        };
        match self {
            Cred::WrongSecret => (id, Some(wrong)),
            Cred::UnknownId => (b"tokencert-unknown-client".to_vec(), Some(wrong)),
            Cred::NoSeparator => (id, None),
            Cred::EmptyId => (Vec::new(), Some(wrong)),
            Cred::EmptySecret => (id, Some(Vec::new())),
            Cred::Empty => (Vec::new(), None),
            Cred::ExtraColon => (id, with(b":extra")),
            Cred::Long(n) => (vec![b'A'; n], Some(vec![b'B'; n])),
            Cred::NonAscii => (id, with("-s\u{e9}cr\u{e9}t-\u{fc}-\u{20ac}".as_bytes())),
            Cred::InvalidUtf8 => (id, with(b"\xff\xfe\xc3")),
            Cred::Control => (id, with(b"\x00\x1b\r\n")),
            Cred::BadPercent => (id, with(b"%zz%C3")),
        }
    }

    /// `id:secret` as the header carries it.
    pub fn joined(self, id: &str) -> Vec<u8> {
        let (mut out, secret) = self.parts(id);
        if let Some(s) = secret {
            out.push(b':');
            out.extend_from_slice(&s);
        }
        out
    }
}

/// How the decoded bytes become the header's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Base64 with padding.
    Standard,
    /// Base64 without its padding.
    NoPadding,
    /// The URL-safe alphabet.
    UrlSafe,
    /// Characters outside the alphabet appended.
    BadChars,
    /// A space inside the token.
    InnerSpace,
    /// Not encoded at all (the bytes as they are, when they are visible ASCII).
    Plain,
}

impl Encoding {
    const ALL: &'static [Encoding] = &[
        Encoding::Standard,
        Encoding::Standard,
        Encoding::NoPadding,
        Encoding::UrlSafe,
        Encoding::BadChars,
        Encoding::InnerSpace,
        Encoding::Plain,
    ];

    fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Standard => STANDARD.encode(bytes),
            Encoding::NoPadding => STANDARD.encode(bytes).trim_end_matches('=').to_owned(),
            Encoding::UrlSafe => URL_SAFE.encode(bytes),
            Encoding::BadChars => format!("{}!*~", STANDARD.encode(bytes)),
            Encoding::InnerSpace => {
                let s = STANDARD.encode(bytes);
                let mid = s.len() / 2;
                format!("{} {}", &s[..mid], &s[mid..])
            }
            Encoding::Plain => {
                if bytes.iter().all(|b| (0x21..0x7f).contains(b)) {
                    String::from_utf8_lossy(bytes).into_owned()
                } else {
                    STANDARD.encode(bytes)
                }
            }
        }
    }
}

/// The scheme and what separates it from the token: spellings, spacing, other schemes, none.
const SCHEMES: &[&str] = &[
    "Basic ", "Basic ", "basic ", "BASIC ", "Basic  ", "Basic\t", "Basic", "Bearer ", "Digest ", "",
];

/// A generated `Authorization` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forged {
    scheme: usize,
    encoding: Encoding,
    cred: Cred,
}

impl Forged {
    /// A random one.
    pub fn pick(rng: &mut StdRng) -> Forged {
        Forged {
            scheme: rng.random_range(0..SCHEMES.len()),
            encoding: *Encoding::ALL.choose(rng).unwrap_or(&Encoding::Standard),
            cred: Cred::pick(rng),
        }
    }

    /// A well-formed Basic header with a wrong secret.
    pub fn wrong_secret() -> Forged {
        Forged {
            scheme: 0,
            encoding: Encoding::Standard,
            cred: Cred::WrongSecret,
        }
    }

    /// The header value for the client `id` (visible ASCII, a space or a tab: always a valid
    /// header value, never the client's secret).
    pub fn value(&self, id: &str) -> String {
        let scheme = SCHEMES.get(self.scheme).copied().unwrap_or("Basic ");
        format!("{scheme}{}", self.encoding.encode(&self.cred.joined(id)))
    }

    /// What the credential is (the header's spelling and encoding show in the reproducer).
    pub fn cred_name(&self) -> &'static str {
        self.cred.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng as _;

    #[test]
    fn forged_headers_are_valid_header_values_without_the_secret() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..2_000 {
            let f = Forged::pick(&mut rng);
            let v = f.value("client-1");
            assert!(
                v.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)),
                "{f:?}: {v:?}"
            );
            assert!(reqwest::header::HeaderValue::from_str(&v).is_ok(), "{v:?}");
        }
        // Every credential decodes to something other than a valid id:secret pair.
        for c in Cred::ALL {
            let joined = c.joined("client-1");
            assert_ne!(joined, b"client-1:secret", "{c:?}");
        }
        assert_eq!(
            Forged::wrong_secret().value("c"),
            format!("Basic {}", STANDARD.encode("c:tokencert-wrong-secret"))
        );
    }
}
