//! DeviceResponse (ISO/IEC 18013-5 §8.3.2.1.2.2): the holder discloses only the requested
//! data elements of an IssuerSigned and proves possession of the MSO's device key with a
//! `deviceSignature`: a `COSE_Sign1` with a detached payload, the tag-24 encoded
//! `DeviceAuthentication = ["DeviceAuthentication", SessionTranscript, DocType,
//! DeviceNameSpacesBytes]` (§9.1.3.4), signed through the [`Signer`].

use super::issuer::{IssuerSigned, IssuerVerification, VerifiedIssuerSigned};
use super::{cbor, cose};
use crate::FormatError;
use crate::signer::{KeyRef, Signer};
use ciborium::Value;
use coset::CoseSign1;
use std::collections::BTreeMap;

/// Most documents accepted in one DeviceResponse.
pub const MAX_DOCUMENTS: usize = 64;

/// The requested data elements: name space → element identifiers.
pub type ItemsRequest = BTreeMap<String, Vec<String>>;

/// How the device authenticated a document.
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceAuth {
    /// `deviceSignature`, with a detached payload.
    Signature(Box<CoseSign1>),
    /// `deviceMac` (a `COSE_Mac0`, kept as CBOR): not verified by this crate, which has no
    /// reader ephemeral key.
    Mac(Value),
}

/// DeviceSigned: the device-signed name spaces and the device authentication.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSigned {
    /// The encoded `DeviceNameSpaces` inside `DeviceNameSpacesBytes` (`#6.24`).
    pub namespaces_encoded: Vec<u8>,
    /// `deviceAuth`.
    pub device_auth: DeviceAuth,
}

/// One document of a DeviceResponse.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// `docType`.
    pub doc_type: String,
    /// The disclosed issuer-signed part.
    pub issuer_signed: IssuerSigned,
    /// The device-signed part.
    pub device_signed: DeviceSigned,
}

/// A DeviceResponse.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceResponse {
    /// `version` ("1.0").
    pub version: String,
    /// `documents`.
    pub documents: Vec<Document>,
    /// `status` (0 is OK).
    pub status: u64,
}

/// A verified document.
#[derive(Debug, Clone)]
pub struct VerifiedDocument {
    /// `docType`.
    pub doc_type: String,
    /// The verified issuer part: MSO, chain and disclosed elements.
    pub issuer: VerifiedIssuerSigned,
}

/// Reads the SessionTranscript the caller gives: the CBOR `SessionTranscript` array, or
/// `SessionTranscriptBytes` (the same inside `#6.24`). Returns its exact encoding.
fn session_transcript(bytes: &[u8]) -> Result<Vec<u8>, FormatError> {
    const W: &str = "SessionTranscript";
    let value = cbor::parse(W, bytes)?;
    let (encoded, value) = match &value {
        Value::Tag(cbor::TAG_ENCODED_CBOR, _) => {
            let inner = cbor::untag24(W, &value)?.to_vec();
            let parsed = cbor::parse(W, &inner)?;
            (inner, parsed)
        }
        _ => (bytes.to_vec(), value),
    };
    cbor::as_array(W, &value)?;
    Ok(encoded)
}

/// The encoded `DeviceAuthenticationBytes` (`#6.24(bstr .cbor DeviceAuthentication)`), the
/// detached payload of `deviceSignature`. The SessionTranscript goes in byte for byte.
pub fn device_authentication_bytes(
    session_transcript_cbor: &[u8],
    doc_type: &str,
    namespaces_encoded: &[u8],
) -> Result<Vec<u8>, FormatError> {
    let transcript = session_transcript(session_transcript_cbor)?;
    let mut da = vec![0x84];
    da.extend(cbor::encode(&Value::Text("DeviceAuthentication".into()))?);
    da.extend(transcript);
    da.extend(cbor::encode(&Value::Text(doc_type.into()))?);
    da.extend(cbor::encode(&cbor::tag24(namespaces_encoded.to_vec()))?);
    cbor::encode(&cbor::tag24(da))
}

