//! Reading scenario and fixture files from disk.

use super::decode::{FIXTURE_KEYS, SCENARIO_KEYS};
use super::*;
use crate::diagnostic::{Diagnostic, hint_for};
use crate::yaml::Dec;
use crate::yaml::{self, Key, Kind, Node};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Everything loaded from the spec paths.
#[derive(Debug, Default)]
pub struct Catalogue {
    /// Scenarios in path order.
    pub scenarios: Vec<Scenario>,
    /// Fixtures by name.
    pub fixtures: BTreeMap<String, Fixture>,
    /// The requirement catalogue (built-in plus any `requirements.yaml` found).
    pub requirements: Requirements,
    /// Target profile files met on the way (validated separately).
    pub target_files: Vec<TargetFile>,
}

/// A target profile file met while loading a catalogue.
#[derive(Debug, Clone)]
pub struct TargetFile {
    /// Where it is (`{ file: PATH }` secrets resolve against its directory).
    pub path: PathBuf,
    /// Its text.
    pub source: Source,
}

/// Loading options.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Skip the semantic pass (used by benchmarks to time the parts separately).
    pub skip_validation: bool,
}

/// Where a catalogue comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecSource {
    /// The catalogue built into this binary ([`super::builtin`]).
    BuiltIn,
    /// Files and directories on disk.
    Paths(Vec<PathBuf>),
}

impl SpecSource {
    /// How a message names it.
    pub fn describe(&self) -> String {
        match self {
            SpecSource::BuiltIn => "the built-in catalogue".into(),
            SpecSource::Paths(p) => p
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

/// What a YAML file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A scenario: one rule.
    Scenario,
    /// A fixture: reusable steps.
    Fixture,
    /// A target profile.
    Profile,
    /// The requirement catalogue.
    Requirements,
    /// What each standard forbids of a policy (`claims.yaml`, see [`crate::claims`]).
    Claims,
}

/// The values of the top-level `kind:` key, which overrides the detection below.
pub(crate) const KINDS: &[(&str, FileKind)] = &[
    ("profile", FileKind::Profile),
    ("scenario", FileKind::Scenario),
    ("fixture", FileKind::Fixture),
];

/// Top-level keys that mark a target profile wherever it lives.
const PROFILE_MARKERS: &[&str] = &["target", "base_url", "clients"];

/// The top-level keys of `node` that are in `these` but not in `own`, e.g. a profile's keys in a
/// file read as a scenario.
pub(crate) fn foreign_keys<'n>(node: &'n Node, own: &[&str], these: &[&str]) -> Vec<&'n Key> {
    node.as_map()
        .unwrap_or_default()
        .iter()
        .map(|(k, _)| k)
        .filter(|k| these.contains(&k.name.as_str()) && !own.contains(&k.name.as_str()))
        .collect()
}

/// `` `a`, `b` and `c` ``.
pub(crate) fn key_list(keys: &[&Key]) -> String {
    let names: Vec<String> = keys.iter().map(|k| format!("`{}`", k.name)).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => names.join(""),
    }
}

/// Profile keys a scenario file holds, when there are enough of them to say the file looks like
/// a target profile (one stray `name:` in a scenario is just an unknown key).
pub(crate) fn profile_likeness(node: &Node) -> Vec<&Key> {
    let profile = foreign_keys(node, SCENARIO_KEYS, crate::profile::decode::TOP_KEYS);
    let scenario = foreign_keys(node, crate::profile::decode::TOP_KEYS, SCENARIO_KEYS);
    if profile.len() >= 2 || profile.len() > scenario.len() {
        profile
    } else {
        Vec::new()
    }
}

