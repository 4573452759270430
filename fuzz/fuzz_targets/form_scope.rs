#![no_main]
//! Fuzz target `form_scope`: see the entry point's doc for the input shape.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    reference_server::fuzz_entry::form_and_scope(data);
});
