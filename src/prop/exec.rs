//! Executing operations over HTTP against a target, judging every answer by the model.

use super::model::{Eval, Model, RtState, TOLERANCE, Why};
use super::ops::{Dur, Kind, Op, ScopeReq, Tok, Who};
use crate::http::HttpResponse;
use crate::session::{Session, Unrecorded};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

/// The scope value a broader refresh adds (never granted to anyone).
pub const EXTRA_SCOPE: &str = "tokencert:never-granted";

/// A step of the executed case, for the reproducer.
#[derive(Debug, Clone)]
pub enum Step {
    /// A new family.
    Bootstrap {
        /// Client role.
        role: String,
        /// Captured refresh token variable.
        rt: String,
        /// Captured access token variable.
        at: String,
    },
    /// A refresh.
    Refresh {
        /// Client role presenting it.
        role: String,
        /// The token's variable.
        token: String,
        /// `scope` sent.
        scope: Option<String>,
        /// Expected success (`None`: either).
        accept: Option<bool>,
        /// Requirement a wrong answer breaks.
        requirement: &'static str,
        /// What a wrong answer breaks.
        message: String,
        /// Capture of the new refresh token.
        capture_rt: Option<String>,
        /// Capture of the new access token.
        capture_at: Option<String>,
        /// Words the answer's `scope` must stay within (when checked).
        scope_within: Option<String>,
        /// The body check that failed.
        failed: Option<BodyCheck>,
    },
    /// Two refreshes at once.
    Race {
        /// Client role.
        role: String,
        /// Token variable.
        token: String,
        /// Expected number of successes.
        successes: Option<usize>,
        /// The check of the winner's body that failed.
        failed: Option<BodyCheck>,
        /// Capture of the winner's refresh token.
        capture_rt: Option<String>,
        /// Capture of the winner's access token.
        capture_at: Option<String>,
    },
    /// RFC 7009 revocation.
    Revoke {
        /// Client role.
        role: String,
        /// Token variable.
        token: String,
    },
    /// Let time pass: the terms add up.
    Wait(Vec<String>),
    /// A restart of the server (not expressible in a scenario).
    Restart,
    /// An introspection check.
    Introspect {
        /// Token variable.
        token: String,
        /// The role that asks (the token's introspector under the target's policy).
        caller: String,
        /// The capabilities the observation needs (token type, caller, public owner).
        gates: Vec<&'static str>,
        /// Expected `active`.
        active: Option<bool>,
        /// Expected scope words.
        scope: Option<String>,
        /// Requirement.
        requirement: &'static str,
        /// Message.
        message: String,
    },
}

/// A check on a successful refresh's body that failed, for the reproducer to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyCheck {
    /// `access_token` is present.
    AccessToken,
    /// `scope`, when present, has only these words.
    ScopeWithin(String),
    /// `scope`, when present, is exactly these words.
    ScopeSame(String),
    /// `refresh_token` is present and none of these variables' values.
    Rotated(Vec<String>),
    /// `refresh_token` is absent or this variable's value.
    NotRotated(String),
}

impl BodyCheck {
    /// The invariant it checks (what distinct counterexamples are told apart by).
    pub fn invariant(&self) -> &'static str {
        match self {
            BodyCheck::AccessToken => "a successful refresh carries an access token",
            BodyCheck::ScopeWithin(_) => "a refresh never grants scope beyond the original grant",
            BodyCheck::ScopeSame(_) => "a refresh without scope keeps the original grant",
            BodyCheck::Rotated(_) => "a rotating policy returns a new refresh token",
            BodyCheck::NotRotated(_) => "a policy that never rotates returns no new refresh token",
        }
    }
}

