//! Scenarios: the model, YAML loading with locations, and semantic validation.
//!
//! One file holds one rule. The format is documented key by key in `specs/README.md`.

pub mod builtin;
pub mod coverage;
pub(crate) mod decode;
#[cfg(test)]
mod documented;
pub mod emit;
pub mod escape;
pub mod load;
pub mod requirements;
mod validate;
pub(crate) mod values;
mod walk;

pub use load::{Catalogue, FileKind, LoadOptions, SpecSource, TargetFile, load, load_paths};

/// The semantic pass over a catalogue (also run by [`load_paths`]).
pub fn validate_catalogue(cat: &Catalogue) -> Vec<crate::diagnostic::Diagnostic> {
    validate::validate(cat)
}
pub use requirements::{Level, Requirement, Requirements};

use crate::template::Template;
use crate::yaml::{Loc, Source};
use serde_json::Value;
use std::time::Duration;

/// A string value that may contain `{{ … }}`, with where it was written.
#[derive(Debug, Clone)]
pub struct Tpl {
    /// The parsed template.
    pub template: Template,
    /// The YAML location of the value.
    pub loc: Loc,
    /// The raw text as written.
    pub raw: String,
}

/// A JSON-like value whose strings may be templates (predicate arguments, claims, vars).
#[derive(Debug, Clone)]
pub struct TplValue {
    /// The value as written; strings are rendered as templates at run time.
    pub value: Value,
    /// Where it was written.
    pub loc: Loc,
}

/// A requirement a scenario checks, with the level this scenario enforces it at.
#[derive(Debug, Clone)]
pub struct RequirementRef {
    /// Catalogue id, e.g. `RFC9700-4.14.2.d`.
    pub id: String,
    /// MUST, SHOULD or MAY.
    pub level: Level,
    /// Where the id was written.
    pub loc: Loc,
}

/// A capability name in `requires:`, `unless:` or `when:`.
#[derive(Debug, Clone)]
pub struct Gate {
    /// The capability (see [`crate::capability`]).
    pub name: String,
    /// Where it was written.
    pub loc: Loc,
}

/// One matrix dimension: a name and its values (`client: [confidential, public]`).
#[derive(Debug, Clone)]
pub struct Dimension {
    /// Dimension name (`client` selects the cell's client).
    pub name: String,
    /// The values, each with its location.
    pub values: Vec<(String, Loc)>,
}

/// A scenario: one rule, its requirements, gates, matrix and steps.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Dotted id, e.g. `rotation.old-token-rejected`.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Longer explanation.
    pub description: Option<String>,
    /// Requirements checked; the first is the default for predicates that name none.
    pub requirements: Vec<RequirementRef>,
    /// Free-form tags for `--filter tag:…`.
    pub tags: Vec<String>,
    /// Capabilities the target must have.
    pub requires: Vec<Gate>,
    /// Capabilities the target must not have.
    pub unless: Vec<Gate>,
    /// Matrix dimensions (cartesian product).
    pub matrix: Vec<Dimension>,
    /// Scenario variables.
    pub vars: Vec<(String, TplValue)>,
    /// Steps that prepare the scenario; their failure is an Error, not a Fail.
    pub setup: Vec<Step>,
    /// The checks.
    pub steps: Vec<Step>,
    /// Best-effort clean-up; failures there never fail the scenario.
    pub teardown: Vec<Step>,
    /// Reference-server flaws this scenario is expected to catch (negative controls).
    pub catches: Vec<(String, Loc)>,
    /// `prerequisite_for: { client: R }`: every other cell whose client is role `R` needs what
    /// this scenario checks, and is skipped, naming it, when it fails (see `runner::prerequisite`).
    pub prerequisite_for: Option<(String, Loc)>,
    /// The file.
    pub source: Source,
    /// Where the id (or the document) is.
    pub loc: Loc,
}

impl Scenario {
    /// Every matrix cell, the values in dimension order (one empty cell without a matrix).
    pub fn cells(&self) -> Vec<Vec<(String, String)>> {
        let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for d in &self.matrix {
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    d.values.iter().map(move |(v, _)| {
                        let mut c = c.clone();
                        c.push((d.name.clone(), v.clone()));
                        c
                    })
                })
                .collect();
        }
        combos
    }

    /// Whether the scenario lets time pass (a `wait`, here or in an included fixture).
    pub fn lets_time_pass(&self, cat: &Catalogue) -> bool {
        fn any(steps: &[Step], cat: &Catalogue, depth: u8) -> bool {
            steps.iter().any(|st| match &st.action {
                Action::Wait(_) => true,
                Action::Include(inc) if depth < 8 => cat
                    .fixtures
                    .get(&inc.name)
                    .is_some_and(|f| any(&f.steps, cat, depth + 1)),
                _ => false,
            })
        }
        any(&self.setup, cat, 0) || any(&self.steps, cat, 0) || any(&self.teardown, cat, 0)
    }
}

