//! Shared set-up of the mdoc tests: a software device in a temp dir, an issuer key with a
//! self-signed certificate made by the device, a holder key, and an mDL to issue.
#![allow(clippy::unwrap_used, dead_code)]

use ciborium::Value;
use der::Encode as _;
use inkan_device::soft::{KekSource, SoftConfig, SoftDevice};
use inkan_device::{Algorithm, CryptoDevice, KeySpec};
use inkan_formats::KeyRef;
use inkan_formats::mdoc::{IssueRequest, ValidityInfo};
use inkan_formats::signer::DeviceSigner;
use std::sync::Arc;
use std::time::Duration;

/// 2025-01-01T00:00:00Z.
pub const NOW: i64 = 1_735_689_600;
pub const DAY: i64 = 86_400;
pub const MDL: &str = "org.iso.18013.5.1.mDL";
pub const NS: &str = "org.iso.18013.5.1";

pub struct Setup {
    pub _dir: tempfile::TempDir,
    pub device: Arc<SoftDevice>,
    pub signer: DeviceSigner,
    pub issuer: KeyRef,
    pub holder: KeyRef,
    /// The IACA root certificate that issued the issuer's certificate, PEM.
    pub issuer_pem: String,
}

pub fn key_ref(device: &SoftDevice, spec: KeySpec, alg: Algorithm) -> KeyRef {
    let key = device.generate(spec, "mdoc test").unwrap();
    KeyRef {
        handle: key.handle,
        algorithm: alg,
        public_key: key.public_key,
        kid: None,
        certificate_chain: Vec::new(),
    }
}

/// A self-signed CA certificate for `key` (the IACA root), signed by the device.
pub fn self_signed(
    device: &SoftDevice,
    key: &KeyRef,
    subject: &str,
    not_before: i64,
    not_after: i64,
) -> Vec<u8> {
    certificate(
        device, key, subject, key, subject, true, not_before, not_after,
    )
}

/// A certificate for `subject_key` issued by `issuer_key`, signed by the device; a CA
/// (basicConstraints cA) when `ca`.
#[allow(clippy::too_many_arguments)]
pub fn certificate(
    device: &SoftDevice,
    subject_key: &KeyRef,
    subject: &str,
    issuer_key: &KeyRef,
    issuer: &str,
    ca: bool,
    not_before: i64,
    not_after: i64,
) -> Vec<u8> {
    use std::str::FromStr as _;
    use x509_cert::der::Decode as _;
    let time = |t: i64| {
        x509_cert::time::Time::UtcTime(
            der::asn1::UtcTime::from_unix_duration(Duration::from_secs(t as u64)).unwrap(),
        )
    };
    let extensions = ca.then(|| {
        let bc = x509_cert::ext::pkix::BasicConstraints {
            ca: true,
            path_len_constraint: None,
        };
        vec![x509_cert::ext::Extension {
            extn_id: der::asn1::ObjectIdentifier::new_unwrap("2.5.29.19"),
            critical: true,
            extn_value: der::asn1::OctetString::new(bc.to_der().unwrap()).unwrap(),
        }]
    });
    let tbs = x509_cert::TbsCertificate {
        version: x509_cert::certificate::Version::V3,
        serial_number: x509_cert::serial_number::SerialNumber::new(if ca {
            &[0x01, 0x23]
        } else {
            &[0x45, 0x67]
        })
        .unwrap(),
        signature: inkan_device::csr::signature_algorithm(issuer_key.algorithm).unwrap(),
        issuer: x509_cert::name::Name::from_str(issuer).unwrap(),
        validity: x509_cert::time::Validity {
            not_before: time(not_before),
            not_after: time(not_after),
        },
        subject: x509_cert::name::Name::from_str(subject).unwrap(),
        subject_public_key_info: x509_cert::spki::SubjectPublicKeyInfoOwned::from_der(
            &subject_key.public_key.to_spki_der(),
        )
        .unwrap(),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions,
    };
    let raw = device
        .sign(
            &issuer_key.handle,
            issuer_key.algorithm,
            &tbs.to_der().unwrap(),
        )
        .unwrap();
    let sig = inkan_device::csr::x509_signature(issuer_key.algorithm, &raw).unwrap();
    let cert = x509_cert::Certificate {
        signature_algorithm: tbs.signature.clone(),
        tbs_certificate: tbs,
        signature: der::asn1::BitString::from_bytes(&sig).unwrap(),
    };
    cert.to_der().unwrap()
}

