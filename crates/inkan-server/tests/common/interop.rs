//! The independent verifiers of `interop/` (npm packages, installed by `.ci/run`), run as the
//! tests' second opinion. Never skipped: without Node or the packages the tests fail and say
//! how to install them.

use std::path::PathBuf;
use std::process::Command;

/// The folder `interop/<dir>`, checked to have its packages installed.
pub fn interop(dir: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../interop")
        .join(dir);
    assert!(
        path.join("node_modules").is_dir(),
        "interop/{dir}/node_modules is missing: run `bash .ci/run` (or `npm install --prefix interop/{dir}`)"
    );
    path
}

/// Runs a Node script; `Ok(stdout)` when it exits 0, else `Err(stdout + stderr)`.
pub fn node(script: PathBuf, args: &[&str]) -> Result<String, String> {
    let out = Command::new("node")
        .arg(script)
        .args(args)
        .output()
        .expect("node (Node.js 20) must be installed");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr)))
    }
}