/// Makes a DeviceResponse with one document from `issuer_signed`, disclosing only the
/// elements of `request` that it holds, signed by the holder's `device_key` (which must be
/// the MSO's device key) for `session_transcript_cbor` (SessionTranscript or
/// SessionTranscriptBytes, as CBOR).
pub async fn present(
    signer: &dyn Signer,
    device_key: &KeyRef,
    issuer_signed: &IssuerSigned,
    request: &ItemsRequest,
    session_transcript_cbor: &[u8],
) -> Result<DeviceResponse, FormatError> {
    let mso = issuer_signed.mso()?;
    if mso.device_key != device_key.public_key {
        return Err(FormatError::Rejected(
            "the signing key is not the MSO's device key".into(),
        ));
    }
    let namespaces = issuer_signed
        .namespaces
        .iter()
        .filter_map(|(ns, items)| {
            let wanted = request.get(ns)?;
            let chosen: Vec<_> = items
                .iter()
                .filter(|i| wanted.contains(&i.item.element_identifier))
                .cloned()
                .collect();
            (!chosen.is_empty()).then(|| (ns.clone(), chosen))
        })
        .collect();
    let disclosed = IssuerSigned {
        namespaces,
        issuer_auth: issuer_signed.issuer_auth.clone(),
    };
    // No self-asserted elements: DeviceNameSpaces is an empty map.
    let namespaces_encoded = cbor::encode(&Value::Map(Vec::new()))?;
    let payload =
        device_authentication_bytes(session_transcript_cbor, &mso.doc_type, &namespaces_encoded)?;
    let signature = cose::sign(signer, device_key, &payload, true).await?;
    Ok(DeviceResponse {
        version: "1.0".into(),
        documents: vec![Document {
            doc_type: mso.doc_type,
            issuer_signed: disclosed,
            device_signed: DeviceSigned {
                namespaces_encoded,
                device_auth: DeviceAuth::Signature(Box::new(signature)),
            },
        }],
        status: 0,
    })
}

impl DeviceResponse {
    /// As a CBOR value.
    pub fn to_value(&self) -> Result<Value, FormatError> {
        let t = |s: &str| Value::Text(s.into());
        let documents = self
            .documents
            .iter()
            .map(|d| {
                let auth = match &d.device_signed.device_auth {
                    DeviceAuth::Signature(s) => {
                        (t("deviceSignature"), cose::to_value((**s).clone())?)
                    }
                    DeviceAuth::Mac(m) => (t("deviceMac"), m.clone()),
                };
                Ok(Value::Map(vec![
                    (t("docType"), t(&d.doc_type)),
                    (t("issuerSigned"), d.issuer_signed.to_value()?),
                    (
                        t("deviceSigned"),
                        Value::Map(vec![
                            (
                                t("nameSpaces"),
                                cbor::tag24(d.device_signed.namespaces_encoded.clone()),
                            ),
                            (t("deviceAuth"), Value::Map(vec![auth])),
                        ]),
                    ),
                ]))
            })
            .collect::<Result<Vec<_>, FormatError>>()?;
        Ok(Value::Map(vec![
            (t("version"), t(&self.version)),
            (t("documents"), Value::Array(documents)),
            (t("status"), Value::Integer(self.status.into())),
        ]))
    }

