//! The catalogue is portable: no scenario or fixture names a value of the reference server's
//! configuration, and every scenario that reads an optional part of the target's vocabulary gates
//! on it (so a profile without it skips the scenario instead of failing or erroring).
//!
//! Checked: every scenario and fixture under `specs/`, as the loader sorts files (target profiles
//! wherever they live, e.g. `specs/targets/`, and the requirement catalogue
//! `specs/requirements.yaml`, quotations of the specifications, are not).
//!
//! - **Anywhere**, comments and prose included: the reference server's client ids and secrets
//!   (also percent-encoded, and as the Base64 of HTTP Basic credentials), test user names and
//!   passwords, redirect URIs and their hosts, trusted issuers and their hosts, its key material
//!   (PEM lines, key ids), endpoint paths (except the RFC 8414 and OpenID Connect Discovery
//!   well-known paths) and any path under its test-only `/test/`, and its scope words other than
//!   the standard OpenID Connect ones (also percent-encoded).
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
/// RFC 8414 §3 and OpenID Connect Discovery 1.0 §4: standard paths, not the reference server's
/// choice.
const STANDARD_PATHS: &[&str] = &[
    "/.well-known/oauth-authorization-server",
    "/.well-known/openid-configuration",
];
/// The reference server's test-only routes live below this path; a real server has none of them.
const TEST_ONLY_PREFIX: &str = "/test/";

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

/// How a literal reaches the wire besides as is: form-urlencoded (RFC 6749 Appendix B) and
/// percent-encoded (a query string).
fn encodings(lit: &str) -> Vec<String> {
    let form: String = form_urlencoded::byte_serialize(lit.as_bytes()).collect();
    let percent =
        percent_encoding::utf8_percent_encode(lit, percent_encoding::NON_ALPHANUMERIC).to_string();
    [form, percent].into_iter().filter(|e| e != lit).collect()
}

/// HTTP Basic credentials of a client as a scenario could hard-code them: the Base64 of
/// `id:secret`, as is and form-encoded first (RFC 6749 §2.3.1).
fn basic_credentials(id: &str, secret: &str) -> Vec<String> {
    use base64::Engine as _;
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    [
        format!("{id}:{secret}"),
        format!("{}:{}", enc(id), enc(secret)),
    ]
    .iter()
    .map(|pair| base64::engine::general_purpose::STANDARD.encode(pair))
    .collect()
}

/// The reference server's key material: every Base64 line of its PEM keys, and the RFC 7638
/// thumbprints (its key ids) of those keys.
fn key_material() -> Vec<String> {
    use reference_server::keys;
    let pems = [
        keys::ISSUER_SIGNING_PEM,
        keys::CLIENT_PRIVATE_KEY_JWT_PEM,
        keys::TRUSTED_ISSUER_PEM,
        keys::DPOP_DEMO_PEM,
    ];
    let mut out = Vec::new();
    for pem in pems {
        out.extend(
            pem.lines()
                .map(str::trim)
                .filter(|l| l.len() >= 16 && !l.starts_with("-----"))
                .map(str::to_owned),
        );
        if let Ok((x, y)) = keys::public_coordinates(pem) {
            out.push(keys::ec_thumbprint(&x, &y));
        }
    }
    out
}

fn host_of(u: &str) -> Option<String> {
    url::Url::parse(u).ok()?.host_str().map(str::to_owned)
}