/// A cell's name as reports and deviations write it: `client=public,x=y`.
pub fn cell_name(values: &[(String, String)]) -> String {
    values
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A reusable sequence of steps (`specs/fixtures/*.yaml`), included with `include:`.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// Name used by `include:`.
    pub name: String,
    /// Parameters with defaults, bound as variables inside the fixture.
    pub params: Vec<(String, TplValue)>,
    /// The steps.
    pub steps: Vec<Step>,
    /// The file.
    pub source: Source,
}

/// One step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Short id for reports (defaults to the step's position).
    pub id: Option<String>,
    /// Human description.
    pub name: Option<String>,
    /// What the step does.
    pub action: Action,
    /// Run only when the target has all these capabilities (otherwise the step is skipped).
    pub when: Vec<Gate>,
    /// Skip when the target has any of these.
    pub unless: Vec<Gate>,
    /// Assertions on the response.
    pub expect: Option<Expect>,
    /// Values taken from the response.
    pub captures: Vec<Capture>,
    /// Retries (only on idempotent steps, never on a step that sends a refresh token).
    pub retry: Option<Retry>,
    /// The step has no side effects (introspection polling, metadata).
    pub idempotent: bool,
    /// The step's location (its first key).
    pub loc: Loc,
}

/// Retry policy for an idempotent step.
#[derive(Debug, Clone)]
pub struct Retry {
    /// Total attempts (including the first).
    pub attempts: u32,
    /// Pause between attempts.
    pub interval: Duration,
    /// Where it was written.
    pub loc: Loc,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send one HTTP request.
    Request(Box<RequestSpec>),
    /// Obtain a fresh token family with the target's bootstrap grant.
    Bootstrap(Box<BootstrapSpec>),
    /// One authorization request through the target's authorization mechanism.
    Authorize(Box<AuthorizeSpec>),
    /// Let time pass (virtual when the target has a test clock, else real time within
    /// `--max-wait`).
    Wait(Box<WaitSpec>),
    /// Send several requests at once, last-byte synchronised.
    Race(Box<RaceSpec>),
    /// Run a fixture's steps.
    Include(Box<IncludeSpec>),
}

/// How long a `wait` step lets time pass. The scalar form is `duration` alone; the mapping
/// form names a lifetime to get past (`past`) or to stay inside (`within`), so the runner can
/// add or subtract the margin its clock needs (see `runner::clock`).
#[derive(Debug, Clone)]
pub struct WaitSpec {
    /// `for`, or the scalar form: exactly this long (seconds or a duration).
    pub duration: Option<Tpl>,
    /// `past`: until a lifetime of this many seconds has surely run out (plus the margin).
    pub past: Option<Tpl>,
    /// `within`: lifetimes (seconds; null = unlimited) the wait must end safely inside (minus
    /// the margin); alone, wait as long as that allows.
    pub within: Vec<Tpl>,
    /// `since`: the id of an earlier step whose end the other values count from (default:
    /// the start of this wait).
    pub since: Option<Tpl>,
    /// Where the step's `wait` value is.
    pub loc: Loc,
}

impl WaitSpec {
    /// Every template of the wait.
    pub fn templates(&self) -> impl Iterator<Item = &Tpl> {
        self.duration
            .iter()
            .chain(&self.past)
            .chain(&self.within)
            .chain(&self.since)
    }
}

/// An HTTP request.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// Method (default POST).
    pub method: Option<Tpl>,
    /// Endpoint name from the target (`token`, `revocation`…).
    pub endpoint: Option<Tpl>,
    /// Or an absolute or base-relative URL.
    pub url: Option<Tpl>,
    /// Query parameters; several values repeat the parameter.
    pub query: Vec<(String, Vec<Tpl>)>,
    /// Form body parameters; several values repeat the parameter.
    pub form: Vec<(String, Vec<Tpl>)>,
    /// A raw body instead of a form.
    pub body: Option<Tpl>,
    /// A body of any bytes: percent-escaped literal text (see [`escape`]), templates inserted
    /// as they are. Instead of `form` and `body`.
    pub body_raw: Option<Tpl>,
    /// Request headers (a `content-type` here overrides the form's).
    pub headers: Vec<(String, Tpl)>,
    /// Client authentication the harness applies.
    pub client_auth: Option<ClientAuthSpec>,
    /// A DPoP proof the harness signs.
    pub dpop: Option<DpopSpec>,
    /// Per-request timeout.
    pub timeout: Option<Duration>,
    /// Where the request is.
    pub loc: Loc,
}

