//! Fixed ES256 key material. This is a test server: the keys are committed PEM files (PKCS#8,
//! P-256) so every run, every machine and every printed configuration agree.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::pkcs8::DecodePrivateKey;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde::Serialize;
use std::sync::Arc;

/// The server's ID-token signing key.
pub const ISSUER_SIGNING_PEM: &str = include_str!("../keys/issuer-signing.pem");
/// `confidential-private-key-jwt`'s key.
pub const CLIENT_PRIVATE_KEY_JWT_PEM: &str = include_str!("../keys/client-private-key-jwt.pem");
/// The trusted external issuer's key for RFC 7523 authorization grants.
pub const TRUSTED_ISSUER_PEM: &str = include_str!("../keys/trusted-issuer.pem");
/// A ready-made DPoP key for `public-dpop` (clients may use any key of their own).
pub const DPOP_DEMO_PEM: &str = include_str!("../keys/dpop-demo.pem");

/// The issuer name of the trusted external assertion issuer.
pub const TRUSTED_ISSUER: &str = "https://trusted-issuer.tokencert.test";

/// Public P-256 coordinates `(x, y)` of a PKCS#8 PEM private key, base64url.
pub fn public_coordinates(pem: &str) -> Result<(String, String), String> {
    let sk = p256::SecretKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?;
    let point =
        p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&sk.public_key(), false);
    match (point.x(), point.y()) {
        (Some(x), Some(y)) => Ok((URL_SAFE_NO_PAD.encode(x), URL_SAFE_NO_PAD.encode(y))),
        _ => Err("not an uncompressed point".into()),
    }
}

/// RFC 7638 thumbprint of an EC P-256 JWK (members in lexicographic order, no whitespace).
pub fn ec_thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(canonical.as_bytes()))
}

/// The claims did not serialize, or the system random source failed.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("cannot sign")]
pub struct SignError;

/// The ID-token signer and its published JWK. The key is parsed once, here: signing builds the
/// compact JWS directly (RFC 7515 §3.1) over a header encoded once, so a signature costs one
/// claims serialization and one ECDSA operation (ring's, several times faster than a portable
/// one; its nonces are random, which ES256 allows).
#[derive(Clone)]
pub struct Signer {
    key: Arc<EcdsaKeyPair>,
    rng: SystemRandom,
    kid: String,
    /// `BASE64URL(header) + "."`, the same for every token.
    header_prefix: String,
    jwk: serde_json::Value,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.kid)
    }
}

impl Signer {
    /// From a PKCS#8 PEM.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let secret = p256::SecretKey::from_pkcs8_pem(pem).map_err(|e| e.to_string())?;
        let public = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
            &secret.public_key(),
            false,
        );
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &secret.to_bytes(),
            public.as_bytes(),
            &rng,
        )
        .map_err(|e| e.to_string())?;
        let (x, y) = public_coordinates(pem)?;
        let kid = ec_thumbprint(&x, &y);
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "x": x, "y": y,
            "use": "sig", "alg": "ES256", "kid": kid,
        });
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "kid": kid});
        let header_prefix = format!("{}.", URL_SAFE_NO_PAD.encode(header.to_string()));
        Ok(Self {
            key: Arc::new(key),
            rng,
            kid,
            header_prefix,
            jwk,
        })
    }

    /// Signs claims as an ES256 JWT with this key's `kid` (RFC 7518 §3.4: the signature is the
    /// 64-byte `R || S`).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, SignError> {
        let payload = serde_json::to_vec(claims).map_err(|_| SignError)?;
        let mut jws = self.header_prefix.clone();
        URL_SAFE_NO_PAD.encode_string(payload, &mut jws);
        let signature = self
            .key
            .sign(&self.rng, jws.as_bytes())
            .map_err(|_| SignError)?;
        jws.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut jws);
        Ok(jws)
    }

    /// The JWK Set served at `/jwks`.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.jwk] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Algorithm;

    #[test]
    fn committed_keys_load_and_sign() {
        for pem in [
            ISSUER_SIGNING_PEM,
            CLIENT_PRIVATE_KEY_JWT_PEM,
            TRUSTED_ISSUER_PEM,
            DPOP_DEMO_PEM,
        ] {
            let s = Signer::from_pem(pem).expect("key loads");
            let jwt = s.sign(&serde_json::json!({"a": 1})).expect("signs");
            let header = jsonwebtoken::decode_header(&jwt).expect("header");
            assert_eq!(header.alg, Algorithm::ES256);
            assert_eq!(header.kid.as_deref(), Some(s.kid.as_str()));
            let (x, y) = public_coordinates(pem).expect("coords");
            let key = jsonwebtoken::DecodingKey::from_ec_components(&x, &y).expect("dec");
            let mut v = jsonwebtoken::Validation::new(Algorithm::ES256);
            v.required_spec_claims.clear();
            v.validate_exp = false;
            jsonwebtoken::decode::<serde_json::Value>(&jwt, &key, &v).expect("verifies");
        }
    }

    #[test]
    fn thumbprint_matches_rfc7638_example_shape() {
        // Same input, same output; different keys differ.
        assert_eq!(ec_thumbprint("a", "b"), ec_thumbprint("a", "b"));
        assert_ne!(ec_thumbprint("a", "b"), ec_thumbprint("a", "c"));
    }
}