/// The literals that may appear nowhere, and the scope words that may appear only in prose.
fn literals() -> (BTreeSet<String>, BTreeSet<String>) {
    let (d, endpoints) = reference_configuration();
    let mut strict = BTreeSet::new();
    let mut scope_words = BTreeSet::new();
    for c in &d.clients {
        strict.insert(c.id.clone());
        strict.extend(c.secret.clone());
        if let Some(secret) = &c.secret {
            strict.extend(basic_credentials(&c.id, secret));
        }
        strict.extend(c.redirect_uris.iter().cloned());
        strict.extend(c.redirect_uris.iter().filter_map(|u| host_of(u)));
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
        strict.extend(host_of(&i.issuer));
    }
    strict.extend(key_material());
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
    let encoded: Vec<String> = strict.iter().flat_map(|l| encodings(l)).collect();
    strict.extend(encoded);
    let mut standard = standard;
    let encoded: Vec<String> = standard.iter().flat_map(|w| encodings(w)).collect();
    standard.extend(encoded);
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

/// Every scenario and fixture file under `root`, as the loader sorts them.
fn checked_files(root: &Path) -> Vec<PathBuf> {
    let (cat, _) = load_paths(&[root.to_path_buf()], &LoadOptions::default());
    let mut files: Vec<PathBuf> = cat
        .scenarios
        .iter()
        .map(|s| &s.source)
        .chain(cat.fixtures.values().map(|f| &f.source))
        .map(|src| PathBuf::from(&*src.path))
        .collect();
    files.sort();
    files.dedup();
    files
}

/// Where a path below the reference server's test-only prefix starts in `hay`, unless it
/// follows a host (`https://other.example/test/…` is another server's path).
fn find_test_only_path(hay: &str) -> Option<usize> {
    hay.match_indices(TEST_ONLY_PREFIX)
        .map(|(i, _)| i)
        .find(|&i| hay[..i].chars().next_back().is_none_or(|c| !continues(c)))
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
    if let Some(i) = find_test_only_path(text) {
        found.push(format!(
            "{display}:{}: a path under `{TEST_ONLY_PREFIX}` is a test-only route of the reference server (name a test endpoint the profile provides)",
            line_of(text, i)
        ));
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
    let files = checked_files(&root);
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
    // Encoded, wrapped in Basic credentials, a host, or a test-only route: found too.
    let (d, _) = reference_configuration();
    let c = d
        .clients
        .iter()
        .find(|c| c.secret.is_some())
        .expect("a client with a secret");
    let basic = &basic_credentials(&c.id, c.secret.as_deref().unwrap_or_default())[1];
    let scope = d.clients[0]
        .scope
        .split_whitespace()
        .find(|w| w.contains(':'))
        .expect("a scope word with `:`");
    let host = host_of(&c.redirect_uris[0]).expect("a redirect host");
    let planted = format!(
        "steps:\n  - request:\n      url: \"{{{{ target.base_url }}}}/test/reset\"\n      headers: {{ authorization: \"Basic {basic}\" }}\n      body: \"scope={}\"\n      form: {{ redirect_uri: \"https://{host}/cb\" }}\n",
        encodings(scope)[0]
    );
    let v = violations("t.yaml", &planted, &strict, &standard);
    let lines: Vec<&str> = v.iter().filter_map(|m| m.split(": ").next()).collect();
    assert_eq!(
        lines,
        ["t.yaml:4", "t.yaml:5", "t.yaml:6", "t.yaml:3"],
        "{v:#?}"
    );
}

/// The optional vocabulary a template path needs, as the capability that gates it: a scope
/// word or user the profile may not declare, a client role it may not define
/// (`clients.<role>.…`), an endpoint it may not have (`target.endpoints.<name>`; the token
/// endpoint is always there).
fn gate_of(path: &str) -> Option<String> {
    let fixed = match path {
        "scopes.narrower" | "scopes.rest" => Some("scopes.narrower"),
        "scopes.outside" => Some("scopes.outside"),
        "scopes.offline" | "scopes.without_offline" => Some("scopes.offline"),
        "scopes.openid" => Some("scopes.openid"),
        "test_user.username" => Some("test_user"),
        "test_user.password" => Some("test_user.password"),
        _ => None,
    };
    if let Some(g) = fixed {
        return Some(g.to_owned());
    }
    let mut parts = path.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("clients"), Some(role), Some(_)) => Some(format!("client.{role}")),
        (Some("target"), Some("endpoints"), Some(name)) if name != "token" => {
            Some(format!("endpoint.{name}"))
        }
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
    let path =
        regex::Regex::new(r"\b(scopes|test_user|clients|target)\.([a-z_0-9]+(?:\.[a-z_0-9]+)?)")
            .expect("regex");
    let mut missing = Vec::new();
    for s in &cat.scenarios {
        let text = text_with_fixtures(&cat, &s.source.text);
        let requires: BTreeSet<&str> = s.requires.iter().map(|g| g.name.as_str()).collect();
        let mut needed = BTreeSet::new();
        for c in path.captures_iter(&text) {
            let p = format!("{}.{}", &c[1], &c[2]);
            // `scopes.granted.x` is no deeper path: the first two parts name the value.
            let shallow: String = p.split('.').take(2).collect::<Vec<_>>().join(".");
            needed.extend(gate_of(&p).or_else(|| gate_of(&shallow)));
        }
        for g in needed {
            let g = g.as_str();
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
