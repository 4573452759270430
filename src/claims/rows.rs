//! Breaches as report rows: one `policy.<key>` result per policy key a claimed standard
//! forbids, a finding per standard and rule, so every report format shows them like a scenario.

use super::{Breach, ClaimsCatalogue};
use crate::report::{Finding, RequirementRef, ScenarioResult};
use crate::scenario::requirements::Requirements;
use serde_json::Value;
use tokencert_policy::Policy;

/// The rows of `breaches` of `policy`, in the order their keys first appear.
pub fn rows(
    cat: &ClaimsCatalogue,
    breaches: &[Breach],
    policy: &Policy,
    requirements: &Requirements,
) -> Vec<ScenarioResult> {
    let p = serde_json::to_value(policy).unwrap_or(Value::Null);
    let mut out: Vec<ScenarioResult> = Vec::new();
    for b in breaches {
        let r = &cat.forbidden[b.rule];
        let id = format!("policy.{}", r.key);
        let at = match out.iter().position(|x| x.scenario == id) {
            Some(i) => i,
            None => {
                out.push(ScenarioResult {
                    scenario: id.clone(),
                    cell: String::new(),
                    title: format!(
                        "The policy's `{}` is a choice a claimed standard forbids",
                        r.key
                    ),
                    file: super::FILE.into(),
                    outcome: b.by.level.outcome_when_broken(),
                    reason: None,
                    requirements: Vec::new(),
                    duration_ms: 0,
                    steps: Vec::new(),
                    findings: Vec::new(),
                });
                out.len() - 1
            }
        };
        let row = &mut out[at];
        row.outcome = row.outcome.worst(b.by.level.outcome_when_broken());
        let req = RequirementRef {
            id: b.by.requirement.clone(),
            level: b.by.level,
        };
        if !row.requirements.contains(&req) {
            row.requirements.push(req);
        }
        let observed = r.observed(&p);
        let ran = if r.scenarios.is_empty() {
            String::new()
        } else {
            format!(
                "\n  these scenarios run instead of skipping, as if the required choice held: {}",
                r.scenarios.join(", ")
            )
        };
        row.findings.push(Finding {
            requirement: b.by.requirement.clone(),
            level: b.by.level,
            requirement_text: requirements
                .get(&b.by.requirement)
                .map(|x| x.text.clone())
                .unwrap_or_default(),
            step: format!("claims: {}", b.standard),
            subject: format!("policy {}", r.key),
            expected: format!("a choice {} allows: {}", b.standard, r.why),
            observed: observed.clone(),
            location: cat.location(b.rule),
            snippet: format!(
                "{}: the profile claims {} ({}), which forbids this policy ({} {}): {}\n  policy: {observed}{ran}",
                cat.location(b.rule),
                b.standard,
                cat.standards.get(&b.standard).cloned().unwrap_or_default(),
                b.by.requirement,
                b.by.level,
                r.why
            ),
            exchange: None,
        });
    }
    for row in &mut out {
        let mut standards: Vec<&str> = Vec::new();
        for f in &row.findings {
            let s = f.step.trim_start_matches("claims: ");
            if !standards.contains(&s) {
                standards.push(s);
            }
        }
        row.reason = Some(format!(
            "the declared policy breaks the claimed {}: the server describes a choice the standard forbids",
            standards.join(", ")
        ));
    }
    out
}
