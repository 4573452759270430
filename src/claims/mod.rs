//! Claims: the standards a target says it conforms to, judged apart from its policy.
//!
//! A profile's `policy` says what the server does (its legitimate choices, which decide what the
//! scenarios expect); its `claims` say which standards it conforms to, which decide what is
//! required. What each standard forbids of a policy is data, `specs/claims.yaml`, compiled in:
//! [`ClaimsCatalogue::check`] turns a policy and its claims into [`Breach`]es, reported as rows
//! of their own (`policy.<key>`, [`rows`]); the scenarios a breached rule names then run as if
//! the server had made the choice the standard requires ([`Forced`]), their failures counted at
//! the rule's level, instead of skipping.

mod rows;
#[cfg(test)]
mod tests;

pub use rows::rows;

use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use tokencert_policy::{Level, Policy};

/// The catalogue shipped with tokencert.
pub const BUILTIN: &str = include_str!("../../specs/claims.yaml");

/// Where the catalogue lives, for findings' locations.
pub const FILE: &str = "specs/claims.yaml";

/// What a standard requires instead of a forbidden choice: the requirement and its level.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ByStandard {
    /// Catalogue id (`specs/requirements.yaml`).
    pub requirement: String,
    /// The level a breach is reported at.
    pub level: Level,
}

/// A condition on one policy key: a value it equals, or an operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
#[allow(clippy::large_enum_variant)] // built once per catalogue load: the size does not matter
pub enum Matcher {
    /// `{ not | in | above | has | lacks | has_any: … }`: every one given holds.
    Op(Box<Op>),
    /// The key equals this value (`null` for `~`).
    Equals(Value),
}

/// The operations of a [`Matcher`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Op {
    /// The value differs.
    #[serde(default)]
    pub not: Option<Value>,
    /// The value is one of these.
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<Value>>,
    /// A number greater than this.
    #[serde(default)]
    pub above: Option<f64>,
    /// A list containing this.
    #[serde(default)]
    pub has: Option<Value>,
    /// A list not containing this.
    #[serde(default)]
    pub lacks: Option<Value>,
    /// A list containing one of these.
    #[serde(default)]
    pub has_any: Option<Vec<Value>>,
}

/// One forbidden policy choice.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forbidden {
    /// The policy key the row is named after (`policy.<key>`).
    pub key: String,
    /// The choice: every condition holds.
    pub when: BTreeMap<String, Matcher>,
    /// Not forbidden when every one of these holds.
    #[serde(default)]
    pub unless: BTreeMap<String, Matcher>,
    /// The standards that forbid it.
    pub by: BTreeMap<String, ByStandard>,
    /// Why, in one line.
    pub why: String,
    /// Scenarios that check the rule: they run under a breach instead of skipping. An entry may
    /// name one cell: `id[client=public]`.
    #[serde(default)]
    pub scenarios: Vec<String>,
    /// Capabilities those scenarios are judged with (the required choice's).
    #[serde(default)]
    pub assume: Vec<String>,
    /// Capabilities those scenarios are judged without.
    #[serde(default)]
    pub refute: Vec<String>,
    /// A policy (`preset:` plus overrides) that breaks the rule, for the tests.
    pub example: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    standards: BTreeMap<String, String>,
    forbidden: Vec<Forbidden>,
}

/// The standards a profile may claim and what each forbids.
#[derive(Debug, Clone)]
pub struct ClaimsCatalogue {
    /// Standard name → title.
    pub standards: BTreeMap<String, String>,
    /// The rules, in file order.
    pub forbidden: Vec<Forbidden>,
    /// The 1-based line of each rule in its file.
    lines: Vec<usize>,
}

/// A claimed standard forbidding the target's policy choice.
#[derive(Debug, Clone)]
pub struct Breach {
    /// Index of the rule in [`ClaimsCatalogue::forbidden`].
    pub rule: usize,
    /// The claimed standard.
    pub standard: String,
    /// What it requires.
    pub by: ByStandard,
}

