//! One way to point at a place in a YAML file: used for spec errors and runtime failures alike.
//!
//! ```text
//! error: unknown key `stauts` in `expect`
//!   --> specs/rotation/old-token-rejected.yaml:31:7
//!    |
//! 31 |       stauts: 400
//!    |       ^^^^^^ did you mean `status`?
//! ```
//!
//! Output stays bounded whatever the file holds: a quoted line is clipped to a window around the
//! caret, messages and labels are clipped, and [`render_all`] prints at most
//! [`MAX_PER_FILE`] diagnostics per file, then says how many it left out.

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
    /// The quoted source line, if known: clipped to a window around the caret (with `…` where
    /// text was cut), so one hostile line is not copied into every diagnostic.
    pub source_line: Option<String>,
    /// Where the carets start in `source_line` (0-based, in characters).
    #[serde(skip)]
    pub caret_col: usize,
    /// Text under the carets (usually the hint, or a short label).
    pub label: Option<String>,
    /// A longer hint printed after the snippet.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error at `loc` in `source`.
    pub fn error(source: &Source, loc: Loc, message: impl Into<String>) -> Diagnostic {
        let col = usize::try_from(loc.col.max(1)).unwrap_or(usize::MAX) - 1;
        let width = usize::try_from(loc.len.max(1)).unwrap_or(usize::MAX);
        let excerpt = source.line(loc.line).map(|l| excerpt(l, col, width));
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            path: source.path.to_string(),
            loc,
            caret_col: excerpt.as_ref().map_or(0, |(_, c)| *c),
            source_line: excerpt.map(|(l, _)| l),
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
            caret_col: 0,
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
        let _ = writeln!(out, "{head}: {}", clip(&self.message, MAX_TEXT));
        let gutter = self.loc.line.to_string().len().max(1);
        let pad = " ".repeat(gutter);
        let _ = writeln!(out, "{pad}--> {}", clip(&self.location(), MAX_TEXT));
        let label = self.label.as_deref().map(|l| clip(l, MAX_TEXT));
        if let Some(line) = &self.source_line {
            let shown = line.replace('\t', "    ");
            let _ = writeln!(out, "{pad} |");
            let _ = writeln!(out, "{} | {}", self.loc.line, shown.trim_end());
            let col = self.caret_col;
            let prefix: String = line
                .chars()
                .take(col)
                .map(|c| if c == '\t' { "    " } else { " " })
                .collect();
            let width = usize::try_from(self.loc.len.max(1)).unwrap_or(1);
            let room = shown.chars().count().saturating_sub(col).max(1);
            let carets = "^".repeat(width.min(room).min(CONTEXT));
            match &label {
                Some(label) => {
                    let _ = writeln!(out, "{pad} | {prefix}{carets} {label}");
                }
                None => {
                    let _ = writeln!(out, "{pad} | {prefix}{carets}");
                }
            }
        } else if let Some(label) = &label {
            let _ = writeln!(out, "{pad} = {label}");
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "{pad} = help: {}", clip(help, MAX_TEXT));
        }
        out
    }
}

/// Characters of a quoted line kept on each side of the caret, and the most carets drawn.
pub const CONTEXT: usize = 80;
/// Characters of a message, label or help line beyond which the rest is cut.
pub const MAX_TEXT: usize = 300;
/// Diagnostics [`render_all`] prints per file before summarising the rest.
pub const MAX_PER_FILE: usize = 30;
/// Bytes of output [`render_all`] prints per file before summarising the rest.
pub const MAX_BYTES_PER_FILE: usize = 32 * 1024;

/// The part of `line` around the caret at character `col` spanning `width` characters: at most
/// [`CONTEXT`] characters before it, the first [`CONTEXT`] of the span and [`CONTEXT`] after,
/// with `…` where text was cut. Returns the excerpt and where the caret is in it.
fn excerpt(line: &str, col: usize, width: usize) -> (String, usize) {
    let total = line.chars().count();
    let col = col.min(total);
    let start = col.saturating_sub(CONTEXT);
    let end = total.min(
        col.saturating_add(width.clamp(1, CONTEXT))
            .saturating_add(CONTEXT),
    );
    if start == 0 && end == total {
        return (line.to_owned(), col);
    }
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    out.extend(line.chars().skip(start).take(end - start));
    if end < total {
        out.push('…');
    }
    (out, col - start + usize::from(start > 0))
}

