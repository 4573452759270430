//! YAML tree → scenario model, collecting every error with its location and a hint.

use super::values;
use super::*;
use crate::diagnostic::hint_for;
use crate::yaml::{Dec, Key, Kind, Node};

pub(crate) const SCENARIO_KEYS: &[&str] = &[
    "id",
    "title",
    "description",
    "requirements",
    "tags",
    "requires",
    "unless",
    "matrix",
    "vars",
    "setup",
    "steps",
    "teardown",
    "catches",
    "prerequisite_for",
    "kind",
];
pub(crate) const PREREQUISITE_KEYS: &[&str] = &["client"];
pub(crate) const FIXTURE_KEYS: &[&str] = &["fixture", "description", "params", "steps", "kind"];
pub(crate) const STEP_KEYS: &[&str] = &[
    "id",
    "name",
    "request",
    "bootstrap",
    "authorize",
    "wait",
    "race",
    "include",
    "with",
    "when",
    "unless",
    "expect",
    "capture",
    "retry",
    "idempotent",
];
pub(crate) const ACTIONS: &[&str] = &[
    "request",
    "bootstrap",
    "authorize",
    "wait",
    "race",
    "include",
];
pub(crate) const REQUEST_KEYS: &[&str] = &[
    "method",
    "endpoint",
    "url",
    "query",
    "form",
    "body",
    "body_raw",
    "headers",
    "client_auth",
    "dpop",
    "timeout",
];
pub(crate) const CLIENT_AUTH_KEYS: &[&str] = &[
    "client",
    "method",
    "client_id",
    "secret",
    "claims",
    "header",
];
pub(crate) const DPOP_KEYS: &[&str] = &["key", "claims", "header"];
pub(crate) const BOOTSTRAP_KEYS: &[&str] = &["client", "scope", "grant", "dpop", "params"];
pub(crate) const AUTHORIZE_KEYS: &[&str] = &[
    "client",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "params",
];
pub(crate) const RACE_KEYS: &[&str] = &["count", "request", "requests"];
pub(crate) const WAIT_KEYS: &[&str] = &["for", "past", "within", "since"];
pub(crate) const EXPECT_KEYS: &[&str] = &[
    "status",
    "headers",
    "json",
    "body",
    "successes",
    "server_errors",
    "each_success",
    "each_failure",
];
pub(crate) const CHECK_META: &[&str] = &["requirement", "level", "message", "optional"];
pub(crate) const CAPTURE_KEYS: &[&str] = &[
    "json",
    "header",
    "status",
    "body",
    "jwt_claim",
    "url_param",
    "regex",
    "secret",
    "from",
    "default",
];
pub(crate) const RETRY_KEYS: &[&str] = &["attempts", "interval"];
pub(crate) const REQUIREMENT_KEYS: &[&str] = &["id", "level"];
/// Endpoint names a request may use (resolved through the target profile).
pub(crate) const ENDPOINTS: &[&str] = &[
    "token",
    "authorization",
    "revocation",
    "introspection",
    "device_authorization",
    "metadata",
    "jwks",
    "device_approve",
    "jwt_bearer_assertion",
];
/// Client authentication methods the harness can apply: every RFC 7591 name it knows.
pub const AUTH_METHODS: &[&str] = &tokencert_policy::AuthMethod::NAMES;

/// What an `expect` check judges, which decides the literals its predicates may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subject {
    /// The HTTP status: statuses only, and a list means `one_of`.
    Status,
    /// A race's count of responses: whole numbers.
    Count,
    /// A header, a JSON member or the body: any value.
    Value,
}

