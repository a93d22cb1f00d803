#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = inkan_formats::verify::verify(data, &inkan_formats::verify::VerifyOptions::default());
});
