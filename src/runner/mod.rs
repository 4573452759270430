//! The runner: plan (scenario × matrix cell), gate on capabilities, execute concurrently, judge.
//!
//! Each scenario cell runs on its own fresh token family (its setup bootstraps one), so cells
//! are independent and run `-j N` at a time. Cells that let time pass (`wait`) run one at a
//! time after the others when the target has a virtual clock, because advancing the clock is
//! global to the server and would expire other cells' tokens mid-flight. In real time they run
//! first, alongside the rest and outside `-j`, since they mostly sleep (see [`clock`]) — unless
//! `-j 1` asks for one cell at a time.

mod clock;
mod execute;
mod failure;
pub mod predicate;
mod prepare;
mod prerequisite;
mod race;

use clock::Pacing;
pub use clock::{DEFAULT_MAX_WAIT, REAL_MARGIN, TIME_WAIT};
use prerequisite::Prerequisites;

use crate::report::{Outcome, RequirementRef, ScenarioResult};
use crate::scenario::{Catalogue, Scenario};
use crate::session::Session;
use serde_json::Value;
use std::sync::Arc;

/// Called with each result as it completes, with the cell's index in the plan (results complete
/// in any order; the index lets a caller show them in plan order).
pub type ResultCallback = Arc<dyn Fn(usize, &ScenarioResult) + Send + Sync>;

/// How to run.
#[derive(Clone)]
pub struct RunOptions {
    /// Cells in flight at once.
    pub jobs: usize,
    /// Scenario filters: a glob on the id (`rotation.*`), a substring, or `tag:<tag>`; any match.
    pub filters: Vec<String>,
    /// Called with each result as it completes (already redacted).
    pub on_result: Option<ResultCallback>,
    /// Without a test clock: how long after the run's start every real-time wait must be over
    /// (zero: no real-time waits).
    pub max_wait: std::time::Duration,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            jobs: 4,
            filters: Vec::new(),
            on_result: None,
            max_wait: DEFAULT_MAX_WAIT,
        }
    }
}

/// Plays a catalogue's scenarios against the target of a session.
pub struct Runner {
    /// The session with the target.
    pub session: Arc<Session>,
    /// Scenarios and fixtures.
    pub catalogue: Arc<Catalogue>,
    /// The run id.
    pub run_id: String,
    policy_json: Value,
    target_json: Value,
    clients_json: Value,
    /// The response invariants' view of the target, and what every cell's exchanges broke.
    invariants: crate::invariant::Context,
    broken: std::sync::Mutex<crate::invariant::Tally>,
    /// What the target's claims forbid of its policy.
    breaches: Vec<crate::claims::Breach>,
}

/// One planned cell.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Index into the catalogue's scenarios.
    pub scenario: usize,
    /// Matrix values, in dimension order.
    pub values: Vec<(String, String)>,
}

impl Cell {
    /// `client=public,x=y`.
    pub fn name(&self) -> String {
        crate::scenario::cell_name(&self.values)
    }
}

impl Runner {
    /// A runner of `catalogue` over `session`; the template namespaces are computed once.
    pub fn new(session: Arc<Session>, catalogue: Arc<Catalogue>, run_id: String) -> Runner {
        let target = &session.target;
        let policy_json = serde_json::to_value(&target.policy).unwrap_or_default();
        let target_json = target.template_value();
        let clients_json = target.clients_value(&session.capabilities);
        let invariants = crate::invariant::Context::for_target(target);
        let breaches =
            crate::claims::ClaimsCatalogue::builtin().check(&target.policy, &target.claims);
        Runner {
            session,
            catalogue,
            run_id,
            policy_json,
            target_json,
            clients_json,
            invariants,
            broken: std::sync::Mutex::default(),
            breaches,
        }
    }

