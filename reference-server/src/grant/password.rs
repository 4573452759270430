//! The resource owner password credentials grant (RFC 6749 §4.3): legacy, off in the rfc9700 and
//! oauth21 presets, on in `base` so a harness can bootstrap token families without a browser.

use super::{Ctx, Issued, NewGrant, issue_new, refresh_issuable, resolve_scope};
use crate::client::{Client, GrantType};
use crate::error::OAuthError;
use crate::flaw::Flaw;
use crate::store::Records;

/// A password grant request.
#[derive(Debug, Clone)]
pub struct PasswordInput {
    /// `username`.
    pub username: String,
    /// `password`.
    pub password: String,
    /// `scope`.
    pub scope: Option<String>,
    /// DPoP key thumbprint.
    pub dpop_jkt: Option<String>,
}

/// Checks the user's credentials and issues tokens.
pub fn password(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    client: &Client,
    input: &PasswordInput,
) -> Result<Issued, OAuthError> {
    // The `password-unchecked` flaw takes any password for a known user.
    let ok = if ctx.state.flaw(Flaw::PasswordUnchecked) {
        ctx.state.users.iter().any(|u| u.username == input.username)
    } else {
        ctx.state.check_user(&input.username, &input.password)
    };
    if !ok {
        return Err(OAuthError::invalid_grant(
            "invalid resource owner credentials",
        ));
    }
    let scope = resolve_scope(client, input.scope.as_deref())?;
    let with_refresh = refresh_issuable(ctx.policy(), client, GrantType::Password, &scope);
    let (issued, _) = issue_new(
        rec,
        ctx,
        NewGrant {
            client,
            subject: Some(input.username.clone()),
            scope,
            grant: GrantType::Password,
            auth_time: Some(ctx.now),
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
    use crate::error::OAuthErrorCode;
    use crate::grant::test_support::state;
    use crate::store::run;

    #[test]
    fn wrong_password_is_invalid_grant_and_right_one_issues() {
        let st = state("base", &[]);
        let c = st.clients.get("confidential-basic").expect("client");
        let now = st.clock.now();
        let mut input = PasswordInput {
            username: "alice".into(),
            password: "nope".into(),
            scope: None,
            dpop_jkt: None,
        };
        let e = run(&*st.store, |r| {
            password(r, &Ctx { state: &st, now }, &c, &input)
        })
        .expect("tx");
        assert_eq!(e.expect_err("bad").code, OAuthErrorCode::InvalidGrant);
        input.password = "alice-password".into();
        let ok = run(&*st.store, |r| {
            password(r, &Ctx { state: &st, now }, &c, &input)
        })
        .expect("tx")
        .expect("ok");
        assert!(ok.refresh_token.is_some());
        assert!(ok.id_token.is_some());
    }
}
