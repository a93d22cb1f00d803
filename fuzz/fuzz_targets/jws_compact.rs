#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(token) = std::str::from_utf8(data)
        && let Ok(jws) = inkan_formats::jose::decode_compact(token)
    {
        let _ = jws.payload_json();
        let _ = jws.header_key();
    }
});
