//! Issuer certificate trust in `inkan_formats::verify` (issue 15 point 3): an mdoc or an SD-JWT
//! VC carrying its issuer's certificate is authenticated only through a trust anchor; a copy
//! whose certificate was altered, one under a self-made certificate, or one without anchors
//! is never plainly valid. Certificates are made with rcgen (CA keys held by the test) for
//! keys in a software device.
#![allow(clippy::unwrap_used)]

mod mdoc_support;

use base64::Engine as _;
use inkan_formats::FormatError;
use inkan_formats::KeyRef;
use inkan_formats::jose::KeyHint;
use inkan_formats::trust::{IssuerTrust, TrustAnchors};
use inkan_formats::verify::{VerifyOptions, verify};
use mdoc_support::{NOW, mdl_request, setup};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, date_time_ymd,
};
use std::sync::Arc;

/// A device key's public key as rcgen certifies it (uncompressed P-256 point).
struct DeviceKey(Vec<u8>);

impl DeviceKey {
    fn of(key: &KeyRef) -> Self {
        let jwk = key.public_key.to_jwk();
        let coordinate = |name: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwk[name].as_str().unwrap())
                .unwrap()
        };
        DeviceKey([vec![0x04], coordinate("x"), coordinate("y")].concat())
    }
}

impl rcgen::PublicKeyData for DeviceKey {
    fn der_bytes(&self) -> &[u8] {
        &self.0
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "JP");
    dn.push(DnType::CommonName, cn);
    dn
}

/// A CA whose key the test holds.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

impl Ca {
    /// A root (`ca`: with basicConstraints cA and keyCertSign; else an end-entity-shaped
    /// certificate) valid 2020–2040.
    fn root(cn: &str, ca: bool) -> Ca {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = name(cn);
        if ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        } else {
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        }
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2040, 12, 31);
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca { params, key, der }
    }

    /// An intermediate CA under this one.
    fn intermediate(&self, cn: &str, ca: bool) -> Ca {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = name(cn);
        params.is_ca = if ca {
            IsCa::Ca(BasicConstraints::Unconstrained)
        } else {
            IsCa::ExplicitNoCa
        };
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2040, 12, 31);
        let der = params
            .signed_by(&key, &Issuer::from_params(&self.params, &self.key))
            .unwrap()
            .der()
            .to_vec();
        Ca { params, key, der }
    }

    /// A document signer certificate for `key` (with the mdoc extended key usage when
    /// `mdoc_eku`), valid until `until_year`.
    fn certify(&self, key: &KeyRef, mdoc_eku: bool, until_year: i32) -> Vec<u8> {
        // (The DNS name the SD-JWT VC cases' `https://issuer.example` issuer needs.)
        let mut params = CertificateParams::new(vec!["issuer.example".to_owned()]).unwrap();
        params.distinguished_name = name("Inkan Test Document Signer");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if mdoc_eku {
            params.extended_key_usages =
                vec![ExtendedKeyUsagePurpose::Other(vec![1, 0, 18013, 5, 1, 2])];
        }
        params.not_before = date_time_ymd(2020, 1, 2);
        params.not_after = date_time_ymd(until_year, 12, 30);
        params
            .signed_by(
                &DeviceKey::of(key),
                &Issuer::from_params(&self.params, &self.key),
            )
            .unwrap()
            .der()
            .to_vec()
    }
}

fn anchors(certs: &[&[u8]]) -> Arc<TrustAnchors> {
    let mut anchors = TrustAnchors::new();
    for cert in certs {
        anchors.add(cert).unwrap();
    }
    Arc::new(anchors)
}

fn options(anchors: Arc<TrustAnchors>) -> VerifyOptions {
    VerifyOptions {
        at: NOW,
        trust_anchors: anchors,
        ..Default::default()
    }
}

