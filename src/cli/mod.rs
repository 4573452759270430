//! The `tokencert` command line, one file per command.
//!
//! Exit codes: 0 all good (skips, warnings and expected failures allowed), 1 usage error,
//! 2 invalid scenario or target file, 3 harness error or an unexpected pass (XPASS),
//! 4 conformance failure.

mod console;
mod coverage;
mod filter;
mod fuzz;
mod init;
mod list;
mod prop;
mod run;
mod serve;
mod target;
mod validate;

use crate::diagnostic::Severity;
use crate::scenario::{self, Catalogue, LoadOptions, SpecSource};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

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
    Run(run::RunArgs),
    /// Check scenario, fixture and target files; print every error with file:line:col.
    Validate(PathArgs),
    /// List scenarios with their requirements and capability gates.
    List(list::ListArgs),
    /// Run the bundled reference authorization server.
    Serve(crate::embedded::ServeArgs),
    /// Per spec and level, how many testable requirements the scenarios reference; the rest listed.
    Coverage(PathArgs),
    /// Grammar-aware black-box fuzzing of a live token endpoint; findings become scenario YAML.
    Fuzz(fuzz::FuzzArgs),
    /// Model-based property tests of rotation invariants against a live target; counterexamples
    /// are shrunk and written as scenario YAML.
    Prop(prop::PropArgs),
    /// Write a draft target profile for a new server from its discovery documents and safe
    /// probes with a test client; every inferred value is commented for you to confirm.
    Init(init::InitArgs),
}

/// Scenario files or directories.
#[derive(Debug, clap::Args)]
struct PathArgs {
    /// Files or directories (default: the catalogue built into this binary).
    paths: Vec<PathBuf>,
}

impl PathArgs {
    /// The paths given, else the built-in catalogue.
    fn source(&self) -> SpecSource {
        spec_source(&self.paths)
    }
}

/// The catalogue a command reads: the paths given, else the one built into the binary, whatever
/// the working directory (a `specs/` directory here may be anything, or another version of the
/// catalogue: one that differs from the built-in one is pointed out, never read unasked).
fn spec_source(paths: &[PathBuf]) -> SpecSource {
    if !paths.is_empty() {
        return SpecSource::Paths(paths.to_vec());
    }
    let here = Path::new(scenario::builtin::ROOT);
    if here.is_dir() && scenario::builtin::differs_from(here) {
        eprintln!(
            "note: ./specs differs from the built-in catalogue, which this command uses; name it to use it instead (`run --specs specs`, `validate specs`)"
        );
    }
    SpecSource::BuiltIn
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
        Command::Run(a) => rt.block_on(run::run(a)),
        Command::Validate(a) => validate::validate(&a),
        Command::List(a) => list::list(&a),
        Command::Serve(a) => return serve::serve(&rt, a),
        Command::Coverage(a) => coverage::coverage(&a),
        Command::Fuzz(a) => rt.block_on(fuzz::fuzz(a)),
        Command::Prop(a) => rt.block_on(prop::prop(a)),
        Command::Init(a) => rt.block_on(init::init(a)),
    };
    ExitCode::from(code)
}

/// Loads scenarios and fixtures; `Err` holds every diagnostic when one is an error.
fn load_catalogue(from: &SpecSource) -> Result<Catalogue, Vec<crate::diagnostic::Diagnostic>> {
    let (cat, diags) = scenario::load(from, &LoadOptions::default());
    if diags.iter().any(|d| d.severity == Severity::Error) {
        Err(diags)
    } else {
        Ok(cat)
    }
}

/// [`load_catalogue`], printing every diagnostic on an error; `Err` is the exit code.
fn load_specs(from: &SpecSource) -> Result<Catalogue, u8> {
    load_catalogue(from).map_err(|diags| {
        eprint!("{}", crate::diagnostic::render_all(&diags));
        EXIT_INVALID
    })
}

/// Besides the catalogue loaded `from`, the one a profile's deviations may also name: the
/// built-in one, when it is not the one loaded (a run over part of the catalogue accepts a profile
/// written for all of it).
fn builtin_besides(from: &SpecSource) -> Option<Catalogue> {
    match from {
        SpecSource::BuiltIn => None,
        SpecSource::Paths(_) => {
            let decode_only = LoadOptions {
                skip_validation: true,
            };
            Some(scenario::load(&SpecSource::BuiltIn, &decode_only).0)
        }
    }
}
