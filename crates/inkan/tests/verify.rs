//! `inkan verify` (issue 15 point 3): issuer certificate trust through `--trust-anchor` (an
//! mdoc under its IACA, PEM or DER; an SD-JWT VC with `x5c`), with exit status 0 only when
//! the issuer is authenticated, 3 when only the anchor is missing, 1 when the chain is broken;
//! and the enveloped credentials it is given (`EnvelopedVerifiableCredential` with a `data:`
//! URL, as `inkan demo --out` writes them). Documents are made here with a software device and
//! certificates with rcgen (CA keys held by the test).
#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use inkan_device::soft::{KekSource, SoftConfig, SoftDevice};
use inkan_device::{Algorithm, CryptoDevice, KeySpec};
use inkan_formats::KeyRef;
use inkan_formats::jose::KeyHint;
use inkan_formats::signer::DeviceSigner;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, date_time_ymd,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

/// Runs `inkan verify FILE ARGS…`: (exit code, stdout and stderr).
fn verify(file: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_inkan"))
        .arg("verify")
        .arg(file)
        .args(args)
        .env_remove("INKAN_CONFIG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

struct Fixture {
    dir: tempfile::TempDir,
    device: Arc<SoftDevice>,
    signer: DeviceSigner,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let device = Arc::new(
            SoftDevice::open(&SoftConfig {
                path: dir.path().join("token"),
                kek: KekSource::File(dir.path().join("kek")),
            })
            .unwrap(),
        );
        let signer = DeviceSigner::new(device.clone());
        Fixture {
            dir,
            device,
            signer,
        }
    }

    fn key(&self) -> KeyRef {
        let key = self.device.generate(KeySpec::P256, "verify test").unwrap();
        KeyRef {
            handle: key.handle,
            algorithm: Algorithm::Es256,
            kid: Some(inkan_formats::data_integrity::did_key_verification_method(
                &key.public_key,
            )),
            public_key: key.public_key,
            certificate_chain: Vec::new(),
        }
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

/// A device key's public key as rcgen certifies it.
struct DeviceKey(Vec<u8>);

impl rcgen::PublicKeyData for DeviceKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

fn device_key(key: &KeyRef) -> DeviceKey {
    let jwk = key.public_key.to_jwk();
    let coordinate = |name: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk[name].as_str().unwrap())
            .unwrap()
    };
    DeviceKey([vec![0x04], coordinate("x"), coordinate("y")].concat())
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "JP");
    dn.push(DnType::CommonName, cn);
    dn
}

/// An IACA (or issuing CA) whose key the test holds.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
    der: Vec<u8>,
}

fn ca(cn: &str) -> Ca {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name = name(cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2040, 12, 31);
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        der: cert.der().to_vec(),
        params,
        key,
    }
}

