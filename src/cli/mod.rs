//! The `tokencert` command line: `run`, `validate`, `list`.
//!
//! Exit codes: 0 all good (skips, warnings and expected failures allowed), 1 usage error,
//! 2 invalid scenario or target file, 3 harness error or an unexpected pass (XPASS),
//! 4 conformance failure.

mod console;

use crate::embedded::{Flaw, Running};
use crate::profile::{PlaceholderEnv, ProcessEnv, Target, TargetError};
use crate::report::{self, RunReport, TargetInfo, Tool};
use crate::runner::{RunOptions, Runner};
use crate::scenario::{self, LoadOptions};
use crate::session::Session;
use clap::{Parser, Subcommand};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Exit code: everything passed (or was skipped / expected to fail).
pub const EXIT_OK: u8 = 0;
/// Exit code: bad command line.
pub const EXIT_USAGE: u8 = 1;
/// Exit code: invalid scenario or target file.
pub const EXIT_INVALID: u8 = 2;
/// Exit code: the run could not proceed, or a known deviation passed.
pub const EXIT_HARNESS: u8 = 3;
/// Exit code: the target broke a requirement.
pub const EXIT_FAIL: u8 = 4;

/// Conformance harness for OAuth 2.0 token endpoints, centred on refresh tokens.
#[derive(Debug, Parser)]
#[command(name = "tokencert", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run scenarios against a target and write reports.
    Run(RunArgs),
    /// Check scenario, fixture and target files; print every error with file:line:col.
    Validate(ValidateArgs),
    /// List scenarios with their requirements and capability gates.
    List(ListArgs),
    /// Run the bundled reference authorization server.
    Serve(crate::embedded::ServeArgs),
    /// Per spec and level, how many testable requirements the scenarios reference; the rest listed.
    Coverage(ValidateArgs),
    /// Grammar-aware black-box fuzzing of a live token endpoint; findings become scenario YAML.
    Fuzz(FuzzArgs),
    /// Model-based property tests of rotation invariants against a live target; counterexamples
    /// are shrunk and written as scenario YAML.
    Prop(PropArgs),
}

#[derive(Debug, clap::Args)]
struct PropArgs {
    /// Target profile (YAML). Without it, the embedded reference server (a fresh one per case).
    #[arg(long, short = 't', env = "TOKENCERT_TARGET")]
    target: Option<PathBuf>,
    /// Cases to try.
    #[arg(long, default_value_t = 200)]
    cases: u32,
    /// Generator seed: the same seed replays the same cases.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where a shrunk reproducer is written.
    #[arg(long, default_value = "reports/prop")]
    out: PathBuf,
    /// Switch on a deliberate flaw in the embedded reference server (repeatable; without --target).
    #[arg(long = "flaw", value_name = "NAME")]
    flaws: Vec<Flaw>,
    /// Policy of the embedded reference server (preset or file). Without it, a random policy
    /// within the presets' space per case.
    #[arg(long)]
    policy: Option<String>,
    /// Most operations per case.
    #[arg(long, default_value_t = 10)]
    max_ops: usize,
    /// Run the embedded server on a SQLite file and add restarts to the operations.
    #[arg(long)]
    durable: bool,
    /// Allow a target that is not on a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Accept invalid TLS certificates.
    #[arg(long)]
    insecure: bool,
    /// Largest response body read from --target (the embedded server's per-case answers are trusted), e.g. `4MiB`, `512KiB` or a byte count; a
    /// larger or endless body is an error for that request, never read whole.
    #[arg(long, value_name = "SIZE", default_value_t = crate::http::BodyLimit::DEFAULT)]
    max_response_bytes: crate::http::BodyLimit,
}

