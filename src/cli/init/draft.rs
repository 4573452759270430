//! The draft profile as text. Written line by line so every inferred value can carry its
//! evidence as a comment (a YAML serializer drops comments); every scalar that is not a fixed
//! word of ours is quoted by the YAML crate, never by hand.

use super::discover::Kind;
use super::infer::Findings;
use serde_json::Value;
use std::fmt::Write as _;
use url::Url;

/// Where a value came from.
#[derive(Debug, Clone)]
pub(super) enum Origin {
    /// The command line.
    Given,
    /// A guess, with its evidence.
    Inferred(String),
    /// Nothing said otherwise: a default to replace.
    Placeholder(String),
}

impl Origin {
    fn comment(&self) -> String {
        match self {
            Origin::Given => "  # given".into(),
            Origin::Inferred(why) => format!("  # inferred, confirm: {}", printable(why, 240)),
            Origin::Placeholder(why) => format!("  # placeholder: {}", printable(why, 240)),
        }
    }
}

/// The test client as written.
#[derive(Debug, Clone)]
pub(super) struct ClientDraft {
    /// `client_id`.
    pub id: String,
    /// The environment variable holding its secret.
    pub secret_env: Option<String>,
    /// Its authentication method.
    pub auth_method: String,
    /// Why that method.
    pub auth_origin: Origin,
    /// Whether the id came from the command line.
    pub id_origin: Origin,
}

/// How the draft bootstraps a token family.
#[derive(Debug, Clone)]
pub(super) enum BootstrapDraft {
    /// Password grant with a test user.
    Password {
        /// The user.
        username: String,
        /// The environment variable holding the password.
        password_env: String,
    },
    /// Client credentials (no refresh token is expected).
    ClientCredentials,
}

impl BootstrapDraft {
    pub fn grant(&self) -> &'static str {
        match self {
            BootstrapDraft::Password { .. } => "password",
            BootstrapDraft::ClientCredentials => "client_credentials",
        }
    }
}

/// Endpoint names and URLs, as the metadata gives them.
pub(super) type Endpoints = Vec<(String, String)>;

/// Everything the draft says.
pub(super) struct Draft<'a> {
    pub name: String,
    pub issuer: &'a Url,
    /// What each discovery URL answered.
    pub tried: Vec<(Kind, Url, Result<(), String>)>,
    /// The metadata document used, and its endpoints (for a comment).
    pub discovery: Option<(Kind, Url, Endpoints)>,
    /// A token endpoint given instead of discovery.
    pub token_endpoint: Option<Url>,
    pub client: ClientDraft,
    pub bootstrap: BootstrapDraft,
    pub scope: Option<String>,
}

/// Top-level policy keys in the order the policy file has them.
const POLICY_ORDER: &[&str] = &[
    "grants",
    "refresh_tokens",
    "rotation",
    "unrotated_refresh_token",
    "grace",
    "reuse",
    "lifetimes",
    "scope",
    "clients",
    "pkce",
    "dpop",
    "revocation",
    "introspection",
    "oidc",
    "pragma_no_cache",
];

/// What no probe decides: left to the preset, named so the user confirms them too.
const NOT_INFERRED: &str = "reuse (a replay would be needed), grace, the refresh token \
     lifetimes (waiting them out would be needed), scope.escalation and scope.narrowing, \
     clients.enforce_registered_method, pkce.required_for, introspection.callers and \
     public_clients, revocation, oidc, code_replay_revokes";

