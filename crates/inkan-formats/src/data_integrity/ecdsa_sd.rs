//! The `ecdsa-sd-2023` cryptosuite (W3C Data Integrity ECDSA Cryptosuites v1.0, §3.4 and
//! §3.6): selectively disclosable JSON-LD credentials on P-256 keys.
//!
//! This module owns the whole suite: the issuer's **base proof** ([`sign_base`]), the holder's
//! **derived proof** ([`derive`], which needs no private key), and the verifier's check of a
//! derived proof ([`verify_derived`], called by [`super::verify`]). Its pieces follow the
//! specification's functions, written here from the text:
//!
//! - skolemization (every node object gets an IRI `urn:bnid:inkan-sd-N`, so that selections of
//!   the document name the same blank nodes as the whole), and deskolemization of the N-Quads;
//! - `labelReplacementCanonicalizeNQuads`: RDFC-1.0 ([`super::rdfc::canonical_labels`]), then
//!   every canonical label `c14nN` replaced by the label a *label map factory* gives it — at
//!   issuance `createHmacIdLabelMapFunction` (`u` + base64url(HMAC-SHA-256(hmacKey, c14nN))),
//!   at verification `createLabelMapFunction` over the label map carried in the proof;
//! - `selectJsonLd` over JSON pointers (RFC 6901), and `canonicalizeAndGroup`, which splits the
//!   relabelled N-Quads into those a group of pointers selects (`matching`) and the rest;
//! - the CBOR proof values: base `0xd9 0x5d 0x00` ‖ [baseSignature, publicKey, hmacKey,
//!   signatures, mandatoryPointers], derived `0xd9 0x5d 0x01` ‖ [baseSignature, publicKey,
//!   signatures, compressed label map, mandatoryIndexes], both multibase base64url (`u`).
//!
//! The base signature — over `proofHash ‖ ephemeral public key (Multikey) ‖ mandatoryHash` —
//! is made by the issuer's key through the [`Signer`], so in the server it goes through the
//! signing module like every other signature (and the log records the digest of those bytes).
//! The per-credential HMAC key and ephemeral P-256 key are this suite's own: made fresh for
//! each credential by the caller ([`BaseSecrets::generate`]), held in zeroizing types, used
//! once, never stored; the ephemeral private key signs each non-mandatory statement in
//! software, as the specification prescribes.
//!
//! It must never: sign with an issuer key other than through the [`Signer`], keep or return
//! the ephemeral private key, accept a base proof as a verified credential (only derived proofs
//! verify; a base proof is the holder's material), or fetch a JSON-LD context. Base keys are
//! P-256 only: the specification defines the suite concretely for P-256 with SHA-256 (its
//! HMAC, statement signatures and hashes), and the reference implementation requires P-256.

use super::rdfc::{self, HashAlgorithm, Quad, Term};
use super::{ResolvedMethod, WHAT as DI_WHAT, canon, resolve_verification_method};
use crate::signer::SignInput;
use crate::{FormatError, KeyRef, Signer};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::Mac as _;
use inkan_device::{Algorithm, KeySpec, PublicKey};
use serde_json::{Map, Value};
use sha2::Digest as _;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use zeroize::{Zeroize as _, Zeroizing};

/// The cryptosuite's name.
pub const NAME: &str = "ecdsa-sd-2023";
const WHAT: &str = "ecdsa-sd-2023 proof";
const BASE_HEADER: [u8; 3] = [0xd9, 0x5d, 0x00];
const DERIVED_HEADER: [u8; 3] = [0xd9, 0x5d, 0x01];
/// The IRI prefix of skolemized blank nodes.
const SKOLEM: &str = "urn:bnid:inkan-sd-";
/// The most JSON pointers one request may give.
pub const MAX_POINTERS: usize = 512;
/// The longest JSON pointer accepted.
const MAX_POINTER_LEN: usize = 2048;
/// Multicodec prefix of a P-256 public key (`p256-pub`, 0x1200 as a varint).
const P256_MULTIKEY: [u8; 2] = [0x80, 0x24];

type HmacSha256 = hmac::Hmac<sha2::Sha256>;
/// A JSON object's members.
type Members = Map<String, Value>;

/// The per-credential secrets of a base proof: the HMAC key that blinds blank node labels and
/// the proof-scoped ephemeral P-256 key that signs each non-mandatory statement. Zeroized when
/// dropped (the HMAC key in [`Zeroizing`], the signing key by `p256` itself).
pub struct BaseSecrets {
    hmac_key: Zeroizing<[u8; 32]>,
    ephemeral: p256::ecdsa::SigningKey,
}

impl std::fmt::Debug for BaseSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BaseSecrets(redacted)")
    }
}

impl BaseSecrets {
    /// Fresh secrets from `rng` (the operating system's in production).
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        let mut hmac_key = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(hmac_key.as_mut());
        BaseSecrets {
            hmac_key,
            ephemeral: p256::ecdsa::SigningKey::random(rng),
        }
    }

    /// Secrets given by the caller (the specification's test vectors fix both).
    pub fn from_parts(hmac_key: [u8; 32], ephemeral_secret: &[u8]) -> Result<Self, FormatError> {
        let hmac_key = Zeroizing::new(hmac_key);
        let ephemeral = p256::ecdsa::SigningKey::from_slice(ephemeral_secret)
            .map_err(|_| FormatError::malformed(WHAT, "the ephemeral key is not a P-256 scalar"))?;
        Ok(BaseSecrets {
            hmac_key,
            ephemeral,
        })
    }

    /// The ephemeral public key as the proof carries it: Multikey bytes (`0x80 0x24` ‖
    /// compressed point).
    fn public_multikey(&self) -> Vec<u8> {
        let point = self.ephemeral.verifying_key().to_encoded_point(true);
        [P256_MULTIKEY.as_slice(), point.as_bytes()].concat()
    }
}

/// How to make a base proof.
#[derive(Debug, Clone, Default)]
pub struct BaseOptions {
    /// `created` (an XML Schema `dateTime`); now when absent.
    pub created: Option<String>,
    /// The verification method id; `did:key:z…#z…` of the key when absent.
    pub verification_method: Option<String>,
    /// JSON pointers (RFC 6901) of what every derived credential must disclose.
    pub mandatory_pointers: Vec<String>,
}

// ---------------------------------------------------------------------------------------------
// Label maps and canonicalization with label replacement

/// Makes a blank node's final label from its canonical label (`c14nN`).
type LabelFactory<'a> = dyn Fn(&str) -> Result<String, FormatError> + 'a;

/// The HMAC label of a canonical label: `u` + base64url(HMAC-SHA-256(key, label)).
fn hmac_label(key: &[u8; 32], canonical: &str) -> Result<String, FormatError> {
    let mut mac = <HmacSha256 as hmac::Mac>::new_from_slice(key)
        .map_err(|_| FormatError::malformed(WHAT, "the HMAC key"))?;
    mac.update(canonical.as_bytes());
    let tag = mac.finalize().into_bytes();
    Ok(format!("u{}", URL_SAFE_NO_PAD.encode(tag)))
}

