//! `tokencert run`: the scenarios against a target, with console, JUnit, JSON and HTML reports.

use super::target::{SetupOptions, Stop, TargetArgs};
use super::{EXIT_HARNESS, EXIT_INVALID, EXIT_USAGE, console};
use crate::report::{
    self, FlawMatrix, Outcome, RunReport, ScenarioResult, TargetInfo, Tool, Verdict,
};
use crate::runner::{RunOptions, Runner};
use crate::scenario::Catalogue;
use crate::session::Session;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub(super) struct RunArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Only scenarios whose id matches (glob with `*`, substring, or `tag:<tag>`); repeatable.
    #[arg(long, short = 'f')]
    filter: Vec<String>,
    /// Scenario cells run concurrently.
    #[arg(long, short = 'j', default_value_t = 4)]
    jobs: usize,
    /// Where reports go (default: reports/<run-id>/).
    #[arg(long)]
    report_dir: Option<PathBuf>,
    /// Scenario directories or files (repeatable). Default: the catalogue built into this binary.
    #[arg(long)]
    specs: Vec<PathBuf>,
    /// Per-request timeout, e.g. `10s`, from connecting to the last byte of the body. A request
    /// still unanswered then is reported as "no answer within …" (a Timeout, never a 5xx).
    #[arg(long)]
    timeout: Option<humantime::Duration>,
    /// Without a test clock, how long the run may wait in real time for lifetimes to pass, e.g.
    /// `2m`: every waiting cell must be done waiting this long after the run starts (they wait
    /// concurrently); a cell that would need longer is skipped. `0` turns real-time waits off.
    #[arg(long, value_name = "DURATION", default_value = "2m")]
    max_wait: humantime::Duration,
    /// The least severe finding that fails the run (exit 4): `fail` (a broken MUST, the
    /// default), `warn` (a broken SHOULD too) or `info` (any finding, MAY included).
    #[arg(long, value_name = "LEVEL", default_value = "fail")]
    fail_on: report::FailOn,
    #[command(flatten)]
    console: console::ConsoleArgs,
}

pub(super) async fn run(a: RunArgs) -> u8 {
    let meta = RunMeta::now();
    // The scenarios first: an invalid file is reported before a server is started or asked.
    let from = super::spec_source(&a.specs);
    let cat = match super::load_catalogue(&from) {
        Ok(c) => Arc::new(c),
        Err(diags) => {
            let stop = Stop::diagnostics(
                EXIT_INVALID,
                "scenarios",
                &diags,
                "the scenarios are invalid: fix them (tokencert validate) before running",
            );
            return stopped(&a, &meta, stop);
        }
    };
    if let Err(code) = super::filter::check(&cat, &a.filter) {
        return code;
    }
    let builtin = a
        .target
        .target
        .is_some()
        .then(|| super::builtin_besides(&from))
        .flatten();
    let scenarios: Vec<&Catalogue> = std::iter::once(cat.as_ref()).chain(&builtin).collect();
    let setup = SetupOptions {
        timeout: a.timeout.map(Into::into),
        scenarios: &scenarios,
        quiet: a.console.quiet,
        ..SetupOptions::default()
    };
    let opened = match super::target::open(&a.target, &setup).await {
        Ok(o) => o,
        Err(stop) => return stopped(&a, &meta, stop),
    };
    let code = match &opened.session {
        Some(session) => run_against(&a, &meta, Arc::clone(session), cat).await,
        None => EXIT_HARNESS,
    };
    opened.close().await;
    code
}

/// When and as what the run started; builds its report.
struct RunMeta {
    id: String,
    started: std::time::Instant,
    started_at: String,
}

