//! JWS compact, VC-JWT (VCDM 1.1 and 2.0), `vp+jwt` and the OpenID4VCI key proof: round
//! trips of every algorithm through a software device, and the refusals.

#![allow(clippy::unwrap_used)]

mod jose_support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use inkan_device::Algorithm;
use inkan_formats::FormatError;
use inkan_formats::jose::vc_jwt::{self, PresentationBinding, ProofRequest};
use inkan_formats::jose::{
    KeyHint, decode_compact, public_key_from_did, public_key_from_jwk, sign_compact, verify_compact,
};
use jose_support::soft;
use serde_json::{Map, Value, json};

const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

fn reheader(token: &str, header: Value) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[0] = b64(header.to_string().as_bytes());
    parts.join(".")
}

fn credential_v11() -> Value {
    json!({
        "@context": ["https://www.w3.org/2018/credentials/v1", "https://www.w3.org/2018/credentials/examples/v1"],
        "id": "urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5",
        "type": ["VerifiableCredential", "UniversityDegreeCredential"],
        "issuer": "https://issuer.example",
        "issuanceDate": "2025-01-01T00:00:00Z",
        "expirationDate": "2027-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "degree": {"type": "BachelorDegree", "name": "Bachelor of Science and Arts"}}
    })
}

fn credential_v2() -> Value {
    json!({
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "id": "http://university.example/credentials/1872",
        "type": ["VerifiableCredential", "ExampleAlumniCredential"],
        "issuer": "https://university.example/issuers/565049",
        "validFrom": "2025-01-01T19:23:24Z",
        "validUntil": "2027-01-01T19:23:24Z",
        "credentialSubject": {"id": "did:example:ebfeb1f712ebc6f1c276e12ec21", "alumniOf": {"name": "Example University"}}
    })
}

#[tokio::test]
async fn every_algorithm_signs_and_verifies_through_the_soft_device() {
    let soft = soft();
    for alg in Algorithm::ALL {
        let key = soft.key(alg, &format!("key-{alg}"));
        for hint in [KeyHint::Kid, KeyHint::Jwk, KeyHint::None] {
            let token = sign_compact(
                &soft.signer,
                &key,
                Some("JWT"),
                hint,
                &Map::new(),
                b"{\"hello\":\"world\"}",
            )
            .await
            .unwrap();
            let jws = verify_compact(&token, &key.public_key).unwrap();
            assert_eq!(jws.alg, alg);
            assert_eq!(jws.payload, b"{\"hello\":\"world\"}");
            assert_eq!(jws.header["alg"], alg.as_str());
            match hint {
                KeyHint::Kid => assert_eq!(jws.header["kid"], format!("key-{alg}")),
                KeyHint::Jwk => assert_eq!(jws.header_key().unwrap().unwrap(), key.public_key),
                _ => assert!(jws.header_key().unwrap().is_none()),
            }
            assert!(!token.contains('='));
        }
        // did:key and did:jwk of the key resolve back to it.
        assert_eq!(
            public_key_from_did(&key.public_key.did_key()).unwrap(),
            key.public_key
        );
        assert_eq!(
            public_key_from_did(&format!("{}#0", key.public_key.did_jwk())).unwrap(),
            key.public_key
        );
        assert_eq!(
            public_key_from_jwk(&key.public_key.to_jwk()).unwrap(),
            key.public_key
        );
    }
}

