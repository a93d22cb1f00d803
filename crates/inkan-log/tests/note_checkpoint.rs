//! Signed notes and checkpoints: round trips, strict parsing, key handling, origins.
#![allow(clippy::unwrap_used)]

mod common;

use common::{PROD_ORIGIN, SoftSigner, TEST_ORIGIN};
use inkan_log::LogError;
use inkan_log::checkpoint::Checkpoint;
use inkan_log::hash::leaf_hash;
use inkan_log::note::{self, MAX_SIGNATURES, NoteSigner, NoteVerifier, sign_note};

const BODY: &str = "hello\nworld\n";

/// The signature line(s) of a note.
fn sig_lines(note: &str) -> &str {
    &note[note.rfind("\n\n").unwrap() + 2..]
}

#[test]
fn sign_and_open() {
    let a = SoftSigner::new("inkan.example/log/test", 1);
    let note = sign_note(BODY, &a).unwrap();
    assert!(note.starts_with("hello\nworld\n\n\u{2014} inkan.example/log/test "));
    assert_eq!(a.verifier().open(&note).unwrap(), BODY);
    let v = NoteVerifier::from_vkey(&a.verifier().vkey()).unwrap();
    assert_eq!(v, a.verifier());
    assert_eq!(v.public_key(), a.public_key());
    // A body may contain blank lines: the last blank line separates the signatures.
    let body = "a\n\nb\n";
    assert_eq!(
        a.verifier().open(&sign_note(body, &a).unwrap()).unwrap(),
        body
    );
}

#[test]
fn unknown_keys_are_ignored_and_named() {
    let a = SoftSigner::new("log.a", 1);
    let b = SoftSigner::new("log.b", 2);
    let both = format!(
        "{}{}",
        sign_note(BODY, &a).unwrap(),
        sig_lines(&sign_note(BODY, &b).unwrap())
    );
    assert_eq!(a.verifier().open(&both).unwrap(), BODY);
    assert_eq!(b.verifier().open(&both).unwrap(), BODY);

    let c = SoftSigner::new("log.c", 3);
    let err = c.verifier().open(&both).unwrap_err();
    let LogError::BadSignature(m) = &err else {
        panic!("{err:?}")
    };
    assert!(
        m.contains("unknown key") && m.contains("log.a+") && m.contains("log.b+"),
        "{m}"
    );

    // Same name, other key: unknown (the key id differs), not a failed verification.
    let a2 = SoftSigner::new("log.a", 9);
    let err = a2
        .verifier()
        .open(&sign_note(BODY, &a).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("unknown key"), "{err}");
}

#[test]
fn tampering_and_malformed_notes_are_refused() {
    let a = SoftSigner::new("log.a", 1);
    let v = a.verifier();
    let note = sign_note(BODY, &a).unwrap();

    let altered = note.replace("world", "World");
    assert!(
        matches!(v.open(&altered), Err(LogError::BadSignature(m)) if m.contains("does not verify"))
    );

    let twice = format!("{note}{}", sig_lines(&note));
    assert!(matches!(v.open(&twice), Err(LogError::Malformed { .. })));

    let malformed = [
        note.replace('\u{2014}', "-"),
        note.replacen("\n\n", "\n", 1),
        note.trim_end_matches('\n').to_owned(),
        note.replace("world", "wor\u{7}ld"),
        note.replace("world", "wor\rld"),
        note.replace("log.a ", "log.a  "),
        note.replace("log.a ", "log+a "),
        format!("{}\u{2014} log.a AAAA\n", note),
        format!("{}\u{2014} log.a !!!!\n", note),
        format!("{note}\n"),
        String::from("body\n\n\u{2014} log.a\n"),
        String::from("body\n\n\u{2014} log.a \n"),
        String::from("body\n\n"),
    ];
    for m in &malformed {
        let err = v.open(m).unwrap_err();
        assert!(
            matches!(err, LogError::Malformed { what: "note", .. }),
            "{m:?}: {err:?}"
        );
    }

    let other = SoftSigner::new("log.b", 2);
    let line = sig_lines(&sign_note(BODY, &other).unwrap()).to_owned();
    let many = format!("{note}{}", line.repeat(MAX_SIGNATURES));
    assert!(
        matches!(v.open(&many), Err(LogError::Malformed { detail, .. }) if detail.contains("more than 100"))
    );
    let enough = format!("{note}{}", line.repeat(MAX_SIGNATURES - 1));
    assert_eq!(v.open(&enough).unwrap(), BODY);

    let huge = format!(
        "{}\n\n{}",
        "x".repeat(note::MAX_NOTE_BYTES),
        sig_lines(&note)
    );
    assert!(matches!(v.open(&huge), Err(LogError::Malformed { .. })));

    assert!(sign_note("no final newline", &a).is_err());
    assert!(sign_note("", &a).is_err());
    assert!(sign_note("tab\tinside\n", &a).is_err());
}