/// Client authentication for a request.
#[derive(Debug, Clone)]
pub struct ClientAuthSpec {
    /// Client role (key in the target's `clients`), or `none` for no authentication.
    pub client: Tpl,
    /// Override the client's registered method.
    pub method: Option<Tpl>,
    /// Also send `client_id` in the body (default: only where the method needs it).
    pub client_id: Option<Tpl>,
    /// Override the secret sent (e.g. a wrong one).
    pub secret: Option<Tpl>,
    /// Claims merged over a JWT assertion's defaults (`aud`, `exp`, …).
    pub claims: Vec<(String, TplValue)>,
    /// Header fields merged over the assertion's JOSE header.
    pub jwt_header: Vec<(String, TplValue)>,
    /// Where it was written.
    pub loc: Loc,
}

/// A DPoP proof to attach (RFC 9449).
#[derive(Debug, Clone)]
pub struct DpopSpec {
    /// Key name; keys are generated per scenario run (ES256).
    pub key: Tpl,
    /// Claims merged over the defaults (`htm`, `htu`, `iat`, `jti`, `nonce`…).
    pub claims: Vec<(String, TplValue)>,
    /// Header fields merged over the defaults (`typ`, `alg`, `jwk`).
    pub jwt_header: Vec<(String, TplValue)>,
    /// Where it was written.
    pub loc: Loc,
}

/// Bootstrap: a fresh token family from the target.
#[derive(Debug, Clone)]
pub struct BootstrapSpec {
    /// Client role (default: the matrix cell's client, else `confidential`).
    pub client: Option<Tpl>,
    /// Scope to ask for (default: the target's bootstrap scope).
    pub scope: Option<Tpl>,
    /// Override the bootstrap grant (`password`, `authorization_code`…).
    pub grant: Option<Tpl>,
    /// Bind to a DPoP key.
    pub dpop: Option<DpopSpec>,
    /// Extra parameters for the final token request.
    pub params: Vec<(String, Tpl)>,
    /// Where it was written.
    pub loc: Loc,
}

/// One authorization request (the code flow's first leg) through the target's mechanism: its
/// `command` hook, else unattended consent. Every absent key takes its default; an empty value
/// leaves the parameter out.
#[derive(Debug, Clone)]
pub struct AuthorizeSpec {
    /// Client role whose `client_id` and `redirect_uri` are the defaults (default: the cell's).
    pub client: Option<Tpl>,
    /// `client_id` instead of the role's.
    pub client_id: Option<Tpl>,
    /// `redirect_uri` instead of the role's.
    pub redirect_uri: Option<Tpl>,
    /// `scope` (default: the role's `scope`, else the target's).
    pub scope: Option<Tpl>,
    /// `state` (default: a fresh random value).
    pub state: Option<Tpl>,
    /// `nonce` (default: none).
    pub nonce: Option<Tpl>,
    /// PKCE `code_challenge` (default: none).
    pub code_challenge: Option<Tpl>,
    /// PKCE `code_challenge_method` (default: `S256` with a challenge).
    pub code_challenge_method: Option<Tpl>,
    /// Further authorization request parameters (a name may repeat).
    pub params: Vec<(String, Tpl)>,
    /// Where it was written.
    pub loc: Loc,
}

/// A race: requests sent together.
#[derive(Debug, Clone)]
pub struct RaceSpec {
    /// The requests; with `count`, copies of the single request.
    pub requests: Vec<RequestSpec>,
    /// Copies of each request.
    pub count: u32,
    /// Where it was written.
    pub loc: Loc,
}

/// Including a fixture.
#[derive(Debug, Clone)]
pub struct IncludeSpec {
    /// Fixture name.
    pub name: String,
    /// Parameter values.
    pub with: Vec<(String, TplValue)>,
    /// Where it was written.
    pub loc: Loc,
}

/// Assertions about a response (or, for races, the set of responses).
#[derive(Debug, Clone, Default)]
pub struct Expect {
    /// The HTTP status.
    pub status: Option<Check>,
    /// Headers by case-insensitive name.
    pub headers: Vec<(String, Check)>,
    /// JSON paths (RFC 9535) into the body.
    pub json: Vec<(JsonPath, Check)>,
    /// The raw body.
    pub body: Option<Check>,
    /// Race outcome assertions.
    pub race: Option<RaceExpect>,
}

/// Assertions over the set of race outcomes.
#[derive(Debug, Clone, Default)]
pub struct RaceExpect {
    /// Number of 2xx responses.
    pub successes: Option<Check>,
    /// Number of 5xx responses and dropped connections (never copies unanswered in time).
    pub server_errors: Option<Check>,
    /// Applied to every 2xx response.
    pub each_success: Option<Box<Expect>>,
    /// Applied to every non-2xx response.
    pub each_failure: Option<Box<Expect>>,
}

