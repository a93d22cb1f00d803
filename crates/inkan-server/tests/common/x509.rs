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
        TestCa::with_constraints(cn, BasicConstraints::Constrained(0))
    }

    /// [`new`](Self::new), allowed intermediate CAs under it.
    #[allow(dead_code)]
    pub fn allowing_intermediates(cn: &str) -> TestCa {
        TestCa::with_constraints(cn, BasicConstraints::Unconstrained)
    }

    fn with_constraints(cn: &str, constraints: BasicConstraints) -> TestCa {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = test_name(cn);
        params.is_ca = IsCa::Ca(constraints);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2040, 12, 31);
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa { params, key, pem }
    }

    /// An intermediate CA named `cn` under this one.
    #[allow(dead_code)]
    pub fn intermediate(&self, cn: &str) -> TestCa {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = test_name(cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2040, 12, 31);
        let pem = params
            .signed_by(&key, &Issuer::from_params(&self.params, &self.key))
            .unwrap()
            .pem();
        TestCa { params, key, pem }
    }

    /// A fresh key certified as the TLS client `cn` (a front end's identity for its signers).
    /// Returns the certificate and the key, PEM.
    #[allow(dead_code)]
    pub fn certify_client(&self, cn: &str) -> (String, String) {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(vec![cn.to_owned()]).unwrap();
        params.distinguished_name = test_name(cn);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = date_time_ymd(2020, 1, 2);
        params.not_after = date_time_ymd(2040, 12, 30);
        let cert = params
            .signed_by(&key, &Issuer::from_params(&self.params, &self.key))
            .unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Certifies the P-256 key `jwk` as `cn` with `serial` (valid 2020–2040), naming `crl_url`
    /// as its CRL distribution point when given. Returns the certificate, PEM.
    pub fn certify(&self, jwk: &Value, cn: &str, serial: u64, crl_url: Option<&str>) -> String {
        self.certify_with(jwk, cn, serial, crl_url, None)
    }

    /// [`certify`](Self::certify), also naming `ocsp_url` as its OCSP responder (authority
    /// information access) when given.
    pub fn certify_with(
        &self,
        jwk: &Value,
        cn: &str,
        serial: u64,
        crl_url: Option<&str>,
        ocsp_url: Option<&str>,
    ) -> String {
        // The DNS name of the `https://issuer.example` issuers the tests' tokens name: an
        // `x5c` chain vouches only for the issuer its leaf names.
        let mut params = CertificateParams::new(vec!["issuer.example".to_owned()]).unwrap();
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
        if let Some(url) = ocsp_url {
            use der::Encode as _;
            use x509_cert::ext::pkix::name::GeneralName;
            use x509_cert::ext::pkix::{AccessDescription, AuthorityInfoAccessSyntax};
            let access = AuthorityInfoAccessSyntax(vec![AccessDescription {
                access_method: der::asn1::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1"),
                access_location: GeneralName::UniformResourceIdentifier(
                    der::asn1::Ia5String::new(url).unwrap(),
                ),
            }]);
            params.custom_extensions = vec![rcgen::CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 5, 5, 7, 1, 1],
                access.to_der().unwrap(),
            )];
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

/// What an OCSP answer says of a certificate.
#[derive(Clone, Copy)]
pub enum OcspAnswer {
    Good,
    Hold,
    Revoked,
}

impl TestCa {
    /// A successful basic OCSP response about `leaf_pem` (a certificate this CA issued), signed
    /// by this CA, in force from 2026-11-01 to 2026-12-31.
    pub fn ocsp_response(&self, leaf_pem: &str, answer: OcspAnswer) -> Vec<u8> {
        use der::asn1::{BitString, GeneralizedTime, Null, OctetString};
        use der::{DecodePem as _, Encode as _};
        use rcgen::SigningKey as _;
        use sha1::Digest as _;
        use x509_cert::ext::pkix::crl::CrlReason;
        use x509_cert::spki::AlgorithmIdentifierOwned;
        use x509_ocsp::{
            BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspResponse, ResponderId,
            ResponseData, RevokedInfo, SingleResponse, Version,
        };
        let ca = x509_cert::Certificate::from_pem(self.pem.as_bytes()).unwrap();
        let leaf = x509_cert::Certificate::from_pem(leaf_pem.as_bytes()).unwrap();
        let at = |y: u16, m: u8, d: u8| {
            OcspGeneralizedTime(GeneralizedTime::from_date_time(
                der::DateTime::new(y, m, d, 0, 0, 0).unwrap(),
            ))
        };
        let cert_id = CertId {
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: der::asn1::ObjectIdentifier::new_unwrap("1.3.14.3.2.26"),
                parameters: Some(Null.into()),
            },
            issuer_name_hash: OctetString::new(
                sha1::Sha1::digest(ca.tbs_certificate.subject.to_der().unwrap()).to_vec(),
            )
            .unwrap(),
            issuer_key_hash: OctetString::new(
                sha1::Sha1::digest(
                    ca.tbs_certificate
                        .subject_public_key_info
                        .subject_public_key
                        .raw_bytes(),
                )
                .to_vec(),
            )
            .unwrap(),
            serial_number: leaf.tbs_certificate.serial_number.clone(),
        };
        let revoked = |reason| {
            CertStatus::Revoked(RevokedInfo {
                revocation_time: at(2026, 11, 2),
                revocation_reason: Some(reason),
            })
        };
        let data = ResponseData {
            version: Version::V1,
            responder_id: ResponderId::ByName(ca.tbs_certificate.subject.clone()),
            produced_at: at(2026, 11, 3),
            responses: vec![SingleResponse {
                cert_id,
                cert_status: match answer {
                    OcspAnswer::Good => CertStatus::good(),
                    OcspAnswer::Hold => revoked(CrlReason::CertificateHold),
                    OcspAnswer::Revoked => revoked(CrlReason::KeyCompromise),
                },
                this_update: at(2026, 11, 1),
                next_update: Some(at(2026, 12, 31)),
                single_extensions: None,
            }],
            response_extensions: None,
        };
        let signature = self.key.sign(&data.to_der().unwrap()).unwrap();
        let basic = BasicOcspResponse {
            tbs_response_data: data,
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: der::asn1::ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
                parameters: None,
            },
            signature: BitString::from_bytes(&signature).unwrap(),
            certs: None,
        };
        OcspResponse::successful(basic).unwrap().to_der().unwrap()
    }
}

impl TestCa {
    /// An ISO/IEC 18013-5 document signer certificate (Annex B: keyUsage digitalSignature,
    /// extendedKeyUsage id-mdl-kp-mdlDS `1.0.18013.5.1.2`, not a CA) for the P-256 key `jwk`,
    /// valid 2020–2040. Returns it as DER.
    pub fn certify_document_signer(&self, jwk: &Value, cn: &str) -> Vec<u8> {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = test_name(cn);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::Other(vec![
            1, 0, 18013, 5, 1, 2,
        ])];
        params.not_before = date_time_ymd(2020, 1, 2);
        params.not_after = date_time_ymd(2040, 12, 30);
        params
            .signed_by(
                &JwkPublicKey::new(jwk),
                &Issuer::from_params(&self.params, &self.key),
            )
            .unwrap()
            .der()
            .to_vec()
    }
}
