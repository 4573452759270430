//! Evaluating `expect` predicates against an observed value.

use crate::scenario::{Op, Predicate};
use crate::template::{Scope, value_to_text};
use serde_json::Value;

/// A predicate that did not hold: what was expected, in words.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// E.g. `equals 400`, `contains "no-store"`.
    pub expected: String,
    /// Where the predicate's argument is (for the caret).
    pub loc: crate::yaml::Loc,
}

/// Why a predicate could not even be evaluated (a template error): an Error, not a Fail.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalError(pub String);

/// Checks every predicate; returns the ones that failed.
pub fn check(
    predicates: &[Predicate],
    observed: Option<&Value>,
    scope: &dyn Scope,
) -> Result<Vec<Mismatch>, EvalError> {
    let mut out = Vec::new();
    for p in predicates {
        let arg = render_value(&p.arg.value, scope)?;
        if !holds(p, &arg, observed)? {
            out.push(Mismatch {
                expected: describe(p.op, &arg),
                loc: p.arg.loc,
            });
        }
    }
    Ok(out)
}

/// Renders templates inside a value (strings are templates).
pub fn render_value(v: &Value, scope: &dyn Scope) -> Result<Value, EvalError> {
    Ok(match v {
        Value::String(s) if s.contains("{{") => crate::template::Template::parse(s)
            .map_err(|e| EvalError(e.message))?
            .render(scope)
            .map_err(|e| EvalError(e.0))?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| render_value(i, scope))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), render_value(v, scope)?)))
                .collect::<Result<_, EvalError>>()?,
        ),
        other => other.clone(),
    })
}

/// "equals 400", "one of [400, 401]", "absent".
pub fn describe(op: Op, arg: &Value) -> String {
    let a = show(arg);
    match op {
        Op::Exists if arg == &Value::Bool(false) => "absent".into(),
        Op::Exists => "present".into(),
        Op::Absent if arg == &Value::Bool(false) => "present".into(),
        Op::Absent => "absent".into(),
        Op::Type => format!("of type {}", value_to_text(arg)),
        op => format!("{} {a}", op.name().replace('_', " ")),
    }
}

