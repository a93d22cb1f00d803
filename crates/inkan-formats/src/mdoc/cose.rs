//! `COSE_Sign1` (RFC 9052 §4.2) made through a remote [`Signer`]: the unsigned structure is
//! built with `coset`, its `Sig_structure` handed to the signer as the message
//! ([`SignInput::Message`]), and the raw signature (`r‖s` for ECDSA, 64 bytes for Ed25519,
//! as COSE wants) set in place. The certificate chain goes in the unprotected `x5chain`
//! header (label 33, RFC 9360), as ISO/IEC 18013-5 §9.1.2.4 puts it.

use super::cbor;
use crate::FormatError;
use crate::signer::{KeyRef, SignInput, Signer};
use ciborium::Value;
use coset::{AsCborValue as _, CoseSign1, CoseSign1Builder, HeaderBuilder, iana};
use inkan_device::{Algorithm, PublicKey};

/// COSE header label of `x5chain` (RFC 9360).
pub const X5CHAIN: i64 = 33;
/// COSE header label of `typ`, the content's media type (RFC 9596).
pub const TYP: i64 = 16;
/// CBOR tag of a tagged `COSE_Sign1`.
pub const TAG_COSE_SIGN1: u64 = 18;

/// The COSE algorithm of a device algorithm (ES256, ES384, EdDSA; RSA is not used by mdoc).
pub fn cose_algorithm(alg: Algorithm) -> Result<iana::Algorithm, FormatError> {
    match alg {
        Algorithm::Es256 => Ok(iana::Algorithm::ES256),
        Algorithm::Es384 => Ok(iana::Algorithm::ES384),
        Algorithm::EdDsa => Ok(iana::Algorithm::EdDSA),
        other => Err(FormatError::Unsupported(format!(
            "{other} in COSE_Sign1 (mdoc allows ES256, ES384, EdDSA)"
        ))),
    }
}

/// The device algorithm named by a COSE `alg` header.
pub fn device_algorithm(alg: &coset::Algorithm) -> Result<Algorithm, FormatError> {
    match alg {
        coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256) => Ok(Algorithm::Es256),
        coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES384) => Ok(Algorithm::Es384),
        coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::EdDSA) => Ok(Algorithm::EdDsa),
        other => Err(FormatError::Unsupported(format!(
            "COSE algorithm {other:?}"
        ))),
    }
}

/// Signs `payload` as a `COSE_Sign1` with `key` through `signer`. With `detached`, the
/// payload is signed but left out of the structure (`nil`), as for the mdoc
/// `deviceSignature`. `x5chain` is set from `key.certificate_chain` when it is not empty.
pub async fn sign(
    signer: &dyn Signer,
    key: &KeyRef,
    payload: &[u8],
    detached: bool,
) -> Result<CoseSign1, FormatError> {
    sign_with(signer, key, payload, detached, None).await
}

/// Signs `payload` as a `COSE_Sign1` (attached) with the media type `typ` in the protected
/// header (label 16, RFC 9596), as a CWT that names its type wants (a Status List Token
/// `application/statuslist+cwt`).
pub async fn sign_typed(
    signer: &dyn Signer,
    key: &KeyRef,
    payload: &[u8],
    typ: &str,
) -> Result<CoseSign1, FormatError> {
    sign_with(signer, key, payload, false, Some(typ)).await
}

/// The protected `typ` header (label 16, RFC 9596) as text, if present. A `typ` that is not
/// text (a CoAP content format number) is refused.
pub fn typ(sign1: &CoseSign1) -> Result<Option<&str>, FormatError> {
    let label = coset::Label::Int(TYP);
    match sign1
        .protected
        .header
        .rest
        .iter()
        .find(|(l, _)| *l == label)
    {
        None => Ok(None),
        Some((_, Value::Text(typ))) => Ok(Some(typ)),
        Some(_) => Err(FormatError::malformed(
            "COSE_Sign1",
            "the `typ` header (16) is not a media type string",
        )),
    }
}

