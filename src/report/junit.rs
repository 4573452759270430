//! JUnit XML writer (`junit.xml`).
//!
//! The file validates against the JUnit schema Jenkins and GitLab read (the Jenkins xUnit
//! plugin's `junit-10.xsd`, vendored in `tests/schemas/` and checked by `tests/report_formats.rs`):
//! one `<testsuites>` root holding one `<testsuite>` named after the target, with one
//! `<testcase>` per scenario x matrix cell. That schema allows `<properties>` on the suite only,
//! so run-level extras (coverage, the requirement roll-up with `untested`, `--fail-on`) are suite
//! properties and a testcase's extras (outcome, title, file, requirements) open its
//! `<system-out>`.
//!
//! Outcome mapping (with `--fail-on warn|info`, WARN or INFO cells become failures too):
//!
//! | outcome         | JUnit                                                     |
//! |-----------------|-----------------------------------------------------------|
//! | `pass`          | plain `<testcase>`                                        |
//! | `info`, `warn`  | passing `<testcase>`; findings in `<system-out>`          |
//! | `fail`          | `<failure type="MUST">` with every finding in the body    |
//! | `error`         | `<error type="error">`                                    |
//! | `xpass`         | `<error type="xpass">` (known deviation no longer fails)  |
//! | `skip`, `xfail` | `<skipped message="reason"/>`                             |

use std::fmt::Write as _;

use super::groups::headline_finding;
use super::{Exchange, Finding, Outcome, RunReport, ScenarioResult, Verdict};

/// Renders the report as JUnit XML.
pub fn render(report: &RunReport) -> String {
    let mut out = String::with_capacity(4096);
    let counts = Counts::of(report);
    let time = seconds(report.duration_ms);

    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // The schema gives the root no `skipped` or `timestamp`: the suite carries them.
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{time}\">",
        attr(&report.tool.name),
        counts.tests,
        counts.failures,
        counts.errors,
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" id=\"0\" tests=\"{}\" failures=\"{}\" errors=\"{}\" \
         skipped=\"{}\" time=\"{time}\" timestamp=\"{}\">",
        attr(&report.target.name),
        counts.tests,
        counts.failures,
        counts.errors,
        counts.skipped,
        attr(&report.started_at),
    );

    out.push_str("    <properties>\n");
    let cov = &report.coverage;
    let suite_props: [(&str, String); 16] = [
        ("tool", report.tool.name.clone()),
        ("tool.version", report.tool.version.clone()),
        ("schema_version", report.schema_version.to_string()),
        ("run_id", report.run_id.clone()),
        ("target.base_url", report.target.base_url.clone()),
        ("target.policy", report.target.policy.clone()),
        ("target.flaws", report.target.flaws.join(",")),
        ("target.capabilities", report.target.capabilities.join(",")),
        ("exit_code", report.exit_code.to_string()),
        ("fail_on", report.fail_on.to_string()),
        ("verdict", report.headline()),
        (
            "coverage.requirements_applicable",
            cov.requirements_applicable.to_string(),
        ),
        (
            "coverage.requirements_tested",
            cov.requirements_tested.to_string(),
        ),
        (
            "coverage.requirements_untested",
            cov.requirements_untested().to_string(),
        ),
        ("coverage.cells_total", cov.cells_total.to_string()),
        ("coverage.cells_skipped", cov.cells_skipped.to_string()),
    ];
    for (name, value) in &suite_props {
        property(&mut out, 6, name, value);
    }
    // The requirement roll-up: `requirement:<id>` = `<LEVEL> <OUTCOME>`, UNTESTED included.
    for req in &report.requirements {
        property(
            &mut out,
            6,
            &format!("requirement:{}", req.id),
            &format!("{} {}", req.level, req.outcome.label()),
        );
    }
    out.push_str("    </properties>\n");

    for result in &report.results {
        testcase(&mut out, report, result);
    }

    out.push_str("  </testsuite>\n");
    out.push_str("</testsuites>\n");
    out
}

/// Suite-level counts in JUnit terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

