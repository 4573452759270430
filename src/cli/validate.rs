//! `tokencert validate`: every scenario, fixture and target file checked, errors with
//! file:line:col.

use super::{EXIT_INVALID, EXIT_OK, PathArgs};
use crate::diagnostic::Severity;
use crate::profile::{PlaceholderEnv, Target, TargetError};
use crate::scenario::{self, LoadOptions};

pub(super) fn validate(a: &PathArgs) -> u8 {
    let (cat, mut diags) = scenario::load_paths(&a.paths(), &LoadOptions::default());
    for t in &cat.target_files {
        if let Err(TargetError::Invalid(d)) = Target::load(t, &PlaceholderEnv) {
            diags.extend(d);
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
        "ok: {} scenario(s), {} fixture(s), {} target profile(s) valid",
        cat.scenarios.len(),
        cat.fixtures.len(),
        cat.target_files.len()
    );
    EXIT_OK
}
