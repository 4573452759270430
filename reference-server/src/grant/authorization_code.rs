//! The authorization code grant (RFC 6749 §4.1.3) with PKCE (RFC 7636) and code-replay
//! revocation (RFC 6749 §4.1.2, OAuth 2.1 §4.1.3 and §7.5.2).
//!
//! Phases: find the code (bound to this client, unexpired); check `redirect_uri` and PKCE; a code
//! already used is refused and, if the replayed request is otherwise valid and the policy says
//! so, its family is revoked; otherwise mark it used and issue.

use super::{Ctx, Issued, NewGrant, issue_new, parse_scope, refresh_issuable};
use crate::client::{Client, GrantType};
use crate::error::OAuthError;
use crate::flaw::Flaw;
use crate::store::{CodeRecord, Records};
use crate::token::AuthorizationCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A code redemption.
#[derive(Debug, Clone)]
pub struct CodeInput {
    /// `code`.
    pub code: AuthorizationCode,
    /// `redirect_uri`.
    pub redirect_uri: Option<String>,
    /// `code_verifier`.
    pub code_verifier: Option<String>,
    /// DPoP key thumbprint of this request's proof.
    pub dpop_jkt: Option<String>,
}

/// RFC 7636 §4.1: 43-128 characters of `[A-Za-z0-9-._~]`.
pub fn valid_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 transform.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn check_redemption(ctx: &Ctx<'_>, code: &CodeRecord, input: &CodeInput) -> Result<(), OAuthError> {
    // RFC 6749 §4.1.3: identical redirect_uri when the authorization request carried one.
    let checked = !ctx.state.flaw(Flaw::RedirectUriUnchecked);
    if let Some(sent) = &code.redirect_uri_param {
        if checked && input.redirect_uri.as_deref() != Some(sent.as_str()) {
            return Err(OAuthError::invalid_grant("redirect_uri does not match"));
        }
    } else if let Some(given) = &input.redirect_uri
        && checked
        && *given != code.redirect_uri
    {
        return Err(OAuthError::invalid_grant("redirect_uri does not match"));
    }
    if ctx.state.flaw(Flaw::PkceUnchecked) {
        return Ok(());
    }
    match (&code.code_challenge, &input.code_verifier) {
        (Some(challenge), Some(verifier)) => {
            let computed = match code.code_challenge_method.as_deref() {
                Some("plain") => verifier.clone(),
                _ => s256(verifier),
            };
            if !valid_pkce_value(verifier) || computed != *challenge {
                return Err(OAuthError::invalid_grant("PKCE verification failed"));
            }
        }
        (Some(_), None) => return Err(OAuthError::invalid_grant("code_verifier required")),
        // PKCE downgrade (RFC 9700 §2.1.1, OAuth 2.1 §3.2.4).
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "code_verifier sent but the authorization request had no code_challenge",
            ));
        }
        (None, None) => {}
    }
    if let Some(bound) = &code.dpop_jkt
        && input.dpop_jkt.as_deref() != Some(bound.as_str())
    {
        // RFC 9449 §10: the code is bound to the dpop_jkt of the authorization request.
        return Err(OAuthError::invalid_grant(
            "DPoP proof key does not match dpop_jkt",
        ));
    }
    Ok(())
}

