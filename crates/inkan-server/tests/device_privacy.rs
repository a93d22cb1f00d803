//! The module-privacy rule of issue 14 point 1 (criteria 2.2.3, 2.1.3(12)): inside the service
//! only `device.rs` holds the raw crypto device, so a subscriber's key signs only with the
//! signing module's `SignPermit` and Inkan's own keys only through an `OwnKey`.
//!
//! The type rule itself is the compiler's: `SignPermit` and `OwnKey` cannot be made outside
//! their modules (the `compile_fail` examples on each, run by `cargo test --doc`). What this
//! test keeps is the other half: no other source file of the service or the `inkan` command
//! names the `CryptoDevice` trait, reaches the configuration's raw opening, or builds a
//! `DeviceSigner` (the formats' signer over a raw device).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `.rs` file of the service's and the command's sources, with its text.
fn service_sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    sources(&root.join("../inkan/src"), &mut files);
    assert!(files.len() > 50, "the sources were not found");
    files
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect()
}

#[test]
fn only_the_device_module_holds_the_raw_device() {
    // `device.rs` wraps it; `config.rs` opens it and returns it wrapped (`open_device`).
    let allowed = ["src/device.rs", "src/config.rs"];
    let mut offenders = Vec::new();
    for (name, text) in service_sources() {
        if allowed.contains(&name.as_str()) {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains("CryptoDevice") || code.contains("DeviceSigner") {
                offenders.push(format!("{name}:{}: {}", n + 1, line.trim()));
            }
            if code.contains("open_raw_device") {
                offenders.push(format!("{name}:{}: raw device {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "only crate::device may hold the raw crypto device (issue 14 point 1):\n{}",
        offenders.join("\n")
    );
}

/// The check above must be able to fail: it finds the device module's own use.
#[test]
fn the_rule_sees_the_device_module() {
    let sources = service_sources();
    let (_, device) = sources
        .iter()
        .find(|(name, _)| name == "src/device.rs")
        .unwrap();
    assert!(device.contains("Arc<dyn CryptoDevice>"));
    assert!(device.contains("permit: SignPermit"));
    assert!(device.contains("key: &OwnKey"));
}
