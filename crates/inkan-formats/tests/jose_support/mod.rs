//! Shared helpers of the `jose_*` integration tests: a software device behind the
//! `DeviceSigner`, and an in-memory P-256 signer for the published example keys.

#![allow(dead_code, clippy::unwrap_used)]

use inkan_device::soft::{KekSource, SoftConfig, SoftDevice};
use inkan_device::{Algorithm, CryptoDevice, KeyHandle, KeySpec, PublicKey};
use inkan_formats::signer::{DeviceSigner, SignInput};
use inkan_formats::{FormatError, KeyRef, Signer};
use std::sync::Arc;

pub struct Soft {
    pub device: Arc<SoftDevice>,
    pub signer: DeviceSigner,
    _dir: tempfile::TempDir,
}

pub fn soft() -> Soft {
    let dir = tempfile::tempdir().unwrap();
    let config = SoftConfig {
        path: dir.path().join("token"),
        kek: KekSource::File(dir.path().join("kek")),
    };
    let device = Arc::new(SoftDevice::open(&config).unwrap());
    let signer = DeviceSigner::new(device.clone());
    Soft {
        device,
        signer,
        _dir: dir,
    }
}

impl Soft {
    /// A fresh key for `alg` (RSA-2048 for RS256/PS256), named `kid`.
    pub fn key(&self, alg: Algorithm, kid: &str) -> KeyRef {
        let spec = alg.key_spec(2048).unwrap();
        let key = self.device.generate(spec, kid).unwrap();
        KeyRef {
            handle: key.handle,
            algorithm: alg,
            public_key: key.public_key,
            kid: Some(kid.to_owned()),
            certificate_chain: Vec::new(),
        }
    }
}

/// An in-memory P-256 signer for the published example keys of the SD-JWT VC draft.
#[derive(Debug)]
pub struct ExampleSigner(pub p256::ecdsa::SigningKey);

#[async_trait::async_trait]
impl Signer for ExampleSigner {
    async fn sign(&self, _key: &KeyRef, input: SignInput<'_>) -> Result<Vec<u8>, FormatError> {
        use p256::ecdsa::signature::Signer as _;
        let SignInput::Message(m) = input else {
            return Err(FormatError::Signer("message only".into()));
        };
        let sig: p256::ecdsa::Signature = self.0.sign(m);
        Ok(sig.to_bytes().to_vec())
    }
}

fn b64d(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

/// Reads `name` from `testdata/`.
pub fn testdata(name: &str) -> String {
    std::fs::read_to_string(format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A wrapped `.txt` serialisation with its line breaks removed.
pub fn unwrapped(name: &str) -> String {
    testdata(name).split_whitespace().collect()
}

/// The public key of `issuer_key` / `holder_key` in settings.yml.
pub fn example_public(which: &str) -> PublicKey {
    let (x, y, _) = example_coords(which);
    inkan_formats::jose::public_key_from_jwk(
        &serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
    )
    .unwrap()
}

fn example_coords(which: &str) -> (String, String, String) {
    let settings = testdata("sd-jwt-vc/settings.yml");
    let mut lines = settings
        .lines()
        .skip_while(|l| l.trim() != format!("{which}:"));
    let mut get = |member: &str| -> String {
        let line = lines
            .find(|l| l.trim_start().starts_with(&format!("{member}: ")))
            .unwrap();
        line.trim().split_once(": ").unwrap().1.trim().to_owned()
    };
    let d = get("d");
    let x = get("x");
    let y = get("y");
    (x, y, d)
}

/// The example key as a signer and key reference.
pub fn example_signer(which: &str) -> (ExampleSigner, KeyRef) {
    let (_, _, d) = example_coords(which);
    let sk = p256::ecdsa::SigningKey::from_slice(&b64d(&d)).unwrap();
    let public_key = example_public(which);
    let key = KeyRef {
        handle: KeyHandle::new("example"),
        algorithm: Algorithm::Es256,
        public_key,
        kid: None,
        certificate_chain: Vec::new(),
    };
    assert_eq!(KeySpec::P256, key.public_key.spec());
    (ExampleSigner(sk), key)
}
