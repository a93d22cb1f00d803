//! `ecdsa-sd-2023` end to end in the crate: base proofs signed through the software device,
//! derived and verified by Inkan, and checked both ways against digitalbazaar's
//! `@digitalbazaar/ecdsa-sd-2023-cryptosuite` (`interop/di/sd.mjs`, installed by `.ci/run`).
#![allow(clippy::unwrap_used)]

mod di_support;

use di_support::{device_key, soft_device};
use inkan_device::KeySpec;
use inkan_formats::FormatError;
use inkan_formats::data_integrity::ecdsa_sd::{self, BaseOptions, BaseSecrets};
use inkan_formats::data_integrity::{self, Cryptosuite, VerifyOptions};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

fn interop_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/di");
    assert!(
        dir.join("node_modules/@digitalbazaar/ecdsa-sd-2023-cryptosuite")
            .is_dir(),
        "interop/di/node_modules is missing: run `bash .ci/run` (or `npm ci --prefix interop/di`) first"
    );
    dir
}

/// Runs `node interop/di/sd.mjs ARGS`; (success, output).
fn sd_mjs(args: &[&str]) -> (bool, String) {
    let out = Command::new("node")
        .arg(interop_dir().join("sd.mjs"))
        .args(args)
        .output()
        .expect("node is installed");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn write(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

fn read(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The specification's windsurf racing example as a VCDM 2.0 credential.
fn windsurf(issuer: &str) -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2",
                     {"@vocab": "https://windsurf.grotto-networking.com/selective#"}],
        "type": ["VerifiableCredential"],
        "issuer": issuer,
        "validFrom": "2024-01-01T00:00:00Z",
        "credentialSubject": {
            "sailNumber": "Earth101",
            "sails": [
                {"size": 5.5, "sailName": "Kihei", "year": 2023},
                {"size": 6.1, "sailName": "Lahaina", "year": 2023},
                {"size": 7.0, "sailName": "Lahaina", "year": 2020},
                {"size": 7.8, "sailName": "Lahaina", "year": 2023}
            ],
            "boards": [
                {"boardName": "CompFoil170", "brand": "Wailea", "year": 2022},
                {"boardName": "Kanaha Custom", "brand": "Wailea", "year": 2019}
            ]
        }
    })
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

const MANDATORY: [&str; 5] = [
    "/issuer",
    "/validFrom",
    "/credentialSubject/sailNumber",
    "/credentialSubject/sails/1",
    "/credentialSubject/boards/0/year",
];
const SELECTIVE: [&str; 2] = ["/credentialSubject/sails/2", "/credentialSubject/boards/1"];

async fn inkan_base() -> (tempfile::TempDir, Value) {
    let (dir, device) = soft_device();
    let (signer, key) = device_key(&device, KeySpec::P256);
    let base = ecdsa_sd::sign_base(
        &windsurf(&key.public_key.did_key()),
        &signer,
        &key,
        &BaseOptions {
            mandatory_pointers: strings(&MANDATORY),
            ..BaseOptions::default()
        },
        BaseSecrets::generate(&mut rand_core::OsRng),
    )
    .await
    .unwrap();
    (dir, base)
}

fn inkan_verify(doc: &Value) -> Result<data_integrity::Verified, FormatError> {
    data_integrity::verify(doc, &VerifyOptions::default())
}

