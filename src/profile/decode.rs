//! YAML tree → target profile, collecting every error with its location and a hint.

use super::env::Env;
use super::model::*;
use super::secret::Secret;
use super::vocabulary::{SCOPE_KEYS, ScopeVocabulary, TEST_USER_FIELDS, TestUser};
use crate::capability;
use crate::diagnostic::{Diagnostic, hint_for};
use crate::scenario::decode::{AUTH_METHODS, ENDPOINTS};
use crate::yaml::{self, Dec, Kind, Loc, Node, Source};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use tokencert_policy::Policy;

pub(crate) const TOP_KEYS: &[&str] = &[
    "name",
    "base_url",
    "discovery",
    "endpoints",
    "test_clock",
    "insecure",
    "timeout",
    "clients",
    "bootstrap",
    "policy",
    "claims",
    "capabilities",
    "deviations",
    "scopes",
    "test_user",
    "target",
    "kind",
];
pub(crate) const CLIENT_KEYS: &[&str] = &[
    "id",
    "secret",
    "auth_method",
    "private_key",
    "assertion_audience",
    "redirect_uri",
    "scope",
    "bootstrap",
];
pub(crate) const BOOTSTRAP_KEYS: &[&str] = &[
    "grant",
    "scope",
    "username",
    "password",
    "authorize_params",
    "command",
    "approve",
    "assertion_key",
    "assertion_issuer",
    "assertion_subject",
    "assertion_audience",
    "refresh_token",
];
/// Each bootstrap grant with the keys it reads besides `grant` and `scope` (a key of another grant
/// is an error: it would be ignored).
pub(crate) const GRANT_KEYS: &[(&str, &[&str])] = &[
    ("password", &["username", "password"]),
    ("authorization_code", &["authorize_params", "command"]),
    ("device_code", &["approve", "command"]),
    (
        "jwt_bearer",
        &[
            "assertion_key",
            "assertion_issuer",
            "assertion_subject",
            "assertion_audience",
        ],
    ),
    ("refresh_token", &["refresh_token"]),
    ("client_credentials", &[]),
];
pub(crate) const SECRET_KEYS: &[&str] = &["env", "file"];
pub(crate) const BASE_URL_KEYS: &[&str] = &["env", "default"];
pub(crate) const CAPABILITY_KEYS: &[&str] = &["add", "remove"];
pub(crate) const APPROVE_KEYS: &[&str] = &["url", "method", "form"];
pub(crate) const DEVIATION_KEYS: &[&str] = &["scenario", "cell", "reason"];
/// Roles that must be a client of their own: the cross-client scenarios present another role's
/// token with them and expect a refusal, which one client sharing its id would rightly not give.
const OWN_CLIENT_ROLES: &[&str] = &["confidential2", "public2", "no_refresh"];

impl Target {
    /// Loads a profile file.
    pub fn load(path: &Path, env: &dyn Env) -> Result<Target, TargetError> {
        let display = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            TargetError::Invalid(vec![Diagnostic::file_error(
                &display,
                format!("cannot read: {e}"),
            )])
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Target::parse(Source::new(display, text), base, env)
    }

    /// Parses a profile; relative `file:` secrets resolve against `base_dir`.
    pub fn parse(source: Source, base_dir: &Path, env: &dyn Env) -> Result<Target, TargetError> {
        let node = yaml::parse(&source.text).map_err(|e| {
            TargetError::Invalid(vec![Diagnostic::error(
                &source,
                e.loc,
                format!("invalid YAML: {}", e.message),
            )])
        })?;
        let mut p = ProfileDecoder {
            dec: Dec::new(&source),
            env,
            base_dir,
            missing: Vec::new(),
        };
        let target = p.target(&node).map(|mut t| {
            t.source = Some(source.clone());
            t
        });
        if !p.dec.errors.is_empty() {
            return Err(TargetError::Invalid(p.dec.errors));
        }
        if !p.missing.is_empty() {
            return Err(TargetError::MissingSecret(p.missing));
        }
        target.ok_or_else(|| TargetError::Invalid(Vec::new()))
    }
}

struct ProfileDecoder<'a> {
    dec: Dec<'a>,
    env: &'a dyn Env,
    base_dir: &'a Path,
    /// Every secret the environment lacks, at its place (all of them, not the first).
    missing: Vec<Diagnostic>,
}