#[tokio::test]
async fn an_mdoc_is_authenticated_only_by_its_iaca() {
    let iaca = Ca::root("Inkan Test IACA", true);
    let mut s = setup();
    // The same device key for the chain and the signature: certify the issuer key of `s`.
    let ds = iaca.certify(&s.issuer, true, 2040);
    s.issuer.certificate_chain = vec![ds.clone()];
    let issued = inkan_formats::mdoc::issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, NOW),
        &mut rand_core::OsRng,
    )
    .await
    .unwrap();
    let mdoc = hex::encode(issued.to_bytes().unwrap());

    let found = verify(mdoc.as_bytes(), &options(anchors(&[&iaca.der]))).unwrap();
    assert!(
        matches!(found.issuer_trust, IssuerTrust::Authenticated { ref anchor } if anchor.contains("Inkan Test IACA")),
        "{:?}",
        found.issuer_trust
    );
    assert_eq!(found.details["issuerTrust"]["status"], "authenticated");

    // No anchor: the signature verifies, the issuer is unauthenticated, never plainly valid.
    let found = verify(mdoc.as_bytes(), &options(anchors(&[]))).unwrap();
    assert!(found.issuer_trust.is_unauthenticated());
    assert_eq!(found.details["issuerTrust"]["status"], "unauthenticated");

    // Another IACA: unauthenticated too.
    let other = Ca::root("Another IACA", true);
    let found = verify(mdoc.as_bytes(), &options(anchors(&[&other.der]))).unwrap();
    assert!(found.issuer_trust.is_unauthenticated());

    // The anchor is no longer valid at the verification time.
    let late = VerifyOptions {
        at: 2_240_000_000, // 2040-12-31 and later
        ..options(anchors(&[&iaca.der]))
    };
    assert!(verify(mdoc.as_bytes(), &late).is_err());
}

#[tokio::test]
async fn an_altered_or_self_made_certificate_is_not_authenticated() {
    let iaca = Ca::root("Inkan Test IACA", true);
    let s = setup();
    let genuine = iaca.certify(&s.issuer, true, 2040);
    // The certificate altered after issue (a letter of its subject changed): its key still
    // verifies the MSO, its IACA's signature no longer does.
    let mut altered = genuine.clone();
    let at = altered
        .windows(8)
        .position(|w| w == b"Document")
        .expect("the subject is in the DER");
    altered[at] = b'd';
    let mut s2 = s;
    s2.issuer.certificate_chain = vec![altered];
    let issued = inkan_formats::mdoc::issue(
        &s2.signer,
        &s2.issuer,
        &mdl_request(&s2.holder, NOW),
        &mut rand_core::OsRng,
    )
    .await
    .unwrap();
    let mdoc = hex::encode(issued.to_bytes().unwrap());
    let err = verify(mdoc.as_bytes(), &options(anchors(&[&iaca.der]))).unwrap_err();
    assert!(
        matches!(err, FormatError::Rejected(ref m) if m.contains("did not sign")),
        "{err}"
    );
    let found = verify(mdoc.as_bytes(), &options(anchors(&[]))).unwrap();
    assert!(found.issuer_trust.is_unauthenticated());

    // A self-made "IACA" with the genuine one's name signs the document signer certificate.
    let forger = Ca::root("Inkan Test IACA", true);
    let forged = forger.certify(&s2.issuer, true, 2040);
    let (mdoc, _s) = {
        let mut s3 = setup();
        s3.issuer = s2.issuer.clone();
        s3.issuer.certificate_chain = vec![forged];
        let issued = inkan_formats::mdoc::issue(
            &s2.signer,
            &s3.issuer,
            &mdl_request(&s3.holder, NOW),
            &mut rand_core::OsRng,
        )
        .await
        .unwrap();
        (hex::encode(issued.to_bytes().unwrap()), s3)
    };
    let err = verify(mdoc.as_bytes(), &options(anchors(&[&iaca.der]))).unwrap_err();
    assert!(err.to_string().contains("did not sign"), "{err}");
}