/// `labelReplacementCanonicalizeNQuads`: the canonical N-Quads of `quads` with every blank
/// node relabelled by `factory` (sorted, each once), and the map input label → new label.
fn relabel_canonical(
    quads: &[Quad],
    factory: &LabelFactory<'_>,
) -> Result<(Vec<String>, HashMap<String, String>), FormatError> {
    let canonical = rdfc::canonical_labels(quads, HashAlgorithm::Sha256)?;
    let mut labels = HashMap::with_capacity(canonical.labels.len());
    for (input, c14n) in &canonical.labels {
        labels.insert(input.clone(), factory(c14n)?);
    }
    let label = |b: &str| labels.get(b).cloned().unwrap_or_else(|| b.to_owned());
    let mut lines: Vec<String> = canonical
        .quads
        .iter()
        .map(|q| rdfc::nquad_line(q, &label))
        .collect();
    lines.sort();
    lines.dedup();
    Ok((lines, labels))
}

// ---------------------------------------------------------------------------------------------
// Skolemization

/// Gives every node object of a compact JSON-LD document an `@id` IRI under [`SKOLEM`] (and
/// turns explicit blank node ids `_:x` into such IRIs), so that a selection of the document
/// names the same nodes as the whole. `@context` values are left alone.
fn skolemize(value: &Value, counter: &mut usize) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| skolemize(v, counter)).collect()),
        Value::Object(members) => {
            let mut out = Map::new();
            for (key, member) in members {
                if key == "@context" {
                    out.insert(key.clone(), member.clone());
                } else if (key == "id" || key == "@id")
                    && let Some(blank) = member.as_str().and_then(|s| s.strip_prefix("_:"))
                {
                    out.insert(key.clone(), format!("{SKOLEM}e-{blank}").into());
                } else {
                    out.insert(key.clone(), skolemize(member, counter));
                }
            }
            let not_a_node = ["@value", "@list", "@set", "id", "@id"]
                .iter()
                .any(|k| members.contains_key(*k));
            if !not_a_node {
                out.insert("@id".into(), format!("{SKOLEM}{counter}").into());
                *counter += 1;
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// The quads of a skolemized document with the skolem IRIs turned back into blank nodes.
/// Blank nodes that skolemization could not name (RDF lists, graph containers) are refused:
/// their labels would differ between the document and its selections.
fn deskolemized_quads(skolemized: &Value) -> Result<Vec<Quad>, FormatError> {
    let quads = canon::to_quads(skolemized)?;
    let unnamed = |t: &Term| matches!(t, Term::Blank(_));
    if quads
        .iter()
        .any(|q| unnamed(&q.subject) || unnamed(&q.object) || q.graph.as_ref().is_some_and(unnamed))
    {
        return Err(FormatError::Unsupported(
            "ecdsa-sd-2023 with RDF lists or graph containers in the credential (their blank nodes cannot be named for selective disclosure)".into(),
        ));
    }
    let deskolemize = |t: Term| match t {
        Term::Iri(iri) => match iri.strip_prefix(SKOLEM) {
            Some(label) => Term::Blank(format!("sk{label}")),
            None => Term::Iri(iri),
        },
        other => other,
    };
    Ok(quads
        .into_iter()
        .map(|q| Quad {
            subject: deskolemize(q.subject),
            predicate: q.predicate,
            object: deskolemize(q.object),
            graph: q.graph.map(deskolemize),
        })
        .collect())
}

// ---------------------------------------------------------------------------------------------
// JSON pointers and selection

/// The reference tokens of a JSON pointer (RFC 6901), or `None` when it is not one.
fn pointer_tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    if pointer.len() > MAX_POINTER_LEN {
        return None;
    }
    let rest = pointer.strip_prefix('/')?;
    Some(
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// A selection being built: objects and arrays partly selected, or a value taken whole.
enum Selection {
    Object(Vec<(String, Selection)>),
    Array(BTreeMap<usize, Selection>),
    Whole(Value),
}

fn is_blank_id(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.starts_with("_:"))
}

/// `createInitialSelection`: a node's `id` (unless blank) and `type`.
fn initial_selection(source: &Map<String, Value>) -> Selection {
    let mut entries = Vec::new();
    for key in ["id", "@id"] {
        if let Some(id) = source.get(key)
            && !is_blank_id(id)
        {
            entries.push((key.to_owned(), Selection::Whole(id.clone())));
        }
    }
    for key in ["type", "@type"] {
        if let Some(t) = source.get(key) {
            entries.push((key.to_owned(), Selection::Whole(t.clone())));
        }
    }
    Selection::Object(entries)
}

fn new_selection(value: &Value) -> Selection {
    match value {
        Value::Array(_) => Selection::Array(BTreeMap::new()),
        Value::Object(members) => initial_selection(members),
        other => Selection::Whole(other.clone()),
    }
}

/// An array index token of a JSON pointer: decimal digits, no leading zero (RFC 6901).
fn array_index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

fn resolve<'a>(value: &'a Value, tokens: &[String]) -> Option<&'a Value> {
    tokens.iter().try_fold(value, |v, t| match v {
        Value::Object(m) => m.get(t),
        Value::Array(a) => array_index(t).and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Adds the value at `tokens` (below `value`) to `selection`; `None` when nothing is there.
fn select_path(selection: &mut Selection, value: &Value, tokens: &[String]) -> Option<()> {
    let Some((first, rest)) = tokens.split_first() else {
        match (&mut *selection, value) {
            (Selection::Object(entries), Value::Object(members)) => {
                for (key, member) in members {
                    match entries.iter_mut().find(|(k, _)| k == key) {
                        Some((_, s)) => *s = Selection::Whole(member.clone()),
                        None => entries.push((key.clone(), Selection::Whole(member.clone()))),
                    }
                }
            }
            (s, v) => *s = Selection::Whole(v.clone()),
        }
        return Some(());
    };
    match selection {
        Selection::Whole(_) => resolve(value, tokens).map(|_| ()),
        Selection::Object(entries) => {
            let child = value.as_object()?.get(first)?;
            let at = match entries.iter().position(|(k, _)| k == first) {
                Some(at) => at,
                None => {
                    entries.push((first.clone(), new_selection(child)));
                    entries.len() - 1
                }
            };
            select_path(&mut entries[at].1, child, rest)
        }
        Selection::Array(items) => {
            let index = array_index(first)?;
            let child = value.as_array()?.get(index)?;
            let item = items.entry(index).or_insert_with(|| new_selection(child));
            select_path(item, child, rest)
        }
    }
}

fn selection_value(selection: Selection) -> Value {
    match selection {
        Selection::Object(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(k, s)| (k, selection_value(s)))
                .collect(),
        ),
        Selection::Array(items) => Value::Array(items.into_values().map(selection_value).collect()),
        Selection::Whole(v) => v,
    }
}

/// `selectJsonLd`: the part of `document` the pointers select (with its `@context`, and the
/// `id` and `type` of every node on the way), or `None` for no pointers. `Err(i)` names the
/// first pointer that selects nothing.
fn select_json_ld(pointers: &[String], document: &Value) -> Result<Option<Value>, usize> {
    if pointers.is_empty() {
        return Ok(None);
    }
    let members = document.as_object().ok_or(0usize)?;
    let mut root = initial_selection(members);
    if let (Selection::Object(entries), Some(context)) = (&mut root, members.get("@context")) {
        entries.insert(0, ("@context".into(), Selection::Whole(context.clone())));
    }
    for (i, pointer) in pointers.iter().enumerate() {
        let tokens = pointer_tokens(pointer).ok_or(i)?;
        select_path(&mut root, document, &tokens).ok_or(i)?;
    }
    Ok(Some(selection_value(root)))
}

/// Checks the shape of a list of pointers given by a caller, naming `field` in refusals.
fn check_pointers(field: &str, pointers: &[String]) -> Result<(), FormatError> {
    if pointers.len() > MAX_POINTERS {
        return Err(FormatError::Rejected(format!(
            "{field}: more than {MAX_POINTERS} pointers"
        )));
    }
    for (i, p) in pointers.iter().enumerate() {
        if pointer_tokens(p).is_none() {
            return Err(FormatError::Rejected(format!(
                "{field}[{i}] is not a JSON pointer (RFC 6901: empty, or starting with /)"
            )));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// canonicalizeAndGroup

/// What one group of pointers selects among the relabelled N-Quads (indexes into them).
#[derive(Debug, Default)]
struct Group {
    matching: BTreeMap<usize, String>,
    non_matching: BTreeMap<usize, String>,
    /// The selection's deskolemized quads (input labels).
    deskolemized: Vec<Quad>,
}

/// The document's relabelled canonical N-Quads and the groups.
#[derive(Debug)]
struct Grouped {
    /// Input label (deskolemized) → final label.
    labels: HashMap<String, String>,
    groups: Vec<Group>,
}

/// `canonicalizeAndGroup` over `document` (without `proof`), for named pointer groups.
fn canonicalize_and_group(
    document: &Value,
    factory: &LabelFactory<'_>,
    groups: &[(&str, &[String])],
) -> Result<Grouped, FormatError> {
    if document.to_string().contains("urn:bnid:") {
        return Err(FormatError::Unsupported(
            "a credential naming urn:bnid: IRIs (used to name blank nodes for selective disclosure)"
                .into(),
        ));
    }
    let mut counter = 0;
    let skolemized = skolemize(document, &mut counter);
    let quads = deskolemized_quads(&skolemized)?;
    // Naming the blank nodes must not have changed the graph: the skolemized document, its
    // skolem IRIs made blank again, is the document's own dataset.
    let original = canon::to_quads(document)?;
    if rdfc::canonicalize(&original, HashAlgorithm::Sha256)?
        != rdfc::canonicalize(&quads, HashAlgorithm::Sha256)?
    {
        return Err(FormatError::Unsupported(
            "ecdsa-sd-2023 with this credential's JSON-LD shapes (maps or JSON literals whose objects are not nodes)".into(),
        ));
    }
    let (nquads, labels) = relabel_canonical(&quads, factory)?;
    let mut out = Vec::with_capacity(groups.len());
    for (field, pointers) in groups {
        let selection = select_json_ld(pointers, &skolemized).map_err(|i| {
            FormatError::Rejected(format!("{field}[{i}] selects nothing in the credential"))
        })?;
        let deskolemized = match &selection {
            Some(selection) => deskolemized_quads(selection)?,
            None => Vec::new(),
        };
        let label = |b: &str| labels.get(b).cloned().unwrap_or_else(|| b.to_owned());
        let selected: BTreeSet<String> = deskolemized
            .iter()
            .map(|q| rdfc::nquad_line(q, &label))
            .collect();
        let mut group = Group {
            deskolemized,
            ..Group::default()
        };
        for (i, line) in nquads.iter().enumerate() {
            if selected.contains(line) {
                group.matching.insert(i, line.clone());
            } else {
                group.non_matching.insert(i, line.clone());
            }
        }
        out.push(group);
    }
    Ok(Grouped {
        labels,
        groups: out,
    })
}

// ---------------------------------------------------------------------------------------------
// Proof values

fn multibase_u(bytes: &[u8]) -> String {
    format!("u{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn cbor_bytes(value: &ciborium::Value) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out)
        .map_err(|e| FormatError::malformed(WHAT, format!("CBOR encoding: {e}")))?;
    Ok(out)
}

/// Decodes `u…` into the five CBOR components after `header` (refusing any other header).
fn decode_proof_value(
    proof_value: &str,
    header: [u8; 3],
) -> Result<Vec<ciborium::Value>, FormatError> {
    let encoded = proof_value
        .strip_prefix('u')
        .ok_or_else(|| FormatError::malformed(WHAT, "proofValue is not multibase base64url"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| FormatError::malformed(WHAT, "proofValue is not base64url"))?;
    let body = bytes
        .strip_prefix(header.as_slice())
        .ok_or_else(|| FormatError::malformed(WHAT, "proofValue header"))?;
    let mut reader = std::io::Cursor::new(body);
    let value: ciborium::Value = ciborium::from_reader(&mut reader)
        .map_err(|_| FormatError::malformed(WHAT, "proofValue is not CBOR"))?;
    if usize::try_from(reader.position()).ok() != Some(body.len()) {
        return Err(FormatError::malformed(
            WHAT,
            "proofValue has bytes after its CBOR",
        ));
    }
    match value {
        ciborium::Value::Array(items) if items.len() == 5 => Ok(items),
        _ => Err(FormatError::malformed(
            WHAT,
            "proofValue is not an array of five components",
        )),
    }
}

fn bytes_of(value: ciborium::Value, name: &str) -> Result<Vec<u8>, FormatError> {
    match value {
        ciborium::Value::Bytes(b) => Ok(b),
        _ => Err(FormatError::malformed(
            WHAT,
            format!("{name} is not a byte string"),
        )),
    }
}

fn byte_list(value: ciborium::Value, name: &str) -> Result<Vec<Vec<u8>>, FormatError> {
    match value {
        ciborium::Value::Array(items) => items.into_iter().map(|i| bytes_of(i, name)).collect(),
        _ => Err(FormatError::malformed(
            WHAT,
            format!("{name} is not an array"),
        )),
    }
}

/// The components of a base proof value.
#[derive(Clone)]
pub struct BaseProofValue {
    /// The issuer's signature over proofHash ‖ publicKey ‖ mandatoryHash.
    pub base_signature: Vec<u8>,
    /// The ephemeral public key (Multikey bytes).
    pub public_key: Vec<u8>,
    /// The HMAC key.
    pub hmac_key: Zeroizing<[u8; 32]>,
    /// One signature per non-mandatory statement, in order.
    pub signatures: Vec<Vec<u8>>,
    /// The mandatory pointers.
    pub mandatory_pointers: Vec<String>,
}

impl std::fmt::Debug for BaseProofValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseProofValue")
            .field("signatures", &self.signatures.len())
            .field("mandatory_pointers", &self.mandatory_pointers.len())
            .finish_non_exhaustive()
    }
}

impl BaseProofValue {
    /// `serializeBaseProofValue`.
    pub fn serialize(&self) -> Result<String, FormatError> {
        use ciborium::Value as C;
        let components = C::Array(vec![
            C::Bytes(self.base_signature.clone()),
            C::Bytes(self.public_key.clone()),
            C::Bytes(self.hmac_key.to_vec()),
            C::Array(self.signatures.iter().cloned().map(C::Bytes).collect()),
            C::Array(
                self.mandatory_pointers
                    .iter()
                    .cloned()
                    .map(C::Text)
                    .collect(),
            ),
        ]);
        let mut components = components;
        let mut bytes = BASE_HEADER.to_vec();
        let encoded = cbor_bytes(&components);
        if let C::Array(items) = &mut components
            && let Some(C::Bytes(key)) = items.get_mut(2)
        {
            key.zeroize();
        }
        let mut body = encoded?;
        bytes.extend_from_slice(&body);
        body.zeroize();
        let out = multibase_u(&bytes);
        bytes.zeroize();
        Ok(out)
    }

    /// `parseBaseProofValue`.
    pub fn parse(proof_value: &str) -> Result<Self, FormatError> {
        let mut items = decode_proof_value(proof_value, BASE_HEADER)?.into_iter();
        let mut next = || items.next().unwrap_or(ciborium::Value::Null);
        let base_signature = bytes_of(next(), "baseSignature")?;
        let public_key = bytes_of(next(), "publicKey")?;
        let mut hmac = bytes_of(next(), "hmacKey")?;
        let hmac_key = Zeroizing::new(
            <[u8; 32]>::try_from(hmac.as_slice())
                .map_err(|_| FormatError::malformed(WHAT, "hmacKey is not 32 bytes"))?,
        );
        hmac.zeroize();
        let signatures = byte_list(next(), "signatures")?;
        let mandatory_pointers = match next() {
            ciborium::Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    ciborium::Value::Text(t) => Ok(t),
                    _ => Err(FormatError::malformed(
                        WHAT,
                        "mandatoryPointers holds a non-string",
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
            _ => {
                return Err(FormatError::malformed(
                    WHAT,
                    "mandatoryPointers is not an array",
                ));
            }
        };
        Ok(BaseProofValue {
            base_signature,
            public_key,
            hmac_key,
            signatures,
            mandatory_pointers,
        })
    }
}

/// The components of a derived proof value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedProofValue {
    /// The issuer's base signature.
    pub base_signature: Vec<u8>,
    /// The ephemeral public key (Multikey bytes).
    pub public_key: Vec<u8>,
    /// The signatures of the disclosed non-mandatory statements, in order.
    pub signatures: Vec<Vec<u8>>,
    /// Canonical label (`c14nN`) of the disclosed document → HMAC label (`u…`).
    pub label_map: BTreeMap<String, String>,
    /// Positions of the mandatory statements among the disclosed ones.
    pub mandatory_indexes: Vec<usize>,
}

impl DerivedProofValue {
    /// `serializeDerivedProofValue` (with `compressLabelMap`).
    pub fn serialize(&self) -> Result<String, FormatError> {
        use ciborium::Value as C;
        let mut compressed = Vec::with_capacity(self.label_map.len());
        let mut ordered: Vec<(u64, &String)> = Vec::with_capacity(self.label_map.len());
        for (c14n, label) in &self.label_map {
            let n = c14n
                .strip_prefix("c14n")
                .and_then(|n| n.parse::<u64>().ok())
                .ok_or_else(|| FormatError::malformed(WHAT, "a label map key is not c14nN"))?;
            ordered.push((n, label));
        }
        ordered.sort_by_key(|(n, _)| *n);
        for (n, label) in ordered {
            let bytes = label
                .strip_prefix('u')
                .and_then(|l| URL_SAFE_NO_PAD.decode(l).ok())
                .ok_or_else(|| {
                    FormatError::malformed(WHAT, "a blank node label is not an HMAC label")
                })?;
            compressed.push((C::Integer(n.into()), C::Bytes(bytes)));
        }
        let components = C::Array(vec![
            C::Bytes(self.base_signature.clone()),
            C::Bytes(self.public_key.clone()),
            C::Array(self.signatures.iter().cloned().map(C::Bytes).collect()),
            C::Map(compressed),
            C::Array(
                self.mandatory_indexes
                    .iter()
                    .map(|i| C::Integer((*i as u64).into()))
                    .collect(),
            ),
        ]);
        let mut bytes = DERIVED_HEADER.to_vec();
        bytes.extend_from_slice(&cbor_bytes(&components)?);
        Ok(multibase_u(&bytes))
    }

    /// `parseDerivedProofValue` (with `decompressLabelMap`).
    pub fn parse(proof_value: &str) -> Result<Self, FormatError> {
        let mut items = decode_proof_value(proof_value, DERIVED_HEADER)?.into_iter();
        let mut next = || items.next().unwrap_or(ciborium::Value::Null);
        let base_signature = bytes_of(next(), "baseSignature")?;
        let public_key = bytes_of(next(), "publicKey")?;
        let signatures = byte_list(next(), "signatures")?;
        let label_map = match next() {
            ciborium::Value::Map(entries) => {
                let mut map = BTreeMap::new();
                for (k, v) in entries {
                    let n = match k {
                        ciborium::Value::Integer(n) => u64::try_from(n).ok(),
                        _ => None,
                    }
                    .ok_or_else(|| {
                        FormatError::malformed(WHAT, "a label map key is not an integer")
                    })?;
                    let label = bytes_of(v, "a label map value")?;
                    if map
                        .insert(format!("c14n{n}"), multibase_u(&label))
                        .is_some()
                    {
                        return Err(FormatError::malformed(WHAT, "a label map key twice"));
                    }
                }
                map
            }
            _ => return Err(FormatError::malformed(WHAT, "labelMap is not a map")),
        };
        let mandatory_indexes = match next() {
            ciborium::Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    ciborium::Value::Integer(n) => usize::try_from(n).ok(),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    FormatError::malformed(WHAT, "mandatoryIndexes holds a non-index")
                })?,
            _ => {
                return Err(FormatError::malformed(
                    WHAT,
                    "mandatoryIndexes is not an array",
                ));
            }
        };
        Ok(DerivedProofValue {
            base_signature,
            public_key,
            signatures,
            label_map,
            mandatory_indexes,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Hashes and signatures

fn sha256(data: &[u8]) -> Vec<u8> {
    sha2::Sha256::digest(data).to_vec()
}

/// `serializeSignData`: proofHash ‖ publicKey ‖ mandatoryHash.
fn sign_data(proof_hash: &[u8], public_key: &[u8], mandatory_hash: &[u8]) -> Vec<u8> {
    [proof_hash, public_key, mandatory_hash].concat()
}

/// `hashMandatoryNQuads`: SHA-256 of the mandatory N-Quads joined.
fn mandatory_hash<'a>(mandatory: impl Iterator<Item = &'a String>) -> Vec<u8> {
    let mut hasher = sha2::Sha256::new();
    for line in mandatory {
        hasher.update(line.as_bytes());
    }
    hasher.finalize().to_vec()
}

/// The ephemeral public key of a proof value (Multikey bytes of a P-256 point).
fn ephemeral_key(multikey: &[u8]) -> Result<PublicKey, FormatError> {
    let point = multikey
        .strip_prefix(P256_MULTIKEY.as_slice())
        .filter(|p| p.len() == 33)
        .ok_or_else(|| {
            FormatError::malformed(WHAT, "publicKey is not a compressed P-256 Multikey")
        })?;
    PublicKey::from_sec1(KeySpec::P256, point)
        .map_err(|_| FormatError::malformed(WHAT, "publicKey is not a point on P-256"))
}

/// The proof configuration of `proof`: without `proofValue`, with the document's `@context`.
fn proof_hash(
    document: &Map<String, Value>,
    proof: &Map<String, Value>,
) -> Result<Vec<u8>, FormatError> {
    let mut config = proof.clone();
    config.remove("proofValue");
    if !config.contains_key("@context")
        && let Some(context) = document.get("@context")
    {
        config.insert("@context".into(), context.clone());
    }
    Ok(sha256(canon::rdfc(&Value::Object(config))?.as_bytes()))
}

fn string_member<'a>(proof: &'a Map<String, Value>, name: &str) -> Result<&'a str, FormatError> {
    proof
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| FormatError::malformed(DI_WHAT, format!("proof has no string {name}")))
}

/// The issuer key of a verification method: it must be P-256.
fn p256_method(method: &str) -> Result<ResolvedMethod, FormatError> {
    let resolved = resolve_verification_method(method)?;
    if resolved.public_key.spec() != KeySpec::P256 {
        return Err(FormatError::InvalidSignature(format!(
            "{NAME} with a {} key (P-256 only)",
            resolved.public_key.spec()
        )));
    }
    Ok(resolved)
}

// ---------------------------------------------------------------------------------------------
// Issuer: base proof

/// Adds an `ecdsa-sd-2023` base proof to `document` (a credential without `proof`): the
/// statements the mandatory pointers select are bound by the issuer's base signature, made
/// through `signer` with `key` (P-256); every other statement is signed by the ephemeral key
/// of `secrets`, which are used up.
pub async fn sign_base(
    document: &Value,
    signer: &dyn Signer,
    key: &KeyRef,
    options: &BaseOptions,
    secrets: BaseSecrets,
) -> Result<Value, FormatError> {
    crate::limits::check_json_depth(DI_WHAT, document)?;
    let object = document
        .as_object()
        .ok_or_else(|| FormatError::malformed(DI_WHAT, "the document is not a JSON object"))?;
    if object.contains_key("proof") {
        return Err(FormatError::Unsupported(
            "the document already has a proof (proof sets and chains are not made)".into(),
        ));
    }
    if key.algorithm != Algorithm::Es256 {
        return Err(FormatError::Unsupported(format!(
            "{NAME} with a {} key (the suite is defined for P-256)",
            key.algorithm
        )));
    }
    key.algorithm.check_fits(key.public_key.spec())?;
    check_pointers("mandatoryPointers", &options.mandatory_pointers)?;
    let method = options
        .verification_method
        .clone()
        .unwrap_or_else(|| super::did_key_verification_method(&key.public_key));
    let created = match &options.created {
        Some(created) => {
            super::check_date_time(created)?;
            created.clone()
        }
        None => super::now_date_time(),
    };
    let mut proof = Map::new();
    proof.insert("type".into(), "DataIntegrityProof".into());
    proof.insert("cryptosuite".into(), NAME.into());
    proof.insert("created".into(), created.into());
    proof.insert("verificationMethod".into(), method.into());
    proof.insert("proofPurpose".into(), "assertionMethod".into());

    // Transformation: HMAC'd labels, statements grouped by the mandatory pointers.
    let hmac_key = secrets.hmac_key.clone();
    let factory = |c14n: &str| hmac_label(&hmac_key, c14n);
    let grouped = canonicalize_and_group(
        document,
        &factory,
        &[("mandatoryPointers", &options.mandatory_pointers)],
    )?;
    let group = grouped.groups.into_iter().next().unwrap_or_default();
    // Hashing.
    let proof_hash = proof_hash(object, &proof)?;
    let mandatory_hash = mandatory_hash(group.matching.values());
    // Serialization: the ephemeral key signs each non-mandatory statement; the issuer's key
    // signs proofHash ‖ ephemeral public key ‖ mandatoryHash through the signer.
    let signatures: Vec<Vec<u8>> = group
        .non_matching
        .values()
        .map(|line| {
            let signature: p256::ecdsa::Signature =
                p256::ecdsa::signature::Signer::sign(&secrets.ephemeral, line.as_bytes());
            signature.to_bytes().to_vec()
        })
        .collect();
    let public_key = secrets.public_multikey();
    let to_sign = sign_data(&proof_hash, &public_key, &mandatory_hash);
    let base_signature = signer.sign(key, SignInput::Message(&to_sign)).await?;
    key.public_key
        .verify(Algorithm::Es256, &to_sign, &base_signature)
        .map_err(|e| {
            FormatError::Signer(format!(
                "the signer's signature does not verify with the key: {e}"
            ))
        })?;
    let value = BaseProofValue {
        base_signature,
        public_key,
        hmac_key: secrets.hmac_key.clone(),
        signatures,
        mandatory_pointers: options.mandatory_pointers.clone(),
    };
    drop(secrets);
    proof.insert("proofValue".into(), value.serialize()?.into());
    let mut secured = object.clone();
    secured.insert("proof".into(), Value::Object(proof));
    Ok(Value::Object(secured))
}

// ---------------------------------------------------------------------------------------------
// Holder: derived proof

/// The single `ecdsa-sd-2023` proof of a secured document, and the document without it.
fn sd_proof(secured: &Value) -> Result<(Members, Members), FormatError> {
    crate::limits::check_json_depth(DI_WHAT, secured)?;
    let object = secured
        .as_object()
        .ok_or_else(|| FormatError::malformed(DI_WHAT, "the document is not a JSON object"))?;
    let proof = match object.get("proof") {
        Some(Value::Object(proof)) => proof.clone(),
        Some(_) => {
            return Err(FormatError::Unsupported(
                "a document with several proofs: derive from a credential with one ecdsa-sd-2023 base proof".into(),
            ));
        }
        None => return Err(FormatError::malformed(DI_WHAT, "the document has no proof")),
    };
    if proof.get("cryptosuite").and_then(Value::as_str) != Some(NAME) {
        return Err(FormatError::Rejected(format!(
            "the proof's cryptosuite is not {NAME}"
        )));
    }
    let mut unsecured = object.clone();
    unsecured.remove("proof");
    Ok((unsecured, proof))
}

/// The bytes the issuer's key signed for the base proof of `secured` (proofHash ‖ ephemeral
/// public key ‖ mandatoryHash), recomputed from the credential and its proof value: what the
/// signing module recorded the digest of when the base proof was made.
pub fn base_signing_input(secured: &Value) -> Result<Vec<u8>, FormatError> {
    let (unsecured, proof) = sd_proof(secured)?;
    let base = BaseProofValue::parse(string_member(&proof, "proofValue")?)?;
    let factory = |c14n: &str| hmac_label(&base.hmac_key, c14n);
    let grouped = canonicalize_and_group(
        &Value::Object(unsecured.clone()),
        &factory,
        &[(
            "the base proof's mandatoryPointers",
            &base.mandatory_pointers,
        )],
    )?;
    let group = grouped.groups.into_iter().next().unwrap_or_default();
    Ok(sign_data(
        &proof_hash(&unsecured, &proof)?,
        &base.public_key,
        &mandatory_hash(group.matching.values()),
    ))
}

/// The disclosed statements (absolute indexes `combined` among the document's relabelled
/// N-Quads): where the mandatory ones (`mandatory`) sit among them, and the signatures (one per
/// `non_mandatory` index, in order) of the others.
fn disclosure_indexes(
    mandatory: &BTreeSet<usize>,
    non_mandatory: &[usize],
    combined: &BTreeSet<usize>,
    signatures: &[Vec<u8>],
) -> (Vec<usize>, Vec<Vec<u8>>) {
    let mandatory_indexes = combined
        .iter()
        .enumerate()
        .filter(|(_, absolute)| mandatory.contains(absolute))
        .map(|(relative, _)| relative)
        .collect();
    let kept = non_mandatory
        .iter()
        .zip(signatures)
        .filter(|(absolute, _)| combined.contains(absolute))
        .map(|(_, s)| s.clone())
        .collect();
    (mandatory_indexes, kept)
}

/// Derives a credential disclosing the mandatory statements and those `selective_pointers`
/// select, with a derived proof, from a credential with an `ecdsa-sd-2023` base proof. The
/// base proof is checked first (its issuer signature and every statement signature), so a
/// derived credential that would not verify is never made.
pub fn derive(secured: &Value, selective_pointers: &[String]) -> Result<Value, FormatError> {
    check_pointers("selectivePointers", selective_pointers)?;
    let (unsecured, proof) = sd_proof(secured)?;
    let base = BaseProofValue::parse(string_member(&proof, "proofValue")?)?;
    let method = string_member(&proof, "verificationMethod")?;
    let issuer = p256_method(method)?;
    let document = Value::Object(unsecured.clone());

    let factory = |c14n: &str| hmac_label(&base.hmac_key, c14n);
    let combined: Vec<String> = base
        .mandatory_pointers
        .iter()
        .chain(selective_pointers)
        .cloned()
        .collect();
    let grouped = canonicalize_and_group(
        &document,
        &factory,
        &[
            (
                "the base proof's mandatoryPointers",
                &base.mandatory_pointers,
            ),
            ("selectivePointers", selective_pointers),
            ("the disclosed pointers", &combined),
        ],
    )?;
    let [mandatory, _selective, combined_group] = <[Group; 3]>::try_from(grouped.groups)
        .map_err(|_| FormatError::malformed(WHAT, "groups"))?;

    // The base proof must hold before anything is derived from it.
    let proof_hash = proof_hash(&unsecured, &proof)?;
    let to_verify = sign_data(
        &proof_hash,
        &base.public_key,
        &mandatory_hash(mandatory.matching.values()),
    );
    issuer
        .public_key
        .verify(Algorithm::Es256, &to_verify, &base.base_signature)
        .map_err(|_| {
            FormatError::InvalidSignature(format!(
                "the {NAME} base proof's signature does not verify: the credential was changed or the proof is not its own"
            ))
        })?;
    let ephemeral = ephemeral_key(&base.public_key)?;
    if base.signatures.len() != mandatory.non_matching.len() {
        return Err(FormatError::InvalidSignature(format!(
            "the {NAME} base proof has {} statement signatures for {} non-mandatory statements",
            base.signatures.len(),
            mandatory.non_matching.len()
        )));
    }
    for (line, signature) in mandatory.non_matching.values().zip(&base.signatures) {
        ephemeral
            .verify(Algorithm::Es256, line.as_bytes(), signature)
            .map_err(|_| {
                FormatError::InvalidSignature(format!(
                    "a statement signature of the {NAME} base proof does not verify"
                ))
            })?;
    }

    let (mandatory_indexes, signatures) = disclosure_indexes(
        &mandatory.matching.keys().copied().collect(),
        &mandatory.non_matching.keys().copied().collect::<Vec<_>>(),
        &combined_group.matching.keys().copied().collect(),
        &base.signatures,
    );
    let reveal = select_json_ld(&combined, &document)
        .map_err(|_| FormatError::Rejected("a pointer selects nothing in the credential".into()))?
        .ok_or_else(|| {
            FormatError::Rejected(
                "nothing to disclose: give selectivePointers (the base proof has no mandatory pointers)"
                    .into(),
            )
        })?;
    // The verifier's canonical labels of the disclosed statements → their HMAC labels.
    let canonical = rdfc::canonical_labels(&combined_group.deskolemized, HashAlgorithm::Sha256)?;
    let mut label_map = BTreeMap::new();
    for (input, c14n) in canonical.labels {
        let label = grouped
            .labels
            .get(&input)
            .ok_or_else(|| FormatError::malformed(WHAT, "a disclosed blank node has no label"))?;
        label_map.insert(c14n, label.clone());
    }
    let derived = DerivedProofValue {
        base_signature: base.base_signature.clone(),
        public_key: base.public_key.clone(),
        signatures,
        label_map,
        mandatory_indexes,
    };
    let mut new_proof = proof;
    new_proof.insert("proofValue".into(), derived.serialize()?.into());
    let mut out = match reveal {
        Value::Object(members) => members,
        _ => return Err(FormatError::malformed(WHAT, "the disclosed document")),
    };
    out.insert("proof".into(), Value::Object(new_proof));
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------------------
// Verifier: derived proof

/// Verifies the relabelled statements of a disclosed document (`quads`, blank nodes with any
/// labels) against a derived proof value, the proof configuration's hash and the issuer's key.
pub fn verify_quads(
    quads: &[Quad],
    proof_hash: &[u8],
    derived: &DerivedProofValue,
    issuer: &PublicKey,
) -> Result<(), FormatError> {
    let factory = |c14n: &str| {
        derived.label_map.get(c14n).cloned().ok_or_else(|| {
            FormatError::InvalidSignature(format!(
                "the {NAME} proof's label map does not cover the disclosed blank nodes"
            ))
        })
    };
    let (nquads, _) = relabel_canonical(quads, &factory)?;
    let indexes: BTreeSet<usize> = derived.mandatory_indexes.iter().copied().collect();
    if indexes.len() != derived.mandatory_indexes.len()
        || indexes.iter().any(|i| *i >= nquads.len())
    {
        return Err(FormatError::InvalidSignature(format!(
            "the {NAME} proof's mandatory indexes do not fit the disclosed statements"
        )));
    }
    let mut mandatory = Vec::new();
    let mut non_mandatory = Vec::new();
    for (i, line) in nquads.iter().enumerate() {
        if indexes.contains(&i) {
            mandatory.push(line);
        } else {
            non_mandatory.push(line);
        }
    }
    if non_mandatory.len() != derived.signatures.len() {
        return Err(FormatError::InvalidSignature(format!(
            "the {NAME} proof has {} statement signatures for {} disclosed non-mandatory statements",
            derived.signatures.len(),
            non_mandatory.len()
        )));
    }
    let to_verify = sign_data(
        proof_hash,
        &derived.public_key,
        &mandatory_hash(mandatory.into_iter()),
    );
    issuer
        .verify(Algorithm::Es256, &to_verify, &derived.base_signature)
        .map_err(|_| {
            FormatError::InvalidSignature(format!(
                "the {NAME} base signature does not verify over the disclosed mandatory statements"
            ))
        })?;
    let ephemeral = ephemeral_key(&derived.public_key)?;
    for (line, signature) in non_mandatory.into_iter().zip(&derived.signatures) {
        ephemeral
            .verify(Algorithm::Es256, line.as_bytes(), signature)
            .map_err(|_| {
                FormatError::InvalidSignature(format!(
                    "a disclosed statement's signature does not verify ({NAME})"
                ))
            })?;
    }
    Ok(())
}

/// Verifies the `ecdsa-sd-2023` derived proof of `object` (the secured document's members),
/// whose verification method is `method`; returns the issuer's resolved method. A base proof
/// is refused: it is the holder's, to derive from.
pub fn verify_derived(
    object: &Map<String, Value>,
    proof: &Map<String, Value>,
    method: &str,
) -> Result<ResolvedMethod, FormatError> {
    let proof_value = string_member(proof, "proofValue")?;
    if BaseProofValue::parse(proof_value).is_ok() {
        return Err(FormatError::Rejected(format!(
            "this is an {NAME} base proof, which only its holder uses: verify a credential derived from it (POST /credentials/derive)"
        )));
    }
    let derived = DerivedProofValue::parse(proof_value)?;
    let issuer = p256_method(method)?;
    let mut unsecured = object.clone();
    unsecured.remove("proof");
    let proof_hash = proof_hash(&unsecured, proof)?;
    let quads = canon::to_quads(&Value::Object(unsecured))?;
    verify_quads(&quads, &proof_hash, &derived, &issuer.public_key)?;
    Ok(issuer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers() {
        assert_eq!(pointer_tokens(""), Some(vec![]));
        assert_eq!(
            pointer_tokens("/a~1b/c~0d/0"),
            Some(vec!["a/b".into(), "c~d".into(), "0".into()])
        );
        assert_eq!(pointer_tokens("a"), None);
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("12"), Some(12));
        for bad in ["", "01", "+1", "-1", "1a"] {
            assert_eq!(array_index(bad), None, "{bad}");
        }
    }

    #[test]
    fn selection_keeps_ids_types_and_merges() {
        let doc = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": "urn:x", "type": ["VerifiableCredential"],
            "credentialSubject": {"id": "_:b0", "type": "T", "a": 1, "b": [{"c": 2, "d": 3}, {"c": 4}]}
        });
        let selected = select_json_ld(
            &[
                "/credentialSubject/b/1/c".into(),
                "/credentialSubject/a".into(),
            ],
            &doc,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            selected,
            json!({
                "@context": ["https://www.w3.org/ns/credentials/v2"],
                "id": "urn:x", "type": ["VerifiableCredential"],
                "credentialSubject": {"type": "T", "a": 1, "b": [{"c": 4}]}
            })
        );
        assert_eq!(select_json_ld(&["/nothing".into()], &doc), Err(0));
        assert_eq!(select_json_ld(&[], &doc), Ok(None));
    }
}

/// The specification's test vectors (W3C vc-di-ecdsa `TestVectors/ecdsa-sd-2023`, see
/// `testdata/data-integrity/SOURCE.md`): the employment authorization (`employ`) and permanent
/// resident card (`prc`) examples, with the HMAC key and the proof-scoped ephemeral key fixed.
/// Their JSON-LD context is not bundled, so they start from the canonical N-Quads given.
#[cfg(test)]
mod vectors {
    use super::*;

    fn dir() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/data-integrity/ecdsa/ecdsa-sd-2023")
    }

    fn json(case: &str, file: &str) -> Value {
        let path = dir().join(case).join(file);
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    }

    fn lines(value: &Value) -> Vec<String> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_owned())
            .collect()
    }

    fn quads_of(lines: &[String]) -> Vec<Quad> {
        rdfc::parse_nquads(&lines.concat()).unwrap()
    }

    /// A `{"dataType": "Map", "value": [[k, v], …]}` of index → N-Quad.
    fn index_map(value: &Value) -> BTreeMap<usize, String> {
        value["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e[0].as_u64().unwrap() as usize,
                    e[1].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    fn hexes(value: &Value) -> Vec<Vec<u8>> {
        value
            .as_array()
            .unwrap()
            .iter()
            .map(|h| hex::decode(h.as_str().unwrap()).unwrap())
            .collect()
    }

    fn secret(multibase: &str) -> Vec<u8> {
        let bytes = bs58::decode(&multibase[1..]).into_vec().unwrap();
        assert_eq!(&bytes[..2], &[0x86, 0x26], "P-256 secret key multicodec");
        bytes[2..].to_vec()
    }

    struct Material {
        hmac: [u8; 32],
        base_secret: Vec<u8>,
        base_public: PublicKey,
        proof_secret: Vec<u8>,
    }

    fn material() -> Material {
        let text = std::fs::read_to_string(dir().join("SDKeyMaterial.json")).unwrap();
        let m: Value = serde_json::from_str(&text).unwrap();
        let hmac = hex::decode(m["hmacKeyString"].as_str().unwrap()).unwrap();
        Material {
            hmac: hmac.try_into().unwrap(),
            base_secret: secret(m["baseKeyPair"]["secretKeyMultibase"].as_str().unwrap()),
            base_public: super::super::public_key_from_multikey(
                m["baseKeyPair"]["publicKeyMultibase"].as_str().unwrap(),
            )
            .unwrap(),
            proof_secret: secret(m["proofKeyPair"]["secretKeyMultibase"].as_str().unwrap()),
        }
    }

    const CASES: [&str; 2] = ["employ", "prc"];

    #[test]
    fn hmac_labels_replace_canonical_labels() {
        let m = material();
        for case in CASES {
            let canon = lines(&json(case, "addBaseDocCanon.json"));
            let factory = |c14n: &str| hmac_label(&m.hmac, c14n);
            let (relabelled, _) = relabel_canonical(&quads_of(&canon), &factory).unwrap();
            assert_eq!(
                relabelled,
                lines(&json(case, "addBaseDocHMACCanon.json")),
                "{case}"
            );
        }
    }

    #[test]
    fn base_proof_is_reproduced_byte_for_byte() {
        let m = material();
        for case in CASES {
            let transform = json(case, "addBaseTransform.json");
            let mandatory = index_map(&transform["mandatory"]);
            let non_mandatory = index_map(&transform["nonMandatory"]);
            let all = lines(&json(case, "addBaseDocHMACCanon.json"));
            // The groups partition the relabelled statements by index.
            for (i, line) in all.iter().enumerate() {
                assert_eq!(
                    mandatory.get(&i).or(non_mandatory.get(&i)),
                    Some(line),
                    "{case} statement {i}"
                );
            }
            let hashes = json(case, "addHashData.json");
            let config_canon =
                std::fs::read_to_string(dir().join(case).join("addProofConfigCanon.txt")).unwrap();
            assert_eq!(
                hex::encode(sha256(config_canon.as_bytes())),
                hashes["proofHash"].as_str().unwrap(),
                "{case} proofHash"
            );
            let m_hash = mandatory_hash(mandatory.values());
            assert_eq!(
                hex::encode(&m_hash),
                hashes["mandatoryHash"].as_str().unwrap(),
                "{case} mandatoryHash"
            );
            // The ephemeral key signs each non-mandatory statement (RFC 6979, deterministic).
            let secrets = BaseSecrets::from_parts(m.hmac, &m.proof_secret).unwrap();
            let raw = json(case, "addRawBaseSignatureInfo.json");
            let signatures: Vec<Vec<u8>> = non_mandatory
                .values()
                .map(|line| {
                    let s: p256::ecdsa::Signature =
                        p256::ecdsa::signature::Signer::sign(&secrets.ephemeral, line.as_bytes());
                    s.to_bytes().to_vec()
                })
                .collect();
            assert_eq!(signatures, hexes(&raw["signatures"]), "{case} signatures");
            let public_key = secrets.public_multikey();
            assert_eq!(
                format!("z{}", bs58::encode(&public_key).into_string()),
                raw["publicKey"].as_str().unwrap()
            );
            // The base key signs proofHash ‖ publicKey ‖ mandatoryHash.
            let to_sign = sign_data(&sha256(config_canon.as_bytes()), &public_key, &m_hash);
            let base_key = p256::ecdsa::SigningKey::from_slice(&m.base_secret).unwrap();
            let base: p256::ecdsa::Signature =
                p256::ecdsa::signature::Signer::sign(&base_key, &to_sign);
            assert_eq!(
                hex::encode(base.to_bytes()),
                raw["baseSignature"].as_str().unwrap(),
                "{case} baseSignature"
            );
            m.base_public
                .verify(Algorithm::Es256, &to_sign, &base.to_bytes())
                .unwrap();
            let value = BaseProofValue {
                base_signature: base.to_bytes().to_vec(),
                public_key,
                hmac_key: Zeroizing::new(m.hmac),
                signatures,
                mandatory_pointers: transform["mandatoryPointers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p.as_str().unwrap().to_owned())
                    .collect(),
            };
            let signed = json(case, "addSignedSDBase.json");
            let expected = signed["proof"]["proofValue"].as_str().unwrap();
            assert_eq!(value.serialize().unwrap(), expected, "{case} proofValue");
            let parsed = BaseProofValue::parse(expected).unwrap();
            assert_eq!(parsed.signatures, value.signatures);
            assert_eq!(parsed.mandatory_pointers, value.mandatory_pointers);
            assert_eq!(*parsed.hmac_key, m.hmac);
            assert!(DerivedProofValue::parse(expected).is_err());
        }
    }

    #[test]
    fn derived_proof_is_reproduced_byte_for_byte() {
        for case in CASES {
            let groups = json(case, "derivedGroupIndexes.json");
            let set = |name: &str| -> BTreeSet<usize> {
                groups[name]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_u64().unwrap() as usize)
                    .collect()
            };
            let base = BaseProofValue::parse(
                json(case, "addSignedSDBase.json")["proof"]["proofValue"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
            let non_mandatory: Vec<usize> = set("nonMandatoryIndexes").into_iter().collect();
            let (indexes, signatures) = disclosure_indexes(
                &set("mandatoryIndexes"),
                &non_mandatory,
                &set("combinedIndexes"),
                &base.signatures,
            );
            let adjusted = json(case, "derivedAdjMandatoryIndexes.json");
            assert_eq!(
                serde_json::to_value(&indexes).unwrap(),
                adjusted["adjMandatoryIndexes"],
                "{case}"
            );
            let adj_signatures = json(case, "derivedAdjSignatures.json");
            assert_eq!(signatures, hexes(&adj_signatures["filteredSignatures"]));
            let disclosure = json(case, "derivedDisclosureData.json");
            let label_map: BTreeMap<String, String> = disclosure["labelMap"]["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e[0].as_str().unwrap().to_owned(),
                        e[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let derived = DerivedProofValue {
                base_signature: base.base_signature.clone(),
                public_key: base.public_key.clone(),
                signatures,
                label_map,
                mandatory_indexes: indexes,
            };
            let reveal = json(case, "derivedRevealDocument.json");
            let expected = reveal["proof"]["proofValue"].as_str().unwrap();
            assert_eq!(derived.serialize().unwrap(), expected, "{case}");
            assert_eq!(DerivedProofValue::parse(expected).unwrap(), derived);
            assert!(BaseProofValue::parse(expected).is_err());
        }
    }

    #[test]
    fn derived_statements_verify_and_tampering_is_refused() {
        let m = material();
        for case in CASES {
            let data = json(case, "verifyCreateVerifyData.json");
            let proof_hash = hex::decode(data["proofHash"].as_str().unwrap()).unwrap();
            let reveal = json(case, "derivedRevealDocument.json");
            let derived =
                DerivedProofValue::parse(reveal["proof"]["proofValue"].as_str().unwrap()).unwrap();
            let statements = lines(&json(case, "verifyNQuads.json"));
            let quads = quads_of(&statements);
            verify_quads(&quads, &proof_hash, &derived, &m.base_public).unwrap();

            // A changed disclosed value.
            let changed: Vec<String> = statements
                .iter()
                .map(|l| {
                    l.replace("\"Bahamas\"", "\"Utopia\"")
                        .replace("\"Arcadia\"", "\"Utopia\"")
                })
                .collect();
            assert_ne!(
                changed, statements,
                "{case}: the vector discloses a birth country"
            );
            assert!(
                verify_quads(&quads_of(&changed), &proof_hash, &derived, &m.base_public).is_err()
            );
            // A statement left out.
            assert!(
                verify_quads(&quads[1..], &proof_hash, &derived, &m.base_public).is_err(),
                "{case}"
            );
            // Signatures reordered.
            let mut swapped = derived.clone();
            swapped.signatures.swap(0, 1);
            assert!(verify_quads(&quads, &proof_hash, &swapped, &m.base_public).is_err());
            // A changed base signature.
            let mut bad = derived.clone();
            bad.base_signature[10] ^= 1;
            assert!(verify_quads(&quads, &proof_hash, &bad, &m.base_public).is_err());
            // Another proof configuration.
            let mut other_hash = proof_hash.clone();
            other_hash[0] ^= 1;
            assert!(verify_quads(&quads, &other_hash, &derived, &m.base_public).is_err());
        }
    }
}
