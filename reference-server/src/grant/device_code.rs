//! The device authorization grant (RFC 8628 §3.4-3.5): polling answers `authorization_pending`,
//! `slow_down` (polling faster than the interval, which then grows by 5 s), `access_denied` and
//! `expired_token` until the user approves, then tokens exactly once.

use super::{Ctx, Issued, NewGrant, issue_new, parse_scope, refresh_issuable};
use crate::client::{Client, GrantType};
use crate::error::{OAuthError, OAuthErrorCode};
use crate::flaw::Flaw;
use crate::store::{DeviceStatus, Records};
use crate::token::DeviceCode;

/// Polls a device code.
pub fn device_code(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    client: &Client,
    code: &DeviceCode,
    dpop_jkt: Option<String>,
) -> Result<Issued, OAuthError> {
    let mut d = rec
        .device(&code.hash().0)?
        .ok_or_else(|| OAuthError::invalid_grant("unknown device_code"))?;
    if d.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "device_code was issued to another client",
        ));
    }
    if ctx.now >= d.expires_at && !ctx.state.flaw(Flaw::ExpiredDeviceCodeAccepted) {
        return Err(OAuthError::new(
            OAuthErrorCode::ExpiredToken,
            "device_code expired",
        ));
    }
    match d.status.clone() {
        DeviceStatus::Pending => {
            let too_fast = d
                .last_poll
                .is_some_and(|last| ctx.now < last.saturating_add(d.interval))
                && !ctx.state.flaw(Flaw::DeviceSlowDownMissing);
            d.last_poll = Some(ctx.now);
            if too_fast {
                d.interval += 5;
                rec.put_device(&d)?;
                return Err(OAuthError::new(
                    OAuthErrorCode::SlowDown,
                    "polling too fast",
                ));
            }
            rec.put_device(&d)?;
            Err(OAuthError::new(
                OAuthErrorCode::AuthorizationPending,
                "waiting for the user",
            ))
        }
        // The `device-denial-ignored` flaw keeps a denied code pending forever.
        DeviceStatus::Denied if ctx.state.flaw(Flaw::DeviceDenialIgnored) => Err(OAuthError::new(
            OAuthErrorCode::AuthorizationPending,
            "waiting for the user",
        )),
        DeviceStatus::Denied => Err(OAuthError::new(
            OAuthErrorCode::AccessDenied,
            "the user denied the request",
        )),
        DeviceStatus::Consumed => Err(OAuthError::invalid_grant("device_code already used")),
        DeviceStatus::Approved { subject, auth_time } => {
            let scope = parse_scope(&d.scope)?;
            let with_refresh =
                refresh_issuable(ctx.policy(), client, GrantType::DeviceCode, &scope);
            let (issued, _) = issue_new(
                rec,
                ctx,
                NewGrant {
                    client,
                    subject: Some(subject),
                    scope,
                    grant: GrantType::DeviceCode,
                    auth_time: Some(auth_time),
                    nonce: None,
                    dpop_jkt,
                    requested_scope: Some(d.scope.clone()),
                    with_refresh,
                },
            )?;
            d.status = DeviceStatus::Consumed;
            rec.put_device(&d)?;
            Ok(issued)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::test_support::state;
    use crate::store::{DeviceRecord, run};

    #[test]
    fn pending_slow_down_approved_then_consumed() {
        let st = state("base", &[]);
        let c = st.clients.get("public-1").expect("client");
        let code = DeviceCode::new("dc");
        let now = st.clock.now();
        let mut d = DeviceRecord {
            hash: code.hash().0,
            user_code: "BCDF-GHJK".into(),
            client_id: c.id.clone(),
            scope: "api:read".into(),
            expires_at: now + 600,
            interval: 5,
            last_poll: None,
            status: DeviceStatus::Pending,
        };
        run(&*st.store, |r| r.put_device(&d))
            .expect("tx")
            .expect("put");
        let poll = |st: &crate::state::AppState| {
            let now = st.clock.now();
            run(&*st.store, |r| {
                device_code(r, &Ctx { state: st, now }, &c, &code, None)
            })
            .expect("tx")
        };
        assert_eq!(
            poll(&st).expect_err("p").code,
            OAuthErrorCode::AuthorizationPending
        );
        assert_eq!(poll(&st).expect_err("p").code, OAuthErrorCode::SlowDown);
        d.status = DeviceStatus::Approved {
            subject: "alice".into(),
            auth_time: now,
        };
        d.interval = 10;
        run(&*st.store, |r| r.put_device(&d))
            .expect("tx")
            .expect("put");
        assert!(poll(&st).expect("tokens").refresh_token.is_some());
        assert_eq!(
            poll(&st).expect_err("used").code,
            OAuthErrorCode::InvalidGrant
        );
        st.clock.advance(601);
        assert_eq!(
            poll(&st).expect_err("expired").code,
            OAuthErrorCode::ExpiredToken
        );
    }
}
