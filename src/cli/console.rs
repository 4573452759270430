//! Console output: one line per scenario cell, details for each failure, a progress bar on a
//! terminal, and the closing summary. Everything printed is already redacted.

use crate::report::{Exchange, Outcome, ScenarioResult, Summary};
use std::fmt::Write as _;
use std::sync::Mutex;

/// Prints results as they complete.
pub struct Printer {
    bar: Option<indicatif::ProgressBar>,
    verbose: bool,
    lock: Mutex<()>,
}

impl Printer {
    /// A printer for `total` cells.
    pub fn new(total: usize, progress: bool, verbose: bool) -> Printer {
        let bar = progress.then(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{spinner} [{bar:30}] {pos}/{len} {elapsed} {msg}",
            ) {
                b.set_style(style.progress_chars("=> "));
            }
            b
        });
        Printer {
            bar,
            verbose,
            lock: Mutex::new(()),
        }
    }

    /// Prints one result.
    pub fn result(&self, r: &ScenarioResult) {
        let _guard = self.lock.lock();
        let text = render_result(r, self.verbose);
        match &self.bar {
            Some(b) => {
                b.println(text.trim_end());
                b.inc(1);
            }
            None => eprint!("{text}"),
        }
    }

    /// Removes the progress bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The console text of one result.
pub fn render_result(r: &ScenarioResult, verbose: bool) -> String {
    let mut out = String::new();
    let reason = r
        .reason
        .as_deref()
        .map(|s| format!("  ({s})"))
        .unwrap_or_default();
    // Labels padded to five, then a space: TIMEOUT, the one longer label, still gets its space.
    let _ = writeln!(
        out,
        "{:<5} {}  {} ms{reason}",
        r.outcome.label(),
        r.name(),
        r.duration_ms
    );
    if r.outcome.verdict().has_details() {
        for f in &r.findings {
            let _ = writeln!(
                out,
                "      {} {} at step `{}`: {} expected {}, observed {}",
                f.requirement, f.level, f.step, f.subject, f.expected, f.observed
            );
            for line in f.snippet.lines() {
                let _ = writeln!(out, "        {line}");
            }
            if let Some(i) = f.exchange
                && let Some(step) = r.steps.iter().find(|s| s.id == f.step)
                && let Some(ex) = step.exchanges.get(i)
            {
                out.push_str(&indent(&render_exchange(ex, verbose), 8));
            }
        }
        if matches!(r.outcome, Outcome::Error | Outcome::Timeout) {
            for s in r
                .steps
                .iter()
                .filter(|s| s.outcome == crate::report::StepOutcome::Error)
            {
                if let Some(ex) = s.exchanges.last() {
                    out.push_str(&indent(&render_exchange(ex, verbose), 8));
                }
            }
        }
    }
    out
}

fn indent(s: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    s.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// A request/response pair as text; headers only with `verbose`.
pub fn render_exchange(ex: &Exchange, verbose: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "> {} {}", ex.request.method, ex.request.url);
    if verbose {
        for (n, v) in &ex.request.headers {
            let _ = writeln!(out, "> {n}: {v}");
        }
    }
    if let Some(b) = &ex.request.body {
        let _ = writeln!(out, "> {}", clip(b, if verbose { 4000 } else { 400 }));
    }
    match (&ex.response, &ex.error) {
        (Some(resp), _) => {
            let _ = writeln!(out, "< {}", resp.status);
            if verbose {
                for (n, v) in &resp.headers {
                    let _ = writeln!(out, "< {n}: {v}");
                }
            }
            if !resp.body.is_empty() {
                let _ = writeln!(
                    out,
                    "< {}",
                    clip(&resp.body, if verbose { 4000 } else { 400 })
                );
            }
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "! {e}");
        }
        (None, None) => {}
    }
    out
}

fn clip(s: &str, n: usize) -> String {
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() > n {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    } else {
        one_line
    }
}

/// The closing line(s): every outcome's count, most severe first.
pub fn summary(s: &Summary, duration_ms: u64) {
    eprintln!();
    eprintln!("{}", summary_line(s, duration_ms));
}

fn summary_line(s: &Summary, duration_ms: u64) -> String {
    let counts: Vec<String> = Outcome::ALL
        .iter()
        .rev()
        .map(|o| format!("{} {}", s.count(*o), o.as_str()))
        .collect();
    format!(
        "{} scenario cells in {:.1} s: {}",
        s.total,
        duration_ms as f64 / 1000.0,
        counts.join(", ")
    )
}
