//! The refresh-token grant (RFC 6749 §6), with rotation, reuse detection, grace, lifetimes and
//! scope rules taken from the policy.
//!
//! Phases:
//! 1. find the token and its family (`invalid_grant` if unknown);
//! 2. check the client binding (RFC 6749 §10.4, OAuth 2.1 §4.3.1);
//! 3. check the family and the token are alive: revoked, absolute and idle expiry;
//! 4. a superseded token is either inside the grace window or a replay, which revokes per
//!    `policy.reuse` (RFC 9700 §4.14.2);
//! 5. check the DPoP binding (RFC 9449 §5);
//! 6. resolve the scope (omitted = granted, narrower = narrower access token, broader = error or
//!    dropped);
//! 7. apply: rotate (or slide the idle window), issue the access token and the ID token.
//!
//! Phases 1-6 only read ([`plan`]); phase 7 writes ([`apply`]). Normally both run in one
//! transaction; the `non-atomic-rotation` flaw runs them in two with a pause in between.

use super::{Ctx, IdToken, Issued, id_token, mint_access, parse_scope, token_value};
use crate::client::{Client, GrantType};
use crate::error::{ChallengeKind, OAuthError, OAuthErrorCode};
use crate::flaw::Flaw;
use crate::policy::{ReuseResponse, ScopeEscalation, UnrotatedRefreshToken};
use crate::store::{Family, Records, RefreshRecord, RefreshState};
use crate::token::RefreshToken;
use axum::http::StatusCode;
use std::sync::Arc;

/// How the caller identified itself.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An authenticated client.
    Authenticated(Arc<Client>),
    /// A public client named by `client_id`.
    Public(Arc<Client>),
    /// No client information: acceptable only for a public client's token.
    Anonymous,
}

/// A refresh request.
#[derive(Debug, Clone)]
pub struct RefreshInput {
    /// The presented token.
    pub token: RefreshToken,
    /// The requested scope, if any.
    pub scope: Option<String>,
    /// Who is asking.
    pub caller: Caller,
    /// Thumbprint of this request's valid DPoP proof.
    pub dpop_jkt: Option<String>,
}

/// What [`apply`] will do.
#[derive(Debug, Clone)]
pub struct Plan {
    record: RefreshRecord,
    family: Family,
    client: Arc<Client>,
    access_scope: Vec<String>,
    requested_scope: Option<String>,
    narrowed_family_scope: Option<String>,
    grace_use: bool,
    dpop_jkt: Option<String>,
    presented: RefreshToken,
}

/// A refusal, with the revocation it triggers (committed in the same transaction).
#[derive(Debug, Clone)]
pub struct Rejection {
    /// The error to send.
    pub error: OAuthError,
    /// `(family, also_access_tokens)` to revoke.
    pub revoke: Option<(String, bool)>,
}

impl From<crate::store::StoreError> for Rejection {
    fn from(e: crate::store::StoreError) -> Self {
        OAuthError::from(e).into()
    }
}

impl From<OAuthError> for Rejection {
    fn from(error: OAuthError) -> Self {
        Self {
            error,
            revoke: None,
        }
    }
}

/// `invalid_grant` for a dead token, or `invalid_request` under the `wrong-error-code` flaw.
fn dead(ctx: &Ctx<'_>, description: &str) -> OAuthError {
    if ctx.state.flaw(Flaw::WrongErrorCode) {
        OAuthError::invalid_request(description)
    } else if ctx.state.flaw(Flaw::InvalidGrant401) {
        OAuthError::invalid_grant(description).with_status(StatusCode::UNAUTHORIZED)
    } else {
        OAuthError::invalid_grant(description)
    }
}