#[derive(Debug, clap::Args)]
struct FuzzArgs {
    /// Target profile (YAML). Without it, the embedded reference server.
    #[arg(long, short = 't', env = "TOKENCERT_TARGET")]
    target: Option<PathBuf>,
    /// Stop after this long.
    #[arg(long, default_value = "60s")]
    duration: humantime::Duration,
    /// Stop after this many requests.
    #[arg(long, default_value_t = 100_000)]
    max_requests: u64,
    /// RNG seed: the same seed replays the same requests.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Where reproducers are written.
    #[arg(long, default_value = "reports/fuzz")]
    out: PathBuf,
    /// At most this many requests per second (0: as fast as the target answers).
    #[arg(long, default_value_t = 0)]
    rate: u32,
    /// Answers slower than this are findings.
    #[arg(long, default_value = "2s")]
    latency_bound: humantime::Duration,
    /// Policy of the embedded reference server (without --target). Default: rfc9700, or the
    /// preset where the given --flaw shows.
    #[arg(long)]
    policy: Option<String>,
    /// Switch on a deliberate flaw in the embedded reference server (repeatable; without --target).
    #[arg(long = "flaw", value_name = "NAME")]
    flaws: Vec<Flaw>,
    /// Allow a target that is not on a loopback address.
    #[arg(long)]
    allow_remote: bool,
    /// Accept invalid TLS certificates.
    #[arg(long)]
    insecure: bool,
    /// Largest response body read from the target, e.g. `4MiB`, `512KiB` or a byte count; a
    /// larger or endless body is an error for that request, never read whole.
    #[arg(long, value_name = "SIZE", default_value_t = crate::http::BodyLimit::DEFAULT)]
    max_response_bytes: crate::http::BodyLimit,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Target profile (YAML). Without it, tokencert runs against its embedded reference server.
    #[arg(long, short = 't', env = "TOKENCERT_TARGET")]
    target: Option<PathBuf>,
    /// Only scenarios whose id matches (glob with `*`, substring, or `tag:<tag>`); repeatable.
    #[arg(long, short = 'f')]
    filter: Vec<String>,
    /// Scenario cells run concurrently.
    #[arg(long, short = 'j', default_value_t = 4)]
    jobs: usize,
    /// Where reports go (default: reports/<run-id>/).
    #[arg(long)]
    report_dir: Option<PathBuf>,
    /// Scenario directories or files.
    #[arg(long, default_value = "specs")]
    specs: Vec<PathBuf>,
    /// Accept invalid TLS certificates (never for a real certification run).
    #[arg(long)]
    insecure: bool,
    /// Per-request timeout, e.g. `10s`, from connecting to the last byte of the body.
    #[arg(long)]
    timeout: Option<humantime::Duration>,
    /// Largest response body read from the target, e.g. `4MiB`, `512KiB` or a byte count; a
    /// larger or endless body is an error for that request, never read whole.
    #[arg(long, value_name = "SIZE", default_value_t = crate::http::BodyLimit::DEFAULT)]
    max_response_bytes: crate::http::BodyLimit,
    /// Never draw a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Print the redacted HTTP exchanges of failures on the console.
    #[arg(long, short = 'v')]
    verbose: bool,
    /// Policy of the embedded reference server (a preset name or a policy file); without
    /// --target. Default: rfc9700, or the preset where the given --flaw shows.
    #[arg(long)]
    policy: Option<String>,
    /// Switch on a deliberate flaw in the embedded reference server (repeatable); without --target.
    #[arg(long = "flaw", value_name = "NAME")]
    flaws: Vec<Flaw>,
}

#[cfg(feature = "embedded-server")]
/// The embedded server's policy: the one asked for, else the preset where every given flaw is
/// observable (some need the password grant, a grace window…), else rfc9700.
fn embedded_policy(asked: Option<&str>, flaws: &[Flaw]) -> String {
    if let Some(p) = asked {
        return p.to_owned();
    }
    let hints: Vec<&str> = flaws.iter().filter_map(|f| f.showcase_preset()).collect();
    match hints.as_slice() {
        [first, rest @ ..] if rest.iter().all(|h| h == first) => (*first).to_owned(),
        _ => "rfc9700".to_owned(),
    }
}

#[derive(Debug, clap::Args)]
struct ValidateArgs {
    /// Files or directories (default: specs).
    paths: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Files or directories (default: specs).
    paths: Vec<PathBuf>,
    /// List the capability names scenarios can gate on instead.
    #[arg(long)]
    capabilities: bool,
}

/// Entry point used by `main`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    EXIT_OK
                }
                _ => EXIT_USAGE,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_HARNESS);
        }
    };
    let code = match cli.command {
        Command::Run(a) => rt.block_on(run(a)),
        Command::Validate(a) => validate(&a.paths),
        Command::List(a) => list(&a),
        Command::Serve(a) => return serve(&rt, a),
        Command::Coverage(a) => coverage(&a.paths),
        Command::Fuzz(a) => rt.block_on(fuzz(a)),
        Command::Prop(a) => rt.block_on(prop(a)),
    };
    ExitCode::from(code)
}

