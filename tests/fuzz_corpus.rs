//! Stable twins of the cargo-fuzz targets: every seed in `fuzz/seeds/<target>/` (and the local
//! working corpus `fuzz/corpus/<target>/`, when present) and every saved
//! crash in `fuzz/regressions/<target>/` goes through the same entry point, so `cargo test` on a
//! stable toolchain covers what the fuzzers found.

use std::path::Path;

type Entry = fn(&[u8]);

const TARGETS: &[(&str, Entry)] = &[
    ("token_request", reference_server::fuzz_entry::token_request),
    ("basic_header", reference_server::fuzz_entry::basic_header),
    ("dpop_proof", reference_server::fuzz_entry::dpop_proof),
    ("form_scope", reference_server::fuzz_entry::form_and_scope),
    ("scenario_yaml", tokencert::fuzz_entry::scenario_yaml),
    ("target_profile", tokencert::fuzz_entry::target_profile),
    ("template", tokencert::fuzz_entry::template),
];

#[test]
fn every_corpus_and_regression_input_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut ran = 0;
    for (name, entry) in TARGETS {
        let fuzz_targets = root.join("fuzz_targets").join(format!("{name}.rs"));
        assert!(fuzz_targets.is_file(), "no fuzz target for {name}");
        for dir in [
            root.join("seeds").join(name),
            root.join("corpus").join(name),
            root.join("regressions").join(name),
        ] {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let data = std::fs::read(e.path()).expect("read seed");
                entry(&data);
                ran += 1;
            }
        }
    }
    assert!(ran >= 20, "expected seeds in fuzz/seeds, ran {ran}");
}
