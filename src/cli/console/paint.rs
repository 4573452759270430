//! Colour on the console: on a terminal unless `NO_COLOR` is set (to anything but the empty
//! string, <https://no-color.org>) or `TERM=dumb`; `--color always|never` decides instead. A
//! colour only marks what the text already says (the outcome label), so a log without it reads
//! the same.

use crate::report::{Outcome, Verdict};
use anstyle::{AnsiColor, Style};
use std::ffi::OsStr;

/// `--color`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when the output is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always colour, even into a file or a pipe.
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (or is not) a terminal, given the `NO_COLOR` and
    /// `TERM` variables.
    pub fn decide(self, terminal: bool, no_color: Option<&OsStr>, term: Option<&OsStr>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                terminal && no_color.is_none_or(OsStr::is_empty) && term.is_none_or(|t| t != "dumb")
            }
        }
    }

    /// [`ColorChoice::decide`] with this process's environment.
    pub fn for_stream(self, terminal: bool) -> Paint {
        let no_color = std::env::var_os("NO_COLOR");
        let term = std::env::var_os("TERM");
        Paint {
            on: self.decide(terminal, no_color.as_deref(), term.as_deref()),
        }
    }
}

/// Paints text, or leaves it as it is (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct Paint {
    pub(super) on: bool,
}

impl Paint {
    fn with(self, style: Style, text: &str) -> String {
        if self.on {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_owned()
        }
    }

    /// An outcome's colour: red for a broken MUST and for a cell that could not be judged,
    /// yellow for SHOULD, cyan for MAY, green for a pass, dim for what was not judged here.
    pub fn outcome(self, o: Outcome, text: &str) -> String {
        let colour = |c: AnsiColor| Style::new().fg_color(Some(c.into()));
        let style = match o.verdict() {
            Verdict::Failed => colour(AnsiColor::Red).bold(),
            Verdict::Unjudged => colour(AnsiColor::Magenta).bold(),
            Verdict::Noted if o == Outcome::Warn => colour(AnsiColor::Yellow),
            Verdict::Noted => colour(AnsiColor::Cyan),
            Verdict::Passed => colour(AnsiColor::Green),
            Verdict::Skipped => Style::new().dimmed(),
        };
        self.with(style, text)
    }

    /// Secondary text (durations, locations).
    pub fn dim(self, text: &str) -> String {
        self.with(Style::new().dimmed(), text)
    }

    /// Headings.
    pub fn bold(self, text: &str) -> String {
        self.with(Style::new().bold(), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_and_the_flag_decide() {
        let os = |s: &'static str| Some(OsStr::new(s));
        let auto = ColorChoice::Auto;
        assert!(auto.decide(true, None, os("xterm")));
        assert!(!auto.decide(false, None, os("xterm")), "not a terminal");
        assert!(!auto.decide(true, os("1"), os("xterm")), "NO_COLOR set");
        assert!(auto.decide(true, os(""), None), "NO_COLOR empty is unset");
        assert!(!auto.decide(true, None, os("dumb")));
        assert!(ColorChoice::Always.decide(false, os("1"), os("dumb")));
        assert!(!ColorChoice::Never.decide(true, None, os("xterm")));
    }

    #[test]
    fn plain_paint_adds_nothing() {
        assert_eq!(Paint::default().outcome(Outcome::Fail, "FAIL"), "FAIL");
        let on = ColorChoice::Always.for_stream(false);
        let red = on.outcome(Outcome::Fail, "FAIL");
        assert!(red.starts_with('\u{1b}') && red.contains("FAIL"), "{red:?}");
    }
}
