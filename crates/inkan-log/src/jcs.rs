//! JSON string serialisation as RFC 8785 (JCS) defines it: the shortest escapes of
//! ECMAScript's `JSON.stringify`, everything else literal UTF-8. Shared by the canonical
//! entry encoding and the export line format; never parses anything.

use std::fmt::Write;

/// Appends `s` as a JSON string literal, escaped per RFC 8785 §3.2.2.2.
pub(crate) fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if u32::from(c) < 0x20 => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        let mut out = String::new();
        push_string(&mut out, s);
        out
    }

    #[test]
    fn escapes_like_jcs() {
        // RFC 8785 §3.2.2.2 example: "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/"
        assert_eq!(
            enc("\u{20ac}$\u{f}\nA'B\"\\\\\"/"),
            "\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\""
        );
        assert_eq!(enc("\u{7f}\u{2028}\u{1f}"), "\"\u{7f}\u{2028}\\u001f\"");
        // serde_json agrees with these rules.
        for s in ["\u{0}\u{8}\t\n\u{b}\u{c}\r\u{1f} é — \"\\/", "plain"] {
            assert_eq!(enc(s), serde_json::to_string(s).unwrap());
        }
    }
}
