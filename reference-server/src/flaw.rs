//! Deliberate bugs, switchable one by one (`--flaw NAME`), so the conformance suite can prove it
//! catches each of them. A flawed server is never the default and says so at startup.

use std::fmt;
use std::str::FromStr;

macro_rules! flaws {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal : $breaks:literal, )*) => {
        /// A named, deliberate defect.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Flaw {
            $( $(#[$doc])* $variant, )*
        }

        impl Flaw {
            /// Every flaw, in listing order.
            pub const ALL: &'static [Flaw] = &[ $( Flaw::$variant, )* ];

            /// The `--flaw` name.
            pub fn name(self) -> &'static str {
                match self { $( Flaw::$variant => $name, )* }
            }

            /// What it breaks, with the requirement it violates.
            pub fn description(self) -> &'static str {
                match self { $( Flaw::$variant => $breaks, )* }
            }
        }
    };
}

flaws! {
    /// A superseded (rotated-out) refresh token keeps working as if it were current.
    SupersededTokenAccepted = "superseded-token-accepted":
        "a rotated-out refresh token is still accepted, forking the family (RFC 9700 4.14.2: invalidate the previous refresh token)",
    /// Reuse of a superseded refresh token is refused but nothing else is revoked.
    NoFamilyRevocation = "no-family-revocation":
        "reuse of a superseded refresh token does not revoke the active one (RFC 9700 4.14.2, OAuth 2.1 4.3.1)",
    /// A confidential client may refresh another client's token.
    CrossClientRefresh = "cross-client-refresh":
        "a refresh token issued to one client is accepted from another authenticated client (RFC 6749 6 and 10.4: binding)",
    /// A public client's refresh token works with any client_id.
    PublicClientIdUnchecked = "public-client-id-unchecked":
        "a public client's refresh token is accepted with another client's client_id (OAuth 2.1 4.3.1)",
    /// Rotation reads, pauses outside the lock, then writes: concurrent refreshes both win.
    NonAtomicRotation = "non-atomic-rotation":
        "rotation is not atomic: two concurrent refreshes of one token both succeed (one-time use broken under races)",
    /// The grace window never closes and has no reuse limit.
    UnboundedGrace = "unbounded-grace":
        "a superseded refresh token stays usable forever, any number of times (the grace window never ends)",
    /// Every rotation restarts the absolute lifetime even when the policy says it must not.
    AbsoluteLifetimeReset = "absolute-lifetime-reset":
        "rotation restarts the family's absolute lifetime, so refreshing keeps a grant alive forever (RFC 9700 4.14.2 guidance)",
    /// Idle and absolute expiry are never checked.
    ExpiredTokenAccepted = "expired-token-accepted":
        "an expired refresh token (idle or absolute) is still accepted (RFC 6749 5.2 invalid_grant)",
    /// A refresh may ask for more scope than was granted and gets it.
    ScopeEscalation = "scope-escalation":
        "a refresh asking for scope beyond the original grant gets it (RFC 6749 6 MUST NOT)",
    /// Token-endpoint responses lack `Cache-Control: no-store` and `Pragma: no-cache`.
    MissingNoStore = "missing-no-store":
        "token responses carry no Cache-Control: no-store / Pragma: no-cache (RFC 6749 5.1 MUST)",
    /// A revoked, superseded or expired refresh token gets `invalid_request`.
    WrongErrorCode = "wrong-error-code":
        "a revoked, rotated-out or expired refresh token gets invalid_request instead of invalid_grant (RFC 6749 5.2)",
    /// A malformed form body crashes the handler into a 500.
    ServerErrorOnMalformedBody = "500-on-malformed-body":
        "a malformed form body (bad percent-encoding, invalid UTF-8, duplicates) gets a 500 instead of 400 invalid_request",
    /// Revoking a refresh token leaves the family's access tokens alive.
    NoRevocationCascade = "no-revocation-cascade":
        "revoking a refresh token does not revoke the access tokens of its grant (RFC 7009 2.1 SHOULD)",
    /// A DPoP-bound refresh token is accepted without a proof from its key.
    DpopBindingUnchecked = "dpop-binding-unchecked":
        "a DPoP-bound refresh token is accepted with no proof or a proof from another key (RFC 9449 5 MUST)",
    /// Basic credentials are not form-urldecoded before comparison.
    BasicNotFormDecoded = "basic-not-form-decoded":
        "client_secret_basic credentials are compared without form-urldecoding (RFC 6749 2.3.1, Appendix B)",
    /// `invalid_client` after Basic comes without `WWW-Authenticate`.
    MissingWwwAuthenticate = "missing-www-authenticate":
        "a 401 invalid_client after Basic authentication lacks WWW-Authenticate (RFC 6749 5.2 MUST)",
    /// A narrowed refresh also narrows the successor refresh token.
    NarrowedRefreshToken = "narrowed-refresh-token":
        "a refresh with a narrower scope shrinks the grant of the new refresh token (RFC 6749 6 MUST keep the original scope)",
    /// A replayed authorization code issues a second set of tokens.
    CodeReplayAccepted = "code-replay-accepted":
        "an authorization code can be redeemed twice (RFC 6749 4.1.2 MUST NOT)",
    /// A confidential client refreshes without authenticating.
    ClientAuthSkippedOnRefresh = "client-auth-skipped-on-refresh":
        "a confidential client's refresh token is accepted with only client_id, no credentials (RFC 6749 6 MUST authenticate)",
    /// The PKCE verifier is not compared with the challenge.
    PkceUnchecked = "pkce-unchecked":
        "a wrong or missing PKCE code_verifier is accepted (RFC 7636 4.6, RFC 9700 2.1.1)",
    /// A client assertion's `jti` may be replayed.
    AssertionReplayAccepted = "assertion-replay-accepted":
        "a private_key_jwt / client_secret_jwt assertion can be replayed (OIDC Core 9: jti single use)",
    /// Rotated-out refresh tokens still introspect as active.
    IntrospectionStale = "introspection-stale":
        "introspection reports revoked or rotated-out refresh tokens as active (RFC 7662 2.2, 4)",
    /// A client assertion's `aud`, `exp`, `nbf` and `sub` are not checked (the signature still is).
    AssertionClaimsUnchecked = "assertion-claims-unchecked":
        "a client assertion for another audience, expired, not yet valid or whose sub is not the client is accepted (RFC 7523 3 items 2-5, OIDC Core 9)",
    /// A client assertion's signature is not verified: `alg: none`, a forged signature or an HMAC
    /// with any secret passes.
    AssertionSignatureUnchecked = "assertion-signature-unchecked":
        "a client assertion with alg none, a bad signature or an HMAC under the wrong secret is accepted (RFC 7523 3 item 9)",
    /// A refresh with no client information is served for any client, the client taken from the token.
    AnonymousRefreshAccepted = "anonymous-refresh-accepted":
        "a confidential client's refresh token is served with no credentials and no client_id: the client is taken from the token (RFC 6749 3.2.1, 6)",
    /// Basic plus `client_secret` in the body: Basic wins, the body secret is ignored.
    MultipleAuthMethodsAccepted = "multiple-auth-methods-accepted":
        "a request using Basic and client_secret in the body at once is served (RFC 6749 2.3: exactly one method, else invalid_request)",
    /// A body `client_id` that differs from the Basic client is ignored.
    BasicClientIdMismatchIgnored = "basic-client-id-mismatch-ignored":
        "a body client_id naming another client than the Basic credentials is ignored (RFC 6749 3.2.1)",
    /// A body `client_id` next to Basic is refused even when it names the same client.
    ClientIdWithBasicRejected = "client-id-with-basic-rejected":
        "a body client_id next to Basic credentials is invalid_request even when it names the same client (RFC 6749 3.2.1 allows it)",
    /// A request authenticated by a client assertion but without `client_id` is refused.
    AssertionWithoutClientIdRejected = "assertion-without-client-id-rejected":
        "a request authenticated by a client assertion without a body client_id is invalid_request (RFC 7521 4.2: client_id is OPTIONAL there)",
    /// An unknown refresh token gets 401 `invalid_token` (a resource-server error).
    InvalidTokenWrongStatus = "invalid-token-wrong-status":
        "an unknown, tampered or truncated refresh token gets 401 invalid_token instead of 400 invalid_grant (RFC 6749 5.2)",
    /// The presented refresh token and scope are copied raw into `error_description`.
    ErrorDescriptionEchoesInput = "error-description-echoes-input":
        "error_description echoes the request's refresh_token and scope raw, quotes, backslashes and non-ASCII included (RFC 6749 5.2 character set)",
    /// A refresh without `scope` gets the client's default scope, not the original grant.
    RefreshScopeResetToDefault = "refresh-scope-reset-to-default":
        "a refresh without scope grants the client's default scope instead of the originally granted one (RFC 6749 6)",
    /// Access and refresh tokens contain a line break (MIME-wrapped).
    TokenWhitespace = "token-whitespace":
        "access and refresh tokens contain a line break, outside 1*VSCHAR (RFC 6749 Appendix A.12, A.17)",
    /// `scope=` and `refresh_token=` are taken as given, not as omitted.
    EmptyParameterNotOmitted = "empty-parameter-not-omitted":
        "an empty scope= narrows to an empty grant and an empty refresh_token= is looked up (invalid_grant) instead of being treated as omitted (RFC 6749 3.2)",
    /// Missing `grant_type` / `refresh_token` get the wrong error code.
    MissingParameterMisreported = "missing-parameter-misreported":
        "a missing grant_type gets unsupported_grant_type and a missing refresh_token invalid_grant instead of invalid_request (RFC 6749 5.2)",
    /// Parameters the server does not know make the request fail.
    UnknownParameterRejected = "unknown-parameter-rejected":
        "a token request with a parameter the server does not recognise is invalid_request (RFC 6749 3.2: MUST ignore)",
    /// An unknown `grant_type` with a `refresh_token` is served as a refresh.
    UnknownGrantTypeFallsBackToRefresh = "unknown-grant-type-falls-back-to-refresh":
        "an unknown grant_type next to a refresh_token is served as a refresh instead of unsupported_grant_type (RFC 6749 5.2)",
    /// `GET /token` with the parameters in the query string is served.
    TokenEndpointAcceptsGet = "token-endpoint-accepts-get":
        "the token endpoint serves GET requests with the parameters, refresh token included, in the URL (RFC 6749 3.2: POST)",
    /// The requested scope is compared with the grant as a string, not as a set of words.
    ScopeComparedAsString = "scope-compared-as-string":
        "a refresh asking for the granted scope words in another order is refused with invalid_scope (RFC 6749 3.3: order does not matter)",
    /// Refresh responses omit `scope` although the policy always echoes it.
    ScopeNotEchoed = "scope-not-echoed":
        "refresh responses omit scope although the policy declares always_echo (OAuth 2.1 3.2.3)",
    /// Scope words with characters outside NQCHAR are silently dropped instead of refused.
    MalformedScopeAccepted = "malformed-scope-accepted":
        "a refresh whose scope holds words with a double quote or backslash is served, the malformed words dropped (RFC 6749 3.3)",
    /// Revoking an access token answers 200 and leaves it active.
    AccessTokenRevocationIgnored = "access-token-revocation-ignored":
        "revoking an access token answers 200 but leaves the token active (RFC 7009 2)",
    /// Revoking an unknown token is an error.
    RevocationUnknownTokenError = "revocation-unknown-token-error":
        "revoking an unknown or tampered token answers 400 instead of 200 (RFC 7009 2.2)",
    /// `/revoke` without `token` answers 200.
    RevocationMissingTokenOk = "revocation-missing-token-ok":
        "a revocation request without the token parameter answers 200 instead of invalid_request (RFC 7009 2.1, 2.2.1)",
    /// `/revoke` serves callers that do not authenticate.
    RevocationUnauthenticated = "revocation-unauthenticated":
        "a confidential client's token is revoked by a caller with no credentials or only the client_id (RFC 7009 2.1)",
    /// `/revoke` revokes tokens of other clients.
    CrossClientRevocation = "cross-client-revocation":
        "a client can revoke tokens issued to another client (RFC 7009 2.1: the token must belong to the caller)",
    /// Introspection looks only under the hinted token type.
    IntrospectionHintStrict = "introspection-hint-strict":
        "introspection searches only the token type named by token_type_hint, so a wrong hint hides a live token (RFC 7662 2.1)",
    /// `/introspect` answers callers that do not authenticate.
    IntrospectionUnauthenticated = "introspection-unauthenticated":
        "introspection answers callers with no credentials, only a client_id, or a public client (RFC 7662 2.1, 4)",
    /// Inactive introspection answers say why.
    IntrospectionVerboseInactive = "introspection-verbose-inactive":
        "an inactive introspection answer carries members beyond active: false (RFC 7662 2.2)",
    /// Introspection ignores access-token expiry.
    ExpiredAccessTokenActive = "expired-access-token-active":
        "introspection reports an access token past its lifetime as active (RFC 7662 4)",
    /// The DPoP proof's header is not validated: `typ`, `alg`, private `jwk` members, signature.
    DpopProofHeaderUnchecked = "dpop-proof-header-unchecked":
        "a DPoP proof with the wrong typ, alg none, a jwk carrying d or a signature that does not verify is accepted (RFC 9449 4.3 items 4-7)",
    /// The DPoP proof's claims are not validated: `jti`, `htm`, `htu`, `iat`.
    DpopProofClaimsUnchecked = "dpop-proof-claims-unchecked":
        "a DPoP proof missing jti/htm/htu/iat, for another method or URL, or with a stale or future iat is accepted (RFC 9449 4.3 items 8-11)",
    /// A refresh with a proof issues a Bearer access token.
    DpopAccessTokenUnbound = "dpop-access-token-unbound":
        "a refresh with a valid DPoP proof issues a Bearer access token without cnf.jkt (RFC 9449 5)",
    /// Confidential clients' refresh tokens are bound to their first DPoP key.
    DpopConfidentialRefreshBound = "dpop-confidential-refresh-bound":
        "a confidential client's refresh token is bound to the DPoP key it was issued with, so another key is refused (RFC 9449 5: only public clients')",
    /// With nonces required, only a key's first proof is challenged; nonce values are not compared.
    DpopNonceUnchecked = "dpop-nonce-unchecked":
        "with DPoP nonces required, a proof with a wrong nonce, or without one once its key has been challenged, is accepted (RFC 9449 8, 11.3)",
    /// A DPoP proof that fails validation gets `invalid_request`.
    DpopProofWrongErrorCode = "dpop-proof-wrong-error-code":
        "a DPoP proof that fails validation (not a JWS, unsupported alg, ...) gets invalid_request instead of invalid_dpop_proof (RFC 9449 5, 12.2)",
    /// Introspection names the caller as the token's client.
    IntrospectionCallerClientId = "introspection-caller-client-id":
        "introspection reports the calling client's client_id instead of the client the token was issued to (RFC 7662 2.2)",
    /// The metadata names the issuer with a trailing slash and endpoints that do not answer.
    MetadataEndpointsMisreported = "metadata-endpoints-misreported":
        "the metadata's issuer has a trailing slash and its token, revocation, introspection and device authorization endpoints point at paths that do not answer (RFC 8414 2, 3.3)",
    /// The metadata misstates what the server supports.
    MetadataCapabilitiesMisreported = "metadata-capabilities-misreported":
        "the metadata leaves refresh_token and the device grant out of grant_types_supported, lists none as a client-assertion signing alg and omits code_challenge_methods_supported (RFC 8414 2, RFC 8628 4, RFC 9700 2.1.1)",
    /// The metadata is served as `text/plain`.
    MetadataWrongContentType = "metadata-wrong-content-type":
        "the metadata document is served with Content-Type text/plain instead of application/json (RFC 8414 3.2)",
    /// The JWK Set publishes the signing key's private scalar.
    JwksPrivateKeyExposed = "jwks-private-key-exposed":
        "the JWK Set carries the ID-token signing key's private member d (RFC 7517 / OIDC Core 10.1: public keys only)",
    /// A public client is served the client credentials grant.
    PublicClientCredentials = "public-client-credentials":
        "a public client (client_id only) gets a client_credentials access token (RFC 6749 4.4, OAuth 2.1 4.2: confidential clients only)",
    /// Authorization codes never expire.
    ExpiredCodeAccepted = "expired-code-accepted":
        "an authorization code past its lifetime is redeemed (RFC 6749 4.1.2: short-lived, then invalid_grant)",
    /// The plain PKCE method is accepted although the policy allows only S256.
    PkcePlainAccepted = "pkce-plain-accepted":
        "an authorization request with code_challenge_method=plain gets a code although the policy allows only S256 (RFC 9700 2.1.1)",
    /// A device authorization the user denied stays pending.
    DeviceDenialIgnored = "device-denial-ignored":
        "polling a device code the user denied answers authorization_pending forever instead of access_denied (RFC 8628 3.5)",
    /// Device codes never expire when polled.
    ExpiredDeviceCodeAccepted = "expired-device-code-accepted":
        "polling a device code past its lifetime answers as if it were live instead of expired_token (RFC 8628 3.5)",
    /// Polling faster than the interval is not slowed down.
    DeviceSlowDownMissing = "device-slow-down-missing":
        "polling a device code faster than the interval gets authorization_pending instead of slow_down (RFC 8628 3.5)",
    /// A JWT bearer grant assertion's signature is not verified.
    JwtBearerSignatureUnchecked = "jwt-bearer-signature-unchecked":
        "a JWT bearer grant assertion whose signature does not verify (altered after signing) is accepted (RFC 7523 3 item 9, 3.1)",
    /// The password grant is served even when the policy disables it.
    PasswordGrantAlwaysOn = "password-grant-always-on":
        "grant_type=password is served although the policy disables the password grant (RFC 9700 2.4, OAuth 2.1 10)",
    /// The resource owner's password is not checked.
    PasswordUnchecked = "password-unchecked":
        "the password grant issues tokens for a known username with any password (RFC 6749 4.3.2, 5.2 invalid_grant)",
    /// Token exchange does not look the subject token up.
    TokenExchangeSubjectUnchecked = "token-exchange-subject-unchecked":
        "token exchange issues tokens for an unknown or inactive subject_token (RFC 8693 2.2.2 invalid_request)",
    /// An unknown `grant_type` gets `invalid_request`.
    UnknownGrantTypeMisreported = "unknown-grant-type-misreported":
        "an unknown grant_type gets invalid_request instead of unsupported_grant_type (RFC 6749 5.2)",
    /// Token responses announce the wrong access-token lifetime.
    WrongExpiresIn = "wrong-expires-in":
        "token responses announce an expires_in of twice the access token's real lifetime (RFC 6749 5.1)",
    /// The configured grace window is ignored.
    GraceIgnored = "grace-ignored":
        "the configured grace window is ignored: a retry with the superseded refresh token inside it is a replay (invalid_grant, family revoked) (policy grace)",
    /// Refresh tokens rotate even under `rotation: never`.
    RotationDespiteNever = "rotation-despite-never":
        "under rotation: never a refresh returns a new refresh token and invalidates the presented one (RFC 6749 6: the server's documented choice)",
    /// The registered client authentication method is not enforced.
    RegisteredMethodNotEnforced = "registered-method-not-enforced":
        "with enforce_registered_method, a client authenticating with another accepted method than the one it registered is served (OIDC Core 9)",
    /// A code is redeemed by a client it was not issued to.
    CodeClientBindingUnchecked = "code-client-binding-unchecked":
        "an authorization code is redeemed by another client than the one it was issued to (RFC 6749 4.1.3 MUST)",
    /// The redirect_uri of a code redemption is not compared with the authorization request's.
    RedirectUriUnchecked = "redirect-uri-unchecked":
        "a code is redeemed with another redirect_uri than the one of its authorization request (RFC 6749 4.1.3 MUST)",
    /// A DPoP proof's `jti` may be replayed.
    DpopJtiReplayAccepted = "dpop-jti-replay-accepted":
        "a DPoP proof whose jti was already used with the same key is accepted (RFC 9449 11.1)",
    /// `invalid_client` without Basic comes as a 401 with no challenge at all.
    UnchallengedInvalidClient = "401-without-challenge":
        "invalid_client for a client that did not use Basic is a 401 without WWW-Authenticate (RFC 9110 15.5.2 MUST)",
    /// Token responses of every grant but refresh_token may be cached.
    CodeGrantCacheable = "code-grant-cacheable":
        "token responses of the authorization_code, password, client_credentials and other grants (not refresh_token) lack Cache-Control: no-store and Pragma: no-cache (RFC 6749 5.1 MUST)",
    /// An unknown refresh token is named in the error.
    RefreshTokenEchoedInError = "refresh-token-echoed-in-error":
        "the error for an unknown refresh token repeats the token in error_description (RFC 6749 10.4: kept confidential)",
    /// A dead refresh token's invalid_grant comes with 401.
    InvalidGrant401 = "invalid-grant-401":
        "a revoked, rotated-out or expired refresh token gets invalid_grant with status 401 instead of 400 (RFC 6749 5.2)",
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Flaw {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Flaw::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Flaw::ALL.iter().map(|f| f.name()).collect();
                format!("unknown flaw `{s}` (known: {})", names.join(", "))
            })
    }
}