impl Draft<'_> {
    /// The profile text; `policy` adds the preset and the inferred values.
    pub fn render(&self, policy: Option<(&str, usize, usize, &Findings)>) -> String {
        let mut out = String::new();
        let w = &mut out;
        line(
            w,
            &format!(
                "# Draft target profile for {}, written by `tokencert init`.",
                printable(self.issuer.as_str(), 200)
            ),
        );
        line(w, "#");
        line(
            w,
            "# Every value commented `inferred, confirm` is a guess from the server's metadata or from a",
        );
        line(
            w,
            "# probe with the test client: confirm each against the server's configuration before",
        );
        line(
            w,
            "# trusting a run. An inferred policy is a starting point, not a judgement. No secret is",
        );
        line(
            w,
            "# written here: secrets are read from the environment variables named below.",
        );
        line(w, "#");
        if let Some((_, _, _, f)) = policy {
            for warning in &f.warnings {
                line(w, &format!("# WARNING: {}", printable(warning, 400)));
            }
        }
        for (kind, url, got) in &self.tried {
            let what = match got {
                Ok(()) => "answered with the metadata".to_owned(),
                Err(e) => printable(e, 120),
            };
            line(
                w,
                &format!(
                    "# discovery ({}): {}: {what}",
                    kind.name(),
                    printable(url.as_str(), 200)
                ),
            );
        }
        line(w, &format!("name: {}", scalar(&self.name)));
        line(w, &format!("base_url: {}", scalar(self.issuer.as_str())));
        match (&self.discovery, &self.token_endpoint) {
            (_, Some(token)) => {
                line(w, "endpoints:");
                line(
                    w,
                    &format!(
                        "  token: {}{}",
                        scalar(token.as_str()),
                        Origin::Given.comment()
                    ),
                );
            }
            (Some((kind, url, endpoints)), None) => {
                let why = format!("{url} answered with the {} metadata", kind.name());
                line(
                    w,
                    &format!(
                        "discovery: {}{}",
                        scalar(url.as_str()),
                        Origin::Inferred(why).comment()
                    ),
                );
                if !endpoints.is_empty() {
                    let list: Vec<String> = endpoints
                        .iter()
                        .map(|(n, u)| format!("{n} {}", printable(u, 200)))
                        .collect();
                    line(w, &format!("# endpoints it names: {}", list.join(", ")));
                }
            }
            (None, None) => {}
        }
        self.clients(w);
        self.bootstrap(w);
        line(
            w,
            "# scopes:             # the vocabulary scenarios use instead of scope words (README)",
        );
        line(
            w,
            "#   narrower: …       # a strict subset of the bootstrap scope",
        );
        line(
            w,
            "#   outside: …        # a valid scope the bootstrap is not granted",
        );
        line(
            w,
            "# claims: …           # what the vendor claims the server supports (specs/README.md)",
        );
        if let Some((preset, agree, total, f)) = policy {
            Self::policy(w, preset, agree, total, f);
        }
        out
    }

    fn clients(&self, w: &mut String) {
        let c = &self.client;
        line(w, "clients:");
        line(w, "  confidential:");
        line(
            w,
            &format!("    id: {}{}", scalar(&c.id), c.id_origin.comment()),
        );
        if let Some(env) = &c.secret_env {
            line(
                w,
                &format!(
                    "    secret: {{ env: {} }}{}",
                    scalar(env),
                    Origin::Given.comment()
                ),
            );
        }
        line(
            w,
            &format!(
                "    auth_method: {}{}",
                scalar(&c.auth_method),
                c.auth_origin.comment()
            ),
        );
        line(
            w,
            "  # More roles let more scenarios run (README, \"Writing a target profile\"):",
        );
        line(
            w,
            "  # confidential2 (another client, for cross-client checks), public and public2",
        );
        line(
            w,
            "  # (public clients with a redirect_uri), no_refresh (a client given no refresh token).",
        );
    }

    fn bootstrap(&self, w: &mut String) {
        line(w, "bootstrap:");
        line(
            w,
            &format!("  grant: {}{}", self.bootstrap.grant(), match self.bootstrap {
            BootstrapDraft::Password { .. } => Origin::Given.comment(),
            BootstrapDraft::ClientCredentials => Origin::Placeholder(
                "no test user was given; client_credentials returns no refresh token, so most \
                 scenarios skip: use password, or authorization_code with a login hook".into(),
            )
            .comment(),
        }),
        );
        if let BootstrapDraft::Password {
            username,
            password_env,
        } = &self.bootstrap
        {
            line(
                w,
                &format!(
                    "  username: {}{}",
                    scalar(username),
                    Origin::Given.comment()
                ),
            );
            line(
                w,
                &format!(
                    "  password: {{ env: {} }}{}",
                    scalar(password_env),
                    Origin::Given.comment()
                ),
            );
        }
        if let Some(s) = &self.scope {
            line(
                w,
                &format!("  scope: {}{}", scalar(s), Origin::Given.comment()),
            );
        }
    }

    fn policy(w: &mut String, preset: &str, agree: usize, total: usize, f: &Findings) {
        line(w, "policy:");
        let why = format!(
            "the preset closest to what was seen ({agree} of {total} inferred values agree)"
        );
        line(
            w,
            &format!("  preset: {preset}{}", Origin::Inferred(why).comment()),
        );
        let mut items: Vec<&super::infer::Inferred> = f.inferred.iter().collect();
        let top = |key: &str| key.split('.').next().unwrap_or(key).to_owned();
        let rank = |key: &str| {
            POLICY_ORDER
                .iter()
                .position(|k| *k == top(key))
                .unwrap_or(usize::MAX)
        };
        items.sort_by_key(|i| rank(i.key));
        let mut open: Option<String> = None;
        for i in items {
            let comment = Origin::Inferred(i.evidence.clone()).comment();
            match i.key.split_once('.') {
                Some((group, leaf)) => {
                    if open.as_deref() != Some(group) {
                        line(w, &format!("  {group}:"));
                        open = Some(group.to_owned());
                    }
                    line(w, &format!("    {leaf}: {}{comment}", value(&i.value)));
                }
                None => {
                    open = None;
                    line(w, &format!("  {}: {}{comment}", i.key, value(&i.value)));
                }
            }
        }
        line(
            w,
            &format!("  # Not inferred, left to the preset (confirm them too): {NOT_INFERRED}."),
        );
        for n in &f.notes {
            line(w, &format!("  # Not probed: {}", printable(n, 300)));
        }
    }
}