impl ClaimsCatalogue {
    /// The built-in catalogue (parsed once per process; its tests keep it valid).
    pub fn builtin() -> &'static ClaimsCatalogue {
        static PARSED: std::sync::LazyLock<ClaimsCatalogue> = std::sync::LazyLock::new(|| {
            ClaimsCatalogue::parse(BUILTIN).unwrap_or_else(|_| ClaimsCatalogue {
                standards: BTreeMap::new(),
                forbidden: Vec::new(),
                lines: Vec::new(),
            })
        });
        &PARSED
    }

    /// Parses a catalogue file; every rule's standards must be declared under `standards`.
    pub fn parse(text: &str) -> Result<ClaimsCatalogue, String> {
        let f: File = serde_saphyr::from_str(text).map_err(|e| e.to_string())?;
        for r in &f.forbidden {
            for s in r.by.keys() {
                if !f.standards.contains_key(s) {
                    return Err(format!(
                        "rule `{}` names `{s}`, which `standards` does not declare",
                        r.key
                    ));
                }
            }
        }
        let lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| l.starts_with("  - key:"))
            .map(|(i, _)| i + 1)
            .collect();
        Ok(ClaimsCatalogue {
            standards: f.standards,
            forbidden: f.forbidden,
            lines,
        })
    }

    /// Whether `name` is a standard a profile may claim.
    pub fn knows(&self, name: &str) -> bool {
        self.standards.contains_key(name)
    }

    /// `specs/claims.yaml:LINE` of rule `i`.
    pub fn location(&self, i: usize) -> String {
        match self.lines.get(i) {
            Some(l) => format!("{FILE}:{l}"),
            None => FILE.to_owned(),
        }
    }

    /// Every claimed standard's objection to `policy`, in rule order.
    pub fn check(&self, policy: &Policy, claims: &[String]) -> Vec<Breach> {
        let p = serde_json::to_value(policy).unwrap_or_default();
        let mut out = Vec::new();
        for (i, r) in self.forbidden.iter().enumerate() {
            if !r.applies(&p) {
                continue;
            }
            for (standard, by) in &r.by {
                if claims.iter().any(|c| c == standard) {
                    out.push(Breach {
                        rule: i,
                        standard: standard.clone(),
                        by: by.clone(),
                    });
                }
            }
        }
        out
    }

    /// How the breached rules change the judging of one cell (`scenario`, `cell` as in
    /// `client=public`).
    pub fn forced(&self, breaches: &[Breach], scenario: &str, cell: &str) -> Forced {
        let mut f = Forced::default();
        for b in breaches {
            let r = &self.forbidden[b.rule];
            if !r.scenarios.iter().any(|s| names_cell(s, scenario, cell)) {
                continue;
            }
            f.assume.extend(r.assume.iter().cloned());
            f.refute.extend(r.refute.iter().cloned());
            // Levels order strictest first: keep the strictest of the rules that force it.
            f.level = Some(f.level.map_or(b.by.level, |l| l.min(b.by.level)));
            let why = format!(
                "the claimed {} forbids policy `{}` ({} {})",
                b.standard, r.key, b.by.requirement, b.by.level
            );
            if !f.because.contains(&why) {
                f.because.push(why);
            }
        }
        f
    }

    /// What a skip for a policy choice (`keys`, the policy keys behind the missing or present
    /// capabilities) says about the claims: a skip is legitimate only when every claimed
    /// standard allows the choice.
    pub fn skip_note(&self, keys: &[&str], claims: &[String], breaches: &[Breach]) -> String {
        if claims.is_empty() {
            return "no standard claimed".into();
        }
        let forbidding: Vec<String> = breaches
            .iter()
            .filter(|b| keys.contains(&self.forbidden[b.rule].key.as_str()))
            .map(|b| {
                format!(
                    "{} forbids it where it applies (policy.{})",
                    b.standard, self.forbidden[b.rule].key
                )
            })
            .collect();
        if forbidding.is_empty() {
            format!("allowed by every claimed standard: {}", claims.join(", "))
        } else {
            let mut uniq: Vec<String> = Vec::new();
            for f in forbidding {
                if !uniq.contains(&f) {
                    uniq.push(f);
                }
            }
            uniq.join("; ")
        }
    }
}

