//! The capabilities a policy implies. Scenarios gate on capabilities (`requires:`, `unless:`,
//! `when:`); the harness adds the ones a target profile declares (endpoints, clients, a test
//! clock) and keeps the closed list of every name.

use crate::model::{
    IntrospectionCallers, PkceRequiredFor, Policy, ReuseResponse, RotationMode, ScopeEscalation,
    UnrotatedRefreshToken,
};
use crate::{AuthMethod, GrantType};
use std::collections::BTreeSet;

/// The capability an offered grant gives: `grant.<short name>`.
pub fn grant(g: GrantType) -> String {
    format!("grant.{}", g.short_name())
}

/// The capability an accepted client authentication method gives: `client_auth.<name>`.
pub fn client_auth(m: AuthMethod) -> String {
    format!("client_auth.{}", m.as_str())
}

/// Capabilities implied by a policy.
pub fn from_policy(p: &Policy) -> BTreeSet<String> {
    let mut caps: BTreeSet<String> = GrantType::ALL
        .iter()
        .filter(|g| g.enabled(&p.grants))
        .map(|g| grant(*g))
        .collect();
    caps.extend(p.clients.auth_methods.iter().map(|m| client_auth(*m)));
    let mut add = |c: &str, on: bool| {
        if on {
            caps.insert(c.to_owned());
        }
    };
    add("refresh.public_clients", p.refresh_tokens.public_clients);
    add("refresh.rotation", p.rotation == RotationMode::Always);
    add("refresh.rotation.public", p.rotation != RotationMode::Never);
    add("refresh.no_rotation", p.rotation == RotationMode::Never);
    add(
        "refresh.unrotated_omitted",
        p.unrotated_refresh_token == UnrotatedRefreshToken::Omitted,
    );
    add(
        "refresh.grace",
        p.grace.seconds > 0 && p.grace.max_reuses > 0,
    );
    add(
        "refresh.reuse_detection",
        p.rotation != RotationMode::Never && p.reuse != ReuseResponse::RejectOnly,
    );
    add(
        "refresh.reuse_revokes_access_tokens",
        p.rotation != RotationMode::Never && p.reuse == ReuseResponse::RevokeFamilyAndAccessTokens,
    );
    add("refresh.idle_timeout", p.lifetimes.refresh_idle.is_some());
    add(
        "refresh.absolute_lifetime",
        p.lifetimes.refresh_absolute.is_some(),
    );
    add(
        "refresh.rotation_resets_absolute",
        p.lifetimes.rotation_resets_absolute,
    );
    add(
        "refresh.offline_access_required",
        p.oidc.offline_access_required,
    );
    add(
        "scope.escalation_rejected",
        p.scope.escalation == ScopeEscalation::Reject,
    );
    add(
        "scope.escalation_dropped",
        p.scope.escalation == ScopeEscalation::Drop,
    );
    add("scope.narrowing", p.scope.narrowing);
    add("scope.always_echo", p.scope.always_echo);
    add(
        "client_auth.enforce_registered_method",
        p.clients.enforce_registered_method,
    );
    add(
        "client_auth.invalid_client_401",
        p.clients.invalid_client_status == 401,
    );
    add(
        "client_auth.public_requires_client_id",
        p.clients.public_requires_client_id,
    );
    add("pkce.required", p.pkce.required_for == PkceRequiredFor::All);
    add(
        "pkce.required_public",
        p.pkce.required_for != PkceRequiredFor::None,
    );
    add("pkce.plain", p.pkce.plain_allowed);
    add("dpop", p.dpop.supported);
    add("dpop.nonce", p.dpop.supported && p.dpop.nonce_required);
    add(
        "dpop.bound_refresh_tokens",
        p.dpop.supported && p.dpop.bind_public_refresh_tokens,
    );
    add(
        "revocation.cascade_access_tokens",
        p.revocation.refresh_revokes_access_tokens,
    );
    add(
        "revocation.access_revokes_refresh",
        p.revocation.access_revokes_refresh_token,
    );
    add("introspection.access_tokens", p.introspection.access_tokens);
    add(
        "introspection.refresh_tokens",
        p.introspection.refresh_tokens,
    );
    add(
        "introspection.any_client",
        p.introspection.callers == IntrospectionCallers::AnyClient,
    );
    add(
        "introspection.public_clients",
        p.introspects_tokens_of(true),
    );
    add("oidc.id_token_on_refresh", p.oidc.id_token_on_refresh);
    add("headers.pragma", p.pragma_no_cache);
    add("code.replay_revokes", p.code_replay_revokes);
    add(
        "refresh.previous_access_token_revoked",
        p.previous_access_token_revoked_on_refresh,
    );
    caps
}