/// `text` cut to `max` characters, with `…` and how much was cut.
fn clip(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    let total = text.chars().count();
    if total <= max {
        return text.into();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… ({} more characters)", thousands(total - max)).into()
}

/// `1234567` → `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Renders diagnostics for the console, each followed by a blank line. Per file, at most
/// [`MAX_PER_FILE`] diagnostics or [`MAX_BYTES_PER_FILE`] bytes are printed; the rest are
/// counted in one line (`… and 1,234 more errors in x.yaml`), so one hostile file cannot flood
/// the terminal or a CI log.
pub fn render_all(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    let mut per_file: std::collections::HashMap<&str, (usize, usize)> = Default::default();
    let mut left_out: Vec<(&str, usize, usize)> = Vec::new();
    for d in diags {
        let (shown, bytes) = per_file.entry(d.path.as_str()).or_default();
        let text = (*shown < MAX_PER_FILE && *bytes < MAX_BYTES_PER_FILE).then(|| d.render());
        if let Some(text) = text {
            *shown += 1;
            *bytes += text.len() + 1;
            out.push_str(&text);
            out.push('\n');
            continue;
        }
        let idx = match left_out.iter().position(|(p, _, _)| *p == d.path) {
            Some(i) => i,
            None => {
                left_out.push((d.path.as_str(), 0, 0));
                left_out.len() - 1
            }
        };
        match d.severity {
            Severity::Error => left_out[idx].1 += 1,
            Severity::Warning => left_out[idx].2 += 1,
        }
    }
    for (path, errors, warnings) in left_out {
        let what = match (errors, warnings) {
            (e, 0) => format!("{} more error{}", thousands(e), plural(e)),
            (0, w) => format!("{} more warning{}", thousands(w), plural(w)),
            (e, w) => format!(
                "{} more error{} and {} warning{}",
                thousands(e),
                plural(e),
                thousands(w),
                plural(w)
            ),
        };
        let _ = writeln!(out, "… and {what} in {}\n", clip(path, MAX_TEXT));
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
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
    fn a_long_line_is_clipped_around_the_caret() {
        let line = format!("{}stauts: 400{}", "a".repeat(10_000), "b".repeat(10_000));
        let src = Source::new("x.yaml", line.as_str());
        let loc = Loc {
            line: 1,
            col: 10_001,
            len: 6,
        };
        let out = Diagnostic::error(&src, loc, "unknown key `stauts`")
            .with_label("did you mean `status`?")
            .render();
        let lines: Vec<&str> = out.lines().collect();
        let quoted = lines[3].trim_start_matches("1 | ");
        let carets = lines[4].trim_start_matches("  | ");
        assert_eq!(
            quoted.chars().count(),
            1 + CONTEXT + 6 + CONTEXT + 1,
            "{quoted}"
        );
        assert!(quoted.starts_with('…') && quoted.ends_with('…'), "{quoted}");
        let at = carets.find('^').expect("carets");
        assert_eq!(
            quoted.chars().skip(at).take(6).collect::<String>(),
            "stauts"
        );
        assert!(
            carets.ends_with("^^^^^^ did you mean `status`?"),
            "{carets}"
        );
        assert!(out.len() < 600, "{} bytes", out.len());
    }

    #[test]
    fn a_short_line_is_quoted_whole_and_a_huge_span_gets_few_carets() {
        let src = Source::new("x.yaml", "steps: [[[[");
        let d = Diagnostic::error(
            &src,
            Loc {
                line: 1,
                col: 8,
                len: 100_000,
            },
            "m",
        );
        assert_eq!(d.source_line.as_deref(), Some("steps: [[[["));
        assert_eq!(d.caret_col, 7);
        let src = Source::new("x.yaml", "[".repeat(1_000));
        let d = Diagnostic::error(
            &src,
            Loc {
                line: 1,
                col: 1,
                len: 1_000,
            },
            "m",
        );
        let carets = d
            .render()
            .lines()
            .nth(4)
            .unwrap_or_default()
            .matches('^')
            .count();
        assert_eq!(carets, CONTEXT);
    }

    #[test]
    fn a_long_message_is_clipped() {
        let src = Source::new("x.yaml", "a: 1");
        let msg = format!("unknown key `{}`", "k".repeat(5_000));
        let out = Diagnostic::error(&src, Loc::default(), msg).render();
        assert!(out.contains("… (4,714 more characters)"), "{out}");
        assert!(out.len() < 500);
    }

    #[test]
    fn render_all_caps_each_file_and_counts_the_rest() {
        let a = Source::new("a.yaml", "x: 1");
        let b = Source::new("b.yaml", "x: 1");
        let loc = Loc {
            line: 1,
            col: 1,
            len: 1,
        };
        let mut diags: Vec<Diagnostic> = (0..1_234 + MAX_PER_FILE)
            .map(|i| Diagnostic::error(&a, loc, format!("e{i}")))
            .collect();
        diags.push(Diagnostic::warning(&a, loc, "w"));
        diags.push(Diagnostic::error(&b, loc, "in b"));
        let out = render_all(&diags);
        assert_eq!(out.matches("error: e").count(), MAX_PER_FILE);
        assert!(out.contains("error: in b"), "{out}");
        assert!(
            out.ends_with("… and 1,234 more errors and 1 warning in a.yaml\n\n"),
            "{out}"
        );
    }

    #[test]
    fn thousands_separates_groups_of_three() {
        assert_eq!(thousands(7), "7");
        assert_eq!(thousands(1_234), "1,234");
        assert_eq!(thousands(1_234_567), "1,234,567");
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