impl Counts {
    fn of(report: &RunReport) -> Counts {
        let mut c = Counts {
            tests: report.results.len(),
            failures: 0,
            errors: 0,
            skipped: 0,
        };
        for r in &report.results {
            match report.verdict(r.outcome) {
                Verdict::Failed => c.failures += 1,
                Verdict::Unjudged => c.errors += 1,
                Verdict::Skipped => c.skipped += 1,
                Verdict::Passed | Verdict::Noted => {}
            }
        }
        c
    }
}

/// The testcase's extras the schema has no attribute for, as the first lines of its
/// `<system-out>`.
fn case_header(r: &ScenarioResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "outcome:      {}", r.outcome.label());
    if !r.title.is_empty() {
        let _ = writeln!(out, "title:        {}", r.title);
    }
    if !r.cell.is_empty() {
        let _ = writeln!(out, "cell:         {}", r.cell);
    }
    if !r.file.is_empty() {
        let _ = writeln!(out, "file:         {}", r.file);
    }
    if !r.requirements.is_empty() {
        let reqs: Vec<String> = r
            .requirements
            .iter()
            .map(|q| format!("{} ({})", q.id, q.level))
            .collect();
        let _ = writeln!(out, "requirements: {}", reqs.join(", "));
    }
    out
}

fn testcase(out: &mut String, report: &RunReport, r: &ScenarioResult) {
    let _ = writeln!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{}\">",
        attr(&r.scenario),
        attr(&r.name()),
        seconds(r.duration_ms),
    );

    let mut system_out = case_header(r);
    let reason = r.reason.as_deref().unwrap_or("");
    match report.verdict(r.outcome) {
        Verdict::Passed => {}
        Verdict::Noted => {
            if !r.findings.is_empty() {
                let _ = write!(
                    system_out,
                    "\n{}: {} non-blocking finding(s)\n\n",
                    r.outcome.label(),
                    r.findings.len()
                );
                system_out.push_str(&findings_text(r));
            }
        }
        Verdict::Failed => {
            let message = match headline_finding(r) {
                Some(f) => {
                    let extra = r.findings.len() - 1;
                    let more = if extra > 0 {
                        format!(" (+{extra} more finding(s))")
                    } else {
                        String::new()
                    };
                    format!("{}{more}", finding_headline(f))
                }
                None if !reason.is_empty() => reason.to_string(),
                None => "MUST requirement broken".to_string(),
            };
            let mut body = String::new();
            if !reason.is_empty() {
                let _ = writeln!(body, "reason: {reason}\n");
            }
            body.push_str(&findings_text(r));
            // The type names the level that failed: MUST, or SHOULD/MAY under --fail-on.
            let kind = headline_finding(r).map_or("MUST", |f| f.level.as_str());
            element(
                out,
                "failure",
                &[("message", &message), ("type", kind)],
                &body,
            );
        }
        Verdict::Unjudged => {
            let (kind, message) = if r.outcome == Outcome::Xpass {
                let m = if reason.is_empty() {
                    "known deviation passed; update the target profile".to_string()
                } else {
                    format!("known deviation passed: {reason}")
                };
                ("xpass", m)
            } else {
                let m = if reason.is_empty() {
                    r.outcome.meaning().to_string()
                } else {
                    reason.into()
                };
                // `error` or `timeout`: CI tools show the type, and a timeout is no harness bug.
                (r.outcome.as_str(), m)
            };
            let mut body = String::new();
            let _ = writeln!(body, "{message}");
            for s in r.steps.iter().filter(|s| s.message.is_some()) {
                let _ = writeln!(
                    body,
                    "step {} ({:?}): {}",
                    s.id,
                    s.outcome,
                    s.message.as_deref().unwrap_or("")
                );
            }
            if !r.findings.is_empty() {
                body.push('\n');
                body.push_str(&findings_text(r));
            }
            element(
                out,
                "error",
                &[("message", &message), ("type", kind)],
                &body,
            );
        }
        Verdict::Skipped => {
            let message = match (r.outcome, reason.is_empty()) {
                (Outcome::Xfail, true) => "xfail: known deviation".to_string(),
                (Outcome::Xfail, false) => format!("xfail: {reason}"),
                (_, true) => "not applicable".to_string(),
                (_, false) => reason.to_string(),
            };
            let _ = writeln!(out, "      <skipped message=\"{}\"/>", attr(&message));
            if r.outcome == Outcome::Xfail && !r.findings.is_empty() {
                system_out.push('\n');
                system_out.push_str(&findings_text(r));
            }
        }
    }
    element(out, "system-out", &[], &system_out);

    out.push_str("    </testcase>\n");
}