    /// Expands the matrix of every selected scenario, and of the prerequisite scenario
    /// (`prerequisite_for`) of every client role a selected cell uses, so that a filtered run
    /// skips those cells for the same reason a full run does.
    pub fn plan(&self, filters: &[String]) -> Vec<Cell> {
        let scenarios = &self.catalogue.scenarios;
        let mut selected: Vec<bool> = scenarios
            .iter()
            .map(|s| filters.is_empty() || filters.iter().any(|f| matches_filter(s, f)))
            .collect();
        let roles: std::collections::BTreeSet<String> = (0..scenarios.len())
            .filter(|i| selected[*i])
            .flat_map(|i| self.cells_of(i))
            .map(|c| self.cell_role(&c))
            .collect();
        for (i, s) in scenarios.iter().enumerate() {
            if s.prerequisite_for
                .as_ref()
                .is_some_and(|(r, _)| roles.contains(r))
            {
                selected[i] = true;
            }
        }
        (0..scenarios.len())
            .filter(|i| selected[*i])
            .flat_map(|i| self.cells_of(i))
            .collect()
    }

    /// The matrix cells of one scenario (by index in the catalogue).
    pub fn cells_of(&self, scenario: usize) -> Vec<Cell> {
        let Some(s) = self.catalogue.scenarios.get(scenario) else {
            return Vec::new();
        };
        s.cells()
            .into_iter()
            .map(|values| Cell { scenario, values })
            .collect()
    }

    /// The capabilities scenarios are gated on in a run with `opts`: the session's, with
    /// `time.wait` where time can be made to pass.
    pub fn capabilities(&self, opts: &RunOptions) -> std::collections::BTreeSet<String> {
        clock::capabilities(&self.session, opts.max_wait)
    }

