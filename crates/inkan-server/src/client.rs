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
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| ClientError("key generation failed".into()))?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| ClientError(e.to_string()))?;
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
