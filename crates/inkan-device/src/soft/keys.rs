//! Private keys of the software token in memory: generating them, normalising imported
//! PKCS#8, and signing.
//!
//! Signing uses `ring` (assembly-backed; the pure-Rust `p256` signs at about a tenth of
//! OpenSSL's rate, see DEPENDENCIES.md). The PKCS#8 bytes pass through zeroizing buffers
//! only. `ring`'s own key objects do not wipe their memory when dropped: that is a reason the
//! software token is uncertified and refused in production by default (SECURITY.md).

use crate::{Algorithm, DeviceError, KeySpec, PublicKey};
use pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use ring::rand::SystemRandom;
use ring::signature::{self as rs, KeyPair as _};
use zeroize::Zeroizing;

/// An unwrapped private key, usable for signing.
pub(crate) struct LoadedKey {
    spec: KeySpec,
    public_key: PublicKey,
    pair: Pair,
    /// The PKCS#8 document, for the pre-hash mode `ring` does not offer.
    pkcs8: Zeroizing<Vec<u8>>,
}

enum Pair {
    Ecdsa(rs::EcdsaKeyPair),
    Ed25519(rs::Ed25519KeyPair),
    Rsa(rs::RsaKeyPair),
}

impl std::fmt::Debug for LoadedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LoadedKey({}, [redacted])", self.spec)
    }
}

fn crypto(what: &str) -> impl Fn(ring::error::KeyRejected) -> DeviceError + '_ {
    move |e| DeviceError::Crypto(format!("{what}: {e}"))
}

impl LoadedKey {
    /// Generates a key and returns it with its PKCS#8 encoding, to be sealed by the caller.
    pub(crate) fn generate(
        spec: KeySpec,
        rng: &SystemRandom,
    ) -> Result<(Self, Zeroizing<Vec<u8>>), DeviceError> {
        let unspecified = |_| DeviceError::Crypto(format!("generating a {spec} key failed"));
        let pkcs8 = match spec {
            KeySpec::P256 => Zeroizing::new(
                rs::EcdsaKeyPair::generate_pkcs8(&rs::ECDSA_P256_SHA256_FIXED_SIGNING, rng)
                    .map_err(unspecified)?
                    .as_ref()
                    .to_vec(),
            ),
            KeySpec::P384 => Zeroizing::new(
                rs::EcdsaKeyPair::generate_pkcs8(&rs::ECDSA_P384_SHA384_FIXED_SIGNING, rng)
                    .map_err(unspecified)?
                    .as_ref()
                    .to_vec(),
            ),
            KeySpec::Ed25519 => Zeroizing::new(
                rs::Ed25519KeyPair::generate_pkcs8(rng)
                    .map_err(unspecified)?
                    .as_ref()
                    .to_vec(),
            ),
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let bits = spec.rsa_bits().unwrap_or(3072);
                let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, bits)
                    .map_err(|e| DeviceError::Crypto(format!("generating an RSA key: {e}")))?;
                key.to_pkcs8_der()
                    .map_err(|e| DeviceError::Crypto(e.to_string()))?
                    .to_bytes()
            }
        };
        let key = Self::from_pkcs8(spec, &pkcs8, rng)?;
        Ok((key, pkcs8))
    }

    /// Loads a key from PKCS#8 as this token wrote it (see [`normalize_pkcs8`]).
    pub(crate) fn from_pkcs8(
        spec: KeySpec,
        der: &[u8],
        rng: &SystemRandom,
    ) -> Result<Self, DeviceError> {
        let (pair, public_key) = match spec {
            KeySpec::P256 | KeySpec::P384 => {
                let alg = if spec == KeySpec::P256 {
                    &rs::ECDSA_P256_SHA256_FIXED_SIGNING
                } else {
                    &rs::ECDSA_P384_SHA384_FIXED_SIGNING
                };
                let pair =
                    rs::EcdsaKeyPair::from_pkcs8(alg, der, rng).map_err(crypto("ECDSA key"))?;
                let public = PublicKey::from_sec1(spec, pair.public_key().as_ref())?;
                (Pair::Ecdsa(pair), public)
            }
            KeySpec::Ed25519 => {
                let pair = rs::Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                    .map_err(crypto("Ed25519 key"))?;
                let public = PublicKey::from_ed25519(pair.public_key().as_ref())?;
                (Pair::Ed25519(pair), public)
            }
            KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
                let pair = rs::RsaKeyPair::from_pkcs8(der).map_err(crypto("RSA key"))?;
                use rsa::pkcs1::DecodeRsaPublicKey as _;
                let public = rsa::RsaPublicKey::from_pkcs1_der(pair.public_key().as_ref())
                    .map_err(|e| DeviceError::Crypto(format!("RSA public key: {e}")))?;
                (Pair::Rsa(pair), PublicKey::Rsa(public))
            }
        };
        if public_key.spec() != spec {
            return Err(DeviceError::KeyMismatch(format!(
                "expected a {spec} key, found {}",
                public_key.spec()
            )));
        }
        Ok(LoadedKey {
            spec,
            public_key,
            pair,
            pkcs8: Zeroizing::new(der.to_vec()),
        })
    }

    pub(crate) fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// Signs `message`; the result is raw (`r‖s` for ECDSA).
    pub(crate) fn sign(
        &self,
        alg: Algorithm,
        message: &[u8],
        rng: &SystemRandom,
    ) -> Result<Vec<u8>, DeviceError> {
        alg.check_fits(self.spec)?;
        let failed = |_| DeviceError::Crypto(format!("{alg} signing failed"));
        match &self.pair {
            Pair::Ecdsa(pair) => Ok(pair.sign(rng, message).map_err(failed)?.as_ref().to_vec()),
            Pair::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Pair::Rsa(pair) => {
                let padding: &dyn rs::RsaEncoding = if alg == Algorithm::Ps256 {
                    &rs::RSA_PSS_SHA256
                } else {
                    &rs::RSA_PKCS1_SHA256
                };
                let mut signature = vec![0u8; pair.public().modulus_len()];
                pair.sign(padding, rng, message, &mut signature)
                    .map_err(failed)?;
                Ok(signature)
            }
        }
    }
}

