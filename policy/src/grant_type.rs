//! Grant types at the token endpoint.

use crate::model::{Grants, RefreshIssuance};

vocabulary! {
    /// A grant type, by its `grant_type` value (RFC 6749 §4; extension grants are URNs, §4.5).
    pub enum GrantType("grant type") {
        /// RFC 6749 §4.1.3: "Value MUST be set to "authorization_code"."
        AuthorizationCode = "authorization_code",
        /// RFC 6749 §4.3.2: "Value MUST be set to "password"."
        Password = "password",
        /// RFC 6749 §4.4.2: "Value MUST be set to "client_credentials"."
        ClientCredentials = "client_credentials",
        /// RFC 6749 §6: "Value MUST be set to "refresh_token"."
        RefreshToken = "refresh_token",
        /// RFC 7523 §2.1: "The value of the "grant_type" is
        /// "urn:ietf:params:oauth:grant-type:jwt-bearer"."
        JwtBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer",
        /// RFC 8628 §3.4: "Value MUST be set to "urn:ietf:params:oauth:grant-type:device_code"."
        DeviceCode = "urn:ietf:params:oauth:grant-type:device_code",
        /// RFC 8693 §2.1: "The value "urn:ietf:params:oauth:grant-type:token-exchange" indicates
        /// that a token exchange is being performed."
        TokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange",
    }
}

impl GrantType {
    /// The short name: the key under a policy's `grants:` and a capability's `grant.` suffix.
    pub fn short_name(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::Password => "password",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
            Self::JwtBearer => "jwt_bearer",
            Self::DeviceCode => "device_code",
            Self::TokenExchange => "token_exchange",
        }
    }

    /// The grant with this short name.
    pub fn from_short_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|g| g.short_name() == name)
    }

    /// Whether the policy offers this grant.
    pub fn enabled(self, grants: &Grants) -> bool {
        match self {
            Self::AuthorizationCode => grants.authorization_code,
            Self::Password => grants.password,
            Self::ClientCredentials => grants.client_credentials,
            Self::RefreshToken => grants.refresh_token,
            Self::JwtBearer => grants.jwt_bearer,
            Self::DeviceCode => grants.device_code,
            Self::TokenExchange => grants.token_exchange,
        }
    }

    /// Whether the policy hands out a refresh token with this grant (before any per-client or
    /// scope rule). Client credentials never does (RFC 6749 §4.4.3: "A refresh token SHOULD NOT
    /// be included"); a refresh always may.
    pub fn issues_refresh(self, issuance: &RefreshIssuance) -> bool {
        match self {
            Self::AuthorizationCode => issuance.authorization_code,
            Self::Password => issuance.password,
            Self::JwtBearer => issuance.jwt_bearer,
            Self::DeviceCode => issuance.device_code,
            Self::TokenExchange => issuance.token_exchange,
            Self::ClientCredentials => false,
            Self::RefreshToken => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        crate::vocabulary::assert_round_trips(&GrantType::ALL, &GrantType::NAMES);
        for g in &GrantType::ALL {
            assert_eq!(GrantType::from_short_name(g.short_name()), Some(*g));
        }
        assert_eq!(
            GrantType::from_wire("urn:ietf:params:oauth:grant-type:device_code"),
            Some(GrantType::DeviceCode)
        );
        assert_eq!(GrantType::from_wire("device_code"), None);
    }
}
