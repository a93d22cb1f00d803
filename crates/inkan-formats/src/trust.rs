//! Certificate trust for documents that carry their issuer's certificate: an mdoc's
//! `x5chain`, a JOSE `x5c` header (SD-JWT VC, VC-JWT), a status-list CWT's `x5chain`.
//!
//! Owns path validation from the leaf the document carries to one of the trust anchors the
//! relying party configured: every signature up to the anchor, every certificate's validity at
//! the verification time, `basicConstraints` (issuers are CAs, path length) and `keyUsage`
//! (issuers `keyCertSign`, the leaf `digitalSignature`), and for mdoc the ISO/IEC 18013-5
//! Annex B profile checks that can be made here (the document signer's extended key usage
//! `1.0.18013.5.1.2`, the IACA a CA that may sign certificates).
//!
//! It never trusts a certificate because the document carries it, never fetches anything
//! (no AIA chasing, no revocation: status is the caller's), and never calls an issuer
//! authenticated without an anchor: that is [`IssuerTrust::Unauthenticated`].

use crate::FormatError;
use inkan_device::PublicKey;
use x509_cert::Certificate;
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage};

/// Most trust anchors read.
pub const MAX_ANCHORS: usize = 100;

/// `id-mdl-kp-mdlDS`, the extended key usage of an mdoc document signer certificate
/// (ISO/IEC 18013-5 Annex B.1.4).
pub const MDL_DS_EKU: &str = "1.0.18013.5.1.2";

/// What a chain is checked as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Any issuer certificate (JOSE `x5c`, status list tokens).
    Generic,
    /// An ISO/IEC 18013-5 document signer under an IACA root (Annex B).
    MdocDocumentSigner,
}

/// Whether the issuer of a document was authenticated by a trust anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerTrust {
    /// Not a question for this document: its key was given by the caller or is named by a
    /// DID the issuer is checked against.
    NotApplicable,
    /// The carried chain leads to this anchor (its subject, RFC 4514).
    Authenticated {
        /// The anchor's subject.
        anchor: String,
    },
    /// The signature verifies under the carried certificate, but nothing the relying party
    /// trusts vouches for it.
    Unauthenticated {
        /// Why, for people.
        reason: String,
    },
}

impl IssuerTrust {
    /// `authenticated`, `unauthenticated`, or `notApplicable`.
    pub fn as_str(&self) -> &'static str {
        match self {
            IssuerTrust::NotApplicable => "notApplicable",
            IssuerTrust::Authenticated { .. } => "authenticated",
            IssuerTrust::Unauthenticated { .. } => "unauthenticated",
        }
    }

    /// Whether the issuer is known not to be authenticated.
    pub fn is_unauthenticated(&self) -> bool {
        matches!(self, IssuerTrust::Unauthenticated { .. })
    }
}

/// The relying party's trust anchors (root or issuing CA certificates).
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    anchors: Vec<Certificate>,
}

impl TrustAnchors {
    /// No anchors: every carried chain is unauthenticated.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the certificates of `input`: one or more PEM `CERTIFICATE` blocks, or one DER
    /// certificate.
    pub fn add(&mut self, input: &[u8]) -> Result<(), FormatError> {
        let bad = |e: x509_cert::der::Error| FormatError::malformed("trust anchor", e.to_string());
        let certs = if input.trim_ascii_start().starts_with(b"-----BEGIN") {
            Certificate::load_pem_chain(input).map_err(bad)?
        } else {
            vec![Certificate::from_der(input).map_err(bad)?]
        };
        for cert in certs {
            if self.anchors.len() >= MAX_ANCHORS {
                return Err(FormatError::malformed(
                    "trust anchor",
                    format!("more than {MAX_ANCHORS} anchors"),
                ));
            }
            self.anchors.push(cert);
        }
        Ok(())
    }

    /// How many anchors there are.
    pub fn len(&self) -> usize {
        self.anchors.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty()
    }
}

fn rejected(message: impl Into<String>) -> FormatError {
    FormatError::Rejected(format!("issuer certificate chain: {}", message.into()))
}

