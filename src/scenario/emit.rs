//! The scenario format as data to write: the subset reproducers use (`tokencert prop` and
//! `tokencert fuzz` findings), serialized with serde-saphyr so quoting is the YAML crate's job,
//! not hand-written. Decoding goes the other way through `decode.rs`; `tests` here check that
//! what is written decodes back.

use serde::Serialize;
use serde::ser::{SerializeMap as _, Serializer};
use serde_json::Value;
use serde_saphyr::{FlowMap, FlowSeq};

/// A scenario file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScenarioDoc {
    /// Comment lines written above the document (without `# `).
    #[serde(skip)]
    pub comments: Vec<String>,
    /// The id (default: the file's path under `specs/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Title.
    pub title: String,
    /// Requirements checked, each `{ id, level }`.
    pub requirements: Vec<FlowMap<RequirementDoc>>,
    /// Tags.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "flow")]
    pub tags: Vec<String>,
    /// Capabilities the target must have.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "flow")]
    pub requires: Vec<String>,
    /// Capabilities the target must not have.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "flow")]
    pub unless: Vec<String>,
    /// Flaws of the reference server this scenario catches.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "flow")]
    pub catches: Vec<String>,
    /// Setup steps.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<StepDoc>,
    /// Steps.
    pub steps: Vec<StepDoc>,
}

fn flow<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
    FlowSeq(v).serialize(s)
}

/// `{ id: RFC6749-6.a, level: MUST }`.
#[derive(Debug, Clone, Serialize)]
pub struct RequirementDoc {
    /// Catalogue id.
    pub id: String,
    /// `MUST`, `SHOULD` or `MAY`.
    pub level: String,
}

impl RequirementDoc {
    /// A MUST-level requirement.
    pub fn must(id: &str) -> FlowMap<RequirementDoc> {
        RequirementDoc::at(id, "MUST")
    }

    /// A requirement at `level` (`MUST`, `SHOULD`, `MAY`).
    pub fn at(id: &str, level: &str) -> FlowMap<RequirementDoc> {
        FlowMap(RequirementDoc {
            id: id.to_owned(),
            level: level.to_owned(),
        })
    }
}

/// One step: an action, what to expect of it, what to capture.
#[derive(Debug, Clone, Serialize)]
pub struct StepDoc {
    /// Step id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Safe to repeat (`idempotent: true`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub idempotent: bool,
    /// The action.
    #[serde(flatten)]
    pub action: ActionDoc,
    /// Checks on the answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<ExpectDoc>,
    /// Captures from the answer, in order.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ordered_map")]
    pub capture: Vec<(String, FlowMap<CaptureDoc>)>,
}

impl StepDoc {
    /// A step doing `action`, nothing expected or captured.
    pub fn new(id: Option<String>, action: ActionDoc) -> StepDoc {
        StepDoc {
            id,
            idempotent: false,
            action,
            expect: None,
            capture: Vec::new(),
        }
    }
}

/// Exactly one action per step.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionDoc {
    /// `bootstrap: <role>`, or the cell's client for `None`.
    Bootstrap(Option<String>),
    /// `request: { … }`.
    Request(RequestDoc),
    /// `race: { count, request }`.
    Race(RaceDoc),
    /// `wait: <seconds or template>`.
    Wait(Value),
}

/// A request.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RequestDoc {
    /// Method (default POST).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Endpoint name.
    pub endpoint: String,
    /// Client authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_auth: Option<ClientAuthDoc>,
    /// Query parameters (a repeated one is a list).
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "multi_map")]
    pub query: Vec<(String, String)>,
    /// Headers (a repeated one is a list).
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "multi_map")]
    pub headers: Vec<(String, String)>,
    /// Form parameters (a repeated one is a list).
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "multi_map")]
    pub form: Vec<(String, String)>,
    /// A text body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// A body of any bytes, percent-escaped (see [`super::escape`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_raw: Option<String>,
}

/// `client_auth:` — a role, or a role with overrides.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ClientAuthDoc {
    /// The role's registered method.
    Role(String),
    /// `{ client, method, secret }`.
    With(FlowMap<ClientAuthWith>),
}

