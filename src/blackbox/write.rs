//! Findings as scenario YAML in the specs format: security teams hand them to the vendor, CI
//! replays them with `tokencert run`. The request is written from the same representation it
//! was sent from ([`Req`]), so the replay sends the same bytes: live tokens and the profile's
//! values as templates, bytes YAML cannot hold percent-escaped in `body_raw`.

use super::Finding;
use super::oracle::Oracle;
use super::request::{Auth, FORM, ROLE, Req, Seg, Sym, Val, header_map};
use crate::invariant::{Rule, TOKEN_ERROR_CODES};
use crate::scenario::emit::{
    ActionDoc, CaptureDoc, CheckDoc, ClientAuthDoc, ClientAuthWith, ExpectDoc, RequestDoc,
    RequirementDoc, ScenarioDoc, StatusDoc, StepDoc,
};
use serde_saphyr::{FlowMap, FlowSeq};

/// `error` / `error_description` characters (RFC 6749 §5.2), as a regex.
const ERROR_CHARSET: &str = r"^[\x20-\x21\x23-\x5B\x5D-\x7E]*$";

/// HTTP-level refusals, which are no §5.2 token errors (as the invariants scope them).
const HTTP_REFUSALS: [u16; 5] = [405, 413, 415, 429, 431];

/// What the oracle's rule expects of the answer, or `None` where no scenario predicate can
/// say it (slowness, an echoed value only the live request held).
fn expect_of(f: &Finding) -> Option<ExpectDoc> {
    let mut e = ExpectDoc::default();
    let check = |c: &str, f: &dyn Fn(&mut CheckDoc)| (c.to_owned(), CheckDoc::flow(f));
    match f.oracle {
        Oracle::Invariant(Rule::ServerError) | Oracle::Dropped => {
            e.status = StatusDoc::check(|c| c.lt = Some(500));
        }
        Oracle::TokenForInvalidRequest => {
            e.json = vec![
                check("$.access_token", &|c| c.absent = Some(true)),
                check("$.refresh_token", &|c| c.absent = Some(true)),
            ];
        }
        Oracle::Invariant(Rule::ErrorJson) => {
            let codes: Vec<serde_json::Value> =
                TOKEN_ERROR_CODES.iter().map(|(c, _)| (*c).into()).collect();
            e.headers = vec![check("content-type", &|c| {
                c.matches = Some(r"(?i)^\s*application/json\s*(;|$)".into());
            })];
            e.json = vec![check("$.error", &|c| {
                c.one_of = Some(FlowSeq(codes.clone()))
            })];
        }
        Oracle::Invariant(Rule::ErrorCharset) => {
            e.json = ["$.error", "$.error_description"]
                .iter()
                .map(|p| {
                    check(p, &|c| {
                        c.matches = Some(ERROR_CHARSET.into());
                        c.optional = Some(true);
                    })
                })
                .collect();
        }
        Oracle::Invariant(Rule::ErrorStatus) => {
            // 400, or 401 for invalid_client.
            let mut allowed = vec![400];
            allowed.extend(HTTP_REFUSALS);
            if f.error_code.as_deref() == Some("invalid_client") {
                allowed.push(401);
            }
            allowed.sort_unstable();
            e.status = Some(StatusDoc::OneOf(FlowSeq(allowed)));
        }
        Oracle::Invariant(Rule::Challenge) => {
            e.headers = vec![check("www-authenticate", &|c| {
                c.matches = Some(r"\S".into());
            })];
        }
        // After Basic: a 401 challenges Basic, and invalid_client is a 401.
        Oracle::Invariant(Rule::BasicChallenge) if f.status == Some(401) => {
            e.headers = vec![check("www-authenticate", &|c| {
                c.matches = Some(r"(?i)(^|,)\s*basic(\s|,|$)".into());
            })];
        }
        Oracle::Invariant(Rule::BasicChallenge) => {
            e.status = StatusDoc::check(|c| c.equals = Some(401.into()));
        }
        Oracle::Invariant(Rule::NoStore) => {
            e.headers = vec![check("cache-control", &|c| {
                c.matches = Some(r"(?i)(^|,)\s*no-store\s*(,|$)".into());
            })];
        }
        Oracle::Invariant(Rule::Pragma) => {
            e.headers = vec![check("pragma", &|c| {
                c.matches = Some(r"(?i)(^|,)\s*no-cache\s*(,|$)".into());
            })];
        }
        Oracle::Invariant(Rule::SecretEcho) => {
            // Only a value the request holds as a template or a literal can be named.
            let echoed = echoed_value(f)?;
            e.body = Some(CheckDoc::flow(|c| c.not_contains = Some(echoed)));
        }
        Oracle::Slow => return None,
    }
    Some(e)
}

