//! Signing and verifying every format, through an in-memory test signer, plus the measurement
//! issue 4 asks for: the cost of canonicalising a credential (RDFC-1.0, JCS) against the
//! signature itself.
//!
//! The signer here holds its keys in memory (`ring`, as the software token does); that is
//! allowed in a benchmark and never in the crate. Owns only measurements: never a timed test
//! or a pass/fail gate. Measurement times are short so that
//! `cargo bench -p inkan-formats --bench formats` finishes in a few minutes.

#![allow(clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use inkan_device::{Algorithm, KeyHandle, KeySpec, PublicKey};
use inkan_formats::data_integrity::{self, Cryptosuite, ProofOptions, canon};
use inkan_formats::jose::sd_jwt::{
    self, KeyBindingExpectation, KeyBindingRequest, SdJwtVcIssue, SdJwtVerifyOptions,
};
use inkan_formats::jose::{KeyHint, sign_compact, vc_jwt, verify_compact};
use inkan_formats::mdoc::{self, DeviceResponse, IssueRequest, IssuerSigned, IssuerVerification};
use inkan_formats::signer::SignInput;
use inkan_formats::status::{BitstringStatusList, TokenStatusList};
use inkan_formats::{FormatError, KeyRef, Signer};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Duration;

/// 2025-01-01T00:00:00Z.
const NOW: i64 = 1_735_689_600;
const DAY: i64 = 86_400;

/// An in-memory signer: one P-256 and one Ed25519 key in `ring`, chosen by the key's
/// algorithm.
struct MemorySigner {
    p256: EcdsaKeyPair,
    ed25519: Ed25519KeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for MemorySigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemorySigner")
    }
}

#[async_trait::async_trait]
impl Signer for MemorySigner {
    async fn sign(&self, key: &KeyRef, input: SignInput<'_>) -> Result<Vec<u8>, FormatError> {
        let SignInput::Message(m) = input else {
            return Err(FormatError::Signer("message only".into()));
        };
        match key.algorithm {
            Algorithm::Es256 => Ok(self
                .p256
                .sign(&self.rng, m)
                .map_err(|e| FormatError::Signer(e.to_string()))?
                .as_ref()
                .to_vec()),
            Algorithm::EdDsa => Ok(self.ed25519.sign(m).as_ref().to_vec()),
            other => Err(FormatError::Signer(format!("{other} not in this signer"))),
        }
    }
}