/// A value for humans: strings quoted, others as JSON, absent as `absent`.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// `absent` or the shown value.
pub fn show_observed(v: Option<&Value>) -> String {
    v.map_or_else(|| "absent".to_owned(), show)
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Loose equality: numbers compare numerically (a status 200 equals "200").
fn eq(a: &Value, b: &Value) -> bool {
    if a == b {
        return true;
    }
    match (num(a), num(b)) {
        (Some(x), Some(y)) if a.is_number() || b.is_number() => x == y,
        _ => false,
    }
}

fn words(v: &Value) -> std::collections::BTreeSet<String> {
    match v {
        Value::Array(items) => items.iter().map(value_to_text).collect(),
        other => value_to_text(other)
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    }
}

fn holds(p: &Predicate, arg: &Value, obs: Option<&Value>) -> Result<bool, EvalError> {
    let truthy = |v: &Value| v.as_bool().unwrap_or(true);
    Ok(match p.op {
        Op::Exists => obs.is_some() == truthy(arg),
        Op::Absent => obs.is_none() == truthy(arg),
        Op::NotEquals => obs.is_none_or(|o| !eq(o, arg)),
        Op::NotOneOf => match (obs, arg) {
            (None, _) => true,
            (Some(o), Value::Array(items)) => !items.iter().any(|i| eq(o, i)),
            (Some(o), other) => !eq(o, other),
        },
        Op::NotContains => match obs {
            None => true,
            Some(Value::Array(items)) => !items.iter().any(|i| eq(i, arg)),
            Some(o) => !value_to_text(o).contains(&value_to_text(arg)),
        },
        Op::NotMatches => match obs {
            None => true,
            Some(o) => !regex_for(p, arg)?.is_match(&value_to_text(o)),
        },
        Op::WordsExclude => match obs {
            None => true,
            Some(o) => words(o).is_disjoint(&words(arg)),
        },
        _ => {
            let Some(o) = obs else { return Ok(false) };
            match p.op {
                Op::Equals => eq(o, arg),
                Op::EqualsCi => value_to_text(o).eq_ignore_ascii_case(&value_to_text(arg)),
                Op::OneOf => match arg {
                    Value::Array(items) => items.iter().any(|i| eq(o, i)),
                    other => eq(o, other),
                },
                Op::Type => {
                    let t = value_to_text(arg);
                    match t.as_str() {
                        "string" => o.is_string(),
                        "number" => o.is_number(),
                        "integer" => o.is_i64() || o.is_u64(),
                        "boolean" => o.is_boolean(),
                        "object" => o.is_object(),
                        "array" => o.is_array(),
                        "null" => o.is_null(),
                        _ => false,
                    }
                }
                Op::Matches => regex_for(p, arg)?.is_match(&value_to_text(o)),
                Op::Contains => match o {
                    Value::Array(items) => items.iter().any(|i| eq(i, arg)),
                    other => value_to_text(other).contains(&value_to_text(arg)),
                },
                Op::StartsWith => value_to_text(o).starts_with(&value_to_text(arg)),
                Op::Gt | Op::Gte | Op::Lt | Op::Lte => match (num(o), num(arg)) {
                    (Some(x), Some(y)) => match p.op {
                        Op::Gt => x > y,
                        Op::Gte => x >= y,
                        Op::Lt => x < y,
                        _ => x <= y,
                    },
                    _ => false,
                },
                Op::Length => {
                    let len = match o {
                        Value::Array(a) => a.len(),
                        Value::Object(m) => m.len(),
                        other => value_to_text(other).chars().count(),
                    };
                    num(arg).is_some_and(|n| n == len as f64)
                }
                Op::SameWords => words(o) == words(arg),
                Op::WordsSubsetOf => words(o).is_subset(&words(arg)),
                _ => false,
            }
        }
    })
}

fn regex_for(p: &Predicate, arg: &Value) -> Result<regex::Regex, EvalError> {
    match &p.regex {
        Some(r) => Ok(r.clone()),
        None => regex::Regex::new(&value_to_text(arg))
            .map_err(|e| EvalError(format!("bad regex after templating: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::TplValue;
    use serde_json::json;

    fn pred(op: Op, arg: Value) -> Predicate {
        let regex = match (&op, &arg) {
            (Op::Matches | Op::NotMatches, Value::String(s)) => regex::Regex::new(s).ok(),
            _ => None,
        };
        Predicate {
            op,
            arg: TplValue {
                value: arg,
                loc: crate::yaml::Loc::default(),
            },
            regex,
        }
    }

    fn ok(op: Op, arg: Value, obs: Option<Value>) -> bool {
        let scope = serde_json::Map::new();
        check(&[pred(op, arg)], obs.as_ref(), &scope)
            .expect("evaluates")
            .is_empty()
    }

    /// Every predicate has a case where it holds and one where it does not.
    #[test]
    fn each_predicate_passes_and_fails() {
        let cases: Vec<(Op, Value, Option<Value>, Option<Value>)> = vec![
            (Op::Equals, json!(200), Some(json!(200)), Some(json!(400))),
            (
                Op::NotEquals,
                json!("a"),
                Some(json!("b")),
                Some(json!("a")),
            ),
            (
                Op::EqualsCi,
                json!("bearer"),
                Some(json!("Bearer")),
                Some(json!("DPoP")),
            ),
            (
                Op::OneOf,
                json!([400, 401]),
                Some(json!(401)),
                Some(json!(500)),
            ),
            (
                Op::NotOneOf,
                json!([500]),
                Some(json!(400)),
                Some(json!(500)),
            ),
            (Op::Exists, json!(true), Some(json!("x")), None),
            (Op::Absent, json!(true), None, Some(json!("x"))),
            (Op::Type, json!("integer"), Some(json!(3)), Some(json!("3"))),
            (
                Op::Matches,
                json!("^[a-z_]+$"),
                Some(json!("invalid_grant")),
                Some(json!("Bad Error")),
            ),
            (
                Op::NotMatches,
                json!("\\s"),
                Some(json!("x")),
                Some(json!("a b")),
            ),
            (
                Op::Contains,
                json!("no-store"),
                Some(json!("private, no-store")),
                Some(json!("no-cache")),
            ),
            (
                Op::NotContains,
                json!("x"),
                Some(json!("abc")),
                Some(json!("xyz")),
            ),
            (
                Op::StartsWith,
                json!("Basic"),
                Some(json!("Basic realm=x")),
                Some(json!("Bearer")),
            ),
            (Op::Gt, json!(0), Some(json!(3600)), Some(json!(0))),
            (Op::Gte, json!(1), Some(json!(1)), Some(json!(0))),
            (Op::Lt, json!(10), Some(json!(3)), Some(json!(10))),
            (Op::Lte, json!(10), Some(json!(10)), Some(json!(11))),
            (Op::Length, json!(3), Some(json!("abc")), Some(json!("ab"))),
            (
                Op::SameWords,
                json!("b a"),
                Some(json!("a b")),
                Some(json!("a")),
            ),
            (
                Op::WordsSubsetOf,
                json!("a b c"),
                Some(json!("a c")),
                Some(json!("a d")),
            ),
            (
                Op::WordsExclude,
                json!("admin"),
                Some(json!("read write")),
                Some(json!("read admin")),
            ),
        ];
        assert_eq!(cases.len(), Op::ALL.len(), "one case per predicate");
        for (op, arg, good, bad) in cases {
            assert!(
                ok(op, arg.clone(), good.clone()),
                "{op:?} {arg} should hold for {good:?}"
            );
            assert!(
                !ok(op, arg.clone(), bad.clone()),
                "{op:?} {arg} should fail for {bad:?}"
            );
        }
    }

    #[test]
    fn templated_arguments_render_before_comparison() {
        let scope = json!({"rt0": "abc"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let p = pred(Op::NotEquals, json!("{{ rt0 }}"));
        let m = check(&[p], Some(&json!("abc")), &scope).expect("evaluates");
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].expected, "not equals \"abc\"");
        let p = pred(Op::Equals, json!("{{ nope }}"));
        assert!(check(&[p], Some(&json!(1)), &scope).is_err());
    }
}