/// The request value an error repeated (named in the finding's detail), as the reproducer
/// writes it: a template for a live or profile value, else the literal.
fn echoed_value(f: &Finding) -> Option<String> {
    let names: Vec<&str> = f.detail.split('`').skip(1).step_by(2).collect();
    let req = &f.req;
    names.iter().find_map(|name| {
        req.params
            .iter()
            .chain(&req.query)
            .find(|(k, _)| k == name)
            .map(|(_, v)| val(v, req))
            .filter(|v| v.chars().count() >= 8)
    })
}

fn tpl(s: Sym, req: &Req) -> String {
    format!("{{{{ {} }}}}", s.template(&req.live))
}

fn val(v: &Val, req: &Req) -> String {
    match v {
        Val::Lit(l) => l.clone(),
        Val::Sym(s) => tpl(*s, req),
    }
}

/// Whether the request uses a symbol anywhere.
fn uses(req: &Req, want: &[Sym]) -> bool {
    req.params
        .iter()
        .chain(&req.query)
        .any(|(_, v)| matches!(v, Val::Sym(s) if want.contains(s)))
}

/// The request as the scenario format writes it.
fn request_doc(req: &Req) -> RequestDoc {
    let mut r = RequestDoc {
        method: Some(req.method.clone()),
        endpoint: "token".into(),
        query: req
            .query
            .iter()
            .map(|(k, v)| (k.clone(), val(v, req)))
            .collect(),
        headers: req.headers.clone(),
        ..RequestDoc::default()
    };
    r.client_auth = match &req.auth {
        Auth::Registered => Some(ClientAuthDoc::Role(ROLE.into())),
        Auth::None => None,
        Auth::With {
            method,
            secret,
            jwt_header,
        } => Some(ClientAuthDoc::With(FlowMap(ClientAuthWith {
            client: ROLE.into(),
            method: Some(method.as_str().into()),
            secret: secret.clone(),
            header: header_map(jwt_header),
        }))),
    };
    if !req.raw_body() {
        r.form = req
            .params
            .iter()
            .map(|(k, v)| (k.clone(), val(v, req)))
            .collect();
        return r;
    }
    if let Some(ct) = &req.content_type {
        r.headers.push(("Content-Type".into(), ct.clone()));
    }
    let segs = req.body_segments();
    let text: Option<String> = segs.iter().try_fold(String::new(), |mut acc, s| {
        match s {
            Seg::Lit(b) => acc.push_str(
                std::str::from_utf8(b)
                    .ok()
                    .filter(|t| super::request::template_safe(t))?,
            ),
            Seg::Form(s) => {
                acc.push_str(&format!("{{{{ {} | urlencode }}}}", s.template(&req.live)))
            }
            Seg::Json(s) => acc.push_str(&format!("{{{{ {} | json }}}}", s.template(&req.live))),
        }
        Some(acc)
    });
    match text {
        Some(t) => r.body = Some(t),
        None => {
            let esc = crate::scenario::escape::escape;
            r.body_raw = Some(
                segs.iter()
                    .map(|s| match s {
                        Seg::Lit(b) => esc(b),
                        Seg::Form(s) => format!("{{{{ {} | urlencode }}}}", s.template(&req.live)),
                        Seg::Json(s) => format!("{{{{ {} | json }}}}", s.template(&req.live)),
                    })
                    .collect(),
            );
        }
    }
    debug_assert!(req.content_type.as_deref() != Some(FORM) || r.form.is_empty());
    r
}

