//! Proof generation and verification stay logarithmic: the same operations on trees of
//! 10^3 and 10^6 leaves (stored hashes in memory), and the cost of an append.
//!
//! `cargo bench -p inkan-log --bench proofs`
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use inkan_log::hash::leaf_hash;
use inkan_log::tree::{self, MemoryTree};

const SIZES: [u64; 2] = [1_000, 1_000_000];

fn build(size: u64) -> MemoryTree {
    let mut t = MemoryTree::new();
    for i in 0..size {
        t.append(leaf_hash(&i.to_be_bytes())).unwrap();
    }
    t
}

/// Spreads probes over the whole tree (a multiplicative step coprime with the size).
fn probe(i: u64, size: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % size
}

fn benches(c: &mut Criterion) {
    let started = std::time::Instant::now();
    let trees: Vec<(u64, MemoryTree)> = SIZES.iter().map(|&s| (s, build(s))).collect();
    eprintln!("built trees of {SIZES:?} leaves in {:?}", started.elapsed());
    for (size, t) in &trees {
        let index = size / 3;
        eprintln!(
            "size {size}: {} stored hashes; inclusion proof of leaf {index}: {} hashes from {} stored reads; \
             consistency {}->{size}: {} hashes from {} stored reads",
            t.stored_hashes().len(),
            t.inclusion_proof(*size, index).unwrap().len(),
            tree::inclusion_proof_indexes(*size, index).unwrap().len(),
            size / 2 + 1,
            t.consistency_proof(size / 2 + 1, *size).unwrap().len(),
            tree::consistency_proof_indexes(size / 2 + 1, *size)
                .unwrap()
                .len(),
        );
    }

    let mut g = c.benchmark_group("inclusion_proof");
    for (size, t) in &trees {
        g.bench_with_input(BenchmarkId::from_parameter(size), size, |b, &size| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                black_box(t.inclusion_proof(size, probe(i, size)).unwrap())
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("verify_inclusion");
    for (size, t) in &trees {
        let root = t.root().unwrap();
        let cases: Vec<_> = (0..256)
            .map(|i| {
                let index = probe(i, *size);
                (
                    index,
                    leaf_hash(&index.to_be_bytes()),
                    t.inclusion_proof(*size, index).unwrap(),
                )
            })
            .collect();
        g.bench_with_input(BenchmarkId::from_parameter(size), size, |b, &size| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 1) % cases.len();
                let (index, leaf, proof) = &cases[i];
                tree::verify_inclusion(leaf, *index, size, proof, &root).unwrap()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("inclusion_proof_and_verify");
    for (size, t) in &trees {
        let root = t.root().unwrap();
        g.bench_with_input(BenchmarkId::from_parameter(size), size, |b, &size| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                let index = probe(i, size);
                let proof = t.inclusion_proof(size, index).unwrap();
                tree::verify_inclusion(&leaf_hash(&index.to_be_bytes()), index, size, &proof, &root)
                    .unwrap()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("consistency_proof");
    for (size, t) in &trees {
        g.bench_with_input(BenchmarkId::from_parameter(size), size, |b, &size| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                let old = 1 + probe(i, size - 1);
                black_box(t.consistency_proof(old, size).unwrap())
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("verify_consistency");
    for (size, t) in &trees {
        let root = t.root().unwrap();
        let cases: Vec<_> = (0..256)
            .map(|i| {
                let old = 1 + probe(i, size - 1);
                (
                    old,
                    t.root_at(old).unwrap(),
                    t.consistency_proof(old, *size).unwrap(),
                )
            })
            .collect();
        g.bench_with_input(BenchmarkId::from_parameter(size), size, |b, &size| {
            let mut i = 0usize;
            b.iter(|| {
                i = (i + 1) % cases.len();
                let (old, old_root, proof) = &cases[i];
                tree::verify_consistency(*old, old_root, size, &root, proof).unwrap()
            })
        });
    }
    g.finish();

    // Appending leaf n: hashes_to_store over 1024 consecutive n just below the size (the
    // stored hashes they read exist), so the average covers every carry pattern.
    let mut g = c.benchmark_group("append_hashes_to_store");
    for (size, t) in &trees {
        g.bench_with_input(BenchmarkId::from_parameter(size), size, |b, &size| {
            let mut i = 0u64;
            b.iter(|| {
                i += 1;
                let n = size - 1 - (i % 1024).min(size - 1);
                black_box(tree::hashes_to_store(n, leaf_hash(&n.to_be_bytes()), t).unwrap())
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("tree_hash");
    for (size, t) in &trees {
        g.bench_with_input(BenchmarkId::from_parameter(size), size, |b, &size| {
            b.iter(|| black_box(t.root_at(size).unwrap()))
        });
    }
    g.finish();
}

criterion_group! {
    name = proofs;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = benches
}
criterion_main!(proofs);
