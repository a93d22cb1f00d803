//! Data Integrity round trips through a real software device (`SoftDevice` + `DeviceSigner`):
//! every suite with every fitting key, credentials and presentations, and the negative cases
//! (tampered document, wrong key, wrong challenge or domain, issuer not the key's controller).
#![allow(clippy::unwrap_used)]

mod di_support;

use di_support::{device_key, soft_device};
use inkan_device::KeySpec;
use inkan_formats::FormatError;
use inkan_formats::data_integrity::{self, Cryptosuite, ProofOptions, ProofPurpose, VerifyOptions};
use serde_json::json;

fn credential(issuer: &str) -> serde_json::Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "id": "urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5",
        "type": ["VerifiableCredential", "ExampleDegreeCredential"],
        "issuer": issuer,
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "did:example:ebfeb1f712ebc6f1c276e12ec21",
            "degree": {"type": "ExampleBachelorDegree", "name": "Bachelor of Science and Arts"}
        }
    })
}

const CASES: [(Cryptosuite, KeySpec); 6] = [
    (Cryptosuite::EddsaRdfc2022, KeySpec::Ed25519),
    (Cryptosuite::EddsaJcs2022, KeySpec::Ed25519),
    (Cryptosuite::EcdsaRdfc2019, KeySpec::P256),
    (Cryptosuite::EcdsaRdfc2019, KeySpec::P384),
    (Cryptosuite::EcdsaJcs2019, KeySpec::P256),
    (Cryptosuite::EcdsaJcs2019, KeySpec::P384),
];

#[tokio::test]
async fn credentials_round_trip_through_the_soft_device() {
    let (_dir, device) = soft_device();
    for (suite, spec) in CASES {
        let (signer, key) = device_key(&device, spec);
        let vc = credential(&key.public_key.did_key());
        let signed = data_integrity::sign(&vc, &signer, &key, &ProofOptions::assertion(suite))
            .await
            .unwrap();
        assert_eq!(signed["proof"]["cryptosuite"], suite.as_str());
        assert_eq!(
            signed["proof"].get("@context").is_some(),
            !suite.is_rdfc(),
            "{suite}"
        );
        let verified = data_integrity::verify(&signed, &VerifyOptions::default())
            .unwrap_or_else(|e| panic!("{suite} {spec}: {e}"));
        assert!(verified.controller_checked);
        assert_eq!(verified.public_key, key.public_key);
        assert_eq!(verified.purpose, ProofPurpose::AssertionMethod);

        // Tampered claim.
        let mut tampered = signed.clone();
        tampered["credentialSubject"]["degree"]["name"] = "Doctor of Everything".into();
        assert!(matches!(
            data_integrity::verify(&tampered, &VerifyOptions::default()),
            Err(FormatError::InvalidSignature(_))
        ));

        // Another key of the same kind claims the proof.
        let (_, other) = device_key(&device, spec);
        let mut wrong = signed.clone();
        wrong["proof"]["verificationMethod"] =
            data_integrity::did_key_verification_method(&other.public_key).into();
        wrong["issuer"] = other.public_key.did_key().into();
        assert!(matches!(
            data_integrity::verify(&wrong, &VerifyOptions::default()),
            Err(FormatError::InvalidSignature(_))
        ));

        // The issuer is not the controller of the key.
        let other_issuer = data_integrity::sign(
            &credential("did:example:someone-else"),
            &signer,
            &key,
            &ProofOptions::assertion(suite),
        )
        .await
        .unwrap();
        assert!(matches!(
            data_integrity::verify(&other_issuer, &VerifyOptions::default()),
            Err(FormatError::Rejected(_))
        ));
        data_integrity::verify(
            &other_issuer,
            &VerifyOptions {
                proof_only: true,
                ..Default::default()
            },
        )
        .unwrap();
    }
}

#[tokio::test]
async fn did_jwk_verification_methods_verify() {
    let (_dir, device) = soft_device();
    for (suite, spec) in CASES {
        let (signer, key) = device_key(&device, spec);
        let did = key.public_key.did_jwk();
        let mut options = ProofOptions::assertion(suite);
        options.verification_method = Some(format!("{did}#0"));
        let signed = data_integrity::sign(&credential(&did), &signer, &key, &options)
            .await
            .unwrap();
        let verified = data_integrity::verify(&signed, &VerifyOptions::default()).unwrap();
        assert_eq!(verified.controller, did);
    }
}

