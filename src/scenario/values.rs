//! Literal values whose meaning is fixed when the scenario is loaded: HTTP statuses, numbers a
//! comparison or a count needs, and wait durations. A mistake there (`status: 4OO`,
//! `wait: yes`, `gt: soon`) is a bug of the scenario, so `validate` reports it at its place;
//! left to the run, it would fail the cell and blame the target. A value holding a template
//! (`{{ … }}`) is only known when rendered, and is checked then.

use crate::yaml::decode::duration_hint;
use crate::yaml::{Kind, Node};
use serde_json::Value;
use std::time::Duration;

/// What is wrong with a value: the message, and the text under the carets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub message: String,
    pub label: String,
}

impl Problem {
    fn new(message: impl Into<String>, label: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            label: label.into(),
        }
    }
}

fn is_template(node: &Node) -> bool {
    node.as_str().is_some_and(|s| s.contains("{{"))
}

/// The statuses HTTP defines (RFC 9110 §15).
const STATUSES: std::ops::RangeInclusive<i64> = 100..=599;

/// A status code, as a number or a string of digits (`equals: "400"` compares numerically).
pub(crate) fn status(node: &Node) -> Option<Problem> {
    let text = match &node.kind {
        Kind::Int(code) if STATUSES.contains(code) => return None,
        Kind::Int(code) => {
            return Some(Problem::new(
                format!("{code} is not an HTTP status"),
                "statuses run from 100 to 599",
            ));
        }
        Kind::Str(_) if is_template(node) => return None,
        Kind::Str(s) => s.trim(),
        _ => {
            return Some(Problem::new(
                format!("a status must be a number, found {}", node.type_name()),
                "write e.g. `200` or `400`",
            ));
        }
    };
    if let Ok(code) = text.parse::<i64>() {
        return (!STATUSES.contains(&code)).then(|| {
            Problem::new(
                format!("{code} is not an HTTP status"),
                "statuses run from 100 to 599",
            )
        });
    }
    let guess = lookalike_digits(text)
        .or_else(|| number_words(text))
        .filter(|c| STATUSES.contains(c));
    Some(Problem::new(
        format!("`{text}` is not an HTTP status"),
        match guess {
            Some(c) => format!("did you mean `{c}`?"),
            None => "write the number, e.g. `200` or `400`".into(),
        },
    ))
}

/// `4OO` → 400, `2O1` → 201: letters typed for the digits they look like.
fn lookalike_digits(text: &str) -> Option<i64> {
    let digits: String = text
        .chars()
        .map(|c| match c {
            'O' | 'o' => '0',
            'l' | 'I' | 'i' | '|' => '1',
            'Z' | 'z' => '2',
            'S' | 's' => '5',
            'B' => '8',
            c => c,
        })
        .collect();
    if digits == text {
        return None;
    }
    digits.parse().ok()
}

/// `two hundred` → 200, `four hundred one` → 401: a status spelled out in English words.
fn number_words(text: &str) -> Option<i64> {
    const SMALL: &[&str] = &[
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: &[&str] = &[
        "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    let mut total = 0;
    let mut current = 0;
    let mut any = false;
    for word in text
        .to_ascii_lowercase()
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter(|w| !w.is_empty() && *w != "and")
    {
        let small = SMALL.iter().position(|w| *w == word);
        let tens = TENS.iter().position(|w| !w.is_empty() && *w == word);
        match (small, tens, word) {
            (Some(n), _, _) => current += i64::try_from(n).ok()?,
            (_, Some(n), _) => current += 10 * i64::try_from(n).ok()?,
            (_, _, "hundred") => current = current.max(1) * 100,
            _ => return None,
        }
        any = true;
        if current >= 100 && word == "hundred" {
            total += current;
            current = 0;
        }
    }
    any.then_some(total + current)
}

/// A number for a comparison (`gt`, `lt`…) or a count (`length`, `successes`): an integer when
/// `whole`, else any number; a string of digits counts too (values compare numerically).
pub(crate) fn number(node: &Node, predicate: &str, whole: bool) -> Option<Problem> {
    let want = if whole { "a whole number" } else { "a number" };
    let fits = match &node.kind {
        Kind::Int(i) => !whole || *i >= 0,
        Kind::Float(_) => !whole,
        Kind::Str(_) if is_template(node) => true,
        Kind::Str(s) if whole => s.trim().parse::<u64>().is_ok(),
        Kind::Str(s) => s.trim().parse::<f64>().is_ok_and(f64::is_finite),
        _ => false,
    };
    if fits {
        return None;
    }
    let found = match node.scalar_text() {
        Some(t) if node.as_str().is_some() => format!("`{t}`"),
        Some(t) => t,
        None => node.type_name().to_owned(),
    };
    Some(Problem::new(
        format!("`{predicate}` needs {want}, found {found}"),
        if whole {
            format!("e.g. `{predicate}: 1`")
        } else {
            format!("e.g. `{predicate}: 0`")
        },
    ))
}

/// A wait value in seconds: a number (`30`, `0.5`, `"250e-1"`) or a duration text (`500ms`,
/// `2s`, `1m`). The runner reads rendered values with it; `validate` reads literals with it.
pub fn wait_duration(v: &Value) -> Result<Duration, String> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|f| *f >= 0.0 && f.is_finite())
            .map(Duration::from_secs_f64)
            .ok_or_else(|| format!("wait: {n} is not a duration")),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(secs) = s.parse::<f64>() {
                return wait_duration(&Value::from(secs));
            }
            humantime::parse_duration(s).map_err(|e| format!("wait: `{s}` is not a duration ({e})"))
        }
        other => Err(format!("wait: {other} is not a duration")),
    }
}