    /// Runs the plan; results come back in plan order.
    pub async fn run(self: &Arc<Self>, cells: Vec<Cell>, opts: &RunOptions) -> Vec<ScenarioResult> {
        let pacing = Arc::new(Pacing::new(&self.session, opts.max_wait, opts.jobs));
        let prereqs = Arc::new(Prerequisites::new(self, &cells));
        let virtual_clock = matches!(pacing.clock, clock::Clock::Virtual);
        let waits = |c: &Cell| self.catalogue.scenarios[c.scenario].lets_time_pass(&self.catalogue);
        // `-j 1` asks for one cell at a time (a server whose store breaks under concurrent
        // writes): waiting cells then take their turn after the rest, as on a virtual clock.
        let one_at_a_time = opts.jobs <= 1;
        let (serial, mut parallel): (Vec<_>, Vec<_>) = cells
            .into_iter()
            .enumerate()
            .partition(|(_, c)| (virtual_clock || one_at_a_time) && waits(c));
        // Prerequisites start first: other cells wait for their verdict. Then, in real time,
        // cells that wait start first and outside `-j` (they mostly sleep, and a place to wake
        // up into could come too late for their checks), so their waits overlap the rest of
        // the run and fit --max-wait.
        parallel.sort_by_key(|(_, c)| (!prereqs.is_prerequisite(c), !waits(c)));
        let mut set = tokio::task::JoinSet::new();
        // Which cell each task runs, so a cell whose task panicked still gets a result.
        let mut tasks = std::collections::HashMap::new();
        for (idx, cell) in parallel {
            let limited = !waits(&cell);
            let ctx = Arc::clone(self);
            let task_cell = cell.clone();
            let pacing = Arc::clone(&pacing);
            let prereqs = Arc::clone(&prereqs);
            let cb = opts.on_result.clone();
            let handle = set.spawn(async move {
                // Waiting for a prerequisite holds no place, so `-j 1` cannot deadlock.
                let unmet = prereqs.skip_reason(&ctx, &cell).await;
                let _place = if limited {
                    pacing.jobs().acquire_owned().await.ok()
                } else {
                    None
                };
                let r = ctx.run_cell(&cell, &pacing, unmet).await;
                prereqs.record(&cell, &r);
                if let Some(cb) = &cb {
                    cb(idx, &r);
                }
                (idx, r)
            });
            tasks.insert(handle.id(), (idx, task_cell));
        }
        let mut results: Vec<(usize, ScenarioResult)> = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(r) => results.push(r),
                Err(e) => {
                    if let Some((idx, cell)) = tasks.remove(&e.id()) {
                        let mut r = self.new_result(&cell);
                        r.outcome = Outcome::Error;
                        r.reason = Some(format!("the harness failed running this cell: {e}"));
                        prereqs.record(&cell, &r);
                        if let Some(cb) = &opts.on_result {
                            cb(idx, &r);
                        }
                        results.push((idx, r));
                    }
                }
            }
        }
        for (idx, cell) in serial {
            // Prerequisites never wait (validation), so they ran above.
            let unmet = prereqs.skip_reason(self, &cell).await;
            let r = self.run_cell(&cell, &pacing, unmet).await;
            if let Some(cb) = &opts.on_result {
                cb(idx, &r);
            }
            results.push((idx, r));
        }
        results.sort_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, r)| r).collect()
    }

    /// A result for `cell` with nothing run yet.
    fn new_result(&self, cell: &Cell) -> ScenarioResult {
        let s = &self.catalogue.scenarios[cell.scenario];
        ScenarioResult {
            scenario: s.id.clone(),
            cell: cell.name(),
            title: s.title.clone(),
            file: s.source.path.to_string(),
            outcome: Outcome::Pass,
            reason: None,
            requirements: s
                .requirements
                .iter()
                .map(|r| RequirementRef {
                    id: r.id.clone(),
                    level: r.level,
                })
                .collect(),
            duration_ms: 0,
            steps: Vec::new(),
            findings: Vec::new(),
        }
    }

    /// Runs one cell, gating first (capabilities, then `unmet`: why its client's prerequisite
    /// says to skip it, then its waits: they must fit the clock's margins and, in real time,
    /// what is left of `--max-wait`); the result is redacted.
    async fn run_cell(
        &self,
        cell: &Cell,
        pacing: &Pacing,
        unmet: Option<String>,
    ) -> ScenarioResult {
        let s = &self.catalogue.scenarios[cell.scenario];
        let start = std::time::Instant::now();
        let mut result = self.new_result(cell);
        let forced = self.forced(cell);
        if let Some(reason) = self.gate(s, cell, pacing, &forced).or(unmet) {
            result.outcome = Outcome::Skip;
            result.reason = Some(reason);
            return result;
        }
        let mut run = execute::ScenarioRun::new(self, s, cell, pacing, forced.clone());
        let planned = run.planned_wait().and_then(|d| pacing.fits(d));
        if let Err(reason) = planned {
            result.outcome = Outcome::Skip;
            result.reason = Some(self.session.redactor.redact(&reason));
            return result;
        }
        run.execute().await;
        self.check_invariants(&result.name(), &run.steps);
        result.outcome = run.outcome();
        result.reason = run.reason.clone().or_else(|| run.skipped_checks_note());
        result.steps = std::mem::take(&mut run.steps);
        result.findings = std::mem::take(&mut run.findings);
        cap_to_claims(&mut result, &forced);
        self.apply_deviation(&mut result);
        result.duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.redact_result(&mut result);
        result
    }

    /// The cell's client role: the matrix `client`, else `confidential`, else the first client.
    pub(crate) fn cell_role(&self, cell: &Cell) -> String {
        if let Some((_, v)) = cell.values.iter().find(|(k, _)| k == "client") {
            return v.clone();
        }
        let clients = &self.session.target.clients;
        if clients.contains_key("confidential") {
            return "confidential".into();
        }
        clients.keys().next().cloned().unwrap_or_default()
    }

    /// Whether the target has capability `name` in a cell whose client is `role`: the session's
    /// capabilities (with `time.wait` when time can pass), plus `introspection.cell_client` when some client can introspect that
    /// client's tokens (its `introspector`).
    pub(crate) fn has_capability(
        &self,
        role: &str,
        name: &str,
        pacing: &Pacing,
        forced: &crate::claims::Forced,
    ) -> bool {
        if let Some(decided) = forced.decides(name) {
            return decided;
        }
        pacing.has(name)
            || (name == crate::capability::INTROSPECTION_CELL_CLIENT
                && self
                    .clients_json
                    .get(role)
                    .and_then(|c| c.get("introspector"))
                    .is_some_and(|v| !v.is_null()))
    }

    /// Why `requires`/`when` (`all`) or `unless` gates skip, if they do, in a cell whose client
    /// is `role`: the missing or present capabilities with the policy keys behind them.
    pub(crate) fn gate_reason(
        &self,
        role: &str,
        all: &[crate::scenario::Gate],
        none: &[crate::scenario::Gate],
        pacing: &Pacing,
        forced: &crate::claims::Forced,
    ) -> Option<String> {
        use crate::capability::{describe_gates_noting, describe_missing, parent};
        // A skip for a policy choice says what the claims make of it: legitimate only when
        // every claimed standard allows the choice.
        let note = |keys: &[&str]| {
            Some(crate::claims::ClaimsCatalogue::builtin().skip_note(
                keys,
                &self.session.target.claims,
                &self.breaches,
            ))
        };
        let mut missing: Vec<&str> = Vec::new();
        for c in all.iter().map(|g| g.name.as_str()) {
            if self.has_capability(role, c, pacing, forced) {
                continue;
            }
            // A target without introspection lacks what introspection would observe too: name
            // what it lacks, not the policy keys of a feature it does not have.
            let root = parent(c)
                .filter(|p| !self.has_capability(role, p, pacing, forced))
                .unwrap_or(c);
            if !missing.contains(&root) {
                missing.push(root);
            }
        }
        if !missing.is_empty() {
            return Some(format!(
                "target lacks {}",
                describe_gates_noting(&missing, describe_missing, &note)
            ));
        }
        let present: Vec<&str> = none
            .iter()
            .map(|g| g.name.as_str())
            .filter(|c| self.has_capability(role, c, pacing, forced))
            .collect();
        (!present.is_empty()).then(|| {
            format!(
                "not applicable: target has {}",
                describe_gates_noting(&present, str::to_owned, &note)
            )
        })
    }

    /// How the target's claims change the judging of `cell` (see [`crate::claims::Forced`]).
    fn forced(&self, cell: &Cell) -> crate::claims::Forced {
        let s = &self.catalogue.scenarios[cell.scenario];
        crate::claims::ClaimsCatalogue::builtin().forced(&self.breaches, &s.id, &cell.name())
    }

    /// Why a cell is skipped, if it is.
    fn gate(
        &self,
        s: &Scenario,
        cell: &Cell,
        pacing: &Pacing,
        forced: &crate::claims::Forced,
    ) -> Option<String> {
        if let Some(reason) = self.gate_reason(
            &self.cell_role(cell),
            &s.requires,
            &s.unless,
            pacing,
            forced,
        ) {
            return Some(reason);
        }
        for (dim, value) in &cell.values {
            if dim == "client"
                && value != "none"
                && !self.session.target.clients.contains_key(value)
            {
                return Some(format!("target defines no `{value}` client"));
            }
        }
        None
    }

    fn redact_result(&self, r: &mut ScenarioResult) {
        let red = &self.session.redactor;
        r.reason = r.reason.as_deref().map(|s| red.redact(s));
        for f in &mut r.findings {
            f.expected = red.redact(&f.expected);
            f.observed = red.redact(&f.observed);
            f.snippet = red.redact(&f.snippet);
        }
        for st in &mut r.steps {
            st.message = st.message.as_deref().map(|s| red.redact(s));
            for ex in &mut st.exchanges {
                redact_exchange(red, ex);
            }
        }
    }

    /// Judges every answered exchange of a cell's steps (raw, before redaction) by the response
    /// invariants, keeping the first few that break each rule, redacted.
    fn check_invariants(&self, cell: &str, steps: &[crate::report::StepResult]) {
        let Ok(mut broken) = self.broken.lock() else {
            return;
        };
        for st in steps {
            for x in &st.exchanges {
                let Some(view) = crate::invariant::Exchange::from_record(x) else {
                    continue;
                };
                for v in crate::invariant::evaluate(&self.invariants, &view) {
                    broken.record(&v, cell, &st.id, || {
                        let mut shown = x.clone();
                        redact_exchange(&self.session.redactor, &mut shown);
                        shown
                    });
                }
            }
        }
    }

    /// The target's own rows, after the cells: one per policy key a claimed standard forbids
    /// (`policy.<key>`), and one per response invariant its answers broke (`invariant.<rule>`)
    /// with the first few exchanges that broke it. A deviation listed in the profile for such a
    /// row applies as it does to a scenario.
    pub fn target_results(&self) -> Vec<ScenarioResult> {
        let target = &self.session.target;
        let mut rows = crate::claims::rows(
            crate::claims::ClaimsCatalogue::builtin(),
            &self.breaches,
            &target.policy,
            &self.catalogue.requirements,
        );
        if let Ok(t) = self.broken.lock() {
            rows.extend(t.results(&self.catalogue.requirements));
        }
        for r in &mut rows {
            self.apply_deviation(r);
        }
        rows
    }

    /// A listed known deviation turns a failure into an XFail and a pass into an XPass.
    fn apply_deviation(&self, result: &mut ScenarioResult) {
        let Some(dev) = self
            .session
            .target
            .deviation(&result.scenario, &result.cell)
        else {
            return;
        };
        match result.outcome {
            Outcome::Fail => {
                result.outcome = Outcome::Xfail;
                result.reason = Some(format!("known deviation: {}", dev.reason));
            }
            Outcome::Pass | Outcome::Warn | Outcome::Info => {
                result.outcome = Outcome::Xpass;
                result.reason = Some(format!(
                    "listed as a known deviation ({}) but passed: remove it from the target profile",
                    dev.reason
                ));
            }
            _ => {}
        }
    }
}

