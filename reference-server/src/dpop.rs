//! DPoP proof validation at the token endpoint (RFC 9449 §4.3).

use crate::error::{OAuthError, OAuthErrorCode};
use crate::keys::ec_thumbprint;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Signing algorithms accepted in proofs (`dpop_signing_alg_values_supported`).
pub const SUPPORTED_ALGS: &[&str] = &["ES256"];

/// A verified proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// RFC 7638 thumbprint of the proof key: what tokens get bound to.
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: u64,
    /// The server nonce it carries, if any.
    pub nonce: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: u64,
    nonce: Option<String>,
}

/// What the proof must match.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The request method.
    pub method: &'a str,
    /// The path of the endpoint (`/token`).
    pub path: &'a str,
    /// `host[:port]` values the server answers to (the issuer's authority, the Host header).
    pub authorities: Vec<String>,
    /// Wall-clock now.
    pub now: u64,
    /// Allowed distance of `iat` from now, either side.
    pub window: u64,
    /// Skip `typ`, `alg`, private-`jwk` and signature checks (only the
    /// `dpop-proof-header-unchecked` flaw).
    pub skip_header_checks: bool,
    /// Skip the `jti`, `htm`, `htu` and `iat` checks (only the `dpop-proof-claims-unchecked` flaw).
    pub skip_claim_checks: bool,
}

fn bad(d: &str) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidDpopProof, d)
}

/// Verifies a proof's structure, signature and claims (everything except nonce and `jti` replay,
/// which need server state).
pub fn verify(proof: &str, expected: &Expected<'_>) -> Result<Proof, OAuthError> {
    let mut parts = proof.split('.');
    let (Some(h), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("DPoP proof is not a JWS"));
    };
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| bad("DPoP header is not JSON"))?;
    let lax = expected.skip_header_checks;
    if header.get("typ").and_then(|v| v.as_str()) != Some("dpop+jwt") && !lax {
        return Err(bad("typ must be dpop+jwt"));
    }
    let alg = header.get("alg").and_then(|v| v.as_str()).unwrap_or("");
    if !SUPPORTED_ALGS.contains(&alg) && !lax {
        return Err(bad("unsupported DPoP alg"));
    }
    let jwk = header
        .get("jwk")
        .and_then(|v| v.as_object())
        .ok_or_else(|| bad("DPoP header has no jwk"))?;
    if jwk.contains_key("d") && !lax {
        return Err(bad("jwk contains a private key"));
    }
    let field = |k: &str| jwk.get(k).and_then(|v| v.as_str());
    if field("kty") != Some("EC") || field("crv") != Some("P-256") {
        return Err(bad("jwk must be an EC P-256 key"));
    }
    let (Some(x), Some(y)) = (field("x"), field("y")) else {
        return Err(bad("jwk lacks x or y"));
    };
    let key = DecodingKey::from_ec_components(x, y).map_err(|_| bad("bad jwk"))?;
    let mut v = Validation::new(Algorithm::ES256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.validate_aud = false;
    let claims: serde_json::Value = if lax {
        jsonwebtoken::dangerous::insecure_decode_claims(proof)
    } else {
        jsonwebtoken::decode::<serde_json::Value>(proof, &key, &v).map(|d| d.claims)
    }
    .map_err(|_| bad("DPoP proof signature or claims invalid"))?;
    if expected.skip_claim_checks {
        let text = |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        return Ok(Proof {
            jkt: ec_thumbprint(x, y),
            jti: text("jti").unwrap_or_default(),
            iat: claims
                .get("iat")
                .and_then(|v| v.as_u64())
                .unwrap_or(expected.now),
            nonce: text("nonce"),
        });
    }
    let claims: ProofClaims = serde_json::from_value(claims)
        .map_err(|_| bad("DPoP proof signature or claims invalid"))?;
    if claims.htm != expected.method {
        return Err(bad("htm does not match the request method"));
    }
    check_htu(&claims.htu, expected)?;
    if claims.iat.abs_diff(expected.now) > expected.window {
        return Err(bad("iat outside the accepted window"));
    }
    if claims.jti.is_empty() {
        return Err(bad("empty jti"));
    }
    Ok(Proof {
        jkt: ec_thumbprint(x, y),
        jti: claims.jti,
        iat: claims.iat,
        nonce: claims.nonce,
    })
}

