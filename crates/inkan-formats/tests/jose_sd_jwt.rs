//! SD-JWT VC: the draft's examples verified (issuance and presentation), fresh presentations
//! of them, round trips of every algorithm through a software device, and the refusals.

#![allow(clippy::unwrap_used)]

mod jose_support;

use inkan_device::Algorithm;
use inkan_formats::FormatError;
use inkan_formats::jose::KeyHint;
use inkan_formats::jose::sd_jwt::{
    self, KeyBindingExpectation, KeyBindingRequest, SdJwtVcIssue, SdJwtVerifyOptions,
};
use jose_support::{example_public, example_signer, soft, testdata, unwrapped};
use serde_json::{Map, Value, json};

/// The examples' KB-JWT `iat`; their `exp` is 1883000000.
const KB_IAT: i64 = 1_795_650_603;
const AUD: &str = "https://example.com/verifier";
const NONCE: &str = "1234567890";

fn json_file(name: &str) -> Value {
    serde_json::from_str(&testdata(name)).unwrap()
}

fn expect_kb(max_age: i64) -> Option<KeyBindingExpectation<'static>> {
    Some(KeyBindingExpectation {
        audience: AUD,
        nonce: NONCE,
        max_age,
    })
}

fn opts(now: i64, kb: Option<KeyBindingExpectation<'static>>) -> SdJwtVerifyOptions<'static> {
    SdJwtVerifyOptions {
        now,
        key_binding: kb,
    }
}

/// What a holder discloses in each example (`holder_disclosed_claims`).
fn example_disclosed(example: &str) -> &'static [&'static str] {
    match example {
        "03-pid" => &["/nationalities/0", "/age_equal_or_over/18"],
        _ => &["/address", "/is_over_65"],
    }
}

#[test]
fn the_drafts_examples_verify() {
    let issuer = example_public("issuer_key");
    for example in ["01", "02", "03-pid"] {
        let has_kb = example != "02";
        // Issuance: every claim comes back.
        let issuance = unwrapped(&format!("sd-jwt-vc/{example}/sd_jwt_issuance.txt"));
        let verified = sd_jwt::verify_sd_jwt_vc(&issuance, &issuer, &opts(KB_IAT, None)).unwrap();
        assert_eq!(
            Value::Object(verified.payload.clone()),
            json_file(&format!("sd-jwt-vc/{example}/sd_jwt_payload.json")),
            "{example}"
        );
        let mut expected = json_file(&format!("sd-jwt-vc/{example}/user_claims.json"));
        for name in ["iss", "iat", "exp", "cnf"] {
            if let Some(v) = verified.payload.get(name) {
                expected[name] = v.clone();
            }
        }
        assert_eq!(
            Value::Object(verified.claims),
            expected,
            "{example}: issuance claims"
        );

        // The example presentation: exactly the verified contents.
        let presentation = unwrapped(&format!("sd-jwt-vc/{example}/sd_jwt_presentation.txt"));
        let kb = if has_kb { expect_kb(300) } else { None };
        let verified =
            sd_jwt::verify_sd_jwt_vc(&presentation, &issuer, &opts(KB_IAT + 5, kb)).unwrap();
        assert_eq!(
            Value::Object(verified.claims),
            json_file(&format!("sd-jwt-vc/{example}/verified_contents.json")),
            "{example}: presentation"
        );
        assert_eq!(verified.key_binding.is_some(), has_kb);
        if has_kb {
            assert_eq!(
                Value::Object(verified.key_binding.unwrap()),
                json_file(&format!("sd-jwt-vc/{example}/kb_jwt_payload.json"))
            );
        }
    }
}