/// A cell that runs only because a claimed standard forbids the policy choice that would skip
/// it counts its failures at that standard's level (a SHOULD makes them Warn), and says why.
fn cap_to_claims(result: &mut ScenarioResult, forced: &crate::claims::Forced) {
    let Some(level) = forced.level else {
        return;
    };
    for f in &mut result.findings {
        // Levels order strictest first: the weaker of the two.
        f.level = f.level.max(level);
    }
    if matches!(
        result.outcome,
        Outcome::Fail | Outcome::Warn | Outcome::Info
    ) {
        result.outcome = result
            .findings
            .iter()
            .map(|f| f.level)
            .min()
            .map_or(result.outcome, |l| l.outcome_when_broken());
    }
    let why = format!(
        "run although the policy would skip it: {}",
        forced.because.join("; ")
    );
    result.reason = Some(match result.reason.take() {
        Some(r) => format!("{why}; {r}"),
        None => why,
    });
}

/// Redacts one exchange: URL, headers (credentials always), bodies (sensitive fields by name,
/// then every registered secret), transport error.
fn redact_exchange(red: &crate::profile::Redactor, ex: &mut crate::report::Exchange) {
    ex.request.url = red.redact(&ex.request.url);
    for (n, v) in &mut ex.request.headers {
        *v = red.redact_header(n, v);
    }
    ex.request.body = ex.request.body.as_deref().map(|b| red.redact_body(b));
    ex.error = ex.error.as_deref().map(|e| red.redact(e));
    if let Some(resp) = &mut ex.response {
        for (n, v) in &mut resp.headers {
            *v = red.redact_header(n, v);
        }
        resp.body = red.redact_body(&resp.body);
    }
}

/// Whether scenario `s` is selected by filter `f`: `tag:<tag>`, a glob on the id (`*` any run
/// of characters), else a substring of the id.
pub fn matches_filter(s: &Scenario, f: &str) -> bool {
    if let Some(tag) = f.strip_prefix("tag:") {
        return s.tags.iter().any(|t| t == tag);
    }
    if f.contains('*') {
        return glob(f, &s.id);
    }
    s.id.contains(f)
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = text;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.find(p) {
                Some(pos) => rest = &rest[pos + p.len()..],
                None => return false,
            }
        }
    }
    rest.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("rotation.*", "rotation.old"));
        assert!(glob("*.old*", "rotation.old-token"));
        assert!(!glob("rotation.*", "grants.x"));
    }
}
