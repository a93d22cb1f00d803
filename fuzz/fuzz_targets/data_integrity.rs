#![no_main]

use libfuzzer_sys::fuzz_target;

use inkan_formats::data_integrity::{VerifyOptions, verify_bytes};

fuzz_target!(|data: &[u8]| {
    let _ = verify_bytes(
        data,
        &VerifyOptions {
            proof_only: true,
            ..Default::default()
        },
    );
});
