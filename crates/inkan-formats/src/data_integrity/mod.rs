//! W3C Verifiable Credential Data Integrity 1.0 proofs: `eddsa-rdfc-2022`, `eddsa-jcs-2022`,
//! `ecdsa-rdfc-2019` and `ecdsa-jcs-2019` (P-256 and P-384), for credentials
//! (`assertionMethod`) and presentations (`authentication` with `challenge` and `domain`).
//!
//! Signing (the cryptosuites' "add proof"):
//! 1. the proof configuration is the proof without `proofValue`, with the document's
//!    `@context`;
//! 2. both it and the document (without `proof`) are canonicalised: RDFC-1.0 N-Quads for the
//!    `-rdfc-` suites, RFC 8785 JCS for the `-jcs-` suites ([`canon`]);
//! 3. `hashData = H(proof config) ‖ H(document)` with SHA-256 (Ed25519, P-256) or SHA-384
//!    (P-384);
//! 4. the [`Signer`] signs `hashData` as a message ([`SignInput::Message`]): the device signs
//!    it directly for Ed25519 and with ECDSA-SHA-256 / ECDSA-SHA-384 for P-256 / P-384,
//!    exactly what the suites prescribe;
//! 5. `proofValue` is `z` + base58btc of the raw signature. The `-jcs-` suites keep `@context`
//!    in the proof, the `-rdfc-` suites do not.
//!
//! `ecdsa-sd-2023` (selective disclosure: base proofs, derived proofs and their verification)
//! lives in [`ecdsa_sd`]; [`sign`] refuses it and [`verify`] hands its proofs there.
//!
//! Verification resolves `did:key` and `did:jwk` verification methods from the DID itself
//! ([`keys`]) and, unless [`VerifyOptions::proof_only`], checks that the issuer (credential)
//! or the holder (presentation, when it names one) is the DID controlling the key. Proof sets
//! and chains (`proof` as a list, `previousProof`) are verified proof by proof ([`verify`]) and
//! made with [`add_proof`]. No private key is ever held here.

pub mod canon;
pub mod context_cache;
pub mod ecdsa_sd;
pub mod keys;
pub mod rdfc;

use crate::signer::SignInput;
use crate::{FormatError, KeyRef, Signer};
use inkan_device::{Algorithm, PublicKey};
use serde_json::{Map, Value};
use sha2::Digest as _;

pub use keys::{
    ResolvedMethod, did_key_verification_method, public_key_from_jwk, public_key_from_multikey,
    resolve_verification_method,
};

const WHAT: &str = "Data Integrity proof";

/// A Data Integrity cryptosuite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cryptosuite {
    /// `eddsa-rdfc-2022`: Ed25519 over RDFC-1.0.
    EddsaRdfc2022,
    /// `eddsa-jcs-2022`: Ed25519 over JCS.
    EddsaJcs2022,
    /// `ecdsa-rdfc-2019`: ECDSA P-256/P-384 over RDFC-1.0.
    EcdsaRdfc2019,
    /// `ecdsa-jcs-2019`: ECDSA P-256/P-384 over JCS.
    EcdsaJcs2019,
    /// `ecdsa-sd-2023`: selectively disclosable ECDSA P-256 over RDFC-1.0 ([`ecdsa_sd`]).
    EcdsaSd2023,
}

impl Cryptosuite {
    /// All suites.
    pub const ALL: [Cryptosuite; 4] = [
        Cryptosuite::EddsaRdfc2022,
        Cryptosuite::EddsaJcs2022,
        Cryptosuite::EcdsaRdfc2019,
        Cryptosuite::EcdsaJcs2019,
    ];

