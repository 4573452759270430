//! The closed list of target capabilities that scenarios gate on (`requires:`, `unless:`, `when:`).
//!
//! Capabilities come from three places: the target's policy (rotation, grace, reuse response…),
//! what the target profile declares (endpoints, clients, a test clock, its scope vocabulary and
//! test user), and explicit additions or removals in the profile. The policy part is derived in
//! `tokencert_policy::capability`; this module keeps the closed list of every name. A scenario
//! whose `requires` are not all present is skipped with the
//! missing capability named, never failed.

pub use tokencert_policy::capability::from_policy;

/// Every capability name with what it means.
pub const CAPABILITIES: &[(&str, &str)] = &[
    (
        "grant.authorization_code",
        "the authorization_code grant (RFC 6749 §4.1)",
    ),
    (
        "grant.password",
        "the resource owner password grant (RFC 6749 §4.3)",
    ),
    (
        "grant.client_credentials",
        "the client_credentials grant (RFC 6749 §4.4)",
    ),
    (
        "grant.refresh_token",
        "the refresh_token grant (RFC 6749 §6)",
    ),
    ("grant.jwt_bearer", "the JWT bearer grant (RFC 7523 §2.1)"),
    (
        "grant.device_code",
        "the device authorization grant (RFC 8628)",
    ),
    ("grant.token_exchange", "token exchange (RFC 8693)"),
    (
        "refresh.issued",
        "the bootstrap grant issues refresh tokens",
    ),
    (
        "refresh.public_clients",
        "public clients get refresh tokens",
    ),
    (
        "refresh.rotation",
        "every refresh rotates the refresh token, for every client",
    ),
    (
        "refresh.rotation.public",
        "public clients' refresh tokens rotate",
    ),
    ("refresh.no_rotation", "refresh tokens never rotate"),
    (
        "refresh.unrotated_omitted",
        "a refresh that does not rotate answers without refresh_token; the presented one stays valid",
    ),
    (
        "refresh.grace",
        "a superseded refresh token still works for a grace window",
    ),
    (
        "refresh.reuse_detection",
        "reusing a superseded refresh token revokes its family",
    ),
    (
        "refresh.reuse_revokes_access_tokens",
        "reuse detection also revokes the family's access tokens",
    ),
    (
        "refresh.idle_timeout",
        "refresh tokens expire after an idle period",
    ),
    (
        "refresh.absolute_lifetime",
        "refresh token families have an absolute lifetime",
    ),
    (
        "refresh.rotation_resets_absolute",
        "rotation restarts the absolute lifetime",
    ),
    (
        "refresh.offline_access_required",
        "a refresh token only with the offline_access scope",
    ),
    (
        "scope.escalation_rejected",
        "a broader scope on refresh gets invalid_scope",
    ),
    (
        "scope.escalation_dropped",
        "a broader scope on refresh is silently dropped",
    ),
    ("scope.narrowing", "a narrower scope on refresh is honoured"),
    ("scope.always_echo", "token responses always carry scope"),
    (
        "client_auth.client_secret_basic",
        "HTTP Basic client authentication (RFC 6749 §2.3.1)",
    ),
    (
        "client_auth.client_secret_post",
        "client credentials in the form body",
    ),
    (
        "client_auth.client_secret_jwt",
        "HMAC client assertions (RFC 7523)",
    ),
    (
        "client_auth.private_key_jwt",
        "private-key client assertions (RFC 7523)",
    ),
    (
        "client_auth.none",
        "public clients (no client authentication)",
    ),
    (
        "client_auth.enforce_registered_method",
        "only a client's registered method is accepted",
    ),
    (
        "client_auth.invalid_client_401",
        "invalid_client always comes with 401",
    ),
    (
        "client_auth.public_requires_client_id",
        "public clients must send client_id on refresh",
    ),
    ("pkce.required", "PKCE is required for every client"),
    (
        "pkce.required_public",
        "PKCE is required for public clients",
    ),
    ("pkce.plain", "the plain PKCE method is accepted"),
    ("dpop", "DPoP proofs at the token endpoint (RFC 9449)"),
    ("dpop.nonce", "the server demands DPoP nonces"),
    (
        "dpop.bound_refresh_tokens",
        "public clients' refresh tokens are bound to the DPoP key",
    ),
    ("endpoint.authorization", "an authorization endpoint"),
    ("endpoint.revocation", "a revocation endpoint (RFC 7009)"),
    (
        "endpoint.introspection",
        "an introspection endpoint (RFC 7662)",
    ),
    (
        "endpoint.device_authorization",
        "a device authorization endpoint (RFC 8628)",
    ),
    ("endpoint.metadata", "RFC 8414 metadata"),
    ("endpoint.jwks", "a JWKS endpoint"),
    (
        "introspection.access_tokens",
        "introspection reports on access tokens",
    ),
    (
        "introspection.refresh_tokens",
        "introspection reports on refresh tokens",
    ),
    (
        "introspection.any_client",
        "introspection answers any authenticated confidential client about any client's token",
    ),
    (
        "introspection.public_clients",
        "public clients' tokens can be introspected (by a confidential client)",
    ),
    (
        INTROSPECTION_CELL_CLIENT,
        "the cell's client's tokens can be introspected, by `client.introspector` (evaluated per matrix cell)",
    ),
    (
        "revocation.cascade_access_tokens",
        "revoking a refresh token revokes its access tokens",
    ),
    (
        "revocation.access_revokes_refresh",
        "revoking an access token revokes its refresh token",
    ),
    (
        "oidc.id_token_on_refresh",
        "an ID token on refresh when openid is in scope",
    ),
    (
        "headers.pragma",
        "Pragma: no-cache is required next to Cache-Control: no-store",
    ),
    (
        "code.replay_revokes",
        "a replayed authorization code revokes the tokens issued from it",
    ),
    (
        "refresh.previous_access_token_revoked",
        "a refresh revokes the previous access token",
    ),
    ("test.clock", "a virtual clock the harness can advance"),
    (
        "authorize.unattended",
        "the harness can run an authorization request without a person: a code-flow bootstrap with a `command` hook or `authorize_params` (unattended consent), or the embedded server",
    ),
    (
        "time.wait",
        "time can be made to pass: a test clock, or real-time waits (--max-wait above zero)",
    ),
    (
        "endpoint.device_approve",
        "a test endpoint approving (or, with action=deny, denying) a device user code as the test user",
    ),
    (
        "endpoint.jwt_bearer_assertion",
        "a test endpoint minting an RFC 7523 grant assertion for `sub` from an issuer the server trusts",
    ),
    (
        "scopes.narrower",
        "the profile's `scopes.narrower`: a strict subset of the granted scope (declared or derived)",
    ),
    (
        "scopes.outside",
        "the profile declares `scopes.outside`: valid scope beyond the granted scope",
    ),
    (
        "scopes.offline",
        "the profile's `scopes.offline`: the scope a refresh token needs (declared, or offline_access in the granted scope)",
    ),
    (
        "scopes.openid",
        "the profile's `scopes.openid`: openid applies (declared, or in the granted scope)",
    ),
    (
        "test_user",
        "the profile's `test_user` (declared, or the bootstrap's user)",
    ),
    (
        "test_user.password",
        "the profile's `test_user.password` (declared, or the password bootstrap's)",
    ),
];