fn default_paths(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("specs")]
    } else {
        paths.to_vec()
    }
}

fn validate(paths: &[PathBuf]) -> u8 {
    let paths = default_paths(paths);
    let (cat, mut diags) = scenario::load_paths(&paths, &LoadOptions::default());
    for t in &cat.target_files {
        if let Err(TargetError::Invalid(d)) = Target::load(t, &PlaceholderEnv) {
            diags.extend(d);
        }
    }
    let errors = diags
        .iter()
        .filter(|d| d.severity == crate::diagnostic::Severity::Error)
        .count();
    eprint!("{}", crate::diagnostic::render_all(&diags));
    if errors > 0 {
        eprintln!("{errors} error(s) found");
        EXIT_INVALID
    } else {
        println!(
            "ok: {} scenario(s), {} fixture(s), {} target profile(s) valid",
            cat.scenarios.len(),
            cat.fixtures.len(),
            cat.target_files.len()
        );
        EXIT_OK
    }
}

fn list(a: &ListArgs) -> u8 {
    if a.capabilities {
        for (name, what) in crate::capability::CAPABILITIES {
            println!("{name:<42} {what}");
        }
        for (role, what) in crate::capability::CLIENT_ROLES {
            println!("{:<42} the target defines {what}", format!("client.{role}"));
        }
        return EXIT_OK;
    }
    let (cat, diags) = scenario::load_paths(&default_paths(&a.paths), &LoadOptions::default());
    if diags
        .iter()
        .any(|d| d.severity == crate::diagnostic::Severity::Error)
    {
        eprint!("{}", crate::diagnostic::render_all(&diags));
        return EXIT_INVALID;
    }
    for s in &cat.scenarios {
        let reqs: Vec<String> = s
            .requirements
            .iter()
            .map(|r| format!("{} {}", r.id, r.level))
            .collect();
        println!("{}  {}", s.id, s.title);
        println!("    requirements: {}", reqs.join(", "));
        if !s.requires.is_empty() {
            let g: Vec<&str> = s.requires.iter().map(|g| g.name.as_str()).collect();
            println!("    requires: {}", g.join(", "));
        }
        if !s.unless.is_empty() {
            let g: Vec<&str> = s.unless.iter().map(|g| g.name.as_str()).collect();
            println!("    unless: {}", g.join(", "));
        }
        for d in &s.matrix {
            let v: Vec<&str> = d.values.iter().map(|(v, _)| v.as_str()).collect();
            println!("    matrix {}: {}", d.name, v.join(", "));
        }
    }
    println!("{} scenario(s)", cat.scenarios.len());
    EXIT_OK
}

