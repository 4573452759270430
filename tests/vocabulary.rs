//! The catalogue is portable: no scenario or fixture names a value of the reference server's
//! configuration, and every scenario that reads an optional part of the target's vocabulary gates
//! on it (so a profile without it skips the scenario instead of failing or erroring).
//!
//! Checked: every file under `specs/` except the example target profiles (`specs/targets/`,
//! which are profiles, not scenarios) and the requirement catalogue (`specs/requirements.yaml`,
//! quotations of the specifications).
//!
//! - **Anywhere**, comments and prose included: the reference server's client ids and secrets,
//!   test user names and passwords, redirect URIs, trusted issuers, endpoint paths (except the
//!   RFC 8414 well-known path), and its scope words other than the standard OpenID Connect ones.
//! - **Outside prose and labels** (`title`, `description`, `name`, `message`, `reason`, `tags`)
//!   and comments: the
//!   standard OpenID Connect scope words too (`openid`, `offline_access`, `profile`, `email`,
//!   `address`, `phone`): a request or expectation names them through `{{ scopes.* }}`.

use reference_server::policy::Policy;
use reference_server::{Config, Description};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use tokencert::scenario::{Catalogue, LoadOptions, load_paths};
use tokencert::yaml::{self, Kind, Node};

/// OpenID Connect Core §5.4 and §11: scope words any OIDC server knows.
const STANDARD_SCOPE_WORDS: &[&str] = &[
    "openid",
    "offline_access",
    "profile",
    "email",
    "address",
    "phone",
];
/// Keys whose string values are for people (prose) or labels, never sent to a server.
const PROSE_KEYS: &[&str] = &["title", "description", "name", "message", "reason", "tags"];
/// RFC 8414 §3: a standard path, not the reference server's choice.
const STANDARD_PATHS: &[&str] = &["/.well-known/oauth-authorization-server"];

fn specs_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("specs")
}

/// The reference server's description, as `tokencert serve --print-config` prints it, and the
/// embedded profile's endpoints (which add its test-control minting path).
fn reference_configuration() -> (Description, Vec<String>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let config = Config::new(Policy::preset("rfc9700").expect("preset"));
        let running = reference_server::spawn(config).await.expect("server");
        let d = running.description().clone();
        let target = tokencert::profile::embedded::target(&running).expect("target");
        let endpoints = target.endpoints.values().map(|u| u.to_string()).collect();
        running.shutdown().await;
        (d, endpoints)
    })
}

/// The literals that may appear nowhere, and the scope words that may appear only in prose.
fn literals() -> (BTreeSet<String>, BTreeSet<String>) {
    let (d, endpoints) = reference_configuration();
    let mut strict = BTreeSet::new();
    let mut scope_words = BTreeSet::new();
    for c in &d.clients {
        strict.insert(c.id.clone());
        strict.extend(c.secret.clone());
        strict.extend(c.redirect_uris.iter().cloned());
        for w in c
            .scope
            .split_whitespace()
            .chain(c.default_scope.split_whitespace())
        {
            scope_words.insert(w.to_owned());
        }
    }
    for u in &d.users {
        strict.insert(u.username.clone());
        strict.insert(u.password.clone());
    }
    for i in &d.trusted_issuers {
        strict.insert(i.issuer.clone());
    }
    let e = &d.endpoints;
    let urls = [
        &e.token,
        &e.authorize,
        &e.revocation,
        &e.introspection,
        &e.device_authorization,
        &e.device_approve,
        &e.jwks,
        &e.metadata,
    ]
    .into_iter()
    .cloned()
    .chain(e.test_clock.clone())
    .chain(e.test_clock_advance.clone())
    .chain(endpoints);
    for u in urls {
        let path = url::Url::parse(&u).expect("endpoint url").path().to_owned();
        if !STANDARD_PATHS.contains(&path.as_str()) && path != "/" {
            strict.insert(path);
        }
    }
    let (standard, own): (BTreeSet<String>, BTreeSet<String>) = scope_words
        .into_iter()
        .partition(|w| STANDARD_SCOPE_WORDS.contains(&w.as_str()));
    strict.extend(own);
    (strict, standard)
}