impl serde::Serialize for Flaw {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Flaw {
    /// The preset under which this flaw is observable, when the default (`rfc9700`) does not
    /// let the broken rule apply (the password grant is off there, rotation always on, no grace
    /// window, no method enforcement, no DPoP nonces).
    pub fn showcase_preset(self) -> Option<&'static str> {
        match self {
            Flaw::PasswordUnchecked | Flaw::RotationDespiteNever => Some("rfc6749"),
            Flaw::GraceIgnored => Some("rfc9700-grace"),
            Flaw::RegisteredMethodNotEnforced => Some("oauth21-strict"),
            Flaw::DpopNonceUnchecked => Some("fapi2"),
            _ => None,
        }
    }
}

/// The active flaws, cheap to query on every request.
#[derive(Debug, Clone, Default)]
pub struct FlawSet(Vec<Flaw>);

impl FlawSet {
    /// From a list (duplicates are harmless).
    pub fn new(flaws: &[Flaw]) -> Self {
        Self(flaws.to_vec())
    }

    /// Whether `flaw` is on.
    pub fn has(&self, flaw: Flaw) -> bool {
        self.0.contains(&flaw)
    }

    /// The active flaws.
    pub fn list(&self) -> &[Flaw] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        assert!(Flaw::ALL.len() >= 14);
        for f in Flaw::ALL {
            assert_eq!(f.name().parse::<Flaw>(), Ok(*f));
            assert!(!f.description().is_empty());
        }
        let mut names: Vec<_> = Flaw::ALL.iter().map(|f| f.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Flaw::ALL.len());
        assert!("nope".parse::<Flaw>().is_err());
    }
}