fn extension<E>(cert: &Certificate) -> Result<Option<E>, FormatError>
where
    E: x509_cert::der::oid::AssociatedOid + for<'a> x509_cert::der::Decode<'a>,
{
    let Some(extensions) = &cert.tbs_certificate.extensions else {
        return Ok(None);
    };
    let mut found = extensions.iter().filter(|ext| ext.extn_id == E::OID);
    let Some(ext) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(rejected(format!("extension {} appears twice", E::OID)));
    }
    E::from_der(ext.extn_value.as_bytes())
        .map(Some)
        .map_err(|_| rejected(format!("extension {} is not well-formed", E::OID)))
}

/// Whether the leaf certificate `leaf` (DER) names `issuer` in its subject alternative names:
/// as a URI, or, for an `https` issuer, as the DNS name of its host.
pub fn names_issuer(leaf: &[u8], issuer: &str) -> Result<bool, FormatError> {
    use x509_cert::ext::pkix::SubjectAltName;
    use x509_cert::ext::pkix::name::GeneralName;
    let cert = Certificate::from_der(leaf).map_err(|_| rejected("the leaf is not DER"))?;
    let Some(SubjectAltName(names)) = extension::<SubjectAltName>(&cert)? else {
        return Ok(false);
    };
    let host = issuer
        .strip_prefix("https://")
        .map(|rest| rest.split(['/', '?', '#']).next().unwrap_or_default())
        .filter(|host| !host.is_empty() && !host.contains(['@', ':']));
    Ok(names.iter().any(|name| match name {
        GeneralName::UniformResourceIdentifier(uri) => uri.as_str() == issuer,
        GeneralName::DnsName(dns) => {
            host.is_some_and(|host| dns.as_str().eq_ignore_ascii_case(host))
        }
        _ => false,
    }))
}

fn public_key(cert: &Certificate) -> Result<PublicKey, FormatError> {
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| rejected("a certificate's key cannot be encoded"))?;
    PublicKey::from_spki_der(&spki).map_err(|e| rejected(format!("a certificate's key: {e}")))
}

/// Whether `issuer` signed `cert`.
fn signed_by(cert: &Certificate, issuer: &Certificate) -> Result<bool, FormatError> {
    if cert.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return Ok(false);
    }
    let key = public_key(issuer)?;
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|_| rejected("a certificate cannot be encoded"))?;
    let Some(signature) = cert.signature.as_bytes() else {
        return Ok(false);
    };
    Ok(
        inkan_device::csr::verify_x509_signature(&key, &cert.signature_algorithm, &tbs, signature)
            .is_ok(),
    )
}

fn check_validity(what: &str, cert: &Certificate, at: i64) -> Result<(), FormatError> {
    let v = &cert.tbs_certificate.validity;
    let secs = |t: x509_cert::time::Time| {
        i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
    };
    if at < secs(v.not_before) || at > secs(v.not_after) {
        return Err(rejected(format!(
            "the {what} certificate is not valid at the verification time"
        )));
    }
    Ok(())
}

/// An issuing certificate (an intermediate or the anchor): a CA (when `require_ca` or it
/// says so) allowed to sign certificates, with room for `below` CA certificates under it.
fn check_issuer(
    what: &str,
    cert: &Certificate,
    below: usize,
    require_ca: bool,
) -> Result<(), FormatError> {
    match extension::<BasicConstraints>(cert)? {
        Some(bc) if bc.ca => {
            if let Some(len) = bc.path_len_constraint
                && below > usize::from(len)
            {
                return Err(rejected(format!(
                    "the {what} certificate's path length constraint is exceeded"
                )));
            }
        }
        _ if require_ca => {
            return Err(rejected(format!(
                "the {what} certificate is not a CA (basicConstraints)"
            )));
        }
        _ => {}
    }
    if let Some(usage) = extension::<KeyUsage>(cert)?
        && !usage.key_cert_sign()
    {
        return Err(rejected(format!(
            "the {what} certificate may not sign certificates (keyUsage)"
        )));
    }
    Ok(())
}

