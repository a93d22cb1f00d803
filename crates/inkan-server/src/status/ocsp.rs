//! Asking a certificate's OCSP responder (RFC 6960, the RFC 5019 profile: one certificate per
//! request, no nonce, `CertID` hashed with SHA-1) and verifying its answer (criteria
//! 2.2.3(1)B, for keys whose status source is their certificate chain and whose certificate
//! names a responder).
//!
//! What it owns: the request's DER, and the decision whether a response is one Inkan may rely on
//! — `successful`, a basic response signed (with the algorithm it names) by one of `[status]
//! trust_anchors` (the CA, or a delegated responder the operator configured as an anchor), a
//! single response for exactly this `CertID`, in force (`thisUpdate`) and not past
//! `nextUpdate` (without one, at most five minutes old), with no critical extension it does not understand. `good` is valid, `revoked`
//! with `certificateHold` a suspension, any other `revoked` a revocation, `unknown` unknown.
//!
//! What it must never do: trust a responder certificate carried in the response itself, or
//! accept an answer about another certificate.

use super::lists::{Verified, VerifiedList};
use der::asn1::{Null, OctetString};
use der::{Decode as _, Encode as _};
use inkan_device::PublicKey;
use sha1::Digest as _;
use x509_cert::ext::pkix::crl::CrlReason;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, Request,
    TbsRequest, Version,
};

/// The oldest an OCSP answer without `nextUpdate` may be (its `thisUpdate`), in seconds: no
/// nonce is sent, so an old "good" could otherwise be replayed.
const MAX_AGE_WITHOUT_NEXT_UPDATE: i64 = 300;

const ID_SHA1: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const ID_PKIX_OCSP_BASIC: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");

/// A certificate, as its OCSP responder knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcspEntry {
    /// The responder's URL (the certificate's first `https://` OCSP access location).
    pub url: String,
    /// SHA-1 of the issuer's name, DER.
    pub issuer_name_hash: Vec<u8>,
    /// SHA-1 of the issuer's public key bits.
    pub issuer_key_hash: Vec<u8>,
    /// The certificate's serial number (DER integer content).
    pub serial: Vec<u8>,
    /// The issuer's key: the answer must be signed with it (and it must be a trust anchor).
    pub issuer_key: PublicKey,
}

impl OcspEntry {
    /// The entry of a certificate issued by `issuer_name` (DER) holding `issuer_key` (whose
    /// `subjectPublicKey` bits are `issuer_key_bits`).
    pub fn new(
        url: String,
        issuer_name: &[u8],
        issuer_key: PublicKey,
        issuer_key_bits: &[u8],
        serial: Vec<u8>,
    ) -> Self {
        OcspEntry {
            url,
            issuer_name_hash: sha1::Sha1::digest(issuer_name).to_vec(),
            issuer_key_hash: sha1::Sha1::digest(issuer_key_bits).to_vec(),
            serial,
            issuer_key,
        }
    }

    fn cert_id(&self) -> Result<CertId, String> {
        let bad = |e: der::Error| format!("building the OCSP request: {e}");
        Ok(CertId {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: ID_SHA1,
                parameters: Some(Null.into()),
            },
            issuer_name_hash: OctetString::new(self.issuer_name_hash.clone()).map_err(bad)?,
            issuer_key_hash: OctetString::new(self.issuer_key_hash.clone()).map_err(bad)?,
            serial_number: SerialNumber::new(&self.serial).map_err(bad)?,
        })
    }

    /// The DER `OCSPRequest` for this certificate (unsigned, no nonce).
    pub(crate) fn request(&self) -> Result<Vec<u8>, String> {
        OcspRequest {
            tbs_request: TbsRequest {
                version: Version::V1,
                requestor_name: None,
                request_list: vec![Request {
                    req_cert: self.cert_id()?,
                    single_request_extensions: None,
                }],
                request_extensions: None,
            },
            optional_signature: None,
        }
        .to_der()
        .map_err(|e| format!("building the OCSP request: {e}"))
    }

    fn matches(&self, id: &CertId) -> bool {
        id.hash_algorithm.oid == ID_SHA1
            && id.issuer_name_hash.as_bytes() == self.issuer_name_hash
            && id.issuer_key_hash.as_bytes() == self.issuer_key_hash
            && id.serial_number.as_bytes() == self.serial
    }
}

