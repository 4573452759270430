//! The JWT bearer authorization grant (RFC 7523 §2.1, §3). The assertion is signed by a trusted
//! issuer (ES256, see `Description::trusted_issuers`) or by a demo client with its own key or
//! secret; `sub` names the test user the tokens are for.

use super::{Ctx, Issued, NewGrant, issue_new, refresh_issuable, resolve_scope};
use crate::client::{Client, GrantType};
use crate::error::OAuthError;
use crate::flaw::Flaw;
use crate::state::AppState;
use crate::store::Records;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The grant request.
#[derive(Debug, Clone)]
pub struct JwtBearerInput {
    /// The JWT.
    pub assertion: String,
    /// `scope`.
    pub scope: Option<String>,
    /// DPoP key thumbprint.
    pub dpop_jkt: Option<String>,
}

/// What a valid assertion says.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The user.
    pub subject: String,
    /// `jti` replay key and its expiry, when the assertion has one.
    pub jti: Option<(String, u64)>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    exp: u64,
    jti: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Unverified {
    iss: Option<String>,
}

/// Checks signature, issuer, audience, times and subject (RFC 7523 §3). Errors are
/// `invalid_grant` (§3.1).
pub fn verify(state: &AppState, input: &JwtBearerInput) -> Result<Verified, OAuthError> {
    let bad = |d: &str| OAuthError::invalid_grant(d);
    let header =
        jsonwebtoken::decode_header(&input.assertion).map_err(|_| bad("malformed assertion"))?;
    let iss = jsonwebtoken::dangerous::insecure_decode_claims::<Unverified>(&input.assertion)
        .map_err(|_| bad("malformed assertion"))?
        .iss
        .ok_or_else(|| bad("assertion has no iss"))?;
    let key = if let Some((_, (x, y))) = state.trusted_issuers.iter().find(|(i, _)| *i == iss) {
        if header.alg != Algorithm::ES256 {
            return Err(bad("unexpected assertion algorithm"));
        }
        DecodingKey::from_ec_components(x, y).map_err(|_| OAuthError::server_error())?
    } else if let Some(client) = state.clients.get(&iss) {
        match (header.alg, &client.public_key, &client.secret) {
            (Algorithm::ES256, Some((x, y)), _) => {
                DecodingKey::from_ec_components(x, y).map_err(|_| OAuthError::server_error())?
            }
            (Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512, _, Some(secret)) => {
                DecodingKey::from_secret(secret.secret().as_bytes())
            }
            _ => return Err(bad("issuer has no key for this algorithm")),
        }
    } else {
        return Err(bad("untrusted assertion issuer"));
    };
    let mut v = Validation::new(header.alg);
    v.leeway = 30;
    v.validate_nbf = true;
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    v.set_audience(&[state.issuer.clone(), state.token_endpoint()]);
    v.set_issuer(&[&iss]);
    let claims = match jsonwebtoken::decode::<Claims>(&input.assertion, &key, &v) {
        Ok(data) => data.claims,
        // The `jwt-bearer-signature-unchecked` flaw: a signature that does not verify is ignored
        // and the claims are read as they stand (only `exp` is still checked).
        Err(e)
            if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::InvalidSignature)
                && state.flaw(Flaw::JwtBearerSignatureUnchecked) =>
        {
            let c = jsonwebtoken::dangerous::insecure_decode_claims::<Claims>(&input.assertion)
                .map_err(|_| bad("malformed assertion"))?;
            if c.exp.saturating_add(30) < state.clock.wall() {
                return Err(bad("assertion rejected"));
            }
            c
        }
        Err(_) => return Err(bad("assertion rejected")),
    };
    if !state.is_user(&claims.sub) {
        return Err(bad("unknown subject"));
    }
    Ok(Verified {
        subject: claims.sub,
        jti: claims.jti.map(|j| {
            (
                format!("grant-assertion:{}:{j}", claims.iss),
                claims.exp.saturating_add(60),
            )
        }),
    })
}

/// Issues tokens for a verified assertion (RFC 7523 §3 item 7: `jti` single use).
pub fn jwt_bearer(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    client: &Client,
    input: &JwtBearerInput,
    verified: &Verified,
) -> Result<Issued, OAuthError> {
    if let Some((key, exp)) = &verified.jti
        && !rec.first_use_of_jti(key, ctx.state.clock.wall(), *exp)?
    {
        return Err(OAuthError::invalid_grant("assertion already used"));
    }
    let scope = resolve_scope(client, input.scope.as_deref())?;
    let with_refresh = refresh_issuable(ctx.policy(), client, GrantType::JwtBearer, &scope);
    let (issued, _) = issue_new(
        rec,
        ctx,
        NewGrant {
            client,
            subject: Some(verified.subject.clone()),
            scope,
            grant: GrantType::JwtBearer,
            auth_time: None,
            nonce: None,
            dpop_jkt: input.dpop_jkt.clone(),
            requested_scope: input.scope.clone(),
            with_refresh,
        },
    )?;
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::test_support::state;
    use crate::keys::{Signer, TRUSTED_ISSUER, TRUSTED_ISSUER_PEM};
    use crate::store::run;

    fn assertion(st: &AppState, sub: &str, jti: &str) -> String {
        let now = crate::clock::system_now();
        Signer::from_pem(TRUSTED_ISSUER_PEM)
            .expect("key")
            .sign(&serde_json::json!({
                "iss": TRUSTED_ISSUER, "sub": sub, "aud": st.token_endpoint(),
                "exp": now + 60, "iat": now, "jti": jti,
            }))
            .expect("sign")
    }

    #[test]
    fn trusted_issuer_assertion_works_once() {
        let st = state("base", &[]);
        let c = st.clients.get("confidential-basic").expect("client");
        let input = JwtBearerInput {
            assertion: assertion(&st, "alice", "a1"),
            scope: None,
            dpop_jkt: None,
        };
        let v = verify(&st, &input).expect("valid");
        let now = st.clock.now();
        run(&*st.store, |r| {
            jwt_bearer(r, &Ctx { state: &st, now }, &c, &input, &v)
        })
        .expect("tx")
        .expect("issued");
        let again = run(&*st.store, |r| {
            jwt_bearer(r, &Ctx { state: &st, now }, &c, &input, &v)
        })
        .expect("tx");
        assert!(again.is_err());
        let nobody = JwtBearerInput {
            assertion: assertion(&st, "mallory", "a2"),
            ..input
        };
        assert!(verify(&st, &nobody).is_err());
    }
}
