#![no_main]

use libfuzzer_sys::fuzz_target;

use inkan_formats::status::TokenStatusList;
use inkan_formats::status::token::StatusListToken;

fuzz_target!(|data: &[u8]| {
    let mut lists = Vec::new();
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        lists.extend(TokenStatusList::from_json(&value));
        let _ = StatusListToken::from_jwt_claims(&value);
    }
    lists.extend(TokenStatusList::from_cbor(data));
    let _ = StatusListToken::from_cwt_claims(data);
    for list in lists {
        let n = list.len() as u64;
        for i in [0, n / 2, n.saturating_sub(1), n, u64::MAX] {
            let _ = list.status(i);
            let _ = list.token_status(i);
        }
    }
});