/// A compiled JSON path.
#[derive(Debug, Clone)]
pub struct JsonPath {
    /// As written.
    pub text: String,
    /// Compiled.
    pub path: serde_json_path::JsonPath,
    /// Where.
    pub loc: Loc,
}

/// Predicates on one value, with the requirement a failure breaks.
#[derive(Debug, Clone)]
pub struct Check {
    /// All must hold.
    pub predicates: Vec<Predicate>,
    /// Requirement id (default: the scenario's first).
    pub requirement: Option<(String, Loc)>,
    /// Level override.
    pub level: Option<Level>,
    /// Explanation shown on failure.
    pub message: Option<String>,
    /// An absent value passes: the predicates judge the value only when it is there (a member
    /// the server may leave out, RFC 6749 §5.1 `scope`).
    pub optional: bool,
    /// Where.
    pub loc: Loc,
}

/// One predicate and its argument.
#[derive(Debug, Clone)]
pub struct Predicate {
    /// Which test.
    pub op: Op,
    /// Its argument (may contain templates).
    pub arg: TplValue,
    /// A compiled regex for `matches` / `not_matches` with a literal pattern.
    pub regex: Option<regex::Regex>,
}

/// Predicate kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Equal (numbers compare numerically).
    Equals,
    /// Not equal.
    NotEquals,
    /// Equal ignoring ASCII case.
    EqualsCi,
    /// Equal to one of a list.
    OneOf,
    /// Equal to none of a list.
    NotOneOf,
    /// Present (true) or absent (false).
    Exists,
    /// Absent (true) or present (false).
    Absent,
    /// JSON type: string, number, integer, boolean, object, array, null.
    Type,
    /// Regex match.
    Matches,
    /// No regex match.
    NotMatches,
    /// Substring (string) or element (array).
    Contains,
    /// No substring / element.
    NotContains,
    /// String prefix.
    StartsWith,
    /// Greater than.
    Gt,
    /// Greater or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less or equal.
    Lte,
    /// Length (characters, elements) equals.
    Length,
    /// Space-separated word sets are equal (scope comparison, order-free).
    SameWords,
    /// Every word is in the argument's words.
    WordsSubsetOf,
    /// No word of the argument appears.
    WordsExclude,
}

impl Op {
    /// All predicates by YAML name.
    pub const ALL: &'static [(&'static str, Op)] = &[
        ("equals", Op::Equals),
        ("not_equals", Op::NotEquals),
        ("equals_ci", Op::EqualsCi),
        ("one_of", Op::OneOf),
        ("not_one_of", Op::NotOneOf),
        ("exists", Op::Exists),
        ("absent", Op::Absent),
        ("type", Op::Type),
        ("matches", Op::Matches),
        ("not_matches", Op::NotMatches),
        ("contains", Op::Contains),
        ("not_contains", Op::NotContains),
        ("starts_with", Op::StartsWith),
        ("gt", Op::Gt),
        ("gte", Op::Gte),
        ("lt", Op::Lt),
        ("lte", Op::Lte),
        ("length", Op::Length),
        ("same_words", Op::SameWords),
        ("words_subset_of", Op::WordsSubsetOf),
        ("words_exclude", Op::WordsExclude),
    ];

    /// The YAML name.
    pub fn name(self) -> &'static str {
        Op::ALL
            .iter()
            .find(|(_, o)| *o == self)
            .map_or("?", |(n, _)| n)
    }
}

/// A value taken from a response into a variable.
#[derive(Debug, Clone)]
pub struct Capture {
    /// Variable name.
    pub name: String,
    /// Where the value comes from.
    pub source: CaptureSource,
    /// Then take this query parameter of the value (a URL), e.g. `code` from `Location`.
    pub url_param: Option<String>,
    /// Then take the first group of this regex.
    pub regex: Option<regex::Regex>,
    /// The value is a secret: redacted everywhere.
    pub secret: bool,
    /// For races: take it from the first 2xx (`success`) or non-2xx (`failure`) response.
    pub from: Option<String>,
    /// The value when the response has none there (else the capture is an error): a member the
    /// server may leave out, e.g. `refresh_token` when it does not rotate (RFC 6749 §5.1).
    pub default: Option<Tpl>,
    /// Where.
    pub loc: Loc,
}

/// Capture sources.
#[derive(Debug, Clone)]
pub enum CaptureSource {
    /// A JSON path into the body.
    Json(JsonPath),
    /// A header (case-insensitive).
    Header(String),
    /// The status code.
    Status,
    /// The whole body.
    Body,
    /// A JWT claim in a JSON string at the path (`id_token` claims): `(path, claim)`.
    JwtClaim(JsonPath, String),
}

/// Everything a scenario step can read by name, known statically (for use-before-define checks).
pub fn builtin_roots() -> &'static [&'static str] {
    crate::template::NAMESPACES
}
