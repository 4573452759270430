//! `{{ … }}` templates in scenario values.
//!
//! A template is literal text with expressions: `{{ rt0 }}`, `{{ target.endpoints.token }}`,
//! `{{ policy.grace.seconds }}`, `{{ clients.public.id }}`, `{{ rt0 | truncate(10) }}`,
//! `{{ uuid() }}`. A value that is exactly one expression keeps its type (a number stays a
//! number); anything else renders to a string.
//!
//! Namespaces: `target`, `client` (the matrix cell's client), `clients`, `matrix`, `policy`,
//! `run`, `dpop`, `scopes` (the target's scope vocabulary), `test_user`; bare names are scenario
//! `vars` and captures.

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;
use std::fmt;

/// The reserved namespaces (a bare name must not shadow one).
pub const NAMESPACES: &[&str] = &[
    "target",
    "client",
    "clients",
    "matrix",
    "policy",
    "run",
    "dpop",
    "scopes",
    "test_user",
];

/// Built-in functions.
pub const FUNCTIONS: &[&str] = &["uuid", "now", "random"];

/// Filters, applied left to right with `|`.
pub const FILTERS: &[&str] = &[
    "truncate",
    "drop_last",
    "upper",
    "lower",
    "urlencode",
    "base64url",
    "sha256_base64url",
    "json",
    "default",
    "len",
    "replace_char",
    "reverse_words",
    "minus",
    "times",
    "div",
    "if",
];

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Expr(Expr),
}

/// One `{{ … }}` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    head: Head,
    filters: Vec<(String, Vec<Value>)>,
    /// Character offset of the expression inside the template text (for diagnostics).
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Head {
    /// `a.b[0].c` or `a['x.y']`.
    Path(Vec<Seg>),
    /// `uuid()`, `random(16)`.
    Call(String, Vec<Value>),
    /// A quoted string or a number.
    Literal(Value),
}

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A template syntax error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// What is wrong.
    pub message: String,
    /// Character offset into the template text.
    pub offset: usize,
}

/// Looks names up while rendering.
pub trait Scope {
    /// The value of a root name (namespace, var or capture), if defined.
    fn root(&self, name: &str) -> Option<Value>;
}

impl Scope for serde_json::Map<String, Value> {
    fn root(&self, name: &str) -> Option<Value> {
        self.get(name).cloned()
    }
}

/// A rendering failure (an undefined name, a filter misuse).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(pub String);

impl Template {
    /// Parses template text. Text without `{{` is a plain literal.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut consumed = 0usize;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Lit(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| TemplateError {
                message: "unclosed `{{`: add the closing `}}`".into(),
                offset: char_offset(text, consumed + start),
            })?;
            let inner = &after[..end];
            let offset = char_offset(text, consumed + start);
            let expr =
                parse_expr(inner.trim()).map_err(|m| TemplateError { message: m, offset })?;
            parts.push(Part::Expr(Expr { offset, ..expr }));
            let used = start + 2 + end + 2;
            consumed += used;
            rest = &rest[used..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_owned()));
        }
        Ok(Template { parts })
    }

    /// A template holding only `text` (no expressions).
    pub fn literal(text: impl Into<String>) -> Template {
        Template {
            parts: vec![Part::Lit(text.into())],
        }
    }

    /// True when the template has no expressions.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    /// The literal text, when the template has no expressions.
    pub fn as_literal(&self) -> Option<String> {
        if !self.is_literal() {
            return None;
        }
        Some(
            self.parts
                .iter()
                .map(|p| match p {
                    Part::Lit(s) => s.as_str(),
                    Part::Expr(_) => "",
                })
                .collect(),
        )
    }

    /// Root names the template reads (`rt0` for `{{ rt0 | truncate(3) }}`, `target` for
    /// `{{ target.x }}`), with each expression's offset.
    pub fn roots(&self) -> Vec<(String, usize)> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Expr(Expr {
                    head: Head::Path(segs),
                    offset,
                    ..
                }) => match segs.first() {
                    Some(Seg::Key(k)) => Some((k.clone(), *offset)),
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    /// Path expressions as dotted strings (`policy.grace.seconds`), for validation.
    pub fn paths(&self) -> Vec<(Vec<String>, usize)> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Expr(Expr {
                    head: Head::Path(segs),
                    offset,
                    ..
                }) => Some((
                    segs.iter()
                        .map(|s| match s {
                            Seg::Key(k) => k.clone(),
                            Seg::Index(i) => i.to_string(),
                        })
                        .collect(),
                    *offset,
                )),
                _ => None,
            })
            .collect()
    }

    /// Renders to a JSON value: a lone expression keeps its type, anything else is a string.
    pub fn render(&self, scope: &dyn Scope) -> Result<Value, RenderError> {
        if let [Part::Expr(e)] = self.parts.as_slice() {
            return eval(e, scope);
        }
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => out.push_str(s),
                Part::Expr(e) => out.push_str(&value_to_text(&eval(e, scope)?)),
            }
        }
        Ok(Value::String(out))
    }

    /// Renders to bytes: each literal part through `literal`, each expression as its text.
    pub fn render_bytes<E>(
        &self,
        scope: &dyn Scope,
        literal: impl Fn(&str) -> Result<Vec<u8>, E>,
    ) -> Result<Result<Vec<u8>, E>, RenderError> {
        let mut out = Vec::new();
        for p in &self.parts {
            match p {
                Part::Lit(s) => match literal(s) {
                    Ok(b) => out.extend(b),
                    Err(e) => return Ok(Err(e)),
                },
                Part::Expr(e) => out.extend(value_to_text(&eval(e, scope)?).into_bytes()),
            }
        }
        Ok(Ok(out))
    }

    /// The literal text between the expressions.
    pub fn literals(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Lit(s) => Some(s.as_str()),
            Part::Expr(_) => None,
        })
    }

    /// Renders to text.
    pub fn render_string(&self, scope: &dyn Scope) -> Result<String, RenderError> {
        Ok(value_to_text(&self.render(scope)?))
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.parts {
            match p {
                Part::Lit(s) => f.write_str(s)?,
                Part::Expr(_) => f.write_str("{{…}}")?,
            }
        }
        Ok(())
    }
}

