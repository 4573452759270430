//! The vocabulary scenarios speak in: the scope a bootstrap is granted, a narrower subset of it, a
//! valid scope outside it, an unknown scope token, the offline scope, whether `openid` applies,
//! and the test user. Scenarios read it through the `scopes` and `test_user` template namespaces,
//! so the catalogue names no scope word, user or password of any one server.
//!
//! A value the profile neither declares nor lets us derive is absent: its capability
//! (`scopes.outside`, `test_user.password`…) is missing, so the scenarios that need it skip and
//! name the profile key, instead of failing against a server that answers `invalid_scope`.

use super::secret::Secret;
use serde_json::{Map, Value};

/// The scope word of OpenID Connect requests (OIDC Core §3.1.2.1: "OpenID Connect requests MUST
/// contain the openid scope value").
pub const OPENID: &str = "openid";
/// The scope word OpenID Connect ties refresh tokens to (OIDC Core §11: "offline_access … requests
/// that an OAuth 2.0 Refresh Token be issued").
pub const OFFLINE_ACCESS: &str = "offline_access";
/// The unknown scope token when the profile declares none: no server registers it.
pub const DEFAULT_UNKNOWN: &str = "tokencert:never-registered";

/// The keys of the profile's `scopes:` section.
pub const SCOPE_KEYS: &[&str] = &[
    "granted", "narrower", "outside", "unknown", "offline", "openid",
];

/// The fields of the `scopes` template namespace (some absent when not declared or derivable).
pub const SCOPE_FIELDS: &[&str] = &[
    "granted",
    "narrower",
    "rest",
    "outside",
    "unknown",
    "offline",
    "without_offline",
    "openid",
    "without_openid",
    "resource",
];

/// The fields of the `test_user` template namespace.
pub const TEST_USER_FIELDS: &[&str] = &["username", "password"];

/// The `scopes:` section as declared (every key optional).
#[derive(Debug, Clone, Default)]
pub struct ScopeVocabulary {
    /// What a bootstrap asks for and gets (default: the bootstrap scope).
    pub granted: Option<String>,
    /// A strict, non-empty subset of `granted` (default: `granted` without its last word that is
    /// neither `openid` nor the offline scope, when there is one).
    pub narrower: Option<String>,
    /// Valid scope the client may get but `granted` lacks, for escalation (never derived).
    pub outside: Option<String>,
    /// A scope token the server does not know (default [`DEFAULT_UNKNOWN`]).
    pub unknown: Option<String>,
    /// The scope a refresh token needs (default `offline_access` when `granted` has it).
    pub offline: Option<String>,
    /// Whether `openid` applies (default: `granted` has it).
    pub openid: Option<bool>,
}

/// A problem with the declared vocabulary, on one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VocabularyProblem {
    /// The `scopes:` key at fault.
    pub key: &'static str,
    /// What is wrong.
    pub message: String,
}

/// The vocabulary with its defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes {
    /// The granted scope's words.
    pub granted: Vec<String>,
    /// A strict subset of `granted`.
    pub narrower: Option<Vec<String>>,
    /// Scope outside `granted`.
    pub outside: Option<Vec<String>>,
    /// An unknown scope token.
    pub unknown: String,
    /// The offline scope word, where the server needs one.
    pub offline: Option<String>,
    /// `openid` applies.
    pub openid: bool,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

fn join(ws: &[String]) -> String {
    ws.join(" ")
}

impl ScopeVocabulary {
    /// The granted scope: declared, else the bootstrap scope.
    fn granted_words(&self, bootstrap_scope: &str) -> Vec<String> {
        words(self.granted.as_deref().unwrap_or(bootstrap_scope))
    }

