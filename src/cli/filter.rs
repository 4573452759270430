//! `--filter` values checked against the catalogue before anything starts: a filter that selects
//! no scenario is a usage error (exit 1) with a did-you-mean, since a typo in one of several
//! filters would otherwise quietly leave its scenarios out of the run.

use super::EXIT_USAGE;
use crate::runner::matches_filter;
use crate::scenario::Catalogue;
use std::collections::BTreeSet;

/// The filters that select nothing, each with a hint; `Err` is the exit code.
pub(super) fn check(cat: &Catalogue, filters: &[String]) -> Result<(), u8> {
    let problems: Vec<String> = filters
        .iter()
        .filter(|f| !cat.scenarios.iter().any(|s| matches_filter(s, f)))
        .map(|f| {
            format!(
                "error: --filter `{f}` matches no scenario: {}",
                hint(cat, f)
            )
        })
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        eprintln!("{p}");
    }
    Err(EXIT_USAGE)
}

/// A near filter that does select something: a tag for `tag:…`, else a scenario id or an area
/// glob (`rotation.*`).
fn hint(cat: &Catalogue, filter: &str) -> String {
    let candidates: BTreeSet<String> = if filter.starts_with("tag:") {
        cat.scenarios
            .iter()
            .flat_map(|s| &s.tags)
            .map(|t| format!("tag:{t}"))
            .collect()
    } else {
        cat.scenarios
            .iter()
            .flat_map(|s| {
                let area = s.id.split('.').next().map(|a| format!("{a}.*"));
                std::iter::once(s.id.clone()).chain(area)
            })
            .collect()
    };
    match crate::diagnostic::did_you_mean(filter, candidates.iter().map(String::as_str)) {
        Some(near) => format!("did you mean `{near}`?"),
        None => "`tokencert list` prints the scenario ids (a filter is a glob, a substring or `tag:<tag>`)".into(),
    }
}
