//! Test helpers shared by the Data Integrity tests: the published W3C vector files, a
//! test-only signer holding an Ed25519 key in memory (the crate itself never does), and a
//! software device.
#![allow(clippy::unwrap_used, dead_code)]

use inkan_device::soft::{KekSource, SoftConfig, SoftDevice};
use inkan_device::{Algorithm, CryptoDevice, KeySpec};
use inkan_formats::signer::{DeviceSigner, SignInput};
use inkan_formats::{FormatError, KeyRef, Signer};
use std::path::PathBuf;
use std::sync::Arc;

/// A file under `testdata/data-integrity/`.
pub fn vector(path: &str) -> String {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/data-integrity")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// A JSON file under `testdata/data-integrity/`.
pub fn vector_json(path: &str) -> serde_json::Value {
    serde_json::from_str(&vector(path)).unwrap()
}

/// A signer over one in-memory Ed25519 key (tests only).
#[derive(Debug)]
pub struct TestEd25519Signer(pub ed25519_dalek::SigningKey);

#[async_trait::async_trait]
impl Signer for TestEd25519Signer {
    async fn sign(&self, key: &KeyRef, input: SignInput<'_>) -> Result<Vec<u8>, FormatError> {
        use ed25519_dalek::Signer as _;
        assert_eq!(key.algorithm, Algorithm::EdDsa);
        match input {
            SignInput::Message(m) => Ok(self.0.sign(m).to_bytes().to_vec()),
            SignInput::Digest(_) => Err(FormatError::Unsupported("digest".into())),
        }
    }
}

/// The published W3C EdDSA key pair as a test signer and its key reference.
pub fn published_ed25519() -> (TestEd25519Signer, KeyRef) {
    let pair = vector_json("eddsa/keyPair.json");
    let secret = bs58::decode(&pair["privateKeyMultibase"].as_str().unwrap()[1..])
        .into_vec()
        .unwrap();
    // multicodec ed25519-priv (0x1300, varint 0x80 0x26) then the 32-byte seed.
    assert_eq!(&secret[..2], &[0x80, 0x26]);
    let signing = ed25519_dalek::SigningKey::from_bytes(&secret[2..].try_into().unwrap());
    let public = inkan_device::PublicKey::Ed25519(signing.verifying_key());
    assert_eq!(
        public.did_key(),
        format!("did:key:{}", pair["publicKeyMultibase"].as_str().unwrap())
    );
    let key = KeyRef {
        handle: inkan_device::KeyHandle::new("published-w3c-vector-key"),
        algorithm: Algorithm::EdDsa,
        public_key: public,
        kid: None,
        certificate_chain: Vec::new(),
    };
    (TestEd25519Signer(signing), key)
}

/// A software device in a temporary folder.
pub fn soft_device() -> (tempfile::TempDir, Arc<SoftDevice>) {
    let dir = tempfile::tempdir().unwrap();
    let device = SoftDevice::open(&SoftConfig {
        path: dir.path().join("token"),
        kek: KekSource::File(dir.path().join("kek")),
    })
    .unwrap();
    (dir, Arc::new(device))
}

/// A new key of `spec` in `device`, with its signer.
pub fn device_key(device: &Arc<SoftDevice>, spec: KeySpec) -> (DeviceSigner, KeyRef) {
    let created = device.generate(spec, "di-test").unwrap();
    let algorithm = match spec {
        KeySpec::Ed25519 => Algorithm::EdDsa,
        KeySpec::P256 => Algorithm::Es256,
        KeySpec::P384 => Algorithm::Es384,
        other => panic!("{other}"),
    };
    let key = KeyRef {
        handle: created.handle,
        algorithm,
        public_key: created.public_key,
        kid: None,
        certificate_chain: Vec::new(),
    };
    (DeviceSigner::new(device.clone()), key)
}