/// Characters that continue a token: a literal inside a longer token is another word.
fn continues(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '.')
}

/// Where `needle` occurs in `hay` as a whole token.
fn find_token(hay: &str, needle: &str) -> Option<usize> {
    hay.match_indices(needle).map(|(i, _)| i).find(|&i| {
        let before = hay[..i].chars().next_back();
        let after = hay[i + needle.len()..].chars().next();
        let edge_ok = |c: Option<char>, own: Option<char>| {
            // A literal that starts (or ends) with punctuation already bounds itself, except a
            // path: after a host (`https://other.example/token`) it is another server's path.
            c.is_none_or(|c| !continues(c)) || own.is_some_and(|o| !continues(o) && o != '/')
        };
        edge_ok(before, needle.chars().next()) && edge_ok(after, needle.chars().next_back())
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset].matches('\n').count() + 1
}

/// Every string value outside prose keys, with its line.
fn protocol_strings(node: &Node, prose: bool, out: &mut Vec<(u32, String)>) {
    match &node.kind {
        Kind::Str(s) if !prose => out.push((node.loc.line, s.clone())),
        Kind::Seq(items) => items.iter().for_each(|i| protocol_strings(i, prose, out)),
        Kind::Map(entries) => {
            for (k, v) in entries {
                protocol_strings(v, prose || PROSE_KEYS.contains(&k.name.as_str()), out);
            }
        }
        _ => {}
    }
}

fn checked_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read specs")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "targets") {
                checked_files(&p, out);
            }
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml")
            && p.file_name().is_some_and(|n| n != "requirements.yaml")
        {
            out.push(p);
        }
    }
}

/// The violations in one file's text.
fn violations(
    display: &str,
    text: &str,
    strict: &BTreeSet<String>,
    standard: &BTreeSet<String>,
) -> Vec<String> {
    let mut found = Vec::new();
    for lit in strict {
        if let Some(i) = find_token(text, lit) {
            found.push(format!(
                "{display}:{}: `{lit}` is a value of the reference server's configuration",
                line_of(text, i)
            ));
        }
    }
    let tree = yaml::parse(text).unwrap_or_else(|e| panic!("{display}: {}", e.message));
    let mut values = Vec::new();
    protocol_strings(&tree, false, &mut values);
    for (line, v) in values {
        for w in standard {
            if find_token(&v, w).is_some() {
                found.push(format!(
                    "{display}:{line}: the scope word `{w}` in a request or expectation (use `{{{{ scopes.… }}}}`)"
                ));
            }
        }
    }
    found
}

