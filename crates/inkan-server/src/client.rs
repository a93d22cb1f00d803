//! The client side of Inkan's own protocols: a DPoP key that makes proofs (RFC 9449) and
//! client assertions (RFC 7523), for `inkan demo`, `inkan bench` and the tests that talk to a
//! running service the way a real client would.
//!
//! The key is an ES256 key held in memory by `ring`; it is the caller's own key, never a key
//! of the service. Must never be used by the service to act for a caller.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_device::{KeySpec, PublicKey};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};

/// A client's proof-of-possession key (ES256).
pub struct ProofKey {
    pair: EcdsaKeyPair,
    public: PublicKey,
    rng: SystemRandom,
}

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofKey")
            .field("jkt", &self.public.jwk_thumbprint())
            .finish_non_exhaustive()
    }
}

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error)]
#[error("making a proof: {0}")]
pub struct ClientError(String);

impl ProofKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, ClientError> {
        Ok(Self::generate_storable()?.0)
    }

    /// A fresh random key and its PKCS#8 document, for a client that keeps its key between
    /// runs (`inkan client`, in a file only its owner reads).
    pub fn generate_storable() -> Result<(Self, zeroize::Zeroizing<Vec<u8>>), ClientError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| ClientError("key generation failed".into()))?;
        let pkcs8 = zeroize::Zeroizing::new(pkcs8.as_ref().to_vec());
        Ok((Self::from_pkcs8(&pkcs8)?, pkcs8))
    }

    /// The key of a PKCS#8 document [`generate_storable`](Self::generate_storable) gave.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, ClientError> {
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|_| ClientError("not a P-256 PKCS#8 key".into()))?;
        let public = PublicKey::from_sec1(KeySpec::P256, pair.public_key().as_ref())
            .map_err(|e| ClientError(e.to_string()))?;
        Ok(ProofKey { pair, public, rng })
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> Value {
        self.public.to_jwk()
    }

    /// The JWK thumbprint (`cnf.jkt`).
    pub fn jkt(&self) -> String {
        self.public.jwk_thumbprint()
    }

    /// Signs `claims` as a compact JWS with this header.
    pub fn sign_jwt(&self, header: &Value, claims: &Value) -> Result<String, ClientError> {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .pair
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| ClientError("signing failed".into()))?;
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    /// A DPoP proof for `method` `url` at `now_seconds`, bound to `access_token` when given.
    pub fn dpop(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        now_seconds: i64,
    ) -> Result<String, ClientError> {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk()});
        let mut claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": method,
            "htu": url,
            "iat": now_seconds,
        });
        if let Some(token) = access_token {
            claims["ath"] = inkan_formats::jose::sha256_b64url(token.as_bytes()).into();
        }
        self.sign_jwt(&header, &claims)
    }

    /// A `private_key_jwt` client assertion for `client_id` at the token endpoint `audience`.
    pub fn client_assertion(
        &self,
        client_id: &str,
        audience: &str,
        now_seconds: i64,
    ) -> Result<String, ClientError> {
        let header = json!({"typ": "JWT", "alg": "ES256", "kid": self.jkt()});
        let claims = json!({
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now_seconds,
            "exp": now_seconds + 60,
        });
        self.sign_jwt(&header, &claims)
    }
}

/// The plaintext of a user's `activationData` for CSC `credentials/authorize` (criteria
/// 2.2.3(2)A-2): what it authorises (the credential, [`crate::activation::hashes_digest`] of
/// `hashes`, base64 as the request sends them, and their number; for a presentation, the
/// `disclosureDigest` `/v1/holder/prepare` answered), the nonce from
/// `POST /v1/signature-activation/nonce`, the PIN and the OTP.
pub fn authorize_data(
    credential_id: &str,
    hash_algorithm_oid: &str,
    hashes: &[String],
    disclosure_digest: Option<&str>,
    nonce: &str,
    pin: &str,
    otp: &str,
) -> Result<Value, ClientError> {
    let decoded = hashes
        .iter()
        .map(|h| base64::engine::general_purpose::STANDARD.decode(h))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ClientError("a hash is not base64".into()))?;
    let mut data = json!({
        "purpose": "authorize",
        "credentialID": credential_id,
        "hashesDigest": crate::activation::hashes_digest(hash_algorithm_oid, &decoded),
        "numSignatures": hashes.len(),
        "nonce": nonce,
        "PIN": pin,
        "OTP": otp,
    });
    if let Some(digest) = disclosure_digest {
        data["disclosureDigest"] = digest.into();
    }
    Ok(data)
}

/// The plaintext of a user's `activation_data` for a PIN change (`pin.change`) or a renewal
/// (`key.renew`) of `credential_id`: the nonce, the current PIN (none only for a key that has
/// none yet), the OTP and the new PIN.
pub fn change_data(
    purpose: &str,
    credential_id: &str,
    nonce: &str,
    pin: Option<&str>,
    otp: &str,
    new_pin: &str,
) -> Value {
    let mut data = json!({
        "purpose": purpose,
        "credentialID": credential_id,
        "nonce": nonce,
        "OTP": otp,
        "newPIN": new_pin,
    });
    if let Some(pin) = pin {
        data["PIN"] = pin.into();
    }
    data
}

/// `data` encrypted to the service's activation key (CSC `info`'s
/// `signatureActivation.activationKey`): the compact JWE to send as activation data.
pub fn encrypt_activation_data(
    activation_key: &Value,
    data: &Value,
) -> Result<String, ClientError> {
    inkan_formats::jose::jwe::encrypt_compact(data.to_string().as_bytes(), activation_key)
        .map_err(|e| ClientError(e.to_string()))
}
