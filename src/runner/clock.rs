//! How time passes in a run: `wait` steps, their margins, and the real-time budget.
//!
//! With a test clock the harness advances the target's virtual clock: instant, and exact to the
//! second. Without one, a wait is slept in real time, provided the run's waiting fits
//! `--max-wait`: every waiting cell must be done waiting by the time `--max-wait` has passed
//! since the run started (waiting cells start first and run concurrently, outside `-j`: they
//! mostly sleep, and a place to wake up into could come too late for the check after a wait; so
//! that is the run's extra length). A cell whose waits would not fit is skipped before it
//! starts, with the time it needed.
//!
//! **Margins.** A real server keeps time in whole seconds (an expiry rounded either way when
//! stored, compared at whole seconds) and answers after some latency, so a wait written against
//! a lifetime is padded: `past: L` waits L plus the margin, `within: L` ends the margin before
//! L. The margin is 1 s on a test clock (the reference server counts virtual seconds exactly)
//! and, in real time, 2 s (one second for each rounding) plus the slowest answer seen so far in
//! the cell (a check sent at the right moment is judged that much later). A wait that would end
//! inside the margin of a `within` lifetime cannot tell a live token from a late check: the cell
//! is skipped with the reason, never failed. `since: <step>` counts from the end of an earlier
//! step instead of from the start of the wait, so requests in between do not add up.

use super::execute::ScenarioRun;
use super::failure::StepError;
use crate::http::limit::seconds;
use crate::report::StepResult;
use crate::scenario::values::wait_duration;
use crate::scenario::{Action, Step, Tpl, WaitSpec};
use crate::session::Session;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// The default of `--max-wait`.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(120);

/// The capability of targets where time can be made to pass: a test clock, or real-time waits
/// allowed by `--max-wait`.
pub const TIME_WAIT: &str = "time.wait";

/// A test clock counts whole virtual seconds exactly.
const VIRTUAL_MARGIN: Duration = Duration::from_secs(1);

/// Real time: one second for the server rounding an expiry to whole seconds, one for it
/// comparing at whole seconds; the cell's slowest answer is added on top.
pub const REAL_MARGIN: Duration = Duration::from_secs(2);

/// How time passes in a run.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Clock {
    /// The target's test clock.
    Virtual,
    /// Real time; every wait must be over by `deadline` (the run's start plus `max_wait`).
    Real {
        deadline: Instant,
        max_wait: Duration,
    },
}

impl Clock {
    /// The margin a wait against a lifetime gets, `slowest` being the cell's slowest answer.
    fn margin(self, slowest: Duration) -> Duration {
        match self {
            Clock::Virtual => VIRTUAL_MARGIN,
            Clock::Real { .. } => REAL_MARGIN + slowest,
        }
    }
}

/// What a run's cells share about time and gating.
pub(crate) struct Pacing {
    pub clock: Clock,
    /// The target's capabilities, with [`TIME_WAIT`] when time can pass.
    capabilities: BTreeSet<String>,
    /// The `-j` places of the cells that do not wait in real time.
    jobs: Arc<Semaphore>,
}

impl Pacing {
    /// The pacing of a run starting now.
    pub fn new(session: &Session, max_wait: Duration, jobs: usize) -> Pacing {
        let clock = if session.target.test_clock.is_some() {
            Clock::Virtual
        } else {
            Clock::Real {
                deadline: Instant::now() + max_wait,
                max_wait,
            }
        };
        Pacing {
            clock,
            capabilities: capabilities(session, max_wait),
            jobs: Arc::new(Semaphore::new(jobs.max(1))),
        }
    }

    /// Whether the target has `capability`.
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.contains(capability)
    }

    /// The `-j` places of the cells that do not wait in real time.
    pub fn jobs(&self) -> Arc<Semaphore> {
        Arc::clone(&self.jobs)
    }

    /// Real time: whether `needed` more waiting fits what is left of `--max-wait`, else why not.
    pub fn fits(&self, needed: Duration) -> Result<(), String> {
        let Clock::Real { deadline, max_wait } = self.clock else {
            return Ok(());
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if needed <= left {
            return Ok(());
        }
        Err(if needed > max_wait {
            format!(
                "needs {} of real-time waiting, more than --max-wait ({}): raise --max-wait or \
                 give the test client shorter lifetimes",
                seconds(needed),
                seconds(max_wait)
            )
        } else {
            format!(
                "needs {} of real-time waiting, but only {} of --max-wait ({}) was left",
                seconds(needed),
                seconds(left),
                seconds(max_wait)
            )
        })
    }
}

/// A session's capabilities plus [`TIME_WAIT`] where time can pass, unless the profile removes it.
pub(crate) fn capabilities(session: &Session, max_wait: Duration) -> BTreeSet<String> {
    let mut caps = session.capabilities.clone();
    let removed = session
        .target
        .remove_capabilities
        .iter()
        .any(|c| c == TIME_WAIT);
    if (session.target.test_clock.is_some() || !max_wait.is_zero()) && !removed {
        caps.insert(TIME_WAIT.to_owned());
    }
    caps
}

