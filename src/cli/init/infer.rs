//! What `tokencert init` concluded about the server's policy, with the evidence for each value,
//! and what the metadata alone says. Every value here is a guess for the user to confirm: the
//! draft writes each with its evidence as a comment.

use serde_json::Value;
use tokencert_policy::{AuthMethod, GrantType, PRESET_NAMES, Policy};

/// One policy value and why it was chosen.
#[derive(Debug, Clone)]
pub(super) struct Inferred {
    /// Dotted path under `policy:` (`rotation`, `grants.password`).
    pub key: &'static str,
    /// The value, as the policy file writes it.
    pub value: Value,
    /// What was observed.
    pub evidence: String,
}

/// Everything concluded so far.
#[derive(Debug, Default)]
pub(super) struct Findings {
    /// Policy values, in the order first set.
    pub inferred: Vec<Inferred>,
    /// What could not be probed, and why (written as comments).
    pub notes: Vec<String>,
    /// What makes the draft unusable as written (printed, and written at the top).
    pub warnings: Vec<String>,
}

impl Findings {
    /// Sets `key` (a later observation replaces an earlier one: a probe outranks the metadata).
    pub fn set(&mut self, key: &'static str, value: impl Into<Value>, evidence: impl Into<String>) {
        let i = Inferred {
            key,
            value: value.into(),
            evidence: evidence.into(),
        };
        match self.inferred.iter_mut().find(|x| x.key == key) {
            Some(old) => *old = i,
            None => self.inferred.push(i),
        }
    }

    /// The value inferred for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.inferred
            .iter()
            .find(|x| x.key == key)
            .map(|x| &x.value)
    }

    /// Notes that `what` was not probed, and why.
    pub fn note(&mut self, what: impl Into<String>) {
        self.notes.push(what.into());
    }

    /// Warns that the draft will not work as written.
    pub fn warn(&mut self, what: impl Into<String>) {
        self.warnings.push(what.into());
    }
}

/// The policy keys each grant type's switch lives under, by wire name.
pub(super) fn grant_key(g: GrantType) -> &'static str {
    match g {
        GrantType::AuthorizationCode => "grants.authorization_code",
        GrantType::Password => "grants.password",
        GrantType::ClientCredentials => "grants.client_credentials",
        GrantType::RefreshToken => "grants.refresh_token",
        GrantType::JwtBearer => "grants.jwt_bearer",
        GrantType::DeviceCode => "grants.device_code",
        GrantType::TokenExchange => "grants.token_exchange",
    }
}

/// What the metadata document says about the policy.
pub(super) fn from_metadata(meta: &Value, source: &str, f: &mut Findings) {
    let list = |name: &str| -> Option<Vec<&str>> {
        meta.get(name)?
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
    };
    if let Some(grants) = list("grant_types_supported") {
        for g in GrantType::ALL {
            let on = grants.contains(&g.as_str());
            let says = if on { "lists" } else { "does not list" };
            f.set(
                grant_key(g),
                on,
                format!("grant_types_supported in {source} {says} it"),
            );
        }
    }
    if let Some(methods) = list("token_endpoint_auth_methods_supported") {
        let known: Vec<&str> = AuthMethod::NAMES
            .iter()
            .copied()
            .filter(|m| methods.contains(m))
            .collect();
        f.set(
            "clients.auth_methods",
            known,
            format!("token_endpoint_auth_methods_supported in {source}"),
        );
    }
    if let Some(pkce) = list("code_challenge_methods_supported") {
        let says = if pkce.contains(&"plain") {
            "lists"
        } else {
            "does not list"
        };
        f.set(
            "pkce.plain_allowed",
            pkce.contains(&"plain"),
            format!("code_challenge_methods_supported in {source} {says} `plain`"),
        );
    }
    let dpop = list("dpop_signing_alg_values_supported").is_some_and(|a| !a.is_empty());
    f.set(
        "dpop.supported",
        dpop,
        format!(
            "{} dpop_signing_alg_values_supported in {source}",
            if dpop { "a" } else { "no" }
        ),
    );
}

/// The preset that agrees with most inferred values: `(name, agreeing, inferred)`.
pub(super) fn closest_preset(f: &Findings) -> (&'static str, usize, usize) {
    let mut best = (PRESET_NAMES[0], 0, f.inferred.len());
    for name in PRESET_NAMES {
        let Some(policy) = Policy::preset(name)
            .ok()
            .and_then(|p| serde_json::to_value(p).ok())
        else {
            continue;
        };
        let agree = f
            .inferred
            .iter()
            .filter(|i| lookup(&policy, i.key).is_some_and(|v| same(v, &i.value)))
            .count();
        if agree > best.1 {
            best = (name, agree, f.inferred.len());
        }
    }
    best
}

fn lookup<'v>(v: &'v Value, dotted: &str) -> Option<&'v Value> {
    dotted.split('.').try_fold(v, |v, k| v.get(k))
}

/// Equal, lists as sets.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_array(), b.as_array()) {
        (Some(x), Some(y)) => x.len() == y.len() && x.iter().all(|i| y.contains(i)),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn metadata_gives_grants_methods_pkce_and_dpop() {
        let mut f = Findings::default();
        let meta = json!({
            "token_endpoint": "https://as.example/token",
            "grant_types_supported": ["authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "tls_client_auth"],
            "code_challenge_methods_supported": ["S256"],
        });
        from_metadata(&meta, "the metadata", &mut f);
        assert_eq!(f.get("grants.device_code"), Some(&json!(true)));
        assert_eq!(f.get("grants.password"), Some(&json!(false)));
        assert_eq!(
            f.get("clients.auth_methods"),
            Some(&json!(["client_secret_basic", "private_key_jwt"]))
        );
        assert_eq!(f.get("pkce.plain_allowed"), Some(&json!(false)));
        assert_eq!(f.get("dpop.supported"), Some(&json!(false)));
        // A probe replaces what the metadata said, in place.
        f.set("grants.password", true, "the password grant answered 200");
        assert_eq!(f.get("grants.password"), Some(&json!(true)));
        assert_eq!(
            f.inferred
                .iter()
                .filter(|i| i.key == "grants.password")
                .count(),
            1
        );
    }

    #[test]
    fn the_closest_preset_agrees_most() {
        let mut f = Findings::default();
        f.set("rotation", "never", "");
        f.set("pkce.plain_allowed", true, "");
        f.set("dpop.supported", false, "");
        f.set("grants.password", true, "");
        assert_eq!(closest_preset(&f), ("rfc6749", 4, 4));
        let mut f = Findings::default();
        f.set("rotation", "always", "");
        f.set("grants.password", false, "");
        f.set("pkce.plain_allowed", false, "");
        assert_eq!(closest_preset(&f).0, "rfc9700");
    }
}
