//! Preparing a holder's signature (criteria 2.2.3(2)A-1): before a holder activates their key
//! for a presentation or a key proof, Inkan builds the document with a [`PreparingSigner`]
//! that records the exact signing input and signs nothing. The holder sees what will be
//! disclosed and to whom, authorises the digest of that input (CSC `credentials/authorize`),
//! and the document is then built again, identically, through the signing module, whose SAD
//! check compares the digests. Must never call a device or produce a usable signature.

use inkan_formats::signer::SignInput;
use inkan_formats::{FormatError, KeyRef, Signer};
use std::sync::Mutex;

/// A `Signer` that records what it is asked to sign and returns a placeholder (all zeros).
/// Format code that verifies its signer's output (Data Integrity does) then fails with
/// `FormatError::Signer` after the input was recorded; the caller treats that as done.
#[derive(Debug, Default)]
pub struct PreparingSigner {
    inputs: Mutex<Vec<Vec<u8>>>,
}

impl PreparingSigner {
    /// A fresh recorder.
    pub fn new() -> Self {
        PreparingSigner::default()
    }

    /// The signing inputs recorded, in order.
    pub fn inputs(&self) -> Vec<Vec<u8>> {
        self.inputs
            .lock()
            .map(|i| i.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

#[async_trait::async_trait]
impl Signer for PreparingSigner {
    async fn sign(&self, key: &KeyRef, input: SignInput<'_>) -> Result<Vec<u8>, FormatError> {
        let SignInput::Message(message) = input else {
            return Err(FormatError::Signer(
                "only documents are prepared; hashes are authorised as they are".into(),
            ));
        };
        if let Ok(mut inputs) = self.inputs.lock() {
            inputs.push(message.to_vec());
        }
        // A placeholder of the right size, all zeros: never a valid signature.
        let len = match key.algorithm {
            inkan_device::Algorithm::Es384 => 96,
            inkan_device::Algorithm::Rs256 | inkan_device::Algorithm::Ps256 => {
                key.public_key.spec().rsa_bits().unwrap_or(2048) / 8
            }
            _ => 64,
        };
        Ok(vec![0; len])
    }
}