fn line(w: &mut String, text: &str) {
    let _ = writeln!(w, "{text}");
}

/// A policy value: booleans, numbers and our own enum words plain, lists in flow style.
fn value(v: &Value) -> String {
    match v {
        Value::String(s) => scalar(s),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(value).collect::<Vec<_>>().join(", ")
        ),
        Value::Null => "~".into(),
        other => other.to_string(),
    }
}

/// A string as one YAML scalar, quoted by the YAML crate when it needs to be.
pub(super) fn scalar(s: &str) -> String {
    serde_saphyr::to_string(&s)
        .map(|t| t.trim_end_matches('\n').to_owned())
        .unwrap_or_else(|_| format!("{:?}", s))
}

/// Text safe inside a YAML comment and one line: control characters become spaces, at most
/// `max` characters (server-controlled text ends up in comments).
pub(super) fn printable(s: &str, max: usize) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.chars().count() > max {
        format!("{}…", clean.chars().take(max).collect::<String>())
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_quoted_when_they_must_be() {
        for s in [
            "plain",
            "true",
            "123",
            "a: b",
            "# no",
            "with \"quotes\"",
            "",
            "x\ny",
            "~",
            "[x]",
        ] {
            let text = format!("v: {}\n", scalar(s));
            let back = crate::yaml::parse(&text)
                .ok()
                .and_then(|n| n.get("v").map(|v| v.to_json()));
            assert_eq!(back, Some(Value::String(s.to_owned())), "{s:?} as {text}");
        }
        assert_eq!(scalar("plain"), "plain");
        assert_eq!(printable("a\nb\u{1b}[31m", 100), "a b [31m");
    }
}