/// One flaw × scenario row: `caught` when any cell of the scenario failed, else its best outcome.
fn flaw_row(flaw: &str, results: &[crate::report::ScenarioResult]) -> crate::report::FlawMatrix {
    use crate::report::Outcome;
    let mut columns: Vec<String> = Vec::new();
    let mut cells: Vec<String> = Vec::new();
    for r in results {
        let state = match r.outcome {
            Outcome::Fail => "caught",
            Outcome::Error => "error",
            Outcome::Skip => "skip",
            _ => "passed",
        };
        match columns.iter().position(|c| *c == r.scenario) {
            Some(i) => {
                let rank = |s: &str| match s {
                    "caught" => 3,
                    "error" => 2,
                    "passed" => 1,
                    _ => 0,
                };
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
    crate::report::FlawMatrix {
        rows: vec![flaw.to_owned()],
        columns,
        cells: vec![cells],
    }
}

fn coverage(paths: &[PathBuf]) -> u8 {
    let (cat, diags) = scenario::load_paths(&default_paths(paths), &LoadOptions::default());
    if diags
        .iter()
        .any(|d| d.severity == crate::diagnostic::Severity::Error)
    {
        eprint!("{}", crate::diagnostic::render_all(&diags));
        return EXIT_INVALID;
    }
    let groups = scenario::coverage::coverage(&cat);
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

/// Loads a target profile, printing its errors; `Err` is the exit code.
fn load_target(path: &Path) -> Result<Target, u8> {
    match Target::load(path, &ProcessEnv) {
        Ok(t) => Ok(t),
        Err(TargetError::Invalid(diags)) => {
            eprint!("{}", crate::diagnostic::render_all(&diags));
            eprintln!("the target profile is invalid");
            Err(EXIT_INVALID)
        }
        Err(TargetError::MissingSecret(m)) => {
            eprintln!("error: {m}");
            Err(EXIT_HARNESS)
        }
    }
}

/// `tokencert serve`: the bundled reference server in the foreground.
#[cfg(feature = "embedded-server")]
fn serve(rt: &tokio::runtime::Runtime, a: crate::embedded::ServeArgs) -> ExitCode {
    rt.block_on(reference_server::serve(a))
}

#[cfg(not(feature = "embedded-server"))]
fn serve(_: &tokio::runtime::Runtime, _: crate::embedded::ServeArgs) -> ExitCode {
    eprintln!("error: tokencert serve: {}", crate::embedded::ABSENT);
    ExitCode::from(EXIT_USAGE)
}

/// Starts the embedded reference server; `Err` is the exit code. Keep the `Running` alive for
/// as long as the target is used.
#[cfg(feature = "embedded-server")]
async fn start_embedded(policy: Option<&str>, flaws: &[Flaw]) -> Result<(Running, Target), u8> {
    let policy = embedded_policy(policy, flaws);
    let running = crate::profile::embedded::start(&policy, flaws)
        .await
        .map_err(|e| {
            eprintln!("error: {e}");
            EXIT_HARNESS
        })?;
    let target = crate::profile::embedded::target(&running).map_err(|e| {
        eprintln!("error: {e}");
        EXIT_HARNESS
    })?;
    eprintln!(
        "target: embedded reference server at {} (policy {}{})",
        running.base_url(),
        target.policy.name,
        if target.flaws.is_empty() {
            String::new()
        } else {
            format!(", flaws: {}", target.flaws.join(", "))
        }
    );
    Ok((running, target))
}

/// Without the embedded server, every run that needs one is a usage error.
#[cfg(not(feature = "embedded-server"))]
async fn start_embedded(_: Option<&str>, _: &[Flaw]) -> Result<(Running, Target), u8> {
    eprintln!("error: {}", crate::embedded::ABSENT);
    Err(EXIT_USAGE)
}

/// Refuses a target whose token endpoint is not on loopback unless `allowed`: load and fuzz
/// loops belong on servers the user owns.
fn refuse_remote(target: &Target, allowed: bool, why: &str) -> Result<(), u8> {
    let url = target.endpoints.get("token").unwrap_or(&target.base_url);
    if allowed || crate::blackbox::is_loopback(url) {
        return Ok(());
    }
    eprintln!(
        "error: {url} is not a loopback address; {why}. Pass --allow-remote if you own this server."
    );
    Err(EXIT_USAGE)
}

async fn fuzz(a: FuzzArgs) -> u8 {
    let mut running = None;
    let mut target = match &a.target {
        Some(path) => {
            if !a.flaws.is_empty() || a.policy.is_some() {
                eprintln!(
                    "error: --flaw and --policy apply to the embedded reference server only (drop --target)"
                );
                return EXIT_USAGE;
            }
            match load_target(path) {
                Ok(t) => t,
                Err(code) => return code,
            }
        }
        None => match start_embedded(a.policy.as_deref(), &a.flaws).await {
            Ok((r, t)) => {
                running = Some(r);
                t
            }
            Err(code) => return code,
        },
    };
    if a.insecure {
        target.insecure = true;
    }
    target.max_response = a.max_response_bytes;
    if let Err(code) = refuse_remote(
        &target,
        a.allow_remote,
        "fuzzing sends many malformed requests",
    ) {
        return code;
    }
    let token = target.endpoints.get("token").cloned();
    let cat = Arc::new(scenario::Catalogue::default());
    let name = target.name.clone();
    let _ = cat;
    let ctx = match Session::new(target).await {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_HARNESS;
        }
    };
    eprintln!(
        "fuzzing {} (seed {}, at most {} or {} requests)",
        token.map_or_else(|| "?".into(), |u| u.to_string()),
        a.seed,
        a.duration,
        a.max_requests
    );
    let opts = crate::blackbox::FuzzOptions {
        duration: a.duration.into(),
        max_requests: a.max_requests,
        seed: a.seed,
        out: a.out.clone(),
        rate: a.rate,
        latency_bound: a.latency_bound.into(),
        progress: std::io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
    };
    let mut summary = crate::blackbox::run(Arc::clone(&ctx), &opts).await;
    let files = match crate::blackbox::write_reproducers(&mut summary, &opts, &name) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "error: cannot write reproducers to {}: {e}",
                opts.out.display()
            );
            return EXIT_HARNESS;
        }
    };
    for f in &summary.findings {
        eprintln!(
            "FINDING {} ({}): {} — status {}, error {}, {} hit(s){}",
            f.oracle.slug(),
            f.oracle.requirement(),
            f.oracle.describe(),
            f.status.map_or("none".into(), |s| s.to_string()),
            f.error_code.as_deref().unwrap_or("-"),
            f.hits,
            f.file
                .as_ref()
                .map(|p| format!(", reproducer {}", p.display()))
                .unwrap_or_default()
        );
    }
    let rps = summary.requests as f64 / summary.elapsed.as_secs_f64().max(0.001);
    eprintln!(
        "{} requests in {:.1} s ({rps:.0} req/s): {} finding(s), {} reproducer(s) in {}",
        summary.requests,
        summary.elapsed.as_secs_f64(),
        summary.findings.len(),
        files.len(),
        opts.out.display()
    );
    if let Some(r) = running {
        r.shutdown().await;
    }
    if summary.findings.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAIL
    }
}

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

