//! Secrets and the run-wide redactor.
//!
//! Client secrets, passwords, private keys, tokens and every capture marked `secret: true` are
//! registered with the [`Redactor`]; every string that leaves the process (console, JUnit, JSON,
//! HTML) passes through it. Token-bearing fields are also redacted by name in JSON and form
//! bodies, so a token the scenario never captured still never appears.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};

/// A secret string: `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value. Security: only for putting it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Field names whose values are credentials or tokens, in JSON responses and form bodies.
pub const SENSITIVE_FIELDS: &[&str] = &[
    "access_token",
    "refresh_token",
    "id_token",
    "code",
    "device_code",
    "user_code",
    "client_secret",
    "client_assertion",
    "assertion",
    "subject_token",
    "actor_token",
    "password",
    "token",
    "code_verifier",
    "issued_token",
];

/// Replaces registered secrets (and their encoded forms) with `[REDACTED:<name>]`.
#[derive(Clone, Default)]
pub struct Redactor {
    inner: Arc<RwLock<BTreeMap<String, String>>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Redactor")
    }
}

impl Redactor {
    /// An empty redactor.
    pub fn new() -> Redactor {
        Redactor::default()
    }

    /// Registers a secret value under a label (the label is shown instead of the value).
    /// Values shorter than 4 characters are not registered: replacing them would shred text.
    pub fn add(&self, label: &str, value: &str) {
        if value.chars().count() < 4 {
            return;
        }
        let Ok(mut map) = self.inner.write() else {
            return;
        };
        let marker = format!("[REDACTED:{label}]");
        let form: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
        let pct = percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        for v in [value.to_owned(), form, pct] {
            map.entry(v).or_insert_with(|| marker.clone());
        }
    }

    /// Redacts every registered value in `text`, longest first (so a secret that contains
    /// another is replaced whole).
    pub fn redact(&self, text: &str) -> String {
        let Ok(map) = self.inner.read() else {
            return "[REDACTED: redactor unavailable]".to_owned();
        };
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.len()));
        let mut out = text.to_owned();
        for k in keys {
            if out.contains(k.as_str()) {
                out = out.replace(k.as_str(), &map[k]);
            }
        }
        out
    }

    /// Redacts a body: sensitive JSON fields and form fields by name, then registered values.
    pub fn redact_body(&self, body: &str) -> String {
        let by_name = redact_fields(body);
        self.redact(&by_name)
    }

    /// Redacts a header value: credentials in `Authorization` are always hidden.
    pub fn redact_header(&self, name: &str, value: &str) -> String {
        if name.eq_ignore_ascii_case("authorization") || name.eq_ignore_ascii_case("cookie") {
            let scheme = value.split_whitespace().next().unwrap_or("");
            return format!("{scheme} [REDACTED]").trim_start().to_owned();
        }
        self.redact(value)
    }
}

/// Replaces the values of [`SENSITIVE_FIELDS`] in a JSON object or a form body.
fn redact_fields(body: &str) -> String {
    let trimmed = body.trim_start();
    if trimmed.starts_with('{') {
        if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(body) {
            redact_json(&mut v);
            return serde_json::to_string(&v).unwrap_or_default();
        }
        return body.to_owned();
    }
    if body.contains('=') && !body.contains(' ') && !body.contains('\n') {
        let pairs: Vec<String> = body
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if SENSITIVE_FIELDS.contains(&decode(k).as_str()) => {
                    format!("{k}=[REDACTED:{}]", decode(k))
                }
                _ => pair.to_owned(),
            })
            .collect();
        return pairs.join("&");
    }
    body.to_owned()
}

fn decode(s: &str) -> String {
    form_urlencoded::parse(format!("{s}=").as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

fn redact_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, val) in m.iter_mut() {
                if SENSITIVE_FIELDS.contains(&k.as_str()) && val.is_string() {
                    *val = serde_json::Value::String(format!("[REDACTED:{k}]"));
                } else {
                    redact_json(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_raw_and_encoded() {
        let r = Redactor::new();
        r.add("client_secret", "s3cr+t/value");
        let text = "raw s3cr+t/value form s3cr%2Bt%2Fvalue";
        let out = r.redact(text);
        assert!(!out.contains("s3cr"), "{out}");
        assert_eq!(out.matches("[REDACTED:client_secret]").count(), 2);
    }

    #[test]
    fn token_fields_are_redacted_by_name() {
        let r = Redactor::new();
        let json = r.redact_body(r#"{"access_token":"abc123","token_type":"Bearer","nested":{"refresh_token":"zzz999"}}"#);
        assert!(
            !json.contains("abc123") && !json.contains("zzz999"),
            "{json}"
        );
        assert!(json.contains("Bearer"));
        let form = r.redact_body("grant_type=refresh_token&refresh_token=zzz999&client_secret=pw");
        assert_eq!(
            form,
            "grant_type=refresh_token&refresh_token=[REDACTED:refresh_token]&client_secret=[REDACTED:client_secret]"
        );
        assert_eq!(
            r.redact_header("Authorization", "Basic Zm9vOmJhcg=="),
            "Basic [REDACTED]"
        );
        assert_eq!(format!("{:?}", Secret::new("pw")), "Secret([redacted])");
    }
}
