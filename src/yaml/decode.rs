//! The generic half of decoding a located YAML tree by hand: typed scalars, mappings with
//! unknown-key hints, durations, and the list of every error found so far (with its location), so a
//! file reports all its errors at once. Scenario and profile decoders build on it.

use super::{Key, Kind, Loc, Node, Source};
use crate::diagnostic::{Diagnostic, hint_for};
use std::time::Duration;

/// Decoding context: the file and the errors found so far.
pub struct Dec<'a> {
    /// The file being decoded.
    pub src: &'a Source,
    /// Every error found so far.
    pub errors: Vec<Diagnostic>,
}

impl<'a> Dec<'a> {
    /// A decoder for `src` with no errors yet.
    pub fn new(src: &'a Source) -> Dec<'a> {
        Dec {
            src,
            errors: Vec::new(),
        }
    }

    /// Records an error at `loc` and returns it, to add a label or hint.
    pub fn err(&mut self, loc: Loc, msg: impl Into<String>) -> &mut Diagnostic {
        self.errors.push(Diagnostic::error(self.src, loc, msg));
        let last = self.errors.len() - 1;
        &mut self.errors[last]
    }

    /// Reports that `what` has the wrong type.
    pub fn expected(&mut self, node: &Node, what: &str, want: &str) {
        let found = node.type_name();
        self.err(node.loc, format!("`{what}` must be {want}, found {found}"));
    }

    /// A mapping, reporting unknown keys against `allowed`.
    pub fn map<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
    ) -> Option<&'n [(Key, Node)]> {
        let Some(entries) = node.as_map() else {
            self.expected(node, what, "a mapping");
            return None;
        };
        for (k, _) in entries {
            if !allowed.contains(&k.name.as_str()) {
                let hint = hint_for(&k.name, allowed);
                let d = self.err(k.loc, format!("unknown key `{}` in `{what}`", k.name));
                d.label = Some(hint);
            }
        }
        Some(entries)
    }

    /// A scalar as text (numbers and booleans keep their YAML spelling).
    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => node.scalar_text(),
            _ => {
                self.expected(node, what, "a string");
                None
            }
        }
    }

    /// A list of strings, or a single string as a one-item list, with each item's location.
    pub fn strings(&mut self, node: &Node, what: &str) -> Vec<(String, Loc)> {
        match &node.kind {
            Kind::Seq(items) => items
                .iter()
                .filter_map(|n| self.string(n, what).map(|s| (s, n.loc)))
                .collect(),
            Kind::Str(_) => self
                .string(node, what)
                .map(|s| vec![(s, node.loc)])
                .unwrap_or_default(),
            _ => {
                self.expected(node, what, "a list of strings");
                Vec::new()
            }
        }
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.kind {
            Kind::Bool(b) => Some(b),
            _ => {
                self.expected(node, what, "true or false");
                None
            }
        }
    }

    /// A non-negative integer.
    pub fn uint(&mut self, node: &Node, what: &str) -> Option<u64> {
        match node.kind {
            Kind::Int(i) if i >= 0 => u64::try_from(i).ok(),
            _ => {
                self.expected(node, what, "a non-negative integer");
                None
            }
        }
    }

    /// A whole number of seconds or a humantime duration (`500ms`, `2s`, `1m`).
    pub fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        match &node.kind {
            Kind::Int(i) if *i >= 0 => Some(Duration::from_secs(u64::try_from(*i).ok()?)),
            Kind::Str(s) => match humantime::parse_duration(s.trim()) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.err(node.loc, format!("`{what}`: `{s}` is not a duration ({e})"))
                        .label = Some(duration_hint(s));
                    None
                }
            },
            _ => {
                self.expected(node, what, "a duration such as `2s`");
                None
            }
        }
    }
}

/// Duration units `humantime` reads, for a did-you-mean on a misspelt one.
const UNITS: &[&str] = &[
    // Plurals first: a near miss of both (`minuts`) reads as the plural.
    "ms", "msec", "millis", "s", "secs", "seconds", "sec", "second", "m", "mins", "minutes", "min",
    "minute", "h", "hrs", "hours", "hr", "hour", "d", "days", "day", "w", "weeks", "week",
];

/// "did you mean `2s`?" when the unit is a near miss, else an example.
pub fn duration_hint(text: &str) -> String {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c.is_whitespace()))
        .unwrap_or(text.len());
    let (amount, unit) = text.split_at(split);
    if !amount.trim().is_empty()
        && !unit.is_empty()
        && let Some(u) = crate::diagnostic::did_you_mean(unit, UNITS.iter().copied())
    {
        return format!("did you mean `{amount}{u}`?");
    }
    "write e.g. `30`, `500ms`, `2s` or `1m`".into()
}

#[cfg(test)]
mod tests {
    use super::duration_hint;

    #[test]
    fn a_misspelt_unit_gets_a_did_you_mean() {
        assert_eq!(duration_hint("3 minuts"), "did you mean `3 minutes`?");
        assert_eq!(duration_hint("500mss"), "did you mean `500ms`?");
        assert_eq!(
            duration_hint("soon"),
            "write e.g. `30`, `500ms`, `2s` or `1m`"
        );
    }
}
