//! IssuerSigned and DeviceResponse made through a real software device and verified back,
//! plus the refusals: tampered value, element not in the MSO, wrong transcript, wrong device
//! key, expired.
#![allow(clippy::unwrap_used)]

mod mdoc_support;

use ciborium::Value;
use inkan_device::{Algorithm, KeySpec};
use inkan_formats::FormatError;
use inkan_formats::mdoc::{
    DeviceAuth, DeviceResponse, IssuerSigned, IssuerSignedItem, IssuerSignedItemBytes,
    IssuerVerification, ItemsRequest, cose, issue, present,
};
use inkan_formats::status::StatusListReference;
use mdoc_support::*;

fn rng() -> rand_core::OsRng {
    rand_core::OsRng
}

fn request(items: &[&str]) -> ItemsRequest {
    [(
        NS.to_string(),
        items.iter().map(|s| s.to_string()).collect(),
    )]
    .into_iter()
    .collect()
}

fn at(now: i64) -> IssuerVerification<'static> {
    IssuerVerification {
        at: now,
        issuer_key: None,
    }
}

#[tokio::test]
async fn issuer_signed_round_trip() {
    let s = setup();
    let issued = issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, NOW),
        &mut rng(),
    )
    .await
    .unwrap();
    // Through bytes and back.
    let parsed = IssuerSigned::from_bytes(&issued.to_bytes().unwrap()).unwrap();
    assert_eq!(parsed.to_bytes().unwrap(), issued.to_bytes().unwrap());
    let verified = parsed.verify(&at(NOW)).unwrap();
    assert_eq!(verified.mso.doc_type, MDL);
    assert_eq!(verified.mso.device_key, s.holder.public_key);
    assert_eq!(verified.x5chain, s.issuer.certificate_chain);
    assert_eq!(verified.elements[NS].len(), 6);
    assert_eq!(verified.elements[NS]["given_name"], text("Hanako"));
    // Salts of 32 bytes, digest IDs 0..6 in some order.
    let mut ids: Vec<u64> = issued.namespaces[0]
        .1
        .iter()
        .map(|i| i.item.digest_id)
        .collect();
    assert!(
        issued.namespaces[0]
            .1
            .iter()
            .all(|i| i.item.random.len() >= 16)
    );
    ids.sort();
    assert_eq!(ids, (0..6).collect::<Vec<_>>());
    // With the issuer key given instead of the chain.
    parsed
        .verify(&IssuerVerification {
            at: NOW,
            issuer_key: Some(&s.issuer.public_key),
        })
        .unwrap();
    // A wrong issuer key is refused.
    let err = parsed
        .verify(&IssuerVerification {
            at: NOW,
            issuer_key: Some(&s.holder.public_key),
        })
        .unwrap_err();
    assert!(matches!(err, FormatError::InvalidSignature(_)), "{err}");
}

/// An MSO may carry where the document's status is published (ISO/IEC 18013-5 second
/// edition, a Token Status List entry); without one it has no `status` at all.
#[tokio::test]
async fn the_mso_carries_a_status_list_entry_when_given() {
    let s = setup();
    let reference = StatusListReference {
        idx: 4_242,
        uri: "https://issuer.example/status-lists/sl_1".into(),
    };
    let mut request = mdl_request(&s.holder, NOW);
    request.status = Some(reference.clone());
    let issued = issue(&s.signer, &s.issuer, &request, &mut rng())
        .await
        .unwrap();
    let parsed = IssuerSigned::from_bytes(&issued.to_bytes().unwrap()).unwrap();
    assert_eq!(parsed.verify(&at(NOW)).unwrap().mso.status, Some(reference));
    // As CBOR: "status" → {"status_list": {"idx": 4242, "uri": …}}.
    let mso = parsed.mso().unwrap();
    assert_eq!(
        mso.status.as_ref().map(|r| r.to_cbor_status()),
        Some(Value::Map(vec![(
            Value::Text("status_list".into()),
            Value::Map(vec![
                (Value::Text("idx".into()), Value::Integer(4_242.into())),
                (
                    Value::Text("uri".into()),
                    Value::Text("https://issuer.example/status-lists/sl_1".into())
                ),
            ])
        )]))
    );
    let plain = issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, NOW),
        &mut rng(),
    )
    .await
    .unwrap();
    assert_eq!(plain.mso().unwrap().status, None);
}

