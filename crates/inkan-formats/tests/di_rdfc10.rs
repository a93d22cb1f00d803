//! RDFC-1.0 against vectors of the W3C RDF Dataset Canonicalization test suite
//! (`testdata/rdfc10/`, see `SOURCE.md` there): each input is parsed as N-Quads,
//! canonicalised, and compared byte for byte with the expected canonical N-Quads. The
//! `test075*` vectors run with SHA-384, the rest with SHA-256. Also: a poison graph is refused
//! within the work bound, and parsing refuses malformed N-Quads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use inkan_formats::FormatError;
use inkan_formats::data_integrity::rdfc::{self, HashAlgorithm};
use std::path::PathBuf;
use std::time::Instant;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/rdfc10")
}

#[test]
fn w3c_rdfc10_vectors_are_reproduced_byte_for_byte() {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with("-in.nq"))
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 20, "only {} vectors", inputs.len());
    let mut failures = Vec::new();
    for input in &inputs {
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        let expected_path = input.with_file_name(name.replace("-in.nq", "-rdfc10.nq"));
        let expected = std::fs::read_to_string(&expected_path).unwrap();
        let hash = if name.starts_with("test075") {
            HashAlgorithm::Sha384
        } else {
            HashAlgorithm::Sha256
        };
        let quads = rdfc::parse_nquads(&std::fs::read_to_string(input).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let start = Instant::now();
        let out = rdfc::canonicalize(&quads, hash).unwrap_or_else(|e| panic!("{name}: {e}"));
        let took = start.elapsed();
        assert!(took.as_secs() < 5, "{name} took {took:?}");
        if out != expected {
            failures.push(format!("{name}:\n--- got\n{out}--- expected\n{expected}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors differ:\n{}",
        failures.len(),
        inputs.len(),
        failures.join("\n")
    );
}

#[test]
fn sha384_differs_from_sha256_where_the_hash_decides_labels() {
    let input = std::fs::read_to_string(dir().join("test075-in.nq")).unwrap();
    let quads = rdfc::parse_nquads(&input).unwrap();
    let sha256 = rdfc::canonicalize(&quads, HashAlgorithm::Sha256).unwrap();
    let sha384 = rdfc::canonicalize(&quads, HashAlgorithm::Sha384).unwrap();
    assert_ne!(sha256, sha384);
    assert_eq!(
        sha256,
        std::fs::read_to_string(dir().join("test020-rdfc10.nq")).unwrap()
    );
}

/// A clique of 10 blank nodes, every one linked to every other (the shape of the suite's
/// negative "poison graph" test074): refused with a clear error, quickly.
#[test]
fn poison_graph_is_refused_within_the_work_bound() {
    let mut text = String::new();
    for i in 0..10 {
        for j in 0..10 {
            if i != j {
                text.push_str(&format!("_:e{i} <http://example.org/vocab#p> _:e{j} .\n"));
            }
        }
    }
    let quads = rdfc::parse_nquads(&text).unwrap();
    let start = Instant::now();
    let err = rdfc::canonicalize(&quads, HashAlgorithm::Sha256).unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(&err, FormatError::Unsupported(m) if m.contains("poison")),
        "{err}"
    );
    assert!(took.as_secs() < 20, "refusal took {took:?}");
}

#[test]
fn malformed_nquads_are_refused() {
    for bad in [
        "<http://a> <http://b> <http://c>\n",
        "<http://a> <http://b> \"x .\n",
        "\"s\" <http://b> <http://c> .\n",
        "<http://a> _:p <http://c> .\n",
        "<relative> <http://b> <http://c> .\n",
        "<http://a> <http://b> \"x\\q\" .\n",
        "<http://a> <http://b> <http://c> . extra\n",
    ] {
        assert!(
            matches!(rdfc::parse_nquads(bad), Err(FormatError::Malformed { .. })),
            "{bad:?}"
        );
    }
}
