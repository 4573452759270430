//! The per-grant step of `POST /token`: one handler per grant type, in [`HANDLERS`]. A handler
//! takes the authenticated caller and the form, checks what it needs outside the store, and
//! returns the grant's transaction.

use super::permitted;
use crate::client::{Client, GrantType};
use crate::client_auth::ClientIdentity;
use crate::dpop::Proof;
use crate::error::{ChallengeKind, OAuthError};
use crate::flaw::Flaw;
use crate::grant::authorization_code::{CodeInput, authorization_code};
use crate::grant::client_credentials::client_credentials;
use crate::grant::device_code::device_code;
use crate::grant::jwt_bearer::{self, JwtBearerInput};
use crate::grant::password::{PasswordInput, password};
use crate::grant::refresh_token::{self, Caller, RefreshInput};
use crate::grant::token_exchange::{ExchangeInput, token_exchange};
use crate::grant::{Ctx, Issued};
use crate::request::Params;
use crate::state::AppState;
use crate::store::Records;
use crate::token::{AuthorizationCode, DeviceCode, RefreshToken};
use std::sync::Arc;

/// What a handler gets: a grant type the policy enables, the form, the caller, its DPoP proof.
pub struct GrantRequest<'a> {
    /// Server state.
    pub state: &'a AppState,
    /// The requested grant type.
    pub grant: GrantType,
    /// The form parameters.
    pub params: &'a Params,
    /// Who is calling.
    pub identity: ClientIdentity,
    /// The request's valid DPoP proof, if any.
    pub proof: Option<Proof>,
}

impl GrantRequest<'_> {
    /// The proof key's thumbprint.
    fn jkt(&self) -> Option<String> {
        self.proof.as_ref().map(|p| p.jkt.clone())
    }

    /// The authenticated or public client, registered for this grant.
    fn client(&self) -> Result<Arc<Client>, OAuthError> {
        let client = self.identity.clone().require(self.state)?;
        permitted(&client, self.grant, self.proof.as_ref())?;
        Ok(client)
    }

    fn owned(&self, name: &str) -> Option<String> {
        self.params.get(name).map(str::to_owned)
    }
}

/// A grant's store transaction.
pub type Transaction =
    Box<dyn FnOnce(&mut Records<'_>, &Ctx<'_>) -> Result<Issued, OAuthError> + Send>;

/// What the endpoint runs after the handler.
pub enum Work {
    /// One transaction.
    Transaction(Transaction),
    /// The `non-atomic-rotation` flaw: a refresh checked and applied in two transactions.
    NonAtomicRefresh(RefreshInput),
}

fn transaction(
    f: impl FnOnce(&mut Records<'_>, &Ctx<'_>) -> Result<Issued, OAuthError> + Send + 'static,
) -> Result<Work, OAuthError> {
    Ok(Work::Transaction(Box::new(f)))
}

/// A grant type's handler.
pub type Handler = fn(GrantRequest<'_>) -> Result<Work, OAuthError>;

/// Grant type → handler; every [`GrantType`] has one row.
pub const HANDLERS: [(GrantType, Handler); 7] = [
    (GrantType::RefreshToken, refresh),
    (GrantType::AuthorizationCode, code),
    (GrantType::Password, resource_owner_password),
    (GrantType::ClientCredentials, credentials),
    (GrantType::DeviceCode, device),
    (GrantType::JwtBearer, jwt_assertion),
    (GrantType::TokenExchange, exchange),
];

/// The handler for `grant`.
pub fn handler(grant: GrantType) -> Option<Handler> {
    HANDLERS.iter().find(|(g, _)| *g == grant).map(|(_, h)| *h)
}

fn refresh(req: GrantRequest<'_>) -> Result<Work, OAuthError> {
    let caller = refresh_caller(&req)?;
    if let Caller::Authenticated(c) | Caller::Public(c) = &caller {
        permitted(c, req.grant, req.proof.as_ref())?;
    }
    let input = RefreshInput {
        token: RefreshToken::new(presented_refresh_token(&req)?),
        scope: refresh_scope(&req),
        caller,
        dpop_jkt: req.jkt(),
    };
    if req.state.flaw(Flaw::NonAtomicRotation) {
        return Ok(Work::NonAtomicRefresh(input));
    }
    transaction(move |r, ctx| refresh_token::refresh(r, ctx, &input))
}

/// A confidential client must authenticate to refresh (RFC 6749 §6), unless the
/// `client-auth-skipped-on-refresh` flaw takes its word.
fn refresh_caller(req: &GrantRequest<'_>) -> Result<Caller, OAuthError> {
    Ok(match req.identity.clone() {
        ClientIdentity::Authenticated { client, .. } => Caller::Authenticated(client),
        ClientIdentity::Public(client) => Caller::Public(client),
        ClientIdentity::ClaimedOnly(client) if req.state.flaw(Flaw::ClientAuthSkippedOnRefresh) => {
            Caller::Authenticated(client)
        }
        ClientIdentity::ClaimedOnly(_) => {
            return Err(OAuthError::invalid_client(
                "client authentication required",
                ChallengeKind::Other,
            ));
        }
        ClientIdentity::Anonymous => Caller::Anonymous,
    })
}

/// The `refresh_token` parameter; `empty-parameter-not-omitted` takes an empty one as a value,
/// `missing-parameter-misreported` calls a missing one `invalid_grant`.
fn presented_refresh_token<'a>(req: &GrantRequest<'a>) -> Result<&'a str, OAuthError> {
    let params = req.params;
    match params.require("refresh_token") {
        Ok(t) => Ok(t),
        Err(_)
            if params.contains("refresh_token")
                && req.state.flaw(Flaw::EmptyParameterNotOmitted) =>
        {
            Ok("")
        }
        Err(_) if req.state.flaw(Flaw::MissingParameterMisreported) => {
            Err(OAuthError::invalid_grant("no refresh token"))
        }
        Err(e) => Err(e),
    }
}