#[tokio::test]
async fn device_response_round_trip_discloses_only_requested() {
    let s = setup();
    let issued = issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, NOW),
        &mut rng(),
    )
    .await
    .unwrap();
    let st = transcript("nonce-1");
    let response = present(
        &s.signer,
        &s.holder,
        &issued,
        &request(&["family_name", "age_over_18", "not_issued"]),
        &st,
    )
    .await
    .unwrap();
    let bytes = response.to_bytes().unwrap();
    let parsed = DeviceResponse::from_bytes(&bytes).unwrap();
    assert_eq!(parsed.to_bytes().unwrap(), bytes);
    let docs = parsed.verify(&st, &at(NOW)).unwrap();
    assert_eq!(docs.len(), 1);
    let names: Vec<&String> = docs[0].issuer.elements[NS].keys().collect();
    assert_eq!(names, ["age_over_18", "family_name"]);
    // The transcript may also be given as the bare SessionTranscript.
    let bare = inkan_formats::mdoc::cbor::untag24(
        "t",
        &inkan_formats::mdoc::cbor::parse("t", &st).unwrap(),
    )
    .unwrap()
    .to_vec();
    parsed.verify(&bare, &at(NOW)).unwrap();
}

#[tokio::test]
async fn other_algorithms_round_trip() {
    for (issuer, holder) in [
        (
            (KeySpec::P384, Algorithm::Es384),
            (KeySpec::Ed25519, Algorithm::EdDsa),
        ),
        (
            (KeySpec::Ed25519, Algorithm::EdDsa),
            (KeySpec::P384, Algorithm::Es384),
        ),
    ] {
        let s = setup_with(issuer, holder, NOW);
        let issued = issue(
            &s.signer,
            &s.issuer,
            &mdl_request(&s.holder, NOW),
            &mut rng(),
        )
        .await
        .unwrap();
        let st = transcript("nonce-2");
        let response = present(
            &s.signer,
            &s.holder,
            &issued,
            &request(&["given_name"]),
            &st,
        )
        .await
        .unwrap();
        let docs = DeviceResponse::from_bytes(&response.to_bytes().unwrap())
            .unwrap()
            .verify(&st, &at(NOW))
            .unwrap();
        assert_eq!(
            docs[0].issuer.elements[NS]["given_name"],
            text("Hanako"),
            "{issuer:?} {holder:?}"
        );
    }
}

#[tokio::test]
async fn cose_sign1_attached_and_detached() {
    let s = setup();
    let attached = cose::sign(&s.signer, &s.issuer, b"payload", false)
        .await
        .unwrap();
    let parsed = cose::parse(&cose::to_bytes(attached).unwrap()).unwrap();
    cose::verify(&parsed, &s.issuer.public_key, None).unwrap();
    assert_eq!(cose::x5chain(&parsed).unwrap(), s.issuer.certificate_chain);
    assert!(cose::verify(&parsed, &s.holder.public_key, None).is_err());
    let detached = cose::sign(&s.signer, &s.holder, b"payload", true)
        .await
        .unwrap();
    assert!(detached.payload.is_none());
    cose::verify(&detached, &s.holder.public_key, Some(b"payload")).unwrap();
    let err = cose::verify(&detached, &s.holder.public_key, Some(b"other")).unwrap_err();
    assert!(matches!(err, FormatError::InvalidSignature(_)), "{err}");
}

#[tokio::test]
async fn tampered_element_value_is_refused() {
    let s = setup();
    let issued = issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, NOW),
        &mut rng(),
    )
    .await
    .unwrap();
    let st = transcript("n");
    let mut response = present(
        &s.signer,
        &s.holder,
        &issued,
        &request(&["age_over_18"]),
        &st,
    )
    .await
    .unwrap();
    let item = &mut response.documents[0].issuer_signed.namespaces[0].1[0];
    let mut changed = item.item.clone();
    changed.element_value = Value::Bool(false);
    *item = IssuerSignedItemBytes::new(changed).unwrap();
    let err = response.verify(&st, &at(NOW)).unwrap_err();
    assert!(
        matches!(err, FormatError::Rejected(_))
            && err.to_string().contains("digest does not match"),
        "{err}"
    );
}