/// Client authentication overrides.
#[derive(Debug, Clone, Serialize)]
pub struct ClientAuthWith {
    /// Client role.
    pub client: String,
    /// Method instead of the registered one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Secret instead of the registered one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// JOSE header members of a client assertion (`alg: none`, say).
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub header: serde_json::Map<String, Value>,
}

/// `race:` with copies of one request.
#[derive(Debug, Clone, Serialize)]
pub struct RaceDoc {
    /// Copies sent at once.
    pub count: u32,
    /// The request.
    pub request: RequestDoc,
}

/// `expect:`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExpectDoc {
    /// Status check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusDoc>,
    /// Header checks, by name.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ordered_map")]
    pub headers: Vec<(String, FlowMap<CheckDoc>)>,
    /// JSON path checks.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "ordered_map")]
    pub json: Vec<(String, FlowMap<CheckDoc>)>,
    /// A check on the raw body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<FlowMap<CheckDoc>>,
    /// Race: number of 2xx answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub successes: Option<FlowMap<CheckDoc>>,
    /// Race: number of 5xx answers or dropped connections (not copies unanswered in time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_errors: Option<u32>,
    /// Race: checks on every 2xx answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub each_success: Option<Box<ExpectDoc>>,
}

/// `status:` — one of a list, or a check.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum StatusDoc {
    /// `[400, 401]`.
    OneOf(FlowSeq<Vec<u16>>),
    /// `{ gte: 400, lt: 500 }`.
    Check(Box<FlowMap<CheckDoc>>),
}

impl StatusDoc {
    /// A status check built by `f`.
    pub fn check(f: impl FnOnce(&mut CheckDoc)) -> Option<StatusDoc> {
        Some(StatusDoc::Check(Box::new(CheckDoc::flow(f))))
    }
}

/// A predicate with its requirement metadata; only the set fields are written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckDoc {
    /// Equal to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equals: Option<Value>,
    /// Equal to one of these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_of: Option<FlowSeq<Vec<Value>>>,
    /// Equal to none of these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_one_of: Option<FlowSeq<Vec<Value>>>,
    /// Present (`true`) or absent (`false`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
    /// At least.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gte: Option<u64>,
    /// Below.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lt: Option<u64>,
    /// Absent (`true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub absent: Option<bool>,
    /// Contains the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// Contains none of the texts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_contains: Option<String>,
    /// Matches the regex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matches: Option<String>,
    /// The same space-separated words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_words: Option<String>,
    /// Words all among these.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words_subset_of: Option<String>,
    /// An absent value passes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    /// The requirement a failure breaks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirement: Option<String>,
    /// The failure message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl CheckDoc {
    /// Sets the requirement and (if not empty) the message.
    pub fn judge(&mut self, requirement: &str, message: &str) {
        self.requirement = Some(requirement.to_owned());
        if !message.is_empty() {
            self.message = Some(message.to_owned());
        }
    }

    /// A check built by `f`, for flow style.
    pub fn flow(f: impl FnOnce(&mut CheckDoc)) -> FlowMap<CheckDoc> {
        let mut c = CheckDoc::default();
        f(&mut c);
        FlowMap(c)
    }
}

/// A capture: where the value comes from.
#[derive(Debug, Clone, Serialize)]
pub struct CaptureDoc {
    /// JSON path.
    pub json: String,
    /// After a race: `success` or `failure`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Redacted in reports.
    pub secret: bool,
}

impl CaptureDoc {
    /// A secret captured from a JSON path.
    pub fn secret_json(path: &str) -> FlowMap<CaptureDoc> {
        FlowMap(CaptureDoc {
            json: path.to_owned(),
            from: None,
            secret: true,
        })
    }
}

/// Pairs as a mapping, in order.
fn ordered_map<S: Serializer, V: Serialize>(v: &[(String, V)], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(v.len()))?;
    for (k, val) in v {
        m.serialize_entry(k, val)?;
    }
    m.end()
}

/// Pairs as a mapping in first-seen order; a repeated name becomes a list of its values.
fn multi_map<S: Serializer>(v: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    let mut names: Vec<&str> = Vec::new();
    for (k, _) in v {
        if !names.contains(&k.as_str()) {
            names.push(k);
        }
    }
    let mut m = s.serialize_map(Some(names.len()))?;
    for n in names {
        let values: Vec<&str> = v
            .iter()
            .filter(|(k, _)| k == n)
            .map(|(_, val)| val.as_str())
            .collect();
        match values.as_slice() {
            [one] => m.serialize_entry(n, one)?,
            _ => m.serialize_entry(n, &FlowSeq(values))?,
        }
    }
    m.end()
}

