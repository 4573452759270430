//! Entry points for the cargo-fuzz targets (`fuzz/`) over the harness's own inputs, and for their
//! stable twins in `cargo test` (`tests/fuzz_corpus.rs`). None may panic on any input.

use crate::template::Template;
use crate::yaml::Source;

/// A scenario file: YAML parsing, decoding and the semantic pass.
pub fn scenario_yaml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(s) = crate::scenario::load::scenario_from_str("fuzz.yaml", &text) {
        let cat = crate::scenario::Catalogue {
            scenarios: vec![s],
            requirements: crate::scenario::Requirements::builtin(),
            ..crate::scenario::Catalogue::default()
        };
        let _ = crate::scenario::validate_catalogue(&cat);
    }
}

/// A target profile (secrets resolved to placeholders).
pub fn target_profile(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = crate::profile::Target::parse(
        Source::new("fuzz.yaml", text.as_ref()),
        std::path::Path::new("."),
        &crate::profile::PlaceholderEnv,
    );
}

/// A template: parse, then render against a small scope.
pub fn template(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(t) = Template::parse(&text) {
        let scope = serde_json::json!({
            "rt0": "abcdefgh",
            "n": 3,
            "policy": { "grace": { "seconds": 5 } },
            "list": [1, 2, 3],
        });
        if let Some(map) = scope.as_object() {
            let _ = t.render(map);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_points_accept_hostile_bytes() {
        let cases: &[&[u8]] = &[
            b"",
            b"\xff\xfe",
            b"{{",
            b"{{ a | truncate(99999999999999999999) }}",
            b"{{ l[18446744073709551616] }}",
            b"steps: [ { request: { endpoint: token }, retry: {} } ]",
            b"a: &a [*a]",
            b"base_url: ftp://x\nclients: 3\n",
        ];
        for c in cases {
            super::scenario_yaml(c);
            super::target_profile(c);
            super::template(c);
        }
    }
}