/// The policy keys each derived capability comes from, so that a skip can name what to declare.
pub const POLICY_KEYS: &[(&str, &str)] = &[
    ("grant.*", "grants.*"),
    ("client_auth.client_secret_*", "clients.auth_methods"),
    ("client_auth.private_key_jwt", "clients.auth_methods"),
    ("client_auth.none", "clients.auth_methods"),
    ("refresh.public_clients", "refresh_tokens.public_clients"),
    ("refresh.rotation", "rotation"),
    ("refresh.rotation.public", "rotation"),
    ("refresh.no_rotation", "rotation"),
    ("refresh.unrotated_omitted", "unrotated_refresh_token"),
    ("refresh.grace", "grace"),
    ("refresh.reuse_detection", "rotation, reuse"),
    ("refresh.reuse_revokes_access_tokens", "rotation, reuse"),
    ("refresh.idle_timeout", "lifetimes.refresh_idle"),
    ("refresh.absolute_lifetime", "lifetimes.refresh_absolute"),
    (
        "refresh.rotation_resets_absolute",
        "lifetimes.rotation_resets_absolute",
    ),
    (
        "refresh.offline_access_required",
        "oidc.offline_access_required",
    ),
    (
        "refresh.previous_access_token_revoked",
        "previous_access_token_revoked_on_refresh",
    ),
    ("scope.escalation_*", "scope.escalation"),
    ("scope.narrowing", "scope.narrowing"),
    ("scope.always_echo", "scope.always_echo"),
    (
        "client_auth.enforce_registered_method",
        "clients.enforce_registered_method",
    ),
    (
        "client_auth.invalid_client_401",
        "clients.invalid_client_status",
    ),
    (
        "client_auth.public_requires_client_id",
        "clients.public_requires_client_id",
    ),
    ("pkce.required", "pkce.required_for"),
    ("pkce.required_public", "pkce.required_for"),
    ("pkce.plain", "pkce.plain_allowed"),
    ("dpop", "dpop.supported"),
    ("dpop.nonce", "dpop.supported, dpop.nonce_required"),
    (
        "dpop.bound_refresh_tokens",
        "dpop.supported, dpop.bind_public_refresh_tokens",
    ),
    ("introspection.access_tokens", "introspection.access_tokens"),
    (
        "introspection.refresh_tokens",
        "introspection.refresh_tokens",
    ),
    ("introspection.any_client", "introspection.callers"),
    (
        "introspection.public_clients",
        "introspection.public_clients, introspection.callers",
    ),
    (
        "revocation.cascade_access_tokens",
        "revocation.refresh_revokes_access_tokens",
    ),
    (
        "revocation.access_revokes_refresh",
        "revocation.access_revokes_refresh_token",
    ),
    ("oidc.id_token_on_refresh", "oidc.id_token_on_refresh"),
    ("headers.pragma", "pragma_no_cache"),
    ("code.replay_revokes", "code_replay_revokes"),
];

/// The policy keys a derived capability comes from (`None` for capabilities the profile gives).
/// An entry ending in `*` covers every capability it starts.
pub fn policy_keys(capability: &str) -> Option<&'static str> {
    POLICY_KEYS
        .iter()
        .find(|(c, _)| match c.strip_suffix('*') {
            Some(prefix) => capability.starts_with(prefix),
            None => *c == capability,
        })
        .map(|(_, k)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_differ_where_they_should() {
        let strict = from_policy(&Policy::preset("rfc9700").expect("preset"));
        assert!(strict.contains("refresh.rotation") && strict.contains("refresh.reuse_detection"));
        assert!(!strict.contains("grant.password"));
        let fapi = from_policy(&Policy::preset("fapi2").expect("preset"));
        assert!(fapi.contains("refresh.no_rotation") && !fapi.contains("refresh.reuse_detection"));
        assert!(fapi.contains("client_auth.private_key_jwt"));
        assert!(!fapi.contains("client_auth.client_secret_basic"));
        let base = from_policy(&Policy::preset("base").expect("preset"));
        assert!(base.contains("grant.token_exchange") && base.contains("grant.jwt_bearer"));
        assert!(base.contains("introspection.refresh_tokens"));
        assert!(base.contains("introspection.public_clients"));
        assert!(!base.contains("refresh.unrotated_omitted"));
    }

    #[test]
    fn owner_only_introspection_sees_no_public_client_tokens() {
        let p = Policy::from_yaml(
            "preset: base\nintrospection: { callers: owner, refresh_tokens: false }\n",
        )
        .expect("policy");
        let caps = from_policy(&p);
        assert!(caps.contains("introspection.access_tokens"));
        assert!(!caps.contains("introspection.refresh_tokens"));
        assert!(!caps.contains("introspection.any_client"));
        assert!(!caps.contains("introspection.public_clients"));
        assert!(p.introspects_tokens_of(false) && !p.introspects_tokens_of(true));
    }

    #[test]
    fn every_derived_capability_names_its_policy_keys() {
        // Every switch flipped from base, so every capability shows up in one of the two.
        let flipped = Policy::from_yaml(
            "preset: base
rotation: never
unrotated_refresh_token: omitted
grace: { seconds: 5, max_reuses: 1 }
lifetimes: { rotation_resets_absolute: true }
scope: { escalation: drop }
clients: { enforce_registered_method: true, public_requires_client_id: true }
pkce: { required_for: public, plain_allowed: true }
dpop: { nonce_required: true }
revocation: { access_revokes_refresh_token: true }
oidc: { offline_access_required: true }
previous_access_token_revoked_on_refresh: true
",
        )
        .expect("policy");
        for p in [Policy::preset("base").expect("preset"), flipped] {
            for c in from_policy(&p) {
                assert!(policy_keys(&c).is_some(), "{c} has no POLICY_KEYS entry");
            }
        }
        assert_eq!(policy_keys("test.clock"), None);
    }
}
