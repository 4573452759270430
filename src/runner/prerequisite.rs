//! Prerequisite scenarios: `prerequisite_for: { client: R }` says that every cell whose client
//! is role `R` needs what the scenario checks (e.g. that the server authenticates that client at
//! all). Without it, a server that cannot authenticate the client would show one Fail for the
//! deviation and an Error in every other cell of that client, whose setup cannot get tokens:
//! one finding reported many times, as a harness fault. With it, the prerequisite runs first
//! and, when it fails, the cells that need it are skipped with its id as the reason: a
//! capability the target lacks, reported once. When it passes (or skips, or errors) they run as
//! usual, so an Error for any other reason still shows.

use super::{Cell, Runner};
use crate::report::{Outcome, ScenarioResult};
use std::collections::HashMap;
use tokio::sync::watch;

/// What the cells of one role learn from their prerequisite.
#[derive(Debug, Clone)]
enum Verdict {
    /// Not finished yet.
    Pending,
    /// Run the cells (it passed, warned, skipped or could not be judged).
    Run,
    /// Skip them, with this reason.
    Skip(String),
}

/// The prerequisites of one run: for each role whose prerequisite scenario is among the run's
/// cells, where its verdict will be published.
pub(super) struct Prerequisites {
    /// Role → (the prerequisite scenario's index, its verdict).
    by_role: HashMap<String, (usize, watch::Sender<Verdict>)>,
}

impl Prerequisites {
    /// The prerequisites among `cells` (a prerequisite outside the run gates nothing).
    pub(super) fn new(runner: &Runner, cells: &[Cell]) -> Prerequisites {
        let by_role = runner
            .catalogue
            .scenarios
            .iter()
            .enumerate()
            .filter(|(i, _)| cells.iter().any(|c| c.scenario == *i))
            .filter_map(|(i, s)| s.prerequisite_for.as_ref().map(|(r, _)| (r.clone(), i)))
            .map(|(role, i)| (role, (i, watch::channel(Verdict::Pending).0)))
            .collect();
        Prerequisites { by_role }
    }

    /// Whether `cell` is a prerequisite (it runs first: other cells wait for it).
    pub(super) fn is_prerequisite(&self, cell: &Cell) -> bool {
        self.by_role.values().any(|(i, _)| *i == cell.scenario)
    }

    /// Why `cell` is skipped, once its role's prerequisite has a verdict: `None` to run it.
    /// Returns at once for a cell without a prerequisite in this run, and for a prerequisite
    /// (they never wait for one another, so none can wait for itself).
    pub(super) async fn skip_reason(&self, runner: &Runner, cell: &Cell) -> Option<String> {
        if self.is_prerequisite(cell) {
            return None;
        }
        let (_, tx) = self.by_role.get(&runner.cell_role(cell))?;
        let mut rx = tx.subscribe();
        // The sender lives as long as `self`, and every prerequisite cell records a verdict
        // (a panicked one too); an error here would mean neither, and the cell just runs.
        let verdict = rx
            .wait_for(|v| !matches!(v, Verdict::Pending))
            .await
            .map(|v| v.clone())
            .unwrap_or(Verdict::Run);
        match verdict {
            Verdict::Skip(reason) => Some(reason),
            Verdict::Run | Verdict::Pending => None,
        }
    }

    /// Publishes the verdict of a prerequisite cell's result (other cells: nothing).
    pub(super) fn record(&self, cell: &Cell, result: &ScenarioResult) {
        for (role, (i, tx)) in &self.by_role {
            if *i != cell.scenario {
                continue;
            }
            let verdict = match result.outcome {
                Outcome::Fail | Outcome::Xfail => Verdict::Skip(format!(
                    "target lacks a prerequisite of the `{role}` client: {} fails (\"{}\")",
                    result.scenario, result.title
                )),
                _ => Verdict::Run,
            };
            tx.send_replace(verdict);
        }
    }
}
