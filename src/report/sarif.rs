//! SARIF 2.1.0 writer (`report.sarif`), for code-scanning dashboards.
//!
//! [`Log`] is a small builder over the parts of SARIF this project uses: one run, a tool with its
//! rules, results with a physical (`file:line:col`) or logical (an endpoint) location and a
//! fingerprint that stays the same across runs, and notifications for what kept the tool from
//! judging. [`render_run`] maps a run report onto it, one result per root cause (see
//! [`super::root_causes`]); the black-box fuzzer builds its own log from its findings. Every log
//! validates against the OASIS schema (`tests/schemas/sarif-schema-2.1.0.json`, checked by
//! `tests/report_formats.rs`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::groups::root_causes;
use super::{Level, RunReport};

/// The schema URI written into every log.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// A result's or rule's severity in SARIF terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SarifLevel {
    /// A broken MUST, a crash.
    Error,
    /// A broken SHOULD.
    Warning,
    /// A MAY not met.
    Note,
}

impl From<Level> for SarifLevel {
    fn from(level: Level) -> SarifLevel {
        match level {
            Level::Must => SarifLevel::Error,
            Level::Should => SarifLevel::Warning,
            Level::May => SarifLevel::Note,
        }
    }
}

/// What a result or rule points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file position (1-based line and column when known).
    File {
        /// Path or URI of the file, relative to the repository root where possible.
        uri: String,
        /// Line, 1-based.
        line: Option<u32>,
        /// Column, 1-based.
        column: Option<u32>,
    },
    /// Something that is not a file: an endpoint, a parameter.
    Logical {
        /// Its name, e.g. `POST /token`.
        name: String,
        /// What kind of thing it is, e.g. `resource`, `parameter`.
        kind: String,
    },
}

impl Location {
    /// Parses `file:line:col`, `file:line` or a bare file name; `None` for an empty string.
    pub fn parse(location: &str) -> Option<Location> {
        if location.is_empty() {
            return None;
        }
        let number = |s: &str| s.parse::<u32>().ok().filter(|n| *n > 0);
        let file = |uri: &str, line, column| Location::File {
            uri: uri.to_owned(),
            line,
            column,
        };
        if let Some((head, last)) = location.rsplit_once(':')
            && let Some(last) = number(last)
        {
            if let Some((name, line)) = head.rsplit_once(':')
                && let Some(line) = number(line)
            {
                return Some(file(name, Some(line), Some(last)));
            }
            return Some(file(head, Some(last), None));
        }
        Some(file(location, None, None))
    }

    fn to_json(&self) -> Value {
        match self {
            Location::File { uri, line, column } => {
                let mut region = serde_json::Map::new();
                if let Some(l) = line {
                    region.insert("startLine".into(), json!(l));
                }
                if let Some(c) = column {
                    region.insert("startColumn".into(), json!(c));
                }
                let mut physical = json!({ "artifactLocation": { "uri": uri } });
                if !region.is_empty() {
                    physical["region"] = Value::Object(region);
                }
                json!({ "physicalLocation": physical })
            }
            Location::Logical { name, kind } => {
                json!({ "logicalLocations": [ { "name": name, "kind": kind } ] })
            }
        }
    }
}

/// A rule: what a result broke (a requirement, a fuzz oracle).
#[derive(Debug, Clone)]
pub struct Rule {
    /// Stable id, e.g. `RFC6749-5.1-no-store`.
    pub id: String,
    /// One line saying what the rule demands.
    pub description: String,
    /// Its default severity.
    pub level: SarifLevel,
    /// Extra facts (the requirement an oracle enforces, its level), the rule's property bag.
    pub properties: BTreeMap<String, Value>,
}

/// One finding.
#[derive(Debug, Clone)]
pub struct SarifResult {
    /// The rule it broke; added to the log's rules if missing.
    pub rule_id: String,
    /// Its severity.
    pub level: SarifLevel,
    /// What happened, plain text.
    pub message: String,
    /// Where; may be empty.
    pub locations: Vec<Location>,
    /// A value that stays the same for the same finding across runs (dashboards track findings
    /// by it); hashed before it is written.
    pub fingerprint: String,
    /// Extra facts (cells, counts), written as the result's property bag.
    pub properties: BTreeMap<String, Value>,
}

