//! PKCE (RFC 7636) verifiers and S256 challenges, for driving authorization-code flows that
//! bootstrap refresh-token families.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

/// A fresh `code_verifier`: 32 random bytes base64url-encoded, i.e. 43 characters from the
/// unreserved set (RFC 7636 §4.1 recommends exactly this).
pub fn verifier() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The S256 `code_challenge` for `verifier`: base64url(SHA-256(ASCII(verifier))).
pub fn challenge_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b() {
        // The RFC's pair (verifier = base64url of the 32 octets listed in Appendix B).
        assert_eq!(
            challenge_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_is_well_formed_and_random() {
        let v = verifier();
        assert!((43..=128).contains(&v.len()));
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        );
        assert_ne!(v, verifier());
    }
}
