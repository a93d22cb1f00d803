//! Tests of what is particular to the PKCS#11 device, against SoftHSMv2: how keys sit in the
//! token (criteria 2.2.2(2)), the PIN sources, session recovery, parallel signing and import
//! inside the token (criteria 2.2.2(2)A). The behaviour every device shares is in
//! `device_conformance.rs`.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod common;

use common::softhsm::{self, SoftHsmToken, USER_PIN};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use inkan_device::import::{WrappingAlgorithm, import_checked, wrap_for_import};
use inkan_device::pkcs11::{PinSource, Pkcs11Device};
use inkan_device::{
    Algorithm, CryptoDevice, DeviceError, DeviceKind, KeyHandle, KeySpec, PublicKey,
};
use pkcs8::EncodePrivateKey as _;
use secrecy::SecretString;
use std::time::Instant;

/// An independent look into a test token: our own cryptoki context and session, logged in
/// as the user, to read what the device left in the token.
struct Inspector {
    session: Session,
}

impl Inspector {
    fn new(token: &SoftHsmToken) -> Self {
        let ctx = Pkcs11::new(&token.module).expect("load module");
        // The device's context already initialized the module in this process.
        match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::CryptokiAlreadyInitialized,
                _,
            )) => {}
            Err(e) => panic!("C_Initialize: {e}"),
        }
        let slot = ctx
            .get_slots_with_initialized_token()
            .unwrap()
            .into_iter()
            .find(|slot| ctx.get_token_info(*slot).unwrap().label().trim_end() == token.label)
            .expect("the test token");
        let session = ctx.open_rw_session(slot).unwrap();
        match session.login(UserType::User, Some(&SecretString::from(USER_PIN))) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::UserAlreadyLoggedIn,
                _,
            )) => {}
            Err(e) => panic!("login: {e}"),
        }
        Inspector { session }
    }

    fn objects(&self, template: &[Attribute]) -> Vec<ObjectHandle> {
        self.session.find_objects(template).unwrap()
    }

    fn count_all(&self) -> usize {
        self.objects(&[]).len()
    }

    fn with_id(&self, class: ObjectClass, handle: &KeyHandle) -> ObjectHandle {
        let id = hex::decode(handle.as_str()).unwrap();
        let found = self.objects(&[Attribute::Class(class), Attribute::Id(id)]);
        assert_eq!(found.len(), 1, "one {class} object with the key's CKA_ID");
        found[0]
    }

    fn flags(&self, object: ObjectHandle, types: &[AttributeType]) -> Vec<(AttributeType, bool)> {
        self.session
            .get_attributes(object, types)
            .unwrap()
            .into_iter()
            .filter_map(|a| {
                let value = match a {
                    Attribute::Token(v)
                    | Attribute::Private(v)
                    | Attribute::Sensitive(v)
                    | Attribute::Extractable(v)
                    | Attribute::AlwaysSensitive(v)
                    | Attribute::NeverExtractable(v)
                    | Attribute::WrapWithTrusted(v)
                    | Attribute::Sign(v)
                    | Attribute::Verify(v)
                    | Attribute::Decrypt(v)
                    | Attribute::Unwrap(v) => v,
                    _ => return None,
                };
                Some((a.attribute_type(), value))
            })
            .collect()
    }

    fn flag(&self, object: ObjectHandle, t: AttributeType) -> bool {
        self.flags(object, &[t])
            .first()
            .unwrap_or_else(|| panic!("{t} not readable"))
            .1
    }

    fn label(&self, object: ObjectHandle) -> String {
        match self
            .session
            .get_attributes(object, &[AttributeType::Label])
            .unwrap()
            .first()
        {
            Some(Attribute::Label(l)) => String::from_utf8(l.clone()).unwrap(),
            other => panic!("no label: {other:?}"),
        }
    }

    /// Asserts the private key cannot leave in the clear: private, sensitive, its value
    /// unreadable. A signing key (`backed_up`) is extractable only wrapped under a trusted key
    /// (`CKA_WRAP_WITH_TRUSTED`: the SO's backup key); the import-wrapping key never. A
    /// generated key has always been sensitive; an unwrapped one by definition has not
    /// (PKCS#11 sets `CKA_ALWAYS_SENSITIVE` false for it).
    fn assert_locked_down(&self, private: ObjectHandle, generated: bool, backed_up: bool) {
        use AttributeType as T;
        for (t, expected) in [
            (T::Token, true),
            (T::Private, true),
            (T::Sensitive, true),
            (T::Extractable, backed_up),
            (T::WrapWithTrusted, backed_up),
            (T::AlwaysSensitive, generated),
            (T::NeverExtractable, generated && !backed_up),
        ] {
            assert_eq!(self.flag(private, t), expected, "{t}");
        }
        // A sensitive attribute is not returned at all (CKR_ATTRIBUTE_SENSITIVE).
        let secret = self
            .session
            .get_attributes(private, &[T::Value, T::PrivateExponent, T::Prime1])
            .unwrap();
        assert!(
            secret.is_empty(),
            "secret attributes were readable: {} of them",
            secret.len()
        );
    }
}

