//! The shipped presets: readable YAML files under `policy/presets/`, compiled in.
//!
//! Each preset lists only what differs from the one it `extends:`; `base.yaml` is the root.

use crate::model::{Policy, PolicyError};
use std::collections::BTreeMap;

/// The names of the shipped presets, in the order `--help` lists them.
pub const PRESET_NAMES: &[&str] = &[
    "rfc6749",
    "rfc9700",
    "rfc9700-grace",
    "oauth21",
    "oauth21-strict",
    "fapi2",
    "wso2",
    "wso2-no-renew",
    "auth0",
    "oracle-idcs",
];

/// The preset files' text, by name. `presets/base.yaml` is the root every preset extends.
fn preset_source(name: &str) -> Option<&'static str> {
    Some(match name {
        "base" => include_str!("../presets/base.yaml"),
        "rfc6749" => include_str!("../presets/rfc6749.yaml"),
        "rfc9700" => include_str!("../presets/rfc9700.yaml"),
        "rfc9700-grace" => include_str!("../presets/rfc9700-grace.yaml"),
        "oauth21" => include_str!("../presets/oauth21.yaml"),
        "oauth21-strict" => include_str!("../presets/oauth21-strict.yaml"),
        "fapi2" => include_str!("../presets/fapi2.yaml"),
        "wso2" => include_str!("../presets/wso2.yaml"),
        "wso2-no-renew" => include_str!("../presets/wso2-no-renew.yaml"),
        "auth0" => include_str!("../presets/auth0.yaml"),
        "oracle-idcs" => include_str!("../presets/oracle-idcs.yaml"),
        _ => return None,
    })
}

/// A preset's JSON value with its `extends:` chain applied.
pub(crate) fn preset_value(name: &str, depth: u8) -> Result<serde_json::Value, PolicyError> {
    let text = preset_source(name).ok_or_else(|| PolicyError::UnknownPreset {
        name: name.to_owned(),
        known: PRESET_NAMES.join(", "),
    })?;
    let mut value: serde_json::Value = serde_saphyr::from_str(text)
        .map_err(|e| PolicyError::Invalid(format!("preset {name}: {e}")))?;
    // `claims` belongs to the preset, not to the policy: each preset states its own.
    let parent = match &mut value {
        serde_json::Value::Object(map) => {
            map.remove("claims");
            map.remove("extends")
        }
        _ => None,
    };
    match parent {
        Some(serde_json::Value::String(parent)) if depth < 8 => {
            let mut base = preset_value(&parent, depth + 1)?;
            merge(&mut base, &value);
            Ok(base)
        }
        Some(_) => Err(PolicyError::Invalid(format!(
            "preset {name}: bad `extends`"
        ))),
        None => Ok(value),
    }
}

/// The standards a preset is meant for (its `claims:`), which a profile built on it may claim
/// and under which the preset's choices are all allowed. Not inherited through `extends`.
pub fn preset_claims(name: &str) -> Result<Vec<String>, PolicyError> {
    let text = preset_source(name).ok_or_else(|| PolicyError::UnknownPreset {
        name: name.to_owned(),
        known: PRESET_NAMES.join(", "),
    })?;
    let value: serde_json::Value = serde_saphyr::from_str(text)
        .map_err(|e| PolicyError::Invalid(format!("preset {name}: {e}")))?;
    match value.get("claims") {
        None => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    PolicyError::Invalid(format!("preset {name}: `claims` holds a non-string"))
                })
            })
            .collect(),
        Some(_) => Err(PolicyError::Invalid(format!(
            "preset {name}: `claims` must be a list of standard names"
        ))),
    }
}

/// Deep merge: objects merge key by key, anything else replaces.
pub(crate) fn merge(base: &mut serde_json::Value, over: &serde_json::Value) {
    match (base, over) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

/// Every preset, resolved, by name (for listings and tests).
pub fn all_presets() -> Result<BTreeMap<String, Policy>, PolicyError> {
    PRESET_NAMES
        .iter()
        .map(|n| Policy::preset(n).map(|p| ((*n).to_owned(), p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RotationMode;

    #[test]
    fn every_preset_resolves() {
        let all = all_presets().expect("presets resolve");
        assert_eq!(all.len(), PRESET_NAMES.len());
        assert_eq!(all["rfc9700"].rotation, RotationMode::Always);
        assert!(all["auth0"].oidc.offline_access_required);
        assert_eq!(all["wso2-no-renew"].rotation, RotationMode::Never);
        for name in PRESET_NAMES.iter().chain(&["base"]) {
            let claims = preset_claims(name).expect("claims");
            assert!(!claims.is_empty(), "{name} states no claims");
        }
        assert!(
            preset_claims("rfc9700")
                .expect("claims")
                .contains(&"rfc9700".to_owned())
        );
    }

    #[test]
    fn overrides_merge_deeply_and_unknown_keys_fail() {
        let p = Policy::from_yaml("preset: rfc9700\ngrace: { seconds: 10 }\n").expect("valid");
        assert_eq!(p.grace.seconds, 10);
        assert_eq!(p.name, "rfc9700");
        let e = Policy::from_yaml("preset: rfc9700\ngrace: { secnds: 10 }\n");
        assert!(matches!(e, Err(PolicyError::Invalid(_))));
        let e = Policy::from_yaml("preset: rfc9700\nclients: { auth_methods: [basic] }\n");
        assert!(matches!(e, Err(PolicyError::Invalid(m)) if m.contains("client_secret_basic")));
        let e = Policy::from_yaml("preset: nope\n");
        assert!(matches!(e, Err(PolicyError::UnknownPreset { .. })));
    }
}
