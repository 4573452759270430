//! Executing one scenario cell: setup, steps, teardown; captures; findings.

use super::clock::Pacing;
use super::failure::{Placed, StepError, Stop};
use super::predicate::{self, show_observed};
use super::race::{self, Reply};
use super::{Cell, Runner};
use crate::diagnostic::Diagnostic;
use crate::http::jwt::DpopKey;
use crate::http::{BodyLimit, HttpResponse, NoAnswer, PreparedRequest};
use crate::report::{
    Exchange, Finding, HttpRequestRecord, HttpResponseRecord, Outcome, Phase, StepOutcome,
    StepResult,
};
use crate::scenario::{
    Action, Capture, CaptureSource, Check, Expect, JsonPath, Level, Scenario, Step, Tpl,
};
use crate::session::{Record, Session};
use crate::template::{Scope, value_to_text};
use crate::yaml::{Loc, Source};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How a step went, for control flow.
enum Flow {
    Continue,
    /// A MUST-level assertion failed: later steps would test nothing meaningful.
    StopFailed,
    /// The step could not run.
    StopError(Placed),
}

/// One running cell.
pub(crate) struct ScenarioRun<'a> {
    pub ctx: &'a Runner,
    pub scenario: &'a Scenario,
    /// The file of the steps running now (a fixture's while its steps run).
    source: Source,
    cell: &'a Cell,
    pub(super) vars: Map<String, Value>,
    pub dpop_keys: HashMap<String, Arc<DpopKey>>,
    pub steps: Vec<StepResult>,
    pub findings: Vec<Finding>,
    pub reason: Option<String>,
    /// What stopped the cell early, if anything.
    stop: Option<Stop>,
    /// Checks skipped because the target does not let the harness observe what they look at
    /// (step id, why), reported with the result.
    pub skipped_checks: Vec<(String, String)>,
    ran_any: bool,
    /// How time passes in this run, and the capabilities it gates on.
    pub(super) pacing: &'a Pacing,
    /// Cell time: real time since `started`, or the virtual clock's advances in this cell.
    pub(super) started: Instant,
    pub(super) virtual_elapsed: Duration,
    /// The cell time at which each step with an `id` ended (`wait: { since }`).
    pub(super) marks: HashMap<String, Duration>,
    /// How the target's claims change this cell's gates.
    pub(super) forced: crate::claims::Forced,
}

impl Scope for ScenarioRun<'_> {
    fn root(&self, name: &str) -> Option<Value> {
        match name {
            "target" => Some(self.ctx.target_json().clone()),
            "clients" => Some(self.ctx.clients_json.clone()),
            "policy" => Some(self.ctx.policy_json.clone()),
            "scopes" => Some(self.session().target.scopes_value()),
            "test_user" => self.session().target.test_user_value(),
            "run" => Some(serde_json::json!({ "id": self.ctx.run_id })),
            "matrix" => Some(Value::Object(
                self.cell
                    .values
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            )),
            "client" => {
                let role = self.default_role();
                self.ctx.clients_json.get(&role).cloned()
            }
            "dpop" => Some(Value::Object(
                self.dpop_keys
                    .iter()
                    .map(|(k, key)| {
                        (
                            k.clone(),
                            serde_json::json!({"jkt": key.thumbprint(), "jwk": key.public_jwk()}),
                        )
                    })
                    .collect(),
            )),
            other => self.vars.get(other).cloned(),
        }
    }
}

impl Runner {
    pub(crate) fn target_json(&self) -> &Value {
        &self.target_json
    }
}

impl Record for StepResult {
    fn exchange(
        &mut self,
        req: &PreparedRequest,
        outcome: Result<&HttpResponse, &str>,
        elapsed: Duration,
    ) {
        let (resp, error) = match outcome {
            Ok(r) => (Some(r), None),
            Err(e) => (None, Some(e.to_owned())),
        };
        self.exchanges.push(exchange(req, resp, error, elapsed));
    }
}