#[tokio::test]
async fn fresh_presentations_of_the_examples_verify() {
    let issuer = example_public("issuer_key");
    let (holder_signer, holder) = example_signer("holder_key");
    for example in ["01", "03-pid"] {
        let issuance = unwrapped(&format!("sd-jwt-vc/{example}/sd_jwt_issuance.txt"));
        let request = KeyBindingRequest {
            audience: AUD,
            nonce: NONCE,
            issued_at: KB_IAT,
        };
        let presentation = sd_jwt::present_sd_jwt(
            &holder_signer,
            &issuance,
            example_disclosed(example),
            Some((&holder, &request)),
        )
        .await
        .unwrap();
        let verified =
            sd_jwt::verify_sd_jwt_vc(&presentation, &issuer, &opts(KB_IAT + 5, expect_kb(300)))
                .unwrap();
        assert_eq!(
            Value::Object(verified.claims),
            json_file(&format!("sd-jwt-vc/{example}/verified_contents.json")),
            "{example}"
        );
        // The example presentation discloses the same set.
        let theirs = unwrapped(&format!("sd-jwt-vc/{example}/sd_jwt_presentation.txt"));
        let count = |s: &str| sd_jwt::split_sd_jwt(s).unwrap().disclosures.len();
        assert_eq!(count(&presentation), count(&theirs));
    }
    // Asking for a claim that is not there, and presenting with a key that is not `cnf`.
    let issuance = unwrapped("sd-jwt-vc/01/sd_jwt_issuance.txt");
    assert!(
        matches!(sd_jwt::present_sd_jwt(&holder_signer, &issuance, &["/nickname"], None).await, Err(FormatError::Rejected(m)) if m.contains("no claim"))
    );
    let (issuer_signer, issuer_as_holder) = example_signer("issuer_key");
    let request = KeyBindingRequest {
        audience: AUD,
        nonce: NONCE,
        issued_at: KB_IAT,
    };
    let err = sd_jwt::present_sd_jwt(
        &issuer_signer,
        &issuance,
        &["/address"],
        Some((&issuer_as_holder, &request)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, FormatError::Rejected(m) if m.contains("cnf")),
        "{err}"
    );
}

fn replace_part(serialized: &str, index: usize, with: &str) -> String {
    let mut parts: Vec<&str> = serialized.split('~').collect();
    parts[index] = with;
    parts.join("~")
}

