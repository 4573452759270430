#![no_main]
//! Fuzz target `template`: see the entry point's doc for the input shape.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tokencert::fuzz_entry::template(data);
});