impl<'a> ScenarioRun<'a> {
    pub fn new(
        ctx: &'a Runner,
        scenario: &'a Scenario,
        cell: &'a Cell,
        pacing: &'a Pacing,
        forced: crate::claims::Forced,
    ) -> ScenarioRun<'a> {
        ScenarioRun {
            ctx,
            scenario,
            source: scenario.source.clone(),
            cell,
            vars: Map::new(),
            dpop_keys: HashMap::new(),
            steps: Vec::new(),
            findings: Vec::new(),
            reason: None,
            stop: None,
            skipped_checks: Vec::new(),
            ran_any: false,
            pacing,
            started: Instant::now(),
            virtual_elapsed: Duration::ZERO,
            marks: HashMap::new(),
            forced,
        }
    }

    pub(crate) fn session(&self) -> &'a Session {
        &self.ctx.session
    }

    /// The matrix cell's client role, else `confidential`, else the first client.
    pub(crate) fn default_role(&self) -> String {
        self.ctx.cell_role(self.cell)
    }

    /// Renders a template; a failure points at it.
    pub(crate) fn render_tpl(&self, t: &Tpl) -> Result<String, StepError> {
        t.template
            .render_string(self)
            .map_err(|e| StepError::at(t.loc, format!("template: {}", e.0)))
    }

    /// Renders the scenario's `vars`; `Err` is the cell's error.
    pub(super) fn render_vars(&mut self) -> Result<(), String> {
        for (name, v) in &self.scenario.vars {
            match predicate::render_value(&v.value, self) {
                Ok(val) => {
                    self.vars.insert(name.clone(), val);
                }
                Err(e) => {
                    let at = Diagnostic::error(&self.source, v.loc, "").location();
                    return Err(format!("{at}: vars.{name}: {}", e.0));
                }
            }
        }
        Ok(())
    }

    pub async fn execute(&mut self) {
        let s = self.scenario;
        if let Err(e) = self.render_vars() {
            self.fail(e, Stop::Error);
            return;
        }
        let mut stopped = false;
        for step in &s.setup {
            match Box::pin(self.step(step, Phase::Setup, 0)).await {
                Flow::Continue => {}
                Flow::StopFailed if !self.forced.is_empty() => {
                    // The cell runs because a claimed standard requires what its setup checks:
                    // the setup's finding is the behaviour to report, not a harness error.
                    self.fail(
                        format!(
                            "setup step `{}` already shows the behaviour the claimed standard forbids",
                            step_id(step, &self.steps)
                        ),
                        Stop::Skip,
                    );
                    stopped = true;
                    break;
                }
                Flow::StopFailed => {
                    self.fail(
                        format!(
                            "setup step `{}` did not get the expected answer, so the scenario could not start",
                            step_id(step, &self.steps)
                        ),
                        Stop::Error,
                    );
                    stopped = true;
                    break;
                }
                Flow::StopError(e) => {
                    let msg = match e.stop {
                        Stop::Skip => e.message.clone(),
                        _ => format!("{}: setup: {}", e.location, e.message),
                    };
                    self.fail(msg, e.stop);
                    stopped = true;
                    break;
                }
            }
        }
        if !stopped {
            for (i, step) in s.steps.iter().enumerate() {
                match Box::pin(self.step(step, Phase::Steps, 0)).await {
                    Flow::Continue => {}
                    Flow::StopFailed => {
                        self.skip_rest(&s.steps[i + 1..], "an earlier step failed");
                        break;
                    }
                    Flow::StopError(e) => {
                        let (msg, why) = match e.stop {
                            Stop::Skip => (e.message.clone(), "not run: the cell was skipped"),
                            Stop::NoAnswer => (e.to_string(), "an earlier step got no answer"),
                            Stop::Error => (e.to_string(), "an earlier step errored"),
                        };
                        self.fail(msg, e.stop);
                        self.skip_rest(&s.steps[i + 1..], why);
                        break;
                    }
                }
            }
        }
        // Teardown is best effort: its failures never change the outcome.
        let findings_before = self.findings.len();
        for step in &s.teardown {
            let _ = Box::pin(self.step(step, Phase::Teardown, 0)).await;
        }
        self.findings.truncate(findings_before);
    }

    /// Stops the cell (the first stop gives the reason).
    fn fail(&mut self, msg: String, stop: Stop) {
        if self.stop.is_none() {
            self.stop = Some(stop);
            self.reason = Some(msg);
        }
    }

    fn skip_rest(&mut self, rest: &[Step], why: &str) {
        for st in rest {
            self.steps.push(StepResult {
                phase: Phase::Steps,
                id: step_id(st, &self.steps),
                name: st.name.clone(),
                kind: action_kind(&st.action).into(),
                outcome: StepOutcome::Skip,
                message: Some(why.into()),
                location: None,
                exchanges: Vec::new(),
                duration_ms: 0,
            });
        }
    }

    /// `checks skipped: a, b (target lacks …); c (…)`: the unobservable checks, grouped by why.
    pub fn skipped_checks_note(&self) -> Option<String> {
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for (id, why) in &self.skipped_checks {
            match groups.iter_mut().find(|(w, _)| *w == why.as_str()) {
                Some((_, ids)) => ids.push(id),
                None => groups.push((why, vec![id])),
            }
        }
        (!groups.is_empty()).then(|| {
            let parts: Vec<String> = groups
                .iter()
                .map(|(why, ids)| format!("{} ({why})", ids.join(", ")))
                .collect();
            format!("checks skipped: {}", parts.join("; "))
        })
    }

    /// The cell's outcome: a stop on an error or on no answer (a request, or race copies, not
    /// answered in time) decides it; else the strictest finding; a cell skipped midway (a wait
    /// that does not fit) without findings is a Skip.
    pub fn outcome(&self) -> Outcome {
        match self.stop {
            Some(Stop::Error) => return Outcome::Error,
            Some(Stop::NoAnswer) => return Outcome::Timeout,
            Some(Stop::Skip) | None => {}
        }
        // Levels are ordered strictest first.
        match self.findings.iter().map(|f| f.level).min() {
            Some(strictest) => strictest.outcome_when_broken(),
            None if !self.ran_any || self.stop == Some(Stop::Skip) => Outcome::Skip,
            None => Outcome::Pass,
        }
    }

    /// Why a step is skipped by its `when`/`unless`, if it is.
    pub(super) fn step_gate(&self, step: &Step) -> Option<String> {
        self.ctx
            .gate_reason(
                &self.default_role(),
                &step.when,
                &step.unless,
                self.pacing,
                &self.forced,
            )
            .map(|r| format!("skipped: {r}"))
    }

    async fn step(&mut self, step: &Step, phase: Phase, depth: usize) -> Flow {
        let id = step_id(step, &self.steps);
        let start = Instant::now();
        let mut record = StepResult {
            phase,
            id: id.clone(),
            name: step.name.clone(),
            kind: action_kind(&step.action).into(),
            outcome: StepOutcome::Pass,
            message: None,
            location: None,
            exchanges: Vec::new(),
            duration_ms: 0,
        };
        let role = self.default_role();
        if let Some(reason) =
            self.ctx
                .gate_reason(&role, &step.when, &step.unless, self.pacing, &self.forced)
        {
            let reason = reason
                .strip_prefix("not applicable: ")
                .unwrap_or(&reason)
                .to_owned();
            // A check the target cannot let the harness observe is reported with the result, so
            // a pass never hides what it could not see.
            let unobservable = step.when.iter().any(|g| {
                crate::capability::is_observation(&g.name)
                    && !self
                        .ctx
                        .has_capability(&role, &g.name, self.pacing, &self.forced)
            });
            if unobservable && phase == Phase::Steps {
                self.skipped_checks.push((id.clone(), reason.clone()));
            }
            record.outcome = StepOutcome::Skip;
            record.message = Some(format!("skipped: {reason}"));
            self.steps.push(record);
            return Flow::Continue;
        }
        if phase == Phase::Steps {
            self.ran_any = true;
        }
        let findings_before = self.findings.len();
        let result = self.act(step, phase, depth, &id, &mut record).await;
        record.duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let flow = match result {
            Err(mut e) => {
                // The step's own request got no answer in time: a Timeout, not an Error.
                let no_answer = record
                    .exchanges
                    .last()
                    .and_then(|x| x.error.as_deref())
                    .is_some_and(|x| NoAnswer::is(x) && e.message.contains(x));
                if e.stop == Stop::Error && no_answer {
                    e.stop = Stop::NoAnswer;
                }
                let placed = Placed::new(&self.source, step.loc, &id, &e);
                record.outcome = if e.stop == Stop::Skip {
                    StepOutcome::Skip
                } else {
                    StepOutcome::Error
                };
                record.message = Some(e.message);
                record.location = Some(placed.location.clone());
                Flow::StopError(placed)
            }
            Ok(()) => {
                if let Some(id) = &step.id {
                    self.marks.insert(id.clone(), self.now());
                }
                let new = &self.findings[findings_before..];
                if new.is_empty() {
                    Flow::Continue
                } else {
                    record.outcome = StepOutcome::Fail;
                    if new.iter().any(|f| f.level == Level::Must) {
                        Flow::StopFailed
                    } else {
                        Flow::Continue
                    }
                }
            }
        };
        if !matches!(step.action, Action::Include(_)) {
            self.steps.push(record);
        }
        flow
    }

    async fn act(
        &mut self,
        step: &Step,
        phase: Phase,
        depth: usize,
        id: &str,
        record: &mut StepResult,
    ) -> Result<(), StepError> {
        match &step.action {
            Action::Request(r) => {
                let attempts = step.retry.as_ref().map_or(1, |rt| rt.attempts.max(1));
                let mut attempt = 1;
                loop {
                    let before = self.findings.len();
                    let req = self.prepare(r)?;
                    let resp = self.send(&req, r.timeout, record).await?;
                    self.judge(step, id, &resp, record.exchanges.len() - 1)?;
                    let failed = self.findings.len() > before;
                    if failed && attempt < attempts {
                        // Only idempotent steps get here (validate enforces it): try again.
                        self.findings.truncate(before);
                        attempt += 1;
                        if let Some(rt) = &step.retry {
                            tokio::time::sleep(rt.interval).await;
                        }
                        continue;
                    }
                    if self.findings[before..]
                        .iter()
                        .any(|f| f.level == Level::Must)
                    {
                        // The answer was already wrong; a capture from it would only add noise.
                        return Ok(());
                    }
                    return self.capture(&step.captures, &[&resp]);
                }
            }
            Action::Bootstrap(b) => {
                let req = self.bootstrap_request(b)?;
                let resp = self.session().bootstrap(&req, record).await?;
                // A bootstrap is the harness's means to a token family, not the rule under test:
                // a refusal is a setup error unless the step makes the status its subject (a
                // status check with its own requirement or message).
                let status_judged = step
                    .expect
                    .as_ref()
                    .and_then(|e| e.status.as_ref())
                    .is_some_and(|c| c.requirement.is_some() || c.message.is_some());
                if !status_judged && !(200..300).contains(&resp.status) {
                    return Err(StepError::from(format!(
                        "bootstrap got status {} (expected 2xx): {}",
                        resp.status,
                        String::from_utf8_lossy(&resp.body)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    )));
                }
                let before = self.findings.len();
                self.judge(step, id, &resp, record.exchanges.len().saturating_sub(1))?;
                if self.findings[before..]
                    .iter()
                    .any(|f| f.level == Level::Must)
                {
                    return Ok(());
                }
                self.capture(&step.captures, &[&resp])
            }
            Action::Authorize(a) => {
                let req = self.authorize_request(a)?;
                let answer = self
                    .session()
                    .authorize(&req, record)
                    .await
                    .map_err(|e| StepError::at(a.loc, e))?;
                // Without an `expect`, the step is the code flow's first leg: no code is an
                // Error. With one, the scenario judges the answer (an error redirect, say).
                if step.expect.is_none() {
                    answer.code().map_err(|e| StepError::at(a.loc, e))?;
                }
                let resp = answer.judged();
                if answer.via_hook {
                    // No exchange to show: say what the hook reached (redacted with the result).
                    let loc = resp.header_values("location").join(", ");
                    record.message = Some(format!(
                        "through the target's `command` hook, which reached {loc}"
                    ));
                }
                let before = self.findings.len();
                if let Some(e) = &step.expect {
                    let ex = record.exchanges.len().checked_sub(1);
                    self.judge_expect(e, id, &resp, ex, "")?;
                }
                if self.findings[before..]
                    .iter()
                    .any(|f| f.level == Level::Must)
                {
                    return Ok(());
                }
                self.capture(&step.captures, &[&resp])
            }
            Action::Wait(w) => self.wait(w, record).await,
            Action::Race(r) => {
                let mut prepared = Vec::new();
                for req in &r.requests {
                    for _ in 0..r.count.max(1) {
                        prepared.push(self.prepare(req)?);
                    }
                }
                let timeout = r
                    .requests
                    .first()
                    .and_then(|q| q.timeout)
                    .unwrap_or(self.session().target.timeout);
                let window = race::answer_window(timeout, prepared.len(), self.slowest());
                let started = Instant::now();
                let outcomes = self.session().race(prepared.clone(), timeout, window).await;
                let elapsed = started.elapsed();
                let mut answers: Vec<Reply> = Vec::new();
                // A body over the harness's own limit says nothing about the target's token
                // logic: the race cannot be judged, unlike a request that got no answer.
                let mut over_limit = None;
                for (req, out) in prepared.iter().zip(outcomes) {
                    match out {
                        Ok(resp) => {
                            record.exchange(req, Ok(&resp), resp.duration);
                            answers.push(Reply::Response(resp));
                        }
                        Err(e) => {
                            if over_limit.is_none() && BodyLimit::is_exceeded(&e) {
                                over_limit = Some(e.clone());
                            }
                            record.exchange(req, Err(&e), elapsed);
                            answers.push(if NoAnswer::is(&e) {
                                Reply::Unanswered
                            } else {
                                Reply::Dropped
                            });
                        }
                    }
                }
                if let Some(e) = over_limit {
                    return Err(e.into());
                }
                let tally = race::Tally::of(&answers);
                let before = self.findings.len();
                self.judge_race(step, id, &answers, &tally)?;
                if self.findings[before..]
                    .iter()
                    .any(|f| f.level == Level::Must)
                {
                    return Ok(());
                }
                if let Some(why) = tally.unanswered_reason(window) {
                    return Err(StepError {
                        stop: Stop::NoAnswer,
                        ..StepError::from(why)
                    });
                }
                let ok: Vec<&HttpResponse> = answers.iter().filter_map(Reply::response).collect();
                self.capture_race(&step.captures, &ok)
            }
            Action::Include(inc) => {
                if depth >= 8 {
                    return Err("fixtures include each other more than 8 levels deep".into());
                }
                let fixture = self
                    .ctx
                    .catalogue
                    .fixtures
                    .get(&inc.name)
                    .ok_or_else(|| {
                        StepError::at(inc.loc, format!("unknown fixture `{}`", inc.name))
                    })?
                    .clone();
                for (name, default) in &fixture.params {
                    let given = inc.with.iter().find(|(n, _)| n == name).map(|(_, v)| v);
                    let (value, at) = match given {
                        Some(v) => (&v.value, v.loc),
                        None => (&default.value, inc.loc),
                    };
                    let val = predicate::render_value(value, self).map_err(|e| {
                        StepError::at(
                            at,
                            format!("fixture `{}` param `{name}`: {}", inc.name, e.0),
                        )
                    })?;
                    self.vars.insert(name.clone(), val);
                }
                // The fixture's steps report places in the fixture's file.
                let outer = std::mem::replace(&mut self.source, fixture.source.clone());
                let mut result = Ok(());
                for st in &fixture.steps {
                    match Box::pin(self.step(st, phase, depth + 1)).await {
                        Flow::Continue => {}
                        Flow::StopFailed => break,
                        Flow::StopError(e) => {
                            result = Err(StepError::placed(e));
                            break;
                        }
                    }
                }
                self.source = outer;
                result
            }
        }
    }

    pub(crate) async fn send(
        &mut self,
        req: &PreparedRequest,
        timeout: Option<Duration>,
        record: &mut StepResult,
    ) -> Result<HttpResponse, String> {
        self.session().send(req, timeout, record).await
    }

    /// Evaluates a step's `expect` on one response, recording findings.
    fn judge(
        &mut self,
        step: &Step,
        id: &str,
        resp: &HttpResponse,
        ex: usize,
    ) -> Result<(), StepError> {
        let Some(expect) = &step.expect else {
            return Ok(());
        };
        self.judge_expect(expect, id, resp, Some(ex), "")
    }

    fn judge_expect(
        &mut self,
        e: &Expect,
        id: &str,
        resp: &HttpResponse,
        ex: Option<usize>,
        prefix: &str,
    ) -> Result<(), StepError> {
        let body_json: Option<Value> = serde_json::from_slice(&resp.body).ok();
        if let Some(c) = &e.status {
            let obs = Value::from(resp.status);
            self.check(c, &format!("{prefix}status"), Some(&obs), id, ex, resp)?;
        }
        for (name, c) in &e.headers {
            let vals = resp.header_values(name);
            let obs = if vals.is_empty() {
                None
            } else {
                Some(Value::String(vals.join(", ")))
            };
            self.check(
                c,
                &format!("{prefix}header {name}"),
                obs.as_ref(),
                id,
                ex,
                resp,
            )?;
        }
        for (path, c) in &e.json {
            let obs = body_json.as_ref().and_then(|j| query(path, j));
            self.check(
                c,
                &format!("{prefix}{}", path.text),
                obs.as_ref(),
                id,
                ex,
                resp,
            )?;
        }
        if let Some(c) = &e.body {
            let obs = Value::String(String::from_utf8_lossy(&resp.body).into_owned());
            self.check(c, &format!("{prefix}body"), Some(&obs), id, ex, resp)?;
        }
        Ok(())
    }

    /// Judges a race's set of answers (see [`race`] for the unanswered copies).
    fn judge_race(
        &mut self,
        step: &Step,
        id: &str,
        answers: &[Reply],
        tally: &race::Tally,
    ) -> Result<(), StepError> {
        let Some(expect) = &step.expect else {
            return Ok(());
        };
        let Some(rx) = &expect.race else {
            return Ok(());
        };
        let context = HttpResponse {
            status: 0,
            headers: Vec::new(),
            body: tally.context().into_bytes(),
            duration: Duration::ZERO,
        };
        if let Some(c) = &rx.successes {
            // Each unanswered copy could still have been a success.
            let range = tally.successes..=tally.successes + tally.unanswered;
            self.check_count(c, "successes (2xx responses)", range, id, &context)?;
        }
        if let Some(c) = &rx.server_errors {
            let n = tally.server_errors;
            self.check_count(
                c,
                "server_errors (5xx, or the connection dropped without an answer)",
                n..=n,
                id,
                &context,
            )?;
        }
        for (i, r) in answers.iter().enumerate() {
            let Some(r) = r.response() else { continue };
            let sub = if (200..300).contains(&r.status) {
                &rx.each_success
            } else {
                &rx.each_failure
            };
            if let Some(sub) = sub {
                self.judge_expect(sub, id, r, Some(i), &format!("response #{} ", i + 1))?;
            }
        }
        Ok(())
    }

    /// A check on a count that lies somewhere in `range`: a finding only when every value in
    /// it breaks the check (the first is shown as observed).
    fn check_count(
        &mut self,
        c: &Check,
        subject: &str,
        range: std::ops::RangeInclusive<usize>,
        step: &str,
        resp: &HttpResponse,
    ) -> Result<(), StepError> {
        let lo = *range.start();
        for n in range {
            let mismatches = predicate::check(&c.predicates, Some(&Value::from(n)), self)
                .map_err(|e| StepError::at(c.loc, format!("{subject}: {}", e.0)))?;
            if mismatches.is_empty() {
                return Ok(());
            }
        }
        self.check(c, subject, Some(&Value::from(lo)), step, None, resp)
    }

    /// The longest any answer in this cell has taken so far: a slow server's pace, for the
    /// margins of waits and the deadline of races.
    pub(super) fn slowest(&self) -> Duration {
        let ms = self
            .steps
            .iter()
            .flat_map(|s| &s.exchanges)
            .filter(|x| x.response.is_some())
            .map(|x| x.duration_ms)
            .max()
            .unwrap_or(0);
        Duration::from_millis(ms)
    }

    /// Runs one check; a mismatch becomes a finding at the check's level.
    fn check(
        &mut self,
        c: &Check,
        subject: &str,
        observed: Option<&Value>,
        step: &str,
        ex: Option<usize>,
        resp: &HttpResponse,
    ) -> Result<(), StepError> {
        if c.optional && observed.is_none() {
            return Ok(());
        }
        let mismatches = predicate::check(&c.predicates, observed, self)
            .map_err(|e| StepError::at(c.loc, format!("{subject}: {}", e.0)))?;
        if mismatches.is_empty() {
            return Ok(());
        }
        let (req_id, level) = self.requirement_of(c);
        let req_text = self
            .ctx
            .catalogue
            .requirements
            .get(&req_id)
            .map(|r| r.text.clone())
            .unwrap_or_default();
        let shown = show_observed(observed);
        for m in mismatches {
            let loc = if m.loc == Loc::default() {
                c.loc
            } else {
                m.loc
            };
            let mut d = Diagnostic::error(
                &self.source,
                loc,
                format!(
                    "{subject}: expected {}, observed {}",
                    m.expected,
                    truncate(&shown, 200)
                ),
            )
            .with_label(format!("{req_id} ({level})"));
            if let Some(msg) = &c.message {
                d = d.with_help(msg.clone());
            } else if resp.status >= 400 || resp.status == 0 {
                let body = String::from_utf8_lossy(&resp.body);
                d = d.with_help(format!("response body: {}", truncate(body.trim(), 300)));
            }
            self.findings.push(Finding {
                requirement: req_id.clone(),
                level,
                requirement_text: req_text.clone(),
                step: step.to_owned(),
                subject: subject.to_owned(),
                expected: m.expected,
                observed: truncate(&shown, 2000),
                location: d.location(),
                snippet: d.render(),
                exchange: ex,
            });
        }
        Ok(())
    }

    /// The requirement a check breaks and the level it is enforced at.
    fn requirement_of(&self, c: &Check) -> (String, Level) {
        let reqs = &self.scenario.requirements;
        let first = reqs.first();
        let id = c
            .requirement
            .as_ref()
            .map(|(id, _)| id.clone())
            .or_else(|| first.map(|r| r.id.clone()))
            .unwrap_or_default();
        let level = c.level.unwrap_or_else(|| {
            reqs.iter()
                .find(|r| r.id == id)
                .map(|r| r.level)
                .or_else(|| self.ctx.catalogue.requirements.get(&id).map(|r| r.level))
                .unwrap_or(Level::Must)
        });
        (id, level)
    }

    fn capture(&mut self, caps: &[Capture], resps: &[&HttpResponse]) -> Result<(), StepError> {
        for c in caps {
            let Some(resp) = resps.first() else {
                return Err(StepError::at(
                    c.loc,
                    format!("capture `{}`: no response", c.name),
                ));
            };
            self.capture_one(c, resp)?;
        }
        Ok(())
    }

    fn capture_race(&mut self, caps: &[Capture], resps: &[&HttpResponse]) -> Result<(), StepError> {
        for c in caps {
            let pick = match c.from.as_deref() {
                Some("success") => resps.iter().find(|r| (200..300).contains(&r.status)),
                Some("failure") => resps.iter().find(|r| !(200..300).contains(&r.status)),
                _ => resps.first(),
            };
            match pick {
                Some(r) => self.capture_one(c, r)?,
                None => {
                    return Err(StepError::at(
                        c.loc,
                        format!("capture `{}`: no matching response in the race", c.name),
                    ));
                }
            }
        }
        Ok(())
    }

    fn capture_one(&mut self, c: &Capture, resp: &HttpResponse) -> Result<(), StepError> {
        let body_json = || serde_json::from_slice::<Value>(&resp.body).ok();
        let mut v = match &c.source {
            CaptureSource::Status => Some(Value::from(resp.status)),
            CaptureSource::Body => Some(Value::String(
                String::from_utf8_lossy(&resp.body).into_owned(),
            )),
            CaptureSource::Header(h) => resp
                .header_values(h)
                .first()
                .map(|s| Value::String((*s).to_owned())),
            CaptureSource::Json(p) => body_json().and_then(|j| query(p, &j)),
            CaptureSource::JwtClaim(p, claim) => body_json()
                .and_then(|j| query(p, &j))
                .and_then(|t| crate::http::jwt::decode_unverified(&value_to_text(&t)))
                .and_then(|(_, claims)| claims.get(claim).cloned()),
        };
        if let (Some(param), Some(val)) = (&c.url_param, &v) {
            let text = value_to_text(val);
            let parsed = url::Url::parse(&text)
                .or_else(|_| self.session().target.base_url.join(&text))
                .map_err(|e| {
                    format!(
                        "capture `{}`: `url_param` on a value that is not a URL ({e})",
                        c.name
                    )
                })?;
            let from_query = parsed
                .query_pairs()
                .find(|(k, _)| k == param.as_str())
                .map(|(_, v)| v.into_owned());
            let from_fragment = parsed.fragment().and_then(|f| {
                form_urlencoded::parse(f.as_bytes())
                    .find(|(k, _)| k == param.as_str())
                    .map(|(_, v)| v.into_owned())
            });
            v = from_query.or(from_fragment).map(Value::String);
        }
        if let (Some(re), Some(val)) = (&c.regex, &v) {
            let text = value_to_text(val);
            v = re
                .captures(&text)
                .and_then(|caps| caps.get(1).or_else(|| caps.get(0)))
                .map(|m| Value::String(m.as_str().to_owned()));
        }
        let v = match (v, &c.default) {
            (Some(v), _) => v,
            (None, Some(d)) => d
                .template
                .render(self)
                .map_err(|e| StepError::at(d.loc, format!("template: {}", e.0)))?,
            (None, None) => {
                return Err(StepError::at(
                    c.loc,
                    format!(
                        "capture `{}`: nothing found in the response (status {})",
                        c.name, resp.status
                    ),
                ));
            }
        };
        if c.secret {
            self.session().redactor.add(&c.name, &value_to_text(&v));
        }
        self.vars.insert(c.name.clone(), v);
        Ok(())
    }
}