/// Client roles a scenario can name (keys of the target profile's `clients:`).
pub const CLIENT_ROLES: &[(&str, &str)] = &[
    (
        "confidential",
        "a confidential client (any secret-based method)",
    ),
    (
        "confidential2",
        "a second confidential client, for cross-client tests",
    ),
    (
        "basic_special",
        "a client_secret_basic client whose id or secret has + % : or non-ASCII",
    ),
    ("post", "a client_secret_post client"),
    ("secret_jwt", "a client_secret_jwt client"),
    ("private_key_jwt", "a private_key_jwt client"),
    ("public", "a public client (auth none)"),
    ("public2", "a second public client"),
    ("dpop", "a public client that uses DPoP"),
    ("no_refresh", "a client not allowed the refresh_token grant"),
];

/// The one capability that depends on the matrix cell: whether some client of the profile can
/// introspect the tokens of the cell's client (see `Target::introspector`).
pub const INTROSPECTION_CELL_CLIENT: &str = "introspection.cell_client";

/// Whether a capability is about what the harness can observe (introspection) rather than how
/// the target behaves: a step skipped for lacking one is a check lost, named with the result.
pub fn is_observation(name: &str) -> bool {
    name == "endpoint.introspection" || name.starts_with("introspection.")
}

/// Capabilities that describe a feature of something else (what introspection observes, what a
/// revocation does, how DPoP is used), with that something: a target lacking the feature
/// altogether lacks every one of them, and a skip names the feature (`endpoint.introspection`)
/// rather than what it would have observed.
const PARENTS: &[(&str, &str)] = &[
    ("introspection.", "endpoint.introspection"),
    ("revocation.", "endpoint.revocation"),
    ("dpop.", "dpop"),
];

/// The capability `name` is a feature of (see [`PARENTS`]), if any.
pub fn parent(name: &str) -> Option<&'static str> {
    PARENTS
        .iter()
        .find(|(prefix, _)| name.starts_with(prefix))
        .map(|(_, p)| *p)
}