#[tokio::test]
async fn element_not_in_mso_is_refused() {
    let s = setup();
    let mut issued = issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, NOW),
        &mut rng(),
    )
    .await
    .unwrap();
    issued.namespaces[0].1.push(
        IssuerSignedItemBytes::new(IssuerSignedItem {
            digest_id: 99,
            random: vec![7; 32],
            element_identifier: "age_over_65".into(),
            element_value: Value::Bool(true),
        })
        .unwrap(),
    );
    let err = issued.verify(&at(NOW)).unwrap_err();
    assert!(
        err.to_string().contains("digest ID 99 is not in the MSO"),
        "{err}"
    );
    // A name space the MSO does not know.
    issued.namespaces[0].1.pop();
    issued.namespaces.push(("org.example.other".into(), vec![]));
    let err = issued.verify(&at(NOW)).unwrap_err();
    assert!(matches!(err, FormatError::Rejected(_)), "{err}");
}

#[tokio::test]
async fn wrong_transcript_is_refused() {
    let s = setup();
    let issued = issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, NOW),
        &mut rng(),
    )
    .await
    .unwrap();
    let response = present(
        &s.signer,
        &s.holder,
        &issued,
        &request(&["family_name"]),
        &transcript("nonce-A"),
    )
    .await
    .unwrap();
    let err = response
        .verify(&transcript("nonce-B"), &at(NOW))
        .unwrap_err();
    assert!(
        matches!(err, FormatError::InvalidSignature(_))
            && err.to_string().contains("device signature"),
        "{err}"
    );
}

#[tokio::test]
async fn wrong_device_key_is_refused() {
    let s = setup();
    let issued = issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, NOW),
        &mut rng(),
    )
    .await
    .unwrap();
    let st = transcript("n");
    // The library will not present with a key other than the MSO's.
    let other = key_ref(&s.device, KeySpec::P256, Algorithm::Es256);
    let err = present(&s.signer, &other, &issued, &request(&["family_name"]), &st)
        .await
        .unwrap_err();
    assert!(matches!(err, FormatError::Rejected(_)), "{err}");
    // A response whose device signature was made by another key is refused.
    let mut response = present(
        &s.signer,
        &s.holder,
        &issued,
        &request(&["family_name"]),
        &st,
    )
    .await
    .unwrap();
    let DeviceAuth::Signature(sig) = &response.documents[0].device_signed.device_auth else {
        panic!()
    };
    let payload = inkan_formats::mdoc::device::device_authentication_bytes(
        &st,
        MDL,
        &response.documents[0].device_signed.namespaces_encoded,
    )
    .unwrap();
    let forged = cose::sign(&s.signer, &other, &payload, true).await.unwrap();
    assert_ne!(forged.signature, sig.signature);
    response.documents[0].device_signed.device_auth = DeviceAuth::Signature(Box::new(forged));
    let err = response.verify(&st, &at(NOW)).unwrap_err();
    assert!(matches!(err, FormatError::InvalidSignature(_)), "{err}");
}

#[tokio::test]
async fn expired_and_not_yet_valid_are_refused() {
    let s = setup();
    let issued = issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, NOW),
        &mut rng(),
    )
    .await
    .unwrap();
    let err = issued.verify(&at(NOW + 31 * DAY)).unwrap_err();
    assert!(err.to_string().contains("expired"), "{err}");
    let err = issued.verify(&at(NOW - 2 * DAY)).unwrap_err();
    assert!(err.to_string().contains("not valid before"), "{err}");
    // Past the certificate's validity too.
    let err = issued.verify(&at(NOW + 400 * DAY)).unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    let st = transcript("n");
    let response = present(
        &s.signer,
        &s.holder,
        &issued,
        &request(&["family_name"]),
        &st,
    )
    .await
    .unwrap();
    assert!(matches!(
        response.verify(&st, &at(NOW + 31 * DAY)),
        Err(FormatError::Rejected(_))
    ));
}

#[tokio::test]
async fn doc_type_mismatch_is_refused() {
    let s = setup();
    let issued = issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, NOW),
        &mut rng(),
    )
    .await
    .unwrap();
    let st = transcript("n");
    let mut response = present(
        &s.signer,
        &s.holder,
        &issued,
        &request(&["family_name"]),
        &st,
    )
    .await
    .unwrap();
    response.documents[0].doc_type = "org.example.other".into();
    let err = response.verify(&st, &at(NOW)).unwrap_err();
    assert!(err.to_string().contains("docType"), "{err}");
}
