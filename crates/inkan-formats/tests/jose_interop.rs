//! Interop: what Inkan produces in JOSE formats, made through a software device, is verified
//! by independent implementations (npm `jose` and `@sd-jwt/sd-jwt-vc`, through
//! `interop/jose/verify.mjs`). Needs `npm ci --prefix interop/jose` (done by `.ci/run`).

#![allow(clippy::unwrap_used)]

mod jose_support;

use inkan_device::Algorithm;
use inkan_formats::jose::sd_jwt::{self, KeyBindingRequest, SdJwtVcIssue};
use inkan_formats::jose::vc_jwt::{self, PresentationBinding, ProofRequest};
use inkan_formats::jose::{KeyHint, sign_compact};
use jose_support::soft;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn interop_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("interop/jose");
    assert!(
        dir.join("node_modules/jose").is_dir()
            && dir.join("node_modules/@sd-jwt/sd-jwt-vc").is_dir(),
        "the npm verifiers are not installed in {}: run `bash .ci/run` (or `npm ci --prefix interop/jose`)",
        dir.display()
    );
    dir
}

/// Runs the Node verifier; returns its JSON output, or the error it printed.
fn node_verify(
    kind: &str,
    token: &str,
    jwk: Option<&Value>,
    options: &[(&str, String)],
) -> Result<Value, String> {
    let dir = interop_dir();
    let tmp = tempfile::tempdir().unwrap();
    let token_file = tmp.path().join("token.txt");
    std::fs::write(&token_file, token).unwrap();
    let jwk_arg = match jwk {
        Some(jwk) => {
            let path = tmp.path().join("key.jwk");
            std::fs::write(&path, jwk.to_string()).unwrap();
            path.display().to_string()
        }
        None => "embedded".to_owned(),
    };
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("verify.mjs"))
        .arg(kind)
        .arg(&token_file)
        .arg(jwk_arg);
    for (name, value) in options {
        cmd.arg(format!("--{name}")).arg(value);
    }
    let out = cmd.output().expect("node (Node.js 20) must be installed");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn tamper(token: &str) -> String {
    // Flip one character of the payload part.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let p = &mut parts[1];
    let c = if p.ends_with('A') { 'B' } else { 'A' };
    p.pop();
    p.push(c);
    parts.join(".")
}

