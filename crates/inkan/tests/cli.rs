//! End-to-end tests of the `inkan keys` command, each run on the software token and on
//! SoftHSMv2 through PKCS#11, with SQLite as the store. OpenSSL is the independent party: it
//! verifies the CSRs (criteria 2.2.2(2)B-2) and produces wrapped keys for import
//! (criteria 2.2.2(2)A).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// These tests run host commands without dual control (a `test` deployment, `[operations]` M = 0
/// for them); `host_commands_need_an_approved_request_outside_test` shows the approval they
/// otherwise need.
const HOST_ACTIONS_WITHOUT_APPROVAL: &str = "[operations]\napprovals_for = { \"key.generate\" = 0, \"key.destroy\" = 0, \"key.import\" = 0, \"operator.add\" = 0, \"backup.create\" = 0, \"service.decommission\" = 0 }\n";

/// A scratch deployment: a config file, a store and a device of one kind.
struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    /// The OAEP hash the device unwraps inside it: SoftHSM 2.6 knows SHA-1 only.
    oaep_hash: &'static str,
    /// Whether the device can import Ed25519 keys (SoftHSM 2.6 cannot unwrap Edwards keys).
    imports_ed25519: bool,
    /// A SoftHSM configuration of this setup's own: its token folder is in `dir`, so one
    /// test's token initialisation never meets another's token listing (SoftHSM reads every
    /// token folder and fails on one being written).
    softhsm_conf: Option<PathBuf>,
}

impl Setup {
    fn soft() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let device = format!(
            "[device]\nkind = \"soft\"\npath = \"{0}/token\"\nkek_file = \"{0}/kek\"\n",
            dir.path().display()
        );
        Setup::with_device(dir, &device, "sha256", true)
    }

    fn softhsm() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("softhsm-tokens");
        std::fs::create_dir_all(&tokens).unwrap();
        let conf = dir.path().join("softhsm2.conf");
        std::fs::write(
            &conf,
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
                tokens.display()
            ),
        )
        .unwrap();
        let label = format!("cli-{}", &uuid_like()[..16]);
        let pin = uuid_like();
        let out = Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args([
                "--init-token",
                "--free",
                "--label",
                &label,
                "--so-pin",
                "so-pin-1234",
                "--pin",
                &pin,
            ])
            .output()
            .expect("softhsm2-util is installed (bash .ci/run installs SoftHSMv2)");
        assert!(
            out.status.success(),
            "softhsm2-util: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let pin_file = dir.path().join("pin");
        std::fs::write(&pin_file, format!("{pin}\n")).unwrap();
        let module = std::env::var("INKAN_TEST_PKCS11_MODULE")
            .unwrap_or_else(|_| "/usr/lib/softhsm/libsofthsm2.so".into());
        let device = format!(
            "[device]\nkind = \"pkcs11\"\nmodule = \"{module}\"\ntoken_label = \"{label}\"\nuser_pin_file = \"{}\"\n",
            pin_file.display()
        );
        let mut setup = Setup::with_device(dir, &device, "sha1", false);
        setup.softhsm_conf = Some(conf);
        setup
    }

    fn with_device(
        dir: tempfile::TempDir,
        device: &str,
        oaep_hash: &'static str,
        imports_ed25519: bool,
    ) -> Setup {
        let config = dir.path().join("inkan.toml");
        let text = format!(
            "environment = \"test\"\n{device}\n[store]\nurl = \"sqlite://{}/inkan.db\"\n{HOST_ACTIONS_WITHOUT_APPROVAL}",
            dir.path().display()
        );
        std::fs::write(&config, text).unwrap();
        Setup {
            dir,
            config,
            oaep_hash,
            imports_ed25519,
            softhsm_conf: None,
        }
    }

    /// Rewrites this setup's configuration with `edit`; returns the text it had.
    fn edit_config(&self, edit: impl FnOnce(&str) -> String) -> String {
        let original = std::fs::read_to_string(&self.config).unwrap();
        std::fs::write(&self.config, edit(&original)).unwrap();
        original
    }

    /// The `inkan` command, with this setup's SoftHSM configuration.
    fn inkan(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_inkan"));
        if let Some(conf) = &self.softhsm_conf {
            command.env("SOFTHSM2_CONF", conf);
        }
        command
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> Output {
        self.inkan()
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("INKAN_CONFIG")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "inkan {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let stdout = self.ok(args);
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("inkan {args:?} printed no JSON ({e}): {stdout}"))
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "inkan {args:?} should have failed");
        String::from_utf8(out.stderr).unwrap()
    }

    fn generate(&self, alg: &str) -> String {
        let key = self.json(&[
            "keys",
            "generate",
            "--alg",
            alg,
            "--label",
            "test key",
            "--rsa-bits",
            "2048",
            "--json",
        ]);
        key["id"].as_str().unwrap().to_owned()
    }

    /// The log's public key as `inkan log key` prints it (a C2SP vkey).
    fn log_vkey(&self) -> String {
        self.ok(&["log", "key"])
            .lines()
            .find_map(|l| l.strip_prefix("vkey:"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// `inkan log verify --export` of `text` offline (no config: no store, no device), with
    /// `vkey` (and `origin`): whether it passed, and what it printed.
    fn verify_offline(&self, text: &str, vkey: &str, origin: Option<&str>) -> (bool, String) {
        let path = self.path("verified.jsonl");
        std::fs::write(&path, text).unwrap();
        let mut args = vec![
            "log",
            "verify",
            "--export",
            path.to_str().unwrap(),
            "--log-key",
            vkey,
        ];
        if let Some(origin) = origin {
            args.extend(["--origin", origin]);
        }
        let out = self
            .inkan()
            .args(&args)
            .env_remove("INKAN_CONFIG")
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    fn wrapping_algorithm(&self) -> &'static str {
        if self.oaep_hash == "sha1" {
            "RSA_AES_KEY_WRAP_SHA_1"
        } else {
            "RSA_AES_KEY_WRAP_SHA_256"
        }
    }

    fn assert_reconciled(&self) {
        let found = self.json(&["keys", "reconcile", "--json"]);
        assert_eq!(
            found["orphans"],
            Value::Array(vec![]),
            "device keys nobody owns"
        );
        assert_eq!(
            found["missing"],
            Value::Array(vec![]),
            "registry keys the device lacks"
        );
    }
}

fn uuid_like() -> String {
    let mut bytes = [0u8; 16];
    getrandom(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn getrandom(buf: &mut [u8]) {
    use std::io::Read as _;
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(buf)
        .unwrap();
}

fn openssl(args: &[&str], dir: &Path) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?}: {text}");
    text
}

/// Runs each case as `soft::<case>` and `softhsm::<case>`.
macro_rules! on_both_devices {
    ($($case:ident),* $(,)?) => {
        mod soft { $( #[test] fn $case() { super::$case(&super::Setup::soft()); } )* }
        mod softhsm { $( #[test] fn $case() { super::$case(&super::Setup::softhsm()); } )* }
    };
}

on_both_devices!(
    generate_list_and_show,
    csr_passes_openssl_verify,
    import_of_an_openssl_key_works,
    import_of_a_mismatched_key_is_refused_and_leaves_nothing,
    certificate_attach_checks_the_key,
    destroy_is_final,
    bad_input_gets_a_clear_error,
);

fn generate_list_and_show(setup: &Setup) {
    let key = setup.json(&[
        "keys",
        "generate",
        "--alg",
        "ES256",
        "--label",
        "issuer seal",
        "--owner",
        "acme",
        "--json",
    ]);
    assert_eq!(key["alg"], "ES256");
    assert_eq!(key["state"], "active");
    assert_eq!(key["origin"], "generated");
    assert_eq!(key["public_jwk"]["kty"], "EC");
    assert_eq!(key["public_jwk"]["crv"], "P-256");
    assert!(key["did_key"].as_str().unwrap().starts_with("did:key:zDn"));
    assert!(key["did_jwk"].as_str().unwrap().starts_with("did:jwk:"));
    let id = key["id"].as_str().unwrap();

    let ed = setup.generate("EdDSA");
    let listed = setup.json(&["keys", "list", "--json"]);
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["owner"] != "inkan")
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id, ed.as_str()]);
    // Inkan's own transparency-log key is in the registry too, an Ed25519 key in the device.
    // (The delivery key is made only by a server that starts, never by a host command.)
    let log_key: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["owner"] == "inkan")
        .collect();
    assert_eq!(log_key.len(), 1);
    assert_eq!(log_key[0]["label"], "transparency log");
    assert_eq!(log_key[0]["alg"], "EdDSA");
    let mine = setup.json(&["keys", "list", "--owner", "acme", "--json"]);
    assert_eq!(mine.as_array().unwrap().len(), 1);

    let shown = setup.json(&["keys", "show", id, "--json"]);
    assert_eq!(shown, key);
    let text = setup.ok(&["keys", "show", id]);
    assert!(text.contains("-----BEGIN PUBLIC KEY-----"), "{text}");
    setup.assert_reconciled();
}

fn csr_passes_openssl_verify(setup: &Setup) {
    for alg in ["ES256", "EdDSA", "RS256"] {
        let id = setup.generate(alg);
        let pem = setup.ok(&[
            "keys",
            "csr",
            &id,
            "--subject",
            "CN=Example Issuer,O=Example Corp,C=JP",
        ]);
        std::fs::write(setup.path("req.pem"), &pem).unwrap();
        let text = openssl(
            &["req", "-verify", "-noout", "-subject", "-in", "req.pem"],
            setup.dir.path(),
        );
        assert!(text.contains("verify OK"), "{alg}: {text}");
        assert!(text.contains("CN = Example Issuer"), "{alg}: {text}");
        // The request carries the key the registry shows.
        let spki = openssl(
            &["req", "-in", "req.pem", "-noout", "-pubkey"],
            setup.dir.path(),
        );
        let shown = setup.json(&["keys", "show", &id, "--json"]);
        assert_eq!(
            spki.trim(),
            shown["public_key_pem"].as_str().unwrap().trim(),
            "{alg}"
        );
    }
}

/// Wraps `key.pem` (any private key OpenSSL reads) for import exactly as the README tells an
/// issuer to: RSA-OAEP of a fresh AES key (with the hash the device unwraps), then AES-KWP of
/// the PKCS#8 (OpenSSL's `id-aes256-wrap-pad`), concatenated.
fn wrap_with_openssl(setup: &Setup, key_pem: &str, out: &str) {
    let dir = setup.dir.path();
    std::fs::write(
        dir.join("wrapping.pem"),
        setup.ok(&["keys", "wrapping-key"]),
    )
    .unwrap();
    openssl(&["rand", "-out", "aes.key", "32"], dir);
    openssl(
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            "wrapping.pem",
            "-in",
            "aes.key",
            "-out",
            "part1.bin",
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            &format!("rsa_oaep_md:{}", setup.oaep_hash),
            "-pkeyopt",
            &format!("rsa_mgf1_md:{}", setup.oaep_hash),
        ],
        dir,
    );
    openssl(
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", key_pem, "-outform", "DER", "-out", "key.p8",
        ],
        dir,
    );
    let aes_hex: String = std::fs::read(dir.join("aes.key"))
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    openssl(
        &[
            "enc",
            "-id-aes256-wrap-pad",
            "-iv",
            "A65959A6",
            "-K",
            &aes_hex,
            "-in",
            "key.p8",
            "-out",
            "part2.bin",
        ],
        dir,
    );
    let wrapped = [
        std::fs::read(dir.join("part1.bin")).unwrap(),
        std::fs::read(dir.join("part2.bin")).unwrap(),
    ]
    .concat();
    std::fs::write(dir.join(out), wrapped).unwrap();
    for scratch in ["aes.key", "key.p8", "part1.bin", "part2.bin"] {
        std::fs::remove_file(dir.join(scratch)).unwrap();
    }
}

