//! The client credentials grant (RFC 6749 §4.4): confidential clients only, never a refresh
//! token (§4.4.3), no resource owner and so no ID token.

use super::{Ctx, Issued, NewGrant, issue_new, resolve_scope};
use crate::client::{Client, GrantType};
use crate::error::OAuthError;
use crate::flaw::Flaw;
use crate::store::Records;

/// Issues an access token to the client itself.
pub fn client_credentials(
    rec: &mut Records<'_>,
    ctx: &Ctx<'_>,
    client: &Client,
    scope: Option<&str>,
    dpop_jkt: Option<String>,
) -> Result<Issued, OAuthError> {
    if client.public && !ctx.state.flaw(Flaw::PublicClientCredentials) {
        return Err(OAuthError::unauthorized_client(
            "client_credentials is for confidential clients",
        ));
    }
    let granted = resolve_scope(client, scope)?;
    let (issued, _) = issue_new(
        rec,
        ctx,
        NewGrant {
            client,
            subject: None,
            scope: granted,
            grant: GrantType::ClientCredentials,
            auth_time: None,
            nonce: None,
            dpop_jkt,
            requested_scope: scope.map(str::to_owned),
            with_refresh: false,
        },
    )?;
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grant::test_support::state;
    use crate::store::run;

    #[test]
    fn never_a_refresh_token() {
        let st = state("base", &[]);
        let c = st.clients.get("confidential-basic").expect("client");
        let now = st.clock.now();
        let ok = run(&*st.store, |r| {
            client_credentials(r, &Ctx { state: &st, now }, &c, Some("api:read"), None)
        })
        .expect("tx")
        .expect("ok");
        assert!(ok.refresh_token.is_none());
        assert!(ok.id_token.is_none());
        let p = st.clients.get("public-1").expect("client");
        let e = run(&*st.store, |r| {
            client_credentials(r, &Ctx { state: &st, now }, &p, None, None)
        })
        .expect("tx");
        assert!(e.is_err());
    }
}
