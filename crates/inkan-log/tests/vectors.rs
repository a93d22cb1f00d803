//! Published test vectors: RFC 6962 hashing, tree heads and proofs (the 8-leaf reference
//! tree of transparency-dev/merkle), and the C2SP signed-note example of
//! golang.org/x/mod/sumdb/note. Sources are named inside the files under `testdata/`.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use inkan_log::hash::{empty_root, leaf_hash};
use inkan_log::note::{NoteSigner, NoteVerifier, key_id, sign_note};
use inkan_log::tree::{self, MemoryTree};
use inkan_log::{Hash, LogError};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn h(v: &Value) -> Hash {
    hex::decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(h).collect()
}

fn reference_tree() -> (MemoryTree, HashMap<u64, Hash>, Value) {
    let v = load("rfc6962-vectors.json");
    let mut tree = MemoryTree::new();
    let mut map = HashMap::new();
    for (n, leaf) in v["leaves"].as_array().unwrap().iter().enumerate() {
        let leaf = leaf_hash(&hex::decode(leaf.as_str().unwrap()).unwrap());
        // Append through the store-facing functions with a HashMap, as a database would.
        let n = n as u64;
        let start = tree::stored_hash_count(n);
        for (i, hash) in tree::hashes_to_store(n, leaf, &map)
            .unwrap()
            .into_iter()
            .enumerate()
        {
            map.insert(start + i as u64, hash);
        }
        tree.append(leaf).unwrap();
    }
    (tree, map, v)
}

#[test]
fn hasher() {
    let v = load("rfc6962-vectors.json");
    assert_eq!(empty_root(), h(&v["hasher"]["empty_root"]));
    assert_eq!(leaf_hash(b""), h(&v["hasher"]["leaf_hash_of_empty"]));
    assert_eq!(
        leaf_hash(b"L123456"),
        h(&v["hasher"]["leaf_hash_of_L123456"])
    );
}

#[test]
fn roots() {
    let (tree, map, v) = reference_tree();
    assert_eq!(tree.root_at(0).unwrap(), empty_root());
    for (size, root) in v["roots_by_size"].as_object().unwrap() {
        let size: u64 = size.parse().unwrap();
        assert_eq!(tree::tree_hash(size, &map).unwrap(), h(root), "size {size}");
        assert_eq!(tree.root_at(size).unwrap(), h(root), "size {size}");
    }
}

