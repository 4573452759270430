//! Token exchange (RFC 8693): an active access or refresh token of this server is exchanged for a
//! new access token; a refresh token comes with it only when `requested_token_type` asks for one
//! and the policy allows it (§2.2.1). An unusable subject token is `invalid_request` (§2.2.2).

use super::token_type::{ACCESS_TOKEN, REFRESH_TOKEN};
use super::{
    Ctx, Issued, NewGrant, access_active, issue_new, parse_scope, refresh_active, refresh_issuable,
};
use crate::client::{Client, GrantType};
use crate::error::OAuthError;
use crate::flaw::Flaw;
use crate::store::Records;
use crate::token::TokenHash;

/// The exchange request.
#[derive(Debug, Clone)]
pub struct ExchangeInput {
    /// `subject_token`.
    pub subject_token: String,
    /// `subject_token_type`.
    pub subject_token_type: String,
    /// `requested_token_type`.
    pub requested_token_type: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// DPoP key thumbprint.
    pub dpop_jkt: Option<String>,
}

/// Exchanges the subject token.
pub fn token_exchange(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    client: &Client,
    input: &ExchangeInput,
) -> Result<Issued, OAuthError> {
    let wants_refresh = match input.requested_token_type.as_deref() {
        None | Some(ACCESS_TOKEN) => false,
        Some(REFRESH_TOKEN) => true,
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "unsupported requested_token_type",
            ));
        }
    };
    let hash = TokenHash::of(&input.subject_token).0;
    let invalid = || OAuthError::invalid_request("invalid subject_token");
    // The `token-exchange-subject-unchecked` flaw exchanges a subject token it cannot find (or
    // that is no longer active) as if it were the client's own, with the client's default scope.
    let unchecked = ctx.state.flaw(Flaw::TokenExchangeSubjectUnchecked);
    let unverified = || (None, client.default_scope.join(" "));
    let (subject, source_scope) = match input.subject_token_type.as_str() {
        ACCESS_TOKEN => match rec.access(&hash)? {
            Some(at) if access_active(rec, ctx, &at)? => (at.subject, at.scope),
            _ if unchecked => unverified(),
            _ => return Err(invalid()),
        },
        REFRESH_TOKEN => {
            let family = match rec.refresh(&hash)? {
                Some(rt) => refresh_active(rec, ctx, &rt)?,
                None => None,
            };
            match family {
                Some(f) => (f.subject, f.scope),
                None if unchecked => unverified(),
                None => return Err(invalid()),
            }
        }
        _ => {
            return Err(OAuthError::invalid_request(
                "unsupported subject_token_type",
            ));
        }
    };
    let source = parse_scope(&source_scope)?;
    let scope = match input.scope.as_deref() {
        None => source,
        Some(s) => {
            let requested = parse_scope(s)?;
            if requested.iter().any(|r| !source.contains(r)) {
                return Err(OAuthError::invalid_scope(
                    "scope exceeds the subject token's",
                ));
            }
            requested
        }
    };
    let with_refresh =
        wants_refresh && refresh_issuable(ctx.policy(), client, GrantType::TokenExchange, &scope);
    let (mut issued, _) = issue_new(
        rec,
        ctx,
        NewGrant {
            client,
            subject,
            scope,
            grant: GrantType::TokenExchange,
            auth_time: None,
            nonce: None,
            dpop_jkt: input.dpop_jkt.clone(),
            requested_scope: input.scope.clone(),
            with_refresh,
        },
    )?;
    issued.id_token = None;
    issued.issued_token_type = Some(ACCESS_TOKEN);
    Ok(issued)
}
