//! Verification rules of issue 15 point 3, through a real software device: Data Integrity
//! proof sets and chains (every proof verified; a chained proof covers the proofs it names),
//! presentations without `holder`, credentials given as JSON strings, enveloped credentials
//! and presentations (their `@context`, the VCDM 1.1 `vp` claim), credentials inside
//! presentations each verified.
#![allow(clippy::unwrap_used)]

mod di_support;

use di_support::{device_key, soft_device};
use inkan_device::KeySpec;
use inkan_formats::FormatError;
use inkan_formats::data_integrity::{self, Cryptosuite, ProofOptions, VerifyOptions as DiOptions};
use inkan_formats::jose::{KeyHint, sign_compact, vc_jwt};
use inkan_formats::verify::{VerifyOptions, verify, verify_value};
use serde_json::{Map, Value, json};

const V2: &str = "https://www.w3.org/ns/credentials/v2";
const V1: &str = "https://www.w3.org/2018/credentials/v1";
/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600;

fn credential(issuer: &str) -> Value {
    json!({
        "@context": [V2, "https://www.w3.org/ns/credentials/examples/v2"],
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

fn at_now() -> VerifyOptions {
    VerifyOptions {
        at: NOW,
        ..Default::default()
    }
}

fn no_debug(message: &str) {
    assert!(
        !message.contains("Some(") && !message.contains("None"),
        "a Rust Debug form in a refusal: {message}"
    );
}

#[tokio::test]
async fn a_proof_set_is_verified_proof_by_proof() {
    let (_dir, device) = soft_device();
    for (first, second) in [
        (
            (Cryptosuite::EddsaRdfc2022, KeySpec::Ed25519),
            (Cryptosuite::EcdsaRdfc2019, KeySpec::P256),
        ),
        (
            (Cryptosuite::EddsaJcs2022, KeySpec::Ed25519),
            (Cryptosuite::EcdsaJcs2019, KeySpec::P384),
        ),
    ] {
        let (signer, issuer) = device_key(&device, first.1);
        let (co_signer, witness) = device_key(&device, second.1);
        let vc = credential(&issuer.public_key.did_key());
        let one = data_integrity::sign(&vc, &signer, &issuer, &ProofOptions::assertion(first.0))
            .await
            .unwrap();
        let set = data_integrity::add_proof(
            &one,
            &co_signer,
            &witness,
            &ProofOptions::assertion(second.0),
        )
        .await
        .unwrap();
        assert_eq!(set["proof"].as_array().unwrap().len(), 2);
        let verified = data_integrity::verify(&set, &DiOptions::default())
            .unwrap_or_else(|e| panic!("{first:?} + {second:?}: {e}"));
        assert_eq!(verified.proof_count, 2);
        assert!(verified.controller_checked);
        assert_eq!(verified.controller, issuer.public_key.did_key());
        assert_eq!(verified.other_methods.len(), 1);
        let found = verify(set.to_string().as_bytes(), &at_now()).unwrap();
        assert_eq!(found.details["proofs"], 2);

        // One bad proof of the set fails the whole.
        let mut bad = set.clone();
        bad["proof"][1]["proofValue"] = one["proof"]["proofValue"].clone();
        let err = data_integrity::verify(&bad, &DiOptions::default()).unwrap_err();
        assert!(err.to_string().contains("proof 1 of 2"), "{err}");
        // Without the issuer's proof, nothing binds the issuer.
        let mut witness_only = set.clone();
        witness_only["proof"] = set["proof"][1].clone();
        let err = data_integrity::verify(&witness_only, &DiOptions::default()).unwrap_err();
        assert!(
            matches!(err, FormatError::Rejected(ref m) if m.contains("`issuer`")),
            "{err}"
        );
        no_debug(&err.to_string());
        // A changed claim breaks both.
        let mut tampered = set.clone();
        tampered["credentialSubject"]["degree"]["name"] = "Doctor".into();
        assert!(data_integrity::verify(&tampered, &DiOptions::default()).is_err());
    }
}

#[tokio::test]
async fn a_proof_chain_covers_the_proof_it_names() {
    let (_dir, device) = soft_device();
    for suites in [
        [Cryptosuite::EddsaRdfc2022, Cryptosuite::EddsaRdfc2022],
        [Cryptosuite::EddsaJcs2022, Cryptosuite::EddsaJcs2022],
    ] {
        let (signer, issuer) = device_key(&device, KeySpec::Ed25519);
        let (notary_signer, notary) = device_key(&device, KeySpec::Ed25519);
        let vc = credential(&issuer.public_key.did_key());
        let first_options = ProofOptions {
            id: Some("urn:uuid:26329423-bec9-4b2e-88cb-a7c7d9dc4544".into()),
            created: Some("2025-01-01T00:00:00Z".into()),
            ..ProofOptions::assertion(suites[0])
        };
        let one = data_integrity::sign(&vc, &signer, &issuer, &first_options)
            .await
            .unwrap();
        let chained_options = ProofOptions {
            previous_proof: vec!["urn:uuid:26329423-bec9-4b2e-88cb-a7c7d9dc4544".into()],
            ..ProofOptions::assertion(suites[1])
        };
        let chain = data_integrity::add_proof(&one, &notary_signer, &notary, &chained_options)
            .await
            .unwrap();
        assert_eq!(
            chain["proof"][1]["previousProof"],
            "urn:uuid:26329423-bec9-4b2e-88cb-a7c7d9dc4544"
        );
        let verified = data_integrity::verify(&chain, &DiOptions::default())
            .unwrap_or_else(|e| panic!("{suites:?}: {e}"));
        assert_eq!(verified.proof_count, 2);

        // The first proof replaced by another valid proof with the same id: it verifies by
        // itself, but the chained proof was made over the original.
        let other_first = data_integrity::sign(
            &vc,
            &signer,
            &issuer,
            &ProofOptions {
                created: Some("2025-06-01T00:00:00Z".into()),
                ..first_options.clone()
            },
        )
        .await
        .unwrap();
        data_integrity::verify(&other_first, &DiOptions::default()).unwrap();
        let mut swapped = chain.clone();
        swapped["proof"][0] = other_first["proof"].clone();
        let err = data_integrity::verify(&swapped, &DiOptions::default()).unwrap_err();
        assert!(
            matches!(err, FormatError::InvalidSignature(ref m) if m.contains("proof 1 of 2")),
            "{suites:?}: {err}"
        );
        // The earlier proof removed: the chain names a proof that is not there.
        let mut cut = chain.clone();
        cut["proof"] = json!([chain["proof"][1].clone(), other_first["proof"].clone()]);
        cut["proof"][1]["id"] = "urn:uuid:another".into();
        let err = data_integrity::verify(&cut, &DiOptions::default()).unwrap_err();
        assert!(err.to_string().contains("previousProof"), "{err}");
        no_debug(&err.to_string());
    }
    // Adding a chained proof that names a missing proof is refused.
    let (signer, issuer) = device_key(&device, KeySpec::Ed25519);
    let one = data_integrity::sign(
        &credential(&issuer.public_key.did_key()),
        &signer,
        &issuer,
        &ProofOptions::assertion(Cryptosuite::EddsaRdfc2022),
    )
    .await
    .unwrap();
    let options = ProofOptions {
        previous_proof: vec!["urn:uuid:missing".into()],
        ..ProofOptions::assertion(Cryptosuite::EddsaRdfc2022)
    };
    assert!(
        data_integrity::add_proof(&one, &signer, &issuer, &options)
            .await
            .is_err()
    );
}

async fn presentation(
    device: &std::sync::Arc<inkan_device::soft::SoftDevice>,
    holder_member: Option<&str>,
    credentials: Value,
) -> (Value, String) {
    let (signer, holder) = device_key(device, KeySpec::Ed25519);
    let credentials_have_text = credentials.as_array().is_some_and(|items| {
        items
            .iter()
            .any(|c| c.is_string() || c["@context"] == json!([]))
    });
    let mut vp = json!({
        "@context": [V2],
        "type": ["VerifiablePresentation"],
        "verifiableCredential": credentials,
    });
    match holder_member {
        Some("self") => vp["holder"] = holder.public_key.did_key().into(),
        Some(other) => vp["holder"] = other.into(),
        None => {}
    }
    let signed = data_integrity::sign(
        &vp,
        &signer,
        &holder,
        // JCS where a credential is a string or has no context of its own: neither can be
        // expanded as JSON-LD (`verifiableCredential` resets the context).
        &ProofOptions::authentication(
            if credentials_have_text {
                Cryptosuite::EddsaJcs2022
            } else {
                Cryptosuite::EddsaRdfc2022
            },
            "c-123",
            None,
        ),
    )
    .await
    .unwrap();
    (signed, holder.public_key.did_key())
}

fn vp_options() -> VerifyOptions {
    VerifyOptions {
        challenge: Some("c-123".into()),
        ..at_now()
    }
}

#[tokio::test]
async fn a_presentation_without_holder_is_checked_by_its_key() {
    let (_dir, device) = soft_device();
    let (signer, issuer) = device_key(&device, KeySpec::P256);
    let vc = data_integrity::sign(
        &credential(&issuer.public_key.did_key()),
        &signer,
        &issuer,
        &ProofOptions::assertion(Cryptosuite::EcdsaRdfc2019),
    )
    .await
    .unwrap();
    let (vp, holder) = presentation(&device, None, json!([vc.clone()])).await;
    let found = verify(vp.to_string().as_bytes(), &vp_options()).unwrap();
    assert!(found.presentation);
    assert_eq!(found.details["controller"], holder);
    assert_eq!(found.details["controllerChecked"], false);
    assert_eq!(found.details["credentials"].as_array().unwrap().len(), 1);

    // A holder named must control the key.
    let (vp, _) = presentation(&device, Some("self"), json!([vc.clone()])).await;
    let found = verify(vp.to_string().as_bytes(), &vp_options()).unwrap();
    assert_eq!(found.details["controllerChecked"], true);
    let (vp, _) = presentation(&device, Some("did:example:someone-else"), json!([vc])).await;
    let err = verify(vp.to_string().as_bytes(), &vp_options()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("`holder`"), "{message}");
    assert!(!message.contains("someone-else"), "{message}");
    no_debug(&message);
}

/// A `vc+jwt` by `issuer` (kid its did:key) and its envelope with `context`.
async fn enveloped_vc_jwt(context: Value) -> (Value, tempfile::TempDir) {
    let (dir, device) = soft_device();
    let (signer, mut issuer) = device_key(&device, KeySpec::P256);
    issuer.kid = Some(data_integrity::did_key_verification_method(
        &issuer.public_key,
    ));
    let jwt = vc_jwt::issue_vc_jwt(
        &signer,
        &issuer,
        &credential(&issuer.public_key.did_key()),
        KeyHint::Kid,
    )
    .await
    .unwrap();
    (
        json!({"@context": context, "type": "EnvelopedVerifiableCredential", "id": format!("data:application/vc+jwt,{jwt}")}),
        dir,
    )
}

#[tokio::test]
async fn strings_and_envelopes_without_the_context_are_refused() {
    let (_dir, device) = soft_device();
    let (signer, issuer) = device_key(&device, KeySpec::Ed25519);
    let vc = data_integrity::sign(
        &credential(&issuer.public_key.did_key()),
        &signer,
        &issuer,
        &ProofOptions::assertion(Cryptosuite::EddsaRdfc2022),
    )
    .await
    .unwrap();
    // The credential as an object verifies; as its JSON text it is refused.
    verify_value(&vc, &at_now()).unwrap();
    let err = verify_value(&Value::String(vc.to_string()), &at_now()).unwrap_err();
    assert!(err.to_string().contains("string holding JSON"), "{err}");
    // Inside a presentation too.
    let (vp, _) = presentation(&device, None, json!([vc.to_string()])).await;
    let err = verify(vp.to_string().as_bytes(), &vp_options()).unwrap_err();
    assert!(
        err.to_string().contains("credential 0 of the presentation"),
        "{err}"
    );

    // An enveloped vc+jwt verifies with the VCDM context, not with `@context: []`.
    let (good, _d) = enveloped_vc_jwt(json!([V2])).await;
    let found = verify_value(&good, &at_now()).unwrap();
    assert!(
        found.format.contains("EnvelopedVerifiableCredential"),
        "{}",
        found.format
    );
    assert!(!found.presentation);
    let (empty, _d2) = enveloped_vc_jwt(json!([])).await;
    let err = verify_value(&empty, &at_now()).unwrap_err();
    assert!(err.to_string().contains("`@context`"), "{err}");
    // The same file `inkan verify` reads.
    verify(good.to_string().as_bytes(), &at_now()).unwrap();
    // In a presentation: verified like any credential, refused without the context.
    let (vp, _) = presentation(&device, None, json!([good])).await;
    let found = verify(vp.to_string().as_bytes(), &vp_options()).unwrap();
    assert!(
        found.details["credentials"][0]["format"]
            .as_str()
            .unwrap()
            .contains("vc+jwt")
    );
    let (vp, _) = presentation(&device, None, json!([empty])).await;
    assert!(verify(vp.to_string().as_bytes(), &vp_options()).is_err());
    // A credential envelope holding a presentation is refused, and the reverse.
    let mut wrong = good.clone();
    wrong["type"] = "EnvelopedVerifiablePresentation".into();
    assert!(verify_value(&wrong, &at_now()).is_err());
}

/// A VCDM 1.1 VP-JWT (`vp` claim) holding a VCDM 1.1 VC-JWT, enveloped as `vp+jwt`.
#[tokio::test]
async fn a_vcdm_11_vp_jwt_verifies_with_its_credentials() {
    let (_dir, device) = soft_device();
    let (signer, mut issuer) = device_key(&device, KeySpec::P256);
    issuer.kid = Some(data_integrity::did_key_verification_method(
        &issuer.public_key,
    ));
    let (holder_signer, mut holder) = device_key(&device, KeySpec::Ed25519);
    holder.kid = Some(data_integrity::did_key_verification_method(
        &holder.public_key,
    ));
    let vc11 = json!({
        "@context": [V1],
        "type": ["VerifiableCredential"],
        "issuer": issuer.public_key.did_key(),
        "issuanceDate": "2025-01-01T00:00:00Z",
        "credentialSubject": {"id": holder.public_key.did_key(), "name": "Hanako"}
    });
    let vc_jwt = vc_jwt::issue_vc_jwt_v11(&signer, &issuer, &vc11, KeyHint::Kid)
        .await
        .unwrap();
    let vp_jwt = |credential: String| {
        let claims = json!({
            "iss": holder.public_key.did_key(),
            "aud": "https://verifier.example",
            "nonce": "n-42",
            "iat": NOW - 10,
            "vp": {"@context": [V1], "type": ["VerifiablePresentation"], "verifiableCredential": [credential]}
        });
        let holder = holder.clone();
        let holder_signer = &holder_signer;
        async move {
            sign_compact(
                holder_signer,
                &holder,
                Some("JWT"),
                KeyHint::Kid,
                &Map::new(),
                claims.to_string().as_bytes(),
            )
            .await
            .unwrap()
        }
    };
    let token = vp_jwt(vc_jwt.clone()).await;
    let options = VerifyOptions {
        aud: Some("https://verifier.example".into()),
        nonce: Some("n-42".into()),
        ..at_now()
    };
    let found = verify(token.as_bytes(), &options).unwrap();
    assert_eq!(found.format, "VP-JWT (VCDM 1.1, jwt_vp_json)");
    assert!(found.presentation);
    assert_eq!(found.details["credentials"].as_array().unwrap().len(), 1);
    let envelope = json!({
        "@context": [V2], "type": "EnvelopedVerifiablePresentation",
        "id": format!("data:application/vp+jwt,{token}"),
    });
    let found = verify_value(&envelope, &options).unwrap();
    assert!(found.format.contains("EnvelopedVerifiablePresentation"));
    // The wrong nonce, and a tampered credential inside, are refused.
    let wrong = VerifyOptions {
        nonce: Some("other".into()),
        ..options.clone()
    };
    assert!(verify_value(&envelope, &wrong).is_err());
    let mut parts: Vec<String> = vc_jwt.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    let token = vp_jwt(parts.join(".")).await;
    let err = verify(token.as_bytes(), &options).unwrap_err();
    assert!(
        err.to_string().contains("credential 0 of the presentation"),
        "{err}"
    );
}