    /// What is inconsistent in the declared keys (checked against the bootstrap scope when
    /// `granted` is not declared).
    pub fn problems(&self, bootstrap_scope: &str) -> Vec<VocabularyProblem> {
        let granted = self.granted_words(bootstrap_scope);
        let mut out = Vec::new();
        let mut bad = |key, message: String| out.push(VocabularyProblem { key, message });
        let shown = join(&granted);
        if let Some(n) = &self.narrower {
            let n = words(n);
            if n.is_empty() {
                bad("narrower", "`scopes.narrower` is empty".into());
            } else if let Some(w) = n.iter().find(|w| !granted.contains(w)) {
                bad(
                    "narrower",
                    format!("`scopes.narrower` has `{w}`, which the granted scope `{shown}` lacks"),
                );
            } else if granted.iter().all(|g| n.contains(g)) {
                bad(
                    "narrower",
                    format!(
                        "`scopes.narrower` is not a strict subset of the granted scope `{shown}`"
                    ),
                );
            }
        }
        if let Some(o) = &self.outside {
            let o = words(o);
            if o.is_empty() {
                bad("outside", "`scopes.outside` is empty".into());
            } else if let Some(w) = o.iter().find(|w| granted.contains(w)) {
                bad(
                    "outside",
                    format!("`scopes.outside` has `{w}`, which the granted scope `{shown}` has"),
                );
            }
        }
        if let Some(u) = &self.unknown {
            let u = words(u);
            if u.len() != 1 {
                bad("unknown", "`scopes.unknown` must be one scope token".into());
            } else if granted.contains(&u[0]) {
                bad(
                    "unknown",
                    format!(
                        "`scopes.unknown` `{}` is in the granted scope `{shown}`",
                        u[0]
                    ),
                );
            }
        }
        if let Some(o) = &self.offline {
            let o = words(o);
            if o.len() != 1 {
                bad("offline", "`scopes.offline` must be one scope token".into());
            } else if !granted.contains(&o[0]) {
                bad(
                    "offline",
                    format!(
                        "`scopes.offline` `{}` is not in the granted scope `{shown}`",
                        o[0]
                    ),
                );
            }
        }
        if self.openid == Some(true) && !granted.iter().any(|g| g == OPENID) {
            bad(
                "openid",
                format!("`scopes.openid` is true but the granted scope `{shown}` lacks `openid`"),
            );
        }
        out
    }

    /// Applies the defaults. Call after [`ScopeVocabulary::problems`] found none.
    pub fn resolve(&self, bootstrap_scope: &str) -> Scopes {
        let granted = self.granted_words(bootstrap_scope);
        let openid = self
            .openid
            .unwrap_or_else(|| granted.iter().any(|g| g == OPENID));
        let offline = match &self.offline {
            Some(o) => Some(o.trim().to_owned()),
            None => granted.iter().find(|g| *g == OFFLINE_ACCESS).cloned(),
        };
        let narrower = match &self.narrower {
            Some(n) => Some(words(n)),
            None => derive_narrower(&granted, offline.as_deref()),
        };
        Scopes {
            narrower,
            outside: self.outside.as_deref().map(words),
            unknown: self
                .unknown
                .as_deref()
                .map_or_else(|| DEFAULT_UNKNOWN.to_owned(), |u| u.trim().to_owned()),
            offline,
            openid,
            granted,
        }
    }
}

/// `granted` without its last word that is neither `openid` nor the offline scope (those two
/// change what the server issues, not just what the token may do).
fn derive_narrower(granted: &[String], offline: Option<&str>) -> Option<Vec<String>> {
    let drop = granted
        .iter()
        .rposition(|g| g != OPENID && Some(g.as_str()) != offline)?;
    let n: Vec<String> = granted
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != drop)
        .map(|(_, g)| g.clone())
        .collect();
    (!n.is_empty()).then_some(n)
}

impl Scopes {
    fn without(&self, drop: &[String]) -> String {
        join(
            &self
                .granted
                .iter()
                .filter(|g| !drop.contains(g))
                .cloned()
                .collect::<Vec<_>>(),
        )
    }