    /// The `cryptosuite` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Cryptosuite::EddsaRdfc2022 => "eddsa-rdfc-2022",
            Cryptosuite::EddsaJcs2022 => "eddsa-jcs-2022",
            Cryptosuite::EcdsaRdfc2019 => "ecdsa-rdfc-2019",
            Cryptosuite::EcdsaJcs2019 => "ecdsa-jcs-2019",
            Cryptosuite::EcdsaSd2023 => ecdsa_sd::NAME,
        }
    }

    /// The suite of a `cryptosuite` name.
    pub fn from_name(name: &str) -> Result<Self, FormatError> {
        Self::ALL
            .into_iter()
            .chain([Cryptosuite::EcdsaSd2023])
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                FormatError::Unsupported(format!(
                    "a `cryptosuite` other than {}",
                    Self::ALL.map(Cryptosuite::as_str).join(", ")
                ))
            })
    }

    /// Whether the suite canonicalises with RDFC-1.0 (else JCS).
    pub fn is_rdfc(self) -> bool {
        matches!(
            self,
            Cryptosuite::EddsaRdfc2022 | Cryptosuite::EcdsaRdfc2019 | Cryptosuite::EcdsaSd2023
        )
    }

    /// The suite a key signing with `alg` uses when none is named: `eddsa-rdfc-2022` for
    /// Ed25519, `ecdsa-rdfc-2019` for P-256 and P-384; none for other keys.
    pub fn default_for(alg: Algorithm) -> Option<Self> {
        match alg {
            Algorithm::EdDsa => Some(Cryptosuite::EddsaRdfc2022),
            Algorithm::Es256 | Algorithm::Es384 => Some(Cryptosuite::EcdsaRdfc2019),
            _ => None,
        }
    }

    /// Whether a key signing with `alg` fits this suite.
    pub fn fits(self, alg: Algorithm) -> bool {
        match self {
            Cryptosuite::EddsaRdfc2022 | Cryptosuite::EddsaJcs2022 => alg == Algorithm::EdDsa,
            Cryptosuite::EcdsaRdfc2019 | Cryptosuite::EcdsaJcs2019 => {
                matches!(alg, Algorithm::Es256 | Algorithm::Es384)
            }
            Cryptosuite::EcdsaSd2023 => alg == Algorithm::Es256,
        }
    }

    /// Canonicalises a document or proof configuration as this suite does for a key signing
    /// with `alg`: RDFC-1.0 hashes with SHA-384 for `ecdsa-rdfc-2019` with P-384, else SHA-256.
    pub fn canonicalize(self, alg: Algorithm, value: &Value) -> Result<String, FormatError> {
        if self.is_rdfc() {
            let hash = if alg == Algorithm::Es384 {
                rdfc::HashAlgorithm::Sha384
            } else {
                rdfc::HashAlgorithm::Sha256
            };
            canon::rdfc_with(value, hash)
        } else {
            canon::jcs(value)
        }
    }
}

impl std::fmt::Display for Cryptosuite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a proof was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofPurpose {
    /// `assertionMethod`: an issuer's credential.
    AssertionMethod,
    /// `authentication`: a holder's presentation.
    Authentication,
}

impl ProofPurpose {
    /// The `proofPurpose` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ProofPurpose::AssertionMethod => "assertionMethod",
            ProofPurpose::Authentication => "authentication",
        }
    }

    /// The purpose named `name` (`assertionMethod`, `authentication`).
    pub fn from_name(name: &str) -> Result<Self, FormatError> {
        match name {
            "assertionMethod" => Ok(ProofPurpose::AssertionMethod),
            "authentication" => Ok(ProofPurpose::Authentication),
            _ => Err(FormatError::Unsupported(
                "a `proofPurpose` other than assertionMethod or authentication".into(),
            )),
        }
    }
}

/// How to make a proof.
#[derive(Debug, Clone)]
pub struct ProofOptions {
    /// The cryptosuite; it must fit the key's algorithm.
    pub cryptosuite: Cryptosuite,
    /// `assertionMethod` for credentials, `authentication` for presentations.
    pub purpose: ProofPurpose,
    /// `created` (an XML Schema `dateTime`); the current time when absent.
    pub created: Option<String>,
    /// The verification method id; `did:key:z…#z…` of the key when absent.
    pub verification_method: Option<String>,
    /// The verifier's `challenge` (presentations).
    pub challenge: Option<String>,
    /// The verifier's `domain` (presentations).
    pub domain: Option<String>,
    /// The proof's `id` (a URL), so that a later proof of a chain can name it.
    pub id: Option<String>,
    /// `previousProof`: the ids of the proofs this one chains to ([`add_proof`]).
    pub previous_proof: Vec<String>,
    /// `expires` (an XML Schema `dateTimeStamp`): after it the proof no longer verifies.
    pub expires: Option<String>,
}