impl ProfileDecoder<'_> {
    /// Records a value the environment lacks, at `loc` in the profile.
    fn missing(&mut self, loc: Loc, message: String, label: impl Into<String>) {
        self.missing
            .push(Diagnostic::error(self.dec.src, loc, message).with_label(label));
    }

    fn secret(&mut self, node: &Node, what: &str) -> Option<Secret> {
        match &node.kind {
            Kind::Str(s) => Some(Secret::new(s.clone())),
            Kind::Map(_) => {
                let entries = self.dec.map(node, what, SECRET_KEYS)?;
                let (k, v) = entries.first()?;
                let name = self.dec.string(v, &k.name)?;
                match k.name.as_str() {
                    "env" => match self.env.var(&name) {
                        Some(val) => Some(Secret::new(val)),
                        None => {
                            self.missing(
                                v.loc,
                                format!("{what}: environment variable `{name}` is not set"),
                                format!("export {name} before the run"),
                            );
                            Some(Secret::new(String::new()))
                        }
                    },
                    // `validate` reads no secret file either: it may live elsewhere in CI.
                    "file" if self.env.is_placeholder() => {
                        Some(Secret::new(format!("placeholder-for-{name}")))
                    }
                    "file" => {
                        let path = self.base_dir.join(&name);
                        match std::fs::read_to_string(&path) {
                            Ok(val) => Some(Secret::new(val)),
                            Err(e) => {
                                self.missing(
                                    v.loc,
                                    format!("{what}: cannot read `{}`: {e}", path.display()),
                                    "the path is relative to the profile's directory",
                                );
                                Some(Secret::new(String::new()))
                            }
                        }
                    }
                    _ => None,
                }
            }
            _ => {
                self.dec.err(
                    node.loc,
                    format!("`{what}` must be a string, `{{ env: NAME }}` or `{{ file: PATH }}`"),
                );
                None
            }
        }
    }

    fn url(&mut self, node: &Node, what: &str, base: Option<&url::Url>) -> Option<url::Url> {
        let s = self.dec.string(node, what)?;
        self.url_text(&s, node.loc, what, base)
    }

    fn url_text(
        &mut self,
        s: &str,
        loc: Loc,
        what: &str,
        base: Option<&url::Url>,
    ) -> Option<url::Url> {
        let parsed = match base {
            Some(b) => b.join(s),
            None => url::Url::parse(s),
        };
        match parsed {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
            Ok(u) => {
                self.dec.err(
                    loc,
                    format!("`{what}`: scheme `{}` is not http or https", u.scheme()),
                );
                None
            }
            Err(e) => {
                self.dec
                    .err(loc, format!("`{what}`: `{s}` is not a URL ({e})"))
                    .label = Some("write e.g. `https://as.example.com`".into());
                None
            }
        }
    }

    /// `base_url`: a URL, or `{ env: NAME }` (with an optional `default`), so one profile
    /// serves a server on whatever port it was started on.
    fn base_url(&mut self, node: &Node) -> Option<url::Url> {
        if node.as_map().is_none() {
            return self.url(node, "base_url", None);
        }
        let entries = self.dec.map(node, "base_url", BASE_URL_KEYS)?;
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.name == k)
                .map(|(_, v)| v)
        };
        let default = get("default").and_then(|d| self.url(d, "base_url.default", None));
        let Some(env_node) = get("env") else {
            self.dec
                .err(node.loc, "`base_url` needs `env` (or is a URL)")
                .label = Some(
                "e.g. `base_url: { env: AS_BASE_URL, default: http://127.0.0.1:8080 }`".into(),
            );
            return None;
        };
        let name = self.dec.string(env_node, "base_url.env")?;
        if self.env.is_placeholder() {
            // `validate` knows no environment: the default, else any URL, checks the rest.
            return default.or_else(|| url::Url::parse("http://base-url.invalid/").ok());
        }
        match self.env.var(&name) {
            Some(v) => match url::Url::parse(&v) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
                _ => {
                    self.missing(
                        env_node.loc,
                        format!(
                            "base_url: environment variable `{name}` is `{v}`, not an http(s) URL"
                        ),
                        "e.g. `http://127.0.0.1:8080`",
                    );
                    default.or_else(|| url::Url::parse("http://base-url.invalid/").ok())
                }
            },
            None if default.is_some() => default,
            None => {
                self.missing(
                    env_node.loc,
                    format!("base_url: environment variable `{name}` is not set"),
                    format!("export {name}, or give a `default`"),
                );
                url::Url::parse("http://base-url.invalid/").ok()
            }
        }
    }

    /// Scenario keys in a profile: one error naming them all (the file mixes two kinds), and the
    /// keys to accept so they are not reported once more as unknown.
    fn scenario_keys(&mut self, node: &Node) -> Vec<&'static str> {
        use crate::scenario::decode::{FIXTURE_KEYS, SCENARIO_KEYS};
        let mut theirs: Vec<&'static str> = SCENARIO_KEYS.to_vec();
        theirs.extend(FIXTURE_KEYS);
        let found = crate::scenario::load::foreign_keys(node, TOP_KEYS, &theirs);
        let Some(first) = found.first() else {
            return Vec::new();
        };
        let (n, list) = (found.len(), crate::scenario::load::key_list(&found));
        let what = if n == 1 {
            "is a scenario key"
        } else {
            "are scenario keys"
        };
        let d = self
            .dec
            .err(first.loc, format!("{list} {what}, not target profile keys"));
        d.label = Some("a file is either a scenario or a target profile".into());
        d.help = Some("this file is read as a target profile (it has `base_url` or `clients`, or was given to --target); put the scenario in a file of its own, or write `kind: scenario` if the whole file is one".into());
        theirs
    }

    fn target(&mut self, node: &Node) -> Option<Target> {
        if let Some(k) = node.get("kind")
            && k.as_str() != Some("profile")
        {
            let written = k.scalar_text().unwrap_or_default();
            self.dec
                .err(
                    k.loc,
                    format!("this file says `kind: {written}`: it is not a target profile"),
                )
                .label = Some("a target profile has `kind: profile`, or no `kind`".into());
        }
        let mut allowed = TOP_KEYS.to_vec();
        allowed.extend(self.scenario_keys(node));
        let entries = self.dec.map(node, "target profile", &allowed)?;
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.name == k)
                .map(|(_, v)| v)
        };
        let Some(base_node) = get("base_url") else {
            self.dec
                .err(node.loc, "a target profile needs `base_url`")
                .label = Some("e.g. `base_url: https://as.example.com`".into());
            return None;
        };
        let base_url = self.base_url(base_node);
        let base_for_join = base_url.as_ref().map(|b| {
            let mut b = b.clone();
            if !b.path().ends_with('/') {
                b.set_path(&format!("{}/", b.path()));
            }
            b
        });
        let mut t = Target {
            name: String::from("target"),
            base_url: base_url.clone().unwrap_or_else(|| {
                url::Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable_url())
            }),
            issuer: None,
            discovery: None,
            endpoints: BTreeMap::new(),
            clients: BTreeMap::new(),
            bootstrap: Bootstrap::RefreshToken {
                token: Secret::new(""),
            },
            scope: String::new(),
            scopes: ScopeVocabulary::default(),
            test_user: None,
            authorization: None,
            policy: Policy::preset("rfc6749").ok()?,
            add_capabilities: Vec::new(),
            remove_capabilities: Vec::new(),
            claims: Vec::new(),
            deviations: Vec::new(),
            test_clock: None,
            insecure: false,
            timeout: Duration::from_secs(10),
            max_response: crate::http::BodyLimit::DEFAULT,
            flaws: Vec::new(),
            source: None,
        };
        let join = |p: &mut Self, v: &Node, what: &str| p.url(v, what, base_for_join.as_ref());
        let mut saw_bootstrap = false;
        let mut scope_locs: Vec<(String, Loc)> = Vec::new();
        for (k, v) in entries {
            match k.name.as_str() {
                "name" | "target" => t.name = self.dec.string(v, "name").unwrap_or_default(),
                "discovery" => match &v.kind {
                    Kind::Bool(true) => {
                        t.discovery = base_for_join
                            .as_ref()
                            .and_then(|b| b.join(".well-known/oauth-authorization-server").ok());
                    }
                    Kind::Bool(false) => {}
                    _ => t.discovery = join(self, v, "discovery"),
                },
                "endpoints" => {
                    if let Some(es) = self.dec.map(v, "endpoints", ENDPOINTS) {
                        for (ek, ev) in es {
                            if let Some(u) = join(self, ev, &ek.name) {
                                t.endpoints.insert(ek.name.clone(), u);
                            }
                        }
                    }
                }
                "test_clock" => t.test_clock = join(self, v, "test_clock"),
                "insecure" => t.insecure = self.dec.boolean(v, "insecure").unwrap_or(false),
                "timeout" => {
                    if let Some(d) = self.dec.duration(v, "timeout") {
                        t.timeout = d;
                    }
                }
                "clients" => self.clients(v, &mut t, base_for_join.as_ref()),
                "bootstrap" => {
                    saw_bootstrap = true;
                    let (b, scope) = self.bootstrap(v, "bootstrap", base_for_join.as_ref());
                    if let Some(b) = b {
                        t.bootstrap = b;
                    }
                    if let Some((scope, _)) = scope {
                        t.scope = scope;
                    }
                }
                "policy" => {
                    if let Some(p) = self.policy(v) {
                        t.policy = p;
                    }
                }
                "claims" => self.claims(v, &mut t),
                "capabilities" => {
                    if let Some(cs) = self.dec.map(v, "capabilities", CAPABILITY_KEYS) {
                        for (ck, cv) in cs {
                            let gates = self.dec.gates(cv, &ck.name);
                            for g in &gates {
                                if !capability::is_known(&g.name) {
                                    let names = capability::all_names();
                                    let refs: Vec<&str> =
                                        names.iter().map(String::as_str).collect();
                                    self.dec
                                        .err(g.loc, format!("unknown capability `{}`", g.name))
                                        .label = Some(hint_for(&g.name, &refs));
                                } else if g.name == capability::INTROSPECTION_CELL_CLIENT {
                                    self.dec
                                        .err(g.loc, format!("`{}` is decided per matrix cell", g.name))
                                        .label = Some(
                                        "declare the policy's `introspection.callers` and `introspection.public_clients` instead".into(),
                                    );
                                }
                            }
                            let names = gates.into_iter().map(|g| g.name);
                            if ck.name == "add" {
                                t.add_capabilities.extend(names);
                            } else {
                                t.remove_capabilities.extend(names);
                            }
                        }
                    }
                }
                "deviations" => self.deviations(v, &mut t),
                "scopes" => {
                    scope_locs.push((String::new(), k.loc));
                    self.scopes(v, &mut t, &mut scope_locs);
                }
                "test_user" => self.test_user(v, &mut t),
                _ => {}
            }
        }
        // Checked after the loop: the granted scope defaults to the bootstrap scope.
        for problem in t.scopes.problems(&t.scope) {
            let loc = scope_locs
                .iter()
                .find(|(key, _)| key == problem.key)
                .or_else(|| scope_locs.first())
                .map_or(node.loc, |(_, l)| *l);
            self.dec.err(loc, problem.message).label = Some(match problem.key {
                "narrower" => "name some, not all, of the granted scope's words".into(),
                "outside" => {
                    "name scope the client may get but the bootstrap is not granted".into()
                }
                _ => "see the `scopes:` section in specs/README.md".into(),
            });
        }
        if !saw_bootstrap {
            self.dec.err(node.loc, "a target profile needs `bootstrap`").label = Some(
                "say how to get a fresh token family, e.g. `bootstrap: { grant: password, username: …, password: { env: … } }`".into(),
            );
        }
        if t.clients.is_empty() && !entries.iter().any(|(k, _)| k.name == "clients") {
            self.dec.err(node.loc, "a target profile needs `clients`");
        }
        if !t.endpoints.contains_key("token") && t.discovery.is_none() {
            self.dec.err(
                node.loc,
                "no token endpoint: set `endpoints.token` or `discovery: true`",
            );
        }
        base_url.map(|_| t)
    }

    /// Roles may share a client id (one client used two ways), except those of
    /// [`OWN_CLIENT_ROLES`].
    fn shared_ids(&mut self, node: &Node, t: &Target) {
        for (k, v) in node.as_map().unwrap_or_default() {
            let Some(c) = t.clients.get(&k.name) else {
                continue;
            };
            let others: Vec<&str> = t
                .clients
                .values()
                .filter(|o| o.role != c.role && o.id == c.id)
                .map(|o| o.role.as_str())
                .collect();
            if others.is_empty() || !OWN_CLIENT_ROLES.contains(&c.role.as_str()) {
                continue;
            }
            let at = v.get("id").map_or(k.loc, |n| n.loc);
            self.dec
                .err(
                    at,
                    format!(
                        "client `{}` has the id of `{}`: it must be a client of its own",
                        c.role,
                        others.join("`, `")
                    ),
                )
                .label = Some(
                "the cross-client scenarios present another role's tokens with it and expect a refusal"
                    .into(),
            );
        }
    }

    fn clients(&mut self, node: &Node, t: &mut Target, base: Option<&url::Url>) {
        let Some(entries) = node.as_map() else {
            self.dec
                .err(node.loc, "`clients` must be a mapping of role to client");
            return;
        };
        let roles: Vec<&str> = capability::CLIENT_ROLES.iter().map(|(r, _)| *r).collect();
        for (k, v) in entries {
            if !roles.contains(&k.name.as_str()) {
                self.dec
                    .err(k.loc, format!("unknown client role `{}`", k.name))
                    .label = Some(hint_for(&k.name, &roles));
            }
            let Some(fields) = self.dec.map(v, &format!("clients.{}", k.name), CLIENT_KEYS) else {
                continue;
            };
            let mut c = ClientConfig {
                role: k.name.clone(),
                id: String::new(),
                secret: None,
                auth_method: "client_secret_basic".into(),
                public: false,
                private_key: None,
                assertion_audience: "token_endpoint".into(),
                redirect_uri: None,
                scope: None,
                bootstrap: None,
            };
            let mut has_id = false;
            let mut scopes_at: Vec<Loc> = Vec::new();
            let mut code_flow_at = None;
            for (fk, fv) in fields {
                match fk.name.as_str() {
                    "id" => {
                        has_id = true;
                        c.id = self.dec.string(fv, "id").unwrap_or_default();
                    }
                    "secret" => c.secret = self.secret(fv, &format!("clients.{}.secret", k.name)),
                    "auth_method" => {
                        if let Some(m) = self.dec.string(fv, "auth_method") {
                            if !AUTH_METHODS.contains(&m.as_str()) {
                                self.dec
                                    .err(fv.loc, format!("unknown auth method `{m}`"))
                                    .label = Some(hint_for(&m, AUTH_METHODS));
                            }
                            c.auth_method = m;
                        }
                    }
                    "private_key" => {
                        c.private_key = self.secret(fv, &format!("clients.{}.private_key", k.name))
                    }
                    "assertion_audience" => {
                        c.assertion_audience = self
                            .dec
                            .string(fv, "assertion_audience")
                            .unwrap_or_default()
                    }
                    "redirect_uri" => c.redirect_uri = self.dec.string(fv, "redirect_uri"),
                    "scope" => {
                        scopes_at.push(fv.loc);
                        c.scope = self.dec.string(fv, "scope");
                    }
                    "bootstrap" => {
                        let what = format!("clients.{}.bootstrap", k.name);
                        let (b, scope) = self.bootstrap(fv, &what, base);
                        if let Some((scope, at)) = scope {
                            scopes_at.push(at);
                            c.scope = Some(scope);
                        }
                        if matches!(b, Some(Bootstrap::AuthorizationCode { .. })) {
                            code_flow_at = fv.get("grant").map(|g| g.loc);
                        }
                        c.bootstrap = b;
                    }
                    _ => {}
                }
            }
            c.public = c.auth_method == "none";
            if let [_, second, ..] = scopes_at.as_slice() {
                self.dec
                    .err(
                        *second,
                        format!("client `{}` sets its bootstrap scope twice", k.name),
                    )
                    .label = Some(
                    "keep `scope` or `bootstrap.scope`: both say what this client asks for".into(),
                );
            }
            if let Some(at) = code_flow_at
                && c.redirect_uri.is_none()
            {
                self.dec
                    .err(
                        at,
                        format!(
                            "client `{}` bootstraps with the code flow but has no `redirect_uri`",
                            k.name
                        ),
                    )
                    .label = Some("add the client's registered `redirect_uri`".into());
            }
            if !has_id {
                self.dec
                    .err(k.loc, format!("client `{}` needs an `id`", k.name));
            }
            let needs_secret = matches!(
                c.auth_method.as_str(),
                "client_secret_basic" | "client_secret_post" | "client_secret_jwt"
            );
            if needs_secret && c.secret.is_none() {
                self.dec
                    .err(
                        k.loc,
                        format!(
                            "client `{}` uses {} but has no `secret`",
                            k.name, c.auth_method
                        ),
                    )
                    .label = Some("add `secret: { env: NAME }`".into());
            }
            if c.auth_method == "private_key_jwt" && c.private_key.is_none() {
                self.dec
                    .err(
                        k.loc,
                        format!(
                            "client `{}` uses private_key_jwt but has no `private_key`",
                            k.name
                        ),
                    )
                    .label = Some("add `private_key: { file: key.pem }` (PKCS#8 PEM)".into());
            }
            t.clients.insert(k.name.clone(), c);
        }
        self.shared_ids(node, t);
    }

    fn scopes(&mut self, node: &Node, t: &mut Target, locs: &mut Vec<(String, Loc)>) {
        let Some(entries) = self.dec.map(node, "scopes", SCOPE_KEYS) else {
            return;
        };
        for (k, v) in entries {
            locs.push((k.name.clone(), v.loc));
            let what = format!("scopes.{}", k.name);
            let s = &mut t.scopes;
            match k.name.as_str() {
                "granted" => s.granted = self.dec.string(v, &what),
                "narrower" => s.narrower = self.dec.string(v, &what),
                "outside" => s.outside = self.dec.string(v, &what),
                "unknown" => s.unknown = self.dec.string(v, &what),
                "offline" => s.offline = self.dec.string(v, &what),
                "openid" => s.openid = self.dec.boolean(v, &what),
                _ => {}
            }
        }
    }

    fn test_user(&mut self, node: &Node, t: &mut Target) {
        let Some(entries) = self.dec.map(node, "test_user", TEST_USER_FIELDS) else {
            return;
        };
        let mut user = TestUser {
            username: String::new(),
            password: None,
        };
        let mut has_name = false;
        for (k, v) in entries {
            match k.name.as_str() {
                "username" => {
                    has_name = true;
                    user.username = self.dec.string(v, "test_user.username").unwrap_or_default();
                }
                "password" => user.password = self.secret(v, "test_user.password"),
                _ => {}
            }
        }
        if has_name {
            t.test_user = Some(user);
        } else {
            self.dec.err(node.loc, "`test_user` needs `username`");
        }
    }

    /// A bootstrap grant, the profile's (`what` = `bootstrap`) or a role's
    /// (`clients.<role>.bootstrap`): the grant, and its `scope` with where it is written.
    fn bootstrap(
        &mut self,
        node: &Node,
        what: &str,
        base: Option<&url::Url>,
    ) -> (Option<Bootstrap>, Option<(String, Loc)>) {
        let Some(entries) = self.dec.map(node, what, BOOTSTRAP_KEYS) else {
            return (None, None);
        };
        let get = |k: &str| {
            entries
                .iter()
                .find(|(key, _)| key.name == k)
                .map(|(_, v)| v)
        };
        let grants: Vec<&str> = GRANT_KEYS.iter().map(|(g, _)| *g).collect();
        let grant = match get("grant") {
            Some(g) => self.dec.string(g, "grant").map(|s| (s, g.loc)),
            None => {
                self.dec
                    .err(node.loc, format!("`{what}` needs `grant`"))
                    .label = Some(format!("one of {}", grants.join(", ")));
                None
            }
        };
        let scope = get("scope").and_then(|s| Some((self.dec.string(s, "scope")?, s.loc)));
        let Some((grant, gloc)) = grant else {
            return (None, scope);
        };
        let Some((_, own_keys)) = GRANT_KEYS.iter().find(|(g, _)| *g == grant) else {
            self.dec
                .err(gloc, format!("unknown bootstrap grant `{grant}`"))
                .label = Some(hint_for(&grant, &grants));
            return (None, scope);
        };
        for (k, _) in entries {
            let key = k.name.as_str();
            if !own_keys.contains(&key) && key != "grant" && key != "scope" {
                self.dec
                    .err(
                        k.loc,
                        format!("`{key}` does not apply to bootstrap grant `{grant}`"),
                    )
                    .label = Some(if own_keys.is_empty() {
                    "this grant takes only `scope`".to_owned()
                } else {
                    format!("this grant takes `scope`, `{}`", own_keys.join("`, `"))
                });
            }
        }
        let need = |p: &mut Self, key: &str| -> Option<Node> {
            match get(key) {
                Some(n) => Some(n.clone()),
                None => {
                    p.dec
                        .err(node.loc, format!("{what} grant `{grant}` needs `{key}`"));
                    None
                }
            }
        };
        let secret = |k: &str| format!("{what}.{k}");
        let b = match grant.as_str() {
            "password" => {
                let u = need(self, "username").and_then(|n| self.dec.string(&n, "username"));
                let pw = need(self, "password").and_then(|n| self.secret(&n, &secret("password")));
                match (u, pw) {
                    (Some(username), Some(password)) => {
                        Some(Bootstrap::Password { username, password })
                    }
                    _ => None,
                }
            }
            "authorization_code" => {
                let params = get("authorize_params")
                    .and_then(|n| n.as_map())
                    .map(|m| {
                        m.iter()
                            .filter_map(|(k, v)| v.scalar_text().map(|s| (k.name.clone(), s)))
                            .collect()
                    })
                    .unwrap_or_default();
                let command = get("command").and_then(|n| self.dec.string(n, "command"));
                Some(Bootstrap::AuthorizationCode { params, command })
            }
            "device_code" => {
                let approve = get("approve").and_then(|n| self.approve(n, base));
                let command = get("command").and_then(|n| self.dec.string(n, "command"));
                if approve.is_none() && command.is_none() {
                    self.dec.err(
                        node.loc,
                        format!("{what} grant `device_code` needs `approve` or `command`"),
                    );
                }
                Some(Bootstrap::DeviceCode { approve, command })
            }
            "jwt_bearer" => {
                let key = need(self, "assertion_key")
                    .and_then(|n| self.secret(&n, &secret("assertion_key")));
                let issuer = need(self, "assertion_issuer")
                    .and_then(|n| self.dec.string(&n, "assertion_issuer"));
                let subject = need(self, "assertion_subject")
                    .and_then(|n| self.dec.string(&n, "assertion_subject"));
                let audience = get("assertion_audience")
                    .and_then(|n| self.dec.string(n, "assertion_audience"));
                match (key, issuer, subject) {
                    (Some(key), Some(issuer), Some(subject)) => Some(Bootstrap::JwtBearer {
                        key,
                        issuer,
                        subject,
                        audience,
                    }),
                    _ => None,
                }
            }
            "refresh_token" => need(self, "refresh_token")
                .and_then(|n| self.secret(&n, &secret("refresh_token")))
                .map(|token| Bootstrap::RefreshToken { token }),
            _ => Some(Bootstrap::ClientCredentials),
        };
        (b, scope)
    }

    fn approve(&mut self, node: &Node, base: Option<&url::Url>) -> Option<ApproveHook> {
        let entries = self.dec.map(node, "approve", APPROVE_KEYS)?;
        let mut hook = ApproveHook {
            url: String::new(),
            method: "POST".into(),
            form: Vec::new(),
        };
        for (k, v) in entries {
            match k.name.as_str() {
                "url" => {
                    hook.url = self.dec.string(v, "url").unwrap_or_default();
                    if let Some(b) = base
                        && b.join(&hook.url).is_err()
                    {
                        self.dec.err(v.loc, "`approve.url` is not a URL");
                    }
                }
                "method" => {
                    hook.method = self
                        .dec
                        .string(v, "method")
                        .unwrap_or_else(|| "POST".into())
                }
                "form" => {
                    if let Some(m) = v.as_map() {
                        for (fk, fv) in m {
                            let val = match &fv.kind {
                                Kind::Map(_) => self
                                    .secret(fv, &format!("approve.form.{}", fk.name))
                                    .map(|s| s.expose().to_owned()),
                                _ => fv.scalar_text(),
                            };
                            hook.form.push((fk.name.clone(), val.unwrap_or_default()));
                        }
                    }
                }
                _ => {}
            }
        }
        Some(hook)
    }

    fn policy(&mut self, node: &Node) -> Option<Policy> {
        let Some(map) = node.as_map() else {
            if let Some(name) = node.as_str() {
                return match Policy::preset(name) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        self.dec.err(node.loc, e.to_string()).label =
                            Some(hint_for(name, tokencert_policy::PRESET_NAMES));
                        None
                    }
                };
            }
            self.dec.err(
                node.loc,
                "`policy` must be a preset name or `{ preset: NAME, …overrides }`",
            );
            return None;
        };
        let preset_node = map.iter().find(|(k, _)| k.name == "preset").map(|(_, v)| v);
        let preset = preset_node
            .and_then(|n| n.as_str())
            .unwrap_or("base")
            .to_owned();
        let mut overrides = node.to_json();
        if let Some(o) = overrides.as_object_mut() {
            o.remove("preset");
        }
        match Policy::resolve(&preset, &overrides) {
            Ok(p) => Some(p),
            Err(tokencert_policy::PolicyError::UnknownPreset { name, .. }) => {
                let loc = preset_node.map_or(node.loc, |n| n.loc);
                self.dec
                    .err(loc, format!("unknown policy preset `{name}`"))
                    .label = Some(hint_for(&name, tokencert_policy::PRESET_NAMES));
                None
            }
            Err(e) => {
                // Point at the override key serde complained about when we can find it.
                let msg = e.to_string();
                let loc = find_key_in(node, &msg).unwrap_or(node.loc);
                self.dec.err(loc, msg).label =
                    Some("see the preset files in policy/presets/ for the policy's keys".into());
                None
            }
        }
    }

    /// `claims: [rfc6749, rfc9700, …]`: standards of `specs/claims.yaml`.
    fn claims(&mut self, node: &Node, t: &mut Target) {
        let cat = crate::claims::ClaimsCatalogue::builtin();
        let known: Vec<&str> = cat.standards.keys().map(String::as_str).collect();
        for g in self.dec.gates(node, "claims") {
            if !cat.knows(&g.name) {
                self.dec
                    .err(g.loc, format!("unknown standard `{}` in `claims`", g.name))
                    .label = Some(hint_for(&g.name, &known));
            } else if !t.claims.contains(&g.name) {
                t.claims.push(g.name);
            }
        }
    }

    fn deviations(&mut self, node: &Node, t: &mut Target) {
        let Kind::Seq(items) = &node.kind else {
            self.dec.err(
                node.loc,
                "`deviations` must be a list of `{ scenario, reason }`",
            );
            return;
        };
        for item in items {
            let Some(entries) = self.dec.map(item, "deviations[]", DEVIATION_KEYS) else {
                continue;
            };
            let get = |k: &str| {
                entries
                    .iter()
                    .find(|(key, _)| key.name == k)
                    .map(|(_, v)| v)
            };
            let scenario = get("scenario").and_then(|n| self.dec.string(n, "scenario"));
            let reason = get("reason").and_then(|n| self.dec.string(n, "reason"));
            let cell = get("cell").and_then(|n| self.dec.string(n, "cell"));
            let at = (
                get("scenario").map_or(item.loc, |n| n.loc),
                get("cell").map(|n| n.loc),
            );
            match (scenario, reason) {
                (Some(scenario), Some(reason)) if !reason.trim().is_empty() => {
                    t.deviations.push(Deviation {
                        scenario,
                        cell,
                        reason,
                        at,
                    })
                }
                (Some(_), _) => {
                    self.dec.err(item.loc, "a deviation needs a `reason`").label =
                        Some("say why the target deviates: it is printed with the result".into());
                }
                _ => {
                    self.dec.err(item.loc, "a deviation needs `scenario`");
                }
            }
        }
    }
}