/// The scenario text, or `None` for findings no scenario predicate can express (slowness).
pub fn scenario(f: &Finding, seed: u64, target: &str, n: usize) -> Option<Result<String, String>> {
    let expect = expect_of(f)?;
    let req = &f.req;
    let mut setup = Vec::new();
    let capture = |var: &str, path: &str| {
        let mut s = StepDoc::new(None, ActionDoc::Bootstrap(None));
        s.capture = vec![(var.to_owned(), CaptureDoc::secret_json(path))];
        s
    };
    if uses(req, &[Sym::RefreshToken, Sym::TamperedRefreshToken]) {
        setup.push(capture("rt0", "$.refresh_token"));
    }
    if uses(req, &[Sym::AccessToken]) {
        setup.push(capture("at0", "$.access_token"));
    }
    let mut step = StepDoc::new(None, ActionDoc::Request(request_doc(req)));
    step.expect = Some(expect);
    let kinds = req.kinds();
    let doc = ScenarioDoc {
        comments: vec![
            format!("Reproducer {n} found by `tokencert fuzz --seed {seed}` against {target}."),
            format!(
                "{} (status {}, error {}); findings.json counts the requests that hit it.",
                f.oracle.describe(),
                f.status.map_or("none".into(), |s| s.to_string()),
                f.error_code.as_deref().unwrap_or("-"),
            ),
            format!("Root cause: {}.", f.key),
        ],
        title: format!(
            "fuzz: {} ({})",
            f.oracle.describe(),
            if kinds.is_empty() {
                "unmutated".into()
            } else {
                kinds.join(", ")
            }
        ),
        requirements: vec![RequirementDoc::at(
            f.oracle.requirement(),
            f.oracle.level().as_str(),
        )],
        tags: vec!["fuzz".into()],
        setup,
        steps: vec![step],
        ..ScenarioDoc::default()
    };
    Some(doc.to_yaml())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // unwrap is the assertion in tests
mod tests {
    use super::*;
    use crate::blackbox::grammar::{Base, Mutation, build};
    use crate::blackbox::request::Live;
    use crate::scenario::Action;

    fn finding(req: Req) -> Finding {
        Finding {
            oracle: Oracle::Invariant(Rule::ServerError),
            req,
            detail: String::new(),
            status: Some(500),
            error_code: None,
            hits: 1,
            variants: Default::default(),
            key: "k".into(),
            file: None,
        }
    }

    /// The body the reproducer sends with `rt0` bound to `rt` and the session's profile.
    fn replayed_body(text: &str, rt: &str) -> Vec<u8> {
        let s = crate::scenario::load::scenario_from_str("r.yaml", text)
            .unwrap_or_else(|d| panic!("{text}\n{}", d[0].render()));
        let Action::Request(r) = &s.steps[0].action else {
            panic!("{text}")
        };
        let mut scope = serde_json::Map::new();
        scope.insert("rt0".into(), rt.into());
        scope.insert(
            "test_user".into(),
            serde_json::json!({"username": "alice", "password": "pw"}),
        );
        match (&r.body, &r.body_raw) {
            (Some(b), None) => b.template.render_string(&scope).unwrap().into_bytes(),
            (None, Some(b)) => b
                .template
                .render_bytes(&scope, crate::scenario::escape::unescape)
                .unwrap()
                .unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn raw_bodies_replay_the_bytes_sent() {
        let s = crate::blackbox::test_session();
        // A live token that form-encoding changes, bytes YAML cannot hold, a profile secret.
        let live = || Live {
            refresh_token: Some("rt-live%value".into()),
            access_token: None,
        };
        for (base, m) in [
            (Base::Refresh, Mutation::InvalidUtf8),
            (Base::Refresh, Mutation::BadPercent),
            (Base::Password, Mutation::InvalidUtf8),
            (Base::Refresh, Mutation::JsonBody),
        ] {
            let req = build(&s, base, &[m], live()).unwrap();
            let wire = req.prepare(&s).unwrap().body;
            let text = scenario(&finding(req), 1, "t", 1).unwrap().unwrap();
            for secret in ["rt-live", "pw\n", "=pw"] {
                assert!(!text.contains(secret), "{secret} leaked: {text}");
            }
            assert_eq!(replayed_body(&text, "rt-live%value"), wire, "{text}");
        }
        // Printable UTF-8 stays a readable `body`, a plain form stays `form`.
        let req = build(&s, Base::Refresh, &[Mutation::BadPercent], live()).unwrap();
        let text = scenario(&finding(req), 1, "t", 1).unwrap().unwrap();
        assert!(
            text.contains("body:") && !text.contains("body_raw"),
            "{text}"
        );
        let req = build(&s, Base::Refresh, &[Mutation::UnknownParam(2)], live()).unwrap();
        let text = scenario(&finding(req), 1, "t", 1).unwrap().unwrap();
        assert!(
            text.contains("form:") && text.contains("{{ rt0 }}"),
            "{text}"
        );
    }
}