pub fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// A software device with an issuer key (`issuer_alg`, certificate valid from a year before
/// to a year after `cert_center`) and a holder key (`holder_alg`).
pub fn setup_with(
    issuer: (KeySpec, Algorithm),
    holder: (KeySpec, Algorithm),
    cert_center: i64,
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let device = Arc::new(
        SoftDevice::open(&SoftConfig {
            path: dir.path().join("token"),
            kek: KekSource::File(dir.path().join("kek")),
        })
        .unwrap(),
    );
    // An IACA root (its own key, of the issuer's kind) and the document signer under it;
    // x5chain carries the document signer only, as ISO/IEC 18013-5 does.
    let root = key_ref(&device, issuer.0, issuer.1);
    let root_name = "CN=Inkan Test IACA,O=Inkan,C=JP";
    let (from, until) = (cert_center - 365 * DAY, cert_center + 365 * DAY);
    let cert = self_signed(&device, &root, root_name, from, until);
    let mut issuer = key_ref(&device, issuer.0, issuer.1);
    let ds = certificate(
        &device,
        &issuer,
        "CN=Inkan Test mDL Document Signer,O=Inkan,C=JP",
        &root,
        root_name,
        false,
        from,
        until,
    );
    issuer.certificate_chain = vec![ds];
    let holder = key_ref(&device, holder.0, holder.1);
    let signer = DeviceSigner::new(device.clone());
    Setup {
        _dir: dir,
        device,
        signer,
        issuer,
        holder,
        issuer_pem: pem(&cert),
    }
}

pub fn setup() -> Setup {
    setup_with(
        (KeySpec::P256, Algorithm::Es256),
        (KeySpec::P256, Algorithm::Es256),
        NOW,
    )
}

pub fn text(s: &str) -> Value {
    Value::Text(s.into())
}

pub fn full_date(s: &str) -> Value {
    Value::Tag(1004, Box::new(Value::Text(s.into())))
}

/// An mDL with a few elements, valid `now - 1 day .. now + 30 days`.
pub fn mdl_request(holder: &KeyRef, now: i64) -> IssueRequest {
    IssueRequest {
        doc_type: MDL.into(),
        namespaces: vec![(
            NS.into(),
            vec![
                ("family_name".into(), text("Yamada")),
                ("given_name".into(), text("Hanako")),
                ("birth_date".into(), full_date("1990-04-01")),
                ("issuing_country".into(), text("JP")),
                ("age_over_18".into(), Value::Bool(true)),
                ("document_number".into(), text("DL-123456789")),
            ],
        )],
        device_key: holder.public_key.clone(),
        validity: ValidityInfo {
            signed: now - DAY,
            valid_from: now - DAY,
            valid_until: now + 30 * DAY,
            expected_update: None,
        },
        status: None,
    }
}

/// A SessionTranscript for tests, as SessionTranscriptBytes (`#6.24`), like the OpenID4VP
/// handover: `[null, null, ["test-handover", nonce]]`.
pub fn transcript(nonce: &str) -> Vec<u8> {
    let st = Value::Array(vec![
        Value::Null,
        Value::Null,
        Value::Array(vec![text("test-handover"), text(nonce)]),
    ]);
    let mut inner = Vec::new();
    ciborium::ser::into_writer(&st, &mut inner).unwrap();
    let mut out = Vec::new();
    ciborium::ser::into_writer(&Value::Tag(24, Box::new(Value::Bytes(inner))), &mut out).unwrap();
    out
}
