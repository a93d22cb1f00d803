//! A test certificate authority (rcgen, its key held by the test): certifies a key the service
//! holds (given as its public JWK) with a chosen serial number and CRL distribution point, and
//! issues CRLs listing serial numbers with a reason.

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CrlDistributionPoint,
    DistinguishedName, DnType, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, SerialNumber, date_time_ymd,
};
use serde_json::Value;

/// An uncompressed P-256 public key from a JWK, as rcgen certifies it.
pub struct JwkPublicKey(Vec<u8>);

impl JwkPublicKey {
    pub fn new(jwk: &Value) -> Self {
        assert_eq!(jwk["crv"], "P-256");
        let coordinate = |name: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwk[name].as_str().unwrap())
                .unwrap()
        };
        JwkPublicKey([vec![0x04], coordinate("x"), coordinate("y")].concat())
    }
}

impl rcgen::PublicKeyData for JwkPublicKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

/// `C=JP, O=Inkan Test Issuer, CN=<cn>`.
pub fn test_name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "JP");
    dn.push(DnType::OrganizationName, "Inkan Test Issuer");
    dn.push(DnType::CommonName, cn);
    dn
}

/// A CA whose key the test holds.
pub struct TestCa {
    pub params: CertificateParams,
    pub key: KeyPair,
    /// Its self-signed certificate, PEM.
    pub pem: String,
}

impl TestCa {
    /// A root CA named `cn` (valid 2020–2040), allowed to sign certificates and CRLs.
    pub fn new(cn: &str) -> TestCa {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = test_name(cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2040, 12, 31);
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa { params, key, pem }
    }

    /// Certifies the P-256 key `jwk` as `cn` with `serial` (valid 2020–2040), naming `crl_url`
    /// as its CRL distribution point when given. Returns the certificate, PEM.
    pub fn certify(&self, jwk: &Value, cn: &str, serial: u64, crl_url: Option<&str>) -> String {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = test_name(cn);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.serial_number = Some(SerialNumber::from(serial));
        params.not_before = date_time_ymd(2020, 1, 2);
        params.not_after = date_time_ymd(2040, 12, 30);
        if let Some(url) = crl_url {
            params.crl_distribution_points = vec![CrlDistributionPoint {
                uris: vec![url.to_string()],
            }];
        }
        params
            .signed_by(
                &JwkPublicKey::new(jwk),
                &Issuer::from_params(&self.params, &self.key),
            )
            .unwrap()
            .pem()
    }

    /// A complete CRL (DER) in force from 2026-01-01 to 2027-01-01, listing `revoked` serial
    /// numbers with their reasons.
    pub fn crl(&self, number: u64, revoked: &[(u64, RevocationReason)]) -> Vec<u8> {
        CertificateRevocationListParams {
            this_update: date_time_ymd(2026, 1, 1),
            next_update: date_time_ymd(2027, 1, 1),
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|(serial, reason)| RevokedCertParams {
                    serial_number: SerialNumber::from(*serial),
                    revocation_time: date_time_ymd(2026, 6, 1),
                    reason_code: Some(*reason),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&Issuer::from_params(&self.params, &self.key))
        .unwrap()
        .der()
        .to_vec()
    }
}
