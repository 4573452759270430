//! Which requirements of the catalogue the scenarios reference (`tokencert coverage`).

use super::{Catalogue, Check, Expect, Level, Scenario, Step};
use std::collections::{BTreeMap, BTreeSet};

/// Coverage of one (spec, level) group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Specification name.
    pub spec: String,
    /// Level.
    pub level: Level,
    /// Testable requirement ids (testable `yes` or `partly`).
    pub testable: Vec<String>,
    /// The ones referenced by some scenario.
    pub covered: Vec<String>,
}

impl Group {
    /// Testable ids no scenario references.
    pub fn uncovered(&self) -> Vec<&str> {
        self.testable
            .iter()
            .filter(|id| !self.covered.contains(id))
            .map(String::as_str)
            .collect()
    }
}

/// Every requirement id a scenario references: its `requirements` and any predicate's.
pub fn referenced(s: &Scenario) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = s.requirements.iter().map(|r| r.id.clone()).collect();
    fn checks(e: &Expect, out: &mut BTreeSet<String>) {
        let mut all: Vec<&Check> = e.status.iter().chain(&e.body).collect();
        all.extend(e.headers.iter().map(|(_, c)| c));
        all.extend(e.json.iter().map(|(_, c)| c));
        if let Some(r) = &e.race {
            all.extend(r.successes.iter().chain(&r.server_errors));
            for sub in r.each_success.iter().chain(&r.each_failure) {
                checks(sub, out);
            }
        }
        out.extend(
            all.into_iter()
                .filter_map(|c| c.requirement.as_ref().map(|(id, _)| id.clone())),
        );
    }
    fn steps(list: &[Step], out: &mut BTreeSet<String>) {
        for st in list {
            if let Some(e) = &st.expect {
                checks(e, out);
            }
        }
    }
    steps(&s.setup, &mut out);
    steps(&s.steps, &mut out);
    steps(&s.teardown, &mut out);
    out
}

/// Coverage per (spec, level), in catalogue order of specs.
pub fn coverage(cat: &Catalogue) -> Vec<Group> {
    let used: BTreeSet<String> = cat.scenarios.iter().flat_map(referenced).collect();
    let mut groups: BTreeMap<(String, Level), Group> = BTreeMap::new();
    for r in cat.requirements.iter() {
        if !(r.testable.starts_with("yes") || r.testable.starts_with("partly")) {
            continue;
        }
        let g = groups
            .entry((r.spec.clone(), r.level))
            .or_insert_with(|| Group {
                spec: r.spec.clone(),
                level: r.level,
                testable: Vec::new(),
                covered: Vec::new(),
            });
        g.testable.push(r.id.clone());
        if used.contains(&r.id) {
            g.covered.push(r.id.clone());
        }
    }
    groups.into_values().collect()
}
