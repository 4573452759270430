#![no_main]
//! Fuzz target `token_request`: see the entry point's doc for the input shape.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    reference_server::fuzz_entry::token_request(data);
});