impl RunMeta {
    fn now() -> RunMeta {
        RunMeta {
            id: run_id(),
            started: std::time::Instant::now(),
            started_at: time::OffsetDateTime::now_utc()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }

    /// The report of `results` against `target`, ending with `exit_code`.
    fn report(
        &self,
        target: TargetInfo,
        results: Vec<ScenarioResult>,
        requirements: Vec<report::RequirementSummary>,
        exit_code: u8,
        fail_on: report::FailOn,
    ) -> RunReport {
        let summary = report::summarize(&results);
        RunReport {
            schema_version: report::SCHEMA_VERSION,
            tool: Tool {
                name: "tokencert".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            run_id: self.id.clone(),
            started_at: self.started_at.clone(),
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            target,
            coverage: report::Coverage::of(&requirements, &summary),
            summary,
            requirements,
            flaw_matrix: None,
            results,
            exit_code: i32::from(exit_code),
            fail_on,
        }
    }
}

/// What each early stop's error testcase is named, by stage.
const STOP_TITLES: &[(&str, &str)] = &[
    ("scenarios", "the scenario and fixture files are valid"),
    ("profile", "the target profile is valid"),
    (
        "secrets",
        "every value the profile reads from the environment is set",
    ),
    ("policy", "the policy file is valid"),
    ("embedded-server", "the embedded reference server starts"),
    ("discovery", "discovery answers with the target's metadata"),
    ("preflight", "the target can be reached"),
];

/// A run that stopped before any cell ran: the reason on stderr and, unless it was a usage
/// error, reports holding one error testcase that says why, so CI always gets a report.
fn stopped(a: &RunArgs, meta: &RunMeta, stop: Stop) -> u8 {
    let code = stop.print();
    if code == EXIT_USAGE {
        return code;
    }
    let title = STOP_TITLES
        .iter()
        .find(|(stage, _)| *stage == stop.stage)
        .map_or(stop.stage, |(_, t)| *t);
    let result = ScenarioResult {
        scenario: format!("tokencert.{}", stop.stage),
        cell: String::new(),
        title: title.to_owned(),
        file: stop
            .file
            .clone()
            .or_else(|| a.target.target.as_ref().map(|p| p.display().to_string()))
            .unwrap_or_default(),
        outcome: Outcome::Error,
        reason: Some(stop.summary.clone()),
        requirements: Vec::new(),
        duration_ms: u64::try_from(meta.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        steps: Vec::new(),
        findings: Vec::new(),
    };
    let target = TargetInfo {
        name: a.target.target.as_ref().map_or_else(
            || "embedded reference server".to_owned(),
            |p| p.display().to_string(),
        ),
        base_url: String::new(),
        policy: a.target.policy.clone().unwrap_or_default(),
        flaws: a.target.flaws.iter().map(|f| f.name().to_owned()).collect(),
        capabilities: Vec::new(),
    };
    let report = meta.report(target, vec![result], Vec::new(), code, a.fail_on);
    write_reports(a, &report).map_or_else(|e| e, |()| code)
}

/// Writes the reports where the flags say; `Err` is the exit code when they cannot be written.
fn write_reports(a: &RunArgs, report: &RunReport) -> Result<(), u8> {
    let dir = a
        .report_dir
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(&report.run_id));
    match report::write_all(report, &dir) {
        Ok(files) => {
            for f in files.iter().filter(|_| !a.console.quiet) {
                eprintln!("  report: {}", f.display());
            }
            Ok(())
        }
        Err(e) => {
            eprintln!("error: cannot write reports to {}: {e}", dir.display());
            Err(EXIT_HARNESS)
        }
    }
}

async fn run_against(
    a: &RunArgs,
    meta: &RunMeta,
    session: Arc<Session>,
    cat: Arc<Catalogue>,
) -> u8 {
    let runner = Arc::new(Runner::new(session, Arc::clone(&cat), meta.id.clone()));
    let cells = runner.plan(&a.filter);
    if cells.is_empty() {
        eprintln!("error: no scenario matches the filter");
        return EXIT_USAGE;
    }
    let show_progress = !a.console.no_progress
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none();
    let paint = a.console.color.for_stream(std::io::stdout().is_terminal());
    let view = console::View {
        verbose: a.console.verbose,
        paint,
    };
    let printer = Arc::new(console::Printer::new(
        cells.len(),
        show_progress,
        a.console.quiet,
        view,
    ));
    let cb_printer = Arc::clone(&printer);
    let opts = RunOptions {
        jobs: a.jobs,
        filters: a.filter.clone(),
        on_result: Some(Arc::new(move |i, r| cb_printer.result(i, r))),
        max_wait: a.max_wait.into(),
    };
    let mut results = runner.run(cells, &opts).await;
    // The target's own rows, printed after every cell: what its policy breaks of its claims,
    // and the response invariants its answers broke in any cell.
    let first = results.len();
    for (i, r) in runner.target_results().into_iter().enumerate() {
        printer.result(first + i, &r);
        results.push(r);
    }
    printer.finish();
    let summary = report::summarize(&results);
    let code = summary.exit_code_under(a.fail_on);
    let t = &runner.session.target;
    let target = TargetInfo {
        name: t.name.clone(),
        base_url: t.base_url.to_string(),
        policy: t.policy.name.clone(),
        flaws: t.flaws.clone(),
        capabilities: runner.capabilities(&opts).into_iter().collect(),
    };
    let requirements = report::requirement_summaries(&cat, &results);
    let flaw_matrix = (!t.flaws.is_empty()).then(|| flaw_row(&t.flaws.join("+"), &results));
    let mut report = meta.report(target, results, requirements, code, a.fail_on);
    report.flaw_matrix = flaw_matrix;
    let written = write_reports(a, &report);
    console::stdout(&console::recap(&report.results, paint));
    console::stdout(&console::summary_line(&summary, report.duration_ms, paint));
    console::stdout(&format!("{}\n", report.headline()));
    if report::github::enabled() {
        // Workflow commands are read from stdout.
        console::stdout(&report::github::annotations(&report));
    }
    match written {
        Ok(()) => code,
        Err(e) => e,
    }
}

/// `20260102T030405Z-1a2b3c`: sortable, and unique across runs started the same second.
fn run_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let stamp = now.format(&fmt).unwrap_or_else(|_| "run".into());
    let suffix: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(6)
        .collect();
    format!("{stamp}-{suffix}")
}

/// One flaw × scenario row: `caught` when any cell of the scenario failed, else its best outcome.
fn flaw_row(flaw: &str, results: &[ScenarioResult]) -> FlawMatrix {
    let rank = |s: &str| match s {
        "caught" => 3,
        "error" => 2,
        "passed" => 1,
        _ => 0,
    };
    let mut columns: Vec<String> = Vec::new();
    let mut cells: Vec<String> = Vec::new();
    for r in results {
        let state = match r.outcome.verdict() {
            Verdict::Failed => "caught",
            Verdict::Unjudged => "error",
            Verdict::Skipped if r.outcome == Outcome::Skip => "skip",
            _ => "passed",
        };
        match columns.iter().position(|c| *c == r.scenario) {
            Some(i) => {
                if rank(state) > rank(&cells[i]) {
                    cells[i] = state.to_owned();
                }
            }
            None => {
                columns.push(r.scenario.clone());
                cells.push(state.to_owned());
            }
        }
    }
    FlawMatrix {
        rows: vec![flaw.to_owned()],
        columns,
        cells: vec![cells],
    }
}