/// Writes `<property name=".." value=".."/>` at `indent`.
fn property(out: &mut String, indent: usize, name: &str, value: &str) {
    let _ = writeln!(
        out,
        "{:indent$}<property name=\"{}\" value=\"{}\"/>",
        "",
        attr(name),
        attr(value),
        indent = indent
    );
}

/// Writes a `<name attrs>text</name>` child of a testcase.
fn element(out: &mut String, name: &str, attrs: &[(&str, &str)], body: &str) {
    let _ = write!(out, "      <{name}");
    for (k, v) in attrs {
        let _ = write!(out, " {k}=\"{}\"", attr(v));
    }
    let _ = writeln!(out, ">{}</{name}>", text(body));
}

/// One line summarising a finding: `[ID LEVEL] step s: subject expected X, observed Y`.
fn finding_headline(f: &Finding) -> String {
    format!(
        "[{} {}] step {}: {} expected {}, observed {}",
        f.requirement, f.level, f.step, f.subject, f.expected, f.observed
    )
}

/// Every finding of a result as plain text, each followed by its exchange(s).
pub(crate) fn findings_text(r: &ScenarioResult) -> String {
    let mut out = String::new();
    let mut shown: Vec<(&str, usize)> = Vec::new();
    for (i, f) in r.findings.iter().enumerate() {
        if i > 0 {
            out.push_str("\n----------------------------------------\n\n");
        }
        let _ = writeln!(out, "[{} {}]", f.requirement, f.level);
        if !f.requirement_text.is_empty() {
            let _ = writeln!(out, "requirement: {}", f.requirement_text);
        }
        let _ = writeln!(out, "step:        {}", f.step);
        let _ = writeln!(out, "subject:     {}", f.subject);
        let _ = writeln!(out, "expected:    {}", f.expected);
        let _ = writeln!(out, "observed:    {}", f.observed);
        if !f.location.is_empty() {
            let _ = writeln!(out, "location:    {}", f.location);
        }
        if !f.snippet.is_empty() {
            out.push('\n');
            out.push_str(f.snippet.trim_end_matches('\n'));
            out.push('\n');
        }
        for (idx, ex) in finding_exchanges(r, f) {
            if shown.contains(&(f.step.as_str(), idx)) {
                let _ = writeln!(
                    out,
                    "\n--- exchange #{idx} of step {}: shown above ---",
                    f.step
                );
                continue;
            }
            shown.push((&f.step, idx));
            let _ = writeln!(out, "\n--- exchange #{idx} (redacted) ---");
            out.push_str(&exchange_text(ex));
        }
    }
    out
}

/// The exchanges a finding points at: the one it names, or else every exchange of its step.
pub(crate) fn finding_exchanges<'a>(
    r: &'a ScenarioResult,
    f: &Finding,
) -> Vec<(usize, &'a Exchange)> {
    let Some(step) = r.steps.iter().find(|s| s.id == f.step) else {
        return Vec::new();
    };
    match f.exchange {
        Some(i) => step
            .exchanges
            .get(i)
            .map(|e| vec![(i, e)])
            .unwrap_or_default(),
        None => step.exchanges.iter().enumerate().collect(),
    }
}

/// Renders one exchange as HTTP-ish text: request line, headers, body; status, headers, body.
pub(crate) fn exchange_text(ex: &Exchange) -> String {
    format!("{}\n{}", request_text(ex), response_text(ex))
}

/// The request half of an exchange: request line, headers, blank line, body.
pub(crate) fn request_text(ex: &Exchange) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} {}", ex.request.method, ex.request.url);
    for (k, v) in &ex.request.headers {
        let _ = writeln!(out, "{k}: {v}");
    }
    if let Some(body) = ex.request.body.as_deref().filter(|b| !b.is_empty()) {
        out.push('\n');
        out.push_str(body.trim_end_matches('\n'));
        out.push('\n');
    }
    out
}

