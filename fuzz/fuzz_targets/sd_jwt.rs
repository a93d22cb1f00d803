#![no_main]

use libfuzzer_sys::fuzz_target;

use inkan_formats::jose::sd_jwt::{
    Disclosure, SdJwtVerifyOptions, process_disclosures, split_sd_jwt, verify_sd_jwt_vc,
};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(parts) = split_sd_jwt(text) else {
        return;
    };
    let disclosures: Vec<Disclosure> = parts
        .disclosures
        .iter()
        .filter_map(|d| Disclosure::parse(d).ok())
        .collect();
    // The payload processed without the signature, so that the fuzzer reaches the
    // disclosure processing (digests, recursion, arrays) without forging a signature.
    if let Ok(jws) = inkan_formats::jose::decode_compact(parts.jws)
        && let Ok(payload) = jws.payload_json()
    {
        let _ = process_disclosures(&payload, &disclosures);
        // And the full verification with a fixed key (the one in the header, when any).
        if let Ok(Some(key)) = jws.header_key() {
            let _ = verify_sd_jwt_vc(
                text,
                &key,
                &SdJwtVerifyOptions {
                    now: 1_735_689_600,
                    key_binding: None,
                },
            );
        }
    }
});
