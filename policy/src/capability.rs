//! The capabilities a policy implies. Scenarios gate on capabilities (`requires:`, `unless:`,
//! `when:`); the harness adds the ones a target profile declares (endpoints, clients, a test
//! clock) and keeps the closed list of every name.

use crate::model::{PkceRequiredFor, Policy, ReuseResponse, RotationMode, ScopeEscalation};
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
    add("oidc.id_token_on_refresh", p.oidc.id_token_on_refresh);
    add("headers.pragma", p.pragma_no_cache);
    add("code.replay_revokes", p.code_replay_revokes);
    add(
        "refresh.previous_access_token_revoked",
        p.previous_access_token_revoked_on_refresh,
    );
    caps
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
    }
}
