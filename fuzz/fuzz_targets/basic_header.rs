#![no_main]
//! Fuzz target `basic_header`: see the entry point's doc for the input shape.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    reference_server::fuzz_entry::basic_header(data);
});
