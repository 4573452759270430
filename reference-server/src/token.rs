//! Secret-bearing newtypes, their hashes, and the token generator.
//!
//! Raw tokens only ever exist in a request or a response: the store keys everything by
//! [`TokenHash`] (SHA-256), so a database dump reveals no usable token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Mutex;

macro_rules! secret_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a raw value.
            pub fn new(raw: impl Into<String>) -> Self {
                Self(raw.into())
            }

            /// The raw value, for the one place that must send or compare it.
            pub fn secret(&self) -> &str {
                &self.0
            }

            /// The value's SHA-256, the only form the store keeps.
            pub fn hash(&self) -> TokenHash {
                TokenHash::of(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_newtype!(
    /// An access token (opaque).
    AccessToken
);
secret_newtype!(
    /// A refresh token (opaque).
    RefreshToken
);
secret_newtype!(
    /// An authorization code.
    AuthorizationCode
);
secret_newtype!(
    /// An RFC 8628 device code.
    DeviceCode
);
secret_newtype!(
    /// A client secret.
    ClientSecret
);

/// Hex SHA-256 of a token: the store's key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash(pub String);

impl TokenHash {
    /// Hashes a raw value.
    pub fn of(raw: &str) -> Self {
        Self(hex(&Sha256::digest(raw.as_bytes())))
    }
}

/// Lower-case hex, two digits a byte, straight from a table (this runs for every token a request
/// carries or mints).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// Where random material comes from: the OS, or a seeded generator for reproducible test runs.
pub enum TokenGenerator {
    /// `rand`'s thread-local CSPRNG, seeded from the OS.
    Os,
    /// Deterministic (test control only): the same seed gives the same token sequence.
    Seeded(Box<Mutex<StdRng>>),
}

impl fmt::Debug for TokenGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Os => write!(f, "TokenGenerator::Os"),
            Self::Seeded(_) => write!(f, "TokenGenerator::Seeded"),
        }
    }
}

impl TokenGenerator {
    /// A deterministic generator.
    pub fn seeded(seed: u64) -> Self {
        Self::Seeded(Box::new(Mutex::new(StdRng::seed_from_u64(seed))))
    }

    fn fill(&self, buf: &mut [u8]) {
        match self {
            Self::Os => rand::rng().fill_bytes(buf),
            Self::Seeded(rng) => {
                // A poisoned lock only means another request panicked mid-fill; the RNG state is
                // still usable.
                let mut rng = rng.lock().unwrap_or_else(|p| p.into_inner());
                rng.fill_bytes(buf)
            }
        }
    }

    /// 256 bits, base64url: well above RFC 6749 §10.10's 2^-160 guessing bound.
    pub fn token(&self) -> String {
        let mut buf = [0u8; 32];
        self.fill(&mut buf);
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// A 128-bit hex identifier (families, jti).
    pub fn id(&self) -> String {
        let mut buf = [0u8; 16];
        self.fill(&mut buf);
        hex(&buf)
    }

    /// An RFC 8628 user code: 8 letters from a set without vowels or look-alikes, as `XXXX-XXXX`.
    pub fn user_code(&self) -> String {
        const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
        let mut buf = [0u8; 8];
        self.fill(&mut buf);
        let mut s = String::with_capacity(9);
        for (i, b) in buf.iter().enumerate() {
            if i == 4 {
                s.push('-');
            }
            s.push(ALPHABET[*b as usize % ALPHABET.len()] as char);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let t = RefreshToken::new("very-secret");
        assert!(!format!("{t:?}").contains("very-secret"));
    }

    #[test]
    fn seeded_generators_repeat_and_os_does_not() {
        let a = TokenGenerator::seeded(7);
        let b = TokenGenerator::seeded(7);
        assert_eq!(a.token(), b.token());
        assert_ne!(TokenGenerator::Os.token(), TokenGenerator::Os.token());
        assert_eq!(a.token().len(), 43);
        assert_eq!(a.user_code().len(), 9);
    }

    #[test]
    fn hex_matches_format() {
        let all: Vec<u8> = (0..=255).collect();
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex(&all), expected);
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            TokenHash::of("abc").0,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
