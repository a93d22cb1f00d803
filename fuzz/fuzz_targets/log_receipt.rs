#![no_main]

use inkan_log::receipt::Receipt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(receipt) = Receipt::parse(text)
    {
        // What parses must come back the same once encoded again.
        let again = Receipt::parse(&receipt.encode()).expect("an encoded receipt parses");
        assert_eq!(again, receipt);
    }
});
