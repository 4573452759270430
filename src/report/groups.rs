//! Root causes: the cells of a run that went wrong the same way, so that reports show each cause
//! once with its cells listed instead of repeating one failure per matrix cell.
//!
//! Two cells share a root cause when their outcome is the same and so is their headline finding's
//! requirement, predicate (`file:line:col`, which pins scenario, step and check), subject and
//! observed value; cells without findings (errors, timeouts, known deviations that passed) share
//! one when their outcome and reason are the same.

use super::{Finding, Level, Outcome, RunReport, ScenarioResult};

/// Cells that went wrong the same way.
#[derive(Debug, Clone)]
pub struct RootCause<'a> {
    /// The cells' outcome.
    pub outcome: Outcome,
    /// The headline finding of the first cell, if the cells have findings.
    pub finding: Option<&'a Finding>,
    /// The first cell's reason (error, timeout, known deviation), if any.
    pub reason: Option<&'a str>,
    /// Indices into the report's results, in plan order; never empty.
    pub members: Vec<usize>,
}

impl RootCause<'_> {
    /// A stable anchor name for the group (`g-<index of its first cell>`).
    pub fn anchor(&self) -> String {
        format!("g-{}", self.members.first().copied().unwrap_or(0))
    }
}

/// The finding a cell is best summarised by: its first MUST, else its first finding.
pub fn headline_finding(r: &ScenarioResult) -> Option<&Finding> {
    r.findings
        .iter()
        .find(|f| f.level == Level::Must)
        .or(r.findings.first())
}

/// What two cells of one root cause have in common.
#[derive(PartialEq, Eq)]
struct Key<'a> {
    outcome: Outcome,
    finding: Option<(&'a str, &'a str, &'a str, &'a str, &'a str)>,
    reason: Option<&'a str>,
}

fn key(r: &ScenarioResult) -> Key<'_> {
    match headline_finding(r) {
        Some(f) => Key {
            outcome: r.outcome,
            finding: Some((
                &f.requirement,
                &f.location,
                &f.step,
                &f.subject,
                &f.observed,
            )),
            reason: None,
        },
        None => Key {
            outcome: r.outcome,
            finding: None,
            reason: r.reason.as_deref().or_else(|| {
                r.steps
                    .iter()
                    .find_map(|s| s.message.as_deref())
                    .filter(|m| !m.is_empty())
            }),
        },
    }
}

/// The root causes of every cell whose outcome has details to show (FAIL, WARN, INFO, ERROR,
/// TIMEOUT, XPASS), most severe first, then in order of first appearance.
pub fn root_causes(report: &RunReport) -> Vec<RootCause<'_>> {
    let mut groups: Vec<(Key<'_>, RootCause<'_>)> = Vec::new();
    for (i, r) in report.results.iter().enumerate() {
        if !r.outcome.verdict().has_details() {
            continue;
        }
        let k = key(r);
        match groups.iter_mut().find(|(g, _)| *g == k) {
            Some((_, g)) => g.members.push(i),
            None => groups.push((
                k,
                RootCause {
                    outcome: r.outcome,
                    finding: headline_finding(r),
                    reason: r.reason.as_deref(),
                    members: vec![i],
                },
            )),
        }
    }
    let mut out: Vec<RootCause<'_>> = groups.into_iter().map(|(_, g)| g).collect();
    // Stable: equal outcomes keep plan order.
    out.sort_by_key(|c| std::cmp::Reverse(c.outcome));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::json::fixture::fixture;

    #[test]
    fn cells_with_the_same_failure_share_a_root_cause() {
        let mut report = fixture();
        let failing = report.results[1].clone();
        let mut twin = failing.clone();
        twin.cell = "client=confidential".into();
        let mut other = failing.clone();
        other.cell = "client=other".into();
        other.findings[0].observed = "500".into();
        report.results.extend([twin, other]);
        let causes = root_causes(&report);
        // Most severe first; the twin joins the first failure, the other observation does not.
        assert_eq!(causes[0].outcome, Outcome::Fail);
        assert_eq!(causes[0].members, vec![1, 9]);
        assert_eq!(causes[1].members, vec![10]);
        assert_eq!(causes[0].anchor(), "g-1");
        // Every detailed cell is in exactly one group; passes and skips in none.
        let mut all: Vec<usize> = causes.iter().flat_map(|c| c.members.clone()).collect();
        all.sort_unstable();
        let want: Vec<usize> = (0..report.results.len())
            .filter(|i| report.results[*i].outcome.verdict().has_details())
            .collect();
        assert_eq!(all, want);
        assert!(causes.windows(2).all(|w| w[0].outcome >= w[1].outcome));
    }

    #[test]
    fn cells_without_findings_group_by_reason() {
        let mut report = fixture();
        let error = report.results[7].clone();
        let mut same = error.clone();
        same.cell = "again".into();
        let mut other = error.clone();
        other.reason = Some("tls handshake failed".into());
        report.results.extend([same, other]);
        let causes = root_causes(&report);
        let errors: Vec<&RootCause<'_>> = causes
            .iter()
            .filter(|c| c.outcome == Outcome::Error)
            .collect();
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].members, vec![7, 9]);
        assert_eq!(errors[0].reason, Some("connection refused"));
    }
}