impl Ca {
    /// A document signer certificate for `key` (with id-mdl-kp-mdlDS).
    fn certify(&self, key: &KeyRef, cn: &str) -> Vec<u8> {
        // (The DNS name of the `https://issuer.example` issuer the SD-JWT VC names: a chain
        // vouches only for the issuer its leaf names.)
        let mut params = CertificateParams::new(vec!["issuer.example".to_owned()]).unwrap();
        params.distinguished_name = name(cn);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages =
            vec![ExtendedKeyUsagePurpose::Other(vec![1, 0, 18013, 5, 1, 2])];
        params.not_before = date_time_ymd(2020, 1, 2);
        params.not_after = date_time_ymd(2040, 12, 30);
        params
            .signed_by(
                &device_key(key),
                &Issuer::from_params(&self.params, &self.key),
            )
            .unwrap()
            .der()
            .to_vec()
    }
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// An mDL IssuerSigned (hex) by `issuer`, whose `x5chain` is its certificate chain.
async fn mdoc(f: &Fixture, issuer: &KeyRef) -> String {
    let holder = f.key();
    let now = now();
    let request = inkan_formats::mdoc::IssueRequest {
        doc_type: "org.iso.18013.5.1.mDL".into(),
        namespaces: vec![(
            "org.iso.18013.5.1".into(),
            vec![(
                "family_name".into(),
                inkan_formats::mdoc::cbor::from_json(&json!("Sato")).unwrap(),
            )],
        )],
        device_key: holder.public_key.clone(),
        validity: inkan_formats::mdoc::ValidityInfo {
            signed: now - 60,
            valid_from: now - 60,
            valid_until: now + 86_400,
            expected_update: None,
        },
        status: None,
    };
    let issued = inkan_formats::mdoc::issue(&f.signer, issuer, &request, &mut rand_core::OsRng)
        .await
        .unwrap();
    hex::encode(issued.to_bytes().unwrap())
}

#[tokio::test]
async fn an_mdoc_is_valid_only_under_its_iaca() {
    let f = Fixture::new();
    let iaca = ca("Inkan Test IACA");
    let mut issuer = f.key();
    issuer.certificate_chain = vec![iaca.certify(&issuer, "Inkan Test Document Signer")];
    let file = f.write("mdl.hex", mdoc(&f, &issuer).await);
    let pem = f.write("iaca.pem", &iaca.pem);
    let der = f.write("iaca.der", &iaca.der);
    let other = f.write("other.pem", ca("Another IACA").pem);

    let (code, text) = verify(&file, &["--trust-anchor", pem.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("valid: mdoc IssuerSigned"), "{text}");
    let (code, text) = verify(
        &file,
        &[
            "--trust-anchor",
            other.to_str().unwrap(),
            "--trust-anchor",
            der.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("\"issuerTrust\":\"authenticated\""), "{text}");

    // No anchor, or only another one: the proof is valid, the issuer is unauthenticated.
    for args in [vec![], vec!["--trust-anchor", other.to_str().unwrap()]] {
        let (code, text) = verify(&file, &args);
        assert_eq!(code, 3, "{args:?}: {text}");
        assert!(text.contains("UNAUTHENTICATED"), "{text}");
        assert!(!text.contains("valid: mdoc"), "{text}");
    }
    let (code, text) = verify(&file, &["--json"]);
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains("\"valid\":false") && text.contains("\"issuerTrust\":\"unauthenticated\""),
        "{text}"
    );

    // Signed under a self-made certificate that names the IACA: refused under the anchor.
    let forger = ca("Inkan Test IACA");
    let mut forged = f.key();
    forged.certificate_chain = vec![forger.certify(&forged, "Inkan Test Document Signer")];
    let file = f.write("forged.hex", mdoc(&f, &forged).await);
    let (code, text) = verify(&file, &["--trust-anchor", pem.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("not valid") && text.contains("did not sign"),
        "{text}"
    );
    // Its certificate altered after issue: the same.
    let mut altered = issuer.clone();
    let mut cert = altered.certificate_chain[0].clone();
    let at = cert.windows(8).position(|w| w == b"Document").unwrap();
    cert[at] = b'd';
    altered.certificate_chain = vec![cert];
    let file = f.write("altered.hex", mdoc(&f, &altered).await);
    let (code, text) = verify(&file, &["--trust-anchor", pem.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    let (code, _) = verify(&file, &[]);
    assert_eq!(code, 3);

    // A file that is not a certificate.
    let junk = f.write("junk.pem", "not a certificate");
    let (code, text) = verify(&file, &["--trust-anchor", junk.to_str().unwrap()]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("trust anchor"), "{text}");
}

#[tokio::test]
async fn an_sd_jwt_vc_with_x5c_needs_its_ca() {
    use inkan_formats::jose::sd_jwt::{SdJwtVcIssue, issue_sd_jwt_vc};
    let f = Fixture::new();
    let issuing_ca = ca("Inkan Test Issuing CA");
    let mut issuer = f.key();
    issuer.certificate_chain = vec![issuing_ca.certify(&issuer, "Inkan Test Issuer")];
    let issued = issue_sd_jwt_vc(
        &f.signer,
        &issuer,
        &SdJwtVcIssue {
            vct: "https://credentials.example/identity".into(),
            issuer: Some("https://issuer.example".into()),
            issued_at: Some(now() - 60),
            not_before: None,
            expires_at: Some(now() + 86_400),
            holder_key: None,
            status: None,
            claims: json!({"given_name": "Hanako"}),
            selectively_disclosable: vec!["/given_name".into()],
            decoys_per_object: 0,
            hint: KeyHint::X5c,
        },
        &mut rand_core::OsRng,
    )
    .await
    .unwrap();
    let file = f.write("vc.sd-jwt", &issued.serialized);
    let anchor = f.write("ca.pem", &issuing_ca.pem);
    let (code, text) = verify(&file, &["--trust-anchor", anchor.to_str().unwrap()]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("valid: SD-JWT VC"), "{text}");
    let (code, text) = verify(&file, &[]);
    assert_eq!(code, 3, "{text}");
}

#[tokio::test]
async fn enveloped_credentials_are_unwrapped() {
    let f = Fixture::new();
    let issuer = f.key();
    let jwt = inkan_formats::jose::vc_jwt::issue_vc_jwt(
        &f.signer,
        &issuer,
        &json!({
            "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
            "type": ["VerifiableCredential", "ExampleAlumniCredential"],
            "issuer": issuer.public_key.did_key(),
            "credentialSubject": {"id": "did:example:hana", "alumniOf": "Example University"}
        }),
        KeyHint::Kid,
    )
    .await
    .unwrap();
    let envelope = |context: serde_json::Value, id: String| {
        serde_json::to_vec_pretty(&json!({
            "@context": context, "id": id, "type": "EnvelopedVerifiableCredential",
        }))
        .unwrap()
    };
    let v2 = json!(["https://www.w3.org/ns/credentials/v2"]);
    let file = f.write(
        "credential.vc-jwt.json",
        envelope(v2.clone(), format!("data:application/vc+jwt,{jwt}")),
    );
    let (code, text) = verify(&file, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("VC-JWT (VCDM 2.0, vc+jwt) in an EnvelopedVerifiableCredential"),
        "{text}"
    );
    // `;base64` data URLs too.
    let b64 = base64::engine::general_purpose::STANDARD.encode(&jwt);
    let file = f.write(
        "b64.json",
        envelope(v2, format!("data:application/vc+jwt;base64,{b64}")),
    );
    let (code, text) = verify(&file, &[]);
    assert_eq!(code, 0, "{text}");
    // Without the VCDM context, refused.
    let file = f.write(
        "empty.json",
        envelope(json!([]), format!("data:application/vc+jwt,{jwt}")),
    );
    let (code, text) = verify(&file, &[]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains(".@context:"), "{text}");
    // A tampered token inside, refused.
    let file = f.write(
        "tampered.json",
        envelope(
            json!(["https://www.w3.org/ns/credentials/v2"]),
            format!("data:application/vc+jwt,{}x", jwt),
        ),
    );
    let (code, _) = verify(&file, &[]);
    assert_eq!(code, 1);
}