/// Redeems a code.
pub fn authorization_code(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    client: &Client,
    input: &CodeInput,
) -> Result<Issued, OAuthError> {
    let mut code = rec
        .code(&input.code.hash().0)?
        .ok_or_else(|| OAuthError::invalid_grant("unknown authorization code"))?;
    if code.client_id != client.id && !ctx.state.flaw(Flaw::CodeClientBindingUnchecked) {
        return Err(OAuthError::invalid_grant(
            "code was issued to another client",
        ));
    }
    if ctx.now >= code.expires_at && !ctx.state.flaw(Flaw::ExpiredCodeAccepted) {
        return Err(OAuthError::invalid_grant("authorization code expired"));
    }
    let checked = check_redemption(ctx, &code, input);
    if code.used && !ctx.state.flaw(Flaw::CodeReplayAccepted) {
        // OAuth 2.1 §7.5.2: an invalid replay (bad verifier…) must not revoke, or anyone holding
        // a leaked code could kill the legitimate session.
        if checked.is_ok()
            && ctx.policy().code_replay_revokes
            && let Some(family) = &code.family
        {
            rec.revoke_family(family, true)?;
        }
        return Err(OAuthError::invalid_grant("authorization code already used"));
    }
    checked?;
    let scope = parse_scope(&code.scope)?;
    let with_refresh = refresh_issuable(ctx.policy(), client, GrantType::AuthorizationCode, &scope);
    let (issued, family) = issue_new(
        rec,
        ctx,
        NewGrant {
            client,
            subject: Some(code.subject.clone()),
            scope,
            grant: GrantType::AuthorizationCode,
            auth_time: Some(code.auth_time),
            nonce: code.nonce.clone(),
            dpop_jkt: input.dpop_jkt.clone(),
            // The authorization request's scope is what the client asked for.
            requested_scope: Some(code.scope.clone()),
            with_refresh,
        },
    )?;
    code.used = true;
    code.family = Some(family.id);
    rec.put_code(&code)?;
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::OAuthErrorCode;
    use crate::grant::test_support::state;
    use crate::state::AppState;
    use crate::store::run;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn new_code(st: &AppState, client: &str) -> AuthorizationCode {
        let code = AuthorizationCode::new(st.tokens.token());
        let rec = CodeRecord {
            hash: code.hash().0,
            client_id: client.into(),
            redirect_uri_param: Some(crate::config::REDIRECT_URI.into()),
            redirect_uri: crate::config::REDIRECT_URI.into(),
            scope: "openid api:read".into(),
            subject: "alice".into(),
            code_challenge: Some(s256(VERIFIER)),
            code_challenge_method: Some("S256".into()),
            nonce: Some("n-0S6_WzA2Mj".into()),
            dpop_jkt: None,
            auth_time: st.clock.now(),
            expires_at: st.clock.now() + 60,
            used: false,
            family: None,
        };
        run(&*st.store, |r| r.put_code(&rec))
            .expect("tx")
            .expect("put");
        code
    }

    fn redeem(
        st: &AppState,
        client: &str,
        code: &AuthorizationCode,
        verifier: &str,
    ) -> Result<Issued, OAuthError> {
        let c = st.clients.get(client).expect("client");
        let input = CodeInput {
            code: code.clone(),
            redirect_uri: Some(crate::config::REDIRECT_URI.into()),
            code_verifier: Some(verifier.into()),
            dpop_jkt: None,
        };
        let now = st.clock.now();
        run(&*st.store, |r| {
            authorization_code(r, &Ctx { state: st, now }, &c, &input)
        })
        .expect("tx")
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            s256(VERIFIER),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn redeem_once_then_replay_revokes() {
        let st = state("rfc9700", &[]);
        let code = new_code(&st, "public-1");
        let wrong = redeem(&st, "public-1", &code, &"x".repeat(43)).expect_err("bad verifier");
        assert_eq!(wrong.code, OAuthErrorCode::InvalidGrant);
        let ok = redeem(&st, "public-1", &code, VERIFIER).expect("redeem");
        assert!(ok.id_token.is_some());
        let replay = redeem(&st, "public-1", &code, VERIFIER).expect_err("replay");
        assert_eq!(replay.code, OAuthErrorCode::InvalidGrant);
        let rt = ok.refresh_token.expect("rt");
        let hash = rt.hash().0;
        let fam = run(&*st.store, |r| {
            let rec = r.refresh(&hash).expect("get").expect("rt");
            r.family(&rec.family).expect("get").expect("family")
        })
        .expect("tx");
        assert!(fam.refresh_revoked && fam.access_revoked);
    }

    #[test]
    fn other_client_cannot_redeem() {
        let st = state("rfc9700", &[]);
        let code = new_code(&st, "public-1");
        let e = redeem(&st, "public-2", &code, VERIFIER).expect_err("other client");
        assert_eq!(e.code, OAuthErrorCode::InvalidGrant);
    }
}
