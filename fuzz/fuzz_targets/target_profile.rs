#![no_main]
//! Fuzz target `target_profile`: see the entry point's doc for the input shape.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tokencert::fuzz_entry::target_profile(data);
});
