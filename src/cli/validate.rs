//! `tokencert validate`: every scenario, fixture and target file checked, errors with
//! file:line:col; a profile's deviations are checked against the scenarios.

use super::{EXIT_INVALID, EXIT_OK, PathArgs, builtin_besides};
use crate::diagnostic::Severity;
use crate::profile::{PlaceholderEnv, Target, TargetError, deviations};
use crate::scenario::{self, LoadOptions, SpecSource};
use std::path::Path;

pub(super) fn validate(a: &PathArgs) -> u8 {
    let from = a.source();
    let (cat, mut diags) = scenario::load(&from, &LoadOptions::default());
    let builtin = if cat.target_files.is_empty() {
        None
    } else {
        builtin_besides(&from)
    };
    let known: Vec<&scenario::Catalogue> = std::iter::once(&cat).chain(&builtin).collect();
    for t in &cat.target_files {
        let base = t.path.parent().unwrap_or(Path::new("."));
        match Target::parse(t.source.clone(), base, &PlaceholderEnv) {
            Ok(target) => diags.extend(deviations::check(&target, &known)),
            Err(TargetError::Invalid(d)) => diags.extend(d),
            Err(TargetError::MissingSecret(_)) => {}
        }
    }
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    eprint!("{}", crate::diagnostic::render_all(&diags));
    if errors > 0 {
        eprintln!("{errors} error(s) found");
        return EXIT_INVALID;
    }
    println!(
        "ok: {} scenario(s), {} fixture(s), {} target profile(s) valid{}",
        cat.scenarios.len(),
        cat.fixtures.len(),
        cat.target_files.len(),
        if from == SpecSource::BuiltIn {
            " (the built-in catalogue)"
        } else {
            ""
        }
    );
    EXIT_OK
}
