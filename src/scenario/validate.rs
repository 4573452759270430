//! The semantic pass over loaded scenarios: every error, not the first.
//!
//! Checks: requirement ids exist, capabilities and client roles are known, fixtures exist,
//! template names are defined before use (captures come from earlier steps), policy paths exist,
//! no step that sends a refresh token is retried (a retry consumes the token or triggers
//! reuse detection), and every `authorize` step is gated on `authorize.unattended`.

use super::*;
use crate::capability;
use crate::diagnostic::{Diagnostic, did_you_mean, hint_for};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) fn validate(cat: &Catalogue) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    // The prerequisite scenario of each client role (one per role).
    let mut prerequisites: BTreeMap<&str, &str> = BTreeMap::new();
    // The policy's shape, for checking `{{ policy.… }}` paths (built once per process).
    static POLICY: std::sync::LazyLock<serde_json::Value> = std::sync::LazyLock::new(|| {
        tokencert_policy::Policy::preset("rfc9700")
            .ok()
            .and_then(|p| serde_json::to_value(p).ok())
            .unwrap_or_default()
    });
    let policy = &*POLICY;
    // Roles whose cells a prerequisite gates (by the matrix `client`: runner/prerequisite.rs).
    let gated: BTreeMap<&str, &str> = cat
        .scenarios
        .iter()
        .filter_map(|s| {
            s.prerequisite_for
                .as_ref()
                .map(|(r, _)| (r.as_str(), s.id.as_str()))
        })
        .collect();
    for s in &cat.scenarios {
        let mut v = Validator {
            src: &s.source,
            out: &mut out,
            cat,
            policy,
            gated: Some(GatedRoles::of(s, &gated)),
        };
        if let Some(prev) = seen.get(s.id.as_str()) {
            v.error(
                s.loc,
                format!("scenario id `{}` is already used by {prev}", s.id),
            );
        } else {
            seen.insert(&s.id, s.source.path.to_string());
        }
        if let Some((role, loc)) = &s.prerequisite_for {
            if let Some(prev) = prerequisites.get(role.as_str()) {
                v.error(
                    *loc,
                    format!("`{prev}` is already the prerequisite for the `{role}` client"),
                )
                .label = Some("one scenario per client role".into());
            } else {
                prerequisites.insert(role, &s.id);
            }
        }
        v.scenario(s);
    }
    for f in cat.fixtures.values() {
        let mut v = Validator {
            src: &f.source,
            out: &mut out,
            cat,
            policy,
            gated: None,
        };
        let mut defined: BTreeSet<String> = f.params.iter().map(|(n, _)| n.clone()).collect();
        let later = captures_by_name(&f.steps, cat);
        for step in &f.steps {
            v.step(step, &mut defined, &later, &[]);
        }
    }
    out
}

struct Validator<'a> {
    src: &'a Source,
    out: &'a mut Vec<Diagnostic>,
    cat: &'a Catalogue,
    policy: &'a serde_json::Value,
    /// For a scenario: the gated roles it may name (`None` for a fixture, whose roles are
    /// its includer's).
    gated: Option<GatedRoles<'a>>,
}

/// The roles with a prerequisite, and which of them a scenario's cells are gated on.
struct GatedRoles<'a> {
    /// Role → its prerequisite scenario, every role but the ones this scenario may name.
    foreign: BTreeMap<&'a str, &'a str>,
}

impl<'a> GatedRoles<'a> {
    /// A scenario may name a gated role in its matrix `client` (the runner gates the cell) or
    /// as the role whose prerequisite it is.
    fn of(s: &Scenario, gated: &BTreeMap<&'a str, &'a str>) -> GatedRoles<'a> {
        let mut foreign = gated.clone();
        for d in s.matrix.iter().filter(|d| d.name == "client") {
            for (role, _) in &d.values {
                foreign.remove(role.as_str());
            }
        }
        if let Some((role, _)) = &s.prerequisite_for {
            foreign.remove(role.as_str());
        }
        GatedRoles { foreign }
    }
}