#[test]
fn verifier_keys() {
    assert!(NoteVerifier::new("has space", [1; 32]).is_err());
    assert!(NoteVerifier::new("", [1; 32]).is_err());
    assert!(NoteVerifier::new("a+b", [1; 32]).is_err());
    // The identity point has small order.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(NoteVerifier::new("log", identity).is_err());

    let a = SoftSigner::new("log.a", 1);
    let pem = {
        use ed25519_dalek::pkcs8::EncodePublicKey as _;
        a.key
            .verifying_key()
            .to_public_key_pem(Default::default())
            .unwrap()
    };
    assert_eq!(
        NoteVerifier::from_public_key_pem("log.a", &pem).unwrap(),
        a.verifier()
    );
    assert!(NoteVerifier::from_public_key_pem("log.a", "not pem").is_err());
}

/// A signer whose device returns a signature that is not by its public key.
struct Broken(SoftSigner);

impl NoteSigner for Broken {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn public_key(&self) -> [u8; 32] {
        SoftSigner::new("x", 7).public_key()
    }
    fn sign(&self, message: &[u8]) -> Result<[u8; 64], LogError> {
        self.0.sign(message)
    }
}

#[test]
fn a_signer_with_the_wrong_key_is_caught() {
    let err = sign_note(BODY, &Broken(SoftSigner::new("log.a", 1))).unwrap_err();
    assert!(matches!(err, LogError::Signer(_)), "{err:?}");
}

#[test]
fn checkpoint_body() {
    let cp = Checkpoint {
        origin: TEST_ORIGIN.into(),
        size: 20852163,
        root: leaf_hash(b"x"),
    };
    let body = cp.to_body();
    assert_eq!(body.lines().count(), 3);
    assert_eq!(Checkpoint::parse(&body).unwrap(), cp);
    assert_eq!(
        Checkpoint::parse(&format!("{body}ext one\nx\n")).unwrap(),
        cp
    );

    // The example body of c2sp.org/tlog-checkpoint parses.
    let example =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
    let parsed = Checkpoint::parse(example).unwrap();
    assert_eq!(
        (parsed.origin.as_str(), parsed.size),
        ("example.com/behind-the-sofa", 20852163)
    );
    assert_eq!(parsed.to_body(), example);

    let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
    let bad = [
        format!("o\n01\n{root}\n"),
        format!("o\n+1\n{root}\n"),
        format!("o\n-0\n{root}\n"),
        format!("o\n 1\n{root}\n"),
        format!("o\n18446744073709551616\n{root}\n"),
        format!("\n1\n{root}\n"),
        format!("o\u{1}\n1\n{root}\n"),
        format!("o\n1\n{root}"),
        format!("o\n1\n{root}\n\n"),
        format!("o\n1\n{}\n", &root[..40]),
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n".into(),
        "o\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n".into(),
        "o\n1\n".into(),
        String::new(),
    ];
    for b in &bad {
        assert!(
            matches!(
                Checkpoint::parse(b),
                Err(LogError::Malformed {
                    what: "checkpoint",
                    ..
                })
            ),
            "{b:?}"
        );
    }
    assert_eq!(
        Checkpoint::parse(&format!("o\n0\n{root}\n")).unwrap().size,
        0
    );
}

#[test]
fn a_test_log_never_passes_for_production() {
    // Even the same key: the origin names the environment and must match exactly.
    let key = SoftSigner::new(TEST_ORIGIN, 1);
    let cp = Checkpoint {
        origin: TEST_ORIGIN.into(),
        size: 3,
        root: leaf_hash(b"r"),
    };
    let note = cp.sign(&key).unwrap();
    assert_eq!(
        Checkpoint::open(&note, &key.verifier(), TEST_ORIGIN).unwrap(),
        cp
    );
    let err = Checkpoint::open(&note, &key.verifier(), PROD_ORIGIN).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("signature: checkpoint origin {TEST_ORIGIN:?}, expected {PROD_ORIGIN:?}")
    );
    // And with the production key (another name and key), the test note is not even signed.
    let prod = SoftSigner::new(PROD_ORIGIN, 2);
    assert!(
        Checkpoint::open(&note, &prod.verifier(), PROD_ORIGIN)
            .unwrap_err()
            .to_string()
            .contains("unknown key")
    );
    // Prefixes and suffixes of the origin are other origins.
    assert!(Checkpoint::open(&note, &key.verifier(), "inkan.example/log/tes").is_err());
    assert!(Checkpoint::open(&note, &key.verifier(), "inkan.example/log/test2").is_err());
    // An invalid origin cannot be signed.
    let bad = Checkpoint {
        origin: "a\nb".into(),
        size: 1,
        root: [0; 32],
    };
    assert!(bad.sign(&key).is_err());
}