/// What a file is: its `kind:` if it says (an unknown value is reported and detection goes on),
/// else `requirements.yaml`, a `fixture:` key, a profile's marker keys (`target`, `base_url`,
/// `clients`), a file under `targets/` without `steps`, profile keys without scenario keys; else
/// a scenario.
fn kind_of(path: &Path, node: &Node, dec: &mut Dec<'_>) -> FileKind {
    if let Some(k) = node.get("kind") {
        let names: Vec<&str> = KINDS.iter().map(|(n, _)| *n).collect();
        match k.as_str().and_then(|s| KINDS.iter().find(|(n, _)| *n == s)) {
            Some((_, kind)) => return *kind,
            None => {
                let written = k.scalar_text().unwrap_or_default();
                dec.err(k.loc, format!("unknown file kind `{written}`"))
                    .label = Some(hint_for(&written, &names));
            }
        }
    }
    if path.file_name().is_some_and(|n| n == "requirements.yaml") {
        return FileKind::Requirements;
    }
    if path.file_name().is_some_and(|n| n == "claims.yaml") {
        return FileKind::Claims;
    }
    if node.get("fixture").is_some() {
        return FileKind::Fixture;
    }
    let in_targets = path.components().any(|c| c.as_os_str() == "targets");
    if PROFILE_MARKERS.iter().any(|m| node.get(m).is_some())
        || (in_targets && node.get("steps").is_none())
    {
        return FileKind::Profile;
    }
    let scenario_keys = foreign_keys(node, crate::profile::decode::TOP_KEYS, SCENARIO_KEYS);
    if scenario_keys.is_empty() && !profile_likeness(node).is_empty() {
        return FileKind::Profile;
    }
    FileKind::Scenario
}

/// Collects `*.yaml` / `*.yml` files under the given paths, sorted, with each file's spec root
/// (the directory given, used to derive scenario ids).
pub fn collect_files(paths: &[PathBuf]) -> (Vec<(PathBuf, PathBuf)>, Vec<Diagnostic>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_dir() {
            let found = super::walk::yaml_files(p);
            files.extend(found.into_iter().map(|f| (f, p.clone())));
        } else if p.is_file() {
            let root = p.parent().map(Path::to_path_buf).unwrap_or_default();
            files.push((p.clone(), root));
        } else {
            errors.push(Diagnostic::file_error(
                &p.display().to_string(),
                "no such file or directory",
            ));
        }
    }
    (files, errors)
}

/// Derives `rotation.old-token-rejected` from `<root>/rotation/old-token-rejected.yaml`.
fn default_id(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path).with_extension("");
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(".")
}

/// One file to load: where it is shown as coming from, the id a scenario in it gets by default,
/// and its text.
struct SpecFile {
    path: PathBuf,
    default_id: String,
    source: Source,
}

/// Reads the files under `paths`; unreadable ones become diagnostics.
fn read_paths(paths: &[PathBuf], diags: &mut Vec<Diagnostic>) -> Vec<SpecFile> {
    let (files, errors) = collect_files(paths);
    diags.extend(errors);
    let mut out = Vec::new();
    for (path, root) in files {
        let display = path.display().to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => out.push(SpecFile {
                default_id: default_id(&path, &root),
                source: Source::new(display, text),
                path,
            }),
            Err(e) => diags.push(Diagnostic::file_error(
                &display,
                format!("cannot read: {e}"),
            )),
        }
    }
    out
}

/// The built-in files, shown as `specs/<path>` (their path in the source tree).
fn builtin_files() -> Vec<SpecFile> {
    super::builtin::files()
        .iter()
        .map(|(rel, text)| {
            let path = Path::new(super::builtin::ROOT).join(rel);
            SpecFile {
                default_id: default_id(Path::new(rel), Path::new("")),
                source: Source::new(path.display().to_string(), *text),
                path,
            }
        })
        .collect()
}

/// Loads and validates every scenario, fixture and requirement file under `paths`.
/// Returns the catalogue and all diagnostics (errors and warnings).
pub fn load_paths(paths: &[PathBuf], opts: &LoadOptions) -> (Catalogue, Vec<Diagnostic>) {
    load(&SpecSource::Paths(paths.to_vec()), opts)
}

