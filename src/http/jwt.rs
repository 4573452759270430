//! JOSE signing for client assertions (RFC 7523) and DPoP proofs (RFC 9449).
//!
//! Unlike a normal JWT library this module lets the caller control every header and claim,
//! because negative tests need to forge tokens a well-behaved client would never send: a
//! missing `jti`, a wrong `typ`, `alg: none`, a foreign `jwk`, and so on. The header and claims
//! are therefore serialised here (in insertion order, arbitrary fields kept) and only the
//! signature itself is delegated to real crypto (`p256` for ES256, `jsonwebtoken`'s provider
//! for HMAC and RSA).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use rand::RngCore as _;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// Why a token could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    /// The PEM text is neither a P-256 EC key nor an RSA private key.
    #[error("unusable private key: {0}")]
    Key(String),
    /// The `alg` header is not a string or not an algorithm this module can sign with.
    #[error("unsupported alg {0}")]
    UnsupportedAlg(String),
    /// The `alg` header names an algorithm of another family than the key.
    #[error("alg {alg} cannot be used with a {key} key")]
    AlgKeyMismatch {
        /// The requested algorithm.
        alg: String,
        /// The key family (`HMAC`, `EC P-256`, `RSA`).
        key: &'static str,
    },
    /// Header or claims could not be serialised.
    #[error("cannot serialise JWT part: {0}")]
    Json(#[from] serde_json::Error),
    /// The crypto provider refused to sign.
    #[error("signing failed: {0}")]
    Sign(String),
}

/// A key to sign JWS with.
#[derive(Clone)]
pub enum SigningKey {
    /// Shared secret for HS256/HS384/HS512.
    Hmac(Vec<u8>),
    /// P-256 private key for ES256.
    Ec(p256::ecdsa::SigningKey),
    /// RSA private key (PKCS#1 or PKCS#8 PEM) for RS*/PS*.
    Rsa(jsonwebtoken::EncodingKey),
}

// Hand-written so secrets never end up in logs or reports.
impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            SigningKey::Hmac(_) => "Hmac",
            SigningKey::Ec(_) => "Ec",
            SigningKey::Rsa(_) => "Rsa",
        };
        write!(f, "SigningKey::{kind}(..)")
    }
}

impl SigningKey {
    /// Loads a private key from PEM, detecting its type: PKCS#8 or SEC1 P-256 EC, or PKCS#8 or
    /// PKCS#1 RSA.
    pub fn from_pem(pem: &str) -> Result<Self, JwtError> {
        use p256::pkcs8::DecodePrivateKey as _;
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Ok(SigningKey::Ec(k));
        }
        if let Ok(k) = p256::SecretKey::from_sec1_pem(pem) {
            return Ok(SigningKey::Ec(k.into()));
        }
        let rsa = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
            .map_err(|e| JwtError::Key(format!("not a P-256 EC or RSA private key ({e})")))?;
        // jsonwebtoken only parses the RSA key when signing; do one throw-away signature so a
        // bad key is reported at load time rather than in the middle of a scenario.
        jsonwebtoken::crypto::sign(b"probe", &rsa, jsonwebtoken::Algorithm::RS256)
            .map_err(|e| JwtError::Key(format!("RSA key rejected: {e}")))?;
        Ok(SigningKey::Rsa(rsa))
    }

    /// An HMAC key from the shared secret bytes (e.g. a `client_secret`).
    pub fn hmac(secret: &[u8]) -> Self {
        SigningKey::Hmac(secret.to_vec())
    }

    /// The algorithm used when the header carries no `alg`.
    pub fn default_alg(&self) -> &'static str {
        match self {
            SigningKey::Hmac(_) => "HS256",
            SigningKey::Ec(_) => "ES256",
            SigningKey::Rsa(_) => "RS256",
        }
    }

    fn family(&self) -> &'static str {
        match self {
            SigningKey::Hmac(_) => "HMAC",
            SigningKey::Ec(_) => "EC P-256",
            SigningKey::Rsa(_) => "RSA",
        }
    }

    /// Raw JWS signature bytes over `message` with `alg`.
    fn sign_bytes(&self, alg: &str, message: &[u8]) -> Result<Vec<u8>, JwtError> {
        use jsonwebtoken::Algorithm as A;
        let mismatch = || JwtError::AlgKeyMismatch {
            alg: alg.to_string(),
            key: self.family(),
        };
        let jwt_alg = match alg {
            "HS256" => A::HS256,
            "HS384" => A::HS384,
            "HS512" => A::HS512,
            "ES256" => A::ES256,
            "RS256" => A::RS256,
            "RS384" => A::RS384,
            "RS512" => A::RS512,
            "PS256" => A::PS256,
            "PS384" => A::PS384,
            "PS512" => A::PS512,
            other => return Err(JwtError::UnsupportedAlg(other.to_string())),
        };
        match (self, jwt_alg) {
            // ES256 straight through p256: RFC 6979 deterministic, fixed-width r||s as JWS wants.
            (SigningKey::Ec(k), A::ES256) => {
                let sig: p256::ecdsa::Signature = k.sign(message);
                Ok(sig.to_bytes().to_vec())
            }
            (SigningKey::Hmac(secret), A::HS256 | A::HS384 | A::HS512) => {
                let key = jsonwebtoken::EncodingKey::from_secret(secret);
                provider_sign(message, &key, jwt_alg)
            }
            (
                SigningKey::Rsa(key),
                A::RS256 | A::RS384 | A::RS512 | A::PS256 | A::PS384 | A::PS512,
            ) => provider_sign(message, key, jwt_alg),
            _ => Err(mismatch()),
        }
    }
}