/// How a skip names a missing capability: the profile key to declare for the vocabulary ones
/// (`scopes.outside (declare it in the target profile)`), the bare name otherwise.
pub fn describe_missing(name: &str) -> String {
    if name.starts_with("scopes.") || name.starts_with("test_user") {
        format!("{name} (declare it in the target profile)")
    } else if name == "authorize.unattended" {
        format!(
            "{name} (give the target profile a `bootstrap` with `grant: authorization_code` and a `command` hook that logs a test user in, or `authorize_params` the server consents to unattended)"
        )
    } else if name == "time.wait" {
        format!("{name} (no test clock, and --max-wait is 0)")
    } else {
        name.to_owned()
    }
}

/// A skip reason's list of capabilities (`missing` or present): each described, then the policy
/// keys they come from, so the reader knows what to declare:
/// `refresh.rotation, test.clock (policy: rotation)`.
pub fn describe_gates(names: &[&str], describe: fn(&str) -> String) -> String {
    describe_gates_noting(names, describe, &|_| None)
}

/// [`describe_gates`], with `note` given the policy keys behind the capabilities and adding what
/// it returns after them: `refresh.rotation (policy: rotation; allowed by …)`.
pub fn describe_gates_noting(
    names: &[&str],
    describe: fn(&str) -> String,
    note: &dyn Fn(&[&str]) -> Option<String>,
) -> String {
    let mut keys: Vec<&str> = Vec::new();
    for n in names {
        let from = if *n == INTROSPECTION_CELL_CLIENT {
            Some("introspection.callers, introspection.public_clients")
        } else {
            tokencert_policy::capability::policy_keys(n)
        };
        for k in from.into_iter().flat_map(|k| k.split(", ")) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    let list: Vec<String> = names.iter().map(|n| describe(n)).collect();
    if keys.is_empty() {
        return list.join(", ");
    }
    match note(&keys) {
        Some(n) => format!("{} (policy: {}; {n})", list.join(", "), keys.join(", ")),
        None => format!("{} (policy: {})", list.join(", "), keys.join(", ")),
    }
}

/// Whether `name` is a known capability (including `client.<role>`).
pub fn is_known(name: &str) -> bool {
    CAPABILITIES.iter().any(|(c, _)| *c == name)
        || name
            .strip_prefix("client.")
            .is_some_and(|r| CLIENT_ROLES.iter().any(|(c, _)| *c == r))
}

/// Every valid capability name (for did-you-mean hints).
pub fn all_names() -> Vec<String> {
    CAPABILITIES
        .iter()
        .map(|(c, _)| (*c).to_owned())
        .chain(CLIENT_ROLES.iter().map(|(r, _)| format!("client.{r}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokencert_policy::Policy;

    #[test]
    fn every_derived_capability_is_in_the_closed_list() {
        for name in tokencert_policy::PRESET_NAMES {
            let p = Policy::preset(name).expect("preset");
            for c in from_policy(&p) {
                assert!(is_known(&c), "{name} derives unknown capability {c}");
            }
        }
    }

    #[test]
    fn presets_differ_where_they_should() {
        let strict = from_policy(&Policy::preset("rfc9700").expect("preset"));
        assert!(strict.contains("refresh.rotation") && strict.contains("refresh.reuse_detection"));
        let fapi = from_policy(&Policy::preset("fapi2").expect("preset"));
        assert!(fapi.contains("refresh.no_rotation") && !fapi.contains("refresh.reuse_detection"));
        assert!(is_known("client.public") && !is_known("client.nobody"));
    }

    #[test]
    fn features_have_their_parent() {
        assert_eq!(
            parent(INTROSPECTION_CELL_CLIENT),
            Some("endpoint.introspection")
        );
        assert_eq!(
            parent("revocation.cascade_access_tokens"),
            Some("endpoint.revocation")
        );
        assert_eq!(parent("dpop.nonce"), Some("dpop"));
        assert_eq!(parent("dpop"), None);
        assert_eq!(parent("endpoint.introspection"), None);
        for (prefix, p) in PARENTS {
            assert!(is_known(p), "{prefix}: unknown parent {p}");
        }
    }

    #[test]
    fn skip_reasons_name_the_policy_keys() {
        assert_eq!(
            describe_gates(&["refresh.rotation", "test.clock"], describe_missing),
            "refresh.rotation, test.clock (policy: rotation)"
        );
        assert_eq!(
            describe_gates(
                &["introspection.refresh_tokens", INTROSPECTION_CELL_CLIENT],
                describe_missing
            ),
            "introspection.refresh_tokens, introspection.cell_client (policy: \
             introspection.refresh_tokens, introspection.callers, introspection.public_clients)"
        );
        assert_eq!(
            describe_gates(&["test.clock"], describe_missing),
            "test.clock"
        );
    }
}
