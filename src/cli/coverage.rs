//! `tokencert coverage`: per spec and level, how many testable requirements the scenarios
//! reference; the rest listed.

use super::{EXIT_OK, PathArgs, load_specs};

pub(super) fn coverage(a: &PathArgs) -> u8 {
    let cat = match load_specs(&a.source()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let groups = crate::scenario::coverage::coverage(&cat);
    println!("{:<26} {:<7} {:>9}  uncovered", "spec", "level", "covered");
    let (mut total, mut covered) = (0, 0);
    for g in &groups {
        total += g.testable.len();
        covered += g.covered.len();
        let un = g.uncovered();
        println!(
            "{:<26} {:<7} {:>4}/{:<4}  {}",
            g.spec,
            g.level.as_str(),
            g.covered.len(),
            g.testable.len(),
            if un.is_empty() {
                "-".to_owned()
            } else {
                un.join(" ")
            }
        );
    }
    println!(
        "{covered}/{total} testable requirements referenced by {} scenario(s)",
        cat.scenarios.len()
    );
    EXIT_OK
}
