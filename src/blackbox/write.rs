//! Findings as scenario YAML in the specs format: security teams hand them to the vendor, CI
//! replays them with `tokencert run`.

use super::Finding;
use super::grammar::{Auth, Base, Mutation};
use super::oracle::Oracle;
use std::fmt::Write as _;

/// YAML double-quoted scalar (JSON string syntax is valid YAML).
fn q(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The scenario text, or `None` for findings no scenario predicate can express (slowness).
pub fn scenario(f: &Finding, seed: u64, target: &str, n: usize) -> Option<String> {
    let expect = match f.oracle {
        Oracle::ServerError => "      status: { lt: 500 }\n".to_owned(),
        Oracle::TokenForInvalidRequest => {
            "      status: { gte: 400 }\n      json:\n        $.access_token: { absent: true }\n".to_owned()
        }
        Oracle::MalformedError => "      headers:\n        content-type: { contains: json }\n      json:\n        $.error: { matches: '^[\\x20-\\x21\\x23-\\x5B\\x5D-\\x7E]+$' }\n".to_owned(),
        Oracle::WrongStatus => "      status: [400, 401, 405, 413, 415]\n".to_owned(),
        Oracle::MissingChallenge => "      headers:\n        www-authenticate: { matches: '(?i)^basic' }\n".to_owned(),
        Oracle::MissingNoStore => "      headers:\n        cache-control: { contains: no-store }\n".to_owned(),
        Oracle::Slow => return None,
    };
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
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# Reproducer {n} found by `tokencert fuzz --seed {seed}` against {target}."
    );
    let _ = writeln!(
        y,
        "# {} ({} request(s) hit it; status {}).",
        f.oracle.describe(),
        f.hits,
        f.status.map_or("none".into(), |s| s.to_string())
    );
    let _ = writeln!(
        y,
        "title: {}",
        q(&format!(
            "fuzz: {} ({})",
            f.oracle.describe(),
            if kinds.is_empty() {
                "unmutated".into()
            } else {
                kinds.join(", ")
            }
        ))
    );
    let _ = writeln!(
        y,
        "requirements: [{{ id: {}, level: MUST }}]",
        f.oracle.requirement()
    );
    let _ = writeln!(y, "tags: [fuzz]");
    if req.base == Base::Refresh && rt.is_some() {
        y.push_str("setup:\n  - bootstrap:\n    capture:\n      rt0: { json: $.refresh_token, secret: true }\n");
    } else if req.base == Base::TokenExchange {
        y.push_str("setup:\n  - bootstrap:\n    capture:\n      at0: { json: $.access_token, secret: true }\n");
    }
    y.push_str("steps:\n  - request:\n");
    let _ = writeln!(y, "      method: {}", q(&req.method));
    y.push_str("      endpoint: token\n");
    let mut form: Vec<(String, String)> = req.params.clone();
    if req.base == Base::TokenExchange {
        for (k, v) in &mut form {
            if k == "subject_token" {
                *v = "{{ at0 }}".into();
            }
        }
    }
    let mut headers: Vec<(String, String)> = req.headers.clone();
    match &req.auth {
        Auth::Registered => y.push_str("      client_auth: confidential\n"),
        Auth::None => {}
        Auth::Raw(v) => headers.push(("Authorization".into(), v.clone())),
        Auth::WrongSecret => y.push_str("      client_auth: { client: confidential, method: client_secret_basic, secret: tokencert-wrong-secret }\n"),
        Auth::IdOnly => y.push_str("      client_auth: { client: confidential, method: none }\n"),
        Auth::Both => {
            y.push_str("      client_auth: { client: confidential, method: client_secret_basic }\n");
            form.push(("client_id".into(), "{{ clients.confidential.id }}".into()));
            form.push(("client_secret".into(), "tokencert-second-credential".into()));
        }
        Auth::AssertionNone => {
            form.push(("client_id".into(), "{{ clients.confidential.id }}".into()));
            form.push(("client_assertion_type".into(), crate::runner::ASSERTION_TYPE.into()));
            form.push(("client_assertion".into(), "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.".into()));
        }
    }
    if req.query_credentials {
        y.push_str("      query: { client_id: \"{{ clients.confidential.id }}\" }\n");
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
    if !headers.is_empty() {
        y.push_str("      headers:\n");
        let mut names: Vec<&str> = Vec::new();
        for (k, _) in &headers {
            if !names.iter().any(|n| n.eq_ignore_ascii_case(k)) {
                names.push(k);
            }
        }
        // A repeated header is written as a list (the request sends it twice).
        for n in names {
            let values: Vec<String> = headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| q(v))
                .collect();
            if values.len() == 1 {
                let _ = writeln!(y, "        {}: {}", n, values[0]);
            } else {
                let _ = writeln!(y, "        {}: [{}]", n, values.join(", "));
            }
        }
    }
    if raw {
        let body = if req.json_body {
            let map: serde_json::Map<String, serde_json::Value> = form
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(templ(v))))
                .collect();
            serde_json::Value::Object(map).to_string()
        } else {
            let mut s = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &form {
                s.append_pair(k, v);
            }
            let mut b = s.finish();
            b.push_str(&String::from_utf8_lossy(&req.raw_suffix));
            // Templates survive form-encoding only when written back in clear.
            if let Some(rt) = rt {
                b = b.replace(rt, "{{ rt0 }}");
            }
            b.replace(
                "%7B%7B+clients.confidential.id+%7D%7D",
                "{{ clients.confidential.id }}",
            )
        };
        let _ = writeln!(y, "      body: {}", q(&body));
    } else if !form.is_empty() {
        y.push_str("      form:\n");
        let mut seen: Vec<&str> = Vec::new();
        for (k, _) in &form {
            if seen.contains(&k.as_str()) {
                continue;
            }
            seen.push(k);
            let values: Vec<String> = form
                .iter()
                .filter(|(kk, _)| kk == k)
                .map(|(_, v)| q(&templ(v)))
                .collect();
            if values.len() == 1 {
                let _ = writeln!(y, "        {}: {}", q(k), values[0]);
            } else {
                let _ = writeln!(y, "        {}: [{}]", q(k), values.join(", "));
            }
        }
    }
    y.push_str("    expect:\n");
    y.push_str(&expect);
    Some(y)
}