/// A wait's values, rendered.
#[derive(Debug, Default)]
struct WaitValues {
    duration: Option<Duration>,
    past: Option<Duration>,
    /// The shortest `within` lifetime (unlimited ones left out).
    within: Option<Duration>,
    since: Option<String>,
}

/// When a wait that starts at cell time `now` ends, counting from `anchor`; `Err` when it
/// cannot end safely inside its `within` lifetime.
fn schedule(
    now: Duration,
    anchor: Duration,
    v: &WaitValues,
    margin: Duration,
) -> Result<Duration, String> {
    let limit = v.within.map(|w| (w, (anchor + w).checked_sub(margin)));
    let end = match (v.duration, v.past, limit) {
        (Some(d), _, _) => anchor + d,
        (None, Some(p), _) => anchor + p + margin,
        (None, None, Some((_, Some(latest)))) => latest,
        (None, None, _) => anchor,
    }
    .max(now);
    match limit {
        Some((w, latest)) if latest.is_none_or(|l| end > l) => {
            let from = if v.since.is_some() {
                format!("after step `{}`", v.since.as_deref().unwrap_or_default())
            } else {
                "after its start".to_owned()
            };
            Err(format!(
                "the wait would end {} {from}, within {} of the end of a {} lifetime: too close \
                 to tell a live token from one checked late (give the test client longer lifetimes)",
                seconds(end.saturating_sub(anchor)),
                seconds(margin),
                seconds(w)
            ))
        }
        _ => Ok(end),
    }
}

impl ScenarioRun<'_> {
    /// The cell's time: real time since it started, or the virtual clock's advances.
    pub(super) fn now(&self) -> Duration {
        match self.pacing.clock {
            Clock::Virtual => self.virtual_elapsed,
            Clock::Real { .. } => self.started.elapsed(),
        }
    }

    fn render_wait(&self, t: &Tpl) -> Result<Value, StepError> {
        t.template
            .render(self)
            .map_err(|e| StepError::at(t.loc, format!("template: {}", e.0)))
    }

    fn wait_values(&self, w: &WaitSpec) -> Result<WaitValues, StepError> {
        let limited = |t: &Tpl, what: &str| -> Result<Duration, StepError> {
            match self.render_wait(t)? {
                Value::Null => Err(StepError::at(
                    t.loc,
                    format!("wait: `{what}` is an unlimited (null) lifetime"),
                )),
                v => wait_duration(&v).map_err(|e| StepError::at(t.loc, e)),
            }
        };
        let mut v = WaitValues {
            duration: w.duration.as_ref().map(|t| limited(t, "for")).transpose()?,
            past: w.past.as_ref().map(|t| limited(t, "past")).transpose()?,
            ..WaitValues::default()
        };
        for t in &w.within {
            match self.render_wait(t)? {
                Value::Null => {}
                x => {
                    let d = wait_duration(&x).map_err(|e| StepError::at(t.loc, e))?;
                    v.within = Some(v.within.map_or(d, |m| m.min(d)));
                }
            }
        }
        if let Some(t) = &w.since {
            let id = crate::template::value_to_text(&self.render_wait(t)?);
            v.since = (!id.is_empty()).then_some(id);
        }
        Ok(v)
    }

    /// A `wait` step.
    pub(super) async fn wait(
        &mut self,
        w: &WaitSpec,
        record: &mut StepResult,
    ) -> Result<(), StepError> {
        let v = self.wait_values(w)?;
        let now = self.now();
        let anchor = match &v.since {
            Some(id) => *self.marks.get(id).ok_or_else(|| {
                StepError::at(w.loc, format!("wait: no step `{id}` has run (`since`)"))
            })?,
            None => now,
        };
        let margin = self.pacing.clock.margin(self.slowest());
        let end = schedule(now, anchor, &v, margin).map_err(StepError::skip)?;
        let d = end.saturating_sub(now);
        if d.is_zero() {
            return Ok(());
        }
        match self.pacing.clock {
            Clock::Virtual => {
                let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
                self.session().advance_clock(secs, record).await?;
                self.virtual_elapsed += Duration::from_secs(secs);
                record.message = Some(format!("advanced the test clock {secs} s"));
            }
            Clock::Real { .. } => {
                self.pacing.fits(d).map_err(StepError::skip)?;
                tokio::time::sleep(d).await;
                record.message = Some(format!(
                    "waited {} in real time (margin {})",
                    seconds(d),
                    seconds(margin)
                ));
                // Woken late (a stalled machine): the check after this wait would be late too.
                let late = self.now().saturating_sub(end);
                if late > margin && v.within.is_some() {
                    return Err(StepError::skip(format!(
                        "woke {} late from a real-time wait, too late for the check after it",
                        seconds(late)
                    )));
                }
            }
        }
        Ok(())
    }

    /// How long the cell will wait, found by playing its waits through before it runs:
    /// requests take no time, and a wait whose value depends on an answer (a capture) counts
    /// as none. `Err` when a wait could not end safely inside its `within` lifetime.
    pub(super) fn planned_wait(&mut self) -> Result<Duration, String> {
        // A var that cannot render is the run's error to report; here it only hides a wait.
        let _ = self.render_vars();
        let margin = self.pacing.clock.margin(Duration::ZERO);
        let mut sim = Sim::default();
        let s = self.scenario;
        for steps in [&s.setup, &s.steps] {
            self.simulate(steps, &mut sim, margin, 0)?;
        }
        Ok(sim.now)
    }

    fn simulate(
        &mut self,
        steps: &[Step],
        sim: &mut Sim,
        margin: Duration,
        depth: u8,
    ) -> Result<(), String> {
        for st in steps {
            if self.step_gate(st).is_some() {
                continue;
            }
            match &st.action {
                Action::Wait(w) => {
                    if let Ok(v) = self.wait_values(w) {
                        let anchor = match &v.since {
                            Some(id) => sim.marks.get(id).copied(),
                            None => Some(sim.now),
                        };
                        if let Some(anchor) = anchor {
                            sim.now =
                                schedule(sim.now, anchor, &v, margin).map_err(|why| {
                                    match &st.id {
                                        Some(id) => format!("step `{id}`: {why}"),
                                        None => why,
                                    }
                                })?;
                        }
                    }
                }
                Action::Include(inc) if depth < 8 => {
                    let Some(f) = self.ctx.catalogue.fixtures.get(&inc.name) else {
                        continue;
                    };
                    let saved = self.vars.clone();
                    for (name, default) in &f.params {
                        let given = inc.with.iter().find(|(n, _)| n == name).map(|(_, v)| v);
                        let value = given.map_or(&default.value, |v| &v.value);
                        if let Ok(val) = super::predicate::render_value(value, self) {
                            self.vars.insert(name.clone(), val);
                        }
                    }
                    let r = self.simulate(&f.steps, sim, margin, depth + 1);
                    self.vars = saved;
                    r?;
                }
                _ => {}
            }
            if let Some(id) = &st.id {
                sim.marks.insert(id.clone(), sim.now);
            }
        }
        Ok(())
    }
}

