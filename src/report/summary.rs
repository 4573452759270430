//! Roll-ups of a run's results: counts per outcome, the exit code, per-requirement worst
//! outcomes (or `untested`), and the coverage the headline states.

use super::{Outcome, RequirementOutcome, RequirementSummary, ScenarioResult, Summary};
use crate::scenario::Catalogue;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How much of what the run could check it did check: requirements with an executed cell out of
/// those its cells reference, and cells skipped out of all. Every headline states it beside the
/// verdict, so that a PASS over mostly skipped cells never reads as a clean bill.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Coverage {
    /// Requirements referenced by the run's cells.
    pub requirements_applicable: usize,
    /// Of those, the ones with at least one executed (not skipped) cell.
    pub requirements_tested: usize,
    /// All cells.
    pub cells_total: usize,
    /// Cells skipped.
    pub cells_skipped: usize,
}

impl Coverage {
    /// The coverage of a run with these roll-ups and counts.
    pub fn of(requirements: &[RequirementSummary], summary: &Summary) -> Coverage {
        Coverage {
            requirements_applicable: requirements.len(),
            requirements_tested: requirements
                .iter()
                .filter(|r| r.outcome.is_tested())
                .count(),
            cells_total: summary.total,
            cells_skipped: summary.skip,
        }
    }

    /// Requirements none of whose cells ran.
    pub fn requirements_untested(&self) -> usize {
        self.requirements_applicable
            .saturating_sub(self.requirements_tested)
    }
}

impl std::fmt::Display for Coverage {
    /// `118 of 127 requirements tested (9 untested); 28 of 291 cells skipped`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} requirements tested",
            self.requirements_tested, self.requirements_applicable
        )?;
        if self.requirements_untested() > 0 {
            write!(f, " ({} untested)", self.requirements_untested())?;
        }
        write!(
            f,
            "; {} of {} cells skipped",
            self.cells_skipped, self.cells_total
        )
    }
}

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

/// Per-requirement roll-up: the worst outcome among executed cells, `untested` when every cell
/// was skipped.
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
                    outcome: RequirementOutcome::UNTESTED,
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
            entry.outcome.add(own);
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
                .find(|o| **o != Outcome::Skip && sum.counts.contains_key(o.label()))
                .copied();
            assert_eq!(sum.outcome.tested(), worst, "{}", sum.id);
        }
    }

    #[test]
    fn a_requirement_whose_cells_all_skipped_is_untested() {
        let mut report = crate::report::json::fixture::fixture();
        for r in &mut report.results {
            r.outcome = Outcome::Skip;
        }
        report.results[0].outcome = Outcome::Pass;
        report.results[0].requirements.truncate(1);
        let tested = report.results[0].requirements[0].id.clone();
        let sums = requirement_summaries(&Catalogue::default(), &report.results);
        assert!(sums.len() > 1);
        for sum in &sums {
            let want = if sum.id == tested {
                RequirementOutcome::of([Outcome::Pass])
            } else {
                RequirementOutcome::UNTESTED
            };
            assert_eq!(sum.outcome, want, "{}", sum.id);
        }
        let summary = summarize(&report.results);
        let cov = Coverage::of(&sums, &summary);
        assert_eq!(cov.requirements_tested, 1);
        assert_eq!(cov.requirements_untested(), sums.len() - 1);
        assert_eq!(cov.cells_skipped, report.results.len() - 1);
        assert_eq!(
            cov.to_string(),
            format!(
                "1 of {} requirements tested ({} untested); {} of {} cells skipped",
                sums.len(),
                sums.len() - 1,
                report.results.len() - 1,
                report.results.len()
            )
        );
    }
}
