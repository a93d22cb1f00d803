//! HTTP Message Signatures (RFC 9421) on what Inkan POSTs to a destination (criteria
//! 2.2.3(3)A; issue 19 point 7), so that a receiver knows the message came from Inkan and was
//! not altered on the way.
//!
//! Every delivery POST carries:
//!
//! - `Content-Digest: sha-256=:<base64>:` (RFC 9530) of the body as sent;
//! - `Signature-Input: inkan=("@method" "@target-uri" "content-type" "content-digest");
//!   created=<s>;expires=<s + 300>;keyid="<JWK thumbprint>";alg="ed25519";tag="inkan-delivery"`;
//! - `Signature: inkan=:<base64 Ed25519 signature over the signature base>:`.
//!
//! The key is Inkan's delivery key (`keys::own_keys`), in the crypto device; `keyid` is its
//! RFC 7638 thumbprint, and the key is published with that `kid` at `GET /v1/delivery/keys`.
//! A receiver checks the signature with that key, that it covers these four components, that
//! the tag is `inkan-delivery`, the time window, and the digest against the body (docs/
//! delivery-signatures.md). Each attempt is signed afresh. Must never sign anything but the
//! signature base built here from the message about to be sent.

use crate::clock::Clock;
use crate::device::{Device, OwnKeyUse};
use crate::keys::own_keys::OwnKey;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use inkan_device::PublicKey;
use inkan_store::KeyRecord;
use sha2::Digest as _;
use std::sync::Arc;

/// The signature's label in `Signature-Input` and `Signature`.
pub const LABEL: &str = "inkan";
/// The application tag a receiver selects Inkan's signature by.
pub const TAG: &str = "inkan-delivery";
/// How long a signature stays valid after it was made, in seconds.
pub const VALID_SECONDS: i64 = 300;
/// The covered components, in order.
pub const COMPONENTS: [&str; 4] = ["@method", "@target-uri", "content-type", "content-digest"];

/// The headers that make a message signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub content_digest: String,
    pub signature_input: String,
    pub signature: String,
}

/// Signs delivery messages with the delivery key.
#[derive(Debug, Clone)]
pub struct MessageSigner {
    device: Device,
    /// A deployment restored from a backup signs nothing until the restore is approved.
    seal: crate::backup::seal::Seal,
    key: OwnKey,
    keyid: String,
    clock: Arc<dyn Clock>,
}

impl MessageSigner {
    /// A signer with the delivery key `record` of `service`'s device.
    pub fn new(
        service: &crate::service::Service,
        record: &KeyRecord,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, crate::keys::KeyError> {
        let key = OwnKey::delivery_key(record)?;
        let keyid = PublicKey::from_spki_der(&record.public_key_spki)?.jwk_thumbprint();
        Ok(MessageSigner {
            device: service.device.clone(),
            seal: service.seal.clone(),
            key,
            keyid,
            clock,
        })
    }

    /// Whether the deployment is sealed (restored, not yet approved): nothing is signed.
    pub fn sealed(&self) -> bool {
        self.seal.sealed().is_some()
    }

    /// The `keyid` its signatures name.
    pub fn keyid(&self) -> &str {
        &self.keyid
    }

    /// The headers for a `POST` of `body` (of `content_type`) to `target_uri`.
    pub async fn sign_post(
        &self,
        target_uri: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<SignedHeaders, String> {
        self.seal.check()?;
        let content_digest = content_digest(body);
        let created = self.clock.now() / 1000;
        let params = signature_params(created, &self.keyid);
        let base = signature_base("POST", target_uri, content_type, &content_digest, &params);
        let (device, key) = (self.device.clone(), self.key.clone());
        let signature = tokio::task::spawn_blocking(move || {
            device.sign_own(&key, OwnKeyUse::DeliveryMessage, base.as_bytes())
        })
        .await
        .map_err(|e| format!("signing the delivery: {e}"))?
        .map_err(|e| format!("signing the delivery: {e}"))?;
        Ok(SignedHeaders {
            content_digest,
            signature_input: format!("{LABEL}={params}"),
            signature: format!("{LABEL}=:{}:", STANDARD.encode(signature)),
        })
    }
}

/// `Content-Digest` (RFC 9530) of `body` with SHA-256.
pub fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(sha2::Sha256::digest(body)))
}

/// The signature parameters (RFC 9421 §2.3): the covered components and the metadata.
fn signature_params(created: i64, keyid: &str) -> String {
    let components = COMPONENTS.map(|c| format!("\"{c}\"")).join(" ");
    format!(
        "({components});created={created};expires={};keyid=\"{keyid}\";alg=\"ed25519\";tag=\"{TAG}\"",
        created + VALID_SECONDS
    )
}

/// The signature base (RFC 9421 §2.5) of the covered components and `params`.
fn signature_base(
    method: &str,
    target_uri: &str,
    content_type: &str,
    content_digest: &str,
    params: &str,
) -> String {
    let values = [method, target_uri, content_type, content_digest];
    let mut base = String::new();
    for (name, value) in COMPONENTS.iter().zip(values) {
        base.push_str(&format!("\"{name}\": {value}\n"));
    }
    base.push_str(&format!("\"@signature-params\": {params}"));
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9530 §2's example, and a base laid out as RFC 9421 §2.5 lays one out.
    #[test]
    fn digest_and_base_follow_the_rfcs() {
        assert_eq!(
            content_digest(b"{\"hello\": \"world\"}"),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        );
        let params = signature_params(1_618_884_473, "kid-1");
        assert_eq!(
            params,
            "(\"@method\" \"@target-uri\" \"content-type\" \"content-digest\");\
             created=1618884473;expires=1618884773;keyid=\"kid-1\";alg=\"ed25519\";\
             tag=\"inkan-delivery\""
        );
        let base = signature_base(
            "POST",
            "https://example.com/foo?param=Value&Pet=dog",
            "application/json",
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:",
            &params,
        );
        assert_eq!(
            base,
            format!(
                "\"@method\": POST\n\
                 \"@target-uri\": https://example.com/foo?param=Value&Pet=dog\n\
                 \"content-type\": application/json\n\
                 \"content-digest\": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n\
                 \"@signature-params\": {params}"
            )
        );
    }
}