impl ProofOptions {
    /// Options for an issuer's credential proof.
    pub fn assertion(cryptosuite: Cryptosuite) -> Self {
        ProofOptions {
            cryptosuite,
            purpose: ProofPurpose::AssertionMethod,
            created: None,
            verification_method: None,
            challenge: None,
            domain: None,
            id: None,
            previous_proof: Vec::new(),
            expires: None,
        }
    }

    /// Options for a holder's presentation proof bound to a verifier's challenge and domain.
    pub fn authentication(
        cryptosuite: Cryptosuite,
        challenge: impl Into<String>,
        domain: Option<String>,
    ) -> Self {
        ProofOptions {
            cryptosuite,
            purpose: ProofPurpose::Authentication,
            created: None,
            verification_method: None,
            challenge: Some(challenge.into()),
            domain,
            id: None,
            previous_proof: Vec::new(),
            expires: None,
        }
    }
}

/// The intermediates of a proof: both canonical forms and both hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashData {
    /// The canonical proof configuration.
    pub canonical_proof_config: String,
    /// The canonical document (without `proof`).
    pub canonical_document: String,
    /// Hash of the canonical proof configuration.
    pub proof_config_hash: Vec<u8>,
    /// Hash of the canonical document.
    pub document_hash: Vec<u8>,
}

impl HashData {
    /// `hashData`: proof configuration hash ‖ document hash, the bytes that are signed.
    pub fn combined(&self) -> Vec<u8> {
        [
            self.proof_config_hash.as_slice(),
            self.document_hash.as_slice(),
        ]
        .concat()
    }
}

fn digest(alg: Algorithm, data: &[u8]) -> Vec<u8> {
    match alg {
        Algorithm::Es384 => sha2::Sha384::digest(data).to_vec(),
        _ => sha2::Sha256::digest(data).to_vec(),
    }
}

/// Canonicalises and hashes a document (without `proof`) and a proof configuration (without
/// `proofValue`, with `@context`) as `suite` does for a key signing with `alg`.
pub fn hash_data(
    suite: Cryptosuite,
    alg: Algorithm,
    document: &Value,
    proof_config: &Value,
) -> Result<HashData, FormatError> {
    let canonical_proof_config = suite.canonicalize(alg, proof_config)?;
    let canonical_document = suite.canonicalize(alg, document)?;
    Ok(HashData {
        proof_config_hash: digest(alg, canonical_proof_config.as_bytes()),
        document_hash: digest(alg, canonical_document.as_bytes()),
        canonical_proof_config,
        canonical_document,
    })
}

/// The proof configuration for `document`: the proof options as a proof object (without
/// `proofValue`), with the document's `@context`.
pub fn proof_config(
    document: &Value,
    options: &ProofOptions,
    verification_method: &str,
) -> Result<Value, FormatError> {
    let object = document
        .as_object()
        .ok_or_else(|| FormatError::malformed(WHAT, "the document is not a JSON object"))?;
    let created = match &options.created {
        Some(created) => {
            check_date_time(created)?;
            created.clone()
        }
        None => now_date_time(),
    };
    let mut proof = Map::new();
    if let Some(id) = &options.id {
        proof.insert("id".into(), id.clone().into());
    }
    proof.insert("type".into(), "DataIntegrityProof".into());
    proof.insert("cryptosuite".into(), options.cryptosuite.as_str().into());
    proof.insert("created".into(), created.into());
    if let Some(expires) = &options.expires {
        if crate::vcdm::date_time_stamp(expires).is_none() {
            return Err(FormatError::malformed(
                WHAT,
                "expires is not an XML Schema dateTimeStamp",
            ));
        }
        proof.insert("expires".into(), expires.clone().into());
    }
    proof.insert("verificationMethod".into(), verification_method.into());
    proof.insert("proofPurpose".into(), options.purpose.as_str().into());
    if let Some(challenge) = &options.challenge {
        proof.insert("challenge".into(), challenge.clone().into());
    }
    if let Some(domain) = &options.domain {
        proof.insert("domain".into(), domain.clone().into());
    }
    match options.previous_proof.as_slice() {
        [] => {}
        [one] => {
            proof.insert("previousProof".into(), one.clone().into());
        }
        many => {
            proof.insert("previousProof".into(), many.to_vec().into());
        }
    }
    if let Some(context) = object.get("@context") {
        proof.insert("@context".into(), context.clone());
    }
    Ok(Value::Object(proof))
}