fn query(path: &JsonPath, json: &Value) -> Option<Value> {
    let nodes = path.path.query(json).all();
    match nodes.len() {
        0 => None,
        1 => nodes.first().map(|v| (*v).clone()),
        _ => Some(Value::Array(nodes.into_iter().cloned().collect())),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

fn step_id(step: &Step, done: &[StepResult]) -> String {
    step.id.clone().unwrap_or_else(|| match &step.name {
        Some(n) => n.clone(),
        None => format!("#{}", done.len() + 1),
    })
}

fn action_kind(a: &Action) -> &'static str {
    match a {
        Action::Request(_) => "request",
        Action::Bootstrap(_) => "bootstrap",
        Action::Authorize(_) => "authorize",
        Action::Wait(_) => "wait",
        Action::Race(_) => "race",
        Action::Include(_) => "include",
    }
}

/// A report exchange from a request and its response (redaction happens later, on the result).
pub(crate) fn exchange(
    req: &PreparedRequest,
    resp: Option<&HttpResponse>,
    error: Option<String>,
    d: Duration,
) -> Exchange {
    const MAX: usize = 64 * 1024;
    let text = |b: &[u8]| {
        let s = String::from_utf8_lossy(&b[..b.len().min(MAX)]).into_owned();
        if b.len() > MAX {
            format!("{s}… ({} bytes)", b.len())
        } else {
            s
        }
    };
    Exchange {
        request: HttpRequestRecord {
            method: req.method.clone(),
            url: req.url.to_string(),
            headers: req.headers.clone(),
            body: if req.body.is_empty() {
                None
            } else {
                Some(text(&req.body))
            },
        },
        response: resp.map(|r| HttpResponseRecord {
            status: r.status,
            headers: r.headers.clone(),
            body: text(&r.body),
        }),
        error,
        duration_ms: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
    }
}
