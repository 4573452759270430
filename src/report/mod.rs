//! One run report model; every writer (console, JUnit XML, JSON, HTML) reads it.
//!
//! Everything in a [`RunReport`] is already redacted: the runner passes exchanges, messages and
//! captured values through the run's redactor before they get here, so writers never see secrets.

pub mod github;
mod groups;
pub mod html;
pub mod json;
pub mod junit;
pub mod sarif;
mod summary;

use serde::{Deserialize, Serialize};

pub use groups::{RootCause, root_causes};
pub use summary::{Coverage, exit_code, requirement_summaries, summarize};
pub use tokencert_policy::{FailOn, Level, Outcome, RequirementOutcome, Summary, Verdict};

/// Version of the `report.json` schema; bumped on any incompatible change (2: a requirement's
/// `outcome` may be `untested`; `coverage` and `fail_on` added).
pub const SCHEMA_VERSION: u32 = 2;

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `tokencert` and its version.
    pub tool: Tool,
    /// Unique run id (also the default report directory name).
    pub run_id: String,
    /// RFC 3339 start time (UTC).
    pub started_at: String,
    /// Wall time of the run in milliseconds.
    pub duration_ms: u64,
    /// The target.
    pub target: TargetInfo,
    /// Counts per outcome.
    pub summary: Summary,
    /// Requirements tested out of those the run's cells reference, and cells skipped.
    #[serde(default)]
    pub coverage: Coverage,
    /// One entry per scenario x matrix cell, in plan order.
    pub results: Vec<ScenarioResult>,
    /// One entry per requirement referenced by the run, with its worst outcome.
    pub requirements: Vec<RequirementSummary>,
    /// The process exit code the run ends with.
    pub exit_code: i32,
    /// The least severe finding that fails the run (`--fail-on`); `fail` when absent.
    #[serde(default, skip_serializing_if = "FailOn::is_default")]
    pub fail_on: FailOn,
    /// Optional extra matrix (e.g. flaw x scenario for `--flaw` runs); rows, columns, cells.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flaw_matrix: Option<FlawMatrix>,
}

impl RunReport {
    /// What CI makes of a cell's outcome in this run (its `--fail-on` threshold applied).
    pub fn verdict(&self, outcome: Outcome) -> Verdict {
        outcome.verdict_under(self.fail_on)
    }

    /// The run's verdict for headlines.
    pub fn run_verdict(&self) -> RunVerdict {
        match self.exit_code {
            0 if self.coverage.requirements_tested == 0 => RunVerdict::Untested,
            0 => RunVerdict::Passed,
            4 => RunVerdict::Failed,
            _ => RunVerdict::Errors,
        }
    }

    /// The headline: the verdict with the coverage beside it, e.g. `PASSED: 118 of 127
    /// requirements tested (9 untested); 28 of 291 cells skipped`.
    pub fn headline(&self) -> String {
        format!("{}: {}", self.run_verdict().label(), self.coverage)
    }
}

/// The one-word verdict a headline gives the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunVerdict {
    /// Exit 0 and some requirement was tested.
    Passed,
    /// Exit 0, but no requirement had an executed cell: nothing was checked.
    Untested,
    /// Exit 3: something could not be judged (error, timeout, XPASS).
    Errors,
    /// Exit 4: a requirement at or above `--fail-on` is broken.
    Failed,
}

impl RunVerdict {
    /// `PASSED`, `UNTESTED`, `ERRORS` or `FAILED`.
    pub const fn label(self) -> &'static str {
        match self {
            RunVerdict::Passed => "PASSED",
            RunVerdict::Untested => "UNTESTED",
            RunVerdict::Errors => "ERRORS",
            RunVerdict::Failed => "FAILED",
        }
    }
}

/// Tool identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    /// `tokencert`.
    pub name: String,
    /// Crate version.
    pub version: String,
}

/// The target as the report shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Profile name.
    pub name: String,
    /// Base URL (or issuer).
    pub base_url: String,
    /// Policy preset name.
    pub policy: String,
    /// Flaws switched on in an embedded reference server (empty for real targets).
    #[serde(default)]
    pub flaws: Vec<String>,
    /// The capabilities the run gated on.
    pub capabilities: Vec<String>,
}