/// The capability an `authorize` step needs.
const AUTHORIZE_GATE: &str = "authorize.unattended";

/// Whether `step` runs an `authorize` action (itself or in a fixture it includes) without a
/// `when: [authorize.unattended]` on the way.
fn authorizes_unguarded(step: &Step, cat: &Catalogue, depth: u8) -> bool {
    if depth > 8 || step.when.iter().any(|g| g.name == AUTHORIZE_GATE) {
        return false;
    }
    match &step.action {
        Action::Authorize(_) => true,
        Action::Include(inc) => cat.fixtures.get(&inc.name).is_some_and(|f| {
            f.steps
                .iter()
                .any(|st| authorizes_unguarded(st, cat, depth + 1))
        }),
        _ => false,
    }
}

/// The ids of `steps` and of the steps of the fixtures they include, in order.
fn step_ids(steps: &[Step], cat: &Catalogue, depth: u8) -> Vec<String> {
    let mut out = Vec::new();
    for s in steps {
        if let Action::Include(inc) = &s.action
            && depth < 8
            && let Some(f) = cat.fixtures.get(&inc.name)
        {
            out.extend(step_ids(&f.steps, cat, depth + 1));
        }
        out.extend(s.id.clone());
    }
    out
}

/// Where each capture name is first defined, across a step list (fixtures included).
fn captures_by_name(steps: &[Step], cat: &Catalogue) -> BTreeMap<String, Loc> {
    let mut m = BTreeMap::new();
    for s in steps {
        for c in &s.captures {
            m.entry(c.name.clone()).or_insert(c.loc);
        }
        if let Action::Include(inc) = &s.action
            && let Some(f) = cat.fixtures.get(&inc.name)
        {
            for (k, v) in captures_by_name(&f.steps, cat) {
                m.entry(k).or_insert(v);
            }
        }
    }
    m
}