#[tokio::test]
async fn presentations_bind_challenge_and_domain() {
    let (_dir, device) = soft_device();
    for (suite, spec) in CASES {
        let (issuer_signer, issuer_key) = device_key(&device, spec);
        let vc = data_integrity::sign(
            &credential(&issuer_key.public_key.did_key()),
            &issuer_signer,
            &issuer_key,
            &ProofOptions::assertion(suite),
        )
        .await
        .unwrap();
        let (holder_signer, holder_key) = device_key(&device, spec);
        let vp = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
            "type": ["VerifiablePresentation"],
            "holder": holder_key.public_key.did_key(),
            "verifiableCredential": [vc]
        });
        let options = ProofOptions::authentication(
            suite,
            "c0ae1c8e-c7e7-469f-b252-86e6a0e7387e",
            Some("https://verifier.example".into()),
        );
        let signed = match data_integrity::sign(&vp, &holder_signer, &holder_key, &options).await {
            Ok(signed) => signed,
            Err(e) => panic!("{suite} {spec}: {e}"),
        };
        let good = VerifyOptions {
            purpose: Some(ProofPurpose::Authentication),
            challenge: Some("c0ae1c8e-c7e7-469f-b252-86e6a0e7387e".into()),
            domain: Some("https://verifier.example".into()),
            ..Default::default()
        };
        let verified = data_integrity::verify(&signed, &good)
            .unwrap_or_else(|e| panic!("{suite} {spec}: {e}"));
        assert_eq!(verified.purpose, ProofPurpose::Authentication);
        // The embedded credential keeps its own valid proof.
        data_integrity::verify(
            &signed["verifiableCredential"][0],
            &VerifyOptions::default(),
        )
        .unwrap();

        let wrong_challenge = VerifyOptions {
            challenge: Some("another".into()),
            ..good.clone()
        };
        assert!(
            matches!(data_integrity::verify(&signed, &wrong_challenge), Err(FormatError::Rejected(m)) if m.contains("challenge"))
        );
        let no_challenge = VerifyOptions {
            challenge: None,
            ..good.clone()
        };
        assert!(
            matches!(data_integrity::verify(&signed, &no_challenge), Err(FormatError::Rejected(m)) if m.contains("challenge"))
        );
        let wrong_domain = VerifyOptions {
            domain: Some("https://evil.example".into()),
            ..good.clone()
        };
        assert!(
            matches!(data_integrity::verify(&signed, &wrong_domain), Err(FormatError::Rejected(m)) if m.contains("domain"))
        );
        let as_credential = VerifyOptions {
            purpose: Some(ProofPurpose::AssertionMethod),
            ..good.clone()
        };
        assert!(matches!(
            data_integrity::verify(&signed, &as_credential),
            Err(FormatError::Rejected(_))
        ));

        // Changing the challenge in the proof breaks the signature.
        let mut replayed = signed.clone();
        replayed["proof"]["challenge"] = "another".into();
        let replay_options = VerifyOptions {
            challenge: Some("another".into()),
            ..good.clone()
        };
        assert!(matches!(
            data_integrity::verify(&replayed, &replay_options),
            Err(FormatError::InvalidSignature(_))
        ));

        // A holder that is not the key's controller.
        let mut other_holder = vp.clone();
        other_holder["holder"] = "did:example:not-the-holder".into();
        let signed = data_integrity::sign(&other_holder, &holder_signer, &holder_key, &options)
            .await
            .unwrap();
        assert!(
            matches!(data_integrity::verify(&signed, &good), Err(FormatError::Rejected(m)) if m.contains("holder"))
        );
    }
}

#[tokio::test]
async fn suite_and_key_must_fit() {
    let (_dir, device) = soft_device();
    let (signer, key) = device_key(&device, KeySpec::P256);
    let err = data_integrity::sign(
        &credential("did:example:x"),
        &signer,
        &key,
        &ProofOptions::assertion(Cryptosuite::EddsaRdfc2022),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, FormatError::Unsupported(_)), "{err}");
    // A presentation proof without challenge is not made.
    let mut options = ProofOptions::authentication(Cryptosuite::EcdsaRdfc2019, "x", None);
    options.challenge = None;
    assert!(
        data_integrity::sign(&credential("did:example:x"), &signer, &key, &options)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn unknown_context_is_refused_when_signing() {
    let (_dir, device) = soft_device();
    let (signer, key) = device_key(&device, KeySpec::Ed25519);
    let mut vc = credential(&key.public_key.did_key());
    vc["@context"]
        .as_array_mut()
        .unwrap()
        .push("https://contexts.example/private/v1".into());
    let err = data_integrity::sign(
        &vc,
        &signer,
        &key,
        &ProofOptions::assertion(Cryptosuite::EddsaRdfc2022),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, FormatError::Unsupported(ref m) if m.contains("https://contexts.example/private/v1")),
        "{err}"
    );
}

/// Issue 15 point 2: a VCDM 1.1 credential (whose context predates Data Integrity) gets the
/// data-integrity context appended before it is signed, in every suite, and verifies; one whose
/// contexts already define the proof terms is left as it is.
#[tokio::test]
async fn vcdm11_credentials_get_the_data_integrity_context() {
    let v1 = "https://www.w3.org/2018/credentials/v1";
    let examples = "https://www.w3.org/ns/credentials/examples/v2";
    let di = data_integrity::DATA_INTEGRITY_CONTEXT;
    let (_dir, device) = soft_device();
    for (suite, spec) in CASES {
        let (signer, key) = device_key(&device, spec);
        let subject = json!({"id": "did:example:ebfeb1f712ebc6f1c276e12ec21"});
        let alumni = json!({"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "alumniOf": "Example University"});
        for (contexts, expected, subject) in [
            (json!([v1, examples]), json!([v1, examples, di]), &alumni),
            (json!(v1), json!([v1, di]), &subject),
            (
                json!([v1, di, examples]),
                json!([v1, di, examples]),
                &alumni,
            ),
        ] {
            let vc = json!({
                "@context": contexts,
                "type": ["VerifiableCredential"],
                "issuer": key.public_key.did_key(),
                "issuanceDate": "2026-01-01T00:00:00Z",
                "credentialSubject": subject
            });
            let signed = data_integrity::sign(&vc, &signer, &key, &ProofOptions::assertion(suite))
                .await
                .unwrap_or_else(|e| panic!("{suite} {spec}: {e}"));
            assert_eq!(signed["@context"], expected, "{suite}");
            data_integrity::verify(&signed, &VerifyOptions::default())
                .unwrap_or_else(|e| panic!("{suite} {spec}: {e}"));
            inkan_formats::vcdm::validate_credential(&signed, "credential").unwrap();
        }
    }
}
