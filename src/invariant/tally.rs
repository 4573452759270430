//! A run's broken invariants, kept once per rule: how many exchanges broke it and the first few
//! (where, what, and the redacted exchange), turned into one report row per rule
//! (`invariant.<rule>`) that every report format shows like a scenario result.

use super::{Rule, Violation};
use crate::report::{
    Exchange, Finding, Phase, RequirementRef, ScenarioResult, StepOutcome, StepResult,
};
use crate::scenario::requirements::Requirements;
use std::collections::BTreeMap;

/// How many exchanges a row shows per rule.
pub const EXAMPLES: usize = 3;

/// Where an exchange that broke a rule was made.
#[derive(Debug, Clone)]
pub struct Example {
    /// `scenario[cell]`.
    pub scenario: String,
    /// The step's id.
    pub step: String,
    /// What was seen.
    pub detail: String,
    /// The exchange, already redacted by the caller.
    pub exchange: Exchange,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    count: usize,
    examples: Vec<Example>,
}

/// The violations of a run, by rule.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    by_rule: BTreeMap<Rule, Entry>,
}

impl Tally {
    /// Counts one violation; `exchange` (called only while examples are still wanted) gives the
    /// redacted exchange to show.
    pub fn record(
        &mut self,
        v: &Violation,
        scenario: &str,
        step: &str,
        exchange: impl FnOnce() -> Exchange,
    ) {
        let e = self.by_rule.entry(v.rule).or_default();
        e.count += 1;
        if e.examples.len() < EXAMPLES {
            e.examples.push(Example {
                scenario: scenario.to_owned(),
                step: step.to_owned(),
                detail: v.detail.clone(),
                exchange: exchange(),
            });
        }
    }

    /// How many exchanges broke `rule`.
    pub fn count(&self, rule: Rule) -> usize {
        self.by_rule.get(&rule).map_or(0, |e| e.count)
    }

    /// Whether nothing was broken.
    pub fn is_empty(&self) -> bool {
        self.by_rule.is_empty()
    }

    /// One result per broken rule, at the rule's level: its examples as steps (with their
    /// exchanges) and findings.
    pub fn results(&self, requirements: &Requirements) -> Vec<ScenarioResult> {
        self.by_rule
            .iter()
            .map(|(rule, e)| row(*rule, e, requirements))
            .collect()
    }
}

fn row(rule: Rule, e: &Entry, requirements: &Requirements) -> ScenarioResult {
    let text = requirements
        .get(rule.requirement())
        .map(|r| r.text.clone())
        .unwrap_or_default();
    let mut steps = Vec::new();
    let mut findings = Vec::new();
    for (i, x) in e.examples.iter().enumerate() {
        let id = format!("{} / {}", x.scenario, x.step);
        findings.push(Finding {
            requirement: rule.requirement().to_owned(),
            level: rule.level(),
            requirement_text: text.clone(),
            step: id.clone(),
            subject: format!("invariant {}", rule.id()),
            expected: rule.title().to_owned(),
            observed: x.detail.clone(),
            location: String::new(),
            snippet: format!(
                "{} ({} {}): {}\n  in {id} ({} {})",
                rule.title(),
                rule.requirement(),
                rule.level(),
                x.detail,
                x.exchange.request.method,
                x.exchange.request.url
            ),
            exchange: Some(0),
        });
        steps.push(StepResult {
            phase: Phase::Steps,
            id,
            name: Some(format!("exchange {} of {}", i + 1, e.count)),
            kind: "request".into(),
            outcome: StepOutcome::Fail,
            message: Some(x.detail.clone()),
            location: None,
            exchanges: vec![x.exchange.clone()],
            duration_ms: x.exchange.duration_ms,
        });
    }
    let shown = e.examples.len();
    ScenarioResult {
        scenario: format!("invariant.{}", rule.id()),
        cell: String::new(),
        title: rule.title().to_owned(),
        file: "src/invariant/mod.rs".into(),
        outcome: rule.level().outcome_when_broken(),
        reason: Some(format!(
            "{} exchange(s) broke it across the run ({}); the first {shown} are shown. Scope: {}",
            e.count,
            e.examples
                .iter()
                .map(|x| x.scenario.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            rule.scope()
        )),
        requirements: vec![RequirementRef {
            id: rule.requirement().to_owned(),
            level: rule.level(),
        }],
        duration_ms: 0,
        steps,
        findings,
    }
}