/// Loads and validates a catalogue: the built-in one or the files under some paths.
pub fn load(from: &SpecSource, opts: &LoadOptions) -> (Catalogue, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let files = match from {
        SpecSource::BuiltIn => builtin_files(),
        SpecSource::Paths(paths) => read_paths(paths, &mut diags),
    };
    let mut cat = Catalogue {
        requirements: Requirements::builtin(),
        ..Catalogue::default()
    };
    let mut parsed = Vec::new();
    for SpecFile {
        path,
        default_id,
        source,
    } in files
    {
        let node = match yaml::parse(&source.text) {
            Ok(node) => node,
            Err(e) => {
                diags.push(
                    Diagnostic::error(&source, e.loc, format!("invalid YAML: {}", e.message))
                        .with_help("check the indentation and the `:` after each key"),
                );
                continue;
            }
        };
        let mut dec = Dec::new(&source);
        let kind = kind_of(&path, &node, &mut dec);
        diags.append(&mut dec.errors);
        match kind {
            FileKind::Requirements => match Requirements::parse(&source.text) {
                Ok(r) => cat.requirements.extend(r),
                Err(e) => diags.push(Diagnostic::error(
                    &source,
                    node.loc,
                    format!("invalid requirement catalogue: {e}"),
                )),
            },
            // The built-in claims catalogue is compiled in; a copy on disk is only checked.
            FileKind::Claims => {
                if let Err(e) = crate::claims::ClaimsCatalogue::parse(&source.text) {
                    diags.push(Diagnostic::error(
                        &source,
                        node.loc,
                        format!("invalid claims catalogue: {e}"),
                    ));
                }
            }
            FileKind::Profile => cat.target_files.push(TargetFile { path, source }),
            kind => parsed.push((source, node, kind, default_id)),
        }
    }
    for (source, node, kind, default_id) in &parsed {
        let mut dec = Dec::new(source);
        match kind {
            FileKind::Fixture => {
                if let Some(f) = decode_fixture(&mut dec, node) {
                    if cat.fixtures.contains_key(&f.name) {
                        dec.err(node.loc, format!("fixture `{}` is defined twice", f.name));
                    }
                    cat.fixtures.insert(f.name.clone(), f);
                }
            }
            _ => {
                if let Some(s) = decode_scenario(&mut dec, node, default_id) {
                    cat.scenarios.push(s);
                }
            }
        }
        diags.extend(dec.errors);
    }
    if !opts.skip_validation {
        diags.extend(super::validate::validate(&cat));
    }
    (cat, diags)
}