/// A failed body check: what broke, the requirement, the check.
type BodyFailure = (String, &'static str, BodyCheck);

/// A token an introspection looked at: its variable, who asked, what the asking needed.
struct Seen {
    var: String,
    caller: String,
    gates: Vec<&'static str>,
}

/// A broken invariant.
#[derive(Debug, Clone)]
pub struct Violation {
    /// Index of the operation (0 = the implicit first family).
    pub op: usize,
    /// What went wrong.
    pub message: String,
    /// The requirement it breaks.
    pub requirement: &'static str,
    /// The invariant broken, without the case's particulars: counterexamples are distinct
    /// when these differ.
    pub invariant: String,
}

/// What a case did.
#[derive(Debug, Default)]
pub struct CaseLog {
    /// Steps, for the reproducer.
    pub steps: Vec<Step>,
    /// Requests sent.
    pub requests: u64,
}

/// How a case could not run (not a counterexample).
#[derive(Debug, Clone)]
pub struct HarnessError(pub String);

/// The result of one case.
pub type CaseResult = Result<Option<Violation>, HarnessError>;

/// Something that can restart the server under test.
pub trait Restarter: Send {
    /// Restarts, returning the new context.
    fn restart(
        &mut self,
        offset: u64,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Arc<Session>, String>> + Send + '_>>;
}

/// One case's execution state.
pub struct Exec<'a> {
    session: Arc<Session>,
    restarter: Option<&'a mut dyn Restarter>,
    model: Model,
    /// Estimated server time at `base_at`.
    base: u64,
    base_at: Instant,
    /// Seconds this case moved the clock.
    offset: u64,
    /// Steps recorded.
    pub log: CaseLog,
    revoked_by: Vec<Option<(&'static str, &'static str)>>,
}

fn words(s: &str) -> BTreeSet<String> {
    s.split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn json(resp: &HttpResponse) -> Value {
    serde_json::from_slice(&resp.body).unwrap_or(Value::Null)
}

fn wall() -> u64 {
    crate::http::jwt::now_secs()
}

impl<'a> Exec<'a> {
    /// A fresh execution against `session`.
    pub fn new(session: Arc<Session>, restarter: Option<&'a mut dyn Restarter>) -> Self {
        let model = Model::new(session.target.policy.clone());
        Exec {
            session,
            restarter,
            model,
            base: wall(),
            base_at: Instant::now(),
            offset: 0,
            log: CaseLog::default(),
            revoked_by: Vec::new(),
        }
    }

    fn now(&self) -> u64 {
        self.base + self.base_at.elapsed().as_secs()
    }

    fn client_of(&self, kind: Kind) -> Option<(String, Option<String>, bool)> {
        let has = |r: &str| self.session.target.clients.contains_key(r);
        let (me, other) = match kind {
            Kind::Confidential => ("confidential", "confidential2"),
            Kind::Public => ("public", "public2"),
        };
        let pick = |me: &str, other: &str| {
            has(me).then(|| {
                let public = self
                    .session
                    .target
                    .clients
                    .get(me)
                    .is_some_and(|c| c.public);
                (me.to_owned(), has(other).then(|| other.to_owned()), public)
            })
        };
        pick(me, other).or_else(|| match kind {
            Kind::Confidential => pick("public", "public2"),
            Kind::Public => pick("confidential", "confidential2"),
        })
    }

    async fn post(
        &mut self,
        endpoint: &str,
        role: Option<&str>,
        form: Vec<(String, String)>,
    ) -> Result<HttpResponse, HarnessError> {
        let req = self
            .session
            .form_request(endpoint, role, form, None)
            .map_err(HarnessError)?;
        self.log.requests += 1;
        self.session
            .send(&req, None, &mut Unrecorded)
            .await
            .map_err(|e| HarnessError(format!("{endpoint}: {e}")))
    }

    /// Moves the clock by `secs` (0 just reads it) and re-anchors the time estimate.
    async fn advance(&mut self, secs: u64) -> Result<(), HarnessError> {
        if self.session.target.test_clock.is_none() {
            return Ok(());
        }
        self.log.requests += 1;
        let resp = self
            .session
            .advance_clock(secs, &mut Unrecorded)
            .await
            .map_err(HarnessError)?;
        self.offset += secs;
        match json(&resp).get("now").and_then(Value::as_u64) {
            Some(now) => {
                self.base = now;
                self.base_at = Instant::now();
            }
            None => {
                self.base += secs;
            }
        }
        Ok(())
    }

    fn fam_index(&self, fam: u8) -> Option<usize> {
        let n = self.model.fams.len();
        (n > 0).then(|| usize::from(fam) % n)
    }

    fn tok_index(&self, f: usize, tok: Tok) -> usize {
        match tok {
            Tok::Current => self.model.select(f, None),
            Tok::Older(n) => self.model.select(f, Some(n)),
        }
    }

    async fn start(&mut self, kind: Kind) -> Result<Option<Violation>, HarnessError> {
        let Some((role, other, public)) = self.client_of(kind) else {
            return Ok(None);
        };
        self.log.requests += 2;
        let v = self
            .session
            .bootstrap_family(&role)
            .await
            .map_err(|e| HarnessError(format!("bootstrap ({role}): {e}")))?;
        let rt = v.get("refresh_token").and_then(Value::as_str);
        let at = v.get("access_token").and_then(Value::as_str);
        let (Some(rt), Some(at)) = (rt, at) else {
            return Err(HarnessError(format!(
                "bootstrap ({role}) issued no refresh token"
            )));
        };
        let scope: Vec<String> = match v.get("scope").and_then(Value::as_str) {
            Some(s) => words(s).into_iter().collect(),
            None => self
                .session
                .target
                .clients
                .get(&role)
                .and_then(|c| c.scope.clone())
                .map(|s| words(&s).into_iter().collect())
                .unwrap_or_default(),
        };
        let now = self.now();
        let f = self.model.start(
            &role,
            other,
            public,
            scope,
            now,
            rt.to_owned(),
            at.to_owned(),
        );
        self.revoked_by.push(None);
        let fam = &self.model.fams[f];
        self.log.steps.push(Step::Bootstrap {
            role,
            rt: fam.rts[0].var.clone(),
            at: fam.ats[0].var.clone(),
        });
        Ok(None)
    }

    fn scope_param(&self, f: usize, s: ScopeReq) -> Option<String> {
        let granted = &self.model.fams[f].scope;
        match s {
            ScopeReq::Omit => None,
            ScopeReq::Narrower => {
                let pick = granted
                    .iter()
                    .find(|w| w.as_str() == "api:read")
                    .or_else(|| granted.first())
                    .cloned()
                    .unwrap_or_else(|| "openid".into());
                Some(pick)
            }
            ScopeReq::Broader => {
                let mut v = granted.clone();
                v.push(EXTRA_SCOPE.into());
                Some(v.join(" "))
            }
        }
    }

    fn check_success_body(
        &self,
        f: usize,
        i: usize,
        body: &Value,
        scope: ScopeReq,
    ) -> Result<(Option<String>, String), BodyFailure> {
        let fam = &self.model.fams[f];
        let Some(at) = body.get("access_token").and_then(Value::as_str) else {
            return Err((
                "a successful refresh carries no access_token".into(),
                "RFC6749-5.1.a",
                BodyCheck::AccessToken,
            ));
        };
        let granted: BTreeSet<String> = fam.scope.iter().cloned().collect();
        if let Some(s) = body.get("scope").and_then(Value::as_str) {
            let got = words(s);
            if !got.is_subset(&granted) {
                return Err((
                    format!(
                        "scope grew: the refresh answered scope `{s}` beyond the grant `{}`",
                        fam.scope.join(" ")
                    ),
                    "RFC6749-6.b",
                    BodyCheck::ScopeWithin(fam.scope.join(" ")),
                ));
            }
            if scope == ScopeReq::Omit && got != granted {
                return Err((
                    format!(
                        "scope changed: a refresh without scope answered `{s}`, the grant is `{}`",
                        fam.scope.join(" ")
                    ),
                    "RFC6749-6.h",
                    BodyCheck::ScopeSame(fam.scope.join(" ")),
                ));
            }
        }
        let presented = &fam.rts[i].value;
        let rt = body.get("refresh_token").and_then(Value::as_str);
        let old = || BodyCheck::Rotated(fam.rts.iter().map(|t| t.var.clone()).collect());
        if self.model.rotates(f) {
            match rt {
                None => Err((
                    "the policy rotates refresh tokens but the refresh returned none".into(),
                    "RFC9700-4.14.2.d",
                    old(),
                )),
                Some(r) if fam.rts.iter().any(|t| t.value == r) => Err((
                    "the policy rotates refresh tokens but the refresh returned an old one".into(),
                    "RFC9700-4.14.2.d",
                    old(),
                )),
                Some(r) => Ok((Some(r.to_owned()), at.to_owned())),
            }
        } else {
            match rt {
                Some(r) if r != presented => Err((
                    "the policy never rotates but the refresh returned a new refresh token".into(),
                    "RFC6749-6.f",
                    BodyCheck::NotRotated(fam.rts[i].var.clone()),
                )),
                _ => Ok((None, at.to_owned())),
            }
        }
    }

    fn reject_message(why: Why, op: &Op) -> String {
        format!("{op}: accepted, but {}", why.invariant())
    }

    async fn refresh(
        &mut self,
        idx: usize,
        op: &Op,
        fam: u8,
        tok: Tok,
        who: Who,
        scope: ScopeReq,
    ) -> Result<Option<Violation>, HarnessError> {
        let Some(f) = self.fam_index(fam) else {
            return Ok(None);
        };
        let i = self.tok_index(f, tok);
        let fam_m = &self.model.fams[f];
        let (role, other) = match who {
            Who::Owner => (fam_m.role.clone(), false),
            Who::Other => match &fam_m.other {
                Some(o) => (o.clone(), true),
                None => return Ok(None),
            },
        };
        let token = fam_m.rts[i].value.clone();
        let token_var = fam_m.rts[i].var.clone();
        let unknown = fam_m.unknown;
        let sp = self.scope_param(f, scope);
        let mut form = vec![
            ("grant_type".into(), "refresh_token".into()),
            ("refresh_token".into(), token),
        ];
        if let Some(s) = &sp {
            form.push(("scope".into(), s.clone()));
        }
        let now = self.now();
        let (lo, hi) = self
            .model
            .predict_refresh(f, i, other, scope == ScopeReq::Broader, now);
        let resp = self.post("token", Some(&role), form).await?;
        let ok = (200..300).contains(&resp.status);
        let body = json(&resp);
        let definite = lo.accepts() == hi.accepts();
        let mut step = Step::Refresh {
            role: role.clone(),
            token: token_var,
            scope: sp,
            accept: (definite && !unknown).then(|| lo.accepts()),
            requirement: "RFC6749-6.a",
            message: String::new(),
            capture_rt: None,
            capture_at: None,
            scope_within: None,
            failed: None,
        };
        if unknown {
            // Not judged; keep following the tokens it hands out.
            if ok && let Some(at) = body.get("access_token").and_then(Value::as_str) {
                let rt = body
                    .get("refresh_token")
                    .and_then(Value::as_str)
                    .filter(|r| *r != self.model.fams[f].rts[i].value)
                    .map(str::to_owned);
                self.model.apply_accept(f, i, false, now, rt, at.to_owned());
            }
            self.log.steps.push(step);
            return Ok(None);
        }
        if ok {
            let chosen = if lo.accepts() {
                lo.clone()
            } else if hi.accepts() {
                hi.clone()
            } else {
                let why = match lo {
                    Eval::Reject { why, .. } => why,
                    Eval::Accept { .. } => Why::Reused,
                };
                if let Step::Refresh {
                    requirement,
                    message,
                    ..
                } = &mut step
                {
                    *requirement = why.requirement();
                    *message = Self::reject_message(why, op);
                }
                self.log.steps.push(step);
                return Ok(Some(Violation {
                    op: idx,
                    message: Self::reject_message(why, op),
                    requirement: why.requirement(),
                    invariant: why.invariant().to_owned(),
                }));
            };
            match self.check_success_body(f, i, &body, scope) {
                Ok((new_rt, at)) => {
                    let Eval::Accept { grace } = chosen else {
                        return Ok(None);
                    };
                    self.model
                        .apply_accept(f, i, grace, now, new_rt.clone(), at);
                    let fam_m = &self.model.fams[f];
                    if let Step::Refresh {
                        capture_rt,
                        capture_at,
                        scope_within,
                        ..
                    } = &mut step
                    {
                        if new_rt.is_some() {
                            *capture_rt = fam_m.rts.last().map(|r| r.var.clone());
                        }
                        *capture_at = fam_m.ats.last().map(|a| a.var.clone());
                        if body.get("scope").is_some() {
                            *scope_within = Some(fam_m.scope.join(" "));
                        }
                    }
                    self.log.steps.push(step);
                    Ok(None)
                }
                Err((message, requirement, check)) => {
                    let invariant = check.invariant().to_owned();
                    if let Step::Refresh {
                        requirement: r,
                        message: m,
                        failed,
                        ..
                    } = &mut step
                    {
                        *r = requirement;
                        *m = message.clone();
                        *failed = Some(check);
                    }
                    self.log.steps.push(step);
                    Ok(Some(Violation {
                        op: idx,
                        message: format!("{op}: {message}"),
                        requirement,
                        invariant,
                    }))
                }
            }
        } else {
            if resp.status >= 500 {
                self.log.steps.push(step);
                return Ok(Some(Violation {
                    op: idx,
                    message: format!("{op}: server error {}", resp.status),
                    requirement: "RFC6749-5.2.e",
                    invariant: "a refresh never gets a server error".into(),
                }));
            }
            let chosen = if !hi.accepts() {
                hi.clone()
            } else if !lo.accepts() {
                lo.clone()
            } else {
                let message = format!(
                    "{op}: refused ({} {}), but the model expects the refresh to succeed",
                    resp.status,
                    body.get("error").and_then(Value::as_str).unwrap_or("-")
                );
                if let Step::Refresh { message: m, .. } = &mut step {
                    *m = message.clone();
                }
                self.log.steps.push(step);
                return Ok(Some(Violation {
                    op: idx,
                    message,
                    requirement: "RFC6749-6.a",
                    invariant: "a refresh the policy allows succeeds".into(),
                }));
            };
            if !definite && lo != hi && !lo.accepts() {
                // Two refusals with different side effects: the model cannot tell which.
                self.model.fams[f].unknown = true;
            }
            if let Eval::Reject {
                revoke: Some(_),
                why,
            } = &chosen
                && !self.model.fams[f].revoked
            {
                self.revoked_by[f] = Some((
                    "after reuse detection no refresh token of the family works",
                    if *why == Why::Reused {
                        "RFC9700-4.14.2.e"
                    } else {
                        "RFC6749-5.2.e"
                    },
                ));
            }
            self.model.apply_reject(f, &chosen);
            self.log.steps.push(step);
            Ok(None)
        }
    }

    async fn race(&mut self, idx: usize, op: &Op, fam: u8, tok: Tok) -> CaseResult {
        let Some(f) = self.fam_index(fam) else {
            return Ok(None);
        };
        let i = self.tok_index(f, tok);
        let role = self.model.fams[f].role.clone();
        let token = self.model.fams[f].rts[i].value.clone();
        let token_var = self.model.fams[f].rts[i].var.clone();
        let form = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), token),
        ];
        let reqs = vec![
            self.session
                .form_request("token", Some(&role), form.clone(), None)
                .map_err(HarnessError)?,
            self.session
                .form_request("token", Some(&role), form, None)
                .map_err(HarnessError)?,
        ];
        let now = self.now();
        // Sequential prediction: the first wins as a lone refresh would, the second sees the
        // state the first left.
        let (lo1, hi1) = self.model.predict_refresh(f, i, false, false, now);
        let mut definite = lo1 == hi1 && !self.model.fams[f].unknown;
        let mut second = None;
        if definite {
            let mut m = self.model.clone();
            match &lo1 {
                Eval::Accept { grace } => {
                    let fake = self.model.rotates(f).then(|| "\u{0}pending".to_owned());
                    m.apply_accept(f, i, *grace, now, fake, "\u{0}pending".into());
                }
                r => m.apply_reject(f, r),
            }
            let (lo2, hi2) = m.predict_refresh(f, i, false, false, now);
            definite = lo2 == hi2;
            second = Some(lo2);
        }
        self.log.requests += 2;
        let timeout = self.session.target.timeout;
        let out = self.session.race(reqs, timeout, timeout).await;
        let expected = second
            .as_ref()
            .map(|s| usize::from(lo1.accepts()) + usize::from(s.accepts()));
        let mut step = Step::Race {
            role,
            token: token_var,
            successes: if definite { expected } else { None },
            failed: None,
            capture_rt: None,
            capture_at: None,
        };
        let mut wins: Vec<Value> = Vec::new();
        for r in &out {
            match r {
                Ok(resp) if (200..300).contains(&resp.status) => wins.push(json(resp)),
                Ok(resp) if resp.status >= 500 => {
                    self.log.steps.push(step);
                    return Ok(Some(Violation {
                        op: idx,
                        message: format!("{op}: server error {}", resp.status),
                        requirement: "RFC9700-4.14.2.d",
                        invariant: "concurrent refreshes never get a server error".into(),
                    }));
                }
                Ok(_) => {}
                Err(e) => return Err(HarnessError(format!("race: {e}"))),
            }
        }
        if !definite {
            self.model.fams[f].unknown = true;
            self.log.steps.push(step);
            return Ok(None);
        }
        let expected = expected.unwrap_or(0);
        if wins.len() != expected {
            self.log.steps.push(step);
            return Ok(Some(Violation {
                op: idx,
                message: format!(
                    "{op}: {} of 2 succeeded, the model allows exactly {expected} (one-time use under concurrency)",
                    wins.len()
                ),
                requirement: "RFC9700-4.14.2.d",
                invariant: "one-time use holds under concurrency".into(),
            }));
        }
        let second = second.unwrap_or(Eval::Accept { grace: false });
        match (&lo1, &second) {
            (Eval::Accept { grace }, Eval::Reject { .. }) => {
                let body = &wins[0];
                match self.check_success_body(f, i, body, ScopeReq::Omit) {
                    Ok((rt, at)) => {
                        self.model.apply_accept(f, i, *grace, now, rt.clone(), at);
                        if let Eval::Reject {
                            revoke: Some(_), ..
                        } = &second
                            && !self.model.fams[f].revoked
                        {
                            self.revoked_by[f] = Some((
                                "after reuse detection no refresh token of the family works",
                                "RFC9700-4.14.2.e",
                            ));
                        }
                        self.model.apply_reject(f, &second);
                        let fam_m = &self.model.fams[f];
                        if let Step::Race {
                            capture_rt,
                            capture_at,
                            ..
                        } = &mut step
                        {
                            if rt.is_some() {
                                *capture_rt = fam_m.rts.last().map(|r| r.var.clone());
                            }
                            *capture_at = fam_m.ats.last().map(|a| a.var.clone());
                        }
                    }
                    Err((message, requirement, check)) => {
                        let invariant = check.invariant().to_owned();
                        if let Step::Race { failed, .. } = &mut step {
                            *failed = Some(check);
                        }
                        self.log.steps.push(step);
                        return Ok(Some(Violation {
                            op: idx,
                            message: format!("{op}: {message}"),
                            requirement,
                            invariant,
                        }));
                    }
                }
            }
            (Eval::Accept { .. }, Eval::Accept { .. }) => {
                if self.model.rotates(f) {
                    self.model.fams[f].unknown = true;
                } else {
                    for b in &wins {
                        if let Some(at) = b.get("access_token").and_then(Value::as_str) {
                            self.model
                                .apply_accept(f, i, false, now, None, at.to_owned());
                        }
                    }
                }
            }
            (a, b) => {
                self.model.apply_reject(f, a);
                self.model.apply_reject(f, b);
            }
        }
        self.log.steps.push(step);
        Ok(None)
    }

    async fn revoke_refresh(&mut self, fam: u8, tok: Tok) -> CaseResult {
        let Some(f) = self.fam_index(fam) else {
            return Ok(None);
        };
        let i = self.tok_index(f, tok);
        let role = self.model.fams[f].role.clone();
        let token = self.model.fams[f].rts[i].value.clone();
        let var = self.model.fams[f].rts[i].var.clone();
        let now = self.now();
        let live = self.model.rt_live(f, i, now);
        let resp = self
            .post(
                "revocation",
                Some(&role),
                vec![
                    ("token".into(), token),
                    ("token_type_hint".into(), "refresh_token".into()),
                ],
            )
            .await?;
        self.log.steps.push(Step::Revoke { role, token: var });
        if resp.status != 200 {
            self.model.fams[f].unknown = true;
            return Ok(None);
        }
        if self.model.apply_revoke_refresh(f, i, live) && self.revoked_by[f].is_none() {
            self.revoked_by[f] =
                Some(("a revoked refresh token never comes back", "RFC7009-2.1.a"));
        }
        Ok(None)
    }

    async fn revoke_access(&mut self, fam: u8) -> CaseResult {
        let Some(f) = self.fam_index(fam) else {
            return Ok(None);
        };
        let role = self.model.fams[f].role.clone();
        let Some(at) = self.model.fams[f].ats.last().cloned() else {
            return Ok(None);
        };
        let resp = self
            .post(
                "revocation",
                Some(&role),
                vec![
                    ("token".into(), at.value.clone()),
                    ("token_type_hint".into(), "access_token".into()),
                ],
            )
            .await?;
        self.log.steps.push(Step::Revoke {
            role,
            token: at.var.clone(),
        });
        if resp.status != 200 {
            self.model.fams[f].unknown = true;
            return Ok(None);
        }
        self.model.apply_revoke_access(f);
        Ok(None)
    }

    fn dur_secs(&self, d: Dur) -> (u64, Vec<String>) {
        let p = &self.model.policy;
        let plus =
            |base: u64, expr: &str| (base + 5, vec![format!("{{{{ {expr} }}}}"), "5".into()]);
        match d {
            Dur::Tick(n) => (u64::from(n), vec![n.to_string()]),
            Dur::PastGrace => plus(p.grace.seconds, "policy.grace.seconds"),
            Dur::PastAccess => plus(p.lifetimes.access_token, "policy.lifetimes.access_token"),
            Dur::PastIdle => match p.lifetimes.refresh_idle {
                Some(i) => plus(i, "policy.lifetimes.refresh_idle"),
                None => (60, vec!["60".into()]),
            },
            Dur::BeforeIdle => {
                let s = p
                    .lifetimes
                    .refresh_idle
                    .map_or(3_600, |i| i.saturating_sub(60).max(1));
                (s, vec![s.to_string()])
            }
            Dur::PastAbsolute => match p.lifetimes.refresh_absolute {
                Some(a) => plus(a, "policy.lifetimes.refresh_absolute"),
                None => (86_400, vec!["86400".into()]),
            },
        }
    }

    /// The role that may introspect family `f`'s tokens under the target's policy, with the
    /// capabilities that observation needs (beyond the token type's); `None` when none may.
    fn introspector(&self, f: usize) -> Option<(String, Vec<&'static str>)> {
        let caps = &self.session.capabilities;
        let fam = &self.model.fams[f];
        let caller = self.session.target.introspector(&fam.role, caps)?;
        let mut gates = vec!["endpoint.introspection"];
        if caller != fam.role {
            gates.push("introspection.any_client");
        }
        if fam.public {
            gates.push("introspection.public_clients");
        }
        Some((caller, gates))
    }

    /// Introspects the tokens of `fams` that the target's introspection reports on (its policy's
    /// `introspection`: token types, callers, public clients) and compares with the model.
    async fn observe(&mut self, idx: usize, fams: &[usize]) -> CaseResult {
        let caps = &self.session.capabilities;
        let see_rt = caps.contains("introspection.refresh_tokens");
        let see_at = caps.contains("introspection.access_tokens");
        for &f in fams {
            if self.model.fams[f].unknown {
                continue;
            }
            let Some((role, gates)) = self.introspector(f) else {
                continue;
            };
            let role = role.as_str();
            let rt_gates = || {
                let mut g = gates.clone();
                g.push("introspection.refresh_tokens");
                g
            };
            let n_rt = if see_rt {
                self.model.fams[f].rts.len()
            } else {
                0
            };
            for i in n_rt.saturating_sub(4)..n_rt {
                let rt = self.model.fams[f].rts[i].clone();
                let resp = self
                    .post(
                        "introspection",
                        Some(role),
                        vec![("token".into(), rt.value.clone())],
                    )
                    .await?;
                if resp.status != 200 {
                    return Err(HarnessError(format!(
                        "introspection answered {}",
                        resp.status
                    )));
                }
                let body = json(&resp);
                let active = body.get("active").and_then(Value::as_bool).unwrap_or(false);
                let now = self.now();
                let Some(live) = self.model.rt_live(f, i, now) else {
                    continue;
                };
                if active != live {
                    let (what, req) = if live {
                        (
                            "a live refresh token introspects inactive".to_owned(),
                            "RFC7662-2.2.a",
                        )
                    } else {
                        let fam_m = &self.model.fams[f];
                        match (fam_m.revoked, rt.state) {
                            (true, _) => self.revoked_by[f]
                                .map(|(m, r)| (m.to_owned(), r))
                                .unwrap_or((
                                    "a revoked refresh token never comes back".into(),
                                    "RFC7009-2.1.a",
                                )),
                            (_, RtState::Revoked) => (
                                "a revoked refresh token never comes back".into(),
                                "RFC7009-2.1.a",
                            ),
                            (_, RtState::Superseded { .. }) if !self.model_expired(f, i, now) => (
                                if self.model.policy.grace.seconds > 0 {
                                    "a superseded refresh token never works after the grace window (or once its successor is used)".to_owned()
                                } else {
                                    "without grace, at most one live refresh token per family"
                                        .to_owned()
                                },
                                "RFC9700-4.14.2.d",
                            ),
                            _ => (
                                "an expired refresh token never works".into(),
                                "RFC6749-5.2.e",
                            ),
                        }
                    };
                    let seen = Seen {
                        var: rt.var.clone(),
                        caller: role.to_owned(),
                        gates: rt_gates(),
                    };
                    return Ok(Some(
                        self.activity_violation(idx, seen, live, active, &what, req),
                    ));
                }
                if active {
                    let granted: BTreeSet<String> =
                        self.model.fams[f].scope.iter().cloned().collect();
                    if let Some(s) = body.get("scope").and_then(Value::as_str)
                        && words(s) != granted
                    {
                        let message = format!(
                            "the refresh token's scope changed: {} introspects scope `{s}`, the grant is `{}`",
                            rt.var,
                            self.model.fams[f].scope.join(" ")
                        );
                        self.log.steps.push(Step::Introspect {
                            token: rt.var.clone(),
                            caller: role.to_owned(),
                            gates: rt_gates(),
                            active: Some(true),
                            scope: Some(self.model.fams[f].scope.join(" ")),
                            requirement: "RFC6749-6.h",
                            message: message.clone(),
                        });
                        return Ok(Some(Violation {
                            op: idx,
                            message,
                            requirement: "RFC6749-6.h",
                            invariant: "a refresh token keeps its grant's scope".into(),
                        }));
                    }
                    if let (Some(exp), Some(bound)) =
                        (body.get("exp").and_then(Value::as_u64), rt.abs_exp)
                        && exp > bound + 10
                    {
                        let message = format!(
                            "the absolute expiry moved later: {} expires {} s after the family's absolute lifetime ends",
                            rt.var,
                            exp - bound
                        );
                        // Reproduce by waiting past the family's end and refreshing.
                        let wait = bound.saturating_sub(now) + 5;
                        self.log.steps.push(Step::Wait(vec![wait.to_string()]));
                        self.log.steps.push(Step::Refresh {
                            role: self.model.fams[f].role.clone(),
                            token: rt.var.clone(),
                            scope: None,
                            accept: Some(false),
                            requirement: "OAUTH21-4.3.3.a",
                            message: message.clone(),
                            capture_rt: None,
                            capture_at: None,
                            scope_within: None,
                            failed: None,
                        });
                        return Ok(Some(Violation {
                            op: idx,
                            message,
                            requirement: "OAUTH21-4.3.3.a",
                            invariant: "rotation never extends the absolute lifetime".into(),
                        }));
                    }
                }
            }
            let n_at = if see_at {
                self.model.fams[f].ats.len()
            } else {
                0
            };
            for j in n_at.saturating_sub(3)..n_at {
                let at = self.model.fams[f].ats[j].clone();
                let resp = self
                    .post(
                        "introspection",
                        Some(role),
                        vec![("token".into(), at.value.clone())],
                    )
                    .await?;
                let body = json(&resp);
                let active = body.get("active").and_then(Value::as_bool).unwrap_or(false);
                let Some(live) = self.model.at_live(f, j, self.now()) else {
                    continue;
                };
                if active != live {
                    let (what, req) = if live {
                        ("a live access token introspects inactive", "RFC7662-2.2.a")
                    } else if at.revoked {
                        ("a revoked access token never comes back", "RFC7009-2.1.a")
                    } else if self.model.fams[f].ats_revoked {
                        match self.revoked_by[f] {
                            Some((_, "RFC7009-2.1.a")) => (
                                "revoking a refresh token revokes the grant's access tokens (policy: cascade)",
                                "RFC7009-2.1.d",
                            ),
                            _ => (
                                "reuse detection revokes the family's access tokens (policy)",
                                "OAUTH21-4.3.1.c",
                            ),
                        }
                    } else {
                        ("an expired access token never works", "RFC7662-2.2.a")
                    };
                    let mut at_gates = gates.clone();
                    at_gates.push("introspection.access_tokens");
                    let seen = Seen {
                        var: at.var.clone(),
                        caller: role.to_owned(),
                        gates: at_gates,
                    };
                    return Ok(Some(
                        self.activity_violation(idx, seen, live, active, what, req),
                    ));
                }
            }
        }
        Ok(None)
    }

    /// Records an introspection whose `active` contradicts the model (`live`) and returns the
    /// violation it is.
    fn activity_violation(
        &mut self,
        op: usize,
        seen: Seen,
        live: bool,
        active: bool,
        what: &str,
        requirement: &'static str,
    ) -> Violation {
        let Seen { var, caller, gates } = seen;
        let message = format!("{what}: introspection of {var} says active={active}");
        self.log.steps.push(Step::Introspect {
            token: var,
            caller,
            gates,
            active: Some(live),
            scope: None,
            requirement,
            message: message.clone(),
        });
        Violation {
            op,
            invariant: what.to_owned(),
            message,
            requirement,
        }
    }

    fn model_expired(&self, f: usize, i: usize, now: u64) -> bool {
        let rt = &self.model.fams[f].rts[i];
        let p = &self.model.policy;
        rt.abs_exp.is_some_and(|e| now + TOLERANCE >= e)
            || p.lifetimes
                .refresh_idle
                .is_some_and(|idle| now + TOLERANCE >= rt.last_used + idle)
    }

    /// Runs the implicit first family and then `ops`, observing after each.
    pub async fn run(&mut self, first: Kind, ops: &[Op]) -> CaseResult {
        self.advance(0).await?;
        if let Some(v) = self.start(first).await? {
            return Ok(Some(v));
        }
        if let Some(v) = self.observe(0, &[0]).await? {
            return Ok(Some(v));
        }
        for (k, op) in ops.iter().enumerate() {
            let idx = k + 1;
            let touched: Vec<usize> = match op {
                Op::Refresh { fam, .. }
                | Op::Race { fam, .. }
                | Op::RevokeRefresh { fam, .. }
                | Op::RevokeAccess { fam } => self.fam_index(*fam).into_iter().collect(),
                Op::Start(_) => vec![self.model.fams.len()],
                Op::Advance(_) | Op::Restart => (0..self.model.fams.len()).collect(),
            };
            let r = match *op {
                Op::Start(kind) => self.start(kind).await?,
                Op::Refresh {
                    fam,
                    tok,
                    who,
                    scope,
                } => self.refresh(idx, op, fam, tok, who, scope).await?,
                Op::Race { fam, tok } => self.race(idx, op, fam, tok).await?,
                Op::RevokeRefresh { fam, tok } => self.revoke_refresh(fam, tok).await?,
                Op::RevokeAccess { fam } => self.revoke_access(fam).await?,
                Op::Advance(d) => {
                    if self.session.target.test_clock.is_some() {
                        let (secs, terms) = self.dur_secs(d);
                        self.advance(secs).await?;
                        self.log.steps.push(Step::Wait(terms));
                    }
                    None
                }
                Op::Restart => {
                    if let Some(r) = self.restarter.as_mut() {
                        let offset = self.offset;
                        let session = r.restart(offset).await.map_err(HarnessError)?;
                        self.session = session;
                        self.log.steps.push(Step::Restart);
                        // Re-anchor the time estimate on the restarted clock.
                        self.offset = 0;
                        self.advance(0).await?;
                        self.offset = offset;
                    }
                    None
                }
            };
            if let Some(v) = r {
                return Ok(Some(v));
            }
            let touched: Vec<usize> = touched
                .into_iter()
                .filter(|f| *f < self.model.fams.len())
                .collect();
            if let Some(v) = self.observe(idx, &touched).await? {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// The policy judged by.
    pub fn policy(&self) -> &tokencert_policy::Policy {
        &self.model.policy
    }
}
