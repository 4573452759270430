//! `tokencert run`: the scenarios against a target, with console, JUnit, JSON and HTML reports.

use super::target::{SetupOptions, TargetArgs};
use super::{EXIT_HARNESS, EXIT_USAGE, console, load_specs};
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
    /// Never draw a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Print the redacted HTTP exchanges of failures on the console.
    #[arg(long, short = 'v')]
    verbose: bool,
}

pub(super) async fn run(a: RunArgs) -> u8 {
    // The scenarios first: an invalid file is reported before a server is started or asked.
    let from = super::spec_source(&a.specs);
    let cat = match load_specs(
        &from,
        Some("the scenarios are invalid: fix them (tokencert validate) before running"),
    ) {
        Ok(c) => Arc::new(c),
        Err(code) => return code,
    };
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
        ..SetupOptions::default()
    };
    let opened = match super::target::open(&a.target, &setup).await {
        Ok(o) => o,
        Err(code) => return code,
    };
    let code = match &opened.session {
        Some(session) => run_against(&a, Arc::clone(session), cat).await,
        None => EXIT_HARNESS,
    };
    opened.close().await;
    code
}

async fn run_against(a: &RunArgs, session: Arc<Session>, cat: Arc<Catalogue>) -> u8 {
    let id = run_id();
    let started = std::time::Instant::now();
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let runner = Arc::new(Runner::new(session, Arc::clone(&cat), id.clone()));
    let cells = runner.plan(&a.filter);
    if cells.is_empty() {
        eprintln!("error: no scenario matches the filter");
        return EXIT_USAGE;
    }
    let show_progress =
        !a.no_progress && std::io::stderr().is_terminal() && std::env::var_os("CI").is_none();
    let printer = Arc::new(console::Printer::new(cells.len(), show_progress, a.verbose));
    let cb_printer = Arc::clone(&printer);
    let opts = RunOptions {
        jobs: a.jobs,
        filters: a.filter.clone(),
        on_result: Some(Arc::new(move |r| cb_printer.result(r))),
        max_wait: a.max_wait.into(),
    };
    let mut results = runner.run(cells, &opts).await;
    printer.finish();
    // The target's own rows: what its policy breaks of its claims, and the response invariants
    // its answers broke in any cell.
    for r in runner.target_results() {
        eprint!("{}", console::render_result(&r, a.verbose));
        results.push(r);
    }
    let summary = report::summarize(&results);
    let code = report::exit_code(&summary);
    let t = &runner.session.target;
    let report = RunReport {
        schema_version: report::SCHEMA_VERSION,
        tool: Tool {
            name: "tokencert".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        run_id: id.clone(),
        started_at,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        target: TargetInfo {
            name: t.name.clone(),
            base_url: t.base_url.to_string(),
            policy: t.policy.name.clone(),
            flaws: t.flaws.clone(),
            capabilities: runner.capabilities(&opts).into_iter().collect(),
        },
        summary: summary.clone(),
        requirements: report::requirement_summaries(&cat, &results),
        flaw_matrix: (!t.flaws.is_empty()).then(|| flaw_row(&t.flaws.join("+"), &results)),
        results,
        exit_code: code,
    };
    let dir = a
        .report_dir
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(&id));
    let written = report::write_all(&report, &dir);
    console::summary(&summary, report.duration_ms);
    match written {
        Ok(files) => {
            for f in files {
                eprintln!("  report: {}", f.display());
            }
        }
        Err(e) => {
            eprintln!("error: cannot write reports to {}: {e}", dir.display());
            return EXIT_HARNESS;
        }
    }
    u8::try_from(code).unwrap_or(EXIT_HARNESS)
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
