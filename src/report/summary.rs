//! Roll-ups of a run's results: counts per outcome, the exit code, and per-requirement worst
//! outcomes.

use super::{Outcome, RequirementSummary, ScenarioResult, Summary};
use crate::scenario::Catalogue;
use std::collections::BTreeMap;

/// Counts outcomes.
pub fn summarize(results: &[ScenarioResult]) -> Summary {
    Summary::of(results.iter().map(|r| r.outcome))
}

/// The process exit code: 4 conformance failure, 3 a cell that could not be judged (error,
/// timeout) or an XPass, 0 otherwise (see [`Summary::exit_code`]). A failure outranks an error:
/// CI wants the conformance signal first.
pub fn exit_code(s: &Summary) -> i32 {
    i32::from(s.exit_code())
}

/// Per-requirement roll-up with the worst outcome.
pub fn requirement_summaries(
    cat: &Catalogue,
    results: &[ScenarioResult],
) -> Vec<RequirementSummary> {
    let mut by_id: BTreeMap<String, RequirementSummary> = BTreeMap::new();
    for r in results {
        for req in &r.requirements {
            let entry = by_id.entry(req.id.clone()).or_insert_with(|| {
                let row = cat.requirements.get(&req.id);
                RequirementSummary {
                    id: req.id.clone(),
                    level: req.level,
                    spec: row.map(|r| r.spec.clone()).unwrap_or_default(),
                    text: row.map(|r| r.text.clone()).unwrap_or_default(),
                    outcome: Outcome::Pass,
                    counts: BTreeMap::new(),
                }
            });
            // A finding names its own requirement; judge this requirement by those findings.
            let own = if r.findings.iter().any(|f| f.requirement == req.id) {
                r.outcome
            } else if matches!(r.outcome, Outcome::Fail | Outcome::Warn | Outcome::Info) {
                Outcome::Pass
            } else {
                r.outcome
            };
            *entry.counts.entry(own.label().to_owned()).or_default() += 1;
            // Outcomes are ordered by severity.
            entry.outcome = entry.outcome.worst(own);
        }
    }
    by_id.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        let mut s = Summary::default();
        assert_eq!(exit_code(&s), 0);
        s.xpass = 1;
        assert_eq!(exit_code(&s), 3);
        s.xpass = 0;
        s.timeout = 1;
        assert_eq!(exit_code(&s), 3);
        s.fail = 1;
        assert_eq!(exit_code(&s), 4);
        let s = Summary {
            warn: 2,
            skip: 1,
            xfail: 1,
            ..Summary::default()
        };
        assert_eq!(exit_code(&s), 0);
    }

    #[test]
    fn a_requirement_keeps_its_worst_outcome() {
        let report = crate::report::json::fixture::fixture();
        let cat = Catalogue::default();
        let sums = requirement_summaries(&cat, &report.results);
        assert!(!sums.is_empty());
        for sum in &sums {
            let total: usize = sum.counts.values().sum();
            assert!(total > 0, "{}", sum.id);
            let worst = Outcome::ALL
                .iter()
                .rev()
                .find(|o| sum.counts.contains_key(o.label()))
                .copied()
                .map_or(Outcome::Pass, |o| o.worst(Outcome::Pass));
            assert_eq!(sum.outcome, worst, "{}", sum.id);
        }
    }
}