/// `invalid_grant` for a token the server does not know; under the `invalid-token-wrong-status`
/// flaw 401 `invalid_token`, under `error-description-echoes-input` with the input echoed raw.
fn unknown_token(ctx: &Ctx<'_>, input: &RefreshInput) -> OAuthError {
    let mut e = if ctx.state.flaw(Flaw::InvalidTokenWrongStatus) {
        OAuthError::new(
            OAuthErrorCode::Extension("invalid_token".into()),
            "unknown refresh token",
        )
        .with_status(StatusCode::UNAUTHORIZED)
    } else {
        OAuthError::invalid_grant("unknown refresh token")
    };
    if ctx.state.flaw(Flaw::RefreshTokenEchoedInError) {
        e.description = Some(format!("unknown refresh token {}", input.token.secret()));
    }
    if ctx.state.flaw(Flaw::ErrorDescriptionEchoesInput) {
        e.description = Some(format!(
            "unknown refresh token \"{}\" (scope \"{}\")",
            input.token.secret(),
            input.scope.as_deref().unwrap_or("")
        ));
        e.verbatim = true;
    }
    e
}

/// Phases 1-6: decides, reading only.
pub fn plan(rec: &mut Records<'_>, ctx: &Ctx<'_>, input: &RefreshInput) -> Result<Plan, Rejection> {
    let (record, family) = look_up(rec, ctx, input)?;
    let client = bind_client(ctx, &input.caller, &record)?;
    check_alive(ctx, &record, &family)?;
    let grace_use = check_succession(rec, ctx, &record, &family)?;
    check_dpop_binding(ctx, &family, input.dpop_jkt.as_deref())?;
    let (access_scope, narrowed_family_scope) =
        resolve_scope(ctx, &client, &family, input.scope.as_deref())?;
    Ok(Plan {
        record,
        family,
        client,
        access_scope,
        requested_scope: input.scope.clone(),
        narrowed_family_scope,
        grace_use,
        dpop_jkt: input.dpop_jkt.clone(),
        presented: input.token.clone(),
    })
}

/// Phase 1: the presented token and its family.
fn look_up(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    input: &RefreshInput,
) -> Result<(RefreshRecord, Family), Rejection> {
    let hash = input.token.hash();
    let record = rec
        .refresh(&hash.0)?
        .ok_or_else(|| unknown_token(ctx, input))?;
    let family = rec
        .family(&record.family)?
        .ok_or_else(|| unknown_token(ctx, input))?;
    Ok((record, family))
}

/// Phase 2: the caller is the client the token was issued to (RFC 6749 §10.4, OAuth 2.1 §4.3.1).
fn bind_client(
    ctx: &Ctx<'_>,
    caller: &Caller,
    record: &RefreshRecord,
) -> Result<Arc<Client>, Rejection> {
    match caller {
        // The `cross-client-refresh` flaw skips the binding for authenticated clients,
        // `public-client-id-unchecked` for public ones.
        Caller::Authenticated(c) => owner_or(ctx, c, record, Flaw::CrossClientRefresh),
        Caller::Public(c) => owner_or(ctx, c, record, Flaw::PublicClientIdUnchecked),
        Caller::Anonymous => anonymous_owner(ctx, record),
    }
}

/// `client` when it owns the token, or when `waiver` is on.
fn owner_or(
    ctx: &Ctx<'_>,
    client: &Arc<Client>,
    record: &RefreshRecord,
    waiver: Flaw,
) -> Result<Arc<Client>, Rejection> {
    if client.id != record.client_id && !ctx.state.flaw(waiver) {
        return Err(OAuthError::invalid_grant("refresh token was issued to another client").into());
    }
    Ok(client.clone())
}

/// A caller without client information: only a public client's token may be refreshed so,
/// and only where the policy does not require `client_id`.
fn anonymous_owner(ctx: &Ctx<'_>, record: &RefreshRecord) -> Result<Arc<Client>, Rejection> {
    let owner = ctx
        .state
        .clients
        .get(&record.client_id)
        .ok_or_else(|| OAuthError::invalid_grant("unknown client"))?;
    if !owner.public && !ctx.state.flaw(Flaw::AnonymousRefreshAccepted) {
        return Err(OAuthError::invalid_client(
            "no client authentication included",
            ChallengeKind::Other,
        )
        .into());
    }
    if ctx.policy().clients.public_requires_client_id {
        return Err(OAuthError::invalid_request("client_id is required").into());
    }
    if !owner.allows(GrantType::RefreshToken) {
        return Err(OAuthError::unauthorized_client("refresh_token grant not allowed").into());
    }
    Ok(owner)
}