#[test]
fn inclusion_proofs() {
    let (_, map, v) = reference_tree();
    let leaves: Vec<Hash> = v["leaves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| leaf_hash(&hex::decode(l.as_str().unwrap()).unwrap()))
        .collect();
    for case in v["inclusion"].as_array().unwrap() {
        let index = case["index"].as_u64().unwrap();
        let size = case["size"].as_u64().unwrap();
        let want = hashes(&case["proof"]);
        assert_eq!(
            tree::inclusion_proof(size, index, &map).unwrap(),
            want,
            "{index} in {size}"
        );
        let root = h(&v["roots_by_size"][size.to_string()]);
        tree::verify_inclusion(&leaves[index as usize], index, size, &want, &root).unwrap();
        // Corruptions (as the reference suite probes them) fail.
        let leaf = &leaves[index as usize];
        assert!(tree::verify_inclusion(leaf, index + 1, size, &want, &root).is_err());
        assert!(tree::verify_inclusion(leaf, index, size * 2, &want, &root).is_err());
        assert!(tree::verify_inclusion(leaf, index, size, &want, &empty_root()).is_err());
        assert!(
            tree::verify_inclusion(&leaf_hash(b"WrongLeaf"), index, size, &want, &root).is_err()
        );
        let mut longer = want.clone();
        longer.push(root);
        assert!(tree::verify_inclusion(leaf, index, size, &longer, &root).is_err());
        let mut before = vec![root];
        before.extend_from_slice(&want);
        assert!(tree::verify_inclusion(leaf, index, size, &before, &root).is_err());
        for i in 0..want.len() {
            let mut bad = want.clone();
            bad[i][0] ^= 8;
            assert!(tree::verify_inclusion(leaf, index, size, &bad, &root).is_err());
        }
        if !want.is_empty() {
            assert!(
                tree::verify_inclusion(leaf, index, size, &want[..want.len() - 1], &root).is_err()
            );
        }
    }
}

#[test]
fn consistency_proofs() {
    let (_, map, v) = reference_tree();
    for case in v["consistency"].as_array().unwrap() {
        let old = case["old_size"].as_u64().unwrap();
        let size = case["size"].as_u64().unwrap();
        let want = hashes(&case["proof"]);
        assert_eq!(
            tree::consistency_proof(old, size, &map).unwrap(),
            want,
            "{old} to {size}"
        );
        let old_root = h(&v["roots_by_size"][old.to_string()]);
        let root = h(&v["roots_by_size"][size.to_string()]);
        tree::verify_consistency(old, &old_root, size, &root, &want).unwrap();
        if want.is_empty() {
            continue;
        }
        assert!(
            tree::verify_consistency(old, &root, size, &old_root, &want).is_err(),
            "swapped roots"
        );
        assert!(tree::verify_consistency(old + 1, &old_root, size, &root, &want).is_err());
        assert!(tree::verify_consistency(old - 1, &old_root, size, &root, &want).is_err());
        assert!(tree::verify_consistency(old, &old_root, size * 2, &root, &want).is_err());
        assert!(tree::verify_consistency(old, &old_root, size, &root, &[]).is_err());
        assert!(
            tree::verify_consistency(old, &old_root, size, &root, &want[..want.len() - 1]).is_err()
        );
        let mut longer = want.clone();
        longer.push(root);
        assert!(tree::verify_consistency(old, &old_root, size, &root, &longer).is_err());
        let mut before = vec![want[0]];
        before.extend_from_slice(&want);
        assert!(tree::verify_consistency(old, &old_root, size, &root, &before).is_err());
        for i in 0..want.len() {
            let mut bad = want.clone();
            bad[i][0] ^= 16;
            assert!(tree::verify_consistency(old, &old_root, size, &root, &bad).is_err());
        }
    }
}

/// The Go reference note: same key id, same vkey, and (Ed25519 being deterministic) the
/// same signature byte for byte.
#[test]
fn signed_note_reference() {
    let v = load("signed-note-vectors.json");
    let vkey = v["vkey"].as_str().unwrap();
    let note = v["note"].as_str().unwrap();
    let text = v["text"].as_str().unwrap();
    let verifier = NoteVerifier::from_vkey(vkey).unwrap();
    assert_eq!(verifier.name(), "PeterNeumann");
    assert_eq!(
        format!("{:08x}", verifier.key_id()),
        v["key_id"].as_str().unwrap()
    );
    assert_eq!(verifier.vkey(), vkey);
    assert_eq!(verifier.open(note).unwrap(), text);
    assert!(
        verifier
            .open(&note.replace("cryptography", "cryptographY"))
            .is_err()
    );

    let skey = v["skey"].as_str().unwrap();
    let seed_b64 = skey.splitn(5, '+').nth(4).unwrap();
    let typed = B64.decode(seed_b64).unwrap();
    assert_eq!(typed[0], 0x01);
    let signer = common::SoftSigner {
        name: "PeterNeumann".into(),
        key: ed25519_dalek::SigningKey::from_bytes(&typed[1..].try_into().unwrap()),
    };
    assert_eq!(
        key_id("PeterNeumann", &signer.public_key()),
        verifier.key_id()
    );
    assert_eq!(sign_note(text, &signer).unwrap(), note);
}

#[test]
fn vkey_manglings_are_refused() {
    let v = load("signed-note-vectors.json");
    let vkey = v["vkey"].as_str().unwrap();
    let b = vkey.as_bytes();
    for i in 0..b.len() {
        for j in i + 1..=b.len() {
            if i == 0 && j == b.len() {
                continue;
            }
            if let Ok(s) = std::str::from_utf8(&b[i..j]) {
                assert!(NoteVerifier::from_vkey(s).is_err(), "{s}");
            }
        }
    }
    for i in 0..b.len() {
        let mut m = b.to_vec();
        m[i] = m[i].wrapping_add(1);
        if let Ok(s) = std::str::from_utf8(&m) {
            // A case change of a hex digit of the key id still names the same id.
            let same = s.eq_ignore_ascii_case(vkey) && (13..21).contains(&i);
            if !same {
                assert!(
                    matches!(NoteVerifier::from_vkey(s), Err(LogError::Malformed { .. })),
                    "{s}"
                );
            }
        }
    }
}