/// The `scope` parameter; `empty-parameter-not-omitted` keeps an empty one.
fn refresh_scope(req: &GrantRequest<'_>) -> Option<String> {
    match req.params.get("scope") {
        None if req.params.contains("scope") && req.state.flaw(Flaw::EmptyParameterNotOmitted) => {
            Some(String::new())
        }
        s => s.map(str::to_owned),
    }
}

fn code(req: GrantRequest<'_>) -> Result<Work, OAuthError> {
    let client = req.client()?;
    let input = CodeInput {
        code: AuthorizationCode::new(req.params.require("code")?),
        redirect_uri: req.owned("redirect_uri"),
        code_verifier: req.owned("code_verifier"),
        dpop_jkt: req.jkt(),
    };
    transaction(move |r, ctx| authorization_code(r, ctx, &client, &input))
}

fn resource_owner_password(req: GrantRequest<'_>) -> Result<Work, OAuthError> {
    let client = req.client()?;
    let input = PasswordInput {
        username: req.params.require("username")?.to_owned(),
        password: req.params.require("password")?.to_owned(),
        scope: req.owned("scope"),
        dpop_jkt: req.jkt(),
    };
    transaction(move |r, ctx| password(r, ctx, &client, &input))
}

fn credentials(req: GrantRequest<'_>) -> Result<Work, OAuthError> {
    let client = match req.identity.clone() {
        // The `public-client-credentials` flaw serves a public client as if it were
        // confidential and registered for the grant.
        ClientIdentity::Public(client) if req.state.flaw(Flaw::PublicClientCredentials) => client,
        ClientIdentity::Public(_) => {
            return Err(OAuthError::unauthorized_client(
                "client_credentials is for confidential clients",
            ));
        }
        other => {
            let client = other.require_confidential(req.state)?;
            permitted(&client, req.grant, req.proof.as_ref())?;
            client
        }
    };
    let (scope, jkt) = (req.owned("scope"), req.jkt());
    transaction(move |r, ctx| client_credentials(r, ctx, &client, scope.as_deref(), jkt))
}

fn device(req: GrantRequest<'_>) -> Result<Work, OAuthError> {
    let client = req.client()?;
    let code = DeviceCode::new(req.params.require("device_code")?);
    let jkt = req.jkt();
    transaction(move |r, ctx| device_code(r, ctx, &client, &code, jkt))
}

fn jwt_assertion(req: GrantRequest<'_>) -> Result<Work, OAuthError> {
    let client = req.client()?;
    let input = JwtBearerInput {
        assertion: req.params.require("assertion")?.to_owned(),
        scope: req.owned("scope"),
        dpop_jkt: req.jkt(),
    };
    // Signature and claims are checked outside the transaction; only jti bookkeeping and
    // issuance run inside it.
    let verified = jwt_bearer::verify(req.state, &input)?;
    transaction(move |r, ctx| jwt_bearer::jwt_bearer(r, ctx, &client, &input, &verified))
}

fn exchange(req: GrantRequest<'_>) -> Result<Work, OAuthError> {
    let client = req.client()?;
    let input = ExchangeInput {
        subject_token: req.params.require("subject_token")?.to_owned(),
        subject_token_type: req.params.require("subject_token_type")?.to_owned(),
        requested_token_type: req.owned("requested_token_type"),
        scope: req.owned("scope"),
        dpop_jkt: req.jkt(),
    };
    transaction(move |r, ctx| token_exchange(r, ctx, &client, &input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grant_type_has_exactly_one_handler() {
        for g in GrantType::ALL {
            let rows = HANDLERS.iter().filter(|(h, _)| *h == g).count();
            assert_eq!(rows, 1, "{g:?}");
        }
    }
}
