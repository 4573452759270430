//! One way to point at a place in a YAML file: used for spec errors and runtime failures alike.
//!
//! ```text
//! error: unknown key `stauts` in `expect`
//!   --> specs/rotation/old-token-rejected.yaml:31:7
//!    |
//! 31 |       stauts: 400
//!    |       ^^^^^^ did you mean `status`?
//! ```

use crate::yaml::{Loc, Source};
use std::fmt::Write as _;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file is invalid.
    Error,
    /// Suspicious but runnable.
    Warning,
}

/// A message tied to a place in a source file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One line saying what is wrong.
    pub message: String,
    /// The file's display path.
    pub path: String,
    /// Where in the file.
    pub loc: Loc,
    /// The quoted source line, if known.
    pub source_line: Option<String>,
    /// Text under the carets (usually the hint, or a short label).
    pub label: Option<String>,
    /// A longer hint printed after the snippet.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `loc` in `source`.
    pub fn error(source: &Source, loc: Loc, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            path: source.path.to_string(),
            loc,
            source_line: source.line(loc.line).map(str::to_owned),
            label: None,
            help: None,
        }
    }

    /// A warning at `loc` in `source`.
    pub fn warning(source: &Source, loc: Loc, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(source, loc, message)
        }
    }

    /// An error about a whole file (no line).
    pub fn file_error(path: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            path: path.to_owned(),
            loc: Loc::default(),
            source_line: None,
            label: None,
            help: None,
        }
    }

    /// Sets the text under the carets.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// `path:line:col`.
    pub fn location(&self) -> String {
        if self.loc.line == 0 {
            self.path.clone()
        } else {
            format!("{}:{}:{}", self.path, self.loc.line, self.loc.col)
        }
    }

    /// Renders the diagnostic as plain text (no colour), hurl/rustc style.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let head = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{head}: {}", self.message);
        let gutter = self.loc.line.to_string().len().max(1);
        let pad = " ".repeat(gutter);
        let _ = writeln!(out, "{pad}--> {}", self.location());
        if let Some(line) = &self.source_line {
            let shown = line.replace('\t', "    ");
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{} | {}", self.loc.line, shown.trim_end());
            let col = usize::try_from(self.loc.col.max(1)).unwrap_or(1) - 1;
            let prefix: String = line
                .chars()
                .take(col)
                .map(|c| if c == '\t' { "    " } else { " " })
                .collect();
            let width = usize::try_from(self.loc.len.max(1)).unwrap_or(1);
            let carets = "^".repeat(width.min(shown.chars().count().saturating_sub(col).max(1)));
            match &self.label {
                Some(label) => {
                    let _ = writeln!(out, "{pad} | {prefix}{carets} {label}");
                }
                None => {
                    let _ = writeln!(out, "{pad} | {prefix}{carets}");
                }
            }
        } else if let Some(label) = &self.label {
            let _ = writeln!(out, "{pad} = {label}");
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "{pad} = help: {help}");
        }
        out
    }
}

/// The closest candidate to `word` (Levenshtein distance at most 2, or a shared prefix),
/// for "did you mean" hints.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for cand in candidates {
        let d = strsim::levenshtein(&lower, &cand.to_ascii_lowercase());
        let limit = (word.chars().count() / 3).clamp(1, 3);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, cand));
        }
    }
    best.map(|(_, c)| c)
}

/// "did you mean `x`?" or the list of valid values when nothing is close.
pub fn hint_for(word: &str, candidates: &[&str]) -> String {
    match did_you_mean(word, candidates.iter().copied()) {
        Some(c) => format!("did you mean `{c}`?"),
        None => {
            let shown: Vec<String> = candidates
                .iter()
                .take(12)
                .map(|c| format!("`{c}`"))
                .collect();
            let more = if candidates.len() > 12 { ", …" } else { "" };
            format!("expected one of {}{more}", shown.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_pointed_snippet() {
        let src = Source::new("specs/a.yaml", "id: a\nexpect:\n  stauts: 400\n");
        let d = Diagnostic::error(
            &src,
            Loc {
                line: 3,
                col: 3,
                len: 6,
            },
            "unknown key `stauts` in `expect`",
        )
        .with_label("did you mean `status`?");
        assert_eq!(
            d.render(),
            "error: unknown key `stauts` in `expect`\n --> specs/a.yaml:3:3\n  |\n3 |   stauts: 400\n  |   ^^^^^^ did you mean `status`?\n"
        );
    }

    #[test]
    fn did_you_mean_finds_close_words_only() {
        assert_eq!(
            did_you_mean("stauts", ["status", "headers"]),
            Some("status")
        );
        assert_eq!(did_you_mean("zzz", ["status", "headers"]), None);
    }
}
