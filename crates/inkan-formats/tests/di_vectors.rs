//! The W3C Data Integrity test vectors (testdata/data-integrity/SOURCE.md): `eddsa-rdfc-2022`
//! and `eddsa-jcs-2022` reproduced byte for byte from the published key with every
//! intermediate; the ECDSA vectors (rdfc and jcs, P-256 and P-384) verified; tampered copies
//! refused.
#![allow(clippy::unwrap_used)]

mod di_support;

use di_support::{published_ed25519, vector, vector_json};
use inkan_device::Algorithm;
use inkan_formats::FormatError;
use inkan_formats::data_integrity::{self, Cryptosuite, ProofOptions, VerifyOptions};

fn hex_file(path: &str) -> String {
    vector(path).trim().to_owned()
}

/// Reproduces one EdDSA vector folder: canonical forms, hashes, signature, signed credential.
async fn reproduce_eddsa(suite: Cryptosuite, dir: &str, tag: &str) {
    let unsigned = vector_json("eddsa/unsigned.json");
    let config_vector = vector_json(&format!("{dir}/proofConfig{tag}.json"));
    let (signer, key) = published_ed25519();
    let mut options = ProofOptions::assertion(suite);
    options.created = Some(config_vector["created"].as_str().unwrap().to_owned());

    // The proof configuration equals the published one.
    let method = data_integrity::did_key_verification_method(&key.public_key);
    let config = data_integrity::proof_config(&unsigned, &options, &method).unwrap();
    assert_eq!(config, config_vector, "{suite}: proof configuration");

    // Every intermediate.
    let hashes = data_integrity::hash_data(suite, Algorithm::EdDsa, &unsigned, &config).unwrap();
    assert_eq!(
        hashes.canonical_document,
        vector(&format!("{dir}/canonDoc{tag}.txt")),
        "{suite}: canonical document"
    );
    assert_eq!(
        hashes.canonical_proof_config,
        vector(&format!("{dir}/proofCanon{tag}.txt")),
        "{suite}: canonical proof config"
    );
    assert_eq!(
        hex::encode(&hashes.document_hash),
        hex_file(&format!("{dir}/docHash{tag}.txt")),
        "{suite}: document hash"
    );
    assert_eq!(
        hex::encode(&hashes.proof_config_hash),
        hex_file(&format!("{dir}/proofHash{tag}.txt")),
        "{suite}: proof hash"
    );
    assert_eq!(
        hex::encode(hashes.combined()),
        hex_file(&format!("{dir}/combinedHash{tag}.txt")),
        "{suite}: hashData"
    );

    // The signed credential, byte for byte where it matters: the signature.
    let signed = data_integrity::sign(&unsigned, &signer, &key, &options)
        .await
        .unwrap();
    let expected = vector_json(&format!("{dir}/signed{tag}.json"));
    assert_eq!(signed, expected, "{suite}: signed credential");
    let proof_value = signed["proof"]["proofValue"].as_str().unwrap();
    assert_eq!(
        proof_value,
        hex_file(&format!("{dir}/sigBTC58{tag}.txt")),
        "{suite}: signature base58btc"
    );
    let signature = bs58::decode(&proof_value[1..]).into_vec().unwrap();
    assert_eq!(
        hex::encode(signature),
        hex_file(&format!("{dir}/sigHex{tag}.txt")),
        "{suite}: signature hex"
    );

    // And it verifies (proof only: the vector's issuer is not the key's controller).
    let verified = data_integrity::verify(
        &expected,
        &VerifyOptions {
            proof_only: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(verified.cryptosuite, suite);
    assert_eq!(verified.controller, key.public_key.did_key());
}

#[tokio::test]
async fn eddsa_rdfc_2022_is_reproduced_byte_for_byte() {
    reproduce_eddsa(
        Cryptosuite::EddsaRdfc2022,
        "eddsa/eddsa-rdfc-2022",
        "DataInt",
    )
    .await;
}

#[tokio::test]
async fn eddsa_jcs_2022_is_reproduced_byte_for_byte() {
    reproduce_eddsa(Cryptosuite::EddsaJcs2022, "eddsa/eddsa-jcs-2022", "JCS").await;
}

const ECDSA: [(&str, &str, Cryptosuite, Algorithm); 4] = [
    (
        "ecdsa/ecdsa-rdfc-2019-p256",
        "ECDSAP256",
        Cryptosuite::EcdsaRdfc2019,
        Algorithm::Es256,
    ),
    (
        "ecdsa/ecdsa-rdfc-2019-p384",
        "ECDSAP384",
        Cryptosuite::EcdsaRdfc2019,
        Algorithm::Es384,
    ),
    (
        "ecdsa/ecdsa-jcs-2019-p256",
        "JCSECDSAP256",
        Cryptosuite::EcdsaJcs2019,
        Algorithm::Es256,
    ),
    (
        "ecdsa/ecdsa-jcs-2019-p384",
        "JCSECDSAP384",
        Cryptosuite::EcdsaJcs2019,
        Algorithm::Es384,
    ),
];

#[test]
fn ecdsa_vectors_verify_with_their_intermediates() {
    let unsigned = vector_json("ecdsa/unsigned.json");
    for (dir, tag, suite, alg) in ECDSA {
        let config = vector_json(&format!("{dir}/proofConfig{tag}.json"));
        let hashes = data_integrity::hash_data(suite, alg, &unsigned, &config).unwrap();
        assert_eq!(
            hashes.canonical_document,
            vector(&format!("{dir}/canonDoc{tag}.txt")),
            "{dir}: canonical document"
        );
        assert_eq!(
            hashes.canonical_proof_config,
            vector(&format!("{dir}/proofCanon{tag}.txt")),
            "{dir}: canonical proof config"
        );
        assert_eq!(
            hex::encode(&hashes.document_hash),
            hex_file(&format!("{dir}/docHash{tag}.txt")),
            "{dir}: document hash"
        );
        assert_eq!(
            hex::encode(&hashes.proof_config_hash),
            hex_file(&format!("{dir}/proofHash{tag}.txt")),
            "{dir}: proof hash"
        );
        assert_eq!(
            hex::encode(hashes.combined()),
            hex_file(&format!("{dir}/combinedHash{tag}.txt")),
            "{dir}: hashData"
        );

        let signed = vector_json(&format!("{dir}/signed{tag}.json"));
        let verified = data_integrity::verify(
            &signed,
            &VerifyOptions {
                proof_only: true,
                ..Default::default()
            },
        )
        .unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!(verified.cryptosuite, suite);
        assert_eq!(
            verified.public_key.spec(),
            if alg == Algorithm::Es256 {
                inkan_device::KeySpec::P256
            } else {
                inkan_device::KeySpec::P384
            }
        );
        // The published signature is the one in the signed credential.
        let proof_value = signed["proof"]["proofValue"].as_str().unwrap();
        assert_eq!(proof_value, hex_file(&format!("{dir}/sigBTC58{tag}.txt")));
        let signature = bs58::decode(&proof_value[1..]).into_vec().unwrap();
        assert_eq!(
            hex::encode(signature),
            hex_file(&format!("{dir}/sigHex{tag}.txt"))
        );
    }
}

#[test]
fn vectors_without_proof_only_are_refused_for_the_issuer_binding() {
    let signed = vector_json("eddsa/eddsa-rdfc-2022/signedDataInt.json");
    let err = data_integrity::verify(&signed, &VerifyOptions::default()).unwrap_err();
    assert!(
        matches!(err, FormatError::Rejected(ref m) if m.contains("`issuer`") && m.contains("controller")),
        "{err}"
    );
    // The refusal names the member, not its value (issue 15).
    assert!(
        !err.to_string().contains("https://vc.example/issuers/5678"),
        "{err}"
    );
}

#[test]
fn tampered_vectors_are_refused() {
    let all = [
        "eddsa/eddsa-rdfc-2022/signedDataInt.json",
        "eddsa/eddsa-jcs-2022/signedJCS.json",
        "ecdsa/ecdsa-rdfc-2019-p256/signedECDSAP256.json",
        "ecdsa/ecdsa-rdfc-2019-p384/signedECDSAP384.json",
        "ecdsa/ecdsa-jcs-2019-p256/signedJCSECDSAP256.json",
        "ecdsa/ecdsa-jcs-2019-p384/signedJCSECDSAP384.json",
    ];
    let proof_only = VerifyOptions {
        proof_only: true,
        ..Default::default()
    };
    for path in all {
        // A changed claim.
        let mut doc = vector_json(path);
        doc["credentialSubject"]["alumniOf"] = "The School of Forgeries".into();
        let err = data_integrity::verify(&doc, &proof_only).unwrap_err();
        assert!(
            matches!(err, FormatError::InvalidSignature(_)),
            "{path}: {err}"
        );
        // A changed proof option.
        let mut doc = vector_json(path);
        doc["proof"]["created"] = "2024-02-24T23:36:38Z".into();
        let err = data_integrity::verify(&doc, &proof_only).unwrap_err();
        assert!(
            matches!(err, FormatError::InvalidSignature(_)),
            "{path}: {err}"
        );
        // A flipped signature bit.
        let mut doc = vector_json(path);
        let mut sig = bs58::decode(&doc["proof"]["proofValue"].as_str().unwrap()[1..])
            .into_vec()
            .unwrap();
        sig[10] ^= 1;
        doc["proof"]["proofValue"] = format!("z{}", bs58::encode(sig).into_string()).into();
        let err = data_integrity::verify(&doc, &proof_only).unwrap_err();
        assert!(
            matches!(err, FormatError::InvalidSignature(_)),
            "{path}: {err}"
        );
    }
}

#[test]
fn wrong_key_is_refused() {
    // The EdDSA vector's proof, claimed by another Ed25519 key.
    let mut doc = vector_json("eddsa/eddsa-rdfc-2022/signedDataInt.json");
    let other = "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th#z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th";
    doc["proof"]["verificationMethod"] = other.into();
    let err = data_integrity::verify(
        &doc,
        &VerifyOptions {
            proof_only: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, FormatError::InvalidSignature(_)), "{err}");
    // An ECDSA key for an EdDSA suite.
    let mut doc = vector_json("eddsa/eddsa-rdfc-2022/signedDataInt.json");
    doc["proof"]["verificationMethod"] = vector_json(
        "ecdsa/ecdsa-rdfc-2019-p256/signedECDSAP256.json",
    )["proof"]["verificationMethod"]
        .clone();
    let err = data_integrity::verify(
        &doc,
        &VerifyOptions {
            proof_only: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(matches!(err, FormatError::InvalidSignature(_)), "{err}");
}

#[test]
fn unknown_context_is_refused_by_name() {
    let mut doc = vector_json("eddsa/eddsa-rdfc-2022/signedDataInt.json");
    doc["@context"]
        .as_array_mut()
        .unwrap()
        .push("https://example.org/unknown/v1".into());
    let err = data_integrity::verify(
        &doc,
        &VerifyOptions {
            proof_only: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, FormatError::Unsupported(ref m) if m.contains("https://example.org/unknown/v1")),
        "{err}"
    );
}

#[test]
fn undefined_terms_are_refused() {
    // A term no context defines would be dropped from the RDF and so from the signature.
    let mut doc = vector_json("eddsa/unsigned.json");
    doc["@context"] = serde_json::json!(["https://www.w3.org/ns/credentials/v2"]);
    doc["credentialSubject"]["undefinedTerm"] = "x".into();
    let err = data_integrity::canon::rdfc(&doc).unwrap_err();
    assert!(matches!(err, FormatError::Malformed { .. }), "{err}");
}

#[test]
fn oversized_and_deep_input_is_refused() {
    let big = vec![b' '; inkan_formats::limits::MAX_DOCUMENT_BYTES + 1];
    assert!(matches!(
        data_integrity::verify_bytes(&big, &VerifyOptions::default()),
        Err(FormatError::Malformed { .. })
    ));
    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    assert!(matches!(
        data_integrity::verify_bytes(deep.as_bytes(), &VerifyOptions::default()),
        Err(FormatError::Malformed { .. })
    ));
}
