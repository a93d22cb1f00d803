#![no_main]

use libfuzzer_sys::fuzz_target;

use inkan_formats::data_integrity::ecdsa_sd::{BaseProofValue, DerivedProofValue, derive};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The CBOR proof values, and what parses serializes again.
    if let Ok(derived) = DerivedProofValue::parse(text) {
        let _ = derived.serialize();
    }
    if let Ok(base) = BaseProofValue::parse(text) {
        let _ = base.serialize();
    }
    // A holder's derive request over any JSON document.
    if let Ok(document) = serde_json::from_str::<serde_json::Value>(text) {
        let _ = derive(&document, &["/credentialSubject".to_owned()]);
    }
});
