//! A profile's `deviations:` checked against the scenarios: an unknown scenario id or cell is an
//! error at its place in the profile (it would otherwise never match, and the failure it was
//! meant to excuse would fail the run without a word about the typo).

use super::Target;
use crate::diagnostic::{Diagnostic, did_you_mean, hint_for};
use crate::scenario::{Catalogue, Scenario, cell_name};
use std::collections::BTreeMap;

/// The deviations of `target` that name no scenario, or no cell of it, in any of `catalogues`
/// (the one being run and the built-in one: a run over part of the catalogue must not reject a
/// profile written for all of it).
pub fn check(target: &Target, catalogues: &[&Catalogue]) -> Vec<Diagnostic> {
    let Some(src) = &target.source else {
        return Vec::new();
    };
    let mut by_id: BTreeMap<&str, Vec<&Scenario>> = BTreeMap::new();
    for s in catalogues.iter().flat_map(|c| &c.scenarios) {
        by_id.entry(s.id.as_str()).or_default().push(s);
    }
    let mut out = Vec::new();
    for d in &target.deviations {
        let (at, cell_at) = d.at;
        if is_target_row(&d.scenario) {
            if d.cell.is_some() {
                out.push(
                    Diagnostic::error(
                        src,
                        cell_at.unwrap_or(at),
                        format!("`{}` has no cells", d.scenario),
                    )
                    .with_label("drop `cell`: the row is one per target"),
                );
            }
            continue;
        }
        let Some(scenarios) = by_id.get(d.scenario.as_str()) else {
            let ids: Vec<&str> = by_id.keys().copied().collect();
            out.push(
                Diagnostic::error(
                    src,
                    at,
                    format!("deviation for an unknown scenario `{}`", d.scenario),
                )
                .with_label(suggest_id(&d.scenario, &ids))
                .with_help("`tokencert list` prints the scenario ids"),
            );
            continue;
        };
        let Some(cell) = &d.cell else { continue };
        let at = cell_at.unwrap_or(at);
        if scenarios.iter().all(|s| s.matrix.is_empty()) {
            out.push(
                Diagnostic::error(
                    src,
                    at,
                    format!(
                        "scenario `{}` has no matrix, so no cell `{cell}`",
                        d.scenario
                    ),
                )
                .with_label("drop `cell`: the deviation covers the scenario"),
            );
            continue;
        }
        let cells: Vec<String> = scenarios
            .iter()
            .flat_map(|s| s.cells())
            .map(|c| cell_name(&c))
            .collect();
        if !cells.contains(cell) {
            let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
            out.push(
                Diagnostic::error(
                    src,
                    at,
                    format!("scenario `{}` has no cell `{cell}`", d.scenario),
                )
                .with_label(hint_for(cell, &refs))
                .with_help(
                    "a cell is written `dim=value`, several joined with `,` in the matrix's order",
                ),
            );
        }
    }
    out
}

/// Whether `id` names one of the target's own rows: `invariant.<rule>` of a response invariant,
/// or `policy.<key>` of a policy key some claim rule is about.
fn is_target_row(id: &str) -> bool {
    if let Some(rule) = id.strip_prefix("invariant.") {
        return crate::invariant::Rule::ALL.iter().any(|r| r.id() == rule);
    }
    id.strip_prefix("policy.").is_some_and(|key| {
        crate::claims::ClaimsCatalogue::builtin()
            .forbidden
            .iter()
            .any(|r| r.key == key)
    })
}

/// "did you mean" for a scenario id: a close spelling, else an id with the same last part (the
/// area left out or wrong), else nothing to suggest.
fn suggest_id(id: &str, ids: &[&str]) -> String {
    if let Some(c) = did_you_mean(id, ids.iter().copied()) {
        return format!("did you mean `{c}`?");
    }
    let last = id.rsplit('.').next().unwrap_or(id);
    let same_name: Vec<String> = ids
        .iter()
        .filter(|c| c.rsplit('.').next() == Some(last))
        .map(|c| format!("`{c}`"))
        .collect();
    if same_name.is_empty() {
        "no scenario has this id".into()
    } else {
        format!("did you mean {}?", same_name.join(" or "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::PlaceholderEnv;
    use crate::scenario::{LoadOptions, SpecSource, load};
    use crate::yaml::Source;
    use std::path::Path;

    fn profile(deviations: &str) -> Target {
        let text = format!(
            "base_url: http://127.0.0.1:9\nendpoints: {{ token: /t }}\nclients: {{ public: {{ id: p, auth_method: none }} }}\nbootstrap: {{ grant: authorization_code }}\ndeviations:\n{deviations}"
        );
        Target::parse(Source::new("p.yaml", text), Path::new("."), &PlaceholderEnv)
            .map_err(|e| format!("{e:?}"))
            .expect("valid profile")
    }

    #[test]
    fn unknown_ids_and_cells_are_errors_at_their_place() {
        let (cat, _) = load(&SpecSource::BuiltIn, &LoadOptions::default());
        let t = profile(
            "  - { scenario: rotation.superseded-token-rejectd, reason: a }
  - { scenario: superseded-token-rejected, reason: b }
  - { scenario: no.such.id, reason: c }
  - { scenario: examples.cross-client-refresh-rejected, cell: client=pubic2, reason: d }
  - { scenario: examples.cross-client-refresh-rejected, cell: client=public2, reason: e }
  - { scenario: rotation.superseded-token-rejected, reason: f }
",
        );
        let d = check(&t, &[&cat]);
        let got: Vec<String> = d
            .iter()
            .map(|d| {
                format!(
                    "{} {} {}",
                    d.location(),
                    d.message,
                    d.label.clone().unwrap_or_default()
                )
            })
            .collect();
        assert_eq!(got.len(), 4, "{got:#?}");
        assert!(
            got[0].starts_with("p.yaml:6:17 ")
                && got[0].ends_with("did you mean `rotation.superseded-token-rejected`?"),
            "{}",
            got[0]
        );
        assert!(
            got[1].starts_with("p.yaml:7:17 ")
                && got[1].contains("`rotation.superseded-token-rejected`"),
            "{}",
            got[1]
        );
        assert!(
            got[2].contains("unknown scenario `no.such.id`"),
            "{}",
            got[2]
        );
        assert!(
            got[3].starts_with("p.yaml:9:") && got[3].contains("no cell `client=pubic2`"),
            "{}",
            got[3]
        );
        assert!(
            got[3].contains("did you mean `client=public2`?"),
            "{}",
            got[3]
        );
    }

    #[test]
    fn the_targets_own_rows_may_be_deviations_without_cells() {
        let (cat, _) = load(&SpecSource::BuiltIn, &LoadOptions::default());
        let t = profile(
            "  - { scenario: invariant.no-store, reason: a }
  - { scenario: policy.pragma_no_cache, reason: b }
  - { scenario: invariant.no-such-rule, reason: c }
  - { scenario: policy.pragma_no_cache, cell: client=public, reason: d }
",
        );
        let got: Vec<String> = check(&t, &[&cat])
            .iter()
            .map(|d| d.message.clone())
            .collect();
        assert_eq!(
            got,
            [
                "deviation for an unknown scenario `invariant.no-such-rule`",
                "`policy.pragma_no_cache` has no cells"
            ]
        );
    }
}
