//! The recap printed after the last result: every finding grouped by the requirement it breaks
//! (MUST first, then SHOULD and MAY, each group in the order first met in the catalogue), then
//! the cells that could not be judged, so a few dozen failures among hundreds of passes read as
//! one short list at the end instead of being fished out of the scroll-back.

use super::paint::Paint;
use crate::report::{Finding, Level, Outcome, ScenarioResult, Verdict};
use std::fmt::Write as _;

/// Longest requirement text shown in a group heading (the reports carry it whole).
const TEXT_WIDTH: usize = 100;

/// The findings that break one requirement at one level.
struct Group<'a> {
    requirement: &'a str,
    level: Level,
    text: &'a str,
    items: Vec<(&'a ScenarioResult, &'a Finding)>,
}

/// The recap, empty when nothing failed, warned, informed or went unjudged.
pub fn recap(results: &[ScenarioResult], paint: Paint) -> String {
    let mut groups: Vec<Group<'_>> = Vec::new();
    for r in results {
        if !matches!(r.outcome.verdict(), Verdict::Failed | Verdict::Noted) {
            continue;
        }
        for f in &r.findings {
            match groups
                .iter_mut()
                .find(|g| g.requirement == f.requirement && g.level == f.level)
            {
                Some(g) => g.items.push((r, f)),
                None => groups.push(Group {
                    requirement: &f.requirement,
                    level: f.level,
                    text: &f.requirement_text,
                    items: vec![(r, f)],
                }),
            }
        }
    }
    // Stable: within a level, groups keep the order they were first met in.
    groups.sort_by_key(|g| g.level);
    let unjudged: Vec<&ScenarioResult> = results
        .iter()
        .filter(|r| r.outcome.verdict() == Verdict::Unjudged)
        .collect();
    let mut out = String::new();
    if groups.is_empty() && unjudged.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\n{}", paint.bold("Failures by requirement:"));
    for Group {
        requirement: id,
        level,
        text,
        items,
    } in &groups
    {
        let label = level.outcome_when_broken();
        let _ = writeln!(
            out,
            "\n{} {}  {}",
            paint.bold(id),
            paint.outcome(label, level.as_str()),
            clip(text, TEXT_WIDTH)
        );
        for (r, f) in items {
            let _ = writeln!(
                out,
                "  {} {}  step `{}`: {} expected {}, observed {}  {}",
                paint.outcome(label, &format!("{:<5}", label.label())),
                r.name(),
                f.step,
                f.subject,
                f.expected,
                clip(&f.observed, TEXT_WIDTH),
                paint.dim(&f.location)
            );
        }
    }
    if !unjudged.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Could not be judged:"));
        for r in unjudged {
            let _ = writeln!(
                out,
                "  {} {}  {}",
                paint.outcome(r.outcome, &format!("{:<5}", r.outcome.label())),
                r.name(),
                clip(r.reason.as_deref().unwrap_or(""), 2 * TEXT_WIDTH)
            );
        }
    }
    let xfail = results
        .iter()
        .filter(|r| r.outcome == Outcome::Xfail)
        .count();
    if xfail > 0 {
        let _ = writeln!(
            out,
            "\n{xfail} known deviation(s) failed as the profile expects (XFAIL)"
        );
    }
    out
}

/// One line of at most `n` characters.
fn clip(s: &str, n: usize) -> String {
    let line = s.replace('\n', " ");
    if line.chars().count() > n {
        format!("{}…", line.chars().take(n).collect::<String>())
    } else {
        line
    }
}