fn check_htu(htu: &str, expected: &Expected<'_>) -> Result<(), OAuthError> {
    // Url normalises scheme and host case and default ports (RFC 9449 §4.3 item 9 SHOULD).
    let url = url::Url::parse(htu).map_err(|_| bad("htu is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.path() != expected.path {
        return Err(bad("htu does not match the endpoint"));
    }
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let authority = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    };
    if expected
        .authorities
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&authority))
    {
        Ok(())
    } else {
        Err(bad("htu does not match the endpoint"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::keys::{DPOP_DEMO_PEM, public_coordinates};
    use jsonwebtoken::{EncodingKey, Header};

    /// Builds a proof with the demo key; `tweak` edits header and claims.
    pub fn proof(
        htu: &str,
        iat: u64,
        tweak: impl FnOnce(&mut serde_json::Value, &mut serde_json::Value),
    ) -> String {
        let (x, y) = public_coordinates(DPOP_DEMO_PEM).expect("key");
        let mut header = serde_json::json!({
            "typ": "dpop+jwt", "alg": "ES256",
            "jwk": {"kty": "EC", "crv": "P-256", "x": x, "y": y},
        });
        let mut claims = serde_json::json!({"jti": "j1", "htm": "POST", "htu": htu, "iat": iat});
        tweak(&mut header, &mut claims);
        let mut h = Header::new(Algorithm::ES256);
        h.typ = header["typ"].as_str().map(str::to_owned);
        h.jwk = serde_json::from_value(header["jwk"].clone()).ok();
        let key = EncodingKey::from_ec_pem(DPOP_DEMO_PEM.as_bytes()).expect("pem");
        let jwt = jsonwebtoken::encode(&h, &claims, &key).expect("sign");
        if header.get("jwk").and_then(|j| j.get("d")).is_some() {
            // Re-encode the header by hand to smuggle in a private member.
            let mut parts: Vec<&str> = jwt.split('.').collect();
            let raw = URL_SAFE_NO_PAD.encode(header.to_string());
            parts[0] = &raw;
            return parts.join(".");
        }
        jwt
    }

    fn expected(now: u64) -> Expected<'static> {
        Expected {
            method: "POST",
            path: "/token",
            authorities: vec!["127.0.0.1:8080".into()],
            now,
            window: 60,
            skip_header_checks: false,
            skip_claim_checks: false,
        }
    }

    #[test]
    fn accepts_a_good_proof_and_normalises_htu() {
        let p = proof("HTTP://127.0.0.1:8080/token", 1000, |_, _| {});
        let ok = verify(&p, &expected(1010)).expect("valid");
        assert_eq!(ok.jti, "j1");
        let (x, y) = public_coordinates(DPOP_DEMO_PEM).expect("key");
        assert_eq!(ok.jkt, ec_thumbprint(&x, &y));
    }

    #[test]
    fn rejects_bad_proofs() {
        let url = "http://127.0.0.1:8080/token";
        let cases = [
            proof(url, 1000, |h, _| h["typ"] = "JWT".into()),
            proof(url, 1000, |_, c| c["htm"] = "GET".into()),
            proof("http://127.0.0.1:8080/other", 1000, |_, _| {}),
            proof("http://evil.example/token", 1000, |_, _| {}),
            proof(url, 1000 + 3600, |_, _| {}),
            proof(url, 1000, |h, _| h["jwk"]["d"] = "AAAA".into()),
            "not.a.jwt".into(),
            "x".into(),
        ];
        for c in cases {
            let e = verify(&c, &expected(1000)).expect_err("must fail");
            assert_eq!(e.code, OAuthErrorCode::InvalidDpopProof);
        }
    }
}