/// Signs through jsonwebtoken's provider, which returns base64url; we want raw bytes so every
/// algorithm goes through the same encoding path.
fn provider_sign(
    message: &[u8],
    key: &jsonwebtoken::EncodingKey,
    alg: jsonwebtoken::Algorithm,
) -> Result<Vec<u8>, JwtError> {
    let b64 =
        jsonwebtoken::crypto::sign(message, key, alg).map_err(|e| JwtError::Sign(e.to_string()))?;
    URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|e| JwtError::Sign(e.to_string()))
}

fn b64_json(part: &Map<String, Value>) -> Result<String, JwtError> {
    Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(part)?))
}

/// Produces a compact JWS from exactly the given header and claims.
///
/// * `alg` absent: the key's [`SigningKey::default_alg`] is inserted (at the front).
/// * `alg` JSON `null`: signed with the default algorithm but the header carries no `alg`
///   (a malformed token for negative tests).
/// * `alg` `"none"` (any letter case, as attackers try `None`/`NONE` too): unsigned token with
///   an empty signature part.
/// * otherwise the `alg` must match the key's family.
pub fn sign(
    mut header: Map<String, Value>,
    claims: Map<String, Value>,
    key: &SigningKey,
) -> Result<String, JwtError> {
    let alg = match header.get("alg") {
        None => {
            // Put `alg` first, as conventional; the rest keeps the caller's order.
            let mut h = Map::new();
            h.insert("alg".into(), Value::from(key.default_alg()));
            h.extend(header);
            header = h;
            key.default_alg().to_string()
        }
        Some(Value::Null) => {
            header.remove("alg");
            key.default_alg().to_string()
        }
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(JwtError::UnsupportedAlg(other.to_string())),
    };
    let signing_input = format!("{}.{}", b64_json(&header)?, b64_json(&claims)?);
    if alg.eq_ignore_ascii_case("none") {
        return Ok(format!("{signing_input}."));
    }
    let sig = key.sign_bytes(&alg, signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// Seconds since the Unix epoch (0 if the clock is before 1970, which only a broken host has).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Claims for a `private_key_jwt` / `client_secret_jwt` assertion (RFC 7523 §3): `iss` = `sub`
/// = client id, `aud`, `iat`, `exp` one minute later, random `jti`.
pub fn client_assertion_claims(client_id: &str, audience: &str, now: u64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("iss".into(), client_id.into());
    m.insert("sub".into(), client_id.into());
    m.insert("aud".into(), audience.into());
    m.insert("iat".into(), now.into());
    m.insert("exp".into(), now.saturating_add(60).into());
    m.insert("jti".into(), uuid::Uuid::new_v4().to_string().into());
    m
}

/// Merges `overrides` into `base`; a JSON `null` override deletes the field instead, so tests
/// can drop required members. Keys listed in `keep_null` keep their `null` (handled later).
fn merge(base: &mut Map<String, Value>, overrides: Map<String, Value>, keep_null: &[&str]) {
    for (k, v) in overrides {
        if v.is_null() && !keep_null.contains(&k.as_str()) {
            base.remove(&k);
        } else {
            base.insert(k, v);
        }
    }
}

/// p256 0.13 wants a rand_core 0.6 RNG while this crate uses rand 0.9; this adapter lets
/// p256 do its own rejection sampling from `ThreadRng` (a CSPRNG seeded from the OS).
struct CompatRng(rand::rngs::ThreadRng);

impl p256::elliptic_curve::rand_core::RngCore for CompatRng {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(
        &mut self,
        dest: &mut [u8],
    ) -> Result<(), p256::elliptic_curve::rand_core::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

impl p256::elliptic_curve::rand_core::CryptoRng for CompatRng {}

/// An ephemeral ES256 key pair for DPoP.
#[derive(Clone)]
pub struct DpopKey {
    key: p256::ecdsa::SigningKey,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DpopKey(jkt={})", self.thumbprint())
    }
}

impl DpopKey {
    /// A fresh random P-256 key.
    pub fn generate() -> Self {
        DpopKey {
            key: p256::ecdsa::SigningKey::random(&mut CompatRng(rand::rng())),
        }
    }

    /// Wraps an existing P-256 key (e.g. from [`SigningKey::from_pem`]) for reproducible proofs.
    pub fn from_key(key: p256::ecdsa::SigningKey) -> Self {
        DpopKey { key }
    }

    /// The public key as a JWK: `kty`, `crv`, `x`, `y` (never `d`).
    pub fn public_jwk(&self) -> Value {
        let point = self.key.verifying_key().to_encoded_point(false);
        // Uncompressed points always carry both coordinates; empty strings are unreachable.
        let coord = |c: Option<&p256::FieldBytes>| c.map(|b| URL_SAFE_NO_PAD.encode(b));
        serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": coord(point.x()).unwrap_or_default(),
            "y": coord(point.y()).unwrap_or_default(),
        })
    }

    /// RFC 7638 JWK SHA-256 thumbprint, base64url (the DPoP `jkt`).
    pub fn thumbprint(&self) -> String {
        jwk_thumbprint(&self.public_jwk()).unwrap_or_default()
    }

    /// A DPoP proof (RFC 9449 §4.2) for `htm` `htu` at `now`.
    ///
    /// Header `{typ: "dpop+jwt", alg: "ES256", jwk}` then `header_overrides`; claims
    /// `{jti, htm, htu, iat}` then `extra_claims` (e.g. `nonce`, `ath`). An override of JSON
    /// `null` removes the member; for `alg` it means "sign ES256 but omit the header" (see
    /// [`sign`]).
    pub fn proof(
        &self,
        htm: &str,
        htu: &str,
        extra_claims: Map<String, Value>,
        header_overrides: Map<String, Value>,
        now: u64,
    ) -> Result<String, JwtError> {
        let mut header = Map::new();
        header.insert("typ".into(), "dpop+jwt".into());
        header.insert("alg".into(), "ES256".into());
        header.insert("jwk".into(), self.public_jwk());
        merge(&mut header, header_overrides, &["alg"]);
        let mut claims = Map::new();
        claims.insert("jti".into(), uuid::Uuid::new_v4().to_string().into());
        claims.insert("htm".into(), htm.into());
        claims.insert("htu".into(), htu.into());
        claims.insert("iat".into(), now.into());
        merge(&mut claims, extra_claims, &[]);
        sign(header, claims, &SigningKey::Ec(self.key.clone()))
    }
}