impl Validator<'_> {
    /// `catches:` names reference-server flaws, so only a build with the server can check them.
    #[cfg(feature = "embedded-server")]
    fn catches(&mut self, s: &Scenario) {
        let flaws: Vec<&str> = reference_server::Flaw::ALL
            .iter()
            .map(|f| f.name())
            .collect();
        for (name, loc) in &s.catches {
            if !flaws.contains(&name.as_str()) {
                self.error(*loc, format!("unknown reference-server flaw `{name}`"))
                    .label = Some(hint_for(name, &flaws));
            }
        }
    }

    #[cfg(not(feature = "embedded-server"))]
    fn catches(&mut self, _: &Scenario) {}

    fn error(&mut self, loc: Loc, msg: impl Into<String>) -> &mut Diagnostic {
        self.out.push(Diagnostic::error(self.src, loc, msg));
        let n = self.out.len() - 1;
        &mut self.out[n]
    }

    /// A prerequisite runs as one cell, before the cells it gates, which wait for it: no matrix,
    /// and no `wait` (a waiting scenario may queue behind the others, and they behind it).
    fn prerequisite(&mut self, s: &Scenario) {
        let Some((role, loc)) = &s.prerequisite_for else {
            return;
        };
        self.role(role, *loc);
        if !s.matrix.is_empty() {
            self.error(*loc, "a prerequisite scenario runs as one cell")
                .label = Some("remove its `matrix`".into());
        }
        if s.lets_time_pass(self.cat) {
            self.error(*loc, "a prerequisite scenario must not let time pass")
                .label = Some("the cells it gates wait for its result: remove the `wait`".into());
        }
    }

    fn scenario(&mut self, s: &Scenario) {
        self.catches(s);
        self.prerequisite(s);
        self.authorize_gated(s);
        for r in &s.requirements {
            self.requirement(&r.id, r.loc);
        }
        for g in s.requires.iter().chain(&s.unless) {
            self.gate(g);
        }
        let mut matrix_client = Vec::new();
        for d in &s.matrix {
            if d.values.is_empty() {
                self.error(
                    s.loc,
                    format!("matrix dimension `{}` has no values", d.name),
                );
            }
            if d.name == "client" {
                matrix_client.clone_from(&d.values);
            }
        }
        for (role, loc) in &matrix_client {
            self.role(role, *loc);
        }
        let mut defined: BTreeSet<String> = s.vars.iter().map(|(n, _)| n.clone()).collect();
        let all: Vec<Step> = s
            .setup
            .iter()
            .chain(&s.steps)
            .chain(&s.teardown)
            .cloned()
            .collect();
        let later = captures_by_name(&all, self.cat);
        let dims: Vec<String> = s.matrix.iter().map(|d| d.name.clone()).collect();
        for (_, v) in &s.vars {
            self.value_templates(&v.value, v.loc, &defined, &later, &dims);
        }
        for step in &all {
            self.step(step, &mut defined, &later, &dims);
        }
        self.wait_anchors(&all);
    }

    /// A literal `wait.since` must name a step that ran earlier (ids inside included fixtures
    /// count: the runner marks every step's end by its id).
    fn wait_anchors(&mut self, steps: &[Step]) {
        let mut earlier: Vec<String> = Vec::new();
        for step in steps {
            if let Action::Wait(w) = &step.action
                && let Some(since) = &w.since
                && let Some(id) = since.template.as_literal()
                && !id.is_empty()
                && !earlier.contains(&id)
            {
                let refs: Vec<&str> = earlier.iter().map(String::as_str).collect();
                self.error(since.loc, format!("`since`: no earlier step has id `{id}`"))
                    .label = Some(if refs.is_empty() {
                    "give the step the lifetime starts at an `id`".into()
                } else {
                    hint_for(&id, &refs)
                });
            }
            earlier.extend(step_ids(std::slice::from_ref(step), self.cat, 0));
        }
    }

    /// An `authorize` step (here or in an included fixture) runs only where the target can
    /// authorize without a person: the scenario (or the step) must gate on that, so a target
    /// whose code flow needs a person skips instead of erroring.
    fn authorize_gated(&mut self, s: &Scenario) {
        if s.requires.iter().any(|g| g.name == AUTHORIZE_GATE) {
            return;
        }
        let steps = s.setup.iter().chain(&s.steps).chain(&s.teardown);
        let unguarded: Vec<Loc> = steps
            .filter(|st| authorizes_unguarded(st, self.cat, 0))
            .map(|st| st.loc)
            .collect();
        for loc in unguarded {
            self.error(
                loc,
                format!("this step runs an authorization request, but the scenario does not require `{AUTHORIZE_GATE}`"),
            )
            .label = Some(format!(
                "add `{AUTHORIZE_GATE}` to `requires:` (a target whose login needs a person then skips the scenario)"
            ));
        }
    }

    fn requirement(&mut self, id: &str, loc: Loc) {
        if self.cat.requirements.get(id).is_none() {
            let ids: Vec<&str> = self.cat.requirements.ids().collect();
            let hint = match did_you_mean(id, ids.iter().copied()) {
                Some(c) => format!("did you mean `{c}`?"),
                None => "ids come from specs/requirements.yaml (see `tokencert coverage`)".into(),
            };
            self.error(loc, format!("unknown requirement id `{id}`"))
                .label = Some(hint);
        }
    }

    fn gate(&mut self, g: &Gate) {
        if !capability::is_known(&g.name) {
            let names = capability::all_names();
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let hint = match did_you_mean(&g.name, refs.iter().copied()) {
                Some(c) => format!("did you mean `{c}`?"),
                None => "see `tokencert list --capabilities` for the list".into(),
            };
            self.error(g.loc, format!("unknown capability `{}`", g.name))
                .label = Some(hint);
        }
    }

    fn role(&mut self, role: &str, loc: Loc) {
        if role.contains("{{") || role == "none" {
            return;
        }
        let roles: Vec<&str> = capability::CLIENT_ROLES.iter().map(|(r, _)| *r).collect();
        if !roles.contains(&role) {
            self.error(loc, format!("unknown client role `{role}`"))
                .label = Some(hint_for(role, &roles));
        }
        if let Some(pre) = self
            .gated
            .as_ref()
            .and_then(|g| g.foreign.get(role).copied())
        {
            self.error(
                loc,
                format!(
                    "the `{role}` client has a prerequisite (`{pre}`) that would not gate this cell"
                ),
            )
            .label = Some(format!(
                "name it in the matrix: `matrix: {{ client: [{role}] }}`"
            ));
        }
    }

    fn step(
        &mut self,
        step: &Step,
        defined: &mut BTreeSet<String>,
        later: &BTreeMap<String, Loc>,
        dims: &[String],
    ) {
        for g in step.when.iter().chain(&step.unless) {
            self.gate(g);
        }
        let mut tpls: Vec<&Tpl> = Vec::new();
        let mut values: Vec<&TplValue> = Vec::new();
        let mut sends_refresh_token = false;
        match &step.action {
            Action::Request(r) => {
                sends_refresh_token |= self.request(r, &mut tpls, &mut values);
            }
            Action::Race(r) => {
                for req in &r.requests {
                    sends_refresh_token |= self.request(req, &mut tpls, &mut values);
                }
            }
            Action::Bootstrap(b) => {
                tpls.extend(b.client.iter().chain(&b.scope).chain(&b.grant));
                tpls.extend(b.params.iter().map(|(_, t)| t));
                if let Some(c) = &b.client
                    && let Some(role) = c.template.as_literal()
                {
                    self.role(&role, c.loc);
                }
                if let Some(d) = &b.dpop {
                    tpls.push(&d.key);
                    values.extend(d.claims.iter().chain(&d.jwt_header).map(|(_, v)| v));
                }
            }
            Action::Authorize(a) => {
                tpls.extend(
                    [
                        &a.client,
                        &a.client_id,
                        &a.redirect_uri,
                        &a.scope,
                        &a.state,
                        &a.nonce,
                        &a.code_challenge,
                        &a.code_challenge_method,
                    ]
                    .into_iter()
                    .flatten(),
                );
                tpls.extend(a.params.iter().map(|(_, t)| t));
                if let Some(c) = &a.client
                    && let Some(role) = c.template.as_literal()
                {
                    self.role(&role, c.loc);
                }
            }
            Action::Wait(w) => tpls.extend(w.templates()),
            Action::Include(inc) => {
                values.extend(inc.with.iter().map(|(_, v)| v));
                // A fixture's `role` parameter names the client it plays.
                for (_, v) in inc.with.iter().filter(|(n, _)| n == "role") {
                    if let Some(role) = v.value.as_str() {
                        self.role(role, v.loc);
                    }
                }
                match self.cat.fixtures.get(&inc.name) {
                    Some(f) => {
                        for (name, _) in &inc.with {
                            if !f.params.iter().any(|(p, _)| p == name) {
                                let params: Vec<&str> =
                                    f.params.iter().map(|(p, _)| p.as_str()).collect();
                                self.error(
                                    inc.loc,
                                    format!("fixture `{}` has no parameter `{name}`", inc.name),
                                )
                                .label = Some(hint_for(name, &params));
                            }
                        }
                    }
                    None => {
                        let names: Vec<&str> =
                            self.cat.fixtures.keys().map(String::as_str).collect();
                        self.error(inc.loc, format!("unknown fixture `{}`", inc.name))
                            .label = Some(if names.is_empty() {
                            "fixtures live in specs/fixtures/*.yaml with `fixture: <name>`".into()
                        } else {
                            hint_for(&inc.name, &names)
                        });
                    }
                }
            }
        }
        tpls.extend(step.captures.iter().filter_map(|c| c.default.as_ref()));
        for t in tpls {
            self.template(&t.template, t.loc, defined, later, dims);
        }
        for v in values {
            self.value_templates(&v.value, v.loc, defined, later, dims);
        }
        if let Some(e) = &step.expect {
            self.expect(e, defined, later, dims);
        }
        if let Some(r) = &step.retry {
            if sends_refresh_token {
                self.error(r.loc, "a step that sends a refresh token cannot be retried")
                    .label = Some(
                    "a retry consumes the token or triggers reuse detection: remove `retry`".into(),
                );
            } else if !step.idempotent {
                self.error(r.loc, "`retry` needs `idempotent: true`").label = Some(
                    "only side-effect-free steps (introspection, metadata) may be retried".into(),
                );
            }
        }
        if let Action::Include(inc) = &step.action
            && let Some(f) = self.cat.fixtures.get(&inc.name)
        {
            defined.extend(captures_by_name(&f.steps, self.cat).into_keys());
        }
        for c in &step.captures {
            defined.insert(c.name.clone());
        }
    }

    /// Collects a request's templates; returns whether it sends a refresh token.
    fn request<'r>(
        &mut self,
        r: &'r RequestSpec,
        tpls: &mut Vec<&'r Tpl>,
        values: &mut Vec<&'r TplValue>,
    ) -> bool {
        tpls.extend(
            r.method
                .iter()
                .chain(&r.endpoint)
                .chain(&r.url)
                .chain(&r.body)
                .chain(&r.body_raw),
        );
        for (_, vs) in r.query.iter().chain(&r.form) {
            tpls.extend(vs);
        }
        tpls.extend(r.headers.iter().map(|(_, t)| t));
        if let Some(a) = &r.client_auth {
            tpls.push(&a.client);
            tpls.extend(a.method.iter().chain(&a.client_id).chain(&a.secret));
            values.extend(a.claims.iter().chain(&a.jwt_header).map(|(_, v)| v));
            if let Some(role) = a.client.template.as_literal() {
                self.role(&role, a.client.loc);
            }
        }
        if let Some(d) = &r.dpop {
            tpls.push(&d.key);
            values.extend(d.claims.iter().chain(&d.jwt_header).map(|(_, v)| v));
        }
        r.form.iter().any(|(k, vs)| {
            k == "refresh_token"
                || (k == "grant_type"
                    && vs
                        .iter()
                        .any(|t| t.template.as_literal().as_deref() == Some("refresh_token")))
        }) || r
            .body
            .as_ref()
            .is_some_and(|b| b.raw.contains("refresh_token"))
    }

    fn expect(
        &mut self,
        e: &Expect,
        defined: &BTreeSet<String>,
        later: &BTreeMap<String, Loc>,
        dims: &[String],
    ) {
        let checks = e
            .status
            .iter()
            .chain(e.headers.iter().map(|(_, c)| c))
            .chain(e.json.iter().map(|(_, c)| c))
            .chain(&e.body);
        let mut all: Vec<&Check> = checks.collect();
        if let Some(r) = &e.race {
            all.extend(r.successes.iter().chain(&r.server_errors));
            for sub in r.each_success.iter().chain(&r.each_failure) {
                self.expect(sub, defined, later, dims);
            }
        }
        for c in all {
            if let Some((id, loc)) = &c.requirement {
                self.requirement(id, *loc);
            }
            for p in &c.predicates {
                self.value_templates(&p.arg.value, p.arg.loc, defined, later, dims);
            }
        }
    }

    fn value_templates(
        &mut self,
        v: &serde_json::Value,
        loc: Loc,
        defined: &BTreeSet<String>,
        later: &BTreeMap<String, Loc>,
        dims: &[String],
    ) {
        match v {
            serde_json::Value::String(s) => {
                if let Ok(t) = Template::parse(s) {
                    self.template(&t, loc, defined, later, dims);
                }
            }
            serde_json::Value::Array(items) => {
                for i in items {
                    self.value_templates(i, loc, defined, later, dims);
                }
            }
            serde_json::Value::Object(m) => {
                for i in m.values() {
                    self.value_templates(i, loc, defined, later, dims);
                }
            }
            _ => {}
        }
    }

    fn template(
        &mut self,
        t: &Template,
        loc: Loc,
        defined: &BTreeSet<String>,
        later: &BTreeMap<String, Loc>,
        dims: &[String],
    ) {
        for (path, offset) in t.paths() {
            let Some(root) = path.first() else { continue };
            let at = Loc {
                col: loc.col + u32::try_from(offset).unwrap_or(0),
                len: u32::try_from(root.chars().count() + 6).unwrap_or(1),
                ..loc
            };
            if builtin_roots().contains(&root.as_str()) {
                self.namespace_path(&path, at, dims);
                continue;
            }
            if defined.contains(root) {
                continue;
            }
            if let Some(def) = later.get(root) {
                self.error(at, format!("`{root}` is used before it is captured"))
                    .label = Some(format!("it is captured later, at line {}", def.line));
            } else {
                let mut names: Vec<&str> = defined.iter().map(String::as_str).collect();
                names.extend(builtin_roots());
                let hint = match did_you_mean(root, names.iter().copied()) {
                    Some(c) => format!("did you mean `{c}`?"),
                    None => "define it under `vars:` or capture it in an earlier step".into(),
                };
                self.error(at, format!("`{root}` is not defined")).label = Some(hint);
            }
        }
    }

    /// Checks paths into known namespaces: `policy.*` against the policy's shape, `matrix.*`
    /// against the scenario's dimensions, `target.endpoints.*` against endpoint names.
    fn namespace_path(&mut self, path: &[String], at: Loc, dims: &[String]) {
        match path.first().map(String::as_str) {
            Some("policy") => {
                let mut cur = self.policy;
                let mut walked = String::from("policy");
                for seg in &path[1..] {
                    let Some(obj) = cur.as_object() else { return };
                    match obj.get(seg) {
                        Some(next) => {
                            cur = next;
                            walked.push('.');
                            walked.push_str(seg);
                        }
                        None => {
                            let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
                            self.error(at, format!("`{walked}` has no field `{seg}`"))
                                .label = Some(hint_for(seg, &keys));
                            return;
                        }
                    }
                }
            }
            Some("matrix") => {
                if let Some(d) = path.get(1)
                    && !dims.contains(d)
                {
                    let names: Vec<&str> = dims.iter().map(String::as_str).collect();
                    self.error(at, format!("the matrix has no dimension `{d}`"))
                        .label = Some(if names.is_empty() {
                        "add a `matrix:` to the scenario".into()
                    } else {
                        hint_for(d, &names)
                    });
                }
            }
            Some("target") => {
                if path.get(1).map(String::as_str) == Some("endpoints")
                    && let Some(e) = path.get(2)
                    && !super::decode::ENDPOINTS.contains(&e.as_str())
                {
                    self.error(at, format!("unknown endpoint `{e}`")).label =
                        Some(hint_for(e, super::decode::ENDPOINTS));
                }
            }
            Some(ns @ ("scopes" | "test_user")) => {
                let fields = if ns == "scopes" {
                    crate::profile::vocabulary::SCOPE_FIELDS
                } else {
                    crate::profile::vocabulary::TEST_USER_FIELDS
                };
                if let Some(f) = path.get(1)
                    && !fields.contains(&f.as_str())
                {
                    self.error(at, format!("`{ns}` has no field `{f}`")).label =
                        Some(hint_for(f, fields));
                }
            }
            Some("client") => {
                const FIELDS: &[&str] = &[
                    "role",
                    "id",
                    "auth_method",
                    "public",
                    "redirect_uri",
                    "introspector",
                ];
                if let Some(f) = path.get(1)
                    && !FIELDS.contains(&f.as_str())
                {
                    self.error(at, format!("`client` has no field `{f}`")).label =
                        Some(hint_for(f, FIELDS));
                }
            }
            _ => {}
        }
    }
}