/// One scenario x matrix cell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioResult {
    /// Scenario id.
    pub scenario: String,
    /// Matrix cell, e.g. `client=public` (empty without a matrix).
    pub cell: String,
    /// Scenario title.
    pub title: String,
    /// Scenario file.
    pub file: String,
    /// Outcome.
    pub outcome: Outcome,
    /// Why it was skipped, errored or is a known deviation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Requirements the scenario declares.
    pub requirements: Vec<RequirementRef>,
    /// Wall time.
    pub duration_ms: u64,
    /// Steps in order.
    pub steps: Vec<StepResult>,
    /// Every broken assertion (MUST, SHOULD and MAY).
    pub findings: Vec<Finding>,
}

impl ScenarioResult {
    /// `scenario[cell]` or `scenario`.
    pub fn name(&self) -> String {
        if self.cell.is_empty() {
            self.scenario.clone()
        } else {
            format!("{}[{}]", self.scenario, self.cell)
        }
    }
}

/// A requirement id with a level.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequirementRef {
    /// Catalogue id.
    pub id: String,
    /// MUST, SHOULD or MAY.
    pub level: Level,
}

/// Where a step sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// `setup:`.
    Setup,
    /// `steps:`.
    Steps,
    /// `teardown:`.
    Teardown,
}

/// What happened to one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepOutcome {
    /// All assertions held.
    Pass,
    /// An assertion failed.
    Fail,
    /// Skipped by `when`/`unless`, or after an earlier failure.
    Skip,
    /// Could not run.
    Error,
}

/// One step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepResult {
    /// Phase.
    pub phase: Phase,
    /// Step id (or its 1-based position).
    pub id: String,
    /// Step name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `request`, `bootstrap`, `wait`, `race` or `include`.
    pub kind: String,
    /// Outcome.
    pub outcome: StepOutcome,
    /// Error or skip reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `file:line:col` of what failed when the step could not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// HTTP exchanges the step made (redacted).
    pub exchanges: Vec<Exchange>,
    /// Wall time.
    pub duration_ms: u64,
}

/// A broken assertion.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// Requirement id.
    pub requirement: String,
    /// MUST, SHOULD or MAY.
    pub level: Level,
    /// The catalogue's paraphrase of the requirement.
    #[serde(default)]
    pub requirement_text: String,
    /// Step id.
    pub step: String,
    /// What was checked (`status`, `$.error`, `header cache-control`, `successes`…).
    pub subject: String,
    /// What the scenario expected.
    pub expected: String,
    /// What the target answered.
    pub observed: String,
    /// `file:line:col` of the failing predicate.
    pub location: String,
    /// The plain-rendered diagnostic (snippet with carets).
    pub snippet: String,
    /// Index into the step's exchanges of the exchange that broke it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<usize>,
}

/// One HTTP request and its response (redacted).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exchange {
    /// The request.
    pub request: HttpRequestRecord,
    /// The response, if one came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponseRecord>,
    /// Transport error, if no response came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Round trip time.
    pub duration_ms: u64,
}

/// A request as sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpRequestRecord {
    /// Method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body as text (lossy UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

/// A response as received.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpResponseRecord {
    /// Status code.
    pub status: u16,
    /// Headers in order.
    pub headers: Vec<(String, String)>,
    /// Body as text (lossy UTF-8, truncated at 64 KiB).
    pub body: String,
}

/// Per-requirement roll-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequirementSummary {
    /// Catalogue id.
    pub id: String,
    /// Level as enforced.
    pub level: Level,
    /// Spec name.
    pub spec: String,
    /// Paraphrase.
    pub text: String,
    /// Worst outcome among the executed results that reference it; `untested` when none ran.
    pub outcome: RequirementOutcome,
    /// Count of results per outcome label.
    pub counts: std::collections::BTreeMap<String, usize>,
}

/// A matrix of named rows x columns with a cell text each (flaw x scenario).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FlawMatrix {
    /// Row names (flaws).
    pub rows: Vec<String>,
    /// Column names (scenarios).
    pub columns: Vec<String>,
    /// `cells[row][col]`: e.g. "caught", "passed", "skip".
    pub cells: Vec<Vec<String>>,
}

/// Writes `junit.xml`, `report.json`, `report.html` and `report.sarif` into `dir` (created if
/// needed).
pub fn write_all(
    report: &RunReport,
    dir: &std::path::Path,
) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let files = [
        (dir.join("junit.xml"), junit::render(report)),
        (dir.join("report.json"), json::render(report)),
        (dir.join("report.html"), html::render(report)),
        (dir.join("report.sarif"), sarif::render_run(report)),
    ];
    let mut written = Vec::new();
    for (path, text) in files {
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}