/// A SARIF log with one run.
#[derive(Debug, Clone)]
pub struct Log {
    tool: String,
    version: String,
    rules: Vec<Rule>,
    results: Vec<SarifResult>,
    notifications: Vec<(SarifLevel, String)>,
    execution_successful: bool,
    exit_code: Option<i32>,
    properties: BTreeMap<String, Value>,
}

impl Log {
    /// An empty log for `tool` at `version`.
    pub fn new(tool: &str, version: &str) -> Log {
        Log {
            tool: tool.to_owned(),
            version: version.to_owned(),
            rules: Vec::new(),
            results: Vec::new(),
            notifications: Vec::new(),
            execution_successful: true,
            exit_code: None,
            properties: BTreeMap::new(),
        }
    }

    /// Adds a rule (ignored if one with that id exists).
    pub fn rule(&mut self, rule: Rule) -> &mut Log {
        if !self.rules.iter().any(|r| r.id == rule.id) {
            self.rules.push(rule);
        }
        self
    }

    /// Adds a result; its rule is created from the message if the log has none by that id.
    pub fn result(&mut self, result: SarifResult) -> &mut Log {
        if !self.rules.iter().any(|r| r.id == result.rule_id) {
            self.rules.push(Rule {
                id: result.rule_id.clone(),
                description: result.rule_id.clone(),
                level: result.level,
                properties: BTreeMap::new(),
            });
        }
        self.results.push(result);
        self
    }

    /// Records something that kept the tool from judging (an error, a timeout).
    pub fn notification(&mut self, level: SarifLevel, message: &str) -> &mut Log {
        self.notifications.push((level, message.to_owned()));
        self
    }

    /// Records how the tool's execution ended.
    pub fn execution(&mut self, successful: bool, exit_code: Option<i32>) -> &mut Log {
        self.execution_successful = successful;
        self.exit_code = exit_code;
        self
    }

    /// Sets a run-level property.
    pub fn property(&mut self, name: &str, value: Value) -> &mut Log {
        self.properties.insert(name.to_owned(), value);
        self
    }

    /// The results added so far.
    pub fn results(&self) -> &[SarifResult] {
        &self.results
    }

    /// The log as pretty-printed JSON with a trailing newline.
    pub fn render(&self) -> String {
        let rules: Vec<Value> = self
            .rules
            .iter()
            .map(|r| {
                let mut v = json!({
                    "id": r.id,
                    "shortDescription": { "text": one_line(&r.description) },
                    "fullDescription": { "text": r.description },
                    "defaultConfiguration": { "level": r.level },
                });
                if !r.properties.is_empty() {
                    v["properties"] = json!(r.properties);
                }
                v
            })
            .collect();
        let results: Vec<Value> = self
            .results
            .iter()
            .map(|r| {
                let index = self.rules.iter().position(|x| x.id == r.rule_id);
                let mut v = json!({
                    "ruleId": r.rule_id,
                    "level": r.level,
                    "message": { "text": r.message },
                    "partialFingerprints": { "tokencertFinding/v1": fingerprint(&r.fingerprint) },
                });
                if let Some(i) = index {
                    v["ruleIndex"] = json!(i);
                }
                if !r.locations.is_empty() {
                    v["locations"] = r.locations.iter().map(Location::to_json).collect();
                }
                if !r.properties.is_empty() {
                    v["properties"] = json!(r.properties);
                }
                v
            })
            .collect();
        let mut invocation = json!({ "executionSuccessful": self.execution_successful });
        if let Some(code) = self.exit_code {
            invocation["exitCode"] = json!(code);
        }
        if !self.notifications.is_empty() {
            invocation["toolExecutionNotifications"] = self
                .notifications
                .iter()
                .map(|(level, text)| json!({ "level": level, "message": { "text": text } }))
                .collect();
        }
        let mut run = json!({
            "tool": { "driver": {
                "name": self.tool,
                "version": self.version,
                "rules": rules,
            } },
            "invocations": [invocation],
            "results": results,
        });
        if !self.properties.is_empty() {
            run["properties"] = json!(self.properties);
        }
        let log = json!({
            "$schema": SCHEMA_URI,
            "version": "2.1.0",
            "runs": [run],
        });
        let mut text = format!("{log:#}");
        text.push('\n');
        text
    }
}

/// The first line of `s` (SARIF's short descriptions are one line).
fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_owned()
}

