//! Deduplication by root cause. A request that trips an oracle first gets a signature from what
//! was seen (oracle, status, error, mutation kinds). A new signature is confirmed and minimised
//! once (see `super::minimize`); the minimised request's classes then name its root cause:
//! one finding per (oracle, endpoint, status, error code, minimal mutation classes), counting
//! every request that reached it.

use super::oracle::Oracle;
use super::request::Req;
use std::collections::{BTreeMap, HashMap};

/// The endpoint every generated request goes to.
pub const ENDPOINT: &str = "token";

/// A signature of what was seen, before minimisation.
pub fn raw_key(o: Oracle, status: Option<u16>, code: Option<&str>, req: &Req) -> String {
    format!(
        "{}/{}/{}/{}",
        o.slug(),
        status.unwrap_or(0),
        code.unwrap_or(""),
        req.kinds().join("+")
    )
}

/// The root cause of a minimised finding.
pub fn root_key(o: Oracle, status: Option<u16>, code: Option<&str>, req: &Req) -> String {
    if o.endpoint_wide() {
        return format!(
            "{}/{ENDPOINT}/{}xx",
            o.slug(),
            status.map_or(0, |s| s / 100)
        );
    }
    format!(
        "{}/{ENDPOINT}/{}/{}/{}",
        o.slug(),
        status.unwrap_or(0),
        code.unwrap_or(""),
        req.classes().join("+")
    )
}

/// One deduplicated finding.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What went wrong.
    pub oracle: Oracle,
    /// The minimised request that reproduces it.
    pub req: Req,
    /// Status seen on the minimised request.
    pub status: Option<u16>,
    /// `error` seen on it, if any.
    pub error_code: Option<String>,
    /// What the oracle saw when it first fired (never a secret value).
    pub detail: String,
    /// Whether its minimisation ran to the end.
    pub complete: bool,
    /// Requests that hit this root cause.
    pub hits: u64,
    /// Hits per minimised mutation kinds (`+`-joined, `-` for none).
    pub variants: BTreeMap<String, u64>,
    /// The root-cause key.
    pub key: String,
    /// The reproducer file, once written.
    pub file: Option<std::path::PathBuf>,
}

impl Finding {
    /// The minimised request's mutation kinds, `+`-joined (`-` for none).
    pub fn kinds_label(&self) -> String {
        label(&self.req)
    }

    /// What the server answered and to what: `status S, error E, mutations M` (the console's
    /// FINDING line, which labs parse, and the SARIF message say it alike).
    pub fn answer_label(&self) -> String {
        format!(
            "status {}, error {}, mutations {}",
            self.status.map_or("none".into(), |s| s.to_string()),
            self.error_code.as_deref().unwrap_or("-"),
            self.kinds_label()
        )
    }
}

fn label(req: &Req) -> String {
    let k = req.kinds();
    if k.is_empty() {
        "-".into()
    } else {
        k.join("+")
    }
}

enum Raw {
    /// Being confirmed; hits seen meanwhile.
    Pending(u64),
    /// Resolved to a root cause and a variant.
    Root(String, String),
    /// Did not fire again on a second try: not counted.
    Dismissed,
}

/// What the caller should do with a firing request.
pub enum Seen {
    /// Already counted.
    Counted,
    /// A new signature: confirm and minimise it, then [`Triage::resolve`] or
    /// [`Triage::dismiss`].
    New,
}

/// The findings so far.
#[derive(Default)]
pub struct Triage {
    raw: HashMap<String, Raw>,
    roots: BTreeMap<String, Finding>,
    /// Signatures that did not fire again.
    pub dismissed: u64,
    /// Root causes made so far (numbers the reproducers).
    made: usize,
}

impl Triage {
    /// Counts a firing request with signature `raw`.
    pub fn observe(&mut self, raw: &str) -> Seen {
        match self.raw.get_mut(raw) {
            Some(Raw::Pending(n)) => {
                *n += 1;
                Seen::Counted
            }
            Some(Raw::Root(root, variant)) => {
                if let Some(f) = self.roots.get_mut(root.as_str()) {
                    f.hits += 1;
                    *f.variants.entry(variant.clone()).or_insert(0) += 1;
                }
                Seen::Counted
            }
            Some(Raw::Dismissed) => Seen::Counted,
            None => {
                self.raw.insert(raw.to_owned(), Raw::Pending(1));
                Seen::New
            }
        }
    }