fn import_of_an_openssl_key_works(setup: &Setup) {
    let dir = setup.dir.path();
    for (alg, genpkey) in [
        (
            "ES256",
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "issuer.pem",
            ][..],
        ),
        (
            "EdDSA",
            &["genpkey", "-algorithm", "ED25519", "-out", "issuer.pem"][..],
        ),
        (
            "PS256",
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-out",
                "issuer.pem",
            ][..],
        ),
    ] {
        openssl(genpkey, dir);
        openssl(
            &["pkey", "-in", "issuer.pem", "-pubout", "-out", "issuer.pub"],
            dir,
        );
        wrap_with_openssl(setup, "issuer.pem", "wrapped.bin");
        let wrapped = setup.path("wrapped.bin");
        let public = setup.path("issuer.pub");
        let import = [
            "keys",
            "import",
            "--wrapped",
            wrapped.to_str().unwrap(),
            "--public",
            public.to_str().unwrap(),
            "--wrapping-algorithm",
            setup.wrapping_algorithm(),
            "--alg",
            alg,
            "--label",
            "issuer",
            "--json",
        ];
        if alg == "EdDSA" && !setup.imports_ed25519 {
            let err = setup.fails(&import);
            assert!(
                err.contains("Ed25519"),
                "the device's limit is named: {err}"
            );
            continue;
        }
        let key = setup.json(&import);
        assert_eq!(key["origin"], "imported", "{alg}");
        assert_eq!(key["state"], "active");
        let expected = std::fs::read_to_string(&public).unwrap();
        assert_eq!(
            key["public_key_pem"].as_str().unwrap().trim(),
            expected.trim(),
            "{alg}"
        );
        // The imported key signs: its CSR verifies under the issuer's own public key.
        let id = key["id"].as_str().unwrap();
        std::fs::write(
            setup.path("req.pem"),
            setup.ok(&["keys", "csr", id, "--subject", "CN=Imported"]),
        )
        .unwrap();
        let text = openssl(&["req", "-verify", "-noout", "-in", "req.pem"], dir);
        assert!(text.contains("verify OK"), "{alg}: {text}");
    }
    setup.assert_reconciled();
}