async fn run(a: RunArgs) -> u8 {
    let Some(target_path) = a.target.clone() else {
        // No target: the embedded reference server, started in process on a free port.
        let (running, target) = match start_embedded(a.policy.as_deref(), &a.flaws).await {
            Ok(rt) => rt,
            Err(code) => return code,
        };
        let code = run_against(a, target).await;
        running.shutdown().await;
        return code;
    };
    if !a.flaws.is_empty() || a.policy.is_some() {
        eprintln!(
            "error: --flaw and --policy apply to the embedded reference server only (drop --target)"
        );
        return EXIT_USAGE;
    }
    let mut target = match load_target(&target_path) {
        Ok(t) => t,
        Err(code) => return code,
    };
    if a.insecure {
        target.insecure = true;
    }
    if let Some(t) = a.timeout {
        target.timeout = t.into();
    }
    run_against(a, target).await
}

async fn run_against(a: RunArgs, mut target: Target) -> u8 {
    target.max_response = a.max_response_bytes;
    let (cat, diags) = scenario::load_paths(&a.specs, &LoadOptions::default());
    if diags
        .iter()
        .any(|d| d.severity == crate::diagnostic::Severity::Error)
    {
        eprint!("{}", crate::diagnostic::render_all(&diags));
        eprintln!("the scenarios are invalid: fix them (tokencert validate) before running");
        return EXIT_INVALID;
    }
    let id = run_id();
    let started = std::time::Instant::now();
    let started_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let cat = Arc::new(cat);
    let ctx = match Session::new(target).await {
        Ok(s) => Arc::new(Runner::new(Arc::new(s), Arc::clone(&cat), id.clone())),
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_HARNESS;
        }
    };
    let cells = ctx.plan(&a.filter);
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
    };
    let results = ctx.run(cells, &opts).await;
    printer.finish();
    let summary = report::summarize(&results);
    let code = report::exit_code(&summary);
    let report = RunReport {
        schema_version: crate::report::SCHEMA_VERSION,
        tool: Tool {
            name: "tokencert".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        run_id: id.clone(),
        started_at,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        target: TargetInfo {
            name: ctx.session.target.name.clone(),
            base_url: ctx.session.target.base_url.to_string(),
            policy: ctx.session.target.policy.name.clone(),
            flaws: ctx.session.target.flaws.clone(),
            capabilities: ctx.session.capabilities.iter().cloned().collect(),
        },
        summary: summary.clone(),
        requirements: report::requirement_summaries(&cat, &results),
        results,
        exit_code: code,
        flaw_matrix: None,
    };
    let mut report = report;
    if !ctx.session.target.flaws.is_empty() {
        report.flaw_matrix = Some(flaw_row(
            &ctx.session.target.flaws.join("+"),
            &report.results,
        ));
    }
    let dir = a
        .report_dir
        .clone()
        .unwrap_or_else(|| Path::new("reports").join(&id));
    match crate::report::write_all(&report, &dir) {
        Ok(files) => {
            console::summary(&summary, report.duration_ms);
            for f in files {
                eprintln!("  report: {}", f.display());
            }
        }
        Err(e) => {
            console::summary(&summary, report.duration_ms);
            eprintln!("error: cannot write reports to {}: {e}", dir.display());
            return EXIT_HARNESS;
        }
    }
    u8::try_from(code).unwrap_or(EXIT_HARNESS)
}

