//! `specs/README.md` documents every key the decoders accept: each key list of the scenario and
//! profile decoders, every predicate, every policy key and preset must appear, written as
//! `` `key` ``, in the README section that documents it. A key added to a decoder without a
//! line of documentation fails here.

use crate::profile::decode as profile;
use crate::profile::vocabulary;
use crate::scenario::Op;
use crate::scenario::decode as scenario;

const README: &str = include_str!("../../specs/README.md");

/// The text of the section under `heading` (a whole line such as `## Steps`), up to the next
/// heading of the same or a higher level; `#` lines inside code blocks are not headings.
fn section(heading: &str) -> &'static str {
    let level = heading.chars().take_while(|c| *c == '#').count();
    let mut start = None;
    let mut fenced = false;
    let mut offset = 0;
    for line in README.split_inclusive('\n') {
        let text = line.trim_end();
        if text.starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            let hashes = text.chars().take_while(|c| *c == '#').count();
            let is_heading = hashes > 0 && text[hashes..].starts_with(' ');
            match start {
                None if text == heading => start = Some(offset + line.len()),
                Some(s) if is_heading && hashes <= level => return &README[s..offset],
                _ => {}
            }
        }
        offset += line.len();
    }
    match start {
        Some(s) => &README[s..],
        None => panic!("specs/README.md has no heading `{heading}`"),
    }
}

/// Every key list a decoder accepts, with the README section documenting it.
fn key_lists() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    let predicates: Vec<&str> = Op::ALL.iter().map(|(n, _)| *n).collect();
    let lists: [(&str, &str, &[&str]); 25] = [
        ("scenario", "## Top-level keys", scenario::SCENARIO_KEYS),
        (
            "prerequisite_for",
            "## `prerequisite_for`: one Fail, not an Error per cell",
            scenario::PREREQUISITE_KEYS,
        ),
        (
            "requirements[]",
            "## Requirements and levels",
            scenario::REQUIREMENT_KEYS,
        ),
        (
            "fixture",
            "## Fixtures: `include` and `with`",
            scenario::FIXTURE_KEYS,
        ),
        ("step", "## Steps", scenario::STEP_KEYS),
        ("step action", "## Steps", scenario::ACTIONS),
        ("request", "### `request`", scenario::REQUEST_KEYS),
        ("request endpoint", "### `request`", scenario::ENDPOINTS),
        (
            "client_auth",
            "### `client_auth`",
            scenario::CLIENT_AUTH_KEYS,
        ),
        (
            "client_auth method",
            "### `client_auth`",
            scenario::AUTH_METHODS,
        ),
        ("dpop", "### `dpop`", scenario::DPOP_KEYS),
        (
            "bootstrap step",
            "### `bootstrap`",
            scenario::BOOTSTRAP_KEYS,
        ),
        (
            "authorize step",
            "### `authorize`",
            scenario::AUTHORIZE_KEYS,
        ),
        ("race", "### `race`", scenario::RACE_KEYS),
        ("wait", "### `wait`", scenario::WAIT_KEYS),
        ("expect", "## `expect`", scenario::EXPECT_KEYS),
        ("predicate meta", "### Predicates", scenario::CHECK_META),
        ("capture", "## `capture`", scenario::CAPTURE_KEYS),
        ("retry", "## `retry` and `idempotent`", scenario::RETRY_KEYS),
        ("profile", "## Profile keys", profile::TOP_KEYS),
        ("profile endpoints", "## Profile keys", scenario::ENDPOINTS),
        ("clients.<role>", "## Clients", profile::CLIENT_KEYS),
        (
            "profile bootstrap",
            "## Bootstrap grants",
            profile::BOOTSTRAP_KEYS,
        ),
        ("device approve", "### `device_code`", profile::APPROVE_KEYS),
        ("deviations[]", "## Deviations", profile::DEVIATION_KEYS),
    ];
    let mut out: Vec<_> = lists
        .into_iter()
        .map(|(what, heading, keys)| (what, heading, keys.to_vec()))
        .collect();
    out.push(("predicate", "### Predicates", predicates));
    out.push((
        "scopes",
        "## Scope vocabulary and test user",
        vocabulary::SCOPE_KEYS.to_vec(),
    ));
    out.push((
        "test_user",
        "## Scope vocabulary and test user",
        vocabulary::TEST_USER_FIELDS.to_vec(),
    ));
    out.push(("secret", "## Secrets", profile::SECRET_KEYS.to_vec()));
    out.push((
        "base_url",
        "## Profile keys",
        profile::BASE_URL_KEYS.to_vec(),
    ));
    out.push((
        "bootstrap grant",
        "## Bootstrap grants",
        profile::GRANT_KEYS.iter().map(|(g, _)| *g).collect(),
    ));
    out.push((
        "capabilities",
        "## Capabilities: `add` and `remove`",
        profile::CAPABILITY_KEYS.to_vec(),
    ));
    out
}