/// A literal wait value (`wait: 2s`, `for`, `past`, `within`); `null` is an unlimited lifetime,
/// which `within` accepts.
pub(crate) fn wait(node: &Node, what: &str) -> Option<Problem> {
    let value = match &node.kind {
        Kind::Str(_) if is_template(node) => return None,
        Kind::Null if what == "wait.within" => return None,
        Kind::Int(_) | Kind::Float(_) | Kind::Str(_) => node.to_json(),
        _ => {
            return Some(Problem::new(
                format!(
                    "`{what}` must be a number of seconds or a duration, found {}",
                    node.type_name()
                ),
                "write e.g. `30`, `500ms`, `2s` or `1m`",
            ));
        }
    };
    let err = wait_duration(&value).err()?;
    Some(Problem::new(
        err.replacen("wait:", &format!("`{what}`:"), 1),
        duration_hint(node.as_str().unwrap_or_default()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(yaml: &str) -> Node {
        crate::yaml::parse(&format!("v: {yaml}\n"))
            .ok()
            .and_then(|n| n.get("v").cloned())
            .unwrap_or_else(|| panic!("parses: {yaml}"))
    }

    #[test]
    fn statuses() {
        let label = |y: &str| status(&node(y)).map(|p| p.label);
        for ok in ["200", "\"401\"", "599", "\"{{ x }}\""] {
            assert_eq!(label(ok), None, "{ok}");
        }
        let cases = [
            ("4OO", "did you mean `400`?"),
            ("\"two hundred\"", "did you mean `200`?"),
            ("four hundred one", "did you mean `401`?"),
            ("forbidden", "write the number, e.g. `200` or `400`"),
            ("999", "statuses run from 100 to 599"),
            ("\"42\"", "statuses run from 100 to 599"),
            ("true", "write e.g. `200` or `400`"),
            ("2.5", "write e.g. `200` or `400`"),
        ];
        for (y, want) in cases {
            assert_eq!(label(y).as_deref(), Some(want), "{y}");
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(number(&node("3"), "gt", false), None);
        assert_eq!(number(&node("\"0.5\""), "gt", false), None);
        assert_eq!(number(&node("\"{{ n }}\""), "length", true), None);
        let p = number(&node("soon"), "gt", false).map(|p| p.message);
        assert_eq!(p.as_deref(), Some("`gt` needs a number, found `soon`"));
        let p = number(&node("1.5"), "length", true).map(|p| p.message);
        assert_eq!(
            p.as_deref(),
            Some("`length` needs a whole number, found 1.5")
        );
        assert!(number(&node("-1"), "successes", true).is_some());
        assert!(number(&node("[1]"), "lt", false).is_some());
    }

    #[test]
    fn waits() {
        for ok in [
            "30",
            "0.5",
            "2s",
            "\"1m 30s\"",
            "\"{{ policy.grace.seconds }}\"",
        ] {
            assert_eq!(wait(&node(ok), "wait"), None, "{ok}");
        }
        assert_eq!(wait(&node("~"), "wait.within"), None);
        let p = wait(&node("true"), "wait").map(|p| p.message);
        assert_eq!(
            p.as_deref(),
            Some("`wait` must be a number of seconds or a duration, found a boolean")
        );
        let p = wait(&node("\"2 sekonds\""), "wait.for").map(|p| p.label);
        assert_eq!(p.as_deref(), Some("did you mean `2 seconds`?"));
        assert!(wait(&node("yes"), "wait").is_some());
        assert!(wait(&node("-3"), "wait.past").is_some());
    }

    #[test]
    fn wait_durations_parse_as_numbers_or_text() {
        let s = Duration::from_secs_f64;
        assert_eq!(wait_duration(&Value::from(1.5)), Ok(s(1.5)));
        assert_eq!(wait_duration(&Value::from("2s")), Ok(s(2.0)));
        assert_eq!(wait_duration(&Value::from("250e-1")), Ok(s(25.0)));
        assert!(wait_duration(&Value::from(-1)).is_err());
        assert!(wait_duration(&Value::Bool(true)).is_err());
    }
}