fn import_of_a_mismatched_key_is_refused_and_leaves_nothing(setup: &Setup) {
    let dir = setup.dir.path();
    setup.generate("ES256");
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "real.pem",
        ],
        dir,
    );
    openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "other.pem",
        ],
        dir,
    );
    openssl(
        &["pkey", "-in", "other.pem", "-pubout", "-out", "other.pub"],
        dir,
    );
    wrap_with_openssl(setup, "real.pem", "wrapped.bin");
    let before = setup.json(&["keys", "list", "--json"]);
    let wrapped = setup.path("wrapped.bin");
    let other = setup.path("other.pub");
    let err = setup.fails(&[
        "keys",
        "import",
        "--wrapped",
        wrapped.to_str().unwrap(),
        "--public",
        other.to_str().unwrap(),
        "--wrapping-algorithm",
        setup.wrapping_algorithm(),
        "--alg",
        "ES256",
        "--label",
        "mismatch",
    ]);
    assert!(err.contains("does not match"), "{err}");
    assert!(!err.contains("BEGIN"), "no key material in errors: {err}");
    assert_eq!(
        setup.json(&["keys", "list", "--json"]),
        before,
        "nothing in the registry"
    );
    setup.assert_reconciled();

    // Truncated input is refused with a clear error too.
    let bytes = std::fs::read(&wrapped).unwrap();
    std::fs::write(&wrapped, &bytes[..bytes.len() - 9]).unwrap();
    let err = setup.fails(&[
        "keys",
        "import",
        "--wrapped",
        wrapped.to_str().unwrap(),
        "--public",
        other.to_str().unwrap(),
        "--wrapping-algorithm",
        setup.wrapping_algorithm(),
        "--alg",
        "ES256",
        "--label",
        "truncated",
    ]);
    assert!(err.contains("wrapped key"), "{err}");
    setup.assert_reconciled();
}