#[tokio::test]
async fn tampered_examples_are_refused() {
    let issuer = example_public("issuer_key");
    let holder_public = example_public("holder_key");
    let (holder_signer, holder) = example_signer("holder_key");
    let (issuer_signer, issuer_key) = example_signer("issuer_key");
    let presentation = unwrapped("sd-jwt-vc/01/sd_jwt_presentation.txt");
    let issuance = unwrapped("sd-jwt-vc/01/sd_jwt_issuance.txt");
    let issued_disclosures: Vec<String> = sd_jwt::split_sd_jwt(&issuance)
        .unwrap()
        .disclosures
        .iter()
        .map(|s| s.to_string())
        .collect();
    let check = |s: &str, kb: Option<KeyBindingExpectation<'static>>| {
        sd_jwt::verify_sd_jwt_vc(s, &issuer, &opts(KB_IAT + 5, kb))
    };

    // A changed disclosure: its digest is nowhere in the SD-JWT.
    let parts: Vec<&str> = presentation.split('~').collect();
    let changed = inkan_formats::jose::sd_jwt::Disclosure::parse(parts[1]).unwrap();
    let forged = {
        use base64::Engine as _;
        let json = serde_json::to_string(&json!([changed.salt, changed.name, false])).unwrap();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    };
    let err = check(&replace_part(&issuance, 1, &forged), None).unwrap_err();
    assert!(
        matches!(&err, FormatError::Rejected(m) if m.contains("not referenced")),
        "{err}"
    );
    // A disclosure from elsewhere (not in the SD-JWT).
    let foreign = unwrapped("sd-jwt-vc/03-pid/sd_jwt_issuance.txt");
    let foreign_disclosure = foreign.split('~').nth(1).unwrap().to_owned();
    let extra = format!("{issuance}{foreign_disclosure}~");
    let err = check(&extra, None).unwrap_err();
    assert!(
        matches!(&err, FormatError::Rejected(m) if m.contains("not referenced")),
        "{err}"
    );
    // The same disclosure twice.
    let twice = format!("{issuance}{}~", issued_disclosures[0]);
    assert!(matches!(check(&twice, None), Err(FormatError::Rejected(m)) if m.contains("twice")));
    // Not base64url, and an empty disclosure.
    assert!(matches!(
        check(&replace_part(&issuance, 1, "!!"), None),
        Err(FormatError::Malformed {
            what: "disclosure",
            ..
        })
    ));
    assert!(matches!(
        check(&replace_part(&issuance, 1, ""), None),
        Err(FormatError::Malformed { .. })
    ));

    // Wrong issuer key, wrong audience, wrong nonce, too old, no KB-JWT where one is needed.
    assert!(matches!(
        sd_jwt::verify_sd_jwt_vc(&presentation, &holder_public, &opts(KB_IAT, None)),
        Err(FormatError::InvalidSignature(_))
    ));
    let wrong_aud = Some(KeyBindingExpectation {
        audience: "https://evil.example",
        nonce: NONCE,
        max_age: 300,
    });
    assert!(
        matches!(check(&presentation, wrong_aud), Err(FormatError::Rejected(m)) if m.contains("aud"))
    );
    let wrong_nonce = Some(KeyBindingExpectation {
        audience: AUD,
        nonce: "0000",
        max_age: 300,
    });
    assert!(
        matches!(check(&presentation, wrong_nonce), Err(FormatError::Rejected(m)) if m.contains("nonce"))
    );
    let err =
        sd_jwt::verify_sd_jwt_vc(&presentation, &issuer, &opts(KB_IAT + 3600, expect_kb(300)))
            .unwrap_err();
    assert!(
        matches!(&err, FormatError::Rejected(m) if m.contains("older")),
        "{err}"
    );
    let without_kb = presentation.rsplit_once('~').unwrap().0.to_owned() + "~";
    assert!(
        matches!(check(&without_kb, expect_kb(300)), Err(FormatError::Rejected(m)) if m.contains("required"))
    );
    // A disclosure removed after the KB-JWT was made: `sd_hash` no longer matches.
    let kb = presentation.rsplit_once('~').unwrap().1;
    let fewer = format!("{}~{}~{kb}", parts[0], parts[2]);
    assert!(
        matches!(check(&fewer, expect_kb(300)), Err(FormatError::Rejected(m)) if m.contains("sd_hash"))
    );
    // A KB-JWT signed by a key other than `cnf`.
    let request = KeyBindingRequest {
        audience: AUD,
        nonce: NONCE,
        issued_at: KB_IAT,
    };
    let honest = sd_jwt::present_sd_jwt(
        &holder_signer,
        &issuance,
        &["/email"],
        Some((&holder, &request)),
    )
    .await
    .unwrap();
    let (body, honest_kb) = honest.rsplit_once('~').unwrap();
    let kb_parts: Vec<&str> = honest_kb.split('.').collect();
    let mut impostor = holder.clone();
    impostor.public_key = issuer_key.public_key.clone();
    let impostor_sig = {
        use inkan_formats::Signer as _;
        let input = format!("{}.{}", kb_parts[0], kb_parts[1]);
        let sig = issuer_signer
            .sign(
                &issuer_key,
                inkan_formats::signer::SignInput::Message(input.as_bytes()),
            )
            .await
            .unwrap();
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    };
    let wrong_holder = format!("{body}~{}.{}.{impostor_sig}", kb_parts[0], kb_parts[1]);
    let err = check(&wrong_holder, expect_kb(300)).unwrap_err();
    assert!(
        matches!(&err, FormatError::InvalidSignature(m) if m.contains("cnf")),
        "{err}"
    );
    assert!(check(&honest, expect_kb(300)).is_ok());
    // Oversized input.
    let huge = format!(
        "{issuance}{}~",
        "A".repeat(inkan_formats::limits::MAX_DOCUMENT_BYTES)
    );
    assert!(matches!(
        check(&huge, None),
        Err(FormatError::Malformed { what: "SD-JWT", .. })
    ));
}

/// A deterministic RNG for tests (never for issuing real credentials).
struct CountingRng(u64);

impl rand_core::RngCore for CountingRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let n = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