impl ScenarioDoc {
    /// The file text: the comments, then the YAML.
    pub fn to_yaml(&self) -> Result<String, String> {
        let mut out = String::new();
        for c in &self.comments {
            for line in c.lines() {
                out.push_str(format!("# {line}").trim_end_matches(' '));
                out.push('\n');
            }
        }
        let mut opts = serde_saphyr::SerializerOptions::default();
        // Lists under a key indented, as the hand-written specs are; one line per scalar.
        opts.compact_list_indent = false;
        opts.prefer_block_scalars = false;
        out.push_str(
            &serde_saphyr::to_string_with_options(self, opts)
                .map_err(|e| format!("cannot write the scenario: {e}"))?,
        );
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
mod tests {
    use super::*;

    #[test]
    fn writes_a_scenario_the_decoder_reads_back() {
        let mut req = StepDoc::new(
            Some("s1".into()),
            ActionDoc::Request(RequestDoc {
                method: Some("POST".into()),
                endpoint: "token".into(),
                client_auth: Some(ClientAuthDoc::Role("confidential".into())),
                headers: vec![
                    ("X-Dup".into(), "a: b".into()),
                    ("X-Dup".into(), "'quoted' \"both\"".into()),
                ],
                form: vec![
                    ("grant_type".into(), "refresh_token".into()),
                    ("refresh_token".into(), "{{ rt0 }}".into()),
                    ("scope".into(), "yes".into()),
                    ("n".into(), "200".into()),
                ],
                ..RequestDoc::default()
            }),
        );
        req.expect = Some(ExpectDoc {
            status: StatusDoc::check(|c| {
                c.equals = Some(200.into());
                c.judge("RFC6749-6.a", "it said: \"no\" # not a comment");
            }),
            json: vec![(
                "$.access_token".into(),
                FlowMap(CheckDoc {
                    absent: Some(true),
                    ..CheckDoc::default()
                }),
            )],
            ..ExpectDoc::default()
        });
        req.capture = vec![("rt1".into(), CaptureDoc::secret_json("$.refresh_token"))];
        let mut boot = StepDoc::new(None, ActionDoc::Bootstrap(Some("confidential".into())));
        boot.capture = vec![("rt0".into(), CaptureDoc::secret_json("$.refresh_token"))];
        let doc = ScenarioDoc {
            comments: vec!["first\nsecond".into()],
            title: "t: with colon".into(),
            requirements: vec![RequirementDoc::must("RFC6749-6.a")],
            tags: vec!["prop".into()],
            requires: vec!["grant.refresh_token".into()],
            setup: vec![boot],
            steps: vec![req, StepDoc::new(None, ActionDoc::Wait(5.into()))],
            ..ScenarioDoc::default()
        };
        let text = doc.to_yaml().unwrap();
        assert!(text.starts_with("# first\n# second\ntitle:"), "{text}");
        let s = crate::scenario::load::scenario_from_str("emitted.yaml", &text)
            .unwrap_or_else(|d| panic!("{text}\n{}", d[0].render()));
        assert_eq!(s.title, "t: with colon");
        assert_eq!(s.setup.len(), 1);
        assert_eq!(s.steps.len(), 2);
        let crate::scenario::Action::Request(r) = &s.steps[0].action else {
            panic!("{text}")
        };
        let form: Vec<(&str, Vec<&str>)> = r
            .form
            .iter()
            .map(|(k, vs)| (k.as_str(), vs.iter().map(|t| t.raw.as_str()).collect()))
            .collect();
        assert_eq!(
            form,
            [
                ("grant_type", vec!["refresh_token"]),
                ("refresh_token", vec!["{{ rt0 }}"]),
                ("scope", vec!["yes"]),
                ("n", vec!["200"]),
            ]
        );
        let dup: Vec<&str> = r.headers.iter().map(|(_, t)| t.raw.as_str()).collect();
        assert_eq!(dup, ["a: b", "'quoted' \"both\""]);
    }
}