/// Adds a Data Integrity proof to `document` (a credential or presentation without `proof`),
/// signing through `signer` with `key`.
pub async fn sign(
    document: &Value,
    signer: &dyn Signer,
    key: &KeyRef,
    options: &ProofOptions,
) -> Result<Value, FormatError> {
    crate::limits::check_json_depth(WHAT, document)?;
    let object = document
        .as_object()
        .ok_or_else(|| FormatError::malformed(WHAT, "the document is not a JSON object"))?;
    if object.contains_key("proof") {
        return Err(FormatError::Unsupported(
            "the document already has a proof: add another with add_proof (a proof set or chain)"
                .into(),
        ));
    }
    if !options.previous_proof.is_empty() {
        return Err(FormatError::Rejected(
            "previousProof names a proof the document does not have".into(),
        ));
    }
    // A VCDM 1.1 document gets the context that defines the proof's terms; what is signed
    // and returned both carry it.
    let mut secured = with_proof_context(object);
    let proof = make_proof(&Value::Object(secured.clone()), signer, key, options).await?;
    secured.insert("proof".into(), proof);
    Ok(Value::Object(secured))
}

/// Adds a proof to a document that may already have some (VC Data Integrity 1.0, "Add Proof
/// Set/Chain"): the new proof is made over the document without its proofs, plus, when
/// `options.previous_proof` names some, exactly those proofs (a chain); the result's `proof`
/// is every earlier proof and the new one.
pub async fn add_proof(
    secured: &Value,
    signer: &dyn Signer,
    key: &KeyRef,
    options: &ProofOptions,
) -> Result<Value, FormatError> {
    crate::limits::check_json_depth(WHAT, secured)?;
    let object = secured
        .as_object()
        .ok_or_else(|| FormatError::malformed(WHAT, "the document is not a JSON object"))?;
    let all: Vec<Value> = match object.get("proof") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(one) => vec![one.clone()],
    };
    let mut input = object.clone();
    input.remove("proof");
    if !options.previous_proof.is_empty() {
        let matching = matching_proofs(&all, &options.previous_proof)?;
        input.insert("proof".into(), Value::Array(matching));
    }
    let proof = make_proof(&Value::Object(input), signer, key, options).await?;
    let mut result = object.clone();
    let mut proofs = all;
    proofs.push(proof);
    result.insert(
        "proof".into(),
        if proofs.len() == 1 {
            proofs.remove(0)
        } else {
            Value::Array(proofs)
        },
    );
    Ok(Value::Object(result))
}

/// The proofs of `all` whose `id` is one of `ids`, in the order of `ids`; every id must name
/// one.
fn matching_proofs(all: &[Value], ids: &[String]) -> Result<Vec<Value>, FormatError> {
    ids.iter()
        .map(|id| {
            all.iter()
                .find(|p| p.get("id").and_then(Value::as_str) == Some(id.as_str()))
                .cloned()
                .ok_or_else(|| {
                    FormatError::InvalidSignature(
                        "previousProof names a proof the document does not have".into(),
                    )
                })
        })
        .collect()
}