impl Forbidden {
    /// Whether a policy (as JSON) makes this choice.
    pub fn applies(&self, policy: &Value) -> bool {
        let holds = |conds: &BTreeMap<String, Matcher>| {
            conds
                .iter()
                .all(|(k, m)| m.matches(lookup(policy, k).unwrap_or(&Value::Null)))
        };
        holds(&self.when) && (self.unless.is_empty() || !holds(&self.unless))
    }

    /// The rule's `example`: a policy that breaks it (`preset:` plus overrides).
    pub fn example_policy(&self) -> Result<Policy, String> {
        let mut overrides = self.example.clone();
        let preset = match overrides.as_object_mut().and_then(|m| m.remove("preset")) {
            Some(Value::String(p)) => p,
            _ => return Err(format!("rule `{}`: `example` needs a `preset`", self.key)),
        };
        Policy::resolve(&preset, &overrides).map_err(|e| format!("rule `{}`: {e}", self.key))
    }

    /// The policy's values of the keys the rule reads: `rotation = "never", …`.
    pub fn observed(&self, policy: &Value) -> String {
        self.when
            .keys()
            .chain(self.unless.keys())
            .map(|k| {
                let v = lookup(policy, k).cloned().unwrap_or(Value::Null);
                format!("{k} = {v}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Matcher {
    /// Whether `v` meets the condition.
    pub fn matches(&self, v: &Value) -> bool {
        match self {
            Matcher::Equals(want) => v == want,
            Matcher::Op(op) => {
                let list = v.as_array();
                let contains = |x: &Value| list.is_some_and(|l| l.contains(x));
                op.not.as_ref().is_none_or(|n| v != n)
                    && op.one_of.as_ref().is_none_or(|l| l.contains(v))
                    && op.above.is_none_or(|a| v.as_f64().is_some_and(|n| n > a))
                    && op.has.as_ref().is_none_or(contains)
                    && op
                        .lacks
                        .as_ref()
                        .is_none_or(|x| list.is_some() && !contains(x))
                    && op.has_any.as_ref().is_none_or(|xs| xs.iter().any(contains))
            }
        }
    }
}

/// The value at a dotted key of a policy's JSON.
pub fn lookup<'a>(policy: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(policy, |v, part| v.get(part))
}

/// Whether a rule's scenario entry (`id` or `id[cell]`) names this cell.
fn names_cell(entry: &str, scenario: &str, cell: &str) -> bool {
    match entry.split_once('[') {
        Some((id, rest)) => id == scenario && rest.strip_suffix(']') == Some(cell),
        None => entry == scenario,
    }
}

/// How claims change the judging of one cell: capabilities it is judged with or without, the
/// level its failures count at, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forced {
    /// Capabilities treated as present.
    pub assume: BTreeSet<String>,
    /// Capabilities treated as absent.
    pub refute: BTreeSet<String>,
    /// The strictest level of the rules that force the cell (its failures count at most this).
    pub level: Option<Level>,
    /// One line per rule that forces it.
    pub because: Vec<String>,
}

impl Forced {
    /// Whether nothing is forced.
    pub fn is_empty(&self) -> bool {
        self.level.is_none()
    }

    /// The capability as the cell sees it: `Some` when the claims decide it.
    pub fn decides(&self, capability: &str) -> Option<bool> {
        if self.refute.contains(capability) {
            Some(false)
        } else if self.assume.contains(capability) {
            Some(true)
        } else {
            None
        }
    }
}