/// Text of a value: strings raw, null empty, others as JSON.
pub fn value_to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn char_offset(text: &str, byte: usize) -> usize {
    text.get(..byte).map_or(0, |s| s.chars().count())
}

fn parse_expr(s: &str) -> Result<Expr, String> {
    if s.is_empty() {
        return Err("empty `{{ }}`: put a name inside, e.g. `{{ rt0 }}`".into());
    }
    let mut pieces = split_top(s, '|').into_iter();
    let head_src = pieces.next().unwrap_or_default();
    let head = parse_head(head_src.trim())?;
    let mut filters = Vec::new();
    for f in pieces {
        let (name, args) = parse_call(f.trim())?;
        if !FILTERS.contains(&name.as_str()) {
            let hint = crate::diagnostic::hint_for(&name, FILTERS);
            return Err(format!("unknown filter `{name}`: {hint}"));
        }
        filters.push((name, args));
    }
    Ok(Expr {
        head,
        filters,
        offset: 0,
    })
}

/// Splits on `sep` outside quotes and parentheses.
fn split_top(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quote: Option<char> = None;
    let mut depth = 0i32;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => depth -= 1,
            (None, c) if c == sep && depth == 0 => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

fn parse_head(s: &str) -> Result<Head, String> {
    if let Some(v) = parse_literal(s) {
        return Ok(Head::Literal(v));
    }
    if s.ends_with(')') {
        let (name, args) = parse_call(s)?;
        if !FUNCTIONS.contains(&name.as_str()) {
            let hint = crate::diagnostic::hint_for(&name, FUNCTIONS);
            return Err(format!("unknown function `{name}()`: {hint}"));
        }
        return Ok(Head::Call(name, args));
    }
    parse_path(s).map(Head::Path)
}

fn parse_literal(s: &str) -> Option<Value> {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        return Some(Value::String(s[1..s.len() - 1].to_owned()));
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    None
}

fn parse_call(s: &str) -> Result<(String, Vec<Value>), String> {
    let (name, args) = match s.find('(') {
        Some(i) => {
            let inner = s[i + 1..]
                .strip_suffix(')')
                .ok_or_else(|| format!("`{s}`: missing `)`"))?;
            let args = if inner.trim().is_empty() {
                Vec::new()
            } else {
                split_top(inner, ',')
                    .iter()
                    .map(|a| {
                        parse_literal(a.trim()).ok_or_else(|| {
                            format!("`{}`: arguments are quoted strings or integers", a.trim())
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?
            };
            (s[..i].trim().to_owned(), args)
        }
        None => (s.to_owned(), Vec::new()),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("`{s}` is not a name"));
    }
    Ok((name, args))
}

fn parse_path(s: &str) -> Result<Vec<Seg>, String> {
    let mut segs = Vec::new();
    let mut chars = s.char_indices().peekable();
    let mut cur = String::new();
    let bad = || {
        format!("`{s}` is not a name: use letters, digits, `_`, `-`, dots and [index] or ['key']")
    };
    while let Some((_, c)) = chars.next() {
        match c {
            '.' => {
                if cur.is_empty() && !matches!(segs.last(), Some(Seg::Index(_) | Seg::Key(_))) {
                    return Err(bad());
                }
                if !cur.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut cur)));
                }
            }
            '[' => {
                if !cur.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut cur)));
                }
                let mut inner = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    if c == ']' {
                        closed = true;
                        break;
                    }
                    inner.push(c);
                }
                if !closed {
                    return Err(bad());
                }
                match parse_literal(inner.trim()) {
                    Some(Value::String(k)) => segs.push(Seg::Key(k)),
                    Some(Value::Number(n)) => segs.push(Seg::Index(
                        n.as_u64()
                            .and_then(|n| usize::try_from(n).ok())
                            .ok_or_else(bad)?,
                    )),
                    _ => return Err(bad()),
                }
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' => cur.push(c),
            _ => return Err(bad()),
        }
    }
    if !cur.is_empty() {
        segs.push(Seg::Key(cur));
    }
    if segs.is_empty() {
        return Err(bad());
    }
    Ok(segs)
}

