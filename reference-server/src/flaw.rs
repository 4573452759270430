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
