//! Token-endpoint client authentication methods.

vocabulary! {
    /// A client authentication method, by its RFC 7591 §2 `token_endpoint_auth_method` name (the
    /// same names RFC 8414 `token_endpoint_auth_methods_supported` lists).
    pub enum AuthMethod("client authentication method") {
        /// RFC 7591 §2: "The client uses HTTP Basic as defined in OAuth 2.0, Section 2.3.1."
        ClientSecretBasic = "client_secret_basic",
        /// RFC 7591 §2: "The client uses the HTTP POST parameters as defined in OAuth 2.0,
        /// Section 2.3.1."
        ClientSecretPost = "client_secret_post",
        /// OpenID Connect Core §9: "Clients that have received a client_secret value from the
        /// Authorization Server create a JWT using an HMAC SHA algorithm".
        ClientSecretJwt = "client_secret_jwt",
        /// OpenID Connect Core §9 (RFC 7523 §2.2): "Clients that have registered a public key
        /// sign a JWT using that key."
        PrivateKeyJwt = "private_key_jwt",
        /// RFC 7591 §2: "The client is a public client as defined in OAuth 2.0, Section 2.1, and
        /// does not have a client secret."
        None = "none",
    }
}

impl AuthMethod {
    /// The client proves itself with a JWT assertion (RFC 7523 §2.2) rather than the secret.
    pub fn is_assertion(self) -> bool {
        matches!(self, Self::ClientSecretJwt | Self::PrivateKeyJwt)
    }

    /// The method needs the client's shared secret.
    pub fn uses_secret(self) -> bool {
        matches!(
            self,
            Self::ClientSecretBasic | Self::ClientSecretPost | Self::ClientSecretJwt
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips() {
        crate::vocabulary::assert_round_trips(&AuthMethod::ALL, &AuthMethod::NAMES);
        assert_eq!(AuthMethod::PrivateKeyJwt.as_str(), "private_key_jwt");
        assert!(AuthMethod::PrivateKeyJwt.is_assertion() && !AuthMethod::None.uses_secret());
    }
}
