#![no_main]
//! Fuzz target `scenario_yaml`: see the entry point's doc for the input shape.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tokencert::fuzz_entry::scenario_yaml(data);
});