#[test]
fn every_decoder_key_is_documented_in_its_section() {
    let mut missing = Vec::new();
    for (what, heading, keys) in key_lists() {
        let text = section(heading);
        for key in keys {
            // Written `name`, `name: X` (predicates) or `section.name` (scopes, test_user).
            let dotted = format!("`{what}.{key}`");
            if !text.contains(&format!("`{key}`"))
                && !text.contains(&format!("`{key}:"))
                && !text.contains(&dotted)
            {
                missing.push(format!("`{key}` ({what}) under `{heading}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "specs/README.md does not document:\n  {}",
        missing.join("\n  ")
    );
}

/// Every policy key (as the base preset serialises it) is in the policy table, and every preset
/// in the preset table.
#[test]
fn every_policy_key_and_preset_is_documented() {
    fn leaves(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match v.as_object() {
            Some(m) => {
                for (k, child) in m {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    leaves(child, &p, out);
                }
            }
            None => out.push(path.to_owned()),
        }
    }
    let text = section("## Policy");
    let base = tokencert_policy::Policy::preset("base").expect("base preset");
    let mut paths = Vec::new();
    leaves(
        &serde_json::to_value(&base).expect("serialises"),
        "",
        &mut paths,
    );
    assert!(paths.len() > 30, "policy keys: {paths:?}");
    let mut missing = Vec::new();
    for path in &paths {
        // Written `group.key`, or grouped as `group.{a, b}` / `group.a`, `group.b`.
        let (group, key) = path.rsplit_once('.').unwrap_or(("", path));
        let found = if group.is_empty() {
            text.contains(&format!("`{key}`"))
        } else {
            text.contains(&format!("`{path}`"))
                || text.contains(&format!("`{path},"))
                || text.lines().any(|l| {
                    l.contains(&format!("`{group}.{{"))
                        && l.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .any(|w| w == key)
                })
                || text.contains(&format!("`{group}.{key}`"))
        };
        if !found {
            missing.push(path.clone());
        }
    }
    if !text.contains("`preset`") {
        missing.push("preset (the key naming the preset)".into());
    }
    for preset in tokencert_policy::PRESET_NAMES {
        if !text.contains(&format!("| `{preset}` |")) {
            missing.push(format!("preset {preset}"));
        }
    }
    assert!(
        missing.is_empty(),
        "the policy section of specs/README.md does not document: {}",
        missing.join(", ")
    );
}

#[test]
fn section_stops_at_the_next_heading_and_ignores_code() {
    let steps = section("## Steps");
    assert!(steps.contains("### `request`"), "subsections belong to it");
    assert!(!steps.contains("## `expect`"));
    let device = section("### `device_code`");
    assert!(device.contains("command: ./scripts/approve-device.sh"));
    assert!(!device.contains("### `jwt_bearer`"));
}

/// The reference server's README lists every preset it ships.
#[test]
fn reference_server_readme_lists_every_preset() {
    const SERVER_README: &str = include_str!("../../reference-server/README.md");
    let missing: Vec<&str> = tokencert_policy::PRESET_NAMES
        .iter()
        .chain(&["base"])
        .copied()
        .filter(|p| !SERVER_README.contains(&format!("| `{p}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "reference-server/README.md lists no preset {}",
        missing.join(", ")
    );
}