/// The cell time of a simulated run.
#[derive(Default)]
struct Sim {
    now: Duration,
    marks: HashMap<String, Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: f64) -> Duration {
        Duration::from_secs_f64(n)
    }

    fn values(duration: Option<f64>, past: Option<f64>, within: Option<f64>) -> WaitValues {
        WaitValues {
            duration: duration.map(s),
            past: past.map(s),
            within: within.map(s),
            since: None,
        }
    }

    #[test]
    fn past_adds_the_margin_and_within_subtracts_it() {
        let m = s(2.0);
        assert_eq!(
            schedule(s(0.0), s(0.0), &values(Some(3.0), None, None), m),
            Ok(s(3.0))
        );
        assert_eq!(
            schedule(s(0.0), s(0.0), &values(None, Some(3.0), None), m),
            Ok(s(5.0))
        );
        assert_eq!(
            schedule(s(1.0), s(1.0), &values(None, None, Some(5.0)), m),
            Ok(s(4.0))
        );
        // Counted from an earlier step: only what is left.
        assert_eq!(
            schedule(s(4.0), s(1.0), &values(None, Some(3.0), None), m),
            Ok(s(6.0))
        );
        // Already past: no wait.
        assert_eq!(
            schedule(s(9.0), s(1.0), &values(Some(3.0), None, None), m),
            Ok(s(9.0))
        );
    }

    #[test]
    fn a_wait_too_close_to_a_lifetime_cannot_be_judged() {
        let m = s(2.0);
        // 9 s of a 10 s lifetime is inside the 2 s margin.
        let e = schedule(s(0.0), s(0.0), &values(Some(9.0), None, Some(10.0)), m)
            .expect_err("too tight");
        assert!(
            e.contains("9 s after its start, within 2 s of the end of a 10 s lifetime"),
            "{e}"
        );
        assert_eq!(
            schedule(s(0.0), s(0.0), &values(Some(8.0), None, Some(10.0)), m),
            Ok(s(8.0))
        );
        // A lifetime shorter than the margin leaves no safe moment at all.
        assert!(schedule(s(0.0), s(0.0), &values(None, None, Some(1.5)), m).is_err());
        // The check is already late: past the safe moment.
        assert!(schedule(s(9.0), s(0.0), &values(Some(0.0), None, Some(10.0)), m).is_err());
        // `past` one lifetime, but `within` another: both must hold.
        assert_eq!(
            schedule(s(0.0), s(0.0), &values(None, Some(3.0), Some(8.0)), m),
            Ok(s(5.0))
        );
        assert!(schedule(s(0.0), s(0.0), &values(None, Some(3.0), Some(6.0)), m).is_err());
    }
}