impl Dec<'_> {
    /// A scalar as a template, with template syntax checked.
    pub(crate) fn tpl(&mut self, node: &Node, what: &str) -> Option<Tpl> {
        let raw = match &node.kind {
            Kind::Str(s) => s.clone(),
            Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => node.scalar_text()?,
            _ => {
                self.expected(node, what, "a string");
                return None;
            }
        };
        self.template_of(&raw, node.loc).map(|template| Tpl {
            template,
            loc: node.loc,
            raw,
        })
    }

    fn template_of(&mut self, raw: &str, loc: Loc) -> Option<Template> {
        match Template::parse(raw) {
            Ok(t) => Some(t),
            Err(e) => {
                // Point at the expression inside a plain scalar when we can; quoted scalars
                // shift by one, which the caret still makes clear.
                let at = Loc {
                    col: loc.col + u32::try_from(e.offset).unwrap_or(0),
                    len: 2,
                    ..loc
                };
                self.err(at, format!("bad template: {}", e.message));
                None
            }
        }
    }

    /// Any value; strings inside are template-checked.
    pub(crate) fn tpl_value(&mut self, node: &Node) -> TplValue {
        self.check_templates(node);
        TplValue {
            value: node.to_json(),
            loc: node.loc,
        }
    }

    fn check_templates(&mut self, node: &Node) {
        match &node.kind {
            Kind::Str(s) => {
                self.template_of(s, node.loc);
            }
            Kind::Seq(items) => items.iter().for_each(|n| self.check_templates(n)),
            Kind::Map(entries) => entries.iter().for_each(|(_, n)| self.check_templates(n)),
            _ => {}
        }
    }

    fn kv_tpls(&mut self, node: &Node, what: &str) -> Vec<(String, Vec<Tpl>)> {
        let Some(entries) = node.as_map() else {
            self.expected(node, what, "a mapping of names to values");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let vals = match &v.kind {
                Kind::Seq(items) => items
                    .iter()
                    .filter_map(|n| self.tpl(n, &format!("{what}.{}", k.name)))
                    .collect(),
                _ => self
                    .tpl(v, &format!("{what}.{}", k.name))
                    .into_iter()
                    .collect(),
            };
            out.push((k.name.clone(), vals));
        }
        out
    }

    fn kv_values(&mut self, node: &Node, what: &str) -> Vec<(String, TplValue)> {
        let Some(entries) = node.as_map() else {
            self.expected(node, what, "a mapping");
            return Vec::new();
        };
        entries
            .iter()
            .map(|(k, v)| (k.name.clone(), self.tpl_value(v)))
            .collect()
    }

    pub(crate) fn gates(&mut self, node: &Node, what: &str) -> Vec<Gate> {
        self.strings(node, what)
            .into_iter()
            .map(|(name, loc)| Gate { name, loc })
            .collect()
    }

    pub(crate) fn level(&mut self, node: &Node) -> Option<Level> {
        let s = self.string(node, "level")?;
        let l = Level::parse(&s);
        if l.is_none() {
            self.err(node.loc, format!("unknown level `{s}`")).label =
                Some(hint_for(&s, &Level::NAMES));
        }
        l
    }

    pub(crate) fn requirements(&mut self, node: &Node) -> Vec<RequirementRef> {
        let Kind::Seq(items) = &node.kind else {
            self.expected(node, "requirements", "a list of `{ id, level }`");
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match &item.kind {
                Kind::Str(id) => {
                    self.err(item.loc, format!("requirement `{id}` has no level"))
                        .label = Some(format!("write `{{ id: {id}, level: MUST }}`"));
                }
                Kind::Map(_) => {
                    let Some(entries) = self.map(item, "requirements[]", REQUIREMENT_KEYS) else {
                        continue;
                    };
                    let mut id = None;
                    let mut level = None;
                    for (k, v) in entries {
                        match k.name.as_str() {
                            "id" => id = self.string(v, "id").map(|s| (s, v.loc)),
                            "level" => level = self.level(v),
                            _ => {}
                        }
                    }
                    match (id, level) {
                        (Some((id, loc)), Some(level)) => {
                            out.push(RequirementRef { id, level, loc })
                        }
                        (None, _) => {
                            self.err(item.loc, "a requirement needs an `id`");
                        }
                        (Some((id, loc)), None) => {
                            if !entries.iter().any(|(k, _)| k.name == "level") {
                                self.err(loc, format!("requirement `{id}` has no level"))
                                    .label = Some("add `level: MUST`, `SHOULD` or `MAY`".into());
                            }
                        }
                    }
                }
                _ => self.expected(item, "requirements[]", "a mapping `{ id, level }`"),
            }
        }
        out
    }

    /// `prerequisite_for: { client: R }`: the role and where it was written.
    pub(crate) fn prerequisite_for(&mut self, node: &Node) -> Option<(String, Loc)> {
        let entries = self.map(node, "prerequisite_for", PREREQUISITE_KEYS)?;
        let role = entries
            .iter()
            .find(|(k, _)| k.name == "client")
            .and_then(|(_, v)| {
                self.string(v, "prerequisite_for.client")
                    .map(|r| (r, v.loc))
            });
        if role.is_none() {
            self.err(node.loc, "`prerequisite_for` needs `client`")
                .label = Some("write `prerequisite_for: { client: <role> }`".into());
        }
        role
    }

    pub(crate) fn matrix(&mut self, node: &Node) -> Vec<Dimension> {
        let Some(entries) = node.as_map() else {
            self.expected(node, "matrix", "a mapping of dimension to values");
            return Vec::new();
        };
        entries
            .iter()
            .map(|(k, v)| Dimension {
                name: k.name.clone(),
                values: self.strings(v, &format!("matrix.{}", k.name)),
            })
            .collect()
    }

    pub(crate) fn steps(&mut self, node: &Node, what: &str) -> Vec<Step> {
        let Kind::Seq(items) = &node.kind else {
            self.expected(node, what, "a list of steps");
            return Vec::new();
        };
        items.iter().filter_map(|n| self.step(n)).collect()
    }

    fn step(&mut self, node: &Node) -> Option<Step> {
        let entries = self.map(node, "step", STEP_KEYS)?;
        let actions: Vec<&(Key, Node)> = entries
            .iter()
            .filter(|(k, _)| ACTIONS.contains(&k.name.as_str()))
            .collect();
        let action = match actions.as_slice() {
            [] => {
                self.err(node.loc, "a step needs one action").label = Some(format!(
                    "add one of {}",
                    ACTIONS
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                None
            }
            [(k, v)] => self.action(k, v, node),
            [_, (k2, _), ..] => {
                self.err(
                    k2.loc,
                    format!("a step has one action; `{}` is a second one", k2.name),
                )
                .label = Some("split it into two steps".into());
                None
            }
        };
        let mut step = Step {
            id: None,
            name: None,
            action: action?,
            when: Vec::new(),
            unless: Vec::new(),
            expect: None,
            captures: Vec::new(),
            retry: None,
            idempotent: false,
            loc: entries.first().map_or(node.loc, |(k, _)| k.loc),
        };
        for (k, v) in entries {
            match k.name.as_str() {
                "id" => step.id = self.string(v, "id"),
                "name" => step.name = self.string(v, "name"),
                "when" => step.when = self.gates(v, "when"),
                "unless" => step.unless = self.gates(v, "unless"),
                "expect" => {
                    let is_race = matches!(step.action, Action::Race(_));
                    step.expect = self.expect(v, "expect", is_race);
                }
                "capture" => step.captures = self.captures(v),
                "retry" => step.retry = self.retry(v),
                "idempotent" => step.idempotent = self.boolean(v, "idempotent").unwrap_or(false),
                "with" if !matches!(step.action, Action::Include(_)) => {
                    self.err(k.loc, "`with` only goes with `include`");
                }
                _ => {}
            }
        }
        Some(step)
    }

    fn action(&mut self, k: &Key, v: &Node, step: &Node) -> Option<Action> {
        match k.name.as_str() {
            "request" => self.request(v).map(|r| Action::Request(Box::new(r))),
            "bootstrap" => self.bootstrap(v).map(|b| Action::Bootstrap(Box::new(b))),
            "authorize" => self.authorize(v).map(|a| Action::Authorize(Box::new(a))),
            "wait" => self.wait(v).map(|w| Action::Wait(Box::new(w))),
            "race" => self.race(v).map(|r| Action::Race(Box::new(r))),
            "include" => {
                let name = self.string(v, "include")?;
                let with = step
                    .get("with")
                    .map(|w| self.kv_values(w, "with"))
                    .unwrap_or_default();
                Some(Action::Include(Box::new(IncludeSpec {
                    name,
                    with,
                    loc: v.loc,
                })))
            }
            _ => None,
        }
    }

    pub(crate) fn request(&mut self, node: &Node) -> Option<RequestSpec> {
        let entries = self.map(node, "request", REQUEST_KEYS)?;
        let mut r = RequestSpec {
            method: None,
            endpoint: None,
            url: None,
            query: Vec::new(),
            form: Vec::new(),
            body: None,
            body_raw: None,
            headers: Vec::new(),
            client_auth: None,
            dpop: None,
            timeout: None,
            loc: node.loc,
        };
        for (k, v) in entries {
            match k.name.as_str() {
                "method" => r.method = self.tpl(v, "method"),
                "endpoint" => {
                    r.endpoint = self.tpl(v, "endpoint");
                    if let Some(name) = r.endpoint.as_ref().and_then(|t| t.template.as_literal())
                        && !ENDPOINTS.contains(&name.as_str())
                    {
                        self.err(v.loc, format!("unknown endpoint `{name}`")).label =
                            Some(hint_for(&name, ENDPOINTS));
                    }
                }
                "url" => r.url = self.tpl(v, "url"),
                "query" => r.query = self.kv_tpls(v, "query"),
                "form" => r.form = self.kv_tpls(v, "form"),
                "body" => r.body = self.tpl(v, "body"),
                "body_raw" => {
                    r.body_raw = self.tpl(v, "body_raw");
                    let bad = r.body_raw.as_ref().and_then(|t| {
                        t.template
                            .literals()
                            .find_map(|l| crate::scenario::escape::unescape(l).err())
                    });
                    if let Some(e) = bad {
                        self.err(v.loc, format!("`body_raw`: {e}"));
                    }
                }
                "headers" => {
                    r.headers = self
                        .kv_tpls(v, "headers")
                        .into_iter()
                        .flat_map(|(n, vs)| vs.into_iter().map(move |t| (n.clone(), t)))
                        .collect();
                }
                "client_auth" => r.client_auth = self.client_auth(v),
                "dpop" => r.dpop = self.dpop(v),
                "timeout" => r.timeout = self.duration(v, "timeout"),
                _ => {}
            }
        }
        match (&r.endpoint, &r.url) {
            (None, None) => {
                self.err(node.loc, "a request needs `endpoint` or `url`")
                    .label = Some("e.g. `endpoint: token`".into());
            }
            (Some(_), Some(u)) => {
                self.err(u.loc, "give `endpoint` or `url`, not both");
            }
            _ => {}
        }
        let bodies = [!r.form.is_empty(), r.body.is_some(), r.body_raw.is_some()];
        if bodies.iter().filter(|b| **b).count() > 1 {
            self.err(node.loc, "give one of `form`, `body` and `body_raw`");
        }
        Some(r)
    }

    fn client_auth(&mut self, node: &Node) -> Option<ClientAuthSpec> {
        if node.as_map().is_none() {
            let client = self.tpl(node, "client_auth")?;
            return Some(ClientAuthSpec {
                client,
                method: None,
                client_id: None,
                secret: None,
                claims: Vec::new(),
                jwt_header: Vec::new(),
                loc: node.loc,
            });
        }
        let entries = self.map(node, "client_auth", CLIENT_AUTH_KEYS)?;
        let mut client = None;
        let mut spec = ClientAuthSpec {
            client: Tpl {
                template: Template::literal(""),
                loc: node.loc,
                raw: String::new(),
            },
            method: None,
            client_id: None,
            secret: None,
            claims: Vec::new(),
            jwt_header: Vec::new(),
            loc: node.loc,
        };
        for (k, v) in entries {
            match k.name.as_str() {
                "client" => client = self.tpl(v, "client_auth.client"),
                "method" => {
                    spec.method = self.tpl(v, "client_auth.method");
                    if let Some(m) = spec.method.as_ref().and_then(|t| t.template.as_literal())
                        && !AUTH_METHODS.contains(&m.as_str())
                    {
                        self.err(v.loc, format!("unknown client authentication method `{m}`"))
                            .label = Some(hint_for(&m, AUTH_METHODS));
                    }
                }
                "client_id" => spec.client_id = self.tpl(v, "client_auth.client_id"),
                "secret" => spec.secret = self.tpl(v, "client_auth.secret"),
                "claims" => spec.claims = self.kv_values(v, "client_auth.claims"),
                "header" => spec.jwt_header = self.kv_values(v, "client_auth.header"),
                _ => {}
            }
        }
        match client {
            Some(c) => spec.client = c,
            None => {
                self.err(node.loc, "`client_auth` needs `client`").label =
                    Some("name a client role from the target, e.g. `client: confidential`".into());
                return None;
            }
        }
        Some(spec)
    }

    fn dpop(&mut self, node: &Node) -> Option<DpopSpec> {
        if node.as_map().is_none() {
            let key = self.tpl(node, "dpop")?;
            return Some(DpopSpec {
                key,
                claims: Vec::new(),
                jwt_header: Vec::new(),
                loc: node.loc,
            });
        }
        let entries = self.map(node, "dpop", DPOP_KEYS)?;
        let mut key = None;
        let mut claims = Vec::new();
        let mut jwt_header = Vec::new();
        for (k, v) in entries {
            match k.name.as_str() {
                "key" => key = self.tpl(v, "dpop.key"),
                "claims" => claims = self.kv_values(v, "dpop.claims"),
                "header" => jwt_header = self.kv_values(v, "dpop.header"),
                _ => {}
            }
        }
        let Some(key) = key else {
            self.err(node.loc, "`dpop` needs `key`").label =
                Some("name the proof key, e.g. `key: k1`".into());
            return None;
        };
        Some(DpopSpec {
            key,
            claims,
            jwt_header,
            loc: node.loc,
        })
    }

    fn bootstrap(&mut self, node: &Node) -> Option<BootstrapSpec> {
        let mut b = BootstrapSpec {
            client: None,
            scope: None,
            grant: None,
            dpop: None,
            params: Vec::new(),
            loc: node.loc,
        };
        match &node.kind {
            Kind::Null => return Some(b),
            Kind::Str(_) => {
                b.client = self.tpl(node, "bootstrap");
                return Some(b);
            }
            _ => {}
        }
        let entries = self.map(node, "bootstrap", BOOTSTRAP_KEYS)?;
        for (k, v) in entries {
            match k.name.as_str() {
                "client" => b.client = self.tpl(v, "bootstrap.client"),
                "scope" => b.scope = self.tpl(v, "bootstrap.scope"),
                "grant" => b.grant = self.tpl(v, "bootstrap.grant"),
                "dpop" => b.dpop = self.dpop(v),
                "params" => {
                    b.params = self
                        .kv_tpls(v, "bootstrap.params")
                        .into_iter()
                        .filter_map(|(n, mut vs)| vs.pop().map(|t| (n, t)))
                        .collect();
                }
                _ => {}
            }
        }
        Some(b)
    }

    fn authorize(&mut self, node: &Node) -> Option<AuthorizeSpec> {
        let mut a = AuthorizeSpec {
            client: None,
            client_id: None,
            redirect_uri: None,
            scope: None,
            state: None,
            nonce: None,
            code_challenge: None,
            code_challenge_method: None,
            params: Vec::new(),
            loc: node.loc,
        };
        match &node.kind {
            Kind::Null => return Some(a),
            Kind::Str(_) => {
                a.client = self.tpl(node, "authorize");
                return Some(a);
            }
            _ => {}
        }
        let entries = self.map(node, "authorize", AUTHORIZE_KEYS)?;
        for (k, v) in entries {
            let what = format!("authorize.{}", k.name);
            let slot = match k.name.as_str() {
                "client" => &mut a.client,
                "client_id" => &mut a.client_id,
                "redirect_uri" => &mut a.redirect_uri,
                "scope" => &mut a.scope,
                "state" => &mut a.state,
                "nonce" => &mut a.nonce,
                "code_challenge" => &mut a.code_challenge,
                "code_challenge_method" => &mut a.code_challenge_method,
                "params" => {
                    // A list value repeats the parameter.
                    a.params = self
                        .kv_tpls(v, &what)
                        .into_iter()
                        .flat_map(|(n, vs)| vs.into_iter().map(move |t| (n.clone(), t)))
                        .collect();
                    continue;
                }
                _ => continue,
            };
            *slot = self.tpl(v, &what);
        }
        Some(a)
    }

    fn race(&mut self, node: &Node) -> Option<RaceSpec> {
        let entries = self.map(node, "race", RACE_KEYS)?;
        let mut count = None;
        let mut requests = Vec::new();
        let mut count_loc = node.loc;
        for (k, v) in entries {
            match k.name.as_str() {
                "count" => {
                    count = self.uint(v, "race.count");
                    count_loc = v.loc;
                }
                "request" => requests.extend(self.request(v)),
                "requests" => match &v.kind {
                    Kind::Seq(items) => {
                        for item in items {
                            requests.extend(self.request(item));
                        }
                    }
                    _ => self.expected(v, "race.requests", "a list of requests"),
                },
                _ => {}
            }
        }
        if node.get("request").is_some() && node.get("requests").is_some() {
            self.err(
                node.loc,
                "give `request` (with `count`) or `requests`, not both",
            );
        }
        if requests.is_empty() && node.get("request").is_none() && node.get("requests").is_none() {
            self.err(
                node.loc,
                "a race needs `request` (with `count`) or `requests`",
            );
        }
        let count = u32::try_from(count.unwrap_or(1)).unwrap_or(u32::MAX);
        let total = u64::from(count) * requests.len() as u64;
        if requests.len() == 1 && count < 2 && node.get("request").is_some() {
            self.err(count_loc, "a race needs at least 2 requests")
                .label = Some("set `count: 2` or more".into());
        }
        if total > 64 {
            self.err(
                count_loc,
                format!("a race sends at most 64 requests, not {total}"),
            );
        }
        Some(RaceSpec {
            requests,
            count,
            loc: node.loc,
        })
    }

    pub(crate) fn expect(&mut self, node: &Node, what: &str, race: bool) -> Option<Expect> {
        let entries = self.map(node, what, EXPECT_KEYS)?;
        let mut e = Expect::default();
        let mut rx = RaceExpect::default();
        for (k, v) in entries {
            let race_key = matches!(
                k.name.as_str(),
                "successes" | "server_errors" | "each_success" | "each_failure"
            );
            if race_key && !race {
                self.err(k.loc, format!("`{}` only applies to a `race` step", k.name));
                continue;
            }
            if !race_key && race {
                self.err(k.loc, format!("a race's `expect` takes `successes`, `server_errors`, `each_success` or `each_failure`, not `{}`", k.name))
                    .label = Some(format!("move `{}` under `each_success` or `each_failure`", k.name));
                continue;
            }
            match k.name.as_str() {
                "status" => e.status = self.check(v, "status", Subject::Status),
                "headers" => match v.as_map() {
                    // Header names are free-form, so no unknown-key check here.
                    Some(hs) => {
                        for (hk, hv) in hs {
                            if let Some(c) = self.check(hv, &hk.name, Subject::Value) {
                                e.headers.push((hk.name.to_ascii_lowercase(), c));
                            }
                        }
                    }
                    None => self.expected(v, "headers", "a mapping of header names to predicates"),
                },
                "json" => {
                    if let Some(paths) = v.as_map() {
                        for (pk, pv) in paths {
                            let Some(path) = self.json_path(&pk.name, pk.loc) else {
                                continue;
                            };
                            if let Some(c) = self.check(pv, &pk.name, Subject::Value) {
                                e.json.push((path, c));
                            }
                        }
                    } else {
                        self.expected(v, "json", "a mapping of JSON paths to predicates");
                    }
                }
                "body" => e.body = self.check(v, "body", Subject::Value),
                "successes" => rx.successes = self.check(v, "successes", Subject::Count),
                "server_errors" => {
                    rx.server_errors = self.check(v, "server_errors", Subject::Count)
                }
                "each_success" => {
                    rx.each_success = self.expect(v, "each_success", false).map(Box::new)
                }
                "each_failure" => {
                    rx.each_failure = self.expect(v, "each_failure", false).map(Box::new)
                }
                _ => {}
            }
        }
        if race {
            e.race = Some(rx);
        }
        Some(e)
    }

    pub(crate) fn json_path(&mut self, text: &str, loc: Loc) -> Option<JsonPath> {
        let full = if text.starts_with('$') {
            text.to_owned()
        } else {
            format!("$.{text}")
        };
        match serde_json_path::JsonPath::parse(&full) {
            Ok(path) => Some(JsonPath {
                text: full,
                path,
                loc,
            }),
            Err(e) => {
                self.err(loc, format!("`{text}` is not a JSON path: {e}"))
                    .label = Some("write e.g. `$.refresh_token` or `$.scope`".into());
                None
            }
        }
    }

    /// A predicate set. A scalar means `equals` (`one_of` for a list under `status`).
    pub(crate) fn check(&mut self, node: &Node, what: &str, subject: Subject) -> Option<Check> {
        let shorthand = |op: Op, dec: &mut Dec<'_>| {
            let arg = dec.tpl_value(node);
            Some(Check {
                predicates: vec![Predicate {
                    op,
                    arg,
                    regex: None,
                }],
                requirement: None,
                level: None,
                message: None,
                optional: false,
                loc: node.loc,
            })
        };
        match &node.kind {
            Kind::Map(_) => {}
            Kind::Seq(items) if subject == Subject::Status => {
                for item in items {
                    self.literal(item, what, Op::Equals, subject);
                }
                return shorthand(Op::OneOf, self);
            }
            Kind::Seq(_) => {
                self.expected(node, what, "a value or a mapping of predicates");
                return None;
            }
            _ => {
                self.literal(node, what, Op::Equals, subject);
                return shorthand(Op::Equals, self);
            }
        }
        let names: Vec<&str> = Op::ALL
            .iter()
            .map(|(n, _)| *n)
            .chain(CHECK_META.iter().copied())
            .collect();
        let entries = self.map(node, what, &names)?;
        let mut c = Check {
            predicates: Vec::new(),
            requirement: None,
            level: None,
            message: None,
            optional: false,
            loc: node.loc,
        };
        for (k, v) in entries {
            match k.name.as_str() {
                "requirement" => c.requirement = self.string(v, "requirement").map(|s| (s, v.loc)),
                "level" => c.level = self.level(v),
                "message" => c.message = self.string(v, "message"),
                "optional" => c.optional = self.boolean(v, "optional").unwrap_or(false),
                name => {
                    let Some(op) = Op::ALL.iter().find(|(n, _)| *n == name).map(|(_, o)| *o) else {
                        continue;
                    };
                    let arg = self.tpl_value(v);
                    let mut regex = None;
                    match op {
                        Op::Matches | Op::NotMatches => {
                            if let Kind::Str(pat) = &v.kind
                                && !pat.contains("{{")
                            {
                                match regex::Regex::new(pat) {
                                    Ok(r) => regex = Some(r),
                                    Err(e) => {
                                        let msg = e.to_string();
                                        let last = msg.lines().last().unwrap_or("invalid");
                                        let last = last.trim().trim_start_matches("error: ");
                                        self.err(v.loc, format!("bad regex: {last}"));
                                    }
                                }
                            }
                        }
                        Op::Type => {
                            const TYPES: &[&str] = &[
                                "string", "number", "integer", "boolean", "object", "array", "null",
                            ];
                            if let Some(t) = v.as_str()
                                && !TYPES.contains(&t)
                            {
                                self.err(v.loc, format!("unknown type `{t}`")).label =
                                    Some(hint_for(t, TYPES));
                            }
                        }
                        Op::Exists | Op::Absent
                            if !matches!(v.kind, Kind::Bool(_))
                                && !v.as_str().is_some_and(|s| s.contains("{{")) =>
                        {
                            self.expected(v, name, "true or false");
                        }
                        Op::OneOf | Op::NotOneOf
                            if !matches!(v.kind, Kind::Seq(_))
                                && !v.as_str().is_some_and(|s| s.contains("{{")) =>
                        {
                            self.expected(v, name, "a list");
                        }
                        _ => {}
                    }
                    match (&v.kind, op) {
                        (Kind::Seq(items), Op::OneOf | Op::NotOneOf) => {
                            for item in items {
                                self.literal(item, name, op, subject);
                            }
                        }
                        _ => self.literal(v, name, op, subject),
                    }
                    c.predicates.push(Predicate { op, arg, regex });
                }
            }
        }
        if c.predicates.is_empty() {
            self.err(node.loc, format!("`{what}` has no predicate"))
                .label = Some("add e.g. `equals: …`, `exists: true` or `matches: …`".into());
        }
        Some(c)
    }

    /// Checks a literal argument of predicate `op` (named `what`) on `subject`: a status where a
    /// status is compared, a whole number for counts and lengths, a number for comparisons.
    fn literal(&mut self, node: &Node, what: &str, op: Op, subject: Subject) {
        let comparison = matches!(op, Op::Gt | Op::Gte | Op::Lt | Op::Lte);
        let equality = matches!(op, Op::Equals | Op::NotEquals | Op::OneOf | Op::NotOneOf);
        let problem = match subject {
            Subject::Status if comparison || equality => values::status(node),
            Subject::Count if comparison || equality => values::number(node, what, true),
            _ if op == Op::Length => values::number(node, what, true),
            _ if comparison => values::number(node, what, false),
            _ => None,
        };
        if let Some(p) = problem {
            self.err(node.loc, p.message).label = Some(p.label);
        }
    }

    fn captures(&mut self, node: &Node) -> Vec<Capture> {
        let Some(entries) = node.as_map() else {
            self.expected(node, "capture", "a mapping of variable names to sources");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            if crate::template::NAMESPACES.contains(&k.name.as_str()) {
                self.err(
                    k.loc,
                    format!("`{}` is reserved: pick another variable name", k.name),
                );
                continue;
            }
            if let Some(c) = self.capture(&k.name, k.loc, v) {
                out.push(c);
            }
        }
        out
    }

    fn capture(&mut self, name: &str, loc: Loc, node: &Node) -> Option<Capture> {
        let entries = self.map(node, &format!("capture.{name}"), CAPTURE_KEYS)?;
        let mut sources = Vec::new();
        let mut c = Capture {
            name: name.to_owned(),
            source: CaptureSource::Status,
            url_param: None,
            regex: None,
            secret: false,
            from: None,
            default: None,
            loc,
        };
        let mut jwt_claim = None;
        for (k, v) in entries {
            match k.name.as_str() {
                "json" => {
                    if let Some(p) = self
                        .string(v, "json")
                        .and_then(|p| self.json_path(&p, v.loc))
                    {
                        sources.push((k.loc, CaptureSource::Json(p)));
                    }
                }
                "header" => {
                    if let Some(h) = self.string(v, "header") {
                        sources.push((k.loc, CaptureSource::Header(h.to_ascii_lowercase())));
                    }
                }
                "status" if self.boolean(v, "status") == Some(true) => {
                    sources.push((k.loc, CaptureSource::Status));
                }
                "body" if self.boolean(v, "body") == Some(true) => {
                    sources.push((k.loc, CaptureSource::Body));
                }
                "jwt_claim" => jwt_claim = self.string(v, "jwt_claim"),
                "url_param" => c.url_param = self.string(v, "url_param"),
                "regex" => {
                    if let Some(p) = self.string(v, "regex") {
                        match regex::Regex::new(&p) {
                            Ok(r) => c.regex = Some(r),
                            Err(e) => {
                                let msg = e.to_string();
                                self.err(
                                    v.loc,
                                    format!("bad regex: {}", msg.lines().last().unwrap_or("")),
                                );
                            }
                        }
                    }
                }
                "secret" => c.secret = self.boolean(v, "secret").unwrap_or(false),
                "default" => c.default = self.tpl(v, "default"),
                "from" => {
                    c.from = self.string(v, "from");
                    if let Some(f) = &c.from
                        && f != "success"
                        && f != "failure"
                    {
                        self.err(v.loc, format!("`from: {f}`: use `success` or `failure`"));
                    }
                }
                _ => {}
            }
        }
        match sources.len() {
            0 => {
                self.err(loc, format!("capture `{name}` needs a source"))
                    .label =
                    Some("add `json: $.…`, `header: …`, `status: true` or `body: true`".into());
                return None;
            }
            1 => {}
            _ => {
                self.err(
                    sources[1].0,
                    format!("capture `{name}` has more than one source"),
                );
            }
        }
        c.source = sources.swap_remove(0).1;
        if let Some(claim) = jwt_claim {
            match c.source {
                CaptureSource::Json(p) => c.source = CaptureSource::JwtClaim(p, claim),
                _ => {
                    self.err(
                        loc,
                        "`jwt_claim` goes with a `json` source (the JWT's path)",
                    );
                    return None;
                }
            }
        }
        Some(c)
    }

    /// `wait: 2s`, or `wait: { for, past, within, since }`.
    fn wait(&mut self, node: &Node) -> Option<WaitSpec> {
        let mut w = WaitSpec {
            duration: None,
            past: None,
            within: Vec::new(),
            since: None,
            loc: node.loc,
        };
        if !matches!(node.kind, Kind::Map(_)) {
            self.wait_value(node, "wait");
            w.duration = Some(self.tpl(node, "wait")?);
            return Some(w);
        }
        let entries = self.map(node, "wait", WAIT_KEYS)?;
        for (k, v) in entries {
            match k.name.as_str() {
                "for" => {
                    self.wait_value(v, "wait.for");
                    w.duration = self.tpl(v, "wait.for");
                }
                "past" => {
                    self.wait_value(v, "wait.past");
                    w.past = self.tpl(v, "wait.past");
                }
                "within" => match &v.kind {
                    Kind::Seq(items) => {
                        for i in items {
                            self.wait_value(i, "wait.within");
                        }
                        w.within = items
                            .iter()
                            .filter_map(|i| self.tpl(i, "wait.within"))
                            .collect();
                    }
                    _ => {
                        self.wait_value(v, "wait.within");
                        w.within.extend(self.tpl(v, "wait.within"));
                    }
                },
                "since" => w.since = self.tpl(v, "wait.since"),
                _ => {}
            }
        }
        if w.duration.is_some() && w.past.is_some() {
            self.err(node.loc, "a wait takes `for` or `past`, not both")
                .label = Some("`past` already counts its own margin".into());
        } else if w.duration.is_none() && w.past.is_none() && w.within.is_empty() {
            self.err(node.loc, "a wait needs `for`, `past` or `within`")
                .label =
                Some("e.g. `wait: { past: \"{{ policy.lifetimes.refresh_idle }}\" }`".into());
        }
        Some(w)
    }

    /// A literal wait value must be seconds or a duration (a list or mapping is reported as
    /// the wrong type by the template decoding instead).
    fn wait_value(&mut self, node: &Node, what: &str) {
        if matches!(node.kind, Kind::Seq(_) | Kind::Map(_)) {
            return;
        }
        if let Some(p) = values::wait(node, what) {
            self.err(node.loc, p.message).label = Some(p.label);
        }
    }

    fn retry(&mut self, node: &Node) -> Option<Retry> {
        let entries = self.map(node, "retry", RETRY_KEYS)?;
        let mut r = Retry {
            attempts: 3,
            interval: Duration::from_millis(200),
            loc: node.loc,
        };
        for (k, v) in entries {
            match k.name.as_str() {
                "attempts" => {
                    r.attempts = self
                        .uint(v, "retry.attempts")
                        .and_then(|a| u32::try_from(a).ok())
                        .unwrap_or(3)
                        .clamp(1, 100)
                }
                "interval" => {
                    if let Some(d) = self.duration(v, "retry.interval") {
                        r.interval = d;
                    }
                }
                _ => {}
            }
        }
        Some(r)
    }
}