    /// The signature `raw` fired again; `req` is its minimised request, with what was seen.
    /// Returns a new root cause's finding with its number.
    /// When the bounds cut the minimisation short (`complete` false), a known root cause with
    /// the same oracle, status and error whose classes the request has is taken to be its own.
    #[allow(clippy::too_many_arguments)] // one call site; the parts of a finding
    pub fn resolve(
        &mut self,
        raw: &str,
        oracle: Oracle,
        req: Req,
        status: Option<u16>,
        code: Option<String>,
        detail: String,
        complete: bool,
    ) -> Option<(usize, Finding)> {
        let hits = match self.raw.get(raw) {
            Some(Raw::Pending(n)) => *n,
            _ => 1,
        };
        let mut key = root_key(oracle, status, code.as_deref(), &req);
        if !complete && !self.roots.contains_key(&key) {
            let classes = req.classes();
            let known = self.roots.values().find(|f| {
                f.oracle == oracle
                    && f.status == status
                    && f.error_code == code
                    && f.req.classes().iter().all(|c| classes.contains(c))
            });
            if let Some(f) = known {
                key = f.key.clone();
            }
        }
        let variant = label(&req);
        let new = !self.roots.contains_key(&key);
        let f = self.roots.entry(key.clone()).or_insert_with(|| Finding {
            oracle,
            req,
            status,
            error_code: code,
            detail,
            complete,
            hits: 0,
            variants: BTreeMap::new(),
            key: key.clone(),
            file: None,
        });
        f.hits += hits;
        // Another request minimised to the same classes: they are minimal after all.
        f.complete |= complete;
        *f.variants.entry(variant.clone()).or_insert(0) += hits;
        let made = new.then(|| f.clone());
        self.raw.insert(raw.to_owned(), Raw::Root(key, variant));
        if made.is_some() {
            self.made += 1;
        }
        made.map(|f| (self.made, f))
    }

    /// Records where a finding's reproducer was written.
    pub fn set_file(&mut self, key: &str, path: std::path::PathBuf) {
        if let Some(f) = self.roots.get_mut(key) {
            f.file = Some(path);
        }
    }

    /// The signature `raw` did not fire again (a flake, or a state the request had consumed).
    pub fn dismiss(&mut self, raw: &str) {
        self.raw.insert(raw.to_owned(), Raw::Dismissed);
        self.dismissed += 1;
    }

    /// The findings, by oracle, most hit first.
    /// A finding whose minimisation was cut short, folded into a fully minimised one with the
    /// same oracle, status and error whose classes it has (found later, perhaps), goes there;
    /// the second value lists the reproducers those leave behind.
    pub fn findings(self) -> (Vec<Finding>, Vec<std::path::PathBuf>) {
        let (done, partial): (Vec<Finding>, Vec<Finding>) =
            self.roots.into_values().partition(|f| f.complete);
        let mut v = done;
        let mut orphans = Vec::new();
        for p in partial {
            let classes = p.req.classes();
            let home = v.iter_mut().find(|f| {
                f.oracle == p.oracle
                    && f.status == p.status
                    && f.error_code == p.error_code
                    && f.req.classes().iter().all(|c| classes.contains(c))
            });
            match home {
                Some(f) => {
                    f.hits += p.hits;
                    for (k, n) in p.variants {
                        *f.variants.entry(k).or_insert(0) += n;
                    }
                    orphans.extend(p.file);
                }
                None => v.push(p),
            }
        }
        v.sort_by(|a, b| a.oracle.cmp(&b.oracle).then(b.hits.cmp(&a.hits)));
        (v, orphans)
    }

    /// Root causes found so far.
    pub fn len(&self) -> usize {
        self.roots.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
mod tests {
    use super::*;
    use crate::blackbox::grammar::{Base, Mutation, build};
    use crate::blackbox::request::Live;
    use crate::invariant::Rule;

    #[test]
    fn one_root_cause_per_minimal_class_cut_minimisations_folded_in() {
        let s = crate::blackbox::test_session();
        let req = |m: &[Mutation]| build(&s, Base::UnknownGrant, m, Live::default()).unwrap();
        let o = Oracle::Invariant(Rule::ServerError);
        let code = || Some("server_error".to_owned());
        let mut t = Triage::default();
        // A minimisation the bounds cut short, before the root cause it belongs to was known.
        let both = req(&[
            Mutation::BadPercent,
            Mutation::DuplicateParam("scope".into()),
        ]);
        assert!(matches!(t.observe("a"), Seen::New));
        assert!(matches!(t.observe("a"), Seen::Counted));
        t.resolve("a", o, both, Some(500), code(), String::new(), false);
        // Two signatures minimised to the same class: one finding.
        for raw in ["b", "c"] {
            assert!(matches!(t.observe(raw), Seen::New));
            let one = req(&[Mutation::InvalidUtf8]);
            t.resolve(raw, o, one, Some(500), code(), String::new(), true);
        }
        assert!(matches!(t.observe("b"), Seen::Counted));
        let (found, orphans) = t.findings();
        assert_eq!(
            found.len(),
            1,
            "{:?}",
            found.iter().map(|f| &f.key).collect::<Vec<_>>()
        );
        assert_eq!(found[0].req.classes(), ["body-encoding"]);
        assert_eq!(found[0].hits, 5, "2 + 1 + 1 + 1");
        assert!(orphans.is_empty(), "no reproducer was written in this test");
    }
}