#[tokio::test]
async fn the_iaca_profile_is_checked() {
    let iaca = Ca::root("Inkan Test IACA", true);
    let mut s = setup();
    // A document signer certificate without id-mdl-kp-mdlDS.
    s.issuer.certificate_chain = vec![iaca.certify(&s.issuer, false, 2040)];
    let issued = inkan_formats::mdoc::issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, NOW),
        &mut rand_core::OsRng,
    )
    .await
    .unwrap();
    let mdoc = hex::encode(issued.to_bytes().unwrap());
    let err = verify(mdoc.as_bytes(), &options(anchors(&[&iaca.der]))).unwrap_err();
    assert!(err.to_string().contains("1.0.18013.5.1.2"), "{err}");

    // An "IACA" that is not a CA.
    let not_ca = Ca::root("Not a CA", false);
    s.issuer.certificate_chain = vec![not_ca.certify(&s.issuer, true, 2040)];
    let issued = inkan_formats::mdoc::issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, NOW),
        &mut rand_core::OsRng,
    )
    .await
    .unwrap();
    let mdoc = hex::encode(issued.to_bytes().unwrap());
    let err = verify(mdoc.as_bytes(), &options(anchors(&[&not_ca.der]))).unwrap_err();
    assert!(err.to_string().contains("not a CA"), "{err}");

    // The document signer certificate expired at the verification time.
    s.issuer.certificate_chain = vec![iaca.certify(&s.issuer, true, 2024)];
    let issued = inkan_formats::mdoc::issue(
        &s.signer,
        &s.issuer,
        &mdl_request(&s.holder, NOW),
        &mut rand_core::OsRng,
    )
    .await
    .unwrap();
    let mdoc = hex::encode(issued.to_bytes().unwrap());
    assert!(verify(mdoc.as_bytes(), &options(anchors(&[&iaca.der]))).is_err());
}