/// The response half of an exchange: status line, headers, blank line, body; or the
/// transport error when no response came.
pub(crate) fn response_text(ex: &Exchange) -> String {
    let mut out = String::new();
    match (&ex.response, &ex.error) {
        (Some(resp), _) => {
            let _ = writeln!(out, "HTTP {} ({} ms)", resp.status, ex.duration_ms);
            for (k, v) in &resp.headers {
                let _ = writeln!(out, "{k}: {v}");
            }
            if !resp.body.is_empty() {
                out.push('\n');
                out.push_str(resp.body.trim_end_matches('\n'));
                out.push('\n');
            }
        }
        (None, Some(err)) => {
            let _ = writeln!(out, "no response after {} ms: {err}", ex.duration_ms);
        }
        (None, None) => {
            let _ = writeln!(out, "no response after {} ms", ex.duration_ms);
        }
    }
    out
}

/// Milliseconds as JUnit seconds (`1.234`).
fn seconds(ms: u64) -> String {
    format!("{}.{:03}", ms / 1000, ms % 1000)
}

/// Whether XML 1.0 allows `c` at all (`Char` production).
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// Escapes text content; strips characters XML 1.0 forbids.
fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c if xml_char(c) => out.push(c),
            _ => {}
        }
    }
    out
}

/// Escapes an attribute value; whitespace controls become character references so that
/// attribute-value normalisation keeps them; strips characters XML 1.0 forbids.
fn attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            '\r' => out.push_str("&#13;"),
            c => out.push_str(&text(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::json::fixture::fixture;

    /// A deliberately small XML 1.0 well-formedness check: one root, balanced and properly
    /// nested tags, quoted attributes without raw `<`, only known or numeric entities, and no
    /// forbidden characters. Returns the element names in document order.
    fn check_well_formed(xml: &str) -> Result<Vec<String>, String> {
        if let Some(c) = xml.chars().find(|c| !xml_char(*c)) {
            return Err(format!("forbidden character U+{:04X}", c as u32));
        }
        let mut stack: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut roots = 0;
        let mut rest = xml;
        if let Some(after) = rest.strip_prefix("<?xml") {
            let end = after.find("?>").ok_or("unterminated XML declaration")?;
            rest = &after[end + 2..];
        }
        loop {
            let lt = rest.find('<').unwrap_or(rest.len());
            check_text(&rest[..lt])?;
            if stack.is_empty() && !rest[..lt].trim().is_empty() {
                return Err("text outside the root element".into());
            }
            if lt == rest.len() {
                break;
            }
            rest = &rest[lt + 1..];
            let gt = tag_end(rest).ok_or("unterminated tag")?;
            let tag = &rest[..gt];
            rest = &rest[gt + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                let open = stack.pop().ok_or_else(|| format!("stray </{name}>"))?;
                if open != name.trim() {
                    return Err(format!("</{name}> closes <{open}>"));
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let body = tag.trim_end_matches('/');
            let name_end = body.find(char::is_whitespace).unwrap_or(body.len());
            let name = &body[..name_end];
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_alphanumeric() || "-_:.".contains(c))
            {
                return Err(format!("bad element name {name:?}"));
            }
            check_attrs(&body[name_end..])?;
            if stack.is_empty() {
                roots += 1;
            }
            names.push(name.to_string());
            if !self_closing {
                stack.push(name.to_string());
            }
        }
        if let Some(open) = stack.pop() {
            return Err(format!("<{open}> never closed"));
        }
        if roots != 1 {
            return Err(format!("{roots} root elements"));
        }
        Ok(names)
    }

    /// Index of the `>` ending a tag, skipping quoted attribute values.
    fn tag_end(s: &str) -> Option<usize> {
        let mut quote = None;
        for (i, c) in s.char_indices() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '>') => return Some(i),
                _ => {}
            }
        }
        None
    }

    fn check_text(s: &str) -> Result<(), String> {
        if s.contains('>') {
            // Legal in XML, but the writer always escapes it.
            return Err(format!("raw '>' in text {s:?}"));
        }
        check_entities(s)
    }

    fn check_entities(s: &str) -> Result<(), String> {
        let mut rest = s;
        while let Some(amp) = rest.find('&') {
            rest = &rest[amp + 1..];
            let semi = rest.find(';').ok_or("unterminated entity")?;
            let ent = &rest[..semi];
            let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
                || ent
                    .strip_prefix('#')
                    .is_some_and(|n| !n.is_empty() && n.parse::<u32>().is_ok());
            if !ok {
                return Err(format!("bad entity &{ent};"));
            }
            rest = &rest[semi + 1..];
        }
        Ok(())
    }

    fn check_attrs(s: &str) -> Result<(), String> {
        let mut rest = s.trim();
        let mut seen = Vec::new();
        while !rest.is_empty() {
            let eq = rest
                .find('=')
                .ok_or_else(|| format!("attribute without value: {rest:?}"))?;
            let name = rest[..eq].trim();
            if seen.contains(&name) {
                return Err(format!("duplicate attribute {name}"));
            }
            seen.push(name);
            rest = rest[eq + 1..].trim_start();
            let q = rest.chars().next().ok_or("missing attribute value")?;
            if q != '"' && q != '\'' {
                return Err(format!("unquoted attribute {name}"));
            }
            let close = rest[1..].find(q).ok_or("unterminated attribute")?;
            let value = &rest[1..1 + close];
            if value.contains('<') {
                return Err(format!("raw '<' in attribute {name}"));
            }
            check_entities(value)?;
            rest = rest[close + 2..].trim_start();
        }
        Ok(())
    }

    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&#10;", "\n")
            .replace("&#9;", "\t")
            .replace("&#13;", "\r")
            .replace("&amp;", "&")
    }

    /// Value of attribute `name` on the first element whose start tag begins with `start`.
    fn attr_of(xml: &str, start: &str, name: &str) -> Option<String> {
        let at = xml.find(start)?;
        let tag = &xml[at..at + tag_end(&xml[at..])?];
        let key = format!(" {name}=\"");
        let v = &tag[tag.find(&key)? + key.len()..];
        Some(unescape(&v[..v.find('"')?]))
    }

    #[test]
    fn well_formed() {
        let xml = render(&fixture());
        let names = check_well_formed(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        assert_eq!(names.first().map(String::as_str), Some("testsuites"));
        assert_eq!(names.iter().filter(|n| *n == "testsuite").count(), 1);
        assert_eq!(names.iter().filter(|n| *n == "testcase").count(), 9);
    }

    #[test]
    fn checker_rejects_broken_xml() {
        for bad in [
            "<a><b></a></b>",
            "<a>",
            "<a>x & y</a>",
            "<a b=\"<\"/>",
            "<a/><b/>",
            "<a>\u{1}</a>",
            "<a b=c/>",
            "<a>&bogus;</a>",
        ] {
            assert!(check_well_formed(bad).is_err(), "accepted {bad:?}");
        }
        assert!(check_well_formed("<?xml version=\"1.0\"?>\n<a x='1'><b/>t&amp;</a>\n").is_ok());
    }

    #[test]
    fn counts() {
        let report = fixture();
        let xml = render(&report);
        for start in ["<testsuites ", "<testsuite "] {
            assert_eq!(attr_of(&xml, start, "tests").as_deref(), Some("9"));
            assert_eq!(
                attr_of(&xml, start, "failures").as_deref(),
                Some("1"),
                "{start}"
            );
            assert_eq!(
                attr_of(&xml, start, "errors").as_deref(),
                Some("3"),
                "{start}"
            );
            assert_eq!(attr_of(&xml, start, "time").as_deref(), Some("12.345"));
        }
        // The schema allows `skipped` and `timestamp` on the suite only.
        assert_eq!(attr_of(&xml, "<testsuites ", "skipped"), None);
        assert_eq!(attr_of(&xml, "<testsuites ", "timestamp"), None);
        assert_eq!(
            attr_of(&xml, "<testsuite ", "skipped").as_deref(),
            Some("2")
        );
        assert_eq!(
            attr_of(&xml, "<testsuite ", "timestamp").as_deref(),
            Some("2025-01-02T03:04:05Z")
        );
        assert_eq!(
            attr_of(&xml, "<testsuite ", "name"),
            Some(report.target.name.clone())
        );
        assert_eq!(xml.matches("<failure ").count(), 1);
        assert_eq!(xml.matches("<error ").count(), 3);
        assert_eq!(xml.matches("<skipped ").count(), 2);
        assert_eq!(
            xml.matches("<system-out>").count(),
            9,
            "every testcase's extras"
        );
        assert!(xml.contains("type=\"MUST\""));
        assert!(xml.contains("type=\"xpass\""));
        assert!(xml.contains("<error message=\"no answer within 10 s\" type=\"timeout\">"));
    }

    #[test]
    fn fail_on_warn_turns_warnings_into_failures() {
        let mut report = fixture();
        report.fail_on = crate::report::FailOn::Warn;
        let xml = render(&report);
        assert_eq!(
            attr_of(&xml, "<testsuite ", "failures").as_deref(),
            Some("2")
        );
        assert!(xml.contains("type=\"SHOULD\""));
        assert!(xml.contains("<property name=\"fail_on\" value=\"warn\"/>"));
    }

    #[test]
    fn testcase_names_and_properties() {
        let report = fixture();
        let xml = render(&report);
        for r in &report.results {
            let tag = format!(
                "<testcase classname=\"{}\" name=\"{}\"",
                attr(&r.scenario),
                attr(&r.name())
            );
            assert!(xml.contains(&tag), "missing {tag}");
        }
        // No attribute or element the schema lacks: the extras are in system-out.
        assert!(!xml.contains(" file=\""));
        assert_eq!(
            xml.matches("<properties>").count(),
            1,
            "suite properties only"
        );
        assert!(
            xml.contains("requirements: RFC6749-6-refresh (MUST), RFC9700-4.14-rotation (SHOULD)")
        );
        assert!(xml.contains("file:         specs/refresh-rotation.yaml"));
        // The requirement roll-up, untested included, and the coverage.
        assert!(xml.contains("name=\"requirement:RFC6749-6-refresh\" value=\"MUST ERROR\""));
        assert!(xml.contains("name=\"requirement:RFC7009-2.1-revoke\" value=\"MUST UNTESTED\""));
        assert!(xml.contains("name=\"coverage.requirements_untested\" value=\"1\""));
        assert!(xml.contains("name=\"verdict\" value=\"FAILED: 3 of 4 requirements tested (1 untested); 1 of 9 cells skipped\""));
        assert!(xml.contains("time=\"0.250\""));
    }

    #[test]
    fn escaping() {
        let report = fixture();
        let xml = render(&report);
        assert!(!xml.contains('\u{7}') && !xml.contains('\u{1b}'));
        // The nasty scenario id as attribute and as text.
        assert!(xml.contains("classname=\"weird&lt;&amp;&quot;&apos;&gt;\""));
        assert!(xml.contains("observed:    &lt;html&gt; &amp; &quot;quotes&quot; &apos;x&apos;"));
        // Finding body carries step, expected/observed, location, snippet and the exchange.
        let fail_msg = attr_of(&xml, "<failure ", "message").unwrap_or_default();
        assert!(fail_msg.starts_with("[RFC6749-6-refresh MUST] step refresh: status expected 200"));
        assert!(fail_msg.ends_with("(+1 more finding(s))"), "{fail_msg}");
        for needle in [
            "location:    specs/refresh.yaml:12:9",
            "   |     ^^^^^^",
            "POST https://as.example/token",
            "grant_type=refresh_token&amp;refresh_token=[REDACTED]",
            "HTTP 400 (120 ms)",
            "--- exchange #0 (redacted) ---",
            "--- exchange #0 of step refresh: shown above ---",
        ] {
            assert!(xml.contains(needle), "missing {needle:?}");
        }
        assert_eq!(text("a\u{0}b\u{1f}c\u{FFFE}d\te"), "abcd\te");
        assert_eq!(attr("a\nb\"c'<&>"), "a&#10;b&quot;c&apos;&lt;&amp;&gt;");
    }

    #[test]
    fn skip_and_error_messages() {
        let xml = render(&fixture());
        assert!(xml.contains("<skipped message=\"target lacks capability `revocation`\"/>"));
        assert!(xml.contains("<skipped message=\"xfail: known deviation: PROJ-1 &lt;open&gt;\"/>"));
        assert!(xml.contains("message=\"connection refused\" type=\"error\""));
        assert!(xml.contains("step bootstrap (Error): connection refused"));
    }

    #[test]
    fn empty_report() {
        let mut report = fixture();
        report.results.clear();
        let xml = render(&report);
        check_well_formed(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
        assert_eq!(attr_of(&xml, "<testsuite ", "tests").as_deref(), Some("0"));
    }
}
