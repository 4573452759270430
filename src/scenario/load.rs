//! Reading scenario and fixture files from disk.

use super::decode::{FIXTURE_KEYS, SCENARIO_KEYS};
use super::*;
use crate::diagnostic::Diagnostic;
use crate::yaml::Dec;
use crate::yaml::{self, Kind, Node};
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
    pub target_files: Vec<PathBuf>,
}

/// Loading options.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Skip the semantic pass (used by benchmarks to time the parts separately).
    pub skip_validation: bool,
}

/// What a YAML file is.
enum FileKind {
    Scenario,
    Fixture,
    Target,
    Requirements,
}

fn kind_of(path: &Path, node: &Node) -> FileKind {
    if path.file_name().is_some_and(|n| n == "requirements.yaml") {
        return FileKind::Requirements;
    }
    if node.get("fixture").is_some() {
        return FileKind::Fixture;
    }
    let in_targets = path.components().any(|c| c.as_os_str() == "targets");
    if node.get("target").is_some() || (in_targets && node.get("steps").is_none()) {
        return FileKind::Target;
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
            let mut found = Vec::new();
            walk(p, &mut found);
            found.sort();
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

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

/// Derives `rotation.old-token-rejected` from `<root>/rotation/old-token-rejected.yaml`.
fn default_id(path: &Path, root: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path).with_extension("");
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(".")
}

/// Loads and validates every scenario, fixture and requirement file under `paths`.
/// Returns the catalogue and all diagnostics (errors and warnings).
pub fn load_paths(paths: &[PathBuf], opts: &LoadOptions) -> (Catalogue, Vec<Diagnostic>) {
    let (files, mut diags) = collect_files(paths);
    let mut cat = Catalogue {
        requirements: Requirements::builtin(),
        ..Catalogue::default()
    };
    let mut parsed = Vec::new();
    for (path, root) in files {
        let display = path.display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(Diagnostic::file_error(
                    &display,
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        let source = Source::new(display, text);
        match yaml::parse(&source.text) {
            Ok(node) => match kind_of(&path, &node) {
                FileKind::Requirements => match Requirements::parse(&source.text) {
                    Ok(r) => cat.requirements.extend(r),
                    Err(e) => diags.push(Diagnostic::error(
                        &source,
                        node.loc,
                        format!("invalid requirement catalogue: {e}"),
                    )),
                },
                FileKind::Target => cat.target_files.push(path),
                kind => parsed.push((source, node, kind, path, root)),
            },
            Err(e) => diags.push(
                Diagnostic::error(&source, e.loc, format!("invalid YAML: {}", e.message))
                    .with_help("check the indentation and the `:` after each key"),
            ),
        }
    }
    for (source, node, kind, path, root) in &parsed {
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
                if let Some(s) = decode_scenario(&mut dec, node, &default_id(path, root)) {
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
    let entries = dec.map(node, "scenario", SCENARIO_KEYS)?;
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