fn eval(e: &Expr, scope: &dyn Scope) -> Result<Value, RenderError> {
    let mut v = match &e.head {
        Head::Literal(v) => v.clone(),
        Head::Call(name, args) => call(name, args)?,
        Head::Path(segs) => lookup(segs, scope)?,
    };
    for (name, args) in &e.filters {
        v = filter(name, args, v)?;
    }
    Ok(v)
}

fn lookup(segs: &[Seg], scope: &dyn Scope) -> Result<Value, RenderError> {
    let Some(Seg::Key(root)) = segs.first() else {
        return Err(RenderError("a name must start with a key".into()));
    };
    let mut cur = scope
        .root(root)
        .ok_or_else(|| RenderError(format!("`{root}` is not defined")))?;
    let mut walked = root.clone();
    for seg in &segs[1..] {
        let next = match seg {
            Seg::Key(k) => {
                walked.push('.');
                walked.push_str(k);
                cur.get(k).cloned()
            }
            Seg::Index(i) => {
                walked.push_str(&format!("[{i}]"));
                cur.get(*i).cloned()
            }
        };
        cur = next.ok_or_else(|| RenderError(format!("`{walked}` is not defined")))?;
    }
    Ok(cur)
}

fn call(name: &str, args: &[Value]) -> Result<Value, RenderError> {
    match name {
        "uuid" => Ok(Value::String(uuid::Uuid::new_v4().to_string())),
        "now" => Ok(Value::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )),
        "random" => {
            let n = args.first().and_then(Value::as_u64).unwrap_or(32).min(4096);
            let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
            let s = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            Ok(Value::String(
                s.chars().take(usize::try_from(n).unwrap_or(32)).collect(),
            ))
        }
        other => Err(RenderError(format!("unknown function `{other}()`"))),
    }
}