/// A short stable hash of a fingerprint's text.
fn fingerprint(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The run's findings as a SARIF log: one result per root cause (the cells it covers in its
/// message and properties), rules from the requirements they broke, and errors, timeouts and
/// known deviations that passed as notifications.
pub fn render_run(report: &RunReport) -> String {
    let mut log = Log::new(&report.tool.name, &report.tool.version);
    for req in &report.requirements {
        let description = if req.text.is_empty() {
            req.id.clone()
        } else {
            req.text.clone()
        };
        log.rule(Rule {
            id: req.id.clone(),
            description,
            level: req.level.into(),
            properties: [
                ("level".to_owned(), json!(req.level.as_str())),
                ("spec".to_owned(), json!(req.spec)),
            ]
            .into(),
        });
    }
    for cause in root_causes(report) {
        let cells: Vec<String> = cause
            .members
            .iter()
            .filter_map(|i| report.results.get(*i))
            .map(super::ScenarioResult::name)
            .collect();
        match cause.finding {
            Some(f) => {
                let mut properties = BTreeMap::new();
                properties.insert("outcome".to_owned(), json!(cause.outcome.as_str()));
                properties.insert("cells".to_owned(), json!(cells));
                properties.insert("target".to_owned(), json!(report.target.name));
                log.result(SarifResult {
                    rule_id: f.requirement.clone(),
                    level: f.level.into(),
                    message: format!(
                        "[{} {}] {}: step {}: {} expected {}, observed {} ({} cell(s): {})",
                        f.requirement,
                        f.level,
                        report.target.name,
                        f.step,
                        f.subject,
                        f.expected,
                        f.observed,
                        cells.len(),
                        cells.join(", ")
                    ),
                    locations: Location::parse(&f.location).into_iter().collect(),
                    fingerprint: format!(
                        "{}\n{}\n{}\n{}\n{}",
                        report.target.name, f.requirement, f.location, f.subject, f.observed
                    ),
                    properties,
                });
            }
            None => {
                let reason = cause.reason.unwrap_or(cause.outcome.meaning());
                log.notification(
                    SarifLevel::Error,
                    &format!(
                        "{}: {reason} ({} cell(s): {})",
                        cause.outcome.label(),
                        cells.len(),
                        cells.join(", ")
                    ),
                );
            }
        }
    }
    log.execution(report.exit_code != 3, Some(report.exit_code));
    log.property("verdict", json!(report.headline()));
    log.property(
        "coverage",
        serde_json::to_value(&report.coverage).unwrap_or(Value::Null),
    );
    log.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::json::fixture::fixture;

    #[test]
    fn locations_parse() {
        assert_eq!(
            Location::parse("specs/a.yaml:12:9"),
            Some(Location::File {
                uri: "specs/a.yaml".into(),
                line: Some(12),
                column: Some(9)
            })
        );
        assert_eq!(
            Location::parse("specs/a.yaml:12"),
            Some(Location::File {
                uri: "specs/a.yaml".into(),
                line: Some(12),
                column: None
            })
        );
        assert_eq!(
            Location::parse("C:/x.yaml"),
            Some(Location::File {
                uri: "C:/x.yaml".into(),
                line: None,
                column: None
            })
        );
        assert_eq!(Location::parse(""), None);
    }

    #[test]
    fn run_findings_become_results() {
        let report = fixture();
        let text = render_run(&report);
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["version"], "2.1.0");
        let run = &v["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "tokencert");
        let results = run["results"].as_array().expect("results");
        // FAIL, WARN, INFO have findings; ERROR, TIMEOUT and XPASS are notifications.
        assert_eq!(results.len(), 3);
        assert_eq!(results[0]["level"], "error");
        assert_eq!(results[0]["ruleId"], "RFC6749-6-refresh");
        assert_eq!(
            results[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
            12
        );
        let rule = results[0]["ruleIndex"].as_u64().expect("index") as usize;
        assert_eq!(
            run["tool"]["driver"]["rules"][rule]["id"],
            "RFC6749-6-refresh"
        );
        assert_eq!(
            run["invocations"][0]["toolExecutionNotifications"]
                .as_array()
                .map(Vec::len),
            Some(3)
        );
        assert_eq!(run["properties"]["coverage"]["requirements_tested"], 3);
        // Fingerprints are stable: the same report gives the same text.
        assert_eq!(render_run(&report), text);
    }
}
