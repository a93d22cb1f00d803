//! ISO/IEC 18013-5 Annex D sample data (see `testdata/iso-18013-5/SOURCE.md`).
#![allow(clippy::unwrap_used)]

use ciborium::Value;
use inkan_formats::FormatError;
use inkan_formats::mdoc::{DeviceResponse, IssuerSigned, IssuerVerification, cbor, device};

fn vector(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/iso-18013-5/{name}", env!("CARGO_MANIFEST_DIR"));
    hex::decode(std::fs::read_to_string(path).unwrap().trim()).unwrap()
}

/// 2021-01-01T00:00:00Z, inside the Annex D MSO validity (2020-10-01 to 2021-10-01).
const IN_VALIDITY: i64 = 1_609_459_200;
/// 2025-01-01T00:00:00Z, after it.
const AFTER: i64 = 1_735_689_600;

#[test]
fn annex_d_issuer_signed_verifies_as_of_its_validity() {
    let issuer_signed = IssuerSigned::from_bytes(&vector("issuer_signed.cbor")).unwrap();
    let verified = issuer_signed
        .verify(&IssuerVerification {
            at: IN_VALIDITY,
            issuer_key: None,
        })
        .unwrap();
    let mso = &verified.mso;
    assert_eq!(mso.doc_type, "org.iso.18013.5.1.mDL");
    assert_eq!(mso.digest_algorithm, "SHA-256");
    assert_eq!(mso.version, "1.0");
    assert_eq!(
        cbor::format_tdate(mso.validity.valid_from).unwrap(),
        "2020-10-01T13:30:02Z"
    );
    assert_eq!(
        cbor::format_tdate(mso.validity.valid_until).unwrap(),
        "2021-10-01T13:30:02Z"
    );
    assert_eq!(verified.x5chain.len(), 1);
    let elements = &verified.elements["org.iso.18013.5.1"];
    assert_eq!(elements["family_name"], Value::Text("Doe".into()));
    assert_eq!(elements["document_number"], Value::Text("123456789".into()));
    // Every disclosed item was checked against the MSO.
    let disclosed: usize = issuer_signed
        .namespaces
        .iter()
        .map(|(_, items)| items.len())
        .sum();
    assert_eq!(elements.len(), disclosed);
    assert!(disclosed >= 6, "{disclosed}");
    // It re-encodes to the same bytes.
    assert_eq!(
        issuer_signed.to_bytes().unwrap(),
        vector("issuer_signed.cbor")
    );
}

#[test]
fn annex_d_issuer_signed_is_expired_now() {
    let issuer_signed = IssuerSigned::from_bytes(&vector("issuer_signed.cbor")).unwrap();
    let err = issuer_signed
        .verify(&IssuerVerification {
            at: AFTER,
            issuer_key: None,
        })
        .unwrap_err();
    assert!(matches!(err, FormatError::Rejected(_)), "{err}");
    // With the issuer key given, the certificate is not consulted and the MSO's own
    // validity refuses it.
    let chain = inkan_device::cert::CertificateChain::from_der_list(
        &inkan_formats::mdoc::cose::x5chain(&issuer_signed.issuer_auth).unwrap(),
    )
    .unwrap();
    let key = chain.leaf_public_key().unwrap();
    let err = issuer_signed
        .verify(&IssuerVerification {
            at: AFTER,
            issuer_key: Some(&key),
        })
        .unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    issuer_signed
        .verify(&IssuerVerification {
            at: IN_VALIDITY,
            issuer_key: Some(&key),
        })
        .unwrap();
}

#[test]
fn annex_d_tampered_element_is_refused() {
    let mut issuer_signed = IssuerSigned::from_bytes(&vector("issuer_signed.cbor")).unwrap();
    let item = &mut issuer_signed.namespaces[0].1[0];
    item.item.element_value = Value::Text("Roe".into());
    *item = inkan_formats::mdoc::IssuerSignedItemBytes::new(item.item.clone()).unwrap();
    let err = issuer_signed
        .verify(&IssuerVerification {
            at: IN_VALIDITY,
            issuer_key: None,
        })
        .unwrap_err();
    assert!(err.to_string().contains("digest does not match"), "{err}");
}

#[test]
fn annex_d_tampered_mso_breaks_the_issuer_signature() {
    let mut issuer_signed = IssuerSigned::from_bytes(&vector("issuer_signed.cbor")).unwrap();
    let payload = issuer_signed.issuer_auth.payload.as_mut().unwrap();
    let n = payload.len();
    payload[n - 3] ^= 1;
    let err = issuer_signed
        .verify(&IssuerVerification {
            at: IN_VALIDITY,
            issuer_key: None,
        })
        .unwrap_err();
    assert!(matches!(err, FormatError::InvalidSignature(_)), "{err}");
}

#[test]
fn annex_d_session_transcript_is_accepted() {
    let st = vector("session_session_transcript.cbor");
    let da = device::device_authentication_bytes(&st, "org.iso.18013.5.1.mDL", &[0xa0]).unwrap();
    // #6.24(bstr .cbor ["DeviceAuthentication", SessionTranscript, DocType, #6.24(...)])
    let outer = cbor::parse("test", &da).unwrap();
    let inner = cbor::parse("test", cbor::untag24("test", &outer).unwrap()).unwrap();
    let items = cbor::as_array("test", &inner).unwrap();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0], Value::Text("DeviceAuthentication".into()));
    assert_eq!(cbor::as_array("test", &items[1]).unwrap().len(), 3);
}

#[test]
fn synthetic_device_response_parses_but_does_not_verify() {
    let response = DeviceResponse::from_bytes(&vector("device_response.cbor")).unwrap();
    assert_eq!(response.documents.len(), 1);
    assert_eq!(response.documents[0].doc_type, "aaa");
    // Its issuerAuth signs "This is the content." (no MSO, no x5chain) and it uses deviceMac.
    let err = response
        .verify(
            &vector("session_session_transcript.cbor"),
            &IssuerVerification {
                at: IN_VALIDITY,
                issuer_key: None,
            },
        )
        .unwrap_err();
    assert!(matches!(err, FormatError::Rejected(_)), "{err}");
}

#[test]
fn oversized_and_deep_input_is_refused() {
    let big = vec![0u8; inkan_formats::limits::MAX_DOCUMENT_BYTES + 1];
    assert!(matches!(
        IssuerSigned::from_bytes(&big),
        Err(FormatError::Malformed { .. })
    ));
    let deep = [vec![0x81u8; 100], vec![0x00]].concat();
    let err = DeviceResponse::from_bytes(&deep).unwrap_err();
    assert!(matches!(err, FormatError::Malformed { .. }), "{err}");
    assert!(matches!(
        IssuerSigned::from_bytes(&[0xa0, 0x00]),
        Err(FormatError::Malformed { .. })
    ));
}
