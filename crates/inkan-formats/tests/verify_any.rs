//! `inkan_formats::verify` on a Token Status List CWT: signed through a real software device,
//! recognised and verified; the draft's example CWT recognised and refused under a key that is
//! not its issuer's; a tampered token refused.
#![allow(clippy::unwrap_used)]

use inkan_device::soft::{KekSource, SoftConfig, SoftDevice};
use inkan_device::{Algorithm, CryptoDevice, KeySpec};
use inkan_formats::FormatError;
use inkan_formats::status::token::{StatusListToken, TokenStatusList};
use inkan_formats::verify::{VerifyOptions, verify};

fn cwt_signed_by(device: &SoftDevice, key: &inkan_device::DeviceKey, claims: Vec<u8>) -> Vec<u8> {
    use coset::TaggedCborSerializable as _;
    let protected = coset::HeaderBuilder::new()
        .algorithm(coset::iana::Algorithm::ES256)
        .value(
            16,
            ciborium::Value::Text("application/statuslist+cwt".into()),
        )
        .build();
    let mut sign1 = coset::CoseSign1Builder::new()
        .protected(protected)
        .payload(claims)
        .build();
    let tbs = sign1.tbs_data(b"");
    sign1.signature = device.sign(&key.handle, Algorithm::Es256, &tbs).unwrap();
    sign1.to_tagged_vec().unwrap()
}

#[test]
fn a_status_list_cwt_is_recognised_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let device = SoftDevice::open(&SoftConfig {
        path: dir.path().join("t"),
        kek: KekSource::File(dir.path().join("k")),
    })
    .unwrap();
    let key = device.generate(KeySpec::P256, "status issuer").unwrap();
    let mut list = TokenStatusList::new(1024, 2).unwrap();
    list.set(7, 2).unwrap();
    let token = StatusListToken {
        sub: "https://issuer.example/statuslists/1".into(),
        iat: 1_767_225_600,
        exp: Some(1_767_225_600 + 86_400),
        ttl: Some(300),
        status_list: list,
    };
    let cwt = cwt_signed_by(&device, &key, token.to_cwt_claims().unwrap());
    let options = VerifyOptions {
        key: Some(key.public_key.clone()),
        at: 1_767_225_700,
        ..Default::default()
    };
    let verified = verify(hex::encode(&cwt).as_bytes(), &options).unwrap();
    assert_eq!(verified.format, "status list token (CWT)");
    assert_eq!(
        verified.details["sub"],
        "https://issuer.example/statuslists/1"
    );

    let mut tampered = cwt.clone();
    let at = tampered.len() - 70;
    tampered[at] ^= 1;
    assert!(verify(hex::encode(&tampered).as_bytes(), &options).is_err());
    let late = VerifyOptions {
        at: 1_767_225_600 + 2 * 86_400,
        ..options.clone()
    };
    let err = verify(hex::encode(&cwt).as_bytes(), &late).unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    let no_key = VerifyOptions {
        key: None,
        ..options
    };
    assert!(matches!(
        verify(hex::encode(&cwt).as_bytes(), &no_key),
        Err(FormatError::Rejected(_))
    ));
}

/// The draft's example status list CWT (testdata/status-list/status_list_cwt.md): its issuer's
/// key is not published with it, so under another key it is recognised and refused.
#[test]
fn the_draft_example_cwt_is_recognised() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/status-list/status_list_cwt.md"
    ))
    .unwrap();
    let hex: String = text.split_whitespace().collect();
    let other = p256::SecretKey::random(&mut rand_core::OsRng).public_key();
    let options = VerifyOptions {
        key: Some(inkan_device::PublicKey::P256(other)),
        at: 1_700_000_000,
        ..Default::default()
    };
    let err = verify(hex.as_bytes(), &options).unwrap_err();
    assert!(matches!(err, FormatError::InvalidSignature(_)), "{err}");
}

/// Found by the `data_integrity` fuzz target: an IRI whose percent-escape is not UTF-8 made the
/// JSON-LD stack panic. It is now a clear error (fuzz/regressions/data_integrity/).
#[test]
fn a_percent_escape_that_is_not_utf8_is_an_error_not_a_crash() {
    let input = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/regressions/data_integrity/pct-encoded-invalid-utf8-iri.json"
    ))
    .unwrap();
    let options = VerifyOptions {
        proof_only: true,
        at: 1_767_225_600,
        ..Default::default()
    };
    let err = verify(&input, &options).unwrap_err();
    assert!(matches!(err, FormatError::Malformed { .. }), "{err}");
}