fn check_leaf(leaf: &Certificate, profile: Profile) -> Result<(), FormatError> {
    if let Some(usage) = extension::<KeyUsage>(leaf)?
        && !usage.digital_signature()
    {
        return Err(rejected(
            "the issuer's certificate may not make digital signatures (keyUsage)",
        ));
    }
    if let Some(bc) = extension::<BasicConstraints>(leaf)?
        && bc.ca
        && profile == Profile::MdocDocumentSigner
    {
        return Err(rejected(
            "the document signer certificate is a CA (ISO/IEC 18013-5 Annex B)",
        ));
    }
    if profile == Profile::MdocDocumentSigner {
        let eku = extension::<ExtendedKeyUsage>(leaf)?;
        let has = eku.is_some_and(|eku| eku.0.iter().any(|oid| oid.to_string() == MDL_DS_EKU));
        if !has {
            return Err(rejected(format!(
                "the document signer certificate lacks extendedKeyUsage {MDL_DS_EKU} (ISO/IEC 18013-5 Annex B)"
            )));
        }
    }
    Ok(())
}

/// Validates `chain` (DER, leaf first, as the document carries it) against `anchors` at `at`
/// (Unix seconds). A chain that is broken or fails a check is an error; a sound chain that
/// leads to no anchor (or no anchors at all) is [`IssuerTrust::Unauthenticated`].
pub fn check_chain(
    chain: &[Vec<u8>],
    anchors: &TrustAnchors,
    at: i64,
    profile: Profile,
) -> Result<IssuerTrust, FormatError> {
    if chain.is_empty() {
        return Err(rejected("it is empty"));
    }
    if chain.len() > inkan_device::cert::MAX_CHAIN_LEN {
        return Err(rejected("too many certificates"));
    }
    let certs = chain
        .iter()
        .map(|der| Certificate::from_der(der).map_err(|_| rejected("a certificate is not DER")))
        .collect::<Result<Vec<_>, _>>()?;
    // The chain stops at the first certificate that is itself an anchor.
    let anchored_inside = certs
        .iter()
        .position(|c| anchors.anchors.iter().any(|a| a == c));
    let path = match anchored_inside {
        Some(0) => &certs[..1],
        Some(i) => &certs[..i],
        None => &certs[..],
    };
    let leaf = &path[0];
    check_validity("issuer's", leaf, at)?;
    check_leaf(leaf, profile)?;
    for (i, pair) in path.windows(2).enumerate() {
        if !signed_by(&pair[0], &pair[1])? {
            return Err(rejected(format!(
                "certificate {i} is not signed by certificate {}",
                i + 1
            )));
        }
        check_validity("intermediate", &pair[1], at)?;
        check_issuer("intermediate", &pair[1], i, true)?;
    }
    if anchored_inside == Some(0) {
        // The leaf itself is a configured anchor: trusted as configured.
        return Ok(IssuerTrust::Authenticated {
            anchor: leaf.tbs_certificate.subject.to_string(),
        });
    }
    let last = &path[path.len() - 1];
    let anchor = match anchored_inside {
        Some(i) => Some(&certs[i]),
        None => {
            if anchors.is_empty() {
                return Ok(IssuerTrust::Unauthenticated {
                    reason: "no trust anchor was given: the certificate the document carries vouches for itself".into(),
                });
            }
            let mut found = None;
            for anchor in &anchors.anchors {
                if signed_by(last, anchor)? {
                    found = Some(anchor);
                    break;
                }
            }
            found
        }
    };
    let Some(anchor) = anchor else {
        if anchors
            .anchors
            .iter()
            .any(|a| a.tbs_certificate.subject == last.tbs_certificate.issuer)
        {
            return Err(rejected(
                "it names a trust anchor as issuer, but the anchor's key did not sign it",
            ));
        }
        return Ok(IssuerTrust::Unauthenticated {
            reason: format!(
                "the certificate chain leads to none of the {} trust anchors given",
                anchors.len()
            ),
        });
    };
    if anchored_inside.is_some() && !signed_by(last, anchor)? {
        return Err(rejected("the last certificate is not signed by the anchor"));
    }
    check_validity("trust anchor", anchor, at)?;
    check_issuer(
        "trust anchor",
        anchor,
        path.len() - 1,
        profile == Profile::MdocDocumentSigner,
    )?;
    Ok(IssuerTrust::Authenticated {
        anchor: anchor.tbs_certificate.subject.to_string(),
    })
}
