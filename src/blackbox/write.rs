//! Findings as scenario YAML in the specs format: security teams hand them to the vendor, CI
//! replays them with `tokencert run`.

use super::Finding;
use super::grammar::{Auth, Base, Mutation};
use super::oracle::Oracle;
use crate::scenario::emit::{
    ActionDoc, CaptureDoc, CheckDoc, ClientAuthDoc, ClientAuthWith, ExpectDoc, RequestDoc,
    RequirementDoc, ScenarioDoc, StatusDoc, StepDoc,
};
use serde_saphyr::{FlowMap, FlowSeq};

/// The template the confidential client's id is written as.
const CLIENT_ID: &str = "{{ clients.confidential.id }}";

/// What the oracle's rule expects of the answer, or `None` where no scenario predicate can
/// say it (slowness).
fn expect_of(oracle: Oracle) -> Option<ExpectDoc> {
    let mut e = ExpectDoc::default();
    match oracle {
        Oracle::ServerError => {
            e.status = StatusDoc::check(|c| c.lt = Some(500));
        }
        Oracle::TokenForInvalidRequest => {
            e.status = StatusDoc::check(|c| c.gte = Some(400));
            e.json = vec![(
                "$.access_token".into(),
                CheckDoc::flow(|c| c.absent = Some(true)),
            )];
        }
        Oracle::MalformedError => {
            e.headers = vec![(
                "content-type".into(),
                CheckDoc::flow(|c| c.contains = Some("json".into())),
            )];
            // RFC 6749 §5.2: `error` is limited to these characters.
            e.json = vec![(
                "$.error".into(),
                CheckDoc::flow(|c| {
                    c.matches = Some(r"^[\x20-\x21\x23-\x5B\x5D-\x7E]+$".into());
                }),
            )];
        }
        Oracle::WrongStatus => {
            e.status = Some(StatusDoc::OneOf(FlowSeq(vec![400, 401, 405, 413, 415])));
        }
        Oracle::MissingChallenge => {
            e.headers = vec![(
                "www-authenticate".into(),
                CheckDoc::flow(|c| c.matches = Some("(?i)^basic".into())),
            )];
        }
        Oracle::MissingNoStore => {
            e.headers = vec![(
                "cache-control".into(),
                CheckDoc::flow(|c| c.contains = Some("no-store".into())),
            )];
        }
        Oracle::Slow => return None,
    }
    Some(e)
}

/// Whether YAML can hold `s` as a string (its printable set, RFC-free: YAML 1.2 §5.1).
fn yaml_printable(s: &str) -> bool {
    s.chars().all(|c| {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{85}')
            || ('\u{a0}'..='\u{d7ff}').contains(&c)
            || ('\u{e000}'..='\u{fffd}').contains(&c)
            || c >= '\u{10000}'
    })
}