fn certificate_attach_checks_the_key(setup: &Setup) {
    let dir = setup.dir.path();
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=Test CA",
            "-days",
            "30",
        ],
        dir,
    );
    let id = setup.generate("ES256");
    std::fs::write(
        setup.path("req.pem"),
        setup.ok(&["keys", "csr", &id, "--subject", "CN=Issuer"]),
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "req.pem",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "7",
            "-out",
            "leaf.pem",
        ],
        dir,
    );
    let chain = [
        std::fs::read_to_string(setup.path("leaf.pem")).unwrap(),
        std::fs::read_to_string(setup.path("ca.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(setup.path("chain.pem"), chain).unwrap();

    let other = setup.generate("ES256");
    let chain_path = setup.path("chain.pem");
    let err = setup.fails(&[
        "keys",
        "attach-cert",
        &other,
        "--chain",
        chain_path.to_str().unwrap(),
    ]);
    assert!(err.contains("not this key"), "{err}");

    let reversed = [
        std::fs::read_to_string(setup.path("ca.pem")).unwrap(),
        std::fs::read_to_string(setup.path("leaf.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(setup.path("reversed.pem"), reversed).unwrap();
    let reversed_path = setup.path("reversed.pem");
    let err = setup.fails(&[
        "keys",
        "attach-cert",
        &id,
        "--chain",
        reversed_path.to_str().unwrap(),
    ]);
    assert!(err.contains("leaf first"), "{err}");

    let key = setup.json(&[
        "keys",
        "attach-cert",
        &id,
        "--chain",
        chain_path.to_str().unwrap(),
        "--json",
    ]);
    let pem = key["certificate_chain_pem"].as_str().unwrap();
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(
        key["certificate_validity"]["not_after"].as_i64().unwrap()
            > key["certificate_validity"]["not_before"].as_i64().unwrap()
    );
}

fn destroy_is_final(setup: &Setup) {
    let id = setup.generate("EdDSA");
    let keep = setup.generate("EdDSA");
    let err = setup.fails(&["keys", "destroy", &id, "--reason", " "]);
    assert!(err.contains("reason"), "{err}");
    let key = setup.json(&[
        "keys",
        "destroy",
        &id,
        "--reason",
        "subscriber left (2.2.2(3)C)",
        "--json",
    ]);
    assert_eq!(key["state"], "destroyed");
    assert_eq!(key["state_reason"], "subscriber left (2.2.2(3)C)");
    assert!(key["state_changed_at"].as_i64().is_some());
    let err = setup.fails(&["keys", "csr", &id, "--subject", "CN=x"]);
    assert!(err.contains("destroyed"), "{err}");
    let err = setup.fails(&["keys", "destroy", &id, "--reason", "again"]);
    assert!(err.contains("already destroyed"), "{err}");
    assert_eq!(
        setup
            .json(&[
                "keys", "list", "--state", "active", "--owner", "default", "--json"
            ])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        setup.json(&["keys", "show", &keep, "--json"])["state"],
        "active"
    );
    setup.assert_reconciled();
}

fn bad_input_gets_a_clear_error(setup: &Setup) {
    let err = setup.fails(&["keys", "show", "key_nothex"]);
    assert!(err.contains("not a key id"), "{err}");
    let err = setup.fails(&["keys", "show", "key_0123456789abcdef0123456789abcdef"]);
    assert!(err.contains("no key"), "{err}");
    let err = setup.fails(&["keys", "generate", "--alg", "HS256", "--label", "x"]);
    assert!(err.contains("unknown algorithm"), "{err}");
    let err = setup.fails(&[
        "keys",
        "generate",
        "--alg",
        "RS256",
        "--rsa-bits",
        "1024",
        "--label",
        "x",
    ]);
    assert!(err.contains("2048 or RSA-3072"), "{err}");
    let err = setup.fails(&["keys", "generate", "--alg", "ES256", "--label", ""]);
    assert!(err.contains("label"), "{err}");
    let id = setup.generate("ES256");
    let err = setup.fails(&["keys", "csr", &id, "--subject", "no equals sign"]);
    assert!(err.contains("subject"), "{err}");
}

/// Criteria 2.2.2(1): the software token does not start in production unless allowed.
#[test]
fn software_token_is_refused_in_production() {
    let setup = Setup::soft();
    setup.edit_config(|text| {
        text.replace("environment = \"test\"", "environment = \"production\"")
            .replace(HOST_ACTIONS_WITHOUT_APPROVAL, "")
    });
    let err = setup.fails(&["keys", "list"]);
    assert!(
        err.contains("2.2.2(1)") && err.contains("not a certified"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_inkan"))
        .args([
            "--config",
            setup.config.to_str().unwrap(),
            "keys",
            "list",
            "--json",
        ])
        .env("INKAN_ALLOW_SOFTWARE_DEVICE_IN_PRODUCTION", "true")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("allowed in production"),
        "the choice is logged"
    );
}

/// Inkan's own keys in a software token beside an HSM (issue 19 point 4: for HSMs that cannot
/// make Ed25519 keys), only when `[log.key_device]` says so, and said at every start: the log
/// key is made there and signs checkpoints from there, while subscribers' keys stay in the
/// HSM; the log verifies; a backup refuses what it would not cover.
#[test]
fn own_keys_live_in_the_token_the_configuration_names() {
    let setup = Setup::softhsm();
    let own = setup.path("own-keys");
    let text = setup.edit_config(|text| {
        text.replace(
            "[store]",
            &format!(
                "[log.key_device]\nkind = \"soft\"\npath = \"{0}/token\"\nkek_file = \"{0}/kek\"\n[store]",
                own.display()
            ),
        )
    });
    let id = setup.generate("ES256");
    let keys = setup.json(&["keys", "list", "--json"]);
    let device_of = |owner_inkan: bool| -> Vec<String> {
        keys.as_array()
            .unwrap()
            .iter()
            .filter(|k| (k["owner"] == "inkan") == owner_inkan)
            .map(|k| k["device"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(device_of(true), ["soft"], "{keys}");
    assert_eq!(device_of(false), ["pkcs11"], "{keys}");
    // The log key's sealed file is in the software token; the HSM holds only the issuer's key.
    assert!(std::fs::read_dir(own.join("token")).unwrap().count() > 0);
    setup.assert_reconciled();
    setup.ok(&["log", "checkpoint"]);
    let verified = setup.ok(&["log", "verify"]);
    assert!(verified.contains("log verified"), "{verified}");
    let out = setup.run(&["keys", "show", &id]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("[log.key_device]"),
        "the choice is said at every start"
    );
    let (archive, shares) = (setup.path("backup.tar"), setup.path("shares"));
    let err = setup.fails(&[
        "backup",
        "create",
        "--threshold",
        "1",
        "--shares",
        "1",
        "--out",
        archive.to_str().unwrap(),
        "--share-dir",
        shares.to_str().unwrap(),
    ]);
    assert!(err.contains("[log.key_device]"), "{err}");
    // Without the section, the log key is not where the configuration now says: refused,
    // rather than signing checkpoints with nothing.
    std::fs::write(&setup.config, text).unwrap();
    let err = setup.fails(&["keys", "list"]);
    assert!(err.contains("was added or removed"), "{err}");
}

/// `inkan device check` (issue 19 point 4) passes on fresh tokens, leaves no key, and refuses
/// a token that already holds keys unless told, and a production configuration.
#[test]
fn device_check_runs_on_fresh_tokens_only() {
    for (setup, soft) in [(Setup::soft(), true), (Setup::softhsm(), false)] {
        // The software token passes every check; a SoftHSM token whose SO made no backup key
        // fails only the backup check (docs/hsm.md shows it passing with one).
        let check = |args: &[&str]| {
            if soft {
                let out = setup.ok(args);
                assert!(out.contains("every check passed"), "{out}");
            } else {
                let err = setup.fails(args);
                assert!(err.contains("1 of 6 checks failed"), "{err}");
            }
        };
        check(&["device", "check"]);
        setup.generate("ES256");
        let err = setup.fails(&["device", "check"]);
        assert!(err.contains("holds 2 signing keys"), "{err}");
        check(&["device", "check", "--token-in-use"]);
        // The key and the log key, nothing the check made.
        assert_eq!(
            setup
                .json(&["keys", "list", "--json"])
                .as_array()
                .unwrap()
                .len(),
            2
        );
        setup.assert_reconciled();
    }
    let setup = Setup::soft();
    setup.edit_config(|text| {
        text.replace(
            "environment = \"test\"",
            "environment = \"production\"\nallow_software_device_in_production = true",
        )
        .replace(HOST_ACTIONS_WITHOUT_APPROVAL, "")
    });
    let err = setup.fails(&["device", "check"]);
    assert!(err.contains("production keys"), "{err}");
}

/// Criteria 2.1.3(15): a store of one environment is refused by a deployment configured for
/// another, before anything is changed.
#[test]
fn a_store_of_another_environment_is_refused() {
    let setup = Setup::soft();
    let id = setup.generate("ES256");
    let original = setup
        .edit_config(|text| text.replace("environment = \"test\"", "environment = \"staging\""));
    for args in [
        &["keys", "csr", &id, "--subject", "CN=x"][..],
        &["keys", "list"][..],
        &["log", "verify"][..],
    ] {
        let err = setup.fails(args);
        assert!(
            err.contains("belongs to the test environment, not staging"),
            "{args:?}: {err}"
        );
    }
    // Nothing was added: back in its own environment the store holds the same keys and log.
    std::fs::write(&setup.config, original).unwrap();
    assert_eq!(
        setup
            .json(&["keys", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let verified = setup.ok(&["log", "verify"]);
    assert!(verified.contains("log verified: 3 entries"), "{verified}");
}

/// The README's first command: the embedded default needs no configuration and no setup, and
/// keeps its data (owner-only) in ./inkan-data.
#[test]
fn readme_first_command_works_in_an_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| inkan_in(dir.path(), args);
    // A command whose arguments are wrong creates nothing (issue 19 point 8).
    let wrong = run(&["keys", "list", "--state", "foo"]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("active"));
    for args in [
        &["keys", "show", "foo"][..],
        &["keys", "destroy", "foo", "--reason", "x"],
        &["keys", "csr", "foo", "--subject", "CN=x"],
    ] {
        let wrong = run(args);
        assert!(!wrong.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&wrong.stderr).contains("not a key id"),
            "{args:?}"
        );
    }
    assert!(
        !dir.path().join("inkan-data").exists(),
        "a refused command made a deployment"
    );
    let out = run(&["keys", "generate", "--alg", "ES256", "--label", "first-key"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("state:       active") && text.contains("device:      soft"),
        "{text}"
    );
    let listed = run(&["keys", "list", "--owner", "default", "--json"]);
    let keys: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    use std::os::unix::fs::PermissionsExt as _;
    for private in ["inkan-data", "inkan-data/kek", "inkan-data/soft-token"] {
        let mode = std::fs::metadata(dir.path().join(private))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{private} is readable by others");
    }
}

/// `inkan ARGS` run in `dir` without a configuration: its output.
fn inkan_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_inkan"))
        .args(args)
        .current_dir(dir)
        .env_remove("INKAN_CONFIG")
        .output()
        .unwrap()
}

/// Issue 3's hostile cases through `inkan log verify --export` and `inkan log receipt
/// --verify`, offline with only the log's public key: each is detected and named.
/// An export's modified entry is caught (criteria 2.1.3(12), 2.3.3(5)): after host commands
/// and no checkpoint, `inkan log export` takes one, so the export ends on a checkpoint that
/// covers every entry; an entry modified in it fails verification, and so does an export
/// whose final checkpoint was cut off.
#[test]
fn an_exports_modified_entry_is_caught() {
    let setup = Setup::soft();
    setup.generate("ES256");
    setup.generate("EdDSA");
    let export = setup.path("export.jsonl");
    setup.ok(&["log", "export", "--out", export.to_str().unwrap()]);
    let vkey = setup.log_vkey();
    let good = std::fs::read_to_string(&export).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let last: Value = serde_json::from_str(lines[lines.len() - 1]).unwrap();
    assert_eq!(
        last["type"], "checkpoint",
        "the export ends on a checkpoint"
    );
    let entries = lines.len() - 1;
    let (ok, text) = setup.verify_offline(&good, &vkey, None);
    assert!(
        ok && text.contains(&format!("log verified: {entries} entries, 1 checkpoints")),
        "{text}"
    );
    // The last entry, modified (still canonical: only its time changed).
    let modified: String = {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let index = entries - 1;
        let line: Value = serde_json::from_str(lines[index]).unwrap();
        let bytes = b64.decode(line["entry"].as_str().unwrap()).unwrap();
        let altered = String::from_utf8(bytes)
            .unwrap()
            .replacen("\"time\":1", "\"time\":2", 1);
        let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        changed[index] = format!(
            "{{\"type\":\"entry\",\"index\":{index},\"entry\":\"{}\"}}",
            b64.encode(altered)
        );
        changed.iter().map(|l| format!("{l}\n")).collect()
    };
    assert_ne!(modified, good);
    let (ok, text) = setup.verify_offline(&modified, &vkey, None);
    assert!(!ok, "a modified entry verified: {text}");
    assert!(text.contains("root does not match"), "{text}");
    // Without its final checkpoint the same export proves nothing, and is refused.
    let cut: String = modified
        .lines()
        .take(entries)
        .map(|l| format!("{l}\n"))
        .collect();
    let (ok, text) = setup.verify_offline(&cut, &vkey, None);
    assert!(!ok, "entries no checkpoint covers verified: {text}");
    assert!(
        text.contains("the export holds no signed checkpoint"),
        "{text}"
    );
}

#[test]
fn log_tampering_is_detected_offline() {
    let setup = Setup::soft();
    for _ in 0..3 {
        setup.generate("ES256");
    }
    setup.ok(&["log", "checkpoint"]);
    setup.generate("EdDSA");
    setup.ok(&["log", "checkpoint"]);
    let export = setup.path("export.jsonl");
    setup.ok(&["log", "export", "--out", export.to_str().unwrap()]);
    let vkey = setup.log_vkey();
    let good = std::fs::read_to_string(&export).unwrap();
    let lines: Vec<&str> = good.lines().collect();
    let offline = |text: &str, origin: Option<&str>| setup.verify_offline(text, &vkey, origin);
    let (ok, text) = offline(&good, None);
    assert!(
        ok && text.contains("log verified: 9 entries, 2 checkpoints"),
        "{text}"
    );

    let joined = |lines: &[&str]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    let entry_json = |i: usize| -> Value { serde_json::from_str(lines[i]).unwrap() };
    assert_eq!(entry_json(2)["type"], "entry");
    // A modified entry.
    let mut modified: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let bytes = b64
            .decode(entry_json(2)["entry"].as_str().unwrap())
            .unwrap();
        // Still a canonical entry, only its time changed: the tree no longer matches.
        let altered = String::from_utf8(bytes)
            .unwrap()
            .replacen("\"time\":1", "\"time\":2", 1);
        modified[2] = format!(
            "{{\"type\":\"entry\",\"index\":2,\"entry\":\"{}\"}}",
            b64.encode(altered)
        );
    }
    let cases: Vec<(&str, String, Option<&str>, &str)> = vec![
        (
            "modified entry",
            modified.iter().map(|l| format!("{l}\n")).collect(),
            None,
            "root does not match",
        ),
        (
            "deleted entry",
            joined(&[&lines[..3], &lines[4..]].concat()),
            None,
            "entry 3 missing",
        ),
        (
            "swapped entries",
            joined(&[&lines[..2], &[lines[3], lines[2]], &lines[4..]].concat()),
            None,
            "entry 2 missing (found 3",
        ),
        (
            "truncated log",
            joined(&[&lines[..5], &lines[lines.len() - 1..]].concat()),
            None,
            "not in the export",
        ),
        (
            "forged checkpoint",
            good.replacen("— ", "— x", 1),
            None,
            "checkpoint",
        ),
        (
            "another environment",
            good.clone(),
            Some("inkan.localhost/log/production"),
            "origin",
        ),
        (
            "trailing garbage",
            format!("{good}garbage\n"),
            None,
            "trailing garbage",
        ),
    ];
    for (name, text, origin, expected) in cases {
        let (ok, output) = offline(&text, origin);
        assert!(!ok, "{name}: verified though tampered");
        assert!(
            output.contains(expected),
            "{name}: expected {expected:?} in {output}"
        );
    }

    // A receipt verifies offline; one with a flipped bit in its proof does not.
    let receipt = setup.ok(&["log", "receipt", "2"]);
    let path = setup.path("receipt.txt");
    std::fs::write(&path, &receipt).unwrap();
    let verify = |path: &Path| {
        Command::new(env!("CARGO_BIN_EXE_inkan"))
            .args([
                "log",
                "receipt",
                "--verify",
                path.to_str().unwrap(),
                "--log-key",
                &vkey,
            ])
            .output()
            .unwrap()
    };
    let out = verify(&path);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("entry 2 is in the log"));
    let proof_line = receipt
        .lines()
        .position(|l| l.starts_with("index "))
        .unwrap()
        + 1;
    let mut flipped: Vec<String> = receipt.lines().map(str::to_owned).collect();
    let first = flipped[proof_line].remove(0);
    flipped[proof_line].insert(0, if first == 'A' { 'B' } else { 'A' });
    std::fs::write(&path, flipped.join("\n") + "\n").unwrap();
    let out = verify(&path);
    assert!(!out.status.success(), "a flipped proof bit verified");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("receipt verification failed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `inkan verify` on the published vectors (issue 4): each valid one is accepted (with
/// `--proof-only` where the vector's issuer does not control its key), each tampered or
/// out-of-date one refused, with exit status 0 only when valid.
#[test]
fn inkan_verify_accepts_the_vectors_and_refuses_tampering() {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../inkan-formats/testdata");
    let dir = tempfile::tempdir().unwrap();
    let verify = |file: &Path, args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_inkan"))
            .arg("verify")
            .arg(file)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let tampered = |name: &str, text: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };

    // Data Integrity: EdDSA (rdfc, jcs) and ECDSA (rdfc, jcs; P-256 and P-384).
    for vector in [
        "data-integrity/eddsa/eddsa-rdfc-2022/signedDataInt.json",
        "data-integrity/eddsa/eddsa-jcs-2022/signedJCS.json",
        "data-integrity/ecdsa/ecdsa-rdfc-2019-p256/signedECDSAP256.json",
        "data-integrity/ecdsa/ecdsa-rdfc-2019-p384/signedECDSAP384.json",
        "data-integrity/ecdsa/ecdsa-jcs-2019-p256/signedJCSECDSAP256.json",
        "data-integrity/ecdsa/ecdsa-jcs-2019-p384/signedJCSECDSAP384.json",
    ] {
        let path = testdata.join(vector);
        let (ok, text) = verify(&path, &["--proof-only"]);
        assert!(
            ok && text.contains("valid: Data Integrity credential"),
            "{vector}: {text}"
        );
        let (ok, text) = verify(&path, &[]);
        assert!(!ok && text.contains("controller"), "{vector}: {text}");
        let original = std::fs::read_to_string(&path).unwrap();
        assert!(
            original.contains("Alumni"),
            "{vector} is the alumni credential"
        );
        let (ok, text) = verify(
            &tampered("di.json", original.replacen("Alumni", "Alumna", 1)),
            &["--proof-only"],
        );
        assert!(
            !ok && text.contains("not valid"),
            "{vector} tampered: {text}"
        );
    }

    // mdoc: the ISO 18013-5 Annex D IssuerSigned, valid only while its certificate and MSO are.
    let annex_d = testdata.join("iso-18013-5/issuer_signed.cbor");
    // Its IACA is not published with it: the proof verifies, the issuer is unauthenticated,
    // never plainly valid (issue 15; `tests/verify.rs` has the anchored cases).
    let (ok, text) = verify(&annex_d, &["--at", "2021-01-01T00:00:00Z", "--json"]);
    assert!(
        !ok && text.contains("\"valid\":false")
            && text.contains("\"issuerTrust\":\"unauthenticated\"")
            && text.contains("org.iso.18013.5.1.mDL"),
        "{text}"
    );
    let (ok, text) = verify(&annex_d, &[]);
    assert!(!ok && text.contains("not valid at"), "{text}");
    let hex = std::fs::read_to_string(&annex_d).unwrap();
    let flipped: String = {
        // Flip one hex digit inside the issuer-signed items (the first name space's values).
        let at = hex.len() / 3;
        let mut chars: Vec<char> = hex.trim().chars().collect();
        chars[at] = if chars[at] == '0' { '1' } else { '0' };
        chars.into_iter().collect()
    };
    let (ok, text) = verify(
        &tampered("mdoc.hex", flipped),
        &["--at", "2021-01-01T00:00:00Z"],
    );
    assert!(!ok, "tampered IssuerSigned verified: {text}");

    // SD-JWT VC: the draft's example 01 presentation with its KB-JWT, issuer key from the
    // example settings.
    let issuer_jwk = r#"{"kty":"EC","crv":"P-256","x":"b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ","y":"Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"}"#;
    let key = tampered("issuer.jwk", issuer_jwk.into());
    let wrapped =
        std::fs::read_to_string(testdata.join("sd-jwt-vc/01/sd_jwt_presentation.txt")).unwrap();
    let presentation: String = wrapped.split_whitespace().collect();
    let kb: Value = serde_json::from_str(
        &std::fs::read_to_string(testdata.join("sd-jwt-vc/01/kb_jwt_payload.json")).unwrap(),
    )
    .unwrap();
    let at = (kb["iat"].as_i64().unwrap() + 5).to_string();
    let file = tampered("sd.txt", presentation.clone());
    let key = key.to_str().unwrap();
    let args = |nonce: &'static str| -> Vec<String> {
        [
            "--key",
            key,
            "--aud",
            "https://example.com/verifier",
            "--nonce",
            nonce,
            "--at",
            &at,
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |path: &Path, args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        verify(path, &args)
    };
    let (ok, text) = run(&file, args("1234567890"));
    assert!(
        ok && text.contains("SD-JWT VC presentation with KB-JWT"),
        "{text}"
    );
    let (ok, text) = run(&file, args("0987654321"));
    assert!(!ok && text.contains("nonce"), "wrong nonce: {text}");
    let first_disclosure_end = presentation.find('~').unwrap();
    let without_kb = &presentation[..presentation.rfind('~').unwrap() + 1];
    let (ok, text) = run(
        &tampered("nokb.txt", without_kb.to_owned()),
        args("1234567890"),
    );
    assert!(
        !ok,
        "a presentation without its KB-JWT verified with key binding expected: {text}"
    );
    let mut forged = presentation.clone();
    forged.insert_str(first_disclosure_end + 1, "WyJzYWx0IiwgImFnZSIsIDk5XQ~");
    let (ok, text) = run(&tampered("forged.txt", forged), args("1234567890"));
    assert!(
        !ok && text.contains("not referenced"),
        "an extra disclosure: {text}"
    );
}

/// Criteria 2.2.2(4), 2.1.3(12), (13): `inkan backup` on the host — under dual control unless
/// configured otherwise; create, verify (a tampered archive fails), restore into an empty
/// deployment with 2 of 3 shares, and the restored key signs.
#[test]
fn backup_round_trip_and_dual_control_on_the_host() {
    let setup = Setup::soft();
    let id = setup.generate("ES256");
    let archive = setup.path("inkan.bak");
    let shares = setup.path("shares");
    let create = |extra: &[&'static str]| -> Vec<String> {
        let mut args = vec![
            "backup",
            "create",
            "--out",
            archive.to_str().unwrap(),
            "--share-dir",
            shares.to_str().unwrap(),
            "--threshold",
            "2",
            "--shares",
            "3",
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect()
    };
    // Dual control: where `[operations]` asks for it the command needs an approved request.
    let original = setup.edit_config(|text| {
        text.replace(
            HOST_ACTIONS_WITHOUT_APPROVAL,
            "[operations]\napprovals_for = { \"backup.create\" = 1 }\n",
        )
    });
    let err = setup.fails(&as_args(&create(&[])));
    assert!(err.contains("backup.create is under dual control"), "{err}");
    let err = setup.fails(&as_args(&create(&[
        "--approval",
        "apr_00000000000000000000000000000000",
    ])));
    assert!(err.contains("no request"), "{err}");
    assert!(!archive.exists());
    std::fs::write(&setup.config, &original).unwrap();

    let out = setup.ok(&as_args(&create(&[])));
    assert!(
        out.contains("3 shares") && out.contains("2 of them open it"),
        "{out}"
    );
    let mut share_files: Vec<PathBuf> = std::fs::read_dir(&shares)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    share_files.sort();
    assert_eq!(share_files.len(), 3);
    let share = |i: usize| share_files[i].to_str().unwrap().to_owned();
    let a = archive.to_str().unwrap();
    assert!(setup.ok(&["backup", "verify", a]).contains("verifies"));
    let opened = setup.ok(&[
        "backup",
        "verify",
        a,
        "--share",
        &share(0),
        "--share",
        &share(2),
    ]);
    assert!(opened.contains("the shares open it"), "{opened}");
    let err = setup.fails(&["backup", "verify", a, "--share", &share(1)]);
    assert!(err.contains("needs 2"), "{err}");
    let mut bytes = std::fs::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    let tampered = setup.path("tampered.bak");
    std::fs::write(&tampered, bytes).unwrap();
    let err = setup.fails(&["backup", "verify", tampered.to_str().unwrap()]);
    assert!(err.contains("altered"), "{err}");

    // Restore into a new, empty deployment (its own folder, token, KEK and store), trusting
    // the log key as `inkan log key` prints it.
    let printed = setup.ok(&["log", "key"]);
    let pem = &printed[printed.find("-----BEGIN").unwrap()..];
    let log_key = setup.path("log-key.pem");
    std::fs::write(&log_key, pem).unwrap();
    let other = tempfile::tempdir().unwrap();
    let config = other.path().join("inkan.toml");
    std::fs::write(
        &config,
        original.replace(
            &setup.dir.path().display().to_string(),
            &other.path().display().to_string(),
        ),
    )
    .unwrap();
    // The operators hold a checkpoint of a larger log than the backup's: a restore without
    // that later log (which would bring back keys destroyed since) is refused (criteria
    // 2.2.3(2)B-1).
    let checkpoint = setup.path("latest.checkpoint");
    std::fs::write(&checkpoint, setup.ok(&["log", "checkpoint"])).unwrap();
    let refused = setup
        .inkan()
        .arg("--config")
        .arg(&config)
        .args([
            "backup",
            "restore",
            a,
            "--share",
            &share(1),
            "--share",
            &share(2),
            "--without-later-log",
            "--latest-checkpoint",
            checkpoint.to_str().unwrap(),
        ])
        .arg("--log-key")
        .arg(&log_key)
        .env_remove("INKAN_CONFIG")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("the later log exists"), "{err}");
    let restore = setup
        .inkan()
        .arg("--config")
        .arg(&config)
        .args([
            "backup",
            "restore",
            a,
            "--share",
            &share(1),
            "--share",
            &share(2),
        ])
        .arg("--without-later-log")
        .arg("--log-key")
        .arg(&log_key)
        .env_remove("INKAN_CONFIG")
        .output()
        .unwrap();
    assert!(
        restore.status.success(),
        "{}",
        String::from_utf8_lossy(&restore.stderr)
    );
    let csr = setup
        .inkan()
        .arg("--config")
        .arg(&config)
        .args(["keys", "csr", &id, "--subject", "CN=restored"])
        .env_remove("INKAN_CONFIG")
        .output()
        .unwrap();
    assert!(
        csr.status.success(),
        "{}",
        String::from_utf8_lossy(&csr.stderr)
    );
    assert!(String::from_utf8_lossy(&csr.stdout).contains("BEGIN CERTIFICATE REQUEST"));
}

fn as_args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Criteria 2.1.3(3), (10), (11): the evidence pack checks offline with the log key alone; the
/// manifest's digest is in the log; `inkan decommission` destroys every key (the log key
/// last), writes a final pack, and the deployment cannot start again.
#[test]
fn evidence_pack_checks_offline_and_decommission_ends_everything() {
    let setup = Setup::soft();
    let id = setup.generate("ES256");
    let pack = setup.path("evidence");
    let out = setup.ok(&["evidence", "export", "--out", pack.to_str().unwrap()]);
    assert!(out.contains("evidence pack written"), "{out}");
    for file in [
        "keys.json",
        "key-events.jsonl",
        "operators.json",
        "compliance.md",
        "manifest.json",
        "log.jsonl",
        "verification.json",
        "log-key.vkey",
    ] {
        assert!(pack.join(file).is_file(), "{file} missing");
    }
    let keys: Value =
        serde_json::from_slice(&std::fs::read(pack.join("keys.json")).unwrap()).unwrap();
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == id.as_str())
    );
    let events = std::fs::read_to_string(pack.join("key-events.jsonl")).unwrap();
    assert!(
        events.contains(&id),
        "the key's generation is among its lifecycle events"
    );
    assert!(
        std::fs::read_to_string(pack.join("compliance.md"))
            .unwrap()
            .contains("2.1.3(14)")
    );
    // Offline: the log verifies with the key in the pack, and names the manifest's digest.
    let verified = setup.ok(&[
        "log",
        "verify",
        "--export",
        pack.join("log.jsonl").to_str().unwrap(),
        "--log-key",
        pack.join("log-key.vkey").to_str().unwrap(),
    ]);
    assert!(verified.contains("verified"), "{verified}");
    let manifest = std::fs::read(pack.join("manifest.json")).unwrap();
    let digest = hex::encode(ring::digest::digest(&ring::digest::SHA256, &manifest).as_ref());
    let log = std::fs::read_to_string(pack.join("log.jsonl")).unwrap();
    let named = log.lines().any(|line| {
        let line: Value = serde_json::from_str(line).unwrap();
        line["entry"].as_str().is_some_and(|b64| {
            let entry = base64_decode(b64);
            String::from_utf8_lossy(&entry).contains(&digest)
        })
    });
    assert!(named, "the log names manifest.json's digest");
    // A pack never overwrites another.
    let err = setup.fails(&["evidence", "export", "--out", pack.to_str().unwrap()]);
    assert!(err.contains("not empty"), "{err}");

    let last = setup.path("final");
    let out = setup.ok(&[
        "decommission",
        "--reason",
        "end of the service contract",
        "--evidence-out",
        last.to_str().unwrap(),
    ]);
    assert!(out.contains("decommissioned") && out.contains(&id), "{out}");
    let keys: Value =
        serde_json::from_slice(&std::fs::read(last.join("keys.json")).unwrap()).unwrap();
    let key = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id.as_str())
        .unwrap();
    assert_eq!(key["state"], "destroyed");
    // Nothing can sign for this deployment again: it does not start.
    let err = setup.fails(&["keys", "list"]);
    assert!(err.contains("decommissioned"), "{err}");
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// Criteria 2.2.2(4), PKCS#11: the SO's ceremony makes the token's backup wrapping key once;
/// the software token needs none.
#[test]
fn the_so_makes_the_tokens_backup_wrapping_key_once() {
    let setup = Setup::softhsm();
    let so_pin = setup.path("so.pin");
    std::fs::write(&so_pin, "so-pin-1234\n").unwrap();
    let args = [
        "backup",
        "wrapping-key",
        "--so-pin-file",
        so_pin.to_str().unwrap(),
    ];
    assert!(setup.ok(&args).contains("was made"));
    assert!(setup.ok(&args).contains("already"));
    let wrong = setup.path("wrong.pin");
    std::fs::write(&wrong, "not-the-so-pin\n").unwrap();
    let err = setup.fails(&[
        "backup",
        "wrapping-key",
        "--so-pin-file",
        wrong.to_str().unwrap(),
    ]);
    assert!(err.contains("SO login"), "{err}");
    let soft = Setup::soft();
    let err = soft.fails(&args);
    assert!(err.contains("needs no wrapping key"), "{err}");
}

/// The dual-control service over the deployment of `config`, as the server builds it.
async fn operations(
    config: &inkan_server::config::Config,
) -> (
    std::sync::Arc<inkan_server::service::Service>,
    std::sync::Arc<inkan_server::auth::Auth>,
    inkan_server::operations::Operations,
) {
    use inkan_server::clock::SystemClock;
    use std::sync::Arc;
    let clock: Arc<dyn inkan_server::clock::Clock> = Arc::new(SystemClock);
    let service = Arc::new(
        inkan_server::service::Service::open(config, clock.clone())
            .await
            .unwrap(),
    );
    let auth = Arc::new(inkan_server::auth::Auth::new(
        service.store.clone(),
        service.log.clone(),
        clock.clone(),
        config.auth.clone(),
        config.environment,
        inkan_server::auth::Auth::sealing_key(&config.server.secrets_key_file).unwrap(),
        config.server.public_url(),
    ));
    let delivery = Arc::new(
        inkan_server::delivery::Delivery::new(
            &service,
            &service.registry.delivery_key().await.unwrap(),
            &config.server.secrets_key_file,
            &config.delivery,
        )
        .unwrap(),
    );
    let ops = inkan_server::operations::Operations::new(
        service.clone(),
        auth.clone(),
        delivery,
        clock,
        config.operations.clone(),
    );
    (service, auth, ops)
}

/// An operator of `role` and the caller it is when it acts (as over its session).
async fn operator_caller(
    auth: &inkan_server::auth::Auth,
    username: &str,
    role: inkan_server::auth::operators::OperatorRole,
) -> inkan_server::auth::Caller {
    let created = auth
        .create_operator(inkan_server::service::host_operator("test"), username, role)
        .await
        .unwrap();
    inkan_server::auth::Caller {
        kind: inkan_server::auth::CallerKind::Operator,
        id: created.account_id,
        subscriber: None,
        session: format!("ses_{username}"),
        method: "password+totp".into(),
        scope: None,
        terminal: Some(format!("terminal-of-{username}")),
        role: Some(role),
    }
}

/// Criteria 2.1.3(12), 2.3.3(5): outside `test`, the host commands that change keys or who
/// may act (`keys generate`, `keys import`, `keys destroy`, `operators add` beyond the first
/// admin, `decommission`) are refused without an approved request, even with `[operations]`
/// M = 0; an approval runs only what it approved (the same owner), once; and the log names
/// the operator who asked and the one who approved, not the host user.
#[test]
fn host_commands_need_an_approved_request_outside_test() {
    use inkan_server::auth::operators::OperatorRole;
    let setup = Setup::soft();
    // The host's secrets key in the scratch folder (not the working directory).
    let staging = std::fs::read_to_string(&setup.config)
        .unwrap()
        .replace("environment = \"test\"", "environment = \"staging\"")
        + &format!(
            "[server]\nsecrets_key_file = \"{}\"\n",
            setup.path("secrets.key").display()
        );
    // M = 0 for every host action: outside `test` it waives nothing.
    std::fs::write(&setup.config, &staging).unwrap();
    let file = setup.path("input");
    std::fs::write(&file, "x").unwrap();
    let f = file.to_str().unwrap();
    let pack = setup.path("final-pack");
    let refused = [
        (
            vec!["keys", "generate", "--alg", "ES256", "--label", "k"],
            "key.generate",
        ),
        (
            vec![
                "keys",
                "import",
                "--wrapped",
                f,
                "--public",
                f,
                "--alg",
                "ES256",
                "--label",
                "k",
            ],
            "key.import",
        ),
        (
            vec![
                "keys",
                "destroy",
                "key_00000000000000000000000000000000",
                "--reason",
                "r",
            ],
            "key.destroy",
        ),
        (
            vec!["operators", "add", "bob", "--role", "ra_officer"],
            "operator.add",
        ),
        (
            vec![
                "decommission",
                "--reason",
                "r",
                "--evidence-out",
                pack.to_str().unwrap(),
            ],
            "service.decommission",
        ),
        (
            vec![
                "keys",
                "csr",
                "key_00000000000000000000000000000000",
                "--subject",
                "CN=x",
            ],
            "key.certificate",
        ),
        (
            vec![
                "keys",
                "attach-cert",
                "key_00000000000000000000000000000000",
                "--chain",
                f,
            ],
            "key.certificate",
        ),
    ];
    for (args, action) in &refused {
        let err = setup.fails(args);
        assert!(
            err.contains(&format!("{action} is under dual control")),
            "{args:?}: {err}"
        );
    }
    assert!(!pack.exists());

    // Two key officers: one asks for a key of `default`, the other approves.
    let config =
        inkan_server::config::Config::load(Some(&setup.config), std::iter::empty()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (asker, approver, id) = runtime.block_on(async {
        let (service, auth, ops) = operations(&config).await;
        let asker = operator_caller(&auth, "kate", OperatorRole::KeyOfficer).await;
        let approver = operator_caller(&auth, "kenji", OperatorRole::KeyOfficer).await;
        let request = ops
            .request(
                &asker,
                inkan_server::operations::Action::GenerateKey {
                    owner: "default".into(),
                    reason: "the organisation's new seal".into(),
                },
            )
            .await
            .unwrap();
        assert_eq!(
            request.state,
            inkan_server::operations::RequestState::Pending
        );
        let request = ops.approve(&approver, &request.id).await.unwrap();
        assert_eq!(
            request.state,
            inkan_server::operations::RequestState::Executed
        );
        drop(ops);
        drop(auth);
        drop(service);
        (asker.id, approver.id, request.id)
    });
    // Approved for `default`: not for another owner (and not used up by that).
    let err = setup.fails(&[
        "keys",
        "generate",
        "--alg",
        "ES256",
        "--label",
        "k",
        "--owner",
        "other",
        "--approval",
        &id,
    ]);
    assert!(err.contains("approved key.generate for default"), "{err}");
    let key = setup.json(&[
        "keys",
        "generate",
        "--alg",
        "ES256",
        "--label",
        "k",
        "--approval",
        &id,
        "--json",
    ]);
    assert_eq!(key["owner"], "default");
    // Once.
    let err = setup.fails(&[
        "keys",
        "generate",
        "--alg",
        "ES256",
        "--label",
        "k",
        "--approval",
        &id,
    ]);
    assert!(err.contains("is used"), "{err}");

    // The log: the approval's use names the asker and the approver, and the key's generation
    // is the asker's, not the host user's.
    let entries = runtime.block_on(async {
        let service = inkan_server::service::Service::open(
            &config,
            std::sync::Arc::new(inkan_server::clock::SystemClock),
        )
        .await
        .unwrap();
        let raw = service.store.log_entries(0, 10_000).await.unwrap();
        raw.iter()
            .map(|b| inkan_log::entry::Entry::decode(b).unwrap())
            .collect::<Vec<_>>()
    });
    let used = entries
        .iter()
        .find(|e| {
            e.approval.as_deref() == Some(id.as_str())
                && e.note
                    .as_deref()
                    .is_some_and(|n| n.contains("used by the host"))
        })
        .expect("the approval's use is logged");
    assert_eq!(used.actor.id, asker);
    let note = used.note.as_deref().unwrap();
    assert!(
        note.contains(&format!("asked by {asker}"))
            && note.contains(&format!("approved by {approver}")),
        "{note}"
    );
    let generated = entries
        .iter()
        .find(|e| e.key_id.as_deref() == key["id"].as_str())
        .expect("the generation is logged");
    assert_eq!(generated.actor.id, asker, "{generated:?}");
}

/// Shell completions and man pages come from the command's own description (issue 19 point
/// 8), and need no configuration: the bash script is valid bash and knows the subcommands, and
/// every subcommand has its page.
#[test]
fn completions_and_man_pages_are_generated() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| inkan_in(dir.path(), args);
    let bash = run(&["completions", "bash"]);
    assert!(bash.status.success());
    let script = String::from_utf8(bash.stdout).unwrap();
    assert!(script.contains("_inkan()") && script.contains("decommission"));
    let script_file = dir.path().join("inkan.bash");
    std::fs::write(&script_file, &script).unwrap();
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script_file)
        .status()
        .unwrap();
    assert!(syntax.success(), "the completion script is not valid bash");
    for shell in ["zsh", "fish"] {
        assert!(run(&["completions", shell]).status.success(), "{shell}");
    }
    assert!(!run(&["completions", "tcsh"]).status.success());
    let pages = dir.path().join("man");
    assert!(
        run(&["man", "--out", pages.to_str().unwrap()])
            .status
            .success()
    );
    for page in [
        "inkan.1",
        "inkan-keys.1",
        "inkan-keys-generate.1",
        "inkan-serve.1",
    ] {
        let text = std::fs::read_to_string(pages.join(page)).unwrap();
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}");
    }
    assert!(
        !dir.path().join("inkan-data").exists(),
        "completions or man pages made a deployment"
    );
}

/// `inkan config check FILE` (issue 19 point 6) checks a configuration as a start would and
/// prints the effective one with its digest, opening nothing; a malformed file is named with
/// its line and column.
#[test]
fn config_check_prints_the_effective_configuration_or_where_it_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        std::fs::write(dir.path().join(name), text).unwrap();
        name.to_owned()
    };
    let good = write(
        "good.toml",
        "environment = \"staging\"\n[auth]\nmax_failed_logins = 7\n",
    );
    let out = inkan_in(dir.path(), &["config", "check", &good]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("environment: Staging") && text.contains("max_failed_logins: 7"));
    assert!(
        text.contains("idle_timeout_minutes: 15"),
        "defaults are filled in"
    );
    assert!(text.lines().any(|l| l.starts_with("digest: ")));
    let broken = write("broken.toml", "environment = \"test\"\n[auth\n");
    let out = inkan_in(dir.path(), &["config", "check", &broken]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2, column 6"));
    let refused = write(
        "refused.toml",
        "environment = \"test\"\n[auth]\nmax_failed_logins = 0\n",
    );
    let out = inkan_in(dir.path(), &["config", "check", &refused]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[auth]"));
    assert!(
        !dir.path().join("inkan-data").exists(),
        "a check opened a deployment"
    );
}