/// Makes one proof over `document` (which carries, for a chain, the proofs it chains to).
async fn make_proof(
    document: &Value,
    signer: &dyn Signer,
    key: &KeyRef,
    options: &ProofOptions,
) -> Result<Value, FormatError> {
    let suite = options.cryptosuite;
    if suite == Cryptosuite::EcdsaSd2023 {
        return Err(FormatError::Unsupported(
            "ecdsa-sd-2023 base proofs are made by data_integrity::ecdsa_sd::sign_base".into(),
        ));
    }
    if !suite.fits(key.algorithm) {
        return Err(FormatError::Unsupported(format!(
            "{suite} with a {} key",
            key.algorithm
        )));
    }
    key.algorithm.check_fits(key.public_key.spec())?;
    if options.purpose == ProofPurpose::Authentication && options.challenge.is_none() {
        return Err(FormatError::Rejected(
            "a presentation proof needs the verifier's challenge".into(),
        ));
    }
    let method = options
        .verification_method
        .clone()
        .unwrap_or_else(|| did_key_verification_method(&key.public_key));
    let mut proof = proof_config(document, options, &method)?;
    let hashes = hash_data(suite, key.algorithm, document, &proof)?;
    let message = hashes.combined();
    let signature = signer.sign(key, SignInput::Message(&message)).await?;
    key.public_key
        .verify(key.algorithm, &message, &signature)
        .map_err(|e| {
            FormatError::Signer(format!(
                "the signer's signature does not verify with the key: {e}"
            ))
        })?;
    if let Value::Object(members) = &mut proof {
        if suite.is_rdfc() {
            members.remove("@context");
        }
        members.insert(
            "proofValue".into(),
            format!("z{}", bs58::encode(&signature).into_string()).into(),
        );
    }
    Ok(proof)
}

/// The context that defines the proof's terms (`DataIntegrityProof`, `cryptosuite`,
/// `created`, …).
pub const DATA_INTEGRITY_CONTEXT: &str = "https://w3id.org/security/data-integrity/v2";

/// The contexts that define the proof's terms themselves: the Data Integrity context, and the
/// VCDM 2.0 context, which includes it.
const PROOF_TERM_CONTEXTS: [&str; 2] = [DATA_INTEGRITY_CONTEXT, crate::jose::vc_jwt::VCDM2_CONTEXT];

/// `document` with [`DATA_INTEGRITY_CONTEXT`] appended to its `@context` when none of its
/// contexts defines the proof's terms (a VCDM 1.1 credential, whose context predates Data
/// Integrity): what Data Integrity 1.0 §4.2 "Add Proof" asks of a JSON-LD document that
/// does not define them (and what digitalbazaar's libraries do). Without it, the proof's
/// `created`, `cryptosuite`, … do not expand and RDFC refuses the proof. A document without
/// `@context` (JCS over plain JSON) is left as it is.
pub fn with_proof_context(document: &Map<String, Value>) -> Map<String, Value> {
    let mut out = document.clone();
    let contexts: Vec<Value> = match document.get("@context") {
        Some(Value::Array(items)) => items.clone(),
        Some(one @ Value::String(_)) => vec![one.clone()],
        _ => return out,
    };
    let defined = contexts
        .iter()
        .any(|c| c.as_str().is_some_and(|c| PROOF_TERM_CONTEXTS.contains(&c)));
    if !defined {
        let mut contexts = contexts;
        contexts.push(DATA_INTEGRITY_CONTEXT.into());
        out.insert("@context".into(), Value::Array(contexts));
    }
    out
}

/// What to check beyond the signature.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Check the proof alone, not that the issuer (or holder) is the controller of the key.
    pub proof_only: bool,
    /// The purpose the proof must have, when the caller expects one.
    pub purpose: Option<ProofPurpose>,
    /// The challenge an `authentication` proof must carry (required for those proofs).
    pub challenge: Option<String>,
    /// The domain the proof must carry; an `authentication` proof bound to a domain is
    /// refused without it.
    pub domain: Option<String>,
    /// The time a proof's `expires` is compared with (Unix seconds); now when `None`.
    pub at: Option<i64>,
}

/// What a valid proof said.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The proof's cryptosuite.
    pub cryptosuite: Cryptosuite,
    /// The proof's purpose.
    pub purpose: ProofPurpose,
    /// The verification method id.
    pub verification_method: String,
    /// The DID controlling the key.
    pub controller: String,
    /// The key that verified the proof.
    pub public_key: PublicKey,
    /// The proof's `created`, when present.
    pub created: Option<String>,
    /// Whether the issuer/holder binding was checked (false with `proof_only`, and for a
    /// presentation without `holder`).
    pub controller_checked: bool,
    /// How many proofs the document has (more than one: a proof set or chain, every one
    /// verified).
    pub proof_count: usize,
    /// The verification methods of the other proofs of a set or chain.
    pub other_methods: Vec<String>,
}