/// What the responder said of the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OcspStatus {
    /// `good`.
    Good,
    /// `revoked` with reason `certificateHold`.
    Hold,
    /// `revoked`.
    Revoked,
    /// `unknown`.
    Unknown,
}

/// An OCSP response for `entry`, at `now` (Unix seconds).
pub(crate) fn verify(
    bytes: &[u8],
    entry: &OcspEntry,
    anchors: &[PublicKey],
    now: i64,
) -> Result<Verified, String> {
    let response =
        OcspResponse::from_der(bytes).map_err(|e| format!("not an OCSP response: {e}"))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(format!(
            "the OCSP responder answered {:?}",
            response.response_status
        ));
    }
    let body = response
        .response_bytes
        .ok_or("the OCSP response has no body")?;
    if body.response_type != ID_PKIX_OCSP_BASIC {
        return Err(format!(
            "the OCSP response is of type {}, not basic",
            body.response_type
        ));
    }
    let basic = BasicOcspResponse::from_der(body.response.as_bytes())
        .map_err(|e| format!("not a basic OCSP response: {e}"))?;
    let signed = basic
        .tbs_response_data
        .to_der()
        .map_err(|e| format!("re-encoding the OCSP response: {e}"))?;
    let signer = super::anchors::check_x509_signed(
        anchors,
        &basic.signature_algorithm,
        &signed,
        &basic.signature,
        "the OCSP response",
    )?;
    if signer != entry.issuer_key {
        return Err(
            "the OCSP response is not signed by the certificate's issuer (delegated responders \
             are not accepted)"
                .into(),
        );
    }
    let data = &basic.tbs_response_data;
    if let Some(ext) = data
        .response_extensions
        .iter()
        .flatten()
        .find(|e| e.critical)
    {
        return Err(format!(
            "the OCSP response has a critical extension {} that is not understood",
            ext.extn_id
        ));
    }
    let single = data
        .responses
        .iter()
        .find(|single| entry.matches(&single.cert_id))
        .ok_or("the OCSP response says nothing of this certificate")?;
    if let Some(ext) = single
        .single_extensions
        .iter()
        .flatten()
        .find(|e| e.critical)
    {
        return Err(format!(
            "the OCSP answer has a critical extension {} that is not understood",
            ext.extn_id
        ));
    }
    let seconds = |t: &x509_ocsp::OcspGeneralizedTime| {
        i64::try_from(t.0.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
    };
    let this_update = seconds(&single.this_update);
    let next_update = single.next_update.as_ref().map(seconds);
    if now < this_update {
        return Err("the OCSP answer is not in force yet (`thisUpdate`)".into());
    }
    if next_update.is_some_and(|next| now >= next) {
        return Err("the OCSP answer is past its `nextUpdate`".into());
    }
    if next_update.is_none() && now - this_update > MAX_AGE_WITHOUT_NEXT_UPDATE {
        return Err("the OCSP answer has no `nextUpdate` and is too old to rely on".into());
    }
    let status = match &single.cert_status {
        CertStatus::Good(_) => OcspStatus::Good,
        CertStatus::Revoked(info) if info.revocation_reason == Some(CrlReason::CertificateHold) => {
            OcspStatus::Hold
        }
        CertStatus::Revoked(_) => OcspStatus::Revoked,
        CertStatus::Unknown(_) => OcspStatus::Unknown,
    };
    Ok(Verified {
        issued_at: Some(this_update),
        expires_at: next_update,
        // Without `nextUpdate` newer information is always available: keep it only briefly.
        ttl_ms: if next_update.is_none() { Some(0) } else { None },
        list: VerifiedList::Ocsp(status),
    })
}