/// The scenario text, or `None` for findings no scenario predicate can express (slowness).
pub fn scenario(f: &Finding, seed: u64, target: &str, n: usize) -> Option<Result<String, String>> {
    let expect = expect_of(f.oracle)?;
    let req = &f.req;
    let rt = req.refresh_token.as_deref().filter(|t| !t.is_empty());
    // Replaces the live refresh token (and its tampered form) with templates.
    let templ = |v: &str| -> String {
        let Some(rt) = rt else { return v.to_owned() };
        if v == rt {
            return "{{ rt0 }}".into();
        }
        let chars: Vec<char> = rt.chars().collect();
        let i = chars.len() / 2;
        let mut t = chars.clone();
        if let Some(c) = t.get_mut(i) {
            *c = if *c == 'A' { 'B' } else { 'A' };
        }
        if v == t.into_iter().collect::<String>() {
            return format!("{{{{ rt0 | replace_char({i}) }}}}");
        }
        v.replace(rt, "{{ rt0 }}")
    };
    let kinds: Vec<String> = req.mutations.iter().map(Mutation::kind).collect();
    let mut setup = Vec::new();
    let capture = |var: &str, path: &str| {
        let mut s = StepDoc::new(None, ActionDoc::Bootstrap(None));
        s.capture = vec![(var.to_owned(), CaptureDoc::secret_json(path))];
        s
    };
    if req.base == Base::Refresh && rt.is_some() {
        setup.push(capture("rt0", "$.refresh_token"));
    } else if req.base == Base::TokenExchange {
        setup.push(capture("at0", "$.access_token"));
    }
    let mut r = RequestDoc {
        method: Some(req.method.clone()),
        endpoint: "token".into(),
        ..RequestDoc::default()
    };
    let mut form: Vec<(String, String)> = req.params.clone();
    if req.base == Base::TokenExchange {
        for (k, v) in &mut form {
            if k == "subject_token" {
                *v = "{{ at0 }}".into();
            }
        }
    }
    let mut headers: Vec<(String, String)> = req.headers.clone();
    let with = |method: &str, secret: Option<&str>| {
        Some(ClientAuthDoc::With(FlowMap(ClientAuthWith {
            client: "confidential".into(),
            method: Some(method.into()),
            secret: secret.map(str::to_owned),
        })))
    };
    match &req.auth {
        Auth::Registered => r.client_auth = Some(ClientAuthDoc::Role("confidential".into())),
        Auth::None => {}
        Auth::Raw(v) => headers.push(("Authorization".into(), v.clone())),
        Auth::WrongSecret => {
            r.client_auth = with("client_secret_basic", Some("tokencert-wrong-secret"));
        }
        Auth::IdOnly => r.client_auth = with("none", None),
        Auth::Both => {
            r.client_auth = with("client_secret_basic", None);
            form.push(("client_id".into(), CLIENT_ID.into()));
            form.push(("client_secret".into(), "tokencert-second-credential".into()));
        }
        Auth::AssertionNone => {
            form.push(("client_id".into(), CLIENT_ID.into()));
            form.push((
                "client_assertion_type".into(),
                crate::session::ASSERTION_TYPE.into(),
            ));
            form.push((
                "client_assertion".into(),
                "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.".into(),
            ));
        }
    }
    if req.query_credentials {
        r.query = vec![("client_id".into(), CLIENT_ID.into())];
    }
    // A raw body where a form cannot say it: JSON, appended bytes, or no content type.
    let raw = req.json_body
        || !req.raw_suffix.is_empty()
        || req.content_type.is_none()
        || req
            .content_type
            .as_deref()
            .is_some_and(|c| !c.starts_with("application/x-www-form-urlencoded"));
    if let Some(ct) = &req.content_type
        && raw
    {
        headers.push(("Content-Type".into(), ct.clone()));
    }
    r.headers = headers;
    if raw && req.json_body {
        let map: serde_json::Map<String, serde_json::Value> = form
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(templ(v))))
            .collect();
        r.body = Some(serde_json::Value::Object(map).to_string());
    } else if raw {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &form {
            s.append_pair(k, v);
        }
        let mut bytes = s.finish().into_bytes();
        bytes.extend_from_slice(&req.raw_suffix);
        // Templates survive form-encoding only when written back in clear.
        let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let encoded_id = encode(CLIENT_ID);
        // The live token as it is on the wire, and the template that puts it there.
        let live = rt.map(|t| {
            let enc = encode(t);
            let tpl = if enc == t {
                "{{ rt0 }}"
            } else {
                "{{ rt0 | urlencode }}"
            };
            (enc, tpl)
        });
        match String::from_utf8(bytes) {
            Ok(text) if yaml_printable(&text) => {
                let mut b = text;
                if let Some((enc, tpl)) = &live {
                    b = b.replace(enc, tpl);
                }
                r.body = Some(b.replace(&encoded_id, CLIENT_ID));
            }
            // Bytes a YAML string cannot hold: written exactly, percent-escaped.
            other => {
                let bytes = match other {
                    Ok(text) => text.into_bytes(),
                    Err(e) => e.into_bytes(),
                };
                let esc = crate::scenario::escape::escape;
                let mut b = esc(&bytes);
                if let Some((enc, tpl)) = &live {
                    b = b.replace(&esc(enc.as_bytes()), tpl);
                }
                r.body_raw = Some(b.replace(&esc(encoded_id.as_bytes()), CLIENT_ID));
            }
        }
    } else {
        r.form = form.iter().map(|(k, v)| (k.clone(), templ(v))).collect();
    }
    let mut step = StepDoc::new(None, ActionDoc::Request(r));
    step.expect = Some(expect);
    let doc = ScenarioDoc {
        comments: vec![
            format!("Reproducer {n} found by `tokencert fuzz --seed {seed}` against {target}."),
            format!(
                "{} ({} request(s) hit it; status {}).",
                f.oracle.describe(),
                f.hits,
                f.status.map_or("none".into(), |s| s.to_string())
            ),
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
        requirements: vec![RequirementDoc::must(f.oracle.requirement())],
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
    use crate::blackbox::grammar::Req;
    use crate::scenario::Action;

    fn finding(suffix: &[u8]) -> Finding {
        Finding {
            oracle: Oracle::ServerError,
            req: Req {
                base: Base::Refresh,
                mutations: Vec::new(),
                method: "POST".into(),
                params: vec![
                    ("grant_type".into(), "refresh_token".into()),
                    ("refresh_token".into(), "rt-live%value".into()),
                ],
                raw_suffix: suffix.to_vec(),
                json_body: false,
                content_type: Some("application/x-www-form-urlencoded".into()),
                headers: Vec::new(),
                auth: Auth::Registered,
                query_credentials: false,
                must_fail: true,
                refresh_token: Some("rt-live%value".into()),
            },
            status: Some(500),
            error_code: None,
            hits: 1,
            file: None,
        }
    }

    /// The request body the reproducer sends, with `rt0` bound to `rt`.
    fn replayed_body(text: &str, rt: &str) -> Vec<u8> {
        let s = crate::scenario::load::scenario_from_str("r.yaml", text)
            .unwrap_or_else(|d| panic!("{text}\n{}", d[0].render()));
        let Action::Request(r) = &s.steps[0].action else {
            panic!("{text}")
        };
        let mut scope = serde_json::Map::new();
        scope.insert("rt0".into(), rt.into());
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
    fn bodies_yaml_cannot_hold_are_written_exactly() {
        // The live token is form-encoded on the wire (`%25`); the reproducer must template it
        // (a replay has a new live token) and encode it the same way.
        for suffix in [&b"&x=\xff\xfe\xc3"[..], b"&x=\x00\x1b{{ not a template }}"] {
            let text = scenario(&finding(suffix), 1, "t", 1).unwrap().unwrap();
            assert!(text.contains("body_raw:"), "{text}");
            assert!(!text.contains("rt-live"), "the live token leaked: {text}");
            let mut want = b"grant_type=refresh_token&refresh_token=rt-live%25value".to_vec();
            want.extend_from_slice(suffix);
            assert_eq!(replayed_body(&text, "rt-live%value"), want, "{text}");
        }
        // Printable UTF-8 stays a readable `body`.
        let text = scenario(&finding("&x=é".as_bytes()), 1, "t", 1)
            .unwrap()
            .unwrap();
        assert!(
            text.contains("body:") && !text.contains("body_raw"),
            "{text}"
        );
    }
}