/// RFC 9449 `ath`: base64url SHA-256 of the access token.
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// RFC 7638 SHA-256 thumbprint of an EC, RSA or oct JWK; `None` if required members are
/// missing or not strings.
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "oct" => &["k", "kty"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    // Members are listed in lexicographic order and serde_json escapes strings canonically,
    // so building the object in that order yields the RFC 7638 canonical form.
    let mut canon = Map::new();
    for m in members {
        canon.insert(
            (*m).to_string(),
            Value::String(jwk.get(*m)?.as_str()?.to_string()),
        );
    }
    let bytes = serde_json::to_vec(&canon).ok()?;
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(bytes)))
}

fn decode_part(part: &str) -> Option<Value> {
    // Tolerate stray padding: we are inspecting, not validating.
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.is_object().then_some(v)
}

/// Header and claims of a compact JWS, without checking the signature. `None` unless it has
/// exactly three parts whose first two are base64url JSON objects.
pub fn decode_unverified(jwt: &str) -> Option<(Value, Value)> {
    let mut parts = jwt.trim().split('.');
    let (h, c, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((decode_part(h)?, decode_part(c)?))
}

/// Whether `jwt` is a valid ES256 JWS under the public EC `jwk` (P-256). Checks the header
/// says ES256 so an `alg: none` token with a stray signature is not accepted.
pub fn verify_es256(jwt: &str, jwk: &Value) -> bool {
    let Some((header, _)) = decode_unverified(jwt) else {
        return false;
    };
    if header.get("alg").and_then(Value::as_str) != Some("ES256")
        || jwk.get("kty").and_then(Value::as_str) != Some("EC")
        || jwk.get("crv").and_then(Value::as_str) != Some("P-256")
    {
        return false;
    }
    let (Some(x), Some(y)) = (
        jwk.get("x").and_then(Value::as_str),
        jwk.get("y").and_then(Value::as_str),
    ) else {
        return false;
    };
    let Ok(key) = jsonwebtoken::DecodingKey::from_ec_components(x, y) else {
        return false;
    };
    let Some((message, signature)) = jwt.trim().rsplit_once('.') else {
        return false;
    };
    jsonwebtoken::crypto::verify(
        signature,
        message.as_bytes(),
        &key,
        jsonwebtoken::Algorithm::ES256,
    )
    .unwrap_or(false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn es256_proof_verifies_with_jsonwebtoken_decode() {
        let key = DpopKey::generate();
        let proof = key
            .proof(
                "POST",
                "https://as.example/token",
                Map::new(),
                Map::new(),
                1_700_000_000,
            )
            .unwrap();
        let (header, claims) = decode_unverified(&proof).unwrap();
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"], key.public_jwk());
        assert!(header["jwk"].get("d").is_none());
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://as.example/token");
        assert_eq!(claims["iat"], 1_700_000_000);
        assert!(uuid::Uuid::parse_str(claims["jti"].as_str().unwrap()).is_ok());

        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk()).unwrap();
        let dk = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let data = jsonwebtoken::decode::<Value>(&proof, &dk, &v).unwrap();
        assert_eq!(data.claims["htm"], "POST");
        assert!(verify_es256(&proof, &key.public_jwk()));
        // Another key must not verify it.
        assert!(!verify_es256(&proof, &DpopKey::generate().public_jwk()));
    }

    #[test]
    fn hs256_assertion_verifies_with_secret() {
        let key = SigningKey::hmac(b"a-very-secret-client-secret-32by");
        assert_eq!(key.default_alg(), "HS256");
        let claims = client_assertion_claims("client-1", "https://as.example/token", 1000);
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["exp"], 1060);
        let jwt = sign(Map::new(), claims, &key).unwrap();
        let (header, _) = decode_unverified(&jwt).unwrap();
        assert_eq!(header, json!({"alg": "HS256"}));
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.validate_exp = false;
        v.set_audience(&["https://as.example/token"]);
        let dk = jsonwebtoken::DecodingKey::from_secret(b"a-very-secret-client-secret-32by");
        let data = jsonwebtoken::decode::<Value>(&jwt, &dk, &v).unwrap();
        assert_eq!(data.claims["aud"], "https://as.example/token");
        let wrong = jsonwebtoken::DecodingKey::from_secret(b"wrong");
        assert!(jsonwebtoken::decode::<Value>(&jwt, &wrong, &v).is_err());
    }

    #[test]
    fn alg_none_has_empty_signature() {
        let key = SigningKey::hmac(b"secret");
        for none in ["none", "None"] {
            let jwt = sign(obj(json!({"alg": none})), obj(json!({"sub": "x"})), &key).unwrap();
            assert!(jwt.ends_with('.'));
            assert_eq!(jwt.split('.').count(), 3);
            let (h, c) = decode_unverified(&jwt).unwrap();
            assert_eq!(h["alg"], none);
            assert_eq!(c["sub"], "x");
        }
    }

    #[test]
    fn mismatched_or_unknown_alg_is_an_error() {
        let key = SigningKey::hmac(b"secret");
        assert!(matches!(
            sign(obj(json!({"alg": "ES256"})), Map::new(), &key),
            Err(JwtError::AlgKeyMismatch { .. })
        ));
        assert!(matches!(
            sign(obj(json!({"alg": "XX1"})), Map::new(), &key),
            Err(JwtError::UnsupportedAlg(_))
        ));
        assert!(matches!(
            sign(obj(json!({"alg": 5})), Map::new(), &key),
            Err(JwtError::UnsupportedAlg(_))
        ));
    }

    #[test]
    fn arbitrary_header_fields_survive_in_order() {
        let key = SigningKey::hmac(b"secret");
        let jwt = sign(
            obj(json!({"kid": "k1", "typ": "JWT", "x-odd": [1, {"a": null}]})),
            obj(json!({"z": 1, "a": 2})),
            &key,
        )
        .unwrap();
        let header_json = URL_SAFE_NO_PAD
            .decode(jwt.split('.').next().unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(header_json).unwrap(),
            r#"{"alg":"HS256","kid":"k1","typ":"JWT","x-odd":[1,{"a":null}]}"#
        );
        let (_, c) = decode_unverified(&jwt).unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"z":1,"a":2}"#);
    }

    #[test]
    fn null_overrides_remove_fields() {
        let key = DpopKey::generate();
        let proof = key
            .proof(
                "POST",
                "https://as.example/token",
                obj(json!({"jti": null, "nonce": "n-1", "ath": access_token_hash("at")})),
                obj(json!({"typ": null, "kid": "extra"})),
                5,
            )
            .unwrap();
        let (h, c) = decode_unverified(&proof).unwrap();
        assert!(h.get("typ").is_none());
        assert_eq!(h["kid"], "extra");
        assert!(c.get("jti").is_none());
        assert_eq!(c["nonce"], "n-1");
        assert_eq!(c["ath"], access_token_hash("at"));
        assert!(verify_es256(&proof, &key.public_jwk()));

        // `alg: null` drops the header member but still signs ES256.
        let no_alg = key
            .proof(
                "GET",
                "https://rs/",
                Map::new(),
                obj(json!({"alg": null})),
                5,
            )
            .unwrap();
        let (h, _) = decode_unverified(&no_alg).unwrap();
        assert!(h.get("alg").is_none());
        assert!(!no_alg.ends_with('.'));
        // Overriding alg to none removes the signature.
        let unsigned = key
            .proof(
                "GET",
                "https://rs/",
                Map::new(),
                obj(json!({"alg": "none"})),
                5,
            )
            .unwrap();
        assert!(unsigned.ends_with('.'));
        assert!(!verify_es256(&unsigned, &key.public_jwk()));
    }

    #[test]
    fn thumbprint_matches_independent_computations() {
        // RFC 9449 §6.1 example key and its jkt.
        let rfc_jwk = json!({
            "kty": "EC",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
            "crv": "P-256"
        });
        assert_eq!(
            jwk_thumbprint(&rfc_jwk).unwrap(),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
        // RFC 7638 §3.1 RSA example.
        let rsa = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            jwk_thumbprint(&rsa).unwrap(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        // A generated key: hash the canonical JSON by hand and compare with jsonwebtoken's own.
        let key = DpopKey::generate();
        let jwk = key.public_jwk();
        let canon = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(canon.as_bytes()));
        assert_eq!(key.thumbprint(), expected);
        let parsed: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk).unwrap();
        assert_eq!(
            parsed
                .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                .unwrap(),
            expected
        );
    }

    #[test]
    fn from_pem_detects_ec_and_rejects_junk() {
        use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
        let key = DpopKey::generate();
        let pem = key.key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let sk = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(sk.default_alg(), "ES256");
        let jwt = sign(Map::new(), obj(json!({"iss": "c"})), &sk).unwrap();
        assert!(verify_es256(&jwt, &key.public_jwk()));
        assert!(matches!(
            SigningKey::from_pem("not a pem"),
            Err(JwtError::Key(_))
        ));
        assert!(format!("{sk:?}").contains("Ec"));
    }

    #[test]
    fn decode_unverified_rejects_malformed() {
        assert!(decode_unverified("a.b").is_none());
        assert!(decode_unverified("a.b.c.d").is_none());
        assert!(decode_unverified("!!!.e30.").is_none());
        // `[]` is JSON but not an object.
        let arr = URL_SAFE_NO_PAD.encode("[]");
        assert!(decode_unverified(&format!("{arr}.{arr}.")).is_none());
        let e30 = URL_SAFE_NO_PAD.encode("{}");
        assert!(decode_unverified(&format!("{e30}.{e30}.")).is_some());
    }
}