/// Phase 3: neither the family nor the token is revoked, and the token is within its absolute
/// and idle lifetimes (the `expired-token-accepted` flaw skips the lifetimes).
fn check_alive(ctx: &Ctx<'_>, record: &RefreshRecord, family: &Family) -> Result<(), Rejection> {
    if family.refresh_revoked || record.state == RefreshState::Revoked {
        return Err(dead(ctx, "refresh token revoked").into());
    }
    if ctx.state.flaw(Flaw::ExpiredTokenAccepted) {
        return Ok(());
    }
    let now = ctx.now;
    let absolute_over = record.absolute_expires_at.is_some_and(|t| now >= t);
    let idle_over = ctx
        .policy()
        .lifetimes
        .refresh_idle
        .is_some_and(|idle| now >= record.last_used_at.saturating_add(idle));
    if absolute_over || idle_over {
        return Err(dead(ctx, "refresh token expired").into());
    }
    Ok(())
}

/// Phase 4: a superseded token is a grace-window retry (`Ok(true)`) or a replay, refused with the
/// revocation `policy.reuse` asks for (RFC 9700 §4.14.2). `Ok(false)`: the current token.
fn check_succession(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    record: &RefreshRecord,
    family: &Family,
) -> Result<bool, Rejection> {
    let RefreshState::Superseded { at, successor } = &record.state else {
        return Ok(false);
    };
    if ctx.state.flaw(Flaw::SupersededTokenAccepted) {
        // Treated as current.
        return Ok(false);
    }
    if ctx.state.flaw(Flaw::UnboundedGrace) || in_grace(rec, ctx, record, *at, successor)? {
        return Ok(true);
    }
    Err(Rejection {
        error: dead(ctx, "refresh token was already used"),
        revoke: reuse_revocation(ctx, family),
    })
}

/// Grace covers only the immediate predecessor of a successor that was never used, a bounded
/// number of times (anything wider weakens replay detection). The `grace-ignored`
/// flaw treats every superseded token as outside the window.
fn in_grace(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    record: &RefreshRecord,
    superseded_at: u64,
    successor: &str,
) -> Result<bool, Rejection> {
    let grace = &ctx.policy().grace;
    let in_window = grace.seconds > 0
        && ctx.now < superseded_at.saturating_add(grace.seconds)
        && !ctx.state.flaw(Flaw::GraceIgnored);
    if !in_window || record.grace_uses >= grace.max_reuses {
        return Ok(false);
    }
    Ok(rec
        .refresh(successor)?
        .is_some_and(|s| s.state == RefreshState::Active))
}

/// What a detected replay revokes: `(family, also_access_tokens)`, or nothing under
/// `reuse: reject_only` or the `no-family-revocation` flaw.
fn reuse_revocation(ctx: &Ctx<'_>, family: &Family) -> Option<(String, bool)> {
    if ctx.state.flaw(Flaw::NoFamilyRevocation) {
        return None;
    }
    match ctx.policy().reuse {
        ReuseResponse::RejectOnly => None,
        ReuseResponse::RevokeFamily => Some((family.id.clone(), false)),
        ReuseResponse::RevokeFamilyAndAccessTokens => Some((family.id.clone(), true)),
    }
}

/// Phase 5: a DPoP-bound family needs a proof by the same key (RFC 9449 §5); the
/// `dpop-binding-unchecked` flaw skips this.
fn check_dpop_binding(
    ctx: &Ctx<'_>,
    family: &Family,
    proof_jkt: Option<&str>,
) -> Result<(), Rejection> {
    let Some(bound) = &family.dpop_jkt else {
        return Ok(());
    };
    if ctx.state.flaw(Flaw::DpopBindingUnchecked) {
        return Ok(());
    }
    match proof_jkt {
        None => Err(
            OAuthError::invalid_dpop_proof("refresh token is DPoP-bound: proof required").into(),
        ),
        Some(j) if j != bound => {
            Err(OAuthError::invalid_dpop_proof("proof key does not match the refresh token").into())
        }
        Some(_) => Ok(()),
    }
}

