//! X.509 certificate chains attached to device keys (criteria 2.2.2(2)B-2, 2.2.2(2)A-5).
//!
//! Owns parsing a chain (PEM or DER) with size limits, checking that it is ordered leaf
//! first with each certificate issued by the next, and checking that the leaf certifies the
//! device key. It does not decide trust: that belongs to the status checks of the server.

use crate::{DeviceError, PublicKey};
use der::{Decode as _, Encode as _};
use x509_cert::Certificate;

/// Largest chain accepted, in bytes of input.
pub const MAX_CHAIN_INPUT: usize = 256 * 1024;
/// Most certificates accepted in one chain.
pub const MAX_CHAIN_LEN: usize = 10;

/// A parsed certificate chain, leaf first.
#[derive(Clone, Debug)]
pub struct CertificateChain {
    certs: Vec<Certificate>,
}

impl CertificateChain {
    /// Parses one or more PEM `CERTIFICATE` blocks, or a single DER certificate.
    pub fn parse(input: &[u8]) -> Result<Self, DeviceError> {
        if input.len() > MAX_CHAIN_INPUT {
            return Err(DeviceError::InvalidInput(format!(
                "certificate chain is larger than {MAX_CHAIN_INPUT} bytes"
            )));
        }
        let bad = |e: der::Error| DeviceError::InvalidInput(format!("certificate: {e}"));
        let certs = if input.trim_ascii_start().starts_with(b"-----BEGIN") {
            Certificate::load_pem_chain(input).map_err(bad)?
        } else {
            vec![Certificate::from_der(input).map_err(bad)?]
        };
        Self::from_certs(certs)
    }

    /// Builds a chain from certificates already stored as DER, leaf first.
    pub fn from_der_list(ders: &[Vec<u8>]) -> Result<Self, DeviceError> {
        let certs = ders
            .iter()
            .map(|d| Certificate::from_der(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| DeviceError::InvalidInput(format!("certificate: {e}")))?;
        Self::from_certs(certs)
    }

    fn from_certs(certs: Vec<Certificate>) -> Result<Self, DeviceError> {
        if certs.is_empty() {
            return Err(DeviceError::InvalidInput(
                "the certificate chain is empty".into(),
            ));
        }
        if certs.len() > MAX_CHAIN_LEN {
            return Err(DeviceError::InvalidInput(format!(
                "the certificate chain has more than {MAX_CHAIN_LEN} certificates"
            )));
        }
        for (i, pair) in certs.windows(2).enumerate() {
            if pair[0].tbs_certificate.issuer != pair[1].tbs_certificate.subject {
                return Err(DeviceError::InvalidInput(format!(
                    "certificate {i} of the chain was not issued by certificate {} (leaf first)",
                    i + 1
                )));
            }
        }
        Ok(CertificateChain { certs })
    }

    /// The leaf certificate's public key.
    pub fn leaf_public_key(&self) -> Result<PublicKey, DeviceError> {
        let spki = self.certs[0]
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| DeviceError::InvalidInput(format!("certificate key: {e}")))?;
        PublicKey::from_spki_der(&spki)
    }

    /// Fails with [`DeviceError::KeyMismatch`] unless the leaf certifies `key`.
    pub fn check_certifies(&self, key: &PublicKey) -> Result<(), DeviceError> {
        if &self.leaf_public_key()? == key {
            Ok(())
        } else {
            Err(DeviceError::KeyMismatch(
                "the certificate's public key is not this key's public key".into(),
            ))
        }
    }

    /// The leaf's validity period as Unix seconds (`notBefore`, `notAfter`).
    pub fn leaf_validity(&self) -> (i64, i64) {
        let v = &self.certs[0].tbs_certificate.validity;
        let secs = |t: x509_cert::time::Time| {
            i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
        };
        (secs(v.not_before), secs(v.not_after))
    }

    /// The leaf's subject and issuer (RFC 4514 strings) and serial number (hex).
    pub fn leaf_names(&self) -> (String, String, String) {
        let tbs = &self.certs[0].tbs_certificate;
        (
            tbs.subject.to_string(),
            tbs.issuer.to_string(),
            hex::encode(tbs.serial_number.as_bytes()),
        )
    }

    /// The leaf issuer's name, DER (what a CRL of that issuer names as its issuer).
    pub fn leaf_issuer_der(&self) -> Vec<u8> {
        self.certs[0]
            .tbs_certificate
            .issuer
            .to_der()
            .unwrap_or_default()
    }