    /// Encoded as CBOR.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FormatError> {
        cbor::encode(&self.to_value()?)
    }

    /// Parses CBOR from outside, with the limits.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        const W: &str = "DeviceResponse";
        let value = cbor::parse(W, bytes)?;
        let m = cbor::as_map(W, &value)?;
        let mut documents = Vec::new();
        if let Some(docs) = cbor::get(W, m, "documents")? {
            let docs = cbor::as_array(W, docs)?;
            if docs.len() > MAX_DOCUMENTS {
                return Err(FormatError::malformed(
                    W,
                    format!("more than {MAX_DOCUMENTS} documents"),
                ));
            }
            for doc in docs {
                documents.push(Self::document(doc)?);
            }
        }
        Ok(DeviceResponse {
            version: cbor::as_text(W, cbor::require(W, m, "version")?)?.to_owned(),
            documents,
            status: cbor::as_uint(W, cbor::require(W, m, "status")?)?,
        })
    }

    fn document(value: &Value) -> Result<Document, FormatError> {
        const W: &str = "Document";
        let m = cbor::as_map(W, value)?;
        let device_signed = cbor::as_map(W, cbor::require(W, m, "deviceSigned")?)?;
        let auth = cbor::as_map(W, cbor::require(W, device_signed, "deviceAuth")?)?;
        let device_auth = match (
            cbor::get(W, auth, "deviceSignature")?,
            cbor::get(W, auth, "deviceMac")?,
        ) {
            (Some(s), None) => DeviceAuth::Signature(Box::new(cose::from_value(s.clone())?)),
            (None, Some(mac)) => DeviceAuth::Mac(mac.clone()),
            _ => {
                return Err(FormatError::malformed(
                    W,
                    "deviceAuth must hold exactly one of deviceSignature and deviceMac",
                ));
            }
        };
        Ok(Document {
            doc_type: cbor::as_text(W, cbor::require(W, m, "docType")?)?.to_owned(),
            issuer_signed: IssuerSigned::from_value(cbor::require(W, m, "issuerSigned")?)?,
            device_signed: DeviceSigned {
                namespaces_encoded: cbor::untag24(
                    W,
                    cbor::require(W, device_signed, "nameSpaces")?,
                )?
                .to_vec(),
                device_auth,
            },
        })
    }

    /// Verifies every document: the issuer part (as [`IssuerSigned::verify`]), that its
    /// docType is the MSO's, and the device signature with the MSO's device key over the
    /// DeviceAuthentication recomputed for `session_transcript_cbor`.
    pub fn verify(
        &self,
        session_transcript_cbor: &[u8],
        options: &IssuerVerification<'_>,
    ) -> Result<Vec<VerifiedDocument>, FormatError> {
        if self.version != "1.0" {
            return Err(FormatError::Unsupported(format!(
                "DeviceResponse version {:?}",
                self.version
            )));
        }
        if self.status != 0 {
            return Err(FormatError::Rejected(format!(
                "the DeviceResponse has status {}",
                self.status
            )));
        }
        if self.documents.is_empty() {
            return Err(FormatError::Rejected(
                "the DeviceResponse holds no document".into(),
            ));
        }
        self.documents
            .iter()
            .map(|d| d.verify(session_transcript_cbor, options))
            .collect()
    }
}

impl Document {
    /// Verifies one document (see [`DeviceResponse::verify`]).
    pub fn verify(
        &self,
        session_transcript_cbor: &[u8],
        options: &IssuerVerification<'_>,
    ) -> Result<VerifiedDocument, FormatError> {
        let issuer = self.issuer_signed.verify(options)?;
        if issuer.mso.doc_type != self.doc_type {
            return Err(FormatError::Rejected(format!(
                "the document says docType {:?} but its MSO says {:?}",
                self.doc_type, issuer.mso.doc_type
            )));
        }
        // DeviceNameSpaces must at least be a well-formed map.
        let ns = cbor::parse("DeviceNameSpaces", &self.device_signed.namespaces_encoded)?;
        cbor::as_map("DeviceNameSpaces", &ns)?;
        let signature = match &self.device_signed.device_auth {
            DeviceAuth::Signature(s) => s,
            DeviceAuth::Mac(_) => {
                return Err(FormatError::Unsupported(
                    "deviceMac (needs the reader's ephemeral key)".into(),
                ));
            }
        };
        let payload = device_authentication_bytes(
            session_transcript_cbor,
            &self.doc_type,
            &self.device_signed.namespaces_encoded,
        )?;
        cose::verify(signature, &issuer.mso.device_key, Some(&payload))
            .map_err(|e| FormatError::InvalidSignature(format!("device signature: {e}")))?;
        Ok(VerifiedDocument {
            doc_type: self.doc_type.clone(),
            issuer,
        })
    }
}