/// A signer with fresh keys and the key references of both.
fn signer() -> (MemorySigner, KeyRef, KeyRef) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let p256 =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let ed25519 = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let key = |alg, public_key: PublicKey, kid: &str| KeyRef {
        handle: KeyHandle::new(kid),
        algorithm: alg,
        public_key,
        kid: Some(kid.to_owned()),
        certificate_chain: Vec::new(),
    };
    let es256 = key(
        Algorithm::Es256,
        PublicKey::from_sec1(KeySpec::P256, p256.public_key().as_ref()).unwrap(),
        "es256",
    );
    let eddsa = key(
        Algorithm::EdDsa,
        PublicKey::from_ed25519(ed25519.public_key().as_ref()).unwrap(),
        "eddsa",
    );
    (MemorySigner { p256, ed25519, rng }, es256, eddsa)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn testdata(name: &str) -> String {
    std::fs::read_to_string(format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The W3C Data Integrity example credential (the `eddsa-rdfc-2022` test vector's input).
fn w3c_credential() -> Value {
    serde_json::from_str(&testdata("data-integrity/eddsa/unsigned.json")).unwrap()
}

fn jws(c: &mut Criterion) {
    let (signer, es256, eddsa) = signer();
    let rt = runtime();
    let payload = serde_json::to_vec(&json!({
        "iss": "https://issuer.example", "sub": "user-1", "iat": NOW, "exp": NOW + DAY,
        "nonce": "n-0S6_WzA2Mj",
    }))
    .unwrap();
    let mut g = c.benchmark_group("jws");
    g.throughput(Throughput::Elements(1));
    for (name, key) in [("ES256", &es256), ("EdDSA", &eddsa)] {
        let sign = || {
            rt.block_on(sign_compact(
                &signer,
                key,
                Some("JWT"),
                KeyHint::Kid,
                &Default::default(),
                black_box(&payload),
            ))
            .unwrap()
        };
        let token = sign();
        g.bench_function(format!("{name}/sign"), |b| b.iter(sign));
        g.bench_function(format!("{name}/verify"), |b| {
            b.iter(|| verify_compact(black_box(&token), &key.public_key).unwrap())
        });
    }
    g.finish();
}

fn vc_jwt(c: &mut Criterion) {
    let (signer, es256, eddsa) = signer();
    let rt = runtime();
    let credential = w3c_credential();
    let mut g = c.benchmark_group("vc_jwt");
    g.throughput(Throughput::Elements(1));
    for (name, key) in [("ES256", &es256), ("EdDSA", &eddsa)] {
        let sign = || {
            rt.block_on(vc_jwt::issue_vc_jwt(
                &signer,
                key,
                black_box(&credential),
                KeyHint::Kid,
            ))
            .unwrap()
        };
        let token = sign();
        g.bench_function(format!("{name}/issue"), |b| b.iter(sign));
        g.bench_function(format!("{name}/verify"), |b| {
            b.iter(|| vc_jwt::verify_vc_jwt(black_box(&token), &key.public_key, NOW).unwrap())
        });
    }
    g.finish();
}

fn sd_jwt(c: &mut Criterion) {
    // Issuer ES256, holder EdDSA (the holder key is in the same in-memory signer).
    let (signer, issuer, holder) = signer();
    let rt = runtime();
    let request = SdJwtVcIssue {
        vct: "https://credentials.example.com/identity_credential".into(),
        issuer: Some("https://issuer.example".into()),
        issued_at: Some(NOW),
        not_before: None,
        expires_at: Some(NOW + 365 * DAY),
        holder_key: Some(holder.public_key.clone()),
        status: None,
        // Ten claims, five of them selectively disclosable.
        claims: json!({
            "given_name": "Erika",
            "family_name": "Mustermann",
            "birthdate": "1963-08-12",
            "email": "erika@example.com",
            "phone_number": "+49 30 1234567",
            "nationality": "DE",
            "locality": "Berlin",
            "country": "DE",
            "is_over_18": true,
            "document_number": "T22000129",
        }),
        selectively_disclosable: [
            "/given_name",
            "/family_name",
            "/birthdate",
            "/email",
            "/is_over_18",
        ]
        .map(String::from)
        .to_vec(),
        decoys_per_object: 0,
        hint: KeyHint::Kid,
    };
    let issue = || {
        rt.block_on(sd_jwt::issue_sd_jwt_vc(
            &signer,
            &issuer,
            black_box(&request),
            &mut rand_core::OsRng,
        ))
        .unwrap()
    };
    let issued = issue().serialized;
    let kb = KeyBindingRequest {
        audience: "https://verifier.example",
        nonce: "nonce-1234",
        issued_at: NOW,
    };
    let present = || {
        rt.block_on(sd_jwt::present_sd_jwt(
            &signer,
            black_box(&issued),
            &["/given_name", "/is_over_18"],
            Some((&holder, &kb)),
        ))
        .unwrap()
    };
    let presented = present();
    let plain = SdJwtVerifyOptions {
        now: NOW,
        key_binding: None,
    };
    let bound = SdJwtVerifyOptions {
        now: NOW,
        key_binding: Some(KeyBindingExpectation {
            audience: "https://verifier.example",
            nonce: "nonce-1234",
            max_age: 300,
        }),
    };
    let mut g = c.benchmark_group("sd_jwt_vc");
    g.throughput(Throughput::Elements(1));
    g.bench_function("issue (10 claims, 5 SD)", |b| b.iter(issue));
    g.bench_function("verify issuance", |b| {
        b.iter(|| sd_jwt::verify_sd_jwt_vc(black_box(&issued), &issuer.public_key, &plain).unwrap())
    });
    g.bench_function("present (2 disclosures + KB-JWT)", |b| b.iter(present));
    g.bench_function("verify presentation + KB-JWT", |b| {
        b.iter(|| {
            sd_jwt::verify_sd_jwt_vc(black_box(&presented), &issuer.public_key, &bound).unwrap()
        })
    });
    g.finish();
}

fn data_integrity(c: &mut Criterion) {
    let (signer, es256, eddsa) = signer();
    let rt = runtime();
    let credential = w3c_credential();
    // The example's issuer is not the controller of the signing did:key: proof only, as the
    // W3C vectors need.
    let verify = data_integrity::VerifyOptions {
        proof_only: true,
        ..Default::default()
    };
    let mut g = c.benchmark_group("data_integrity");
    g.throughput(Throughput::Elements(1));
    for (suite, key) in [
        (Cryptosuite::EddsaRdfc2022, &eddsa),
        (Cryptosuite::EddsaJcs2022, &eddsa),
        (Cryptosuite::EcdsaRdfc2019, &es256),
        (Cryptosuite::EcdsaJcs2019, &es256),
    ] {
        let mut options = ProofOptions::assertion(suite);
        options.created = Some("2023-02-24T23:36:38Z".into());
        let sign = || {
            rt.block_on(data_integrity::sign(
                black_box(&credential),
                &signer,
                key,
                &options,
            ))
            .unwrap()
        };
        let secured = sign();
        g.bench_function(format!("{suite}/sign"), |b| b.iter(sign));
        g.bench_function(format!("{suite}/verify"), |b| {
            b.iter(|| data_integrity::verify(black_box(&secured), &verify).unwrap())
        });
    }
    g.finish();
}

fn mdoc(c: &mut Criterion) {
    let (signer, issuer, holder) = signer();
    // Holder ES256 as well: mdoc device keys are P-256 in practice.
    let holder = KeyRef {
        algorithm: Algorithm::Es256,
        public_key: issuer.public_key.clone(),
        ..holder
    };
    let rt = runtime();
    let ns = "org.iso.18013.5.1";
    let text = |s: &str| ciborium::Value::Text(s.into());
    let request = IssueRequest {
        doc_type: "org.iso.18013.5.1.mDL".into(),
        namespaces: vec![(
            ns.into(),
            vec![
                ("family_name".into(), text("Yamada")),
                ("given_name".into(), text("Hanako")),
                (
                    "birth_date".into(),
                    ciborium::Value::Tag(1004, Box::new(text("1990-04-01"))),
                ),
                ("issuing_country".into(), text("JP")),
                ("age_over_18".into(), ciborium::Value::Bool(true)),
                ("document_number".into(), text("DL-123456789")),
            ],
        )],
        device_key: holder.public_key.clone(),
        validity: mdoc::ValidityInfo {
            signed: NOW - DAY,
            valid_from: NOW - DAY,
            valid_until: NOW + 30 * DAY,
            expected_update: None,
        },
        status: None,
    };
    let issue = || {
        rt.block_on(mdoc::issue(
            &signer,
            &issuer,
            black_box(&request),
            &mut rand_core::OsRng,
        ))
        .unwrap()
    };
    let issued = issue();
    let issued_bytes = issued.to_bytes().unwrap();
    let options = IssuerVerification {
        at: NOW,
        issuer_key: Some(&issuer.public_key),
    };
    // SessionTranscriptBytes: #6.24(bstr .cbor [null, null, ["bench-handover", nonce]]).
    let transcript = {
        let st = ciborium::Value::Array(vec![
            ciborium::Value::Null,
            ciborium::Value::Null,
            ciborium::Value::Array(vec![text("bench-handover"), text("nonce")]),
        ]);
        mdoc::cbor::encode(&mdoc::cbor::tag24(mdoc::cbor::encode(&st).unwrap())).unwrap()
    };
    let items: mdoc::ItemsRequest = [(
        ns.to_string(),
        vec!["family_name".to_string(), "age_over_18".to_string()],
    )]
    .into_iter()
    .collect();
    let present = || {
        rt.block_on(mdoc::present(
            &signer,
            &holder,
            black_box(&issued),
            &items,
            &transcript,
        ))
        .unwrap()
        .to_bytes()
        .unwrap()
    };
    let response = present();
    let mut g = c.benchmark_group("mdoc");
    g.throughput(Throughput::Elements(1));
    g.bench_function("IssuerSigned/issue (6 elements)", |b| b.iter(issue));
    g.bench_function("IssuerSigned/parse+verify", |b| {
        b.iter(|| {
            IssuerSigned::from_bytes(black_box(&issued_bytes))
                .unwrap()
                .verify(&options)
                .unwrap()
        })
    });
    g.bench_function("DeviceResponse/present (2 elements)", |b| b.iter(present));
    g.bench_function("DeviceResponse/parse+verify", |b| {
        b.iter(|| {
            DeviceResponse::from_bytes(black_box(&response))
                .unwrap()
                .verify(&transcript, &options)
                .unwrap()
        })
    });
    g.finish();
}

fn status(c: &mut Criterion) {
    const ENTRIES: usize = 131_072;
    let mut w3c = BitstringStatusList::new(ENTRIES, 1).unwrap();
    let mut ietf = TokenStatusList::new(ENTRIES, 1).unwrap();
    // About 1 % revoked, spread out.
    for i in (0..ENTRIES as u64).step_by(97) {
        w3c.set(i, 1).unwrap();
        ietf.set(i, 1).unwrap();
    }
    let encoded = w3c.encode().unwrap();
    let json = ietf.to_json().unwrap();
    let cbor = ietf.to_cbor().unwrap();
    let mut g = c.benchmark_group("status_list");
    g.throughput(Throughput::Elements(1));
    g.bench_function("bitstring/decode 131072", |b| {
        b.iter(|| {
            BitstringStatusList::from_encoded(black_box(&encoded), 1)
                .unwrap()
                .status(12_345)
                .unwrap()
        })
    });
    g.bench_function("bitstring/encode 131072", |b| {
        b.iter(|| black_box(&w3c).encode().unwrap())
    });
    g.bench_function("token/decode JSON 131072", |b| {
        b.iter(|| {
            TokenStatusList::from_json(black_box(&json))
                .unwrap()
                .status(12_345)
                .unwrap()
        })
    });
    g.bench_function("token/decode CBOR 131072", |b| {
        b.iter(|| {
            TokenStatusList::from_cbor(black_box(&cbor))
                .unwrap()
                .status(12_345)
                .unwrap()
        })
    });
    g.finish();
}

/// The question of issue 4: what canonicalising one credential costs against signing it.
fn canonicalisation(c: &mut Criterion) {
    let credential = w3c_credential();
    let (signer, es256, eddsa) = signer();
    let rt = runtime();
    let mut options = ProofOptions::assertion(Cryptosuite::EddsaRdfc2022);
    options.created = Some("2023-02-24T23:36:38Z".into());
    let method = data_integrity::keys::did_key_verification_method(&eddsa.public_key);
    let proof_config = data_integrity::proof_config(&credential, &options, &method).unwrap();
    let message = [0x5au8; 64];
    let dalek = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let p256_key = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();

    let mut g = c.benchmark_group("canon_vs_sig");
    g.throughput(Throughput::Elements(1));
    g.bench_function("RDFC-1.0 document", |b| {
        b.iter(|| canon::rdfc(black_box(&credential)).unwrap())
    });
    g.bench_function("RDFC-1.0 proof config", |b| {
        b.iter(|| canon::rdfc(black_box(&proof_config)).unwrap())
    });
    g.bench_function("hash_data eddsa-rdfc-2022", |b| {
        b.iter(|| {
            data_integrity::hash_data(
                Cryptosuite::EddsaRdfc2022,
                Algorithm::EdDsa,
                black_box(&credential),
                &proof_config,
            )
            .unwrap()
        })
    });
    g.bench_function("JCS document", |b| {
        b.iter(|| canon::jcs(black_box(&credential)).unwrap())
    });
    g.bench_function("hash_data eddsa-jcs-2022", |b| {
        b.iter(|| {
            data_integrity::hash_data(
                Cryptosuite::EddsaJcs2022,
                Algorithm::EdDsa,
                black_box(&credential),
                &proof_config,
            )
            .unwrap()
        })
    });
    g.bench_function("Ed25519 sign 64 B (ring)", |b| {
        b.iter(|| signer.ed25519.sign(black_box(&message)))
    });
    g.bench_function("ES256 sign 64 B (ring)", |b| {
        b.iter(|| signer.p256.sign(&signer.rng, black_box(&message)).unwrap())
    });
    g.bench_function("Ed25519 sign 64 B (ed25519-dalek)", |b| {
        use ed25519_dalek::Signer as _;
        b.iter(|| dalek.sign(black_box(&message)))
    });
    g.bench_function("ES256 sign 64 B (p256)", |b| {
        use p256::ecdsa::signature::Signer as _;
        b.iter(|| -> p256::ecdsa::Signature { p256_key.sign(black_box(&message)) })
    });
    g.bench_function("Ed25519 verify 64 B", |b| {
        let sig = signer.ed25519.sign(&message);
        b.iter(|| {
            eddsa
                .public_key
                .verify(Algorithm::EdDsa, black_box(&message), sig.as_ref())
                .unwrap()
        })
    });
    g.bench_function("ES256 verify 64 B", |b| {
        let sig = signer.p256.sign(&signer.rng, &message).unwrap();
        b.iter(|| {
            es256
                .public_key
                .verify(Algorithm::Es256, black_box(&message), sig.as_ref())
                .unwrap()
        })
    });
    // The whole proof, for scale (same numbers as the data_integrity group).
    g.bench_function("eddsa-rdfc-2022 sign whole", |b| {
        b.iter(|| {
            rt.block_on(data_integrity::sign(
                black_box(&credential),
                &signer,
                &eddsa,
                &options,
            ))
            .unwrap()
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = canonicalisation, jws, vc_jwt, sd_jwt, data_integrity, mdoc, status
}
criterion_main!(benches);