/// Parses a secured document from outside (with the size and depth limits) and verifies it.
pub fn verify_bytes(bytes: &[u8], options: &VerifyOptions) -> Result<Verified, FormatError> {
    let value = crate::limits::parse_json("Data Integrity document", bytes)?;
    verify(&value, options)
}

fn string_member<'a>(proof: &'a Map<String, Value>, name: &str) -> Result<&'a str, FormatError> {
    proof
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| FormatError::malformed(WHAT, format!("the proof has no string `{name}`")))
}

/// The id of an `issuer` or `holder` member: a string or an object's `id`.
fn party_id(value: Option<&Value>) -> Option<&str> {
    match value? {
        Value::String(id) => Some(id),
        Value::Object(members) => members.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// Most proofs one document may carry.
pub const MAX_PROOFS: usize = 16;

/// Verifies the Data Integrity proofs of a secured credential or presentation: one proof, or
/// a proof set or chain (VC Data Integrity 1.0, "Verify Proof Sets and Chains"), every proof
/// of which must verify, each over the document without proofs plus the proofs its
/// `previousProof` names. Purpose, challenge and domain are checked on every proof. Unless
/// `proof_only`, the `issuer` (credential) must control a proof's key, and so must the
/// `holder` of a presentation when it names one (VCDM 2.0 makes `holder` optional; without
/// it, the proof is checked by its verification method alone). The result describes that
/// proof, or the first.
pub fn verify(secured: &Value, options: &VerifyOptions) -> Result<Verified, FormatError> {
    crate::limits::check_json_depth(WHAT, secured)?;
    let object = secured
        .as_object()
        .ok_or_else(|| FormatError::malformed(WHAT, "the document is not a JSON object"))?;
    let all: Vec<Value> = match object.get("proof") {
        Some(Value::Object(proof)) => vec![Value::Object(proof.clone())],
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(FormatError::malformed(WHAT, "proof is an empty list"));
        }
        Some(Value::Array(items)) if items.len() > MAX_PROOFS => {
            return Err(FormatError::malformed(
                WHAT,
                format!("more than {MAX_PROOFS} proofs"),
            ));
        }
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(FormatError::malformed(WHAT, "proof is not an object")),
        None => return Err(FormatError::malformed(WHAT, "the document has no proof")),
    };
    let mut without_proofs = object.clone();
    without_proofs.remove("proof");
    let mut results = Vec::with_capacity(all.len());
    for (i, proof) in all.iter().enumerate() {
        let Value::Object(proof) = proof else {
            return Err(FormatError::malformed(
                WHAT,
                "a proof of the set is not an object",
            ));
        };
        let mut input = without_proofs.clone();
        if let Some(previous) = proof.get("previousProof") {
            let ids: Vec<String> = match previous {
                Value::String(id) => vec![id.clone()],
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        FormatError::malformed(WHAT, "previousProof is not a string or strings")
                    })?,
                _ => {
                    return Err(FormatError::malformed(
                        WHAT,
                        "previousProof is not a string or strings",
                    ));
                }
            };
            input.insert("proof".into(), Value::Array(matching_proofs(&all, &ids)?));
        }
        let verified = verify_proof(object, &input, proof, options).map_err(|e| {
            if all.len() > 1 {
                prefix_error(&format!("proof {i} of {}", all.len()), e)
            } else {
                e
            }
        })?;
        results.push(verified);
    }
    // Who must control a proof's key.
    let (member, party) = match results[0].purpose {
        ProofPurpose::AssertionMethod => ("issuer", party_id(object.get("issuer"))),
        ProofPurpose::Authentication => ("holder", party_id(object.get("holder"))),
    };
    let primary = match party {
        _ if options.proof_only => 0,
        None if member == "holder" && object.get("holder").is_none() => 0,
        None => {
            return Err(FormatError::Rejected(format!(
                "the document has no `{member}` id to check the proof's key against (use proof-only verification to check the proof alone)"
            )));
        }
        Some(party) => results
            .iter()
            .position(|r| r.controller == party)
            .ok_or_else(|| {
                FormatError::Rejected(format!(
                    "the `{member}` is not the controller of the proof's key (use proof-only verification to check the proof alone)"
                ))
            })?,
    };
    let checked = !options.proof_only && party.is_some();
    let count = results.len();
    let other_methods = results
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != primary)
        .map(|(_, r)| r.verification_method.clone())
        .collect();
    let mut verified = results.swap_remove(primary);
    verified.controller_checked = checked;
    verified.proof_count = count;
    verified.other_methods = other_methods;
    Ok(verified)
}