/// Phase 6: the access token's scope, and the family's new scope when the
/// `narrowed-refresh-token` flaw narrows the grant itself. Omitted = granted (RFC 6749 §6),
/// narrower = a narrower access token, broader = refused or dropped per `policy.scope.escalation`.
fn resolve_scope(
    ctx: &Ctx<'_>,
    client: &Client,
    family: &Family,
    requested: Option<&str>,
) -> Result<(Vec<String>, Option<String>), Rejection> {
    let granted: Vec<String> = family
        .scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    let Some(raw) = requested else {
        // The `refresh-scope-reset-to-default` flaw forgets the grant and uses the default.
        if ctx.state.flaw(Flaw::RefreshScopeResetToDefault) {
            return Ok((client.default_scope.clone(), None));
        }
        return Ok((granted, None));
    };
    let requested = parse_requested(ctx, raw)?;
    // The `scope-compared-as-string` flaw checks the request as a substring of the grant.
    if ctx.state.flaw(Flaw::ScopeComparedAsString) && !family.scope.contains(&requested.join(" ")) {
        return Err(beyond_grant());
    }
    // The `empty-parameter-not-omitted` flaw treats `scope=` as a request for nothing.
    if requested.is_empty() && !ctx.state.flaw(Flaw::EmptyParameterNotOmitted) {
        return Ok((granted, None));
    }
    if requested.iter().all(|r| granted.contains(r)) {
        return Ok(narrowed(ctx, requested, granted));
    }
    escalated(ctx, requested, &granted).map(|s| (s, None))
}

/// The `scope` parameter's words; the `malformed-scope-accepted` flaw drops malformed words
/// instead of refusing them.
fn parse_requested(ctx: &Ctx<'_>, raw: &str) -> Result<Vec<String>, Rejection> {
    if ctx.state.flaw(Flaw::MalformedScopeAccepted) {
        let words: Vec<&str> = raw.split(' ').filter(|w| parse_scope(w).is_ok()).collect();
        return Ok(parse_scope(&words.join(" "))?);
    }
    Ok(parse_scope(raw)?)
}

/// A request within the grant: narrower access where the policy allows narrowing.
fn narrowed(
    ctx: &Ctx<'_>,
    requested: Vec<String>,
    granted: Vec<String>,
) -> (Vec<String>, Option<String>) {
    if !ctx.policy().scope.narrowing {
        return (granted, None);
    }
    let family_scope = ctx
        .state
        .flaw(Flaw::NarrowedRefreshToken)
        .then(|| requested.join(" "));
    (requested, family_scope)
}

/// A request beyond the grant: refused, or the extra words dropped, per policy (the
/// `scope-escalation` flaw grants it).
fn escalated(
    ctx: &Ctx<'_>,
    requested: Vec<String>,
    granted: &[String],
) -> Result<Vec<String>, Rejection> {
    if ctx.state.flaw(Flaw::ScopeEscalation) {
        return Ok(requested);
    }
    match ctx.policy().scope.escalation {
        ScopeEscalation::Reject => Err(beyond_grant()),
        ScopeEscalation::Drop => {
            let kept: Vec<String> = requested
                .into_iter()
                .filter(|r| granted.contains(r))
                .collect();
            if kept.is_empty() {
                return Err(beyond_grant());
            }
            Ok(kept)
        }
    }
}

fn beyond_grant() -> Rejection {
    OAuthError::invalid_scope("scope exceeds the original grant").into()
}

/// Commits a rejection's side effects.
pub fn reject(rec: &mut Records<'_>, rejection: &Rejection) -> Result<(), OAuthError> {
    if let Some((family, access)) = &rejection.revoke {
        rec.revoke_family(family, *access)?;
    }
    Ok(())
}

