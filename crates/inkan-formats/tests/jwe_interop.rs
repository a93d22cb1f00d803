//! Interop: compact JWE for signature activation data (`ECDH-ES`, P-256, `A256GCM`) against
//! an independent implementation, the npm package `jose`, through `interop/jose/jwe.mjs`:
//! Inkan decrypts what `jose` encrypted to its activation key, and `jose` decrypts what Inkan
//! encrypted. Needs `npm ci --prefix interop/jose` (done by `.ci/run`); fails, never skips,
//! when Node.js or the package is missing.

#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_formats::FormatError;
use inkan_formats::jose::jwe::{JweRecipientKey, decrypt_compact, encrypt_compact};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const PLAINTEXTS: [&[u8]; 4] = [
    br#"{"pin":"123456","otp":"654321"}"#,
    b"",
    "PIN \u{e9}\u{e8} \u{1f511}".as_bytes(),
    &[0xff; 3000],
];

fn interop_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/jose");
    assert!(
        dir.join("node_modules/jose").is_dir(),
        "the npm package `jose` is not installed in {}: run `bash .ci/run` (or `npm ci --prefix interop/jose`)",
        dir.display()
    );
    dir
}

/// Runs `node jwe.mjs COMMAND JWK` with `input` on stdin; its stdout, or what it printed
/// on stderr.
fn node_jwe(command: &str, jwk: &Value, input: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = Command::new("node")
        .arg(interop_dir().join("jwe.mjs"))
        .arg(command)
        .arg(jwk.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node (Node.js 20) must be installed");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A P-256 key pair made with `p256` directly: the recipient key (through PKCS#8, as the
/// service would unseal it) and the private JWK handed to `jose`.
fn key_pair() -> (JweRecipientKey, Value) {
    let secret = p256::SecretKey::random(&mut rand_core::OsRng);
    let point = secret.public_key().to_encoded_point(false);
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let private_jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64(point.x().unwrap()),
        "y": b64(point.y().unwrap()),
        "d": b64(&secret.to_bytes()),
    });
    let der = secret.to_pkcs8_der().unwrap();
    let key = JweRecipientKey::from_pkcs8_der(der.as_bytes()).unwrap();
    // The published JWK is the public half of the same key.
    let public = key.public_jwk();
    assert_eq!(public["x"], private_jwk["x"]);
    assert_eq!(public["y"], private_jwk["y"]);
    (key, private_jwk)
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

/// Flips one bit of the first byte of the ciphertext part (of the tag when the ciphertext
/// is empty).
fn tamper(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let index = if parts[3].is_empty() { 4 } else { 3 };
    let mut bytes = URL_SAFE_NO_PAD.decode(&parts[index]).unwrap();
    bytes[0] ^= 0x01;
    parts[index] = URL_SAFE_NO_PAD.encode(bytes);
    parts.join(".")
}

#[test]
fn inkan_decrypts_what_jose_encrypted() {
    let (key, _) = key_pair();
    let mut jwk = key.public_jwk();
    jwk["kid"] = "activation-1".into();
    for plaintext in PLAINTEXTS {
        let out = node_jwe("encrypt", &jwk, plaintext).unwrap_or_else(|e| panic!("jose: {e}"));
        let token = String::from_utf8(out).unwrap();
        let token = token.trim_end();
        let header = header_of(token);
        assert_eq!(header["alg"], "ECDH-ES");
        assert_eq!(header["enc"], "A256GCM");
        assert_eq!(header["kid"], "activation-1");
        assert_eq!(
            token.split('.').nth(1),
            Some(""),
            "ECDH-ES: no encrypted key"
        );
        assert_eq!(*decrypt_compact(token, &key).unwrap(), plaintext);

        // Tampered, or for another key: refused with the one generic error.
        for (case, token, key) in [
            ("tampered", tamper(token), &key),
            ("other key", token.to_owned(), &key_pair().0),
        ] {
            let e = decrypt_compact(&token, key).unwrap_err();
            assert!(
                matches!(&e, FormatError::Rejected(m) if m == "JWE could not be decrypted"),
                "{case}: {e}"
            );
        }
    }
}

#[test]
fn jose_decrypts_what_inkan_encrypted() {
    let (key, private_jwk) = key_pair();
    for plaintext in PLAINTEXTS {
        let token = encrypt_compact(plaintext, &key.public_jwk()).unwrap();
        let out = node_jwe("decrypt", &private_jwk, token.as_bytes())
            .unwrap_or_else(|e| panic!("jose: {e}"));
        assert_eq!(out, plaintext);

        assert!(
            node_jwe("decrypt", &private_jwk, tamper(&token).as_bytes()).is_err(),
            "jose accepted a tampered JWE"
        );
        let (_, other_jwk) = key_pair();
        assert!(
            node_jwe("decrypt", &other_jwk, token.as_bytes()).is_err(),
            "jose decrypted a JWE made for another key"
        );
    }
    // With a `kid` in the JWK, jose sees it in the header and still decrypts.
    let mut jwk = key.public_jwk();
    jwk["kid"] = "activation-2".into();
    let token = encrypt_compact(PLAINTEXTS[0], &jwk).unwrap();
    assert_eq!(header_of(&token)["kid"], "activation-2");
    let out = node_jwe("decrypt", &private_jwk, token.as_bytes()).unwrap();
    assert_eq!(out, PLAINTEXTS[0]);
}