fn pid_claims() -> Value {
    let mut claims = json_file("sd-jwt-vc/03-pid/user_claims.json");
    let map = claims.as_object_mut().unwrap();
    map.remove("iss");
    map.remove("vct");
    claims
}

const PID_POINTERS: [&str; 16] = [
    "/given_name",
    "/family_name",
    "/birthdate",
    "/address",
    "/address/street_address",
    "/address/locality",
    "/nationalities",
    "/nationalities/0",
    "/sex",
    "/place_of_birth",
    "/place_of_birth/country",
    "/age_equal_or_over",
    "/age_equal_or_over/18",
    "/age_equal_or_over/65",
    "/portrait",
    "/issuing_country",
];

fn pid_request(holder: &inkan_device::PublicKey, decoys: usize) -> SdJwtVcIssue {
    SdJwtVcIssue {
        vct: "urn:example:eudi:pid:aendgard:1".into(),
        issuer: Some("https://pid-issuer.aendgard.example".into()),
        issued_at: Some(KB_IAT - 86_400),
        not_before: None,
        expires_at: Some(KB_IAT + 86_400 * 365),
        holder_key: Some(holder.clone()),
        status: Some(
            json!({"status_list": {"idx": 412, "uri": "https://pid-issuer.aendgard.example/statuslists/1"}}),
        ),
        claims: pid_claims(),
        selectively_disclosable: PID_POINTERS.iter().map(|s| s.to_string()).collect(),
        decoys_per_object: decoys,
        hint: KeyHint::Kid,
    }
}

#[tokio::test]
async fn every_algorithm_issues_presents_and_verifies_through_the_soft_device() {
    let soft = soft();
    for alg in Algorithm::ALL {
        let issuer = soft.key(alg, "issuer");
        let holder = soft.key(alg, "holder");
        let request = pid_request(&holder.public_key, 2);
        let issued =
            sd_jwt::issue_sd_jwt_vc(&soft.signer, &issuer, &request, &mut rand_core::OsRng)
                .await
                .unwrap();
        assert_eq!(issued.disclosures.len(), PID_POINTERS.len());
        for d in &issued.disclosures {
            assert_eq!(d.salt.len(), 22, "128-bit salts");
        }
        // Issuance: everything comes back, plus the registered claims.
        let verified =
            sd_jwt::verify_sd_jwt_vc(&issued.serialized, &issuer.public_key, &opts(KB_IAT, None))
                .unwrap();
        let mut expected = pid_claims();
        for name in ["iss", "iat", "exp", "vct", "status", "cnf"] {
            expected[name] = verified.payload[name].clone();
        }
        assert_eq!(Value::Object(verified.claims.clone()), expected, "{alg}");
        assert_eq!(verified.claims["cnf"]["jwk"], holder.public_key.to_jwk());
        assert_eq!(verified.header["typ"], "dc+sd-jwt");
        assert_eq!(verified.payload["_sd_alg"], "sha-256");
        // Decoys: each `_sd` has its real digests plus two.
        let top_sd = verified.payload["_sd"].as_array().unwrap();
        let top_real = PID_POINTERS
            .iter()
            .filter(|p| p.matches('/').count() == 1)
            .count();
        assert_eq!(top_sd.len(), top_real + 2);
        let mut sorted = top_sd.clone();
        sorted.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        assert_eq!(&sorted, top_sd);

        // Presentation: a nested element and an array element, KB-JWT by the holder.
        let kb = KeyBindingRequest {
            audience: AUD,
            nonce: NONCE,
            issued_at: KB_IAT,
        };
        let presented = sd_jwt::present_sd_jwt(
            &soft.signer,
            &issued.serialized,
            &["/age_equal_or_over/18", "/nationalities/0", "/address"],
            Some((&holder, &kb)),
        )
        .await
        .unwrap();
        let verified = sd_jwt::verify_sd_jwt_vc(
            &presented,
            &issuer.public_key,
            &opts(KB_IAT + 5, expect_kb(300)),
        )
        .unwrap();
        assert_eq!(
            verified.claims["age_equal_or_over"],
            json!({"18": true, "12": true, "14": true, "16": true, "21": true})
        );
        assert_eq!(verified.claims["nationalities"], json!(["Ændgard"]));
        assert_eq!(
            verified.claims["address"],
            pid_claims()["address"],
            "the whole address, inner claims included"
        );
        assert!(verified.claims.get("given_name").is_none());
        assert!(verified.claims.get("portrait").is_none());
        let pointers: Vec<&str> = verified
            .disclosed
            .iter()
            .map(|l| l.pointer.as_str())
            .collect();
        assert!(
            pointers.contains(&"/age_equal_or_over/18") && pointers.contains(&"/nationalities/0")
        );
        // Wrong key for the issuer.
        assert!(
            sd_jwt::verify_sd_jwt_vc(
                &presented,
                &holder.public_key,
                &opts(KB_IAT + 5, expect_kb(300))
            )
            .is_err()
        );
    }
}