#[tokio::test]
async fn jws_refusals_are_specific() {
    let soft = soft();
    let key = soft.key(Algorithm::Es256, "k1");
    let other = soft.key(Algorithm::Es256, "k2");
    let p384 = soft.key(Algorithm::Es384, "k3");
    let token = sign_compact(
        &soft.signer,
        &key,
        Some("JWT"),
        KeyHint::Kid,
        &Map::new(),
        b"{\"a\":1}",
    )
    .await
    .unwrap();

    // Tampered payload.
    let parts: Vec<&str> = token.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64(b"{\"a\":2}"), parts[2]);
    assert!(matches!(
        verify_compact(&tampered, &key.public_key),
        Err(FormatError::InvalidSignature(_))
    ));
    // Wrong key of the same type.
    assert!(matches!(
        verify_compact(&token, &other.public_key),
        Err(FormatError::InvalidSignature(_))
    ));
    // Key of another type than `alg`.
    let err = verify_compact(&token, &p384.public_key).unwrap_err();
    assert!(
        matches!(&err, FormatError::Rejected(m) if m.contains("does not match")),
        "{err}"
    );
    // alg: none, with and without a signature.
    let none = reheader(&token, json!({"alg": "none", "typ": "JWT"}));
    let err = verify_compact(&none, &key.public_key).unwrap_err();
    assert!(
        matches!(&err, FormatError::Rejected(m) if m.contains("none")),
        "{err}"
    );
    let unsigned = format!("{}.{}.", b64(br#"{"alg":"none"}"#), parts[1]);
    assert!(matches!(
        verify_compact(&unsigned, &key.public_key),
        Err(FormatError::Rejected(_))
    ));
    // Unknown algorithm and unknown critical header.
    assert!(matches!(
        verify_compact(&reheader(&token, json!({"alg": "HS256"})), &key.public_key),
        Err(FormatError::Unsupported(_))
    ));
    let crit = reheader(&token, json!({"alg": "ES256", "crit": ["exp"], "exp": 1}));
    let err = verify_compact(&crit, &key.public_key).unwrap_err();
    assert!(
        matches!(&err, FormatError::Unsupported(m) if m.contains("critical")),
        "{err}"
    );
    // Padding, foreign alphabet, wrong part count, oversized input.
    let padded = format!("{}=.{}.{}", parts[0], parts[1], parts[2]);
    assert!(matches!(
        verify_compact(&padded, &key.public_key),
        Err(FormatError::Malformed {
            what: "JWS header",
            ..
        })
    ));
    let std_alphabet = format!("{}.{}.{}+", parts[0], parts[1], &parts[2][1..]);
    assert!(matches!(
        verify_compact(&std_alphabet, &key.public_key),
        Err(FormatError::Malformed { .. })
    ));
    assert!(matches!(
        verify_compact(&format!("{token}.x"), &key.public_key),
        Err(FormatError::Malformed { what: "JWS", .. })
    ));
    let huge = format!(
        "{}.{}.{}",
        parts[0],
        "A".repeat(inkan_formats::limits::MAX_DOCUMENT_BYTES),
        parts[2]
    );
    let err = verify_compact(&huge, &key.public_key).unwrap_err();
    assert!(
        matches!(&err, FormatError::Malformed { what: "JWS", detail } if detail.contains("more than")),
        "{err}"
    );
    // A header that is not an object, and a too deep payload.
    assert!(matches!(
        decode_compact(&format!("{}.{}.{}", b64(b"[1]"), parts[1], parts[2])),
        Err(FormatError::Malformed { .. })
    ));
    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    let deep_token = sign_compact(
        &soft.signer,
        &key,
        None,
        KeyHint::None,
        &Map::new(),
        deep.as_bytes(),
    )
    .await
    .unwrap();
    let jws = verify_compact(&deep_token, &key.public_key).unwrap();
    assert!(matches!(
        jws.payload_json(),
        Err(FormatError::Malformed { .. })
    ));
    // A private JWK is refused.
    let mut private = key.public_key.to_jwk();
    private["d"] = json!("AAAA");
    assert!(matches!(
        public_key_from_jwk(&private),
        Err(FormatError::Malformed { what: "JWK", .. })
    ));
    // `kid` asked for on a key without one.
    let mut anonymous = key.clone();
    anonymous.kid = None;
    assert!(matches!(
        sign_compact(
            &soft.signer,
            &anonymous,
            None,
            KeyHint::Kid,
            &Map::new(),
            b"{}"
        )
        .await,
        Err(FormatError::Rejected(_))
    ));
}

#[tokio::test]
async fn vc_jwt_v11_maps_the_claims_for_every_algorithm() {
    let soft = soft();
    for alg in Algorithm::ALL {
        let key = soft.key(alg, "issuer-key");
        let token = vc_jwt::issue_vc_jwt_v11(&soft.signer, &key, &credential_v11(), KeyHint::Kid)
            .await
            .unwrap();
        let claims = decode_compact(&token).unwrap().payload_json().unwrap();
        assert_eq!(claims["iss"], "https://issuer.example");
        assert_eq!(claims["sub"], "did:example:ebfeb1f712ebc6f1c276e12ec21");
        assert_eq!(
            claims["jti"],
            "urn:uuid:3978344f-8596-4c3a-a978-8fcaba3903c5"
        );
        assert_eq!(claims["nbf"], 1_735_689_600);
        assert_eq!(claims["exp"], 1_798_761_600);
        let verified = vc_jwt::verify_vc_jwt_v11(&token, &key.public_key, NOW).unwrap();
        assert_eq!(verified.document, credential_v11());
        // Expired, and not yet valid.
        let err =
            vc_jwt::verify_vc_jwt_v11(&token, &key.public_key, 1_798_761_600 + 3600).unwrap_err();
        assert!(
            matches!(&err, FormatError::Rejected(m) if m.contains("expired")),
            "{err}"
        );
        assert!(
            matches!(vc_jwt::verify_vc_jwt_v11(&token, &key.public_key, 1_700_000_000), Err(FormatError::Rejected(m)) if m.contains("not valid before"))
        );
    }
    // A JWT claim that disagrees with the credential is refused even when signed.
    let key = soft.key(Algorithm::EdDsa, "issuer-key");
    let mut claims: Map<String, Value> = Map::new();
    claims.insert("iss".into(), "https://someone-else.example".into());
    claims.insert("vc".into(), credential_v11());
    let token = sign_compact(
        &soft.signer,
        &key,
        Some("JWT"),
        KeyHint::None,
        &Map::new(),
        &serde_json::to_vec(&claims).unwrap(),
    )
    .await
    .unwrap();
    let err = vc_jwt::verify_vc_jwt_v11(&token, &key.public_key, NOW).unwrap_err();
    assert!(
        matches!(&err, FormatError::Rejected(m) if m.contains("disagrees")),
        "{err}"
    );
    // A VCDM 2.0 credential is not a 1.1 JWT VC.
    assert!(matches!(
        vc_jwt::issue_vc_jwt_v11(&soft.signer, &key, &credential_v2(), KeyHint::None).await,
        Err(FormatError::Rejected(_))
    ));
}

#[tokio::test]
async fn vc_jwt_and_vp_jwt_v2() {
    let soft = soft();
    let issuer = soft.key(Algorithm::Es384, "issuer");
    let holder = soft.key(Algorithm::EdDsa, "holder");
    let vc = vc_jwt::issue_vc_jwt(&soft.signer, &issuer, &credential_v2(), KeyHint::Kid)
        .await
        .unwrap();
    let jws = decode_compact(&vc).unwrap();
    assert_eq!(jws.header["typ"], "vc+jwt");
    assert_eq!(Value::Object(jws.payload_json().unwrap()), credential_v2());
    assert_eq!(
        vc_jwt::verify_vc_jwt(&vc, &issuer.public_key, NOW)
            .unwrap()
            .document,
        credential_v2()
    );
    assert!(
        matches!(vc_jwt::verify_vc_jwt(&vc, &issuer.public_key, 1_900_000_000), Err(FormatError::Rejected(m)) if m.contains("expired"))
    );
    assert!(matches!(
        vc_jwt::verify_vc_jwt(&vc, &holder.public_key, NOW),
        Err(FormatError::Rejected(_))
    ));
    // A 1.1 JWT VC is not a vc+jwt.
    let v11 = vc_jwt::issue_vc_jwt_v11(&soft.signer, &issuer, &credential_v11(), KeyHint::None)
        .await
        .unwrap();
    assert!(
        matches!(vc_jwt::verify_vc_jwt(&v11, &issuer.public_key, NOW), Err(FormatError::Rejected(m)) if m.contains("typ"))
    );

    let vp = json!({
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiablePresentation"],
        "holder": holder.public_key.did_key(),
        "verifiableCredential": [{"@context": "https://www.w3.org/ns/credentials/v2", "type": "EnvelopedVerifiableCredential", "id": format!("data:application/vc+jwt,{vc}")}]
    });
    let binding = PresentationBinding {
        audience: Some("https://verifier.example".into()),
        nonce: Some("n-0S6_WzA2Mj".into()),
        issued_at: Some(NOW),
        expires_at: Some(NOW + 300),
    };
    let token = vc_jwt::issue_vp_jwt(&soft.signer, &holder, &vp, &binding, KeyHint::Kid)
        .await
        .unwrap();
    let verified = vc_jwt::verify_vp_jwt(
        &token,
        &holder.public_key,
        NOW + 10,
        Some("https://verifier.example"),
        Some("n-0S6_WzA2Mj"),
    )
    .unwrap();
    assert_eq!(verified.claims["holder"], vp["holder"]);
    let err = vc_jwt::verify_vp_jwt(
        &token,
        &holder.public_key,
        NOW,
        Some("https://other.example"),
        Some("n-0S6_WzA2Mj"),
    )
    .unwrap_err();
    assert!(
        matches!(&err, FormatError::Rejected(m) if m.contains("aud")),
        "{err}"
    );
    let err = vc_jwt::verify_vp_jwt(
        &token,
        &holder.public_key,
        NOW,
        Some("https://verifier.example"),
        Some("other"),
    )
    .unwrap_err();
    assert!(
        matches!(&err, FormatError::Rejected(m) if m.contains("nonce")),
        "{err}"
    );
    assert!(
        matches!(vc_jwt::verify_vp_jwt(&token, &holder.public_key, NOW + 3600, None, None), Err(FormatError::Rejected(m)) if m.contains("expired"))
    );
    assert!(matches!(
        vc_jwt::verify_vp_jwt(&token, &issuer.public_key, NOW, None, None),
        Err(FormatError::Rejected(_))
    ));
}

#[tokio::test]
async fn openid4vci_key_proof() {
    let soft = soft();
    for alg in Algorithm::ALL {
        let holder = soft.key(alg, "holder");
        let request = ProofRequest {
            audience: "https://issuer.example",
            nonce: Some("tZignsnFbp"),
            issued_at: NOW,
            client_id: Some("wallet-1"),
        };
        for hint in [KeyHint::Jwk, KeyHint::Kid] {
            let mut key = holder.clone();
            key.kid = Some(format!("{}#0", holder.public_key.did_jwk()));
            let proof = vc_jwt::issue_openid4vci_proof(&soft.signer, &key, &request, hint)
                .await
                .unwrap();
            let verified = vc_jwt::verify_openid4vci_proof(
                &proof,
                "https://issuer.example",
                Some("tZignsnFbp"),
                NOW + 5,
                300,
                None,
            )
            .unwrap();
            assert_eq!(verified.holder_key, holder.public_key);
            assert_eq!(verified.header["typ"], "openid4vci-proof+jwt");
            assert_eq!(verified.claims["iss"], "wallet-1");
            assert!(
                matches!(vc_jwt::verify_openid4vci_proof(&proof, "https://other.example", Some("tZignsnFbp"), NOW, 300, None), Err(FormatError::Rejected(m)) if m.contains("aud"))
            );
            assert!(
                matches!(vc_jwt::verify_openid4vci_proof(&proof, "https://issuer.example", Some("stale"), NOW, 300, None), Err(FormatError::Rejected(m)) if m.contains("nonce"))
            );
            assert!(
                matches!(vc_jwt::verify_openid4vci_proof(&proof, "https://issuer.example", Some("tZignsnFbp"), NOW + 3600, 300, None), Err(FormatError::Rejected(m)) if m.contains("older"))
            );
        }
    }
    // The proof must name its key, and a `jwk` header that is not the signer's fails.
    let holder = soft.key(Algorithm::Es256, "holder");
    let other = soft.key(Algorithm::Es256, "other");
    let request = ProofRequest {
        audience: "https://issuer.example",
        nonce: None,
        issued_at: NOW,
        client_id: None,
    };
    assert!(
        vc_jwt::issue_openid4vci_proof(&soft.signer, &holder, &request, KeyHint::None)
            .await
            .is_err()
    );
    let proof = vc_jwt::issue_openid4vci_proof(&soft.signer, &holder, &request, KeyHint::Jwk)
        .await
        .unwrap();
    let mut header = decode_compact(&proof).unwrap().header;
    header.insert("jwk".into(), other.public_key.to_jwk());
    let swapped = reheader(&proof, Value::Object(header));
    assert!(matches!(
        vc_jwt::verify_openid4vci_proof(&swapped, "https://issuer.example", None, NOW, 300, None),
        Err(FormatError::InvalidSignature(_))
    ));
}
