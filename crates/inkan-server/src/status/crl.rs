//! Verifying a fetched X.509 certificate revocation list (RFC 5280 section 5) and reading a
//! certificate's status from it (criteria 2.2.3(1)B, for keys whose status source is their
//! certificate chain).
//!
//! What it owns: the decision whether fetched bytes are a complete CRL Inkan may rely on —
//! DER or PEM `X509 CRL`, signed (with the algorithm it names, the same inside and outside the
//! signed part) by one of `[status] trust_anchors` (which one is kept: a certificate's answer
//! must come from its issuer's key), already in force (`thisUpdate`) and not past its
//! `nextUpdate` (required), with no critical extension this module does not understand — and the
//! lookup of a serial number in it (`certificateHold` is a suspension, `removeFromCRL` is no
//! entry, any other reason is a revocation).
//!
//! What it must never do: accept a partial or delta CRL (an issuing distribution point that
//! limits its scope, a delta CRL indicator, an indirect CRL), or a CRL signed by a key that is
//! not a trust anchor; decide anything for a certificate of another issuer.

use super::lists::{Verified, VerifiedList};
use der::{Decode as _, Encode as _};
use inkan_device::PublicKey;
use std::collections::HashMap;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::crl::dp::IssuingDistributionPoint;
use x509_cert::ext::pkix::{CrlNumber, CrlReason};

const ID_CE_DELTA_CRL_INDICATOR: der::asn1::ObjectIdentifier =
    der::asn1::ObjectIdentifier::new_unwrap("2.5.29.27");

use der::oid::AssociatedOid as _;

/// What a CRL says of one serial number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listed {
    /// On hold (`certificateHold`): suspended.
    Hold,
    /// Revoked, for good.
    Revoked,
}

/// A verified CRL, as the checker keeps it.
#[derive(Debug)]
pub(crate) struct VerifiedCrl {
    /// The issuer's name, DER.
    pub issuer: Vec<u8>,
    /// The trust anchor that signed it.
    pub signer: PublicKey,
    /// The listed serial numbers (DER integer content).
    revoked: HashMap<Vec<u8>, Listed>,
}

impl VerifiedCrl {
    /// What the CRL says of `serial`: `None` when it is not listed.
    pub fn lookup(&self, serial: &[u8]) -> Option<Listed> {
        self.revoked.get(serial).copied()
    }
}

/// A CRL fetched from `url`, at `now` (Unix seconds).
pub(crate) fn verify(bytes: &[u8], anchors: &[PublicKey], now: i64) -> Result<Verified, String> {
    let not_crl = |e: der::Error| format!("not an X.509 CRL: {e}");
    let crl = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let (label, der) =
            der::pem::decode_vec(bytes.trim_ascii()).map_err(|e| not_crl(e.into()))?;
        if label != "X509 CRL" {
            return Err(format!("a PEM {label:?} block, not an X509 CRL"));
        }
        CertificateList::from_der(&der).map_err(not_crl)?
    } else {
        CertificateList::from_der(bytes).map_err(not_crl)?
    };
    let tbs = &crl.tbs_cert_list;
    if tbs.signature != crl.signature_algorithm {
        return Err("the CRL names two different signature algorithms".into());
    }
    let signed = tbs
        .to_der()
        .map_err(|e| format!("re-encoding the CRL: {e}"))?;
    let signer = super::anchors::check_x509_signed(
        anchors,
        &crl.signature_algorithm,
        &signed,
        &crl.signature,
        "the CRL",
    )?;
    let seconds = |t: x509_cert::time::Time| {
        i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
    };
    let this_update = seconds(tbs.this_update);
    let next_update = tbs
        .next_update
        .map(seconds)
        .ok_or("the CRL has no `nextUpdate`, so its freshness cannot be known")?;
    if now < this_update {
        return Err("the CRL is not in force yet (`thisUpdate`)".into());
    }
    if now >= next_update {
        return Err("the CRL is past its `nextUpdate`".into());
    }
    for ext in tbs.crl_extensions.iter().flatten() {
        if ext.extn_id == IssuingDistributionPoint::OID {
            let idp = IssuingDistributionPoint::from_der(ext.extn_value.as_bytes())
                .map_err(|e| format!("the CRL's issuing distribution point: {e}"))?;
            if idp.only_contains_ca_certs
                || idp.only_contains_attribute_certs
                || idp.indirect_crl
                || idp.only_some_reasons.is_some()
            {
                return Err(
                    "the CRL is partial or indirect (issuing distribution point), \
                            which is not supported"
                        .into(),
                );
            }
        } else if ext.extn_id == ID_CE_DELTA_CRL_INDICATOR {
            return Err("a delta CRL is not supported: publish a complete CRL".into());
        } else if ext.critical && ext.extn_id != CrlNumber::OID {
            return Err(format!(
                "the CRL has a critical extension {} that is not understood",
                ext.extn_id
            ));
        }
    }
    let mut revoked = HashMap::new();
    for entry in tbs.revoked_certificates.iter().flatten() {
        let mut listed = Some(Listed::Revoked);
        for ext in entry.crl_entry_extensions.iter().flatten() {
            if ext.extn_id == CrlReason::OID {
                let reason = CrlReason::from_der(ext.extn_value.as_bytes())
                    .map_err(|e| format!("a CRL entry's reason code: {e}"))?;
                listed = match reason {
                    CrlReason::CertificateHold => Some(Listed::Hold),
                    CrlReason::RemoveFromCRL => None,
                    _ => Some(Listed::Revoked),
                };
            } else if ext.critical {
                return Err(format!(
                    "a CRL entry has a critical extension {} that is not understood",
                    ext.extn_id
                ));
            }
        }
        if let Some(listed) = listed {
            // A serial listed twice keeps its most severe entry.
            let kept = revoked
                .entry(entry.serial_number.as_bytes().to_vec())
                .or_insert(listed);
            if listed == Listed::Revoked {
                *kept = Listed::Revoked;
            }
        }
    }
    Ok(Verified {
        issued_at: Some(this_update),
        expires_at: Some(next_update),
        ttl_ms: None,
        list: VerifiedList::Crl(VerifiedCrl {
            issuer: tbs
                .issuer
                .to_der()
                .map_err(|e| format!("re-encoding the CRL's issuer: {e}"))?,
            signer,
            revoked,
        }),
    })
}
