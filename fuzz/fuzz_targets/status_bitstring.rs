#![no_main]

use libfuzzer_sys::fuzz_target;

use inkan_formats::status::BitstringStatusList;

fuzz_target!(|data: &[u8]| {
    // First byte: the status size; the rest: the encodedList.
    let Some((&size, rest)) = data.split_first() else {
        return;
    };
    let Ok(encoded) = std::str::from_utf8(rest) else {
        return;
    };
    // Also a small minimum, so that short inputs reach the bit reading.
    for list in [
        BitstringStatusList::from_encoded(encoded, size),
        BitstringStatusList::from_encoded_with_minimum(encoded, size, 1),
    ]
    .into_iter()
    .flatten()
    {
        let n = list.len() as u64;
        for i in [0, n / 2, n.saturating_sub(1), n, u64::MAX] {
            let _ = list.status(i);
        }
    }
});