/// Phase 7: writes and issues.
pub fn apply(rec: &mut Records<'_>, ctx: &Ctx<'_>, plan: Plan) -> Result<Issued, OAuthError> {
    let Plan {
        record,
        mut family,
        client,
        access_scope,
        requested_scope,
        narrowed_family_scope,
        grace_use,
        dpop_jkt,
        presented,
    } = plan;
    // The `rotation-despite-never` flaw rotates even where the policy says it must not.
    let rotates =
        ctx.policy().rotates_for(client.public) || ctx.state.flaw(Flaw::RotationDespiteNever);
    let refresh_token = if rotates {
        Some(rotate(rec, ctx, record, grace_use)?)
    } else {
        slide(rec, ctx, record)?;
        // RFC 6749 §5.1/§6: `refresh_token` is optional; without it the client keeps the token.
        (ctx.policy().unrotated_refresh_token == UnrotatedRefreshToken::Same).then_some(presented)
    };
    if let Some(scope) = narrowed_family_scope {
        family.scope = scope;
    }
    revoke_previous_access(rec, ctx, &family)?;
    // The `dpop-access-token-unbound` flaw issues a Bearer token despite the proof.
    let access_jkt = dpop_jkt.filter(|_| !ctx.state.flaw(Flaw::DpopAccessTokenUnbound));
    let access_token = mint_access(rec, ctx, &mut family, &access_scope, access_jkt.clone())?;
    rec.put_family(&family)?;
    let id_token = refreshed_id_token(ctx, &family, &access_scope);
    let scope = access_scope.join(" ");
    let always_echo = ctx.policy().scope.always_echo && !ctx.state.flaw(Flaw::ScopeNotEchoed);
    let echo_scope = always_echo || requested_scope.as_deref().is_some_and(|r| r != scope);
    Ok(Issued {
        access_token,
        dpop_bound: access_jkt.is_some(),
        expires_in: ctx.policy().lifetimes.access_token,
        refresh_token,
        scope,
        echo_scope,
        id_token,
        issued_token_type: None,
    })
}

/// Rotation: a successor inherits the family and (unless the policy or the
/// `absolute-lifetime-reset` flaw resets it) the absolute deadline; the presented token becomes
/// superseded by it.
fn rotate(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    mut record: RefreshRecord,
    grace_use: bool,
) -> Result<RefreshToken, OAuthError> {
    let lifetimes = &ctx.policy().lifetimes;
    let now = ctx.now;
    let rt = RefreshToken::new(token_value(ctx));
    let reset = lifetimes.rotation_resets_absolute || ctx.state.flaw(Flaw::AbsoluteLifetimeReset);
    let successor = RefreshRecord {
        hash: rt.hash().0,
        family: record.family.clone(),
        client_id: record.client_id.clone(),
        state: RefreshState::Active,
        issued_at: now,
        last_used_at: now,
        absolute_expires_at: if reset {
            lifetimes.refresh_absolute.map(|a| now.saturating_add(a))
        } else {
            record.absolute_expires_at
        },
        grace_uses: 0,
    };
    rec.put_refresh(&successor)?;
    match &record.state {
        RefreshState::Superseded {
            at,
            successor: lost,
        } if grace_use => {
            supersede_lost_successor(rec, now, lost, &successor.hash)?;
            record.state = RefreshState::Superseded {
                at: *at,
                successor: successor.hash.clone(),
            };
            record.grace_uses += 1;
        }
        _ => {
            record.state = RefreshState::Superseded {
                at: now,
                successor: successor.hash.clone(),
            };
        }
    }
    rec.put_refresh(&record)?;
    Ok(rt)
}

/// A retry inside the grace window: the successor it replaces was never used, so it becomes
/// superseded too (keeping one live token per family).
fn supersede_lost_successor(
    rec: &mut Records<'_>,
    now: u64,
    lost: &str,
    replacement: &str,
) -> Result<(), OAuthError> {
    if let Some(mut prev) = rec.refresh(lost)?
        && prev.state == RefreshState::Active
    {
        prev.state = RefreshState::Superseded {
            at: now,
            successor: replacement.to_owned(),
        };
        rec.put_refresh(&prev)?;
    }
    Ok(())
}

