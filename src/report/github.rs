//! GitHub Actions annotations: workflow commands (`::error file=..,line=..::message`) that the
//! runner turns into annotations on the job and, where the file is in the repository, on the
//! scenario's line. Printed by `tokencert run` when `GITHUB_ACTIONS=true`.
//!
//! One annotation per root cause (see [`super::root_causes`]), not per cell: GitHub shows only
//! the first few annotations of each kind per step, and 37 copies of one failure would hide the
//! rest. A last `::notice` carries the headline (verdict and coverage).

use std::fmt::Write as _;

use super::groups::root_causes;
use super::sarif::Location;
use super::{Outcome, RunReport, Verdict};

/// Whether the process runs as a GitHub Actions step.
pub fn enabled() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

/// Every annotation of the run, one workflow command a line.
pub fn annotations(report: &RunReport) -> String {
    let mut out = String::new();
    for cause in root_causes(report) {
        let command = match report.verdict(cause.outcome) {
            Verdict::Failed | Verdict::Unjudged => "error",
            _ if cause.outcome == Outcome::Warn => "warning",
            _ => "notice",
        };
        let cells: Vec<String> = cause
            .members
            .iter()
            .filter_map(|i| report.results.get(*i))
            .map(super::ScenarioResult::name)
            .collect();
        let first = cells.first().cloned().unwrap_or_default();
        let mut props: Vec<(&str, String)> = Vec::new();
        let (title, message) = match cause.finding {
            Some(f) => {
                if let Some(Location::File { uri, line, column }) = Location::parse(&f.location) {
                    props.push(("file", uri));
                    if let Some(l) = line {
                        props.push(("line", l.to_string()));
                    }
                    if let Some(c) = column {
                        props.push(("col", c.to_string()));
                    }
                }
                (
                    format!(
                        "{} {} {}: {first}",
                        cause.outcome.label(),
                        f.requirement,
                        f.level
                    ),
                    format!(
                        "{}\nstep {}: {} expected {}, observed {}\n{} cell(s): {}",
                        f.requirement_text,
                        f.step,
                        f.subject,
                        f.expected,
                        f.observed,
                        cells.len(),
                        cells.join(", ")
                    ),
                )
            }
            None => (
                format!("{}: {first}", cause.outcome.label()),
                format!(
                    "{}\n{} cell(s): {}",
                    cause.reason.unwrap_or(cause.outcome.meaning()),
                    cells.len(),
                    cells.join(", ")
                ),
            ),
        };
        props.push(("title", title));
        command_line(&mut out, command, &props, message.trim_start());
    }
    command_line(
        &mut out,
        "notice",
        &[("title", format!("tokencert: {}", report.target.name))],
        &report.headline(),
    );
    out
}

/// Writes `::command key=value,...::message` with GitHub's escaping.
fn command_line(out: &mut String, command: &str, props: &[(&str, String)], message: &str) {
    let props: Vec<String> = props
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect();
    let sep = if props.is_empty() { "" } else { " " };
    let _ = writeln!(
        out,
        "::{command}{sep}{}::{}",
        props.join(","),
        escape_data(message)
    );
}

/// A message: `%`, CR and LF would end or corrupt the command.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A property value: also `:` and `,`, which separate properties.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::FailOn;
    use crate::report::json::fixture::fixture;

    #[test]
    fn one_annotation_per_root_cause_and_a_headline() {
        let mut report = fixture();
        let mut twin = report.results[1].clone();
        twin.cell = "client=confidential".into();
        report.results.push(twin);
        let text = annotations(&report);
        let lines: Vec<&str> = text.lines().collect();
        // FAIL (two cells, one line), ERROR, TIMEOUT, XPASS, WARN, INFO, then the headline.
        assert_eq!(lines.len(), 7, "{text}");
        assert!(lines.iter().all(|l| l.starts_with("::")));
        let fail = lines[0];
        assert!(
            fail.starts_with("::error file=specs/refresh.yaml,line=12,col=9,title=FAIL RFC6749-6-refresh MUST%3A refresh-rotation[client=public]::"),
            "{fail}"
        );
        assert!(
            fail.contains("2 cell(s)%3A") || fail.contains("2 cell(s):"),
            "{fail}"
        );
        assert!(text.contains("::warning "));
        assert!(text.contains("::notice "));
        assert!(lines[6].starts_with("::notice title=tokencert%3A "));
        // Under --fail-on warn the warning is an error.
        report.fail_on = FailOn::Warn;
        assert!(!annotations(&report).contains("::warning "));
    }

    #[test]
    fn escaping_keeps_one_command_per_line() {
        assert_eq!(escape_data("a%b\r\nc"), "a%25b%0D%0Ac");
        assert_eq!(escape_property("x:y,z\n"), "x%3Ay%2Cz%0A");
        let mut out = String::new();
        command_line(&mut out, "error", &[("title", "t:1".into())], "two\nlines");
        assert_eq!(out, "::error title=t%3A1::two%0Alines\n");
    }
}