#[test]
fn no_scenario_or_fixture_names_a_value_of_the_reference_server() {
    let (strict, standard) = literals();
    assert!(
        strict.len() > 20 && strict.iter().any(|l| l.contains(':')) && !standard.is_empty(),
        "the reference server's configuration yielded too few literals: {strict:?}"
    );
    let root = specs_root();
    let mut files = Vec::new();
    checked_files(&root, &mut files);
    assert!(files.len() > 150, "only {} files under specs/", files.len());
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let display = f.strip_prefix(&root).unwrap_or(f).display().to_string();
        found.extend(violations(&display, &text, &strict, &standard));
    }
    assert!(
        found.is_empty(),
        "{} literal(s) of the reference server in the catalogue (read them from the target's vocabulary: scopes.*, test_user.*, clients.*, target.endpoints.*):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_literal_check_finds_what_it_should_and_nothing_else() {
    let (strict, standard) = literals();
    let user = strict
        .iter()
        .find(|l| l.chars().all(|c| c.is_ascii_lowercase()))
        .expect("a plain literal (a user name)")
        .clone();
    let planted = format!(
        "title: about openid and {w}\n# a comment on openid\nsteps:\n  - request:\n      form: {{ username: {user}, scope: \"x openid\" }}\n    expect:\n      json: {{ $.a: {{ equals: x, message: no openid }} }}\n",
        w = "offline_access"
    );
    let v = violations("t.yaml", &planted, &strict, &standard);
    assert_eq!(v.len(), 2, "{v:?}");
    assert!(v[0].contains(&format!("`{user}`")) && v[0].starts_with("t.yaml:5:"));
    assert!(v[1].contains("`openid`") && v[1].starts_with("t.yaml:5:"));
    // Inside longer tokens a literal is another word.
    let path = strict
        .iter()
        .find(|l| l.starts_with('/'))
        .expect("a path literal");
    let clean = format!(
        "title: t\ntags: [openid]\nsteps:\n  - request: {{ url: \"/.well-known/openid-configuration\", form: {{ a: \"{user}x\", b: \"email_verified\", c: \"https://other.example{path}\" }} }}\n"
    );
    let planted_path =
        format!("steps:\n  - request: {{ url: \"{{{{ target.base_url }}}}{path}\" }}\n");
    assert_eq!(
        violations("t.yaml", &planted_path, &strict, &standard).len(),
        1
    );
    assert!(violations("t.yaml", &clean, &strict, &standard).is_empty());
}

/// The optional vocabulary a template path needs, as the capability that gates it.
fn gate_of(path: &str) -> Option<&'static str> {
    match path {
        "scopes.narrower" | "scopes.rest" => Some("scopes.narrower"),
        "scopes.outside" => Some("scopes.outside"),
        "scopes.offline" | "scopes.without_offline" => Some("scopes.offline"),
        "scopes.openid" => Some("scopes.openid"),
        "test_user.username" => Some("test_user"),
        "test_user.password" => Some("test_user.password"),
        _ => None,
    }
}

fn without_comments(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text of a scenario plus every fixture it includes, transitively (comments dropped).
fn text_with_fixtures(cat: &Catalogue, text: &str) -> String {
    let include = regex::Regex::new(r"include:\s*([A-Za-z0-9_-]+)").expect("regex");
    let mut all = without_comments(text);
    let mut seen = BTreeSet::new();
    let mut queue: Vec<String> = include
        .captures_iter(&all)
        .map(|c| c[1].to_owned())
        .collect();
    while let Some(name) = queue.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(f) = cat.fixtures.get(&name) {
            let t = without_comments(&f.source.text);
            queue.extend(include.captures_iter(&t).map(|c| c[1].to_owned()));
            all.push('\n');
            all.push_str(&t);
        }
    }
    all
}

#[test]
fn every_scenario_that_reads_optional_vocabulary_requires_it() {
    let (cat, diags) = load_paths(&[specs_root()], &LoadOptions::default());
    assert!(diags.is_empty(), "the catalogue is invalid");
    let path = regex::Regex::new(r"\b(scopes|test_user)\.([a-z_]+)").expect("regex");
    let mut missing = Vec::new();
    for s in &cat.scenarios {
        let text = text_with_fixtures(&cat, &s.source.text);
        let requires: BTreeSet<&str> = s.requires.iter().map(|g| g.name.as_str()).collect();
        let mut needed = BTreeSet::new();
        for c in path.captures_iter(&text) {
            if let Some(g) = gate_of(&format!("{}.{}", &c[1], &c[2])) {
                needed.insert(g);
            }
        }
        for g in needed {
            // A password implies the user.
            let ok = requires.contains(g)
                || (g == "test_user" && requires.contains("test_user.password"));
            if !ok {
                missing.push(format!("{}: reads {g} but does not require it", s.id));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "scenarios that would fail or error on a profile without that vocabulary:\n{}",
        missing.join("\n")
    );
}