/// No rotation: the same token, its idle window slid forward.
fn slide(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    mut record: RefreshRecord,
) -> Result<(), OAuthError> {
    record.last_used_at = ctx.now;
    rec.put_refresh(&record)?;
    Ok(())
}

/// Where the policy says so, the family's previous access token dies with this refresh.
fn revoke_previous_access(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    family: &Family,
) -> Result<(), OAuthError> {
    if ctx.policy().previous_access_token_revoked_on_refresh
        && let Some(prev) = &family.current_access
        && let Some(mut at) = rec.access(prev)?
    {
        at.revoked = true;
        rec.put_access(&at)?;
    }
    Ok(())
}

/// An ID token on refresh when the policy issues one and the scope has `openid` (OIDC Core
/// §12.2).
fn refreshed_id_token(ctx: &Ctx<'_>, family: &Family, access_scope: &[String]) -> Option<IdToken> {
    if ctx.policy().oidc.id_token_on_refresh && access_scope.iter().any(|s| s == "openid") {
        id_token(ctx, family, None)
    } else {
        None
    }
}

/// Plan and apply in the caller's transaction.
pub fn refresh(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    input: &RefreshInput,
) -> Result<Issued, OAuthError> {
    match plan(rec, ctx, input) {
        Ok(p) => apply(rec, ctx, p),
        Err(r) => {
            reject(rec, &r)?;
            Err(r.error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::OAuthErrorCode;
    use crate::grant::test_support::state;
    use crate::grant::{NewGrant, issue_new};
    use crate::state::AppState;
    use crate::store::run;

    fn start(st: &AppState, client: &str, scope: &str) -> RefreshToken {
        let c = st.clients.get(client).expect("client");
        let now = st.clock.now();
        run(&*st.store, |r| {
            let ctx = Ctx { state: st, now };
            issue_new(
                r,
                &ctx,
                NewGrant {
                    client: &c,
                    subject: Some("alice".into()),
                    scope: parse_scope(scope).expect("scope"),
                    grant: GrantType::Password,
                    auth_time: Some(now),
                    nonce: None,
                    dpop_jkt: None,
                    requested_scope: None,
                    with_refresh: true,
                },
            )
        })
        .expect("tx")
        .expect("issue")
        .0
        .refresh_token
        .expect("rt")
    }

    fn refresh_as(
        st: &AppState,
        client: &str,
        rt: &RefreshToken,
        scope: Option<&str>,
    ) -> Result<Issued, OAuthError> {
        let c = st.clients.get(client).expect("client");
        let caller = if c.public {
            Caller::Public(c)
        } else {
            Caller::Authenticated(c)
        };
        let input = RefreshInput {
            token: rt.clone(),
            scope: scope.map(str::to_owned),
            caller,
            dpop_jkt: None,
        };
        let now = st.clock.now();
        run(&*st.store, |r| refresh(r, &Ctx { state: st, now }, &input)).expect("tx")
    }

    #[test]
    fn rotation_supersedes_and_reuse_revokes_the_family() {
        let st = state("rfc9700", &[]);
        let rt1 = start(&st, "confidential-basic", "openid api:read");
        let rt2 = refresh_as(&st, "confidential-basic", &rt1, None)
            .expect("ok")
            .refresh_token
            .expect("rt2");
        assert_ne!(rt1, rt2);
        let e = refresh_as(&st, "confidential-basic", &rt1, None).expect_err("replay");
        assert_eq!(e.code, OAuthErrorCode::InvalidGrant);
        let e = refresh_as(&st, "confidential-basic", &rt2, None).expect_err("family revoked");
        assert_eq!(e.code, OAuthErrorCode::InvalidGrant);
    }

    #[test]
    fn no_rotation_returns_the_same_token() {
        let st = state("rfc6749", &[]);
        let rt1 = start(&st, "confidential-basic", "api:read");
        let again = refresh_as(&st, "confidential-basic", &rt1, None)
            .expect("ok")
            .refresh_token
            .expect("rt");
        assert_eq!(rt1, again);
        refresh_as(&st, "confidential-basic", &rt1, None).expect("still ok");
    }

    #[test]
    fn no_rotation_may_omit_the_refresh_token_and_keep_it_valid() {
        let mut st = state("rfc6749", &[]);
        st.policy.unrotated_refresh_token = UnrotatedRefreshToken::Omitted;
        let rt1 = start(&st, "confidential-basic", "api:read");
        let issued = refresh_as(&st, "confidential-basic", &rt1, None).expect("ok");
        assert!(
            issued.refresh_token.is_none(),
            "an unrotated refresh omits it"
        );
        refresh_as(&st, "confidential-basic", &rt1, None).expect("the old one still works");
        // A rotating refresh always returns its successor.
        let mut rotating = state("rfc9700", &[]);
        rotating.policy.unrotated_refresh_token = UnrotatedRefreshToken::Omitted;
        let rt = start(&rotating, "confidential-basic", "api:read");
        let issued = refresh_as(&rotating, "confidential-basic", &rt, None).expect("ok");
        assert!(issued.refresh_token.is_some_and(|n| n != rt));
    }

    #[test]
    fn cross_client_is_invalid_grant_unless_flawed() {
        let st = state("rfc9700", &[]);
        let rt = start(&st, "confidential-basic", "api:read");
        let e = refresh_as(&st, "confidential-basic-2", &rt, None).expect_err("other client");
        assert_eq!(e.code, OAuthErrorCode::InvalidGrant);
        refresh_as(&st, "confidential-basic", &rt, None).expect("owner still fine");
        let flawed = state("rfc9700", &[Flaw::CrossClientRefresh]);
        let rt = start(&flawed, "confidential-basic", "api:read");
        refresh_as(&flawed, "confidential-basic-2", &rt, None).expect("flaw lets it through");
    }

    #[test]
    fn scope_narrowing_keeps_the_grant_and_escalation_is_rejected() {
        let st = state("rfc9700", &[]);
        let rt = start(&st, "confidential-basic", "api:read api:write");
        let narrow = refresh_as(&st, "confidential-basic", &rt, Some("api:read")).expect("narrow");
        assert_eq!(narrow.scope, "api:read");
        let rt2 = narrow.refresh_token.expect("rt");
        let full = refresh_as(&st, "confidential-basic", &rt2, None).expect("full");
        assert_eq!(full.scope, "api:read api:write");
        let rt3 = full.refresh_token.expect("rt");
        let e = refresh_as(&st, "confidential-basic", &rt3, Some("api:read email"))
            .expect_err("escalation");
        assert_eq!(e.code, OAuthErrorCode::InvalidScope);
    }

    #[test]
    fn idle_and_absolute_expiry_use_the_virtual_clock() {
        let st = state("rfc9700", &[]);
        let rt = start(&st, "confidential-basic", "api:read");
        st.clock.advance(14 * 86_400 + 1);
        let e = refresh_as(&st, "confidential-basic", &rt, None).expect_err("idle expired");
        assert_eq!(e.code, OAuthErrorCode::InvalidGrant);
        let flawed = state("rfc9700", &[Flaw::ExpiredTokenAccepted]);
        let rt = start(&flawed, "confidential-basic", "api:read");
        flawed.clock.advance(100 * 86_400);
        refresh_as(&flawed, "confidential-basic", &rt, None).expect("flaw accepts expired");
    }

    #[test]
    fn absolute_lifetime_survives_rotation() {
        let st = state("rfc9700", &[]);
        let mut rt = start(&st, "confidential-basic", "api:read");
        // Refresh every 10 days: never idle, but the 90-day absolute limit still ends it.
        for _ in 0..8 {
            st.clock.advance(10 * 86_400);
            rt = refresh_as(&st, "confidential-basic", &rt, None)
                .expect("ok")
                .refresh_token
                .expect("rt");
        }
        st.clock.advance(10 * 86_400 + 1);
        refresh_as(&st, "confidential-basic", &rt, None).expect_err("absolute expiry");
    }

    #[test]
    fn grace_allows_a_bounded_retry() {
        let mut st = state("rfc9700", &[]);
        st.policy.grace.seconds = 10;
        st.policy.grace.max_reuses = 1;
        let rt1 = start(&st, "confidential-basic", "api:read");
        let _lost = refresh_as(&st, "confidential-basic", &rt1, None).expect("first");
        let retry = refresh_as(&st, "confidential-basic", &rt1, None).expect("grace retry");
        let e = refresh_as(&st, "confidential-basic", &rt1, None).expect_err("second retry");
        assert_eq!(e.code, OAuthErrorCode::InvalidGrant);
        // The replay outside grace revoked the family (rfc9700 = revoke_family).
        refresh_as(
            &st,
            "confidential-basic",
            &retry.refresh_token.expect("rt"),
            None,
        )
        .expect_err("revoked");
    }

    #[test]
    fn public_clients_may_omit_client_id_unless_policy_requires() {
        let st = state("rfc9700", &[]);
        let rt = start(&st, "public-1", "api:read");
        let input = RefreshInput {
            token: rt,
            scope: None,
            caller: Caller::Anonymous,
            dpop_jkt: None,
        };
        let now = st.clock.now();
        run(&*st.store, |r| refresh(r, &Ctx { state: &st, now }, &input))
            .expect("tx")
            .expect("ok");
        let e = refresh_as(&st, "public-2", &start(&st, "public-1", "api:read"), None)
            .expect_err("other public");
        assert_eq!(e.code, OAuthErrorCode::InvalidGrant);
    }

    /// Random operation sequences keep the family invariants: at most one active refresh token,
    /// nothing active after reuse detection (unless the policy only rejects), a stable token
    /// without rotation. A seeded generator keeps failures reproducible.
    #[test]
    fn random_sequences_keep_family_invariants() {
        use rand::{Rng, SeedableRng};
        for preset in ["rfc9700", "rfc6749", "wso2", "oauth21"] {
            for seed in 0..25u64 {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let mut st = state(preset, &[]);
                if seed % 2 == 1 {
                    st.policy.grace.seconds = 5;
                    st.policy.grace.max_reuses = 1;
                }
                let first = start(&st, "confidential-basic", "api:read");
                let family = run(&*st.store, |r| {
                    r.refresh(&first.hash().0).expect("get").expect("rt").family
                })
                .expect("tx");
                let mut seen = vec![first.clone()];
                let mut current = first;
                let mut reuse_detected = false;
                for _ in 0..30 {
                    match rng.random_range(0..4) {
                        0 | 1 => {
                            if let Ok(i) = refresh_as(&st, "confidential-basic", &current, None) {
                                let next = i.refresh_token.expect("rt");
                                if !st.policy.rotates_for(false) {
                                    assert_eq!(next, current, "rotation off must keep the token");
                                }
                                seen.push(next.clone());
                                current = next;
                            }
                        }
                        2 => {
                            let old = seen[rng.random_range(0..seen.len())].clone();
                            if refresh_as(&st, "confidential-basic", &old, None).is_err()
                                && old != current
                            {
                                reuse_detected = true;
                            }
                        }
                        _ => {
                            st.clock.advance(rng.random_range(0..4));
                        }
                    }
                    let (fam, tokens) = run(&*st.store, |r| {
                        (
                            r.family(&family).expect("get").expect("family"),
                            r.family_refresh_tokens(&family).expect("list"),
                        )
                    })
                    .expect("tx");
                    let active = tokens
                        .iter()
                        .filter(|t| t.state == RefreshState::Active)
                        .count();
                    assert!(active <= 1, "{preset}/{seed}: {active} active tokens");
                    if reuse_detected && st.policy.reuse != ReuseResponse::RejectOnly {
                        assert!(fam.refresh_revoked, "{preset}/{seed}: reuse did not revoke");
                    }
                }
            }
        }
    }
}