fn filter(name: &str, args: &[Value], v: Value) -> Result<Value, RenderError> {
    let text = || value_to_text(&v);
    let int_arg = || {
        args.first()
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| RenderError(format!("`{name}` needs an integer argument")))
    };
    Ok(match name {
        "truncate" => Value::String(text().chars().take(int_arg()?).collect()),
        "drop_last" => {
            let t = text();
            let n = t.chars().count().saturating_sub(int_arg()?);
            Value::String(t.chars().take(n).collect())
        }
        // Flips the character at the given index to another base64url character: a tampered token.
        "replace_char" => {
            let i = int_arg()?;
            let mut chars: Vec<char> = text().chars().collect();
            if let Some(c) = chars.get_mut(i) {
                *c = if *c == 'A' { 'B' } else { 'A' };
            }
            Value::String(chars.into_iter().collect())
        }
        // Scope is a set of words in any order (RFC 6749 §3.3): reversing tests exactly that.
        "reverse_words" => Value::String(
            text()
                .split_whitespace()
                .rev()
                .collect::<Vec<_>>()
                .join(" "),
        ),
        // A lower bound for a value the server may round down, e.g. a remaining lifetime.
        "minus" => {
            let n = i64::try_from(int_arg()?).unwrap_or(i64::MAX);
            let x = v
                .as_i64()
                .or_else(|| text().trim().parse().ok())
                .ok_or_else(|| RenderError(format!("`minus` needs a number, got `{}`", text())))?;
            Value::from(x.saturating_sub(n))
        }
        // Parts of a lifetime for `wait`: `{{ policy.lifetimes.refresh_absolute | times(9) | div(10) }}`.
        "times" | "div" => {
            let n = int_arg()?;
            let x = v
                .as_f64()
                .or_else(|| text().trim().parse().ok())
                .ok_or_else(|| RenderError(format!("`{name}` needs a number, got `{}`", text())))?;
            if name == "div" && n == 0 {
                return Err(RenderError("`div(0)`: division by zero".into()));
            }
            let y = if name == "times" {
                x * n as f64
            } else {
                x / n as f64
            };
            // Whole numbers stay integers, so `{{ … | div(2) }}` of 10 is `5`, not `5.0`.
            if y.fract() == 0.0 && y.abs() < 9.0e15 {
                Value::from(y as i64)
            } else {
                Value::from(y)
            }
        }
        // One template for cells that differ in a flag, e.g. `client.public`: the first argument
        // when the value is `true`, else the second.
        "if" => {
            let [yes, no] = args else {
                return Err(RenderError("`if` needs two arguments".into()));
            };
            if v == Value::Bool(true) || text() == "true" {
                yes.clone()
            } else {
                no.clone()
            }
        }
        "upper" => Value::String(text().to_uppercase()),
        "lower" => Value::String(text().to_lowercase()),
        "urlencode" => Value::String(form_urlencoded::byte_serialize(text().as_bytes()).collect()),
        "base64url" => {
            Value::String(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text()))
        }
        "sha256_base64url" => Value::String(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(text())),
        ),
        "json" => Value::String(v.to_string()),
        "len" => Value::from(match &v {
            Value::Array(a) => a.len(),
            Value::Object(o) => o.len(),
            other => value_to_text(other).chars().count(),
        }),
        "default" => {
            if v.is_null() {
                args.first().cloned().unwrap_or(Value::Null)
            } else {
                v
            }
        }
        other => return Err(RenderError(format!("unknown filter `{other}`"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> serde_json::Map<String, Value> {
        json!({"rt0": "abcdef", "flag": true, "policy": {"grace": {"seconds": 5}}, "target": {"params": {"a.b": 1}}, "l": [1, 2]})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn lone_expression_keeps_type_and_mixed_renders_text() {
        let s = scope();
        let t = Template::parse("{{ policy.grace.seconds }}").expect("parses");
        assert_eq!(t.render(&s), Ok(json!(5)));
        let t = Template::parse("{{policy.grace.seconds}}s and {{ rt0 }}x").expect("parses");
        assert_eq!(t.render(&s), Ok(json!("5s and abcdefx")));
        let t = Template::parse("{{ target.params['a.b'] }} {{ l[1] }}").expect("parses");
        assert_eq!(t.render(&s), Ok(json!("1 2")));
    }

    #[test]
    fn filters_transform_values() {
        let s = scope();
        let r = |t: &str| Template::parse(t).expect("parses").render(&s);
        assert_eq!(r("{{ rt0 | truncate(3) }}"), Ok(json!("abc")));
        assert_eq!(r("{{ rt0 | drop_last(2) | upper }}"), Ok(json!("ABCD")));
        assert_eq!(r("{{ rt0 | len }}"), Ok(json!(6)));
        assert_eq!(r("{{ policy.grace.seconds | minus(2) }}"), Ok(json!(3)));
        assert!(r("{{ rt0 | minus(2) }}").is_err());
        assert_eq!(
            r("{{ policy.grace.seconds | times(9) | div(10) }}"),
            Ok(json!(4.5))
        );
        assert_eq!(
            r("{{ policy.grace.seconds | times(2) | div(5) }}"),
            Ok(json!(2))
        );
        assert!(r("{{ policy.grace.seconds | div(0) }}").is_err());
        assert_eq!(r("{{ flag | if(401, 400) }}"), Ok(json!(401)));
        assert_eq!(r("{{ rt0 | if('a', 'b') }}"), Ok(json!("b")));
        assert_eq!(r("{{ missing | default('x') }}").ok(), None);
        assert_eq!(r("{{ 'a b' | urlencode }}"), Ok(json!("a+b")));
    }

    #[test]
    fn syntax_and_lookup_errors_are_reported() {
        assert!(Template::parse("{{ rt0 ").is_err());
        assert!(Template::parse("{{ }}").is_err());
        let e = Template::parse("{{ rt0 | truncat(3) }}").expect_err("unknown filter");
        assert!(
            e.message.contains("did you mean `truncate`"),
            "{}",
            e.message
        );
        let e = Template::parse("x {{ uuid2() }}").expect_err("unknown fn");
        assert_eq!(e.offset, 2);
        let s = scope();
        let t = Template::parse("{{ policy.grace.secs }}").expect("parses");
        assert_eq!(
            t.render(&s),
            Err(RenderError("`policy.grace.secs` is not defined".into()))
        );
    }

    #[test]
    fn roots_lists_names_read() {
        let t = Template::parse("{{ a.b }}-{{ c | len }}-{{ uuid() }}").expect("parses");
        let roots: Vec<String> = t.roots().into_iter().map(|(r, _)| r).collect();
        assert_eq!(roots, ["a", "c"]);
    }
}
