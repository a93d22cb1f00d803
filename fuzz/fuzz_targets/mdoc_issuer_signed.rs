#![no_main]

use libfuzzer_sys::fuzz_target;

use inkan_formats::mdoc::{IssuerSigned, IssuerVerification};

fuzz_target!(|data: &[u8]| {
    if let Ok(issuer_signed) = IssuerSigned::from_bytes(data) {
        let _ = issuer_signed.to_bytes();
        let _ = issuer_signed.mso();
        let _ = issuer_signed.verify(&IssuerVerification {
            at: 1_735_689_600,
            issuer_key: None,
        });
    }
});