#[tokio::test]
async fn salts_come_from_the_given_rng_and_requests_are_checked() {
    let soft = soft();
    let issuer = soft.key(Algorithm::EdDsa, "issuer");
    let holder = soft.key(Algorithm::Es256, "holder");
    let request = pid_request(&holder.public_key, 1);
    // Ed25519 is deterministic: the same RNG seed gives the same SD-JWT.
    let a = sd_jwt::issue_sd_jwt_vc(&soft.signer, &issuer, &request, &mut CountingRng(7))
        .await
        .unwrap();
    let b = sd_jwt::issue_sd_jwt_vc(&soft.signer, &issuer, &request, &mut CountingRng(7))
        .await
        .unwrap();
    let c = sd_jwt::issue_sd_jwt_vc(&soft.signer, &issuer, &request, &mut CountingRng(8))
        .await
        .unwrap();
    assert_eq!(a.serialized, b.serialized);
    assert_ne!(a.serialized, c.serialized);

    let mut bad = request.clone();
    bad.selectively_disclosable.push("/nickname".into());
    assert!(
        matches!(sd_jwt::issue_sd_jwt_vc(&soft.signer, &issuer, &bad, &mut CountingRng(1)).await, Err(FormatError::Rejected(m)) if m.contains("not in the claims"))
    );
    let mut bad = request.clone();
    bad.claims["iss"] = json!("https://elsewhere.example");
    assert!(
        matches!(sd_jwt::issue_sd_jwt_vc(&soft.signer, &issuer, &bad, &mut CountingRng(1)).await, Err(FormatError::Rejected(m)) if m.contains("reserved"))
    );
    let mut bad = request.clone();
    bad.selectively_disclosable.push("/given_name".into());
    assert!(
        matches!(sd_jwt::issue_sd_jwt_vc(&soft.signer, &issuer, &bad, &mut CountingRng(1)).await, Err(FormatError::Rejected(m)) if m.contains("twice"))
    );
    // An expired SD-JWT VC.
    let err = sd_jwt::verify_sd_jwt_vc(
        &a.serialized,
        &issuer.public_key,
        &opts(KB_IAT + 86_400 * 400, None),
    )
    .unwrap_err();
    assert!(
        matches!(&err, FormatError::Rejected(m) if m.contains("expired")),
        "{err}"
    );
    // A digest used twice in the payload is refused even when correctly signed.
    let mut payload: Map<String, Value> = Map::new();
    payload.insert("vct".into(), "urn:x".into());
    payload.insert(
        "_sd".into(),
        json!([a.disclosures[0].digest, a.disclosures[0].digest]),
    );
    let jws = inkan_formats::jose::sign_compact(
        &soft.signer,
        &issuer,
        Some("dc+sd-jwt"),
        KeyHint::None,
        &Map::new(),
        &serde_json::to_vec(&payload).unwrap(),
    )
    .await
    .unwrap();
    let err = sd_jwt::verify_sd_jwt_vc(&format!("{jws}~"), &issuer.public_key, &opts(KB_IAT, None))
        .unwrap_err();
    assert!(
        matches!(&err, FormatError::Rejected(m) if m.contains("more than once")),
        "{err}"
    );
}