/// An SD-JWT VC whose issuer key comes in an `x5c` header, through an intermediate CA.
#[tokio::test]
async fn an_sd_jwt_vc_with_x5c_is_authenticated_through_its_chain() {
    use inkan_formats::jose::sd_jwt::{SdJwtVcIssue, issue_sd_jwt_vc};
    let root = Ca::root("Inkan Test Root", true);
    let intermediate = root.intermediate("Inkan Test Issuing CA", true);
    let mut s = setup();
    s.issuer.certificate_chain = vec![
        intermediate.certify(&s.issuer, false, 2040),
        intermediate.der.clone(),
    ];
    let issue = || SdJwtVcIssue {
        vct: "https://credentials.example/identity".into(),
        issuer: Some("https://issuer.example".into()),
        issued_at: Some(NOW - 60),
        not_before: None,
        expires_at: Some(NOW + 86_400),
        holder_key: None,
        status: None,
        claims: serde_json::json!({"given_name": "Hanako"}),
        selectively_disclosable: vec!["/given_name".into()],
        decoys_per_object: 0,
        hint: KeyHint::X5c,
    };
    let issued = issue_sd_jwt_vc(&s.signer, &s.issuer, &issue(), &mut rand_core::OsRng)
        .await
        .unwrap();
    let text = issued.serialized;
    let found = verify(text.as_bytes(), &options(anchors(&[&root.der]))).unwrap();
    assert!(
        matches!(found.issuer_trust, IssuerTrust::Authenticated { ref anchor } if anchor.contains("Inkan Test Root")),
        "{:?}",
        found.issuer_trust
    );
    let found = verify(text.as_bytes(), &options(anchors(&[]))).unwrap();
    assert!(found.issuer_trust.is_unauthenticated());

    // The chain vouches only for the issuer its leaf names: another `iss` under the same
    // certificate is not authenticated.
    let other = SdJwtVcIssue {
        issuer: Some("https://victim.example".into()),
        ..issue()
    };
    let issued = issue_sd_jwt_vc(&s.signer, &s.issuer, &other, &mut rand_core::OsRng)
        .await
        .unwrap();
    let found = verify(
        issued.serialized.as_bytes(),
        &options(anchors(&[&root.der])),
    )
    .unwrap();
    assert!(
        found.issuer_trust.is_unauthenticated(),
        "{:?}",
        found.issuer_trust
    );

    // A header that adds a `jwk` of another key beside the trusted chain is refused: the
    // chain never vouches for a key other than its leaf's.
    let (issuer_jws, rest) = text.split_once('~').unwrap();
    let mut parts = issuer_jws.splitn(3, '.');
    let (header, payload) = (parts.next().unwrap(), parts.next().unwrap());
    let mut header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    let attacker = inkan_formats::jose::public_key_from_jwk(&serde_json::json!({
        "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    }))
    .unwrap();
    header["jwk"] = attacker.to_jwk();
    let forged = format!(
        "{}.{payload}.c2ln~{rest}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string())
    );
    let err = verify(forged.as_bytes(), &options(anchors(&[&root.der]))).unwrap_err();
    assert!(err.to_string().contains("twice"), "{err}");

    // An intermediate that is not a CA breaks the chain.
    let not_ca = root.intermediate("Inkan Test Not A CA", false);
    s.issuer.certificate_chain = vec![not_ca.certify(&s.issuer, false, 2040), not_ca.der.clone()];
    let issued = issue_sd_jwt_vc(&s.signer, &s.issuer, &issue(), &mut rand_core::OsRng)
        .await
        .unwrap();
    let err = verify(
        issued.serialized.as_bytes(),
        &options(anchors(&[&root.der])),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not a CA"), "{err}");
}

/// A Token Status List CWT whose signer's certificate is in `x5chain`.
#[test]
fn a_status_list_cwt_with_x5chain_needs_its_ca() {
    use coset::TaggedCborSerializable as _;
    use inkan_device::CryptoDevice as _;
    use inkan_formats::status::token::{StatusListToken, TokenStatusList};
    let s = setup();
    let ca = Ca::root("Inkan Test Status CA", true);
    let cert = ca.certify(&s.issuer, false, 2040);
    let mut list = TokenStatusList::new(1024, 2).unwrap();
    list.set(7, 2).unwrap();
    let token = StatusListToken {
        sub: "https://issuer.example/statuslists/1".into(),
        iat: u64::try_from(NOW - 60).unwrap(),
        exp: Some(u64::try_from(NOW + 86_400).unwrap()),
        ttl: Some(300),
        status_list: list,
    };
    let protected = coset::HeaderBuilder::new()
        .algorithm(coset::iana::Algorithm::ES256)
        .value(
            16,
            ciborium::Value::Text("application/statuslist+cwt".into()),
        )
        .build();
    let unprotected = coset::HeaderBuilder::new()
        .value(33, ciborium::Value::Bytes(cert))
        .build();
    let mut sign1 = coset::CoseSign1Builder::new()
        .protected(protected)
        .unprotected(unprotected)
        .payload(token.to_cwt_claims().unwrap())
        .build();
    let tbs = sign1.tbs_data(b"");
    sign1.signature = s
        .device
        .sign(&s.issuer.handle, inkan_device::Algorithm::Es256, &tbs)
        .unwrap();
    let cwt = hex::encode(sign1.to_tagged_vec().unwrap());

    let found = verify(cwt.as_bytes(), &options(anchors(&[&ca.der]))).unwrap();
    assert_eq!(found.format, "status list token (CWT)");
    assert!(
        matches!(found.issuer_trust, IssuerTrust::Authenticated { .. }),
        "{:?}",
        found.issuer_trust
    );
    let found = verify(cwt.as_bytes(), &options(anchors(&[]))).unwrap();
    assert!(found.issuer_trust.is_unauthenticated());
    assert_eq!(found.details["issuerTrust"]["status"], "unauthenticated");
}
