//! Why a step could not run, and where: runtime errors point at the template or step that
//! failed with `file:line:col`, as a failed predicate does.

use crate::diagnostic::Diagnostic;
use crate::yaml::{Loc, Source};

/// How a step that could not go on ends its cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Stop {
    /// The harness or the target's setup failed: Error.
    #[default]
    Error,
    /// The target gave no complete answer in time: Timeout.
    NoAnswer,
    /// The cell cannot be judged here (a wait beyond `--max-wait`, lifetimes too short for the
    /// clock's margin): Skip.
    Skip,
}

/// A runtime error of a step.
#[derive(Debug, Clone)]
pub(crate) struct StepError {
    /// What went wrong.
    pub message: String,
    /// The template or value that failed, when known (else the step itself).
    pub loc: Option<Loc>,
    /// A failure already placed in another file (a step of an included fixture).
    pub placed: Option<Placed>,
    /// How it ends the cell.
    pub stop: Stop,
}

impl StepError {
    /// An error at `loc` in the current file.
    pub fn at(loc: Loc, message: impl Into<String>) -> StepError {
        StepError {
            loc: Some(loc),
            ..StepError::from(message.into())
        }
    }

    /// The cell cannot be judged here and is skipped, saying why.
    pub fn skip(message: impl Into<String>) -> StepError {
        StepError {
            stop: Stop::Skip,
            ..StepError::from(message.into())
        }
    }

    /// A failure already placed (in an included fixture's file).
    pub fn placed(p: Placed) -> StepError {
        StepError {
            message: p.message.clone(),
            loc: None,
            stop: p.stop,
            placed: Some(p),
        }
    }
}

impl From<String> for StepError {
    fn from(message: String) -> StepError {
        StepError {
            message,
            loc: None,
            placed: None,
            stop: Stop::Error,
        }
    }
}

impl From<&str> for StepError {
    fn from(message: &str) -> StepError {
        StepError::from(message.to_owned())
    }
}

/// A step failure with its place resolved: `file:line:col` and the message.
#[derive(Debug, Clone)]
pub(crate) struct Placed {
    /// `file:line:col`.
    pub location: String,
    /// `step `id`: …`.
    pub message: String,
    /// How it ends the cell.
    pub stop: Stop,
}

impl Placed {
    /// Places `e`, raised by step `id` (written at `step_loc` in `source`).
    pub fn new(source: &Source, step_loc: Loc, id: &str, e: &StepError) -> Placed {
        if let Some(p) = &e.placed {
            return p.clone();
        }
        let loc = e.loc.filter(|l| l.line > 0).unwrap_or(step_loc);
        Placed {
            location: Diagnostic::error(source, loc, e.message.clone()).location(),
            message: format!("step `{id}`: {}", e.message),
            stop: e.stop,
        }
    }
}

impl std::fmt::Display for Placed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}