impl LoadedKey {
    /// Signs a digest (pre-hash mode) with RustCrypto, which `ring` cannot do; the key is
    /// parsed from the zeroizing PKCS#8 for the call and dropped (zeroized) after it.
    pub(crate) fn sign_digest(
        &self,
        alg: Algorithm,
        digest: &[u8],
    ) -> Result<Vec<u8>, DeviceError> {
        use signature::hazmat::{PrehashSigner as _, RandomizedPrehashSigner as _};
        alg.check_fits(self.spec)?;
        alg.check_digest(digest)?;
        let bad_key = |e: pkcs8::Error| DeviceError::Crypto(format!("loading the key: {e}"));
        let failed =
            |e: signature::Error| DeviceError::Crypto(format!("{alg} signing failed: {e}"));
        let der = self.pkcs8.as_slice();
        match alg {
            Algorithm::Es256 => {
                let key = p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(bad_key)?;
                let signature: p256::ecdsa::Signature = key.sign_prehash(digest).map_err(failed)?;
                Ok(signature.to_bytes().to_vec())
            }
            Algorithm::Es384 => {
                let key = p384::ecdsa::SigningKey::from_pkcs8_der(der).map_err(bad_key)?;
                let signature: p384::ecdsa::Signature = key.sign_prehash(digest).map_err(failed)?;
                Ok(signature.to_bytes().to_vec())
            }
            Algorithm::Rs256 => {
                let key = rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(bad_key)?;
                let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(key);
                let signature = signer.sign_prehash(digest).map_err(failed)?;
                Ok(signature::SignatureEncoding::to_vec(&signature))
            }
            Algorithm::Ps256 => {
                let key = rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(bad_key)?;
                let signer = rsa::pss::SigningKey::<sha2::Sha256>::new_with_salt_len(key, 32);
                let signature = signer
                    .sign_prehash_with_rng(&mut rand_core::OsRng, digest)
                    .map_err(failed)?;
                Ok(signature::SignatureEncoding::to_vec(&signature))
            }
            Algorithm::EdDsa => Err(DeviceError::InvalidInput(
                "EdDSA has no pre-hash mode".into(),
            )),
        }
    }
}

/// Parses an imported PKCS#8 document, checks that it is a `spec` key, and re-encodes it in
/// the one form this token stores (EC keys with their public point, as `ring` needs).
pub(crate) fn normalize_pkcs8(
    spec: KeySpec,
    der: &[u8],
) -> Result<Zeroizing<Vec<u8>>, DeviceError> {
    let bad = |e: pkcs8::Error| {
        DeviceError::InvalidInput(format!("the unwrapped key is not a {spec} PKCS#8 key: {e}"))
    };
    let reencode = |e: pkcs8::Error| DeviceError::Crypto(format!("re-encoding the key: {e}"));
    let doc = match spec {
        KeySpec::P256 => p256::SecretKey::from_pkcs8_der(der)
            .map_err(bad)?
            .to_pkcs8_der()
            .map_err(reencode)?,
        KeySpec::P384 => p384::SecretKey::from_pkcs8_der(der)
            .map_err(bad)?
            .to_pkcs8_der()
            .map_err(reencode)?,
        KeySpec::Ed25519 => ed25519_dalek::SigningKey::from_pkcs8_der(der)
            .map_err(bad)?
            .to_pkcs8_der()
            .map_err(reencode)?,
        KeySpec::Rsa2048 | KeySpec::Rsa3072 | KeySpec::Rsa4096 => {
            let key = rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(bad)?;
            let bits = rsa::traits::PublicKeyParts::size(&key) * 8;
            if Some(bits) != spec.rsa_bits() {
                return Err(DeviceError::InvalidInput(format!(
                    "the unwrapped key is RSA-{bits}, not {spec}"
                )));
            }
            key.to_pkcs8_der().map_err(reencode)?
        }
    };
    Ok(doc.to_bytes())
}