async fn prop(a: PropArgs) -> u8 {
    let flaw_names: Vec<String> = a.flaws.iter().map(|f| f.name().to_owned()).collect();
    let (source, name) = match &a.target {
        Some(path) => {
            if !a.flaws.is_empty() || a.policy.is_some() || a.durable {
                eprintln!(
                    "error: --flaw, --policy and --durable apply to the embedded reference server only (drop --target)"
                );
                return EXIT_USAGE;
            }
            let mut target = match load_target(path) {
                Ok(t) => t,
                Err(code) => return code,
            };
            if a.insecure {
                target.insecure = true;
            }
            target.max_response = a.max_response_bytes;
            if let Err(code) = refuse_remote(
                &target,
                a.allow_remote,
                "prop sends many requests and moves its clock",
            ) {
                return code;
            }
            let name = target.name.clone();
            let cat = Arc::new(scenario::Catalogue::default());
            let _ = cat;
            match Session::new(target).await {
                Ok(c) => (crate::prop::Source::Fixed(Arc::new(c)), name),
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_HARNESS;
                }
            }
        }
        #[cfg(not(feature = "embedded-server"))]
        None => {
            eprintln!("error: {}", crate::embedded::ABSENT);
            return EXIT_USAGE;
        }
        #[cfg(feature = "embedded-server")]
        None => {
            let policy = match &a.policy {
                Some(p) => match reference_server::cli::load_policy(p) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return EXIT_INVALID;
                    }
                },
                None => None,
            };
            let name = format!(
                "the embedded reference server ({})",
                policy
                    .as_ref()
                    .map_or_else(|| "random policies".to_owned(), |p| p.name.clone())
            );
            (
                crate::prop::Source::Embedded {
                    flaws: a.flaws.clone(),
                    policy,
                    durable: a.durable,
                },
                name,
            )
        }
    };
    eprintln!(
        "prop: {} cases (seed {}) against {name}{}",
        a.cases,
        a.seed,
        if flaw_names.is_empty() {
            String::new()
        } else {
            format!(", flaws: {}", flaw_names.join(", "))
        }
    );
    let opts = crate::prop::PropOptions {
        cases: a.cases,
        seed: a.seed,
        max_ops: a.max_ops,
        ..crate::prop::PropOptions::default()
    };
    let handle = tokio::runtime::Handle::current();
    let src = source.clone();
    let summary = match tokio::task::spawn_blocking(move || {
        crate::prop::search(&handle, &src, &opts)
    })
    .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: the search failed: {e}");
            return EXIT_HARNESS;
        }
    };
    let secs = summary.elapsed.as_secs_f64().max(0.001);
    eprintln!(
        "{} case(s), {} request(s) in {secs:.1} s ({:.1} cases/s, {:.0} req/s)",
        summary.cases,
        summary.requests,
        summary.cases as f64 / secs,
        summary.requests as f64 / secs
    );
    if let Some(f) = &summary.finding {
        eprint!("{}", f.describe());
        eprintln!("found after {} case(s)", f.cases_to_find);
        match crate::prop::write_reproducer(f, &a.out, &name, &flaw_names, a.seed) {
            Ok(files) => {
                for p in files {
                    eprintln!("  reproducer: {}", p.display());
                }
            }
            Err(e) => {
                eprintln!(
                    "error: cannot write the reproducer to {}: {e}",
                    a.out.display()
                );
                return EXIT_HARNESS;
            }
        }
        return EXIT_FAIL;
    }
    if let Some(e) = &summary.error {
        eprintln!("error: {e}");
        return EXIT_HARNESS;
    }
    eprintln!("no counterexample");
    EXIT_OK
}