/// Decodes one scenario document.
pub(crate) fn decode_scenario(
    dec: &mut Dec<'_>,
    node: &Node,
    default_id: &str,
) -> Option<Scenario> {
    // A target profile without its marker keys: one error saying so, not one per profile key.
    let like_profile = profile_likeness(node);
    let mut allowed = SCENARIO_KEYS.to_vec();
    if let Some(first) = like_profile.first() {
        let (n, list) = (like_profile.len(), key_list(&like_profile));
        let what = if n == 1 {
            "is a profile key"
        } else {
            "are profile keys"
        };
        let d = dec.err(
            first.loc,
            format!("this looks like a target profile: {list} {what}, not scenario keys"),
        );
        d.label =
            Some("a target profile is recognised by `base_url` or `clients` at top level".into());
        d.help = Some("add `base_url:` and `clients:` (specs/README.md, \"Target profiles\") or `kind: profile`; a scenario has `title`, `requirements` and `steps`".into());
        allowed.extend(crate::profile::decode::TOP_KEYS);
    }
    let entries = dec.map(node, "scenario", &allowed)?;
    let mut s = Scenario {
        id: default_id.to_owned(),
        title: String::new(),
        description: None,
        requirements: Vec::new(),
        tags: Vec::new(),
        requires: Vec::new(),
        unless: Vec::new(),
        matrix: Vec::new(),
        vars: Vec::new(),
        setup: Vec::new(),
        steps: Vec::new(),
        teardown: Vec::new(),
        catches: Vec::new(),
        prerequisite_for: None,
        source: dec.src.clone(),
        loc: entries.first().map_or(node.loc, |(k, _)| k.loc),
    };
    let has = |k: &str| entries.iter().any(|(key, _)| key.name == k);
    let (has_title, has_reqs, has_steps) = (has("title"), has("requirements"), has("steps"));
    for (k, v) in entries {
        match k.name.as_str() {
            "id" => {
                if let Some(id) = dec.string(v, "id") {
                    if id.is_empty()
                        || !id
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                    {
                        dec.err(
                            v.loc,
                            format!(
                                "scenario id `{id}` may only hold letters, digits, `.`, `-` and `_`"
                            ),
                        );
                    }
                    s.id = id;
                    s.loc = v.loc;
                }
            }
            "title" => s.title = dec.string(v, "title").unwrap_or_default(),
            "description" => s.description = dec.string(v, "description"),
            "requirements" => s.requirements = dec.requirements(v),
            "tags" => s.tags = dec.strings(v, "tags").into_iter().map(|(t, _)| t).collect(),
            "requires" => s.requires = dec.gates(v, "requires"),
            "unless" => s.unless = dec.gates(v, "unless"),
            "matrix" => s.matrix = dec.matrix(v),
            "vars" => {
                if let Some(vs) = v.as_map() {
                    for (vk, vv) in vs {
                        if crate::template::NAMESPACES.contains(&vk.name.as_str()) {
                            dec.err(
                                vk.loc,
                                format!("`{}` is reserved: pick another variable name", vk.name),
                            );
                        }
                        let val = dec.tpl_value(vv);
                        s.vars.push((vk.name.clone(), val));
                    }
                } else {
                    dec.err(v.loc, "`vars` must be a mapping");
                }
            }
            "setup" => s.setup = dec.steps(v, "setup"),
            "steps" => s.steps = dec.steps(v, "steps"),
            "teardown" => s.teardown = dec.steps(v, "teardown"),
            "catches" => s.catches = dec.strings(v, "catches"),
            "prerequisite_for" => s.prerequisite_for = dec.prerequisite_for(v),
            _ => {}
        }
    }
    if !has_title {
        dec.err(s.loc, "a scenario needs a `title`").label =
            Some("add `title: <one line saying what rule this checks>`".into());
    }
    if !has_reqs {
        dec.err(s.loc, "a scenario needs `requirements`").label =
            Some("add e.g. `requirements: [{ id: RFC6749-6.d, level: MUST }]`".into());
    } else if s.requirements.is_empty() && dec.errors.is_empty() {
        dec.err(s.loc, "`requirements` is empty: name at least one");
    }
    if !has_steps {
        dec.err(s.loc, "a scenario needs `steps`");
    }
    Some(s)
}

fn decode_fixture(dec: &mut Dec<'_>, node: &Node) -> Option<Fixture> {
    let entries = dec.map(node, "fixture", FIXTURE_KEYS)?;
    let mut f = Fixture {
        name: String::new(),
        params: Vec::new(),
        steps: Vec::new(),
        source: dec.src.clone(),
    };
    for (k, v) in entries {
        match k.name.as_str() {
            "fixture" => f.name = dec.string(v, "fixture").unwrap_or_default(),
            "params" => match &v.kind {
                Kind::Map(ps) => {
                    for (pk, pv) in ps {
                        if crate::template::NAMESPACES.contains(&pk.name.as_str()) {
                            dec.err(
                                pk.loc,
                                format!("`{}` is reserved: pick another parameter name", pk.name),
                            );
                        }
                        let val = dec.tpl_value(pv);
                        f.params.push((pk.name.clone(), val));
                    }
                }
                _ => {
                    dec.err(v.loc, "`params` must be a mapping of names to defaults");
                }
            },
            "steps" => f.steps = dec.steps(v, "steps"),
            _ => {}
        }
    }
    Some(f)
}