/// Finds a key named in a serde message (``unknown field `x` ``) inside a node tree.
fn find_key_in(node: &Node, msg: &str) -> Option<Loc> {
    let name = msg.split('`').nth(1)?;
    fn walk(n: &Node, name: &str) -> Option<Loc> {
        match &n.kind {
            Kind::Map(entries) => entries.iter().find_map(|(k, v)| {
                if k.name == name {
                    Some(k.loc)
                } else {
                    walk(v, name)
                }
            }),
            Kind::Seq(items) => items.iter().find_map(|i| walk(i, name)),
            _ => None,
        }
    }
    walk(node, name)
}

fn unreachable_url() -> url::Url {
    // A constant that always parses; only used when base_url itself failed (already an error).
    url::Url::parse("http://localhost/").unwrap_or_else(|_| std::process::abort())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::PlaceholderEnv;

    struct MapEnv(BTreeMap<String, String>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    const PROFILE: &str = "name: demo
base_url: http://127.0.0.1:9000
endpoints: { token: /token, revocation: /revoke }
clients:
  confidential: { id: c1, secret: { env: C1_SECRET }, auth_method: client_secret_basic }
  public: { id: p1, auth_method: none }
bootstrap: { grant: password, username: alice, password: { env: ALICE_PW }, scope: openid offline_access }
policy: { preset: rfc9700, grace: { seconds: 5, max_reuses: 1 } }
deviations:
  - { scenario: a.b, reason: known }
";

    fn env() -> MapEnv {
        MapEnv(
            [("C1_SECRET", "top-secret-1"), ("ALICE_PW", "alice-pw")]
                .into_iter()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect(),
        )
    }

    #[test]
    fn a_profile_loads_with_env_secrets_and_policy_overrides() {
        let t = Target::parse(Source::new("t.yaml", PROFILE), Path::new("."), &env())
            .map_err(|e| format!("{e:?}"))
            .expect("valid");
        assert_eq!(t.endpoints["token"].as_str(), "http://127.0.0.1:9000/token");
        assert_eq!(
            t.clients["confidential"]
                .secret
                .as_ref()
                .map(Secret::expose),
            Some("top-secret-1")
        );
        assert!(t.clients["public"].public);
        assert_eq!(t.policy.grace.seconds, 5);
        let caps = t.capabilities();
        assert!(caps.contains("refresh.grace") && caps.contains("endpoint.revocation"));
        assert!(caps.contains("client.public") && !caps.contains("endpoint.introspection"));
        assert!(t.deviation("a.b", "client=public").is_some());
    }

    #[test]
    fn a_missing_env_var_is_a_missing_secret_not_a_spec_error() {
        let e = Target::parse(
            Source::new("t.yaml", PROFILE),
            Path::new("."),
            &MapEnv(BTreeMap::new()),
        );
        let Err(TargetError::MissingSecret(missing)) = e else {
            panic!("expected missing secrets, got {e:?}");
        };
        // Every missing variable, each at its place in the profile.
        let got: Vec<String> = missing
            .iter()
            .map(|d| format!("{} {}", d.location(), d.message))
            .collect();
        assert_eq!(
            got,
            [
                "t.yaml:5:42 clients.confidential.secret: environment variable `C1_SECRET` is not set",
                "t.yaml:7:65 bootstrap.password: environment variable `ALICE_PW` is not set",
            ]
        );
    }

    #[test]
    fn the_scope_vocabulary_and_test_user_load_and_gate() {
        let text = format!(
            "{PROFILE}scopes: {{ narrower: openid, outside: write }}\ntest_user: {{ username: u1, password: {{ env: ALICE_PW }} }}\n"
        );
        let t = Target::parse(Source::new("t.yaml", text), Path::new("."), &env())
            .map_err(|e| format!("{e:?}"))
            .expect("valid");
        let v = t.scopes_value();
        assert_eq!(v["granted"], "openid offline_access");
        assert_eq!(
            (&v["narrower"], &v["outside"]),
            (&"openid".into(), &"write".into())
        );
        let caps = t.capabilities();
        for c in [
            "scopes.narrower",
            "scopes.outside",
            "scopes.offline",
            "scopes.openid",
        ] {
            assert!(caps.contains(c), "{c}");
        }
        assert!(caps.contains("test_user.password"));
        assert_eq!(t.test_user_value().expect("user")["username"], "u1");
        // Without `scopes:`, nothing outside the grant is known: those scenarios skip.
        let t = Target::parse(Source::new("t.yaml", PROFILE), Path::new("."), &env())
            .map_err(|e| format!("{e:?}"))
            .expect("valid");
        assert!(!t.capabilities().contains("scopes.outside"));
        assert_eq!(t.test_user_value().expect("user")["username"], "alice");
    }

    #[test]
    fn an_inconsistent_vocabulary_is_reported_at_its_key() {
        let text =
            format!("{PROFILE}scopes:\n  narrower: openid offline_access\n  outside: openid x\n");
        let Err(TargetError::Invalid(d)) =
            Target::parse(Source::new("t.yaml", text), Path::new("."), &env())
        else {
            panic!("expected errors")
        };
        let at: Vec<String> = d.iter().map(|d| d.location()).collect();
        assert_eq!(at, ["t.yaml:12:13", "t.yaml:13:12"], "{d:?}");
        assert!(
            d[0].message.contains("not a strict subset"),
            "{}",
            d[0].message
        );
        assert!(d[1].message.contains("`openid`"), "{}", d[1].message);
    }

    #[test]
    fn claims_load_apart_from_the_policy() {
        let text = "base_url: http://x\nendpoints: { token: /t }\nclients: { public: { id: p, auth_method: none } }\nbootstrap: { grant: refresh_token, refresh_token: r }\npolicy: rfc6749\nclaims: [rfc6749, rfc7009, rfc6749]\n";
        let t = Target::parse(Source::new("t.yaml", text), Path::new("."), &PlaceholderEnv)
            .map_err(|e| format!("{e:?}"))
            .expect("valid");
        assert_eq!(t.claims, ["rfc6749", "rfc7009"]);
        // The preset's own claims are not the profile's: a profile claims what its vendor says.
        let text = text.replace("claims: [rfc6749, rfc7009, rfc6749]\n", "");
        let t = Target::parse(
            Source::new("t.yaml", text.as_str()),
            Path::new("."),
            &PlaceholderEnv,
        )
        .map_err(|e| format!("{e:?}"))
        .expect("valid");
        assert!(t.claims.is_empty());
    }

    #[test]
    fn every_error_in_a_profile_is_reported() {
        let bad = "base_url: http://x\nendpoint: {}\nclients:\n  confidental: { id: a, auth_method: client_secret_bsic }\nbootstrap: { grant: passwrd }\npolicy: { preset: rfc9700, grace: { secnds: 1 } }\ncapabilities: { add: [introspection.cell_client] }\nclaims: [rfc6749, rfc9070]\n";
        let Err(TargetError::Invalid(d)) =
            Target::parse(Source::new("t.yaml", bad), Path::new("."), &PlaceholderEnv)
        else {
            panic!("expected errors")
        };
        let text: Vec<String> = d
            .iter()
            .map(|d| format!("{} {}", d.message, d.label.clone().unwrap_or_default()))
            .collect();
        let all = text.join("\n");
        for want in [
            "unknown key `endpoint`",
            "did you mean `endpoints`",
            "unknown client role `confidental`",
            "did you mean `client_secret_basic`",
            "unknown bootstrap grant `passwrd`",
            "secnds",
            "`introspection.cell_client` is decided per matrix cell",
            "unknown standard `rfc9070` in `claims`",
            "did you mean `rfc9700`",
        ] {
            assert!(all.contains(want), "missing {want:?} in:\n{all}");
        }
    }

    /// Every error of a profile that must be invalid, as `line:col message label`.
    fn errors_of(text: &str) -> Vec<String> {
        match Target::parse(Source::new("t.yaml", text), Path::new("."), &PlaceholderEnv) {
            Err(TargetError::Invalid(d)) => d
                .iter()
                .map(|d| {
                    format!(
                        "{}:{} {} {}",
                        d.loc.line,
                        d.loc.col,
                        d.message,
                        d.label.clone().unwrap_or_default()
                    )
                })
                .collect(),
            other => panic!("expected errors, got {other:?}"),
        }
    }

    const HEAD: &str = "base_url: http://127.0.0.1:9000\nendpoints: { token: /token, authorization: /authorize }\nbootstrap: { grant: password, username: alice, password: { env: ALICE_PW }, scope: openid offline_access }\n";

    #[test]
    fn a_role_bootstraps_with_its_own_grant() {
        let text = format!(
            "{HEAD}clients:
  confidential: {{ id: c1, secret: {{ env: C1_SECRET }} }}
  public:
    id: p1
    auth_method: none
    redirect_uri: http://127.0.0.1:9/cb
    bootstrap: {{ grant: authorization_code, command: ./login.sh }}
  no_refresh:
    id: n1
    secret: {{ env: C1_SECRET }}
    bootstrap: {{ grant: client_credentials, scope: orders:read }}
  post:
    id: c2
    secret: s2
    auth_method: client_secret_post
    bootstrap: {{ grant: password, username: bob, password: role-pw-8Qz }}
policy: rfc6749
"
        );
        let t = Target::parse(Source::new("t.yaml", text), Path::new("."), &env())
            .map_err(|e| format!("{e:?}"))
            .expect("valid");
        assert_eq!(t.bootstrap_of("confidential").grant(), "password");
        assert_eq!(t.bootstrap_of("public").grant(), "authorization_code");
        assert_eq!(t.bootstrap_of("no_refresh").grant(), "client_credentials");
        assert_eq!(
            t.clients["no_refresh"].scope.as_deref(),
            Some("orders:read")
        );
        // rfc6749 issues refresh tokens for both grants in use; `no_refresh` is meant to get none.
        assert!(t.capabilities().contains("refresh.issued"));
        // A role's own secrets are redacted like the profile's.
        let r = crate::profile::Redactor::new();
        t.register_secrets(&r);
        assert!(!r.redact("sent role-pw-8Qz").contains("role-pw-8Qz"));
    }

    #[test]
    fn a_roles_bootstrap_is_checked_at_its_place() {
        let text = format!(
            "{HEAD}clients:
  confidential: {{ id: c1, secret: {{ env: C1_SECRET }}, scope: a, bootstrap: {{ grant: password, scope: b }} }}
  public:
    id: p1
    auth_method: none
    bootstrap: {{ grant: authorization_code, username: bob }}
  post:
    id: c2
    auth_method: client_secret_post
    secret: x
    bootstrap: {{ grant: jwt_bearr }}
"
        );
        let e = errors_of(&text);
        let want = [
            "5:76 clients.confidential.bootstrap grant `password` needs `username`",
            "5:76 clients.confidential.bootstrap grant `password` needs `password`",
            "5:102 client `confidential` sets its bootstrap scope twice",
            "9:45 `username` does not apply to bootstrap grant `authorization_code` this grant takes `scope`, `authorize_params`, `command`",
            "9:25 client `public` bootstraps with the code flow but has no `redirect_uri`",
            "14:25 unknown bootstrap grant `jwt_bearr` did you mean `jwt_bearer`?",
        ];
        for w in want {
            assert!(
                e.iter().any(|g| g.starts_with(w)),
                "missing {w:?} in {e:#?}"
            );
        }
        assert_eq!(e.len(), want.len(), "{e:#?}");
    }

    #[test]
    fn base_url_may_come_from_the_environment() {
        let profile = |base: &str| {
            format!(
                "base_url: {base}\nendpoints: {{ token: /token }}\nclients: {{ public: {{ id: p, auth_method: none }} }}\nbootstrap: {{ grant: authorization_code }}\n"
            )
        };
        let with = |vars: &[(&str, &str)], base: &str| {
            let env = MapEnv(
                vars.iter()
                    .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                    .collect(),
            );
            Target::parse(Source::new("t.yaml", profile(base)), Path::new("."), &env)
        };
        let url = |r: Result<Target, TargetError>| {
            r.map(|t| t.endpoints["token"].to_string())
                .map_err(|e| format!("{e:?}"))
        };
        let env_and_default = "{ env: AS_URL, default: http://127.0.0.1:1/a }";
        assert_eq!(
            url(with(
                &[("AS_URL", "http://127.0.0.1:18999")],
                env_and_default
            )),
            Ok("http://127.0.0.1:18999/token".into())
        );
        assert_eq!(
            url(with(&[], env_and_default)),
            Ok("http://127.0.0.1:1/token".into())
        );
        let unset = url(with(&[], "{ env: AS_URL }")).expect_err("unset");
        assert!(
            unset.contains("MissingSecret") && unset.contains("`AS_URL` is not set"),
            "{unset}"
        );
        let bad = url(with(&[("AS_URL", "ftp://x")], "{ env: AS_URL }")).expect_err("bad");
        assert!(bad.contains("not an http(s) URL"), "{bad}");
        // `validate` checks the shape without the environment.
        let t = Target::parse(
            Source::new("t.yaml", profile("{ env: AS_URL }")),
            Path::new("."),
            &PlaceholderEnv,
        );
        assert!(t.is_ok(), "{t:?}");
        let e = errors_of(&profile("{ env: AS_URL, default: not a url, port: 1 }"));
        assert_eq!(e.len(), 2, "{e:#?}");
        assert!(
            e[0].starts_with("1:46 unknown key `port` in `base_url`"),
            "{e:#?}"
        );
        assert!(
            e[1].starts_with("1:35 `base_url.default`: `not a url` is not a URL"),
            "{e:#?}"
        );
    }

    #[test]
    fn roles_share_ids_except_those_that_must_be_clients_of_their_own() {
        let text = format!(
            "{HEAD}clients:
  confidential: {{ id: app, secret: s }}
  post: {{ id: app, secret: s, auth_method: client_secret_post }}
  public: {{ id: spa, auth_method: none }}
  public2: {{ id: spa, auth_method: none }}
"
        );
        let e = errors_of(&text);
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(
            e[0].starts_with(
                "8:18 client `public2` has the id of `public`: it must be a client of its own"
            ),
            "{e:#?}"
        );
    }

    #[test]
    fn scenario_keys_in_a_profile_are_one_error() {
        let text = format!(
            "{HEAD}clients: {{ public: {{ id: p, auth_method: none }} }}\ntitle: t\nsteps: []\nkind: profile\n"
        );
        let e = errors_of(&text);
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(
            e[0].starts_with("5:1 `title` and `steps` are scenario keys, not target profile keys"),
            "{e:#?}"
        );
        let e = errors_of(&format!("{HEAD}clients: {{}}\nkind: scenario\n"));
        assert!(
            e[0].starts_with("5:7 this file says `kind: scenario`: it is not a target profile"),
            "{e:#?}"
        );
    }

    /// The first ```yaml block after the line `heading` in `text`.
    fn yaml_block_after(text: &str, heading: &str) -> String {
        let rest = text
            .split_once(&format!("\n{heading}\n"))
            .unwrap_or_else(|| panic!("no heading {heading:?}"))
            .1;
        let block = rest.split_once("```yaml\n").expect("a yaml block").1;
        block
            .split_once("\n```")
            .expect("a closed block")
            .0
            .to_owned()
    }

    /// The profile examples of README.md and specs/README.md validate, deviations included, so
    /// the documentation cannot drift from the format.
    #[test]
    fn the_documented_profile_examples_validate() {
        let readme = include_str!("../../README.md");
        let specs_readme = include_str!("../../specs/README.md");
        let examples = [
            (
                "README.md",
                yaml_block_after(readme, "## Writing a target profile for your own server"),
            ),
            (
                "specs/README.md",
                yaml_block_after(specs_readme, "# Target profiles"),
            ),
            (
                "specs/README.md",
                yaml_block_after(
                    specs_readme,
                    "**A role's own grant.** `clients.<role>.bootstrap` takes the same keys and replaces the profile's",
                ),
            ),
        ];
        let (cat, _) = crate::scenario::load(
            &crate::scenario::SpecSource::BuiltIn,
            &crate::scenario::LoadOptions::default(),
        );
        for (file, text) in examples {
            let mut text = text;
            if !text.contains("endpoints:") && !text.contains("discovery:") {
                // The role example is a fragment: give it a server.
                text = format!("base_url: https://as.example.com\ndiscovery: true\n{text}");
            }
            let t = Target::parse(
                Source::new(file, text.clone()),
                Path::new("."),
                &PlaceholderEnv,
            )
            .unwrap_or_else(|e| panic!("{file}: the example profile is invalid: {e:?}\n{text}"));
            let wrong = super::super::deviations::check(&t, &[&cat]);
            assert!(
                wrong.is_empty(),
                "{file}: {}",
                crate::diagnostic::render_all(&wrong)
            );
        }
    }
}