const MESSAGE: &[u8] = b"Inkan PKCS#11 test message";

#[test]
fn generated_private_keys_are_locked_in_the_token() {
    let token = softhsm::softhsm_token();
    let device = token.open();
    assert_eq!(device.kind(), DeviceKind::Pkcs11);
    assert!(device.is_certified());
    let inspector = Inspector::new(&token);
    for spec in [
        KeySpec::P256,
        KeySpec::P384,
        KeySpec::Ed25519,
        KeySpec::Rsa2048,
    ] {
        let key = device
            .generate(spec, &format!("attributes {spec}"))
            .unwrap();
        assert_eq!(key.handle.as_str().len(), 32, "16-byte CKA_ID in hex");
        assert!(
            key.handle
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        let private = inspector.with_id(ObjectClass::PRIVATE_KEY, &key.handle);
        inspector.assert_locked_down(private, true, true);
        assert!(inspector.flag(private, AttributeType::Sign));
        assert!(
            !inspector.flag(private, AttributeType::Decrypt),
            "{spec} signing key can decrypt"
        );
        assert_eq!(inspector.label(private), format!("attributes {spec}"));
        let public = inspector.with_id(ObjectClass::PUBLIC_KEY, &key.handle);
        assert!(inspector.flag(public, AttributeType::Token));
        assert!(inspector.flag(public, AttributeType::Verify));
        assert_eq!(device.public_key(&key.handle).unwrap(), key.public_key);
    }
}

#[test]
fn the_wrapping_key_can_only_unwrap_and_is_found_again_by_label() {
    let token = softhsm::softhsm_token();
    let device = token.open();
    let public = device.wrapping_public_key().unwrap();
    assert_eq!(public.spec(), KeySpec::Rsa3072);
    assert_eq!(device.wrapping_public_key().unwrap(), public);

    let inspector = Inspector::new(&token);
    let found = inspector.objects(&[
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Label(b"inkan-import-wrapping-key".to_vec()),
    ]);
    assert_eq!(found.len(), 1, "one wrapping key");
    inspector.assert_locked_down(found[0], true, false);
    assert!(inspector.flag(found[0], AttributeType::Unwrap));
    assert!(!inspector.flag(found[0], AttributeType::Decrypt));
    assert!(!inspector.flag(found[0], AttributeType::Sign));

    // A second device on the same token (and the same module context) finds the same key.
    let again = token.open();
    assert_eq!(again.wrapping_public_key().unwrap(), public);
    // It is not a signing key: never listed, never signs.
    assert!(device.handles().unwrap().is_empty());
}

#[test]
fn handles_lists_the_signing_keys() {
    let device = softhsm::softhsm_device();
    let a = device.generate(KeySpec::P256, "a").unwrap();
    let b = device.generate(KeySpec::Ed25519, "b").unwrap();
    let mut expected = vec![a.handle.clone(), b.handle.clone()];
    expected.sort_by(|x, y| x.as_str().cmp(y.as_str()));
    assert_eq!(device.handles().unwrap(), expected);
    device.destroy(&a.handle).unwrap();
    assert_eq!(device.handles().unwrap(), vec![b.handle]);
}

#[test]
fn sessions_recover_after_they_lose_their_login() {
    let device = softhsm::softhsm_device();
    let key = device.generate(KeySpec::P256, "recovery").unwrap();
    let ed = device.generate(KeySpec::Ed25519, "recovery").unwrap();
    // Fill the pool with several sessions, so several stale ones wait in it.
    std::thread::scope(|scope| {
        for _ in 0..softhsm::SESSIONS {
            scope.spawn(|| {
                for _ in 0..20 {
                    device.sign(&key.handle, Algorithm::Es256, MESSAGE).unwrap();
                }
            });
        }
    });

    for round in 0..3 {
        device.close_all_sessions_for_test();
        let signature = device
            .sign(&key.handle, Algorithm::Es256, MESSAGE)
            .unwrap_or_else(|e| panic!("round {round}: signing after the sessions were lost: {e}"));
        key.public_key
            .verify(Algorithm::Es256, MESSAGE, &signature)
            .unwrap();
    }

    // Every other operation recovers as well, including from threads failing together.
    device.close_all_sessions_for_test();
    std::thread::scope(|scope| {
        for _ in 0..softhsm::SESSIONS {
            scope.spawn(|| {
                let signature = device.sign(&ed.handle, Algorithm::EdDsa, MESSAGE).unwrap();
                ed.public_key
                    .verify(Algorithm::EdDsa, MESSAGE, &signature)
                    .unwrap();
            });
        }
    });
    device.close_all_sessions_for_test();
    assert!(
        device.contains(&key.handle).unwrap(),
        "a lost login must not look like a lost key"
    );
    device.close_all_sessions_for_test();
    assert_eq!(device.public_key(&key.handle).unwrap(), key.public_key);
    device.close_all_sessions_for_test();
    assert_eq!(device.handles().unwrap().len(), 2);
    device.close_all_sessions_for_test();
    let fresh = device.generate(KeySpec::P256, "after recovery").unwrap();
    device.close_all_sessions_for_test();
    device.destroy(&fresh.handle).unwrap();
    assert!(!device.contains(&fresh.handle).unwrap());
}

#[test]
fn pin_sources_fail_clearly() {
    let token = softhsm::softhsm_token();
    let message = |pin: PinSource| {
        Pkcs11Device::open(&token.config(pin))
            .unwrap_err()
            .to_string()
    };

    // Tests cannot set environment variables (edition 2024 makes that unsafe), so the
    // environment source is tested through its failure.
    let text = message(PinSource::Env("INKAN_TEST_PIN_THAT_IS_NEVER_SET".into()));
    assert!(
        text.contains("INKAN_TEST_PIN_THAT_IS_NEVER_SET") && text.contains("not set"),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let text = message(PinSource::File(dir.path().join("no-such-pin")));
    assert!(
        text.contains("no-such-pin") && text.contains("cannot be read"),
        "{text}"
    );

    let empty = dir.path().join("empty-pin");
    std::fs::write(&empty, "\n").unwrap();
    let text = message(PinSource::File(empty));
    assert!(text.contains("is empty"), "{text}");

    let wrong = dir.path().join("wrong-pin");
    std::fs::write(&wrong, "not-the-pin-4321\n").unwrap();
    let text = message(PinSource::File(wrong));
    assert!(text.contains("PinIncorrect"), "{text}");
    assert!(
        !text.contains("not-the-pin-4321"),
        "the PIN must never appear in errors: {text}"
    );

    let mut config = token.config(PinSource::Env("UNUSED".into()));
    config.token_label = "inkan-no-such-token".into();
    let pin = dir.path().join("pin");
    std::fs::write(&pin, USER_PIN).unwrap();
    config.pin = PinSource::File(pin.clone());
    let text = Pkcs11Device::open(&config).unwrap_err().to_string();
    assert!(text.contains("inkan-no-such-token"), "{text}");

    let mut config = token.config(PinSource::File(pin));
    config.sessions = 0;
    assert!(matches!(
        Pkcs11Device::open(&config),
        Err(DeviceError::Config(_))
    ));

    // The PIN does not appear in the device's Debug output either.
    let device = token.open();
    let debug = format!("{device:?}");
    assert!(!debug.contains(USER_PIN), "{debug}");
    assert!(debug.contains(&token.label), "{debug}");
}

/// Messages and their signatures, in signing order.
type Signed = Vec<(Vec<u8>, Vec<u8>)>;

/// The must-show: two threads make 10,000 ES256 signatures each with one key, in
/// parallel, and every one verifies.
#[test]
fn two_threads_sign_ten_thousand_times_each_and_all_verify() {
    const PER_THREAD: usize = 10_000;
    let device = softhsm::softhsm_device();
    let key = device.generate(KeySpec::P256, "concurrency").unwrap();
    let start = Instant::now();
    let results: Vec<(Signed, std::time::Duration)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..2u8)
            .map(|thread| {
                let (device, key) = (&device, &key);
                scope.spawn(move || {
                    let started = Instant::now();
                    let mut out = Vec::with_capacity(PER_THREAD);
                    for i in 0..PER_THREAD {
                        let message = format!("thread {thread} message {i}").into_bytes();
                        let signature = device
                            .sign(&key.handle, Algorithm::Es256, &message)
                            .unwrap();
                        out.push((message, signature));
                    }
                    (out, started.elapsed())
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let signing = start.elapsed();

    let verify_start = Instant::now();
    std::thread::scope(|scope| {
        for (signatures, _) in &results {
            let public = &key.public_key;
            scope.spawn(move || {
                for (message, signature) in signatures {
                    assert_eq!(signature.len(), 64, "raw r||s");
                    public
                        .verify(Algorithm::Es256, message, signature)
                        .expect("signature verifies");
                }
            });
        }
    });
    let total = results.iter().map(|(s, _)| s.len()).sum::<usize>();
    assert_eq!(total, 2 * PER_THREAD);
    eprintln!(
        "SoftHSM ES256: {total} signatures on 2 threads in {:.2} s ({:.0}/s; per thread {:.2} s and {:.2} s); \
         verified in {:.2} s",
        signing.as_secs_f64(),
        total as f64 / signing.as_secs_f64(),
        results[0].1.as_secs_f64(),
        results[1].1.as_secs_f64(),
        verify_start.elapsed().as_secs_f64(),
    );
}

fn p256_pkcs8() -> (Vec<u8>, PublicKey) {
    let secret = p256::SecretKey::random(&mut rand_core::OsRng);
    let der = secret.to_pkcs8_der().unwrap().as_bytes().to_vec();
    (der, PublicKey::P256(secret.public_key()))
}

fn ed25519_pkcs8() -> (Vec<u8>, PublicKey) {
    let mut seed = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
    (der, PublicKey::Ed25519(key.verifying_key()))
}

fn rsa2048_pkcs8() -> (Vec<u8>, PublicKey) {
    let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).unwrap();
    let der = key.to_pkcs8_der().unwrap().as_bytes().to_vec();
    (der, PublicKey::Rsa(key.to_public_key()))
}

/// The variant SoftHSM 2.6 can unwrap inside the token.
const SHA1: WrappingAlgorithm = WrappingAlgorithm::RsaAesKeyWrapSha1;

#[test]
fn wrapped_keys_are_unwrapped_inside_the_token() {
    let token = softhsm::softhsm_token();
    let device = token.open();
    let inspector = Inspector::new(&token);
    let wrapping_key = device.wrapping_public_key().unwrap();
    for (alg, (pkcs8, public)) in [
        (Algorithm::Es256, p256_pkcs8()),
        (Algorithm::Rs256, rsa2048_pkcs8()),
    ] {
        let before = inspector.count_all();
        let wrapped = wrap_for_import(&wrapping_key, SHA1, &pkcs8).unwrap();
        let key = import_checked(
            &device,
            &wrapped,
            SHA1,
            &public,
            alg,
            &format!("imported {alg}"),
        )
        .unwrap_or_else(|e| panic!("importing a {} key: {e}", public.spec()));
        assert_eq!(key.public_key, public);
        // A private and a public object, and no leftover transport key.
        assert_eq!(
            inspector.count_all(),
            before + 2,
            "{alg}: objects after import"
        );
        let private = inspector.with_id(ObjectClass::PRIVATE_KEY, &key.handle);
        inspector.assert_locked_down(private, false, true);
        assert_eq!(inspector.label(private), format!("imported {alg}"));
        assert_eq!(device.public_key(&key.handle).unwrap(), public);
        let signature = device.sign(&key.handle, alg, MESSAGE).unwrap();
        public.verify(alg, MESSAGE, &signature).unwrap();
    }
}

/// SoftHSM 2.6 can neither do RSA-OAEP with SHA-256 inside `C_UnwrapKey` nor unwrap Edwards
/// keys. Where a token cannot, the import is refused as the device's limit, naming what it
/// cannot do, and leaves nothing behind; where it can (another token), the import works.
#[test]
fn imports_the_token_cannot_do_are_refused_cleanly() {
    let token = softhsm::softhsm_token();
    let device = token.open();
    let inspector = Inspector::new(&token);
    let wrapping_key = device.wrapping_public_key().unwrap();
    let sha256 = WrappingAlgorithm::RsaAesKeyWrapSha256;
    for (wrapping, alg, (pkcs8, public), limit) in [
        (
            sha256,
            Algorithm::Es256,
            p256_pkcs8(),
            "RSA_AES_KEY_WRAP_SHA_256",
        ),
        (SHA1, Algorithm::EdDsa, ed25519_pkcs8(), "Ed25519"),
    ] {
        let before = inspector.count_all();
        let wrapped = wrap_for_import(&wrapping_key, wrapping, &pkcs8).unwrap();
        match import_checked(&device, &wrapped, wrapping, &public, alg, "limit") {
            Ok(key) => {
                let signature = device.sign(&key.handle, alg, MESSAGE).unwrap();
                public.verify(alg, MESSAGE, &signature).unwrap();
                device.destroy(&key.handle).unwrap();
            }
            Err(err) => assert!(
                matches!(&err, DeviceError::Config(m) if m.contains(limit)),
                "{err}"
            ),
        }
        assert_eq!(
            inspector.count_all(),
            before,
            "{limit}: objects left behind"
        );
    }
}

#[test]
fn mismatched_or_broken_imports_leave_nothing_behind() {
    let token = softhsm::softhsm_token();
    let device = token.open();
    let inspector = Inspector::new(&token);
    let wrapping_key = device.wrapping_public_key().unwrap();
    let (pkcs8, _) = p256_pkcs8();
    let (_, other_p256) = p256_pkcs8();
    let (_, other_rsa) = rsa2048_pkcs8();
    let wrapped = wrap_for_import(&wrapping_key, SHA1, &pkcs8).unwrap();
    let labelled = |label: &str| {
        inspector
            .objects(&[Attribute::Label(label.as_bytes().to_vec())])
            .len()
    };
    let before = inspector.count_all();

    // The private key does not match the public key given with it (2.2.2(2)A-5).
    let err = import_checked(
        &device,
        &wrapped,
        SHA1,
        &other_p256,
        Algorithm::Es256,
        "mismatch",
    )
    .unwrap_err();
    assert!(matches!(err, DeviceError::KeyMismatch(_)), "{err}");
    assert_eq!(
        inspector.count_all(),
        before,
        "objects left after a refused import"
    );
    assert_eq!(labelled("mismatch"), 0);

    // Not even the same kind of key.
    let err = import_checked(
        &device,
        &wrapped,
        SHA1,
        &other_rsa,
        Algorithm::Rs256,
        "wrong kind",
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DeviceError::KeyMismatch(_) | DeviceError::InvalidInput(_)
        ),
        "{err}"
    );
    assert_eq!(
        inspector.count_all(),
        before,
        "objects left after a refused import"
    );
    assert_eq!(labelled("wrong kind"), 0);

    // Wrapped to another key, damaged, or announced with the wrong OAEP variant.
    let stranger = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 3072).unwrap();
    let elsewhere =
        wrap_for_import(&PublicKey::Rsa(stranger.to_public_key()), SHA1, &pkcs8).unwrap();
    let mut damaged = wrapped.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    for (name, input) in [("elsewhere", elsewhere), ("damaged", damaged)] {
        let err =
            import_checked(&device, &input, SHA1, &other_p256, Algorithm::Es256, name).unwrap_err();
        assert!(matches!(err, DeviceError::InvalidInput(_)), "{name}: {err}");
        assert_eq!(labelled(name), 0);
    }
    assert_eq!(
        inspector.count_all(),
        before,
        "objects left after a refused import"
    );
}

/// Criteria 2.2.2(4): a key leaves the token only wrapped under the backup key its SO made
/// (trusted); an ordinary AES key cannot wrap it; the wrapped key goes back in under the same
/// handle and signs.
#[test]
fn keys_leave_only_wrapped_under_the_sos_backup_key() {
    // Without the backup key nothing is exported.
    let bare = softhsm::softhsm_token();
    let device = bare.open();
    let key = device.generate(KeySpec::P256, "not backed up").unwrap();
    let err = device.export_for_backup(&key.handle).unwrap_err();
    assert!(err.to_string().contains("no backup wrapping key"), "{err}");
    // The SO makes it (its own ceremony, before this process logs in to that token).
    let token = softhsm::softhsm_token();
    let so_pin = SecretString::from(softhsm::SO_PIN);
    assert!(inkan_device::pkcs11::create_backup_key(&token.module, &token.label, &so_pin).unwrap());
    assert!(
        !inkan_device::pkcs11::create_backup_key(&token.module, &token.label, &so_pin).unwrap()
    );
    let device = token.open();
    let key = device.generate(KeySpec::P256, "backed up").unwrap();
    let wrapped = device.export_for_backup(&key.handle).unwrap();
    assert!(wrapped.len() > 32);
    // An AES key the user makes is not trusted: it cannot take the key out.
    let inspector = Inspector::new(&token);
    let untrusted = inspector
        .session
        .generate_key(
            &cryptoki::mechanism::Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(cryptoki::object::KeyType::AES),
                Attribute::ValueLen(32.into()),
                Attribute::Token(false),
                Attribute::Wrap(true),
            ],
        )
        .unwrap();
    let private = inspector.with_id(ObjectClass::PRIVATE_KEY, &key.handle);
    assert!(
        inspector
            .session
            .wrap_key(
                &cryptoki::mechanism::Mechanism::AesKeyWrapPad,
                untrusted,
                private
            )
            .is_err()
    );
    // Lost, then restored from the wrapped copy: same handle, same public key, it signs.
    device.destroy(&key.handle).unwrap();
    assert!(!device.contains(&key.handle).unwrap());
    device
        .restore_from_backup(&key.handle, &key.public_key, "backed up", &wrapped)
        .unwrap();
    assert_eq!(device.public_key(&key.handle).unwrap(), key.public_key);
    let signature = device
        .sign(&key.handle, Algorithm::Es256, b"after restore")
        .unwrap();
    key.public_key
        .verify(Algorithm::Es256, b"after restore", &signature)
        .unwrap();
    let again = device.restore_from_backup(&key.handle, &key.public_key, "backed up", &wrapped);
    assert!(again.unwrap_err().to_string().contains("already"));
}

/// With the SO's backup key, every check of `inkan device check` passes on SoftHSM (import
/// with OAEP SHA-1), and the token holds exactly the objects it held before, apart from the
/// import wrapping key the first import makes (as the service would on first use).
#[test]
fn the_self_test_passes_with_a_backup_key_and_leaves_the_token_as_it_was() {
    use inkan_device::self_test::{self, Outcome};
    let token = softhsm::softhsm_token();
    let so_pin = SecretString::from(softhsm::SO_PIN);
    assert!(inkan_device::pkcs11::create_backup_key(&token.module, &token.label, &so_pin).unwrap());
    let device = token.open();
    device.wrapping_public_key().unwrap();
    let inspector = Inspector::new(&token);
    let objects = inspector.count_all();
    for check in self_test::run(&device) {
        match check.outcome {
            Outcome::Works => {}
            Outcome::Partly(how) if check.capability.starts_with("key import") => {
                assert!(how.contains("RSA_AES_KEY_WRAP_SHA_1"), "{how}")
            }
            other => panic!("{}: {other:?}", check.capability),
        }
    }
    assert_eq!(
        inspector.count_all(),
        objects,
        "the self-test left objects behind"
    );
}