async fn sign_with(
    signer: &dyn Signer,
    key: &KeyRef,
    payload: &[u8],
    detached: bool,
    typ: Option<&str>,
) -> Result<CoseSign1, FormatError> {
    let alg = cose_algorithm(key.algorithm)?;
    let mut protected = HeaderBuilder::new().algorithm(alg);
    if let Some(typ) = typ {
        protected = protected.value(TYP, Value::Text(typ.to_owned()));
    }
    let protected = protected.build();
    let mut unprotected = HeaderBuilder::new();
    match key.certificate_chain.as_slice() {
        [] => {}
        [one] => unprotected = unprotected.value(X5CHAIN, Value::Bytes(one.clone())),
        many => {
            unprotected = unprotected.value(
                X5CHAIN,
                Value::Array(many.iter().map(|c| Value::Bytes(c.clone())).collect()),
            )
        }
    }
    let mut builder = CoseSign1Builder::new()
        .protected(protected)
        .unprotected(unprotected.build());
    if !detached {
        builder = builder.payload(payload.to_vec());
    }
    let mut sign1 = builder.build();
    let tbs = if detached {
        sign1.tbs_detached_data(payload, b"")
    } else {
        sign1.tbs_data(b"")
    };
    sign1.signature = signer.sign(key, SignInput::Message(&tbs)).await?;
    Ok(sign1)
}

/// Verifies a `COSE_Sign1` with `key`. `detached_payload` is the payload when the structure
/// carries `nil`; a structure that carries a payload must not be given one.
pub fn verify(
    sign1: &CoseSign1,
    key: &PublicKey,
    detached_payload: Option<&[u8]>,
) -> Result<(), FormatError> {
    let alg =
        sign1.protected.header.alg.as_ref().ok_or_else(|| {
            FormatError::malformed("COSE_Sign1", "no alg in the protected header")
        })?;
    let alg = device_algorithm(alg)?;
    let tbs = match (&sign1.payload, detached_payload) {
        (Some(_), None) => sign1.tbs_data(b""),
        (None, Some(p)) => sign1.tbs_detached_data(p, b""),
        (Some(_), Some(_)) => {
            return Err(FormatError::malformed(
                "COSE_Sign1",
                "a payload is present where a detached one was expected",
            ));
        }
        (None, None) => {
            return Err(FormatError::malformed(
                "COSE_Sign1",
                "the payload is detached and was not given",
            ));
        }
    };
    key.verify(alg, &tbs, &sign1.signature)
        .map_err(|e| FormatError::InvalidSignature(format!("COSE_Sign1: {e}")))
}

/// The `x5chain` certificates (DER, leaf first) from the unprotected or protected header.
pub fn x5chain(sign1: &CoseSign1) -> Result<Vec<Vec<u8>>, FormatError> {
    let label = coset::Label::Int(X5CHAIN);
    let found = sign1
        .unprotected
        .rest
        .iter()
        .chain(sign1.protected.header.rest.iter())
        .find(|(l, _)| *l == label)
        .map(|(_, v)| v);
    match found {
        None => Ok(Vec::new()),
        Some(Value::Bytes(one)) => Ok(vec![one.clone()]),
        Some(Value::Array(many)) => many
            .iter()
            .map(|c| cbor::as_bytes("x5chain", c).map(<[u8]>::to_vec))
            .collect(),
        Some(_) => Err(FormatError::malformed(
            "x5chain",
            "expected a byte string or an array of them",
        )),
    }
}

/// Reads a `COSE_Sign1` from a CBOR value, tagged (18) or not.
pub fn from_value(value: Value) -> Result<CoseSign1, FormatError> {
    let value = match value {
        Value::Tag(TAG_COSE_SIGN1, inner) => *inner,
        other => other,
    };
    CoseSign1::from_cbor_value(value)
        .map_err(|e| FormatError::malformed("COSE_Sign1", format!("{e:?}")))
}

/// Writes a `COSE_Sign1` as an untagged CBOR value (as mdoc carries `IssuerAuth` and
/// `DeviceSignature`).
pub fn to_value(sign1: CoseSign1) -> Result<Value, FormatError> {
    sign1
        .to_cbor_value()
        .map_err(|e| FormatError::malformed("COSE_Sign1", format!("{e:?}")))
}

/// Parses a `COSE_Sign1` from outside (CBOR bytes, tagged or not), with the limits.
pub fn parse(bytes: &[u8]) -> Result<CoseSign1, FormatError> {
    from_value(cbor::parse("COSE_Sign1", bytes)?)
}

/// Encodes a `COSE_Sign1` tagged (18), as a CWT standing alone is sent (RFC 9052 §4.2; a
/// Status List Token `application/statuslist+cwt`).
pub fn to_tagged_bytes(sign1: CoseSign1) -> Result<Vec<u8>, FormatError> {
    cbor::encode(&Value::Tag(TAG_COSE_SIGN1, Box::new(to_value(sign1)?)))
}

/// Encodes a `COSE_Sign1`, untagged.
pub fn to_bytes(sign1: CoseSign1) -> Result<Vec<u8>, FormatError> {
    cbor::encode(&to_value(sign1)?)
}