    /// The capabilities the vocabulary provides (`scopes.narrower`…).
    pub fn capabilities(&self) -> Vec<&'static str> {
        let mut caps = Vec::new();
        if self.narrower.is_some() {
            caps.push("scopes.narrower");
        }
        if self.outside.is_some() {
            caps.push("scopes.outside");
        }
        if self.offline.is_some() {
            caps.push("scopes.offline");
        }
        if self.openid {
            caps.push("scopes.openid");
        }
        caps
    }

    /// The granted scope without `openid` and the offline scope (possibly empty): what a client
    /// asks for on its own behalf, e.g. with client credentials.
    pub fn resource(&self) -> String {
        let mut user_words = vec![OPENID.to_owned()];
        user_words.extend(self.offline.clone());
        self.without(&user_words)
    }

    /// The `scopes` template namespace. `rest` is the granted words not in `narrower`;
    /// `without_offline` and `without_openid` are the granted scope without that word;
    /// `resource` is it without both (possibly empty): what a client asks for on its own behalf.
    pub fn template_value(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_owned(), Value::String(v));
        };
        put("granted", join(&self.granted));
        put("unknown", self.unknown.clone());
        put("without_openid", self.without(&[OPENID.to_owned()]));
        put("resource", self.resource());
        if let Some(n) = &self.narrower {
            put("narrower", join(n));
            put("rest", self.without(n));
        }
        if let Some(o) = &self.outside {
            put("outside", join(o));
        }
        if let Some(o) = &self.offline {
            put("offline", o.clone());
            put("without_offline", self.without(std::slice::from_ref(o)));
        }
        if self.openid {
            put("openid", OPENID.to_owned());
        }
        Value::Object(m)
    }
}

/// The user scenarios act as (login hint, password grant, device approval, assertion subject).
#[derive(Debug, Clone)]
pub struct TestUser {
    /// Login name.
    pub username: String,
    /// Password, where scenarios may use one.
    pub password: Option<Secret>,
}

impl TestUser {
    /// The capabilities the test user provides.
    pub fn capabilities(&self) -> Vec<&'static str> {
        let mut caps = vec!["test_user"];
        if self.password.is_some() {
            caps.push("test_user.password");
        }
        caps
    }

    /// The `test_user` template namespace (the password is registered with the redactor).
    pub fn template_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("username".into(), Value::String(self.username.clone()));
        if let Some(p) = &self.password {
            m.insert("password".into(), Value::String(p.expose().to_owned()));
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(granted: &str) -> ScopeVocabulary {
        ScopeVocabulary {
            granted: Some(granted.into()),
            ..ScopeVocabulary::default()
        }
    }

    #[test]
    fn defaults_derive_from_the_granted_scope() {
        let s = vocab("openid offline_access read write").resolve("");
        assert_eq!(
            s.narrower.as_deref().map(join).as_deref(),
            Some("openid offline_access read")
        );
        assert_eq!(s.offline.as_deref(), Some("offline_access"));
        assert!(s.openid && s.outside.is_none());
        let v = s.template_value();
        assert_eq!(v["rest"], "write");
        assert_eq!(v["without_openid"], "offline_access read write");
        assert_eq!(v["without_offline"], "openid read write");
        assert_eq!(v["resource"], "read write");
        assert_eq!(v["unknown"], DEFAULT_UNKNOWN);
        assert_eq!(
            s.capabilities(),
            ["scopes.narrower", "scopes.offline", "scopes.openid"]
        );
    }

    #[test]
    fn nothing_is_derived_from_a_bare_grant() {
        let s = ScopeVocabulary::default().resolve("openid offline_access");
        assert!(s.narrower.is_none() && s.outside.is_none());
        assert!(s.template_value().get("narrower").is_none());
        let s = ScopeVocabulary::default().resolve("read");
        assert!(s.offline.is_none() && !s.openid && s.capabilities().is_empty());
    }

    #[test]
    fn inconsistent_keys_are_problems() {
        let mut v = vocab("a b");
        v.narrower = Some("a b".into());
        v.outside = Some("b c".into());
        v.unknown = Some("a".into());
        v.offline = Some("c".into());
        v.openid = Some(true);
        let keys: Vec<&str> = v.problems("").iter().map(|p| p.key).collect();
        assert_eq!(
            keys,
            ["narrower", "outside", "unknown", "offline", "openid"]
        );
        v.narrower = Some("a c".into());
        assert!(v.problems("")[0].message.contains("`c`"));
        assert!(vocab("a b").problems("").is_empty());
    }
}