#[tokio::test]
async fn jose_verifies_vc_jwt_vp_jwt_and_key_proofs_of_every_algorithm() {
    interop_dir();
    let soft = soft();
    let now = [("now", NOW.to_string())];
    for alg in Algorithm::ALL {
        let issuer = soft.key(alg, "issuer-1");
        let jwk = issuer.public_key.to_jwk();

        // Plain JWS.
        let jws = sign_compact(
            &soft.signer,
            &issuer,
            Some("JWT"),
            KeyHint::Kid,
            &Map::new(),
            b"{\"x\":1}",
        )
        .await
        .unwrap();
        node_verify("jws", &jws, Some(&jwk), &[("typ", "JWT".into())])
            .unwrap_or_else(|e| panic!("{alg} JWS: {e}"));
        assert!(
            node_verify("jws", &tamper(&jws), Some(&jwk), &[]).is_err(),
            "{alg}: tampered JWS accepted by jose"
        );

        // VCDM 1.1 jwt_vc_json.
        let credential = json!({
            "@context": ["https://www.w3.org/2018/credentials/v1"],
            "id": "urn:uuid:7c8f3f8e-4b8c-4c4e-9a55-5f0e1b6a2d10",
            "type": ["VerifiableCredential"],
            "issuer": issuer.public_key.did_key(),
            "issuanceDate": "2025-06-01T00:00:00Z",
            "expirationDate": "2027-06-01T00:00:00Z",
            "credentialSubject": {"id": "did:example:holder", "name": "Astrid"}
        });
        let vc = vc_jwt::issue_vc_jwt_v11(&soft.signer, &issuer, &credential, KeyHint::Kid)
            .await
            .unwrap();
        let out = node_verify(
            "jwt",
            &vc,
            Some(&jwk),
            &[("typ", "JWT".into()), now[0].clone()],
        )
        .unwrap_or_else(|e| panic!("{alg} VC-JWT 1.1: {e}"));
        assert_eq!(out["payload"]["vc"], credential);
        assert_eq!(out["payload"]["sub"], "did:example:holder");
        assert!(
            node_verify("jwt", &vc, Some(&jwk), &[("now", "1900000000".into())]).is_err(),
            "{alg}: expired VC-JWT accepted by jose"
        );

        // VCDM 2.0 vc+jwt.
        let credential = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"],
            "issuer": issuer.public_key.did_jwk(),
            "validFrom": "2025-06-01T00:00:00Z",
            "credentialSubject": {"id": "did:example:holder", "name": "Astrid"}
        });
        let vc2 = vc_jwt::issue_vc_jwt(&soft.signer, &issuer, &credential, KeyHint::Kid)
            .await
            .unwrap();
        let out = node_verify(
            "jwt",
            &vc2,
            Some(&jwk),
            &[("typ", "vc+jwt".into()), now[0].clone()],
        )
        .unwrap_or_else(|e| panic!("{alg} vc+jwt: {e}"));
        assert_eq!(out["payload"], credential);

        // VCDM 2.0 vp+jwt by a holder, bound to an audience and nonce.
        let holder = soft.key(alg, "holder-1");
        let vp = json!({
            "@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiablePresentation"],
            "verifiableCredential": [{"@context": "https://www.w3.org/ns/credentials/v2", "type": "EnvelopedVerifiableCredential", "id": format!("data:application/vc+jwt,{vc2}")}]
        });
        let binding = PresentationBinding {
            audience: Some("https://verifier.example".into()),
            nonce: Some("vp-nonce-1".into()),
            issued_at: Some(NOW),
            expires_at: Some(NOW + 600),
        };
        let vpt = vc_jwt::issue_vp_jwt(&soft.signer, &holder, &vp, &binding, KeyHint::Kid)
            .await
            .unwrap();
        let opts = [
            ("typ", "vp+jwt".to_owned()),
            ("aud", "https://verifier.example".to_owned()),
            ("nonce", "vp-nonce-1".to_owned()),
            now[0].clone(),
        ];
        node_verify("jwt", &vpt, Some(&holder.public_key.to_jwk()), &opts)
            .unwrap_or_else(|e| panic!("{alg} vp+jwt: {e}"));
        let wrong_aud = [
            ("typ", "vp+jwt".to_owned()),
            ("aud", "https://evil.example".to_owned()),
            now[0].clone(),
        ];
        assert!(
            node_verify("jwt", &vpt, Some(&holder.public_key.to_jwk()), &wrong_aud).is_err(),
            "{alg}: vp+jwt for another audience accepted by jose"
        );

        // OpenID4VCI key proof: jose takes the key from the `jwk` header.
        let request = ProofRequest {
            audience: "https://issuer.example",
            nonce: Some("c-nonce-9"),
            issued_at: NOW,
            client_id: None,
        };
        let proof = vc_jwt::issue_openid4vci_proof(&soft.signer, &holder, &request, KeyHint::Jwk)
            .await
            .unwrap();
        let opts = [
            ("typ", "openid4vci-proof+jwt".to_owned()),
            ("aud", "https://issuer.example".to_owned()),
            ("nonce", "c-nonce-9".to_owned()),
            now[0].clone(),
        ];
        let out = node_verify("jwt", &proof, None, &opts)
            .unwrap_or_else(|e| panic!("{alg} OpenID4VCI proof: {e}"));
        assert_eq!(out["header"]["jwk"], holder.public_key.to_jwk());
    }
}