/// The same error, its message prefixed with `context`.
fn prefix_error(context: &str, e: FormatError) -> FormatError {
    match e {
        FormatError::InvalidSignature(m) => {
            FormatError::InvalidSignature(format!("{context}: {m}"))
        }
        FormatError::Rejected(m) => FormatError::Rejected(format!("{context}: {m}")),
        FormatError::Unsupported(m) => FormatError::Unsupported(format!("{context}: {m}")),
        other => other,
    }
}

/// Verifies one proof over `input` (the document without proofs, plus for a chain the proofs
/// this one names): the signature, then purpose, challenge and domain.
fn verify_proof(
    object: &Map<String, Value>,
    input: &Map<String, Value>,
    proof: &Map<String, Value>,
    options: &VerifyOptions,
) -> Result<Verified, FormatError> {
    let proof_type = string_member(proof, "type")?;
    if proof_type != "DataIntegrityProof" {
        return Err(FormatError::Unsupported(
            "a proof `type` other than DataIntegrityProof".into(),
        ));
    }
    let suite = Cryptosuite::from_name(string_member(proof, "cryptosuite")?)?;
    let purpose = ProofPurpose::from_name(string_member(proof, "proofPurpose")?)?;
    let method = string_member(proof, "verificationMethod")?.to_owned();
    let created = match proof.get("created") {
        Some(Value::String(created)) => {
            check_date_time(created)?;
            Some(created.clone())
        }
        Some(_) => return Err(FormatError::malformed(WHAT, "created is not a string")),
        None => None,
    };
    // VC Data Integrity 1.0 §4.3 (verify proof): a proof past its `expires` is not valid.
    match proof.get("expires") {
        None => {}
        Some(Value::String(expires)) => {
            let expires = crate::vcdm::date_time_stamp(expires).ok_or_else(|| {
                FormatError::malformed(WHAT, "expires is not an XML Schema dateTimeStamp")
            })?;
            let now = options.at.unwrap_or_else(unix_now);
            if expires <= now {
                return Err(FormatError::Rejected(
                    "the proof has expired (`expires`)".into(),
                ));
            }
        }
        Some(_) => return Err(FormatError::malformed(WHAT, "expires is not a string")),
    }
    let resolved = if suite == Cryptosuite::EcdsaSd2023 {
        ecdsa_sd::verify_derived(input, proof, &method)?
    } else {
        verify_signature(object, input, proof, suite, &method)?
    };

    // Checks beyond the signature.
    if let Some(expected) = options.purpose
        && expected != purpose
    {
        return Err(FormatError::Rejected(format!(
            "proof purpose is {}, expected {}",
            purpose.as_str(),
            expected.as_str()
        )));
    }
    let proof_challenge = proof.get("challenge").and_then(Value::as_str);
    match (&options.challenge, proof_challenge) {
        (Some(expected), Some(got)) if expected == got => {}
        (Some(_), Some(_)) => {
            return Err(FormatError::Rejected(
                "the proof's `challenge` is not the expected challenge".into(),
            ));
        }
        (Some(_), None) => {
            return Err(FormatError::Rejected(
                "the proof has no `challenge`, and one is expected".into(),
            ));
        }
        (None, _) if purpose == ProofPurpose::Authentication => {
            return Err(FormatError::Rejected(
                "an authentication proof is checked against the expected challenge: give it".into(),
            ));
        }
        (None, _) => {}
    }
    let proof_domains: Vec<&str> = match proof.get("domain") {
        None => Vec::new(),
        Some(Value::String(d)) => vec![d.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(_) => {
            return Err(FormatError::malformed(
                WHAT,
                "domain is not a string or array",
            ));
        }
    };
    match &options.domain {
        Some(expected) if !proof_domains.contains(&expected.as_str()) => {
            return Err(FormatError::Rejected(
                "the proof's `domain` is not the expected domain".into(),
            ));
        }
        // A presentation bound to a domain is refused unless the verifier says which it
        // expects; an assertion proof's domain is checked only when one is expected.
        None if !proof_domains.is_empty() && purpose == ProofPurpose::Authentication => {
            return Err(FormatError::Rejected(
                "the proof is bound to a `domain`: give the expected domain".into(),
            ));
        }
        _ => {}
    }
    Ok(Verified {
        cryptosuite: suite,
        purpose,
        verification_method: method,
        controller: resolved.controller,
        public_key: resolved.public_key,
        created,
        controller_checked: false,
        proof_count: 1,
        other_methods: Vec::new(),
    })
}

/// Checks the signature of a single-signature suite's proof over `input` (the document
/// without proofs, plus for a chain the proofs this one names); returns the resolved method.
fn verify_signature(
    object: &Map<String, Value>,
    input: &Map<String, Value>,
    proof: &Map<String, Value>,
    suite: Cryptosuite,
    method: &str,
) -> Result<ResolvedMethod, FormatError> {
    let proof_value = string_member(proof, "proofValue")?;
    let signature = proof_value
        .strip_prefix('z')
        .ok_or_else(|| FormatError::malformed(WHAT, "proofValue is not multibase base58btc"))
        .and_then(|v| {
            bs58::decode(v)
                .into_vec()
                .map_err(|e| FormatError::malformed(WHAT, format!("proofValue: {e}")))
        })?;

    // The unsecured document, and the proof configuration with the document's context.
    let mut unsecured = input.clone();
    let mut config = proof.clone();
    config.remove("proofValue");
    if let Some(proof_context) = config.get("@context") {
        let doc_context = object.get("@context");
        let starts_with = match (proof_context, doc_context) {
            (Value::Array(p), Some(Value::Array(d))) => d.starts_with(p),
            (p, Some(Value::Array(d))) => d.first() == Some(p),
            (p, Some(d)) => p == d,
            (_, None) => false,
        };
        if !starts_with {
            return Err(FormatError::InvalidSignature(
                "the proof's @context is not the start of the document's @context".into(),
            ));
        }
        unsecured.insert("@context".into(), proof_context.clone());
    } else if let Some(context) = object.get("@context") {
        config.insert("@context".into(), context.clone());
    }

    let resolved = resolve_verification_method(method)?;
    let alg = match resolved.public_key.spec() {
        inkan_device::KeySpec::Ed25519 => Algorithm::EdDsa,
        inkan_device::KeySpec::P256 => Algorithm::Es256,
        inkan_device::KeySpec::P384 => Algorithm::Es384,
        other => {
            return Err(FormatError::Unsupported(format!(
                "{other} keys in Data Integrity proofs"
            )));
        }
    };
    if !suite.fits(alg) {
        return Err(FormatError::InvalidSignature(format!(
            "{suite} with a {} key",
            resolved.public_key.spec()
        )));
    }
    let unsecured = Value::Object(unsecured);
    let hashes = hash_data(suite, alg, &unsecured, &Value::Object(config))?;
    resolved
        .public_key
        .verify(alg, &hashes.combined(), &signature)
        .map_err(|e| FormatError::InvalidSignature(format!("{suite} proof: {e}")))?;

    Ok(resolved)
}

/// Checks the shape of an XML Schema `dateTime` in UTC or with an offset
/// (`YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`).
fn check_date_time(value: &str) -> Result<(), FormatError> {
    crate::vcdm::date_time_stamp(value)
        .map(drop)
        .ok_or_else(|| {
            FormatError::malformed(
                WHAT,
                "created is not an XML Schema dateTimeStamp (YYYY-MM-DDThh:mm:ss with a time zone)",
            )
        })
}

/// Now, Unix seconds.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The current time as `YYYY-MM-DDThh:mm:ssZ`.
fn now_date_time() -> String {
    let secs = unix_now();
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times() {
        assert!(check_date_time("2023-02-24T23:36:38Z").is_ok());
        assert!(check_date_time("2023-02-24T23:36:38.123+02:00").is_ok());
        assert!(check_date_time("2023-02-24 23:36:38Z").is_err());
        assert!(check_date_time(&now_date_time()).is_ok());
    }
}
