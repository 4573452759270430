//! Console output. Results go to stdout: one line per scenario cell in plan (catalogue) order
//! whatever order the cells complete in, the details of each failure, the recap of failures by
//! requirement and the closing summary. Progress (a bar on a terminal) and diagnostics go to
//! stderr, so `tokencert run > results.txt` keeps the results and shows the rest. Everything
//! printed is already redacted.

mod paint;
mod recap;

pub use paint::{ColorChoice, Paint};
pub use recap::recap;

use crate::report::{Exchange, Finding, Outcome, ScenarioResult, StepOutcome, Summary};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Mutex;

/// How results are shown: the flags every command printing results shares.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConsoleArgs {
    /// Print the redacted HTTP exchanges of failures with their headers and longer bodies, and
    /// every copy of a failed race.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Print only the failure recap and the summary (no line per cell, no progress bar).
    #[arg(long, short = 'q', conflicts_with = "verbose")]
    pub quiet: bool,
    /// Colour: `auto` (on a terminal, unless NO_COLOR is set), `always` or `never`.
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Never draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// How one result is rendered.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Headers, longer bodies and every race copy.
    pub verbose: bool,
    /// Colours.
    pub paint: Paint,
}

/// Prints results in plan order as they complete.
pub struct Printer {
    bar: Option<indicatif::ProgressBar>,
    view: View,
    quiet: bool,
    order: Mutex<InOrder>,
}

/// Rendered results waiting for the cells planned before them.
#[derive(Default)]
struct InOrder {
    next: usize,
    waiting: BTreeMap<usize, String>,
}

impl InOrder {
    /// Takes the text of the cell planned at `index`; returns what can be printed now: that text
    /// and those after it, once every cell planned before them is in.
    fn add(&mut self, index: usize, text: String) -> String {
        self.waiting.insert(index, text);
        let mut ready = String::new();
        while let Some(t) = self.waiting.remove(&self.next) {
            ready.push_str(&t);
            self.next += 1;
        }
        ready
    }
}

impl Printer {
    /// A printer for `total` cells; `progress` draws a bar on stderr.
    pub fn new(total: usize, progress: bool, quiet: bool, view: View) -> Printer {
        let bar = (progress && !quiet).then(|| {
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
            view,
            quiet,
            order: Mutex::new(InOrder::default()),
        }
    }

    /// Takes the result of the cell planned at `index`; prints it once every cell planned before
    /// it has been printed.
    pub fn result(&self, index: usize, r: &ScenarioResult) {
        let text = if self.quiet {
            String::new()
        } else {
            render_result(r, self.view)
        };
        let Ok(mut order) = self.order.lock() else {
            return;
        };
        let ready = order.add(index, text);
        self.print(&ready);
        if let Some(b) = &self.bar {
            b.inc(1);
        }
    }

    /// Prints whatever is still waiting (a cell that never reported), then removes the bar.
    pub fn finish(&self) {
        if let Ok(mut order) = self.order.lock() {
            let rest: String = std::mem::take(&mut order.waiting).into_values().collect();
            self.print(&rest);
        }
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    fn print(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        match &self.bar {
            Some(b) => b.suspend(|| stdout(text)),
            None => stdout(text),
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not worth a panic.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// The console text of one result: its line, then for a failure each finding (findings on the
/// same exchange together, the exchange printed once after them); a race's copies all under
/// `-v`; for a cell that could not run, the exchange of the step that failed.
pub fn render_result(r: &ScenarioResult, view: View) -> String {
    let mut out = String::new();
    let paint = view.paint;
    let reason = r
        .reason
        .as_deref()
        .map(|s| format!("  ({s})"))
        .unwrap_or_default();
    // Labels padded to five, then a space: TIMEOUT, the one longer label, still gets its space.
    let _ = writeln!(
        out,
        "{} {}  {}{reason}",
        paint.outcome(r.outcome, &format!("{:<5}", r.outcome.label())),
        r.name(),
        paint.dim(&format!("{} ms", r.duration_ms))
    );
    if !r.outcome.verdict().has_details() {
        return out;
    }
    // (step, exchange) in the order first met, with the findings on it.
    let mut groups: Vec<(OnExchange<'_>, Vec<&Finding>)> = Vec::new();
    for f in &r.findings {
        let key = (f.step.as_str(), f.exchange);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, fs)) => fs.push(f),
            None => groups.push((key, vec![f])),
        }
    }
    let mut races_shown: Vec<&str> = Vec::new();
    for ((step_id, ex), findings) in &groups {
        for f in findings {
            let _ = writeln!(
                out,
                "      {} {} at step `{}`: {} expected {}, observed {}",
                f.requirement, f.level, f.step, f.subject, f.expected, f.observed
            );
            for line in f.snippet.lines() {
                let _ = writeln!(out, "        {line}");
            }
        }
        let Some(step) = r.steps.iter().find(|s| s.id == *step_id) else {
            continue;
        };
        if view.verbose && step.kind == "race" {
            // Every copy, once per race, whichever copy (or count) the findings are about.
            if !races_shown.contains(step_id) {
                races_shown.push(step_id);
                let n = step.exchanges.len();
                for (i, e) in step.exchanges.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "        {}",
                        paint.dim(&format!("copy {}/{n}:", i + 1))
                    );
                    out.push_str(&indent(&render_exchange(e, true), 10));
                }
            }
        } else if let Some(e) = ex.and_then(|i| step.exchanges.get(i)) {
            out.push_str(&indent(&render_exchange(e, view.verbose), 8));
        }
    }
    if matches!(r.outcome, Outcome::Error | Outcome::Timeout) {
        for s in r.steps.iter().filter(|s| s.outcome == StepOutcome::Error) {
            if let Some(ex) = s.exchanges.last() {
                out.push_str(&indent(&render_exchange(ex, view.verbose), 8));
            }
        }
    }
    out
}

/// A step id and the index of one of its exchanges (none: a finding about the whole step).
type OnExchange<'a> = (&'a str, Option<usize>);

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

/// The closing line: every outcome's count, most severe first.
pub fn summary_line(s: &Summary, duration_ms: u64, paint: Paint) -> String {
    let counts: Vec<String> = Outcome::ALL
        .iter()
        .rev()
        .map(|o| {
            let text = format!("{} {}", s.count(*o), o.as_str());
            if s.count(*o) > 0 {
                paint.outcome(*o, &text)
            } else {
                text
            }
        })
        .collect();
    format!(
        "\n{} scenario cells in {:.1} s: {}\n",
        s.total,
        duration_ms as f64 / 1000.0,
        counts.join(", ")
    )
}

#[cfg(test)]
mod tests;