/// Parses one scenario from text (for tests, benchmarks and the fuzz target).
pub fn scenario_from_str(path: &str, text: &str) -> Result<Scenario, Vec<Diagnostic>> {
    let source = Source::new(path, text);
    let node = yaml::parse(text).map_err(|e| {
        vec![Diagnostic::error(
            &source,
            e.loc,
            format!("invalid YAML: {}", e.message),
        )]
    })?;
    let mut dec = Dec::new(&source);
    let s = decode_scenario(&mut dec, &node, "scenario");
    match s {
        Some(s) if dec.errors.is_empty() => Ok(s),
        _ => Err(dec.errors),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loads `files` (name, text) from a fresh directory; the catalogue and every diagnostic as
    /// `file:line:col message`.
    fn load_dir(files: &[(&str, &str)]) -> (Catalogue, Vec<String>) {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        let (cat, diags) = load_paths(&[dir.path().to_path_buf()], &LoadOptions::default());
        let root = format!("{}/", dir.path().display());
        let shown = diags
            .iter()
            .map(|d| format!("{} {}", d.location().replace(&root, ""), d.message))
            .collect();
        (cat, shown)
    }

    const SCENARIO: &str =
        "title: t\nrequirements: [{ id: RFC6749-6.a, level: MUST }]\nsteps:\n  - wait: 1\n";

    #[test]
    fn a_profile_is_recognised_wherever_it_lives() {
        let (cat, d) = load_dir(&[
            // The README's shape: `name:` first, no `target:`, not under targets/.
            (
                "my-server.yaml",
                "name: x\nbase_url: https://as.example.com\n",
            ),
            ("clients-only.yaml", "clients: {}\n"),
            // Profile keys and no scenario key: a profile lacking its marker keys.
            (
                "lacking.yaml",
                "name: x\nbootstrap: { grant: password }\npolicy: rfc9700\n",
            ),
            ("targets/old-style.yaml", "name: x\n"),
            ("s.yaml", SCENARIO),
        ]);
        let mut names: Vec<String> = cat
            .target_files
            .iter()
            .filter_map(|t| Some(t.path.file_name()?.to_str()?.to_owned()))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "clients-only.yaml",
                "lacking.yaml",
                "my-server.yaml",
                "old-style.yaml"
            ]
        );
        assert_eq!((cat.scenarios.len(), d.len()), (1, 0), "{d:#?}");
    }

    #[test]
    fn kind_overrides_the_detection() {
        let (cat, d) = load_dir(&[
            (
                "targets/a-scenario.yaml",
                &format!("kind: scenario\n{SCENARIO}"),
            ),
            ("p.yaml", "kind: profile\nname: x\n"),
            (
                "f.yaml",
                "kind: fixture\nfixture: f\nsteps: [{ wait: 1 }]\n",
            ),
            ("bad.yaml", &format!("kind: profil\n{SCENARIO}")),
        ]);
        assert_eq!(cat.target_files.len(), 1);
        assert_eq!(cat.fixtures.len(), 1);
        assert_eq!(cat.scenarios.len(), 2);
        assert_eq!(d, ["bad.yaml:1:7 unknown file kind `profil`"]);
    }

    #[test]
    fn a_scenario_with_profile_keys_gets_one_hint() {
        let text = format!("name: x\nbootstrap: {{ grant: password }}\ndeviations: []\n{SCENARIO}");
        let (cat, d) = load_dir(&[
            ("mixed.yaml", &text),
            ("named.yaml", &format!("name: x\n{SCENARIO}")),
        ]);
        assert_eq!(cat.scenarios.len(), 2);
        assert_eq!(
            d,
            [
                "mixed.yaml:1:1 this looks like a target profile: `name`, `bootstrap` and `deviations` are profile keys, not scenario keys",
                // One stray profile key in a scenario is just an unknown key.
                "named.yaml:1:1 unknown key `name` in `scenario`",
            ]
        );
    }

    #[test]
    fn the_built_in_catalogue_is_the_source_trees() {
        let (builtin, d) = load(&SpecSource::BuiltIn, &LoadOptions::default());
        assert!(d.is_empty(), "{d:?}");
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("specs");
        let (disk, _) = load_paths(&[root], &LoadOptions::default());
        let ids = |c: &Catalogue| c.scenarios.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&builtin), ids(&disk));
        assert_eq!(builtin.fixtures.len(), disk.fixtures.len());
        assert_eq!(builtin.target_files.len(), disk.target_files.len());
        // Diagnostics name a built-in file by its path in the source tree.
        let s = &builtin.scenarios[0];
        assert!(
            s.source.path.starts_with("specs/") && s.source.path.ends_with(".yaml"),
            "{}",
            s.source.path
        );
    }
}
