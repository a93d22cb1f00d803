//! Signing throughput of the devices: ES256 and EdDSA on the software token and on SoftHSMv2
//! through PKCS#11, against a baseline of `ring` signing the same messages directly (the
//! floor a device can approach). Messages of 32 bytes (a digest-sized input) and 1 KiB.
//!
//! Owns only measurements: it must never be turned into a timed test or a pass/fail gate.
//! Measurement times are kept short so `cargo bench -p inkan-device --bench sign` finishes
//! in about a minute.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use inkan_device::soft::{KekSource, SoftConfig, SoftDevice};
use inkan_device::{Algorithm, CryptoDevice, KeySpec};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use std::hint::black_box;
use std::time::Duration;

#[path = "../tests/common/softhsm.rs"]
mod softhsm;

fn messages() -> [(&'static str, Vec<u8>); 2] {
    [("32B", vec![0x5a; 32]), ("1KiB", vec![0x5a; 1024])]
}

/// `ring` alone: no device, no handle lookup, no locks.
fn baseline(c: &mut Criterion) {
    let rng = SystemRandom::new();
    let p256_pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("P-256 key");
    let p256 =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, p256_pkcs8.as_ref(), &rng)
            .expect("P-256");
    let ed_pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("Ed25519 key");
    let ed = Ed25519KeyPair::from_pkcs8(ed_pkcs8.as_ref()).expect("Ed25519");

    let mut group = c.benchmark_group("ring");
    group.throughput(Throughput::Elements(1));
    for (name, message) in messages() {
        group.bench_with_input(BenchmarkId::new("ES256", name), &message, |b, m| {
            b.iter(|| p256.sign(&rng, black_box(m)).expect("sign"))
        });
        group.bench_with_input(BenchmarkId::new("EdDSA", name), &message, |b, m| {
            b.iter(|| ed.sign(black_box(m)))
        });
    }
    group.finish();
}

/// One device: an ES256 and an EdDSA key, each message size.
fn device_group(c: &mut Criterion, group_name: &str, device: &dyn CryptoDevice) {
    let p256 = device.generate(KeySpec::P256, "bench").expect("P-256 key");
    let ed = device
        .generate(KeySpec::Ed25519, "bench")
        .expect("Ed25519 key");
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(1));
    for (name, message) in messages() {
        group.bench_with_input(BenchmarkId::new("ES256", name), &message, |b, m| {
            b.iter(|| {
                device
                    .sign(&p256.handle, Algorithm::Es256, black_box(m))
                    .expect("sign")
            })
        });
        group.bench_with_input(BenchmarkId::new("EdDSA", name), &message, |b, m| {
            b.iter(|| {
                device
                    .sign(&ed.handle, Algorithm::EdDsa, black_box(m))
                    .expect("sign")
            })
        });
    }
    group.finish();
    for key in [p256, ed] {
        device.destroy(&key.handle).expect("destroy");
    }
}

fn soft_token(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = SoftConfig {
        path: dir.path().join("token"),
        kek: KekSource::File(dir.path().join("kek")),
    };
    let device = SoftDevice::open(&config).expect("open soft token");
    device_group(c, "soft", &device);
}

fn softhsm_token(c: &mut Criterion) {
    let device = softhsm::softhsm_device();
    device_group(c, "softhsm", &device);
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = baseline, soft_token, softhsm_token
}
criterion_main!(benches);
