//! A YAML document as a tree whose every node knows its line and column.
//!
//! serde stops at the first structural error, but `tokencert validate` must report every error in
//! a file with `file:line:col`. So YAML is first parsed (by serde-saphyr, which keeps spans) into
//! this generic tree, and the scenario and target decoders walk it, collecting all errors.

pub mod decode;

pub use decode::Dec;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;
use std::sync::Arc;

/// A position in a source file: 1-based line and column (in characters), and a width in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Loc {
    /// 1-based line; 0 when unknown.
    pub line: u32,
    /// 1-based column in characters; 0 when unknown.
    pub col: u32,
    /// Width of the token in characters (at least 1 when known).
    pub len: u32,
}

impl Loc {
    fn from_saphyr(l: &serde_saphyr::Location) -> Loc {
        Loc {
            line: u32::try_from(l.line()).unwrap_or(u32::MAX),
            col: u32::try_from(l.column()).unwrap_or(u32::MAX),
            len: u32::try_from(l.span().len()).unwrap_or(1).max(1),
        }
    }
}

/// A source file: its display path and its text (shared, so diagnostics can quote lines).
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as the user gave it (or a pseudo-name such as `<embedded>`).
    pub path: Arc<str>,
    /// The whole text.
    pub text: Arc<str>,
}

impl Source {
    /// A source from a path and its text.
    pub fn new(path: impl Into<Arc<str>>, text: impl Into<Arc<str>>) -> Source {
        Source {
            path: path.into(),
            text: text.into(),
        }
    }

    /// The text of 1-based line `n`, without its line ending.
    pub fn line(&self, n: u32) -> Option<&str> {
        let idx = usize::try_from(n).ok()?.checked_sub(1)?;
        self.text.lines().nth(idx)
    }
}

/// A mapping key with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key text (non-string keys are rendered to text).
    pub name: String,
    /// Where it is.
    pub loc: Loc,
}

/// One YAML node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub loc: Loc,
    /// What it holds.
    pub kind: Kind,
}

/// The node's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `~`, `null` or an empty value.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<(Key, Node)>),
}

impl Node {
    /// A short name of the node's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The string value, if the node is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A scalar rendered as text (strings as-is, numbers and booleans formatted).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(f) => Some(f.to_string()),
            Kind::Bool(b) => Some(b.to_string()),
            Kind::Null => None,
            Kind::Seq(_) | Kind::Map(_) => None,
        }
    }

    /// The mapping entries, if the node is a mapping.
    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Looks a key up in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(_, v)| v)
    }

    /// The node as JSON (locations dropped).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// A YAML syntax error: the message and where the parser stopped.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    /// What the parser said, without its own location prefix.
    pub message: String,
    /// Where.
    pub loc: Loc,
}

/// Parses YAML text into a located tree. Duplicate keys are a syntax error (RFC-style strictness:
/// a repeated key in a scenario is always a mistake).
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    // serde-saphyr's default budgets bound depth, node count and alias expansion, so hostile input
    // (billion laughs, deep nesting) fails cleanly instead of exhausting memory.
    match serde_saphyr::from_str::<Spanned<Raw>>(text) {
        Ok(raw) => Ok(convert(raw)),
        Err(e) => {
            let loc = e.location().map(|l| Loc::from_saphyr(&l)).unwrap_or(Loc {
                line: 1,
                col: 1,
                len: 1,
            });
            Err(SyntaxError {
                message: clean_message(&e.without_snippet().to_string()),
                loc,
            })
        }
    }
}

/// Drops serde-saphyr's `error: line N column M: ` prefix: our renderer prints the location itself.
fn clean_message(msg: &str) -> String {
    let msg = msg.trim().strip_prefix("error: ").unwrap_or(msg.trim());
    let msg = match msg.strip_prefix("line ") {
        Some(rest) => match rest.find(": ") {
            Some(i) if rest[..i].contains("column") => &rest[i + 2..],
            _ => msg,
        },
        None => msg,
    };
    let msg = msg.split(", set DuplicateKeyPolicy").next().unwrap_or(msg);
    msg.lines().next().unwrap_or(msg).to_owned()
}

/// serde-facing mirror of [`Node`] (spans come from serde-saphyr's `Spanned`).
#[derive(Debug)]
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_none<E>(self) -> Result<Raw, E> {
                Ok(Raw::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
                Raw::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
                Ok(Raw::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
                Ok(Raw::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
                Ok(i64::try_from(v).map_or(Raw::Float(v as f64), Raw::Int))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
                Ok(Raw::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
                Ok(Raw::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Raw, E> {
                Ok(Raw::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Raw, A::Error> {
                let mut items = Vec::new();
                while let Some(x) = s.next_element()? {
                    items.push(x);
                }
                Ok(Raw::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Raw, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = m.next_entry()? {
                    entries.push(entry);
                }
                Ok(Raw::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

fn convert(raw: Spanned<Raw>) -> Node {
    let loc = Loc::from_saphyr(&raw.referenced);
    let kind = match raw.value {
        Raw::Null => Kind::Null,
        Raw::Bool(b) => Kind::Bool(b),
        Raw::Int(i) => Kind::Int(i),
        Raw::Float(f) => Kind::Float(f),
        Raw::Str(s) => Kind::Str(s),
        Raw::Seq(items) => Kind::Seq(items.into_iter().map(convert).collect()),
        Raw::Map(entries) => Kind::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let key = convert(k);
                    let name = key.scalar_text().unwrap_or_else(|| "~".to_owned());
                    (Key { name, loc: key.loc }, convert(v))
                })
                .collect(),
        ),
    };
    Node { loc, kind }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_carry_line_and_column() {
        let n = parse("id: a\nsteps:\n  - wait: 3s\n").expect("valid yaml");
        let steps = n.get("steps").expect("steps");
        assert_eq!(steps.loc.line, 3);
        let Kind::Seq(items) = &steps.kind else {
            panic!("seq")
        };
        let (k, v) = &items[0].as_map().expect("map")[0];
        assert_eq!((k.name.as_str(), k.loc.line, k.loc.col), ("wait", 3, 5));
        assert_eq!((v.as_str(), v.loc.col), (Some("3s"), 11));
    }

    #[test]
    fn syntax_errors_have_a_location_and_a_clean_message() {
        let e = parse("a: 1\na: 2\n").expect_err("duplicate key");
        assert_eq!(e.loc.line, 2);
        assert_eq!(e.message, "duplicate mapping key: a");
        let e = parse("id: a\n  steps: [\n").expect_err("bad indentation");
        assert_eq!(e.loc.line, 2);
        assert!(!e.message.starts_with("error"));
    }
}