    /// The leaf's serial number, as its DER integer content.
    pub fn leaf_serial(&self) -> Vec<u8> {
        self.certs[0]
            .tbs_certificate
            .serial_number
            .as_bytes()
            .to_vec()
    }

    /// The certificate that issued the leaf, when the chain carries it: its public key and the
    /// `subjectPublicKey` bits (what an OCSP `CertID` hashes), after checking that it signed
    /// the leaf.
    pub fn leaf_issuer(&self) -> Result<Option<(PublicKey, Vec<u8>)>, DeviceError> {
        let Some(issuer) = self.certs.get(1) else {
            return Ok(None);
        };
        let spki = &issuer.tbs_certificate.subject_public_key_info;
        let key = PublicKey::from_spki_der(
            &spki
                .to_der()
                .map_err(|e| DeviceError::InvalidInput(format!("issuer key: {e}")))?,
        )?;
        let leaf = &self.certs[0];
        let signed = leaf
            .tbs_certificate
            .to_der()
            .map_err(|e| DeviceError::InvalidInput(format!("certificate: {e}")))?;
        let signature = leaf.signature.as_bytes().ok_or_else(|| {
            DeviceError::InvalidInput("the certificate's signature is not whole bytes".into())
        })?;
        crate::csr::verify_x509_signature(&key, &leaf.signature_algorithm, &signed, signature)
            .map_err(|_| {
                DeviceError::InvalidInput(
                    "the certificate is not signed by the next certificate of its chain".into(),
                )
            })?;
        Ok(Some((key, spki.subject_public_key.raw_bytes().to_vec())))
    }

    /// The URIs of the leaf's CRL distribution points (RFC 5280 4.2.1.13), in order; only
    /// full names of distribution points without a separate CRL issuer.
    pub fn leaf_crl_urls(&self) -> Result<Vec<String>, DeviceError> {
        use x509_cert::ext::pkix::CrlDistributionPoints;
        use x509_cert::ext::pkix::name::DistributionPointName;
        let mut urls = Vec::new();
        for ext in self.leaf_extensions::<CrlDistributionPoints>()? {
            for point in ext.0 {
                if point.crl_issuer.is_some() {
                    continue;
                }
                if let Some(DistributionPointName::FullName(names)) = point.distribution_point {
                    urls.extend(names.iter().filter_map(uri));
                }
            }
        }
        Ok(urls)
    }

    /// The URIs of the leaf's OCSP responders (authority information access, RFC 5280
    /// 4.2.2.1), in order.
    pub fn leaf_ocsp_urls(&self) -> Result<Vec<String>, DeviceError> {
        use x509_cert::ext::pkix::AuthorityInfoAccessSyntax;
        const ID_AD_OCSP: der::asn1::ObjectIdentifier =
            der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
        let mut urls = Vec::new();
        for ext in self.leaf_extensions::<AuthorityInfoAccessSyntax>()? {
            urls.extend(
                ext.0
                    .iter()
                    .filter(|d| d.access_method == ID_AD_OCSP)
                    .filter_map(|d| uri(&d.access_location)),
            );
        }
        Ok(urls)
    }

    fn leaf_extensions<E>(&self) -> Result<Vec<E>, DeviceError>
    where
        E: der::oid::AssociatedOid + for<'a> der::Decode<'a>,
    {
        let Some(extensions) = &self.certs[0].tbs_certificate.extensions else {
            return Ok(Vec::new());
        };
        extensions
            .iter()
            .filter(|ext| ext.extn_id == E::OID)
            .map(|ext| {
                E::from_der(ext.extn_value.as_bytes()).map_err(|e| {
                    DeviceError::InvalidInput(format!("certificate extension {}: {e}", E::OID))
                })
            })
            .collect()
    }

    /// Each certificate as DER, leaf first.
    pub fn to_der_list(&self) -> Vec<Vec<u8>> {
        self.certs.iter().filter_map(|c| c.to_der().ok()).collect()
    }

    /// The chain as concatenated PEM blocks, leaf first.
    pub fn to_pem(&self) -> String {
        self.to_der_list()
            .iter()
            .map(|d| crate::public_key::pem_encode("CERTIFICATE", d))
            .collect()
    }
}

/// A general name's URI, if it is one.
fn uri(name: &x509_cert::ext::pkix::name::GeneralName) -> Option<String> {
    match name {
        x509_cert::ext::pkix::name::GeneralName::UniformResourceIdentifier(uri) => {
            Some(uri.to_string())
        }
        _ => None,
    }
}