/// Copies that must not verify: `credentialSubject.sailNumber` (a mandatory statement)
/// changed, the first disclosed sail's name (a selective one) changed, a character of the
/// proof value changed, the statement signatures reordered, the mandatory indexes changed.
fn tampered(derived: &Value) -> [Value; 5] {
    let mut mandatory = derived.clone();
    mandatory["credentialSubject"]["sailNumber"] = "Mars202".into();
    let mut selective = derived.clone();
    selective["credentialSubject"]["sails"][0]["sailName"] = "Mallory".into();
    let mut signature = derived.clone();
    let value = signature["proof"]["proofValue"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut bytes: Vec<char> = value.chars().collect();
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == 'A' { 'B' } else { 'A' };
    signature["proof"]["proofValue"] = bytes.into_iter().collect::<String>().into();
    let value = |v: &Value| {
        ecdsa_sd::DerivedProofValue::parse(v["proof"]["proofValue"].as_str().unwrap()).unwrap()
    };
    let mut reordered = derived.clone();
    let mut proof = value(derived);
    proof.signatures.swap(0, 1);
    reordered["proof"]["proofValue"] = proof.serialize().unwrap().into();
    let mut indexes = derived.clone();
    let mut proof = value(derived);
    proof.mandatory_indexes[0] += 1;
    indexes["proof"]["proofValue"] = proof.serialize().unwrap().into();
    [mandatory, selective, signature, reordered, indexes]
}

#[tokio::test]
async fn inkan_base_derived_by_inkan_verifies_and_tampering_is_refused() {
    let (_dir, base) = inkan_base().await;
    // A base proof is the holder's, not a verifier's.
    let err = inkan_verify(&base).unwrap_err().to_string();
    assert!(err.contains("base proof"), "{err}");

    let derived = ecdsa_sd::derive(&base, &strings(&SELECTIVE)).unwrap();
    let verified = inkan_verify(&derived).unwrap();
    assert_eq!(verified.cryptosuite, Cryptosuite::EcdsaSd2023);
    assert!(verified.controller_checked);
    let subject = &derived["credentialSubject"];
    assert_eq!(subject["sails"].as_array().unwrap().len(), 2);
    assert_eq!(subject["boards"][0], json!({"year": 2022}));
    assert!(subject["boards"][1]["boardName"] == "Kanaha Custom");
    // Through the generic verifier too (`inkan verify`).
    let any = inkan_formats::verify::verify(
        &serde_json::to_vec(&derived).unwrap(),
        &inkan_formats::verify::VerifyOptions {
            at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64,
            ..inkan_formats::verify::VerifyOptions::default()
        },
    )
    .unwrap();
    assert_eq!(any.details["cryptosuite"], "ecdsa-sd-2023");

    for bad in tampered(&derived) {
        assert!(inkan_verify(&bad).is_err(), "{bad}");
    }
    // JSON-LD arrays are sets: the order of the disclosed sails is not signed, and a copy
    // with them in another order is the same credential.
    let mut other_order = derived.clone();
    other_order["credentialSubject"]["sails"]
        .as_array_mut()
        .unwrap()
        .reverse();
    inkan_verify(&other_order).unwrap();
    // A disclosed statement left out of the document.
    let mut fewer = derived.clone();
    fewer["credentialSubject"]["sails"]
        .as_array_mut()
        .unwrap()
        .pop();
    assert!(inkan_verify(&fewer).is_err());

    // Only mandatory statements.
    let minimal = ecdsa_sd::derive(&base, &[]).unwrap();
    inkan_verify(&minimal).unwrap();
    assert!(minimal["credentialSubject"].get("boards").is_some());
    assert!(
        minimal["credentialSubject"]["sails"]
            .as_array()
            .unwrap()
            .len()
            == 1
    );
}

#[tokio::test]
async fn refusals_name_the_field_without_its_value() {
    let (_dir, base) = inkan_base().await;
    let err = ecdsa_sd::derive(&base, &strings(&["/credentialSubject/secretThing"]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("selectivePointers[0]"), "{err}");
    assert!(!err.contains("secretThing"), "{err}");
    let err = ecdsa_sd::derive(&base, &strings(&["no-slash"]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("selectivePointers[0]") && !err.contains("no-slash"),
        "{err}"
    );

    // A base proof whose credential was changed is not derived from.
    let mut changed = base.clone();
    changed["credentialSubject"]["sails"][3]["year"] = 1999.into();
    let err = ecdsa_sd::derive(&changed, &strings(&SELECTIVE))
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not verify"), "{err}");

    let (_d, device) = soft_device();
    let (signer, key) = device_key(&device, KeySpec::P384);
    let err = ecdsa_sd::sign_base(
        &windsurf(&key.public_key.did_key()),
        &signer,
        &key,
        &BaseOptions {
            mandatory_pointers: strings(&["/issuer", "/nothing/here"]),
            ..BaseOptions::default()
        },
        BaseSecrets::generate(&mut rand_core::OsRng),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("P-256"), "{err}");
    let (signer, key) = device_key(&device, KeySpec::P256);
    let err = ecdsa_sd::sign_base(
        &windsurf(&key.public_key.did_key()),
        &signer,
        &key,
        &BaseOptions {
            mandatory_pointers: strings(&["/issuer", "/nothing/here"]),
            ..BaseOptions::default()
        },
        BaseSecrets::generate(&mut rand_core::OsRng),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("mandatoryPointers[1]") && !err.contains("/nothing/here"),
        "{err}"
    );
}

#[tokio::test]
async fn digitalbazaar_derives_inkan_base_proofs_and_verifies_inkan_derivations() {
    let (dir, base) = inkan_base().await;
    let base_file = write(dir.path(), "base.json", &base);
    let out = dir.path().join("lib-derived.json");
    let out = out.to_str().unwrap();
    let pointers = serde_json::to_string(&SELECTIVE).unwrap();
    let (ok, text) = sd_mjs(&["derive", &base_file, &pointers, out]);
    assert!(ok, "{text}");
    let lib_derived = read(out);
    inkan_verify(&lib_derived).unwrap();
    let (ok, text) = sd_mjs(&["verify", out]);
    assert!(ok, "{text}");

    let derived = ecdsa_sd::derive(&base, &strings(&SELECTIVE)).unwrap();
    let file = write(dir.path(), "inkan-derived.json", &derived);
    let (ok, text) = sd_mjs(&["verify", &file]);
    assert!(ok, "{text}");
    for (i, bad) in tampered(&derived).iter().enumerate() {
        let file = write(dir.path(), &format!("tampered-{i}.json"), bad);
        let (ok, text) = sd_mjs(&["verify", &file]);
        assert!(!ok, "digitalbazaar accepted tampered copy {i}: {text}");
    }
}

#[tokio::test]
async fn inkan_derives_and_verifies_digitalbazaar_base_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let unsigned = write(
        dir.path(),
        "unsigned.json",
        &windsurf("did:example:placeholder"),
    );
    let base_file = dir.path().join("lib-base.json");
    let base_file = base_file.to_str().unwrap();
    let mandatory = serde_json::to_string(&MANDATORY).unwrap();
    let (ok, text) = sd_mjs(&["issue", &unsigned, &mandatory, base_file]);
    assert!(ok, "{text}");
    let base = read(base_file);

    // Derived by the library, verified by Inkan.
    let lib_derived = dir.path().join("lib-derived.json");
    let lib_derived = lib_derived.to_str().unwrap();
    let selective = serde_json::to_string(&SELECTIVE).unwrap();
    let (ok, text) = sd_mjs(&["derive", base_file, &selective, lib_derived]);
    assert!(ok, "{text}");
    let derived = read(lib_derived);
    let verified = inkan_verify(&derived).unwrap();
    assert_eq!(Some(verified.controller.as_str()), base["issuer"].as_str());
    for bad in tampered(&derived) {
        assert!(inkan_verify(&bad).is_err(), "{bad}");
    }

    // Derived by Inkan, verified by both.
    let inkan_derived = ecdsa_sd::derive(&base, &strings(&SELECTIVE)).unwrap();
    assert_eq!(
        inkan_derived["credentialSubject"],
        derived["credentialSubject"]
    );
    inkan_verify(&inkan_derived).unwrap();
    let file = write(dir.path(), "inkan-derived.json", &inkan_derived);
    let (ok, text) = sd_mjs(&["verify", &file]);
    assert!(ok, "{text}");
}

/// A credential with named nodes (`id`s), an issuer object, a status entry, a nested typed
/// object and an array of literals, disclosed in part both ways.
#[tokio::test]
async fn named_nodes_status_and_literal_arrays_interoperate() {
    let (dir, device) = soft_device();
    let (signer, key) = device_key(&device, KeySpec::P256);
    let credential = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2",
                     "https://www.w3.org/ns/credentials/examples/v2"],
        "id": "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33",
        "type": ["VerifiableCredential", "ExampleDegreeCredential"],
        "issuer": {"id": key.public_key.did_key(), "name": "Example University"},
        "validFrom": "2024-01-01T00:00:00Z",
        "credentialStatus": {
            "id": "https://university.example/status/1#5",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": "5",
            "statusListCredential": "https://university.example/status/1"
        },
        "credentialSubject": {
            "id": "did:example:ebfeb1f712ebc6f1c276e12ec21",
            "name": "Alice",
            "degree": {"type": "ExampleBachelorDegree", "name": "Bachelor of Science and Arts"},
            "alumniOf": ["Example University", "Another University"]
        }
    });
    let base = ecdsa_sd::sign_base(
        &credential,
        &signer,
        &key,
        &BaseOptions {
            mandatory_pointers: strings(&["/issuer", "/validFrom", "/credentialStatus"]),
            ..BaseOptions::default()
        },
        BaseSecrets::generate(&mut rand_core::OsRng),
    )
    .await
    .unwrap();
    let selective = [
        "/credentialSubject/degree/name",
        "/credentialSubject/alumniOf/1",
    ];
    let derived = ecdsa_sd::derive(&base, &strings(&selective)).unwrap();
    assert_eq!(
        derived["credentialSubject"],
        json!({
            "id": "did:example:ebfeb1f712ebc6f1c276e12ec21",
            "degree": {"type": "ExampleBachelorDegree", "name": "Bachelor of Science and Arts"},
            "alumniOf": ["Another University"]
        })
    );
    inkan_verify(&derived).unwrap();
    let file = write(dir.path(), "derived.json", &derived);
    let (ok, text) = sd_mjs(&["verify", &file]);
    assert!(ok, "{text}");
    let base_file = write(dir.path(), "base.json", &base);
    let out = dir.path().join("lib-derived.json");
    let out = out.to_str().unwrap();
    let (ok, text) = sd_mjs(&[
        "derive",
        &base_file,
        &serde_json::to_string(&selective).unwrap(),
        out,
    ]);
    assert!(ok, "{text}");
    let lib_derived = read(out);
    assert_eq!(
        lib_derived["credentialSubject"],
        derived["credentialSubject"]
    );
    inkan_verify(&lib_derived).unwrap();
    let mut changed = lib_derived.clone();
    changed["credentialSubject"]["alumniOf"][0] = "Example University".into();
    assert!(inkan_verify(&changed).is_err());
}
