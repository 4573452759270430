//! What a run leaves behind, side by side in `--out`: one scenario YAML reproducer per finding,
//! `findings.json` (every finding with its root cause, hits and variants), `findings.sarif`
//! (SARIF 2.1.0 for code-scanning tools, through the project's writer), and the summary table printed at the end. Every file
//! passes through the session's redactor first: a secret that slipped into one is replaced and
//! reported, never written.

use super::{FuzzOptions, FuzzSummary};
use crate::profile::Redactor;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// The files written, and the ones a secret had to be redacted from (a bug to report).
#[derive(Debug, Default)]
pub struct Written {
    /// Reproducers.
    pub reproducers: Vec<PathBuf>,
    /// `findings.json` and `findings.sarif`.
    pub reports: Vec<PathBuf>,
    /// Files whose text held a registered secret (written redacted).
    pub redacted: Vec<PathBuf>,
}

/// Writes `text` to `path` after redaction.
fn put(path: &Path, text: &str, redactor: &Redactor, w: &mut Written) -> std::io::Result<()> {
    let clean = redactor.redact(text);
    if clean != text {
        w.redacted.push(path.to_path_buf());
    }
    std::fs::write(path, clean)
}

/// Writes a finding's reproducer (the `n`th found) into `opts.out`; `None` for a finding no
/// scenario can express (slowness). The second value says whether a secret had to be redacted.
pub fn write_reproducer(
    f: &super::Finding,
    n: usize,
    opts: &FuzzOptions,
    target_name: &str,
    redactor: &Redactor,
) -> std::io::Result<Option<(PathBuf, bool)>> {
    let Some(text) = super::write::scenario(f, opts.seed, target_name, n) else {
        return Ok(None);
    };
    let text = text.map_err(std::io::Error::other)?;
    std::fs::create_dir_all(&opts.out)?;
    let path = opts
        .out
        .join(format!("fuzz-{}-{n:02}.yaml", f.oracle.slug()));
    let mut w = Written::default();
    put(&path, &text, redactor, &mut w)?;
    Ok(Some((path, !w.redacted.is_empty())))
}

/// Writes `findings.json` and `findings.sarif` into `opts.out` (the reproducers are written as
/// findings are made, see [`write_reproducer`]).
pub fn write_reports(
    summary: &FuzzSummary,
    opts: &FuzzOptions,
    target_name: &str,
    redactor: &Redactor,
) -> std::io::Result<Written> {
    std::fs::create_dir_all(&opts.out)?;
    let mut w = Written::default();
    for f in &summary.findings {
        if let Some(p) = &f.file {
            w.reproducers.push(p.clone());
        }
    }
    w.redacted.extend(summary.redacted.iter().cloned());
    let file_name = |p: &Option<PathBuf>| {
        p.as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
    };
    let findings: Vec<Value> = summary
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            json!({
                "id": format!("F{}", i + 1),
                "oracle": f.oracle.slug(),
                "requirement": f.oracle.requirement(),
                "level": f.oracle.level().as_str(),
                "description": f.oracle.describe(),
                "detail": f.detail,
                "endpoint": super::triage::ENDPOINT,
                "status": f.status,
                "error": f.error_code,
                "root_cause": f.key,
                "minimised": f.complete,
                "classes": f.req.classes(),
                "mutations": f.req.kinds(),
                "variants": f.variants,
                "hits": f.hits,
                "reproducer": file_name(&f.file),
            })
        })
        .collect();
    let report = json!({
        "tool": "tokencert fuzz",
        "version": env!("CARGO_PKG_VERSION"),
        "target": target_name,
        "seed": opts.seed,
        "bounds": {
            "duration_ms": opts.duration.as_millis() as u64,
            "max_requests": opts.max_requests,
        },
        "requests": summary.requests,
        "elapsed_ms": summary.elapsed.as_millis() as u64,
        "connections": summary.connections,
        "bootstraps": summary.bootstraps,
        "dismissed": summary.dismissed,
        "unconfirmed": summary.unconfirmed,
        "findings": findings,
    });
    let path = opts.out.join("findings.json");
    put(&path, &pretty(&report), redactor, &mut w)?;
    w.reports.push(path);
    let path = opts.out.join("findings.sarif");
    put(&path, &sarif(summary, target_name), redactor, &mut w)?;
    w.reports.push(path);
    Ok(w)
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// SARIF 2.1.0 through the project's writer ([`crate::report::sarif`]): one rule per oracle,
/// one result per root cause, located at the endpoint and at its reproducer, fingerprinted by
/// the root cause so dashboards track it across runs.
fn sarif(summary: &FuzzSummary, target_name: &str) -> String {
    use crate::report::sarif::{Location, Log, Rule, SarifLevel, SarifResult};
    let mut log = Log::new("tokencert fuzz", env!("CARGO_PKG_VERSION"));
    for f in &summary.findings {
        let level = SarifLevel::from(f.oracle.level());
        log.rule(Rule {
            id: f.oracle.slug().to_owned(),
            description: format!("{} ({})", f.oracle.describe(), f.oracle.requirement()),
            level,
            properties: [("requirement".to_owned(), json!(f.oracle.requirement()))].into(),
        });
        let mut locations = vec![Location::Logical {
            name: format!("{} {}", f.req.method, super::triage::ENDPOINT),
            kind: "resource".into(),
        }];
        if let Some(name) = f.file.as_ref().and_then(|p| p.file_name()) {
            locations.push(Location::File {
                uri: name.to_string_lossy().into_owned(),
                line: None,
                column: None,
            });
        }
        log.result(SarifResult {
            rule_id: f.oracle.slug().to_owned(),
            level,
            message: format!(
                "{} against {target_name}: {}; {} ({} hit(s); {})",
                f.oracle.describe(),
                f.detail,
                f.answer_label(),
                f.hits,
                f.oracle.requirement(),
            ),
            locations,
            fingerprint: f.key.clone(),
            properties: [
                ("hits".to_owned(), json!(f.hits)),
                ("classes".to_owned(), json!(f.req.classes())),
                ("requirement".to_owned(), json!(f.oracle.requirement())),
            ]
            .into(),
        });
    }
    if summary.unconfirmed > 0 {
        log.notification(
            SarifLevel::Note,
            &format!(
                "{} firing request(s) the bounds left unconfirmed (not reported)",
                summary.unconfirmed
            ),
        );
    }
    log.property("requests", json!(summary.requests));
    log.render()
}

/// The summary table printed at the end of a run.
pub fn summary_table(summary: &FuzzSummary) -> String {
    let head = [
        "#",
        "oracle",
        "requirement",
        "level",
        "status",
        "error",
        "root cause",
        "hits",
        "reproducer",
    ];
    let rows: Vec<[String; 9]> = summary
        .findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            [
                format!("F{}", i + 1),
                f.oracle.slug().to_owned(),
                f.oracle.requirement().to_owned(),
                f.oracle.level().as_str().to_owned(),
                f.status.map_or("-".into(), |s| s.to_string()),
                f.error_code.clone().unwrap_or_else(|| "-".into()),
                {
                    let c = f.req.classes();
                    if f.oracle.endpoint_wide() || c.is_empty() {
                        "-".to_owned()
                    } else {
                        c.join("+")
                    }
                },
                f.hits.to_string(),
                f.file
                    .as_ref()
                    .and_then(|p| p.file_name())
                    .map_or("-".into(), |n| n.to_string_lossy().into_owned()),
            ]
        })
        .collect();
    let mut widths = head.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s: String = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    let mut out = line(&head.map(str::to_owned));
    for r in &rows {
        out.push_str(&line(r));
    }
    out
}