#[tokio::test]
async fn sd_jwt_vc_verifies_sd_jwt_vc_with_key_binding_of_every_algorithm() {
    interop_dir();
    let soft = soft();
    for alg in Algorithm::ALL {
        let issuer = soft.key(alg, "issuer-1");
        let holder = soft.key(alg, "holder-1");
        let request = SdJwtVcIssue {
            vct: "urn:example:eudi:pid:1".into(),
            issuer: Some("https://pid-issuer.example".into()),
            issued_at: Some(NOW - 3600),
            not_before: None,
            expires_at: Some(NOW + 86_400 * 365),
            holder_key: Some(holder.public_key.clone()),
            // A `status` list reference would make the verifier fetch the list over the
            // network; the status claim is covered by the Rust tests.
            status: None,
            claims: json!({
                "given_name": "Astrid",
                "family_name": "Holmgren",
                "address": {"street_address": "Sjøgata 12", "locality": "Viken", "country": "ÆG"},
                "nationalities": ["ÆG", "SE"],
                "age_equal_or_over": {"18": true, "65": false}
            }),
            selectively_disclosable: [
                "/given_name",
                "/family_name",
                "/address",
                "/address/locality",
                "/nationalities/0",
                "/nationalities/1",
                "/age_equal_or_over/18",
                "/age_equal_or_over/65",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            decoys_per_object: 2,
            hint: KeyHint::Kid,
        };
        let issued =
            sd_jwt::issue_sd_jwt_vc(&soft.signer, &issuer, &request, &mut rand_core::OsRng)
                .await
                .unwrap();
        let jwk = issuer.public_key.to_jwk();
        let now = ("now", (NOW + 5).to_string());
        // The issuance, every claim disclosed.
        let out = node_verify(
            "sd-jwt",
            &issued.serialized,
            Some(&jwk),
            std::slice::from_ref(&now),
        )
        .unwrap_or_else(|e| panic!("{alg} SD-JWT VC issuance: {e}"));
        assert_eq!(out["payload"]["address"]["locality"], "Viken");
        assert_eq!(out["payload"]["nationalities"], json!(["ÆG", "SE"]));

        // A presentation with a KB-JWT.
        let kb = KeyBindingRequest {
            audience: "https://verifier.example",
            nonce: "kb-nonce-42",
            issued_at: NOW,
        };
        let presented = sd_jwt::present_sd_jwt(
            &soft.signer,
            &issued.serialized,
            &["/given_name", "/nationalities/1", "/age_equal_or_over/18"],
            Some((&holder, &kb)),
        )
        .await
        .unwrap();
        let opts = [
            ("nonce", "kb-nonce-42".to_owned()),
            ("aud", "https://verifier.example".to_owned()),
            now.clone(),
        ];
        let out = node_verify("sd-jwt", &presented, Some(&jwk), &opts)
            .unwrap_or_else(|e| panic!("{alg} SD-JWT VC + KB-JWT: {e}"));
        assert_eq!(out["payload"]["given_name"], "Astrid");
        assert_eq!(out["payload"]["nationalities"], json!(["SE"]));
        assert_eq!(out["payload"]["age_equal_or_over"], json!({"18": true}));
        assert!(out["payload"].get("family_name").is_none());
        assert!(out["payload"].get("address").is_none());
        assert_eq!(out["kb"]["aud"], "https://verifier.example");

        // The independent verifier refuses a wrong nonce and a wrong issuer key.
        let wrong_nonce = [("nonce", "other".to_owned()), now.clone()];
        assert!(
            node_verify("sd-jwt", &presented, Some(&jwk), &wrong_nonce).is_err(),
            "{alg}: wrong nonce accepted by @sd-jwt"
        );
        assert!(
            node_verify(
                "sd-jwt",
                &presented,
                Some(&holder.public_key.to_jwk()),
                &opts
            )
            .is_err(),
            "{alg}: wrong issuer key accepted by @sd-jwt"
        );
    }
}
