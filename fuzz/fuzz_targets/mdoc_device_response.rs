#![no_main]

use libfuzzer_sys::fuzz_target;

use inkan_formats::mdoc::{DeviceResponse, IssuerVerification};

/// SessionTranscriptBytes of `[null, null, ["fuzz", "nonce"]]`.
const TRANSCRIPT: &[u8] = &[
    0xd8, 0x18, 0x4f, 0x83, 0xf6, 0xf6, 0x82, 0x64, b'f', b'u', b'z', b'z', 0x65, b'n', b'o', b'n',
    b'c', b'e',
];

fuzz_target!(|data: &[u8]| {
    if let Ok(response) = DeviceResponse::from_bytes(data) {
        let _ = response.to_bytes();
        let _ = response.verify(
            TRANSCRIPT,
            &IssuerVerification {
                at: 1_735_689_600,
                issuer_key: None,
            },
        );
    }
});
