//! Time-based one-time passwords (RFC 6238 over RFC 4226 HOTP): the second factor of a login
//! (criteria 2.2.1(2)).
//!
//! Owns generating a seed, the `otpauth://` provisioning URI authenticator apps read, and
//! checking a code: HMAC-SHA-1, 6 digits, 30-second steps, one step of clock drift either
//! way, compared in constant time. Returns the matched time step so the caller can refuse a
//! code used before (the store keeps the last accepted step). Must never log a seed or a code.

use ring::hmac;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// Length of a new seed (RFC 4226 recommends 160 bits).
pub const SEED_LEN: usize = 20;
/// Seconds per step.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps of drift accepted either side of now.
const DRIFT_STEPS: i64 = 1;

/// A new random seed.
pub fn new_seed() -> Zeroizing<Vec<u8>> {
    let mut seed = Zeroizing::new(vec![0u8; SEED_LEN]);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
    seed
}

/// The time step containing `unix_millis`.
pub fn step_at(unix_millis: i64) -> i64 {
    unix_millis.div_euclid(1000).div_euclid(STEP_SECONDS)
}

/// The HOTP value of `seed` at `counter` with `digits` digits (RFC 4226 section 5.3).
fn hotp(seed: &[u8], counter: u64, digits: u32) -> u32 {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, seed);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The code for `seed` at time step `step`, zero-padded.
pub fn code_at_step(seed: &[u8], step: i64) -> String {
    let counter = u64::try_from(step).unwrap_or(0);
    format!(
        "{:0width$}",
        hotp(seed, counter, DIGITS),
        width = DIGITS as usize
    )
}

/// Checks `code` against `seed` at `unix_millis`: the matched step, or `None`. Anything but
/// exactly six ASCII digits is refused without computing.
pub fn check(seed: &[u8], code: &str, unix_millis: i64) -> Option<i64> {
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_millis);
    let mut matched = None;
    // Every candidate is computed and compared, so the time taken does not say which matched.
    for step in (now - DRIFT_STEPS)..=(now + DRIFT_STEPS) {
        let expected = code_at_step(seed, step);
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            matched = Some(step);
        }
    }
    matched
}

/// RFC 4648 base32 without padding: how authenticator apps take a seed.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// Decodes RFC 4648 base32 (upper or lower case, padding and spaces ignored), as an
/// authenticator app reads a typed-in seed; `None` on any other character.
pub fn base32_decode(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8));
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in text.chars().filter(|c| *c != '=' && *c != ' ') {
        let value = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u32 - 'A' as u32,
            c @ '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => return None,
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The `otpauth://totp/…` URI an authenticator app reads (as a QR code or typed in).
pub fn provisioning_uri(issuer: &str, account: &str, seed: &[u8]) -> Zeroizing<String> {
    let label = format!("{}:{}", percent_encode(issuer), percent_encode(account));
    Zeroizing::new(format!(
        "otpauth://totp/{label}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        base32(seed),
        percent_encode(issuer)
    ))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows: seed "12345678901234567890", 8 digits.
    #[test]
    fn rfc6238_sha1_vectors() {
        let seed = b"12345678901234567890";
        for (time, expected) in [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ] {
            assert_eq!(hotp(seed, time / 30, 8), expected, "T = {time}");
        }
    }

    /// RFC 4226 appendix D: the first HOTP values of the same seed, 6 digits.
    #[test]
    fn rfc4226_vectors() {
        let seed = b"12345678901234567890";
        let expected = [755224, 287082, 359152, 969429, 338314];
        for (counter, value) in expected.into_iter().enumerate() {
            assert_eq!(hotp(seed, counter as u64, 6), value);
        }
    }

    #[test]
    fn check_accepts_one_step_of_drift_and_nothing_else() {
        let seed = b"12345678901234567890";
        let now = 1_111_111_111_000;
        let step = step_at(now);
        assert_eq!(check(seed, &code_at_step(seed, step), now), Some(step));
        assert_eq!(
            check(seed, &code_at_step(seed, step - 1), now),
            Some(step - 1)
        );
        assert_eq!(
            check(seed, &code_at_step(seed, step + 1), now),
            Some(step + 1)
        );
        assert_eq!(check(seed, &code_at_step(seed, step - 2), now), None);
        assert_eq!(check(seed, &code_at_step(seed, step + 2), now), None);
        assert_eq!(check(seed, "12345", now), None);
        assert_eq!(check(seed, "12345a", now), None);
        assert_eq!(check(seed, "", now), None);
    }

    #[test]
    fn base32_matches_rfc4648() {
        // RFC 4648 section 10 (without padding).
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fo"), "MZXQ");
        assert_eq!(base32(b"foo"), "MZXW6");
        assert_eq!(base32(b"foob"), "MZXW6YQ");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        for sample in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(base32_decode(&base32(sample)).unwrap().as_slice(), sample);
        }
        assert_eq!(
            base32_decode("mzxw 6ytb oi======").unwrap().as_slice(),
            b"foobar"
        );
        assert!(base32_decode("MZXW1").is_none());
    }

    #[test]
    fn provisioning_uri_names_the_account_and_parameters() {
        let uri = provisioning_uri("Inkan test", "alice@example", b"12345678901234567890");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/Inkan%20test:alice%40example?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Inkan%20test&algorithm=SHA1&digits=6&period=30"
        );
    }
}
