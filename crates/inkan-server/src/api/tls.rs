//! The server's TLS identity and its rustls configuration: TLS 1.3 only (criteria 2.2.4(1) and
//! 2.2.4(3)), client certificates asked for but optional.
//!
//! Owns: loading the server certificate and key (strict PEM, size limit, key file mode), making
//! and keeping a self-signed certificate outside production, reading the client-certificate
//! trust anchors, and the rustls [`rustls::ServerConfig`] with its client-certificate verifier.
//! A client certificate binds a system client's tokens (criteria 2.2.1(1) and 2.2.1(4), RFC 8705
//! mutual-TLS sender-constrained tokens); the handshake only proves possession of its key, and
//! whether it chains to an anchor is recorded per connection by [`super::listener`].
//!
//! Must never: offer TLS 1.2 or below, use a provider other than `ring`, generate a certificate
//! in production, accept a key file others can read, or print the private key (in `Debug`, logs
//! or errors).

use crate::config::ServerConfig;
use crate::environment::Environment;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::{Zeroize, Zeroizing};

/// Largest certificate, key or anchor file accepted.
const MAX_PEM_FILE: u64 = 1024 * 1024;

/// Common name of a generated certificate.
const GENERATED_CN: &str = "inkan (generated)";

/// Days a generated certificate is valid.
const GENERATED_VALIDITY_DAYS: i64 = 365;

/// Why the TLS identity or configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file or folder could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file's content is refused.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The private key file can be read by group or others.
    #[error(
        "{path} can be read by group or others (mode {mode:03o}); restrict it (chmod 600 {path})"
    )]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Production without a certificate: one is never generated there.
    #[error(
        "production needs a TLS certificate: neither {certificate} nor {key} exists (set \
         server.tls_certificate and server.tls_key)"
    )]
    CertificateRequired {
        /// The configured certificate path.
        certificate: PathBuf,
        /// The configured key path.
        key: PathBuf,
    },
    /// Only one of certificate and key exists.
    #[error(
        "{present} exists but {missing} does not: provide both, or (outside production) remove \
         {present} to have a new pair generated"
    )]
    Incomplete {
        /// The file that exists.
        present: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },
    /// Generating the self-signed certificate failed.
    #[error("generating the TLS certificate: {0}")]
    Generate(String),
    /// rustls refused the certificate, key or settings.
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The server's certificate chain (leaf first) and private key.
///
/// `Debug` shows the chain's length and the leaf fingerprint, never the key; the key bytes are
/// wiped when the identity is dropped.
pub struct TlsIdentity {
    certificates: Vec<CertificateDer<'static>>,
    key: Zeroizing<PrivateKeyDer<'static>>,
}

impl TlsIdentity {
    /// Checks that `certificates` is not empty and that `key` is usable with `ring` and belongs
    /// to the leaf.
    fn new(
        certificates: Vec<CertificateDer<'static>>,
        key: Zeroizing<PrivateKeyDer<'static>>,
        certificate_path: &Path,
    ) -> Result<Self, TlsError> {
        if certificates.is_empty() {
            return Err(invalid(certificate_path, "no CERTIFICATE in the file"));
        }
        rustls::sign::CertifiedKey::from_der(certificates.clone(), key.clone_key(), &provider())
            .map_err(|e| {
                invalid(
                    certificate_path,
                    format!("certificate and key do not form a usable pair: {e}"),
                )
            })?;
        Ok(TlsIdentity { certificates, key })
    }

    /// The certificate chain, leaf first.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certificates
    }

    /// The leaf certificate.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        // Never empty: checked in `new`.
        &self.certificates[0]
    }

    /// SHA-256 of the leaf certificate as colon-separated upper-case hex (`AB:CD:…`), the form
    /// browsers and `openssl x509 -fingerprint -sha256` show.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.leaf())
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("certificates", &self.certificates.len())
            .field("fingerprint", &self.fingerprint())
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Where the identity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsSource {
    /// Read from the configured files.
    Loaded,
    /// Generated now (self-signed) and written to the configured files.
    Generated,
}

/// What [`load_or_generate`] did, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsIdentityInfo {
    /// Loaded or generated.
    pub source: TlsSource,
    /// The certificate file.
    pub certificate_path: PathBuf,
    /// The key file.
    pub key_path: PathBuf,
    /// SHA-256 of the leaf certificate, colon-separated upper-case hex.
    pub fingerprint: String,
}

/// Loads the server identity from `config.tls_certificate` and `config.tls_key`, or, when both
/// are absent outside production, generates a self-signed ECDSA P-256 certificate (valid one
/// year, for `localhost`, `127.0.0.1`, `::1` and `config.tls_names`) and writes it there so
/// later starts reuse it.
pub fn load_or_generate(
    config: &ServerConfig,
    environment: Environment,
) -> Result<(TlsIdentity, TlsIdentityInfo), TlsError> {
    let certificate_path = &config.tls_certificate;
    let key_path = &config.tls_key;
    let (identity, source) = match (exists(certificate_path)?, exists(key_path)?) {
        (true, true) => (load(certificate_path, key_path)?, TlsSource::Loaded),
        (false, false) if environment == Environment::Production => {
            return Err(TlsError::CertificateRequired {
                certificate: certificate_path.clone(),
                key: key_path.clone(),
            });
        }
        (false, false) => (generate(config)?, TlsSource::Generated),
        (true, false) => {
            return Err(TlsError::Incomplete {
                present: certificate_path.clone(),
                missing: key_path.clone(),
            });
        }
        (false, true) => {
            return Err(TlsError::Incomplete {
                present: key_path.clone(),
                missing: certificate_path.clone(),
            });
        }
    };
    let info = TlsIdentityInfo {
        source,
        certificate_path: certificate_path.clone(),
        key_path: key_path.clone(),
        fingerprint: identity.fingerprint(),
    };
    Ok((identity, info))
}

/// The rustls configuration of the listener: `ring`, TLS 1.3 only, ALPN `http/1.1`, and a client
/// certificate asked for but optional. A client that sends one must prove possession of its key
/// in the handshake; nothing else about it is checked here (RFC 8705 allows self-signed client
/// certificates). `client_anchors` are checked so that a bad anchor stops start-up; whether a
/// client certificate chains to one is decided per connection by [`super::listener::serve`].
pub fn server_config(
    identity: &TlsIdentity,
    client_anchors: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(provider());
    chain_verifier(client_anchors)?;
    let verifier = Arc::new(PossessionOnly {
        algorithms: provider.signature_verification_algorithms,
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.certificates.clone(), identity.key.clone_key())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The rustls server configuration of a signer (`[server] role = "signer"`, issue 20 point 1;
/// criteria 2.2.4(2)): TLS 1.3 only, and no handshake completes without a front end's
/// certificate: a leaf issued directly by one of `front_anchors` (the front ends' CA), valid
/// now, sent alone. A chain through an intermediate is refused, so a CA of client certificates
/// issued under the front ends' root never makes a client pass for a front end.
pub fn front_ends_only_config(
    identity: &TlsIdentity,
    front_anchors: &[CertificateDer<'static>],
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chains = chain_verifier(front_anchors)?.ok_or_else(|| {
        TlsError::Config(rustls::Error::General(
            "a signer needs its front ends' CA ([signer] front_ca_files)".into(),
        ))
    })?;
    let verifier = Arc::new(FrontEndsOnly { chains });
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.certificates.clone(), identity.key.clone_key())?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Reads the client-certificate trust anchors: every certificate in every file (PEM, at least
/// one per file, no private keys).
pub fn load_anchors(files: &[PathBuf]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut anchors = Vec::new();
    for path in files {
        let bytes = read_limited(path, false)?;
        let certificates = certificates_only(path, &bytes)?;
        let mut store = RootCertStore::empty();
        for certificate in &certificates {
            store
                .add(certificate.clone())
                .map_err(|e| invalid(path, format!("not usable as a trust anchor: {e}")))?;
        }
        anchors.extend(certificates);
    }
    Ok(anchors)
}

/// The webpki verifier that decides `chain_verified` for a client certificate; `None` when there
/// are no anchors (then nothing is chain-verified).
pub(crate) fn chain_verifier(
    anchors: &[CertificateDer<'static>],
) -> Result<Option<Arc<dyn ClientCertVerifier>>, TlsError> {
    if anchors.is_empty() {
        return Ok(None);
    }
    let mut roots = RootCertStore::empty();
    for anchor in anchors {
        roots.add(anchor.clone())?;
    }
    rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(provider()),
    )
    .build()
    .map(Some)
    .map_err(|e| TlsError::Config(rustls::Error::General(format!("client anchors: {e}"))))
}

/// The one crypto provider: `ring` (never aws-lc).
pub(crate) fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// Whether two sets of anchors share a key: the same CA, or a copy of it renewed or re-issued
/// (a signer's front ends' CA must be theirs alone, apart from the client CAs).
pub fn anchors_share_a_key(
    a: &[CertificateDer<'static>],
    b: &[CertificateDer<'static>],
) -> Result<bool, TlsError> {
    let keys = |anchors: &[CertificateDer<'static>]| -> Result<Vec<Vec<u8>>, TlsError> {
        anchors
            .iter()
            .map(|anchor| {
                use der::{Decode as _, Encode as _};
                x509_cert::Certificate::from_der(anchor)
                    .and_then(|c| c.tbs_certificate.subject_public_key_info.to_der())
                    .map_err(|e| TlsError::Config(rustls::Error::General(e.to_string())))
            })
            .collect()
    };
    let a = keys(a)?;
    Ok(keys(b)?.iter().any(|key| a.contains(key)))
}

/// A signer's check of a front end's certificate: the webpki chain check against the front
/// ends' CA, with no intermediate allowed.
#[derive(Debug)]
struct FrontEndsOnly {
    chains: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for FrontEndsOnly {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.chains.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if !intermediates.is_empty() {
            return Err(rustls::Error::General(
                "a front end's certificate is issued directly by the front ends' CA".into(),
            ));
        }
        self.chains.verify_client_cert(end_entity, &[], now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chains.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.chains.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.chains.supported_verify_schemes()
    }
}

/// Accepts any client certificate whose key signed the TLS 1.3 handshake (proof of possession)
/// and records nothing: the listener reads the certificate from the connection afterwards.
#[derive(Debug)]
struct PossessionOnly {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for PossessionOnly {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // Empty: a client may send any certificate, including a self-signed one.
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(
            "TLS 1.2 is never negotiated (criteria 2.2.4)".into(),
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// SHA-256 of `der` as colon-separated upper-case hex.
fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn invalid(path: &Path, reason: impl Into<String>) -> TlsError {
    TlsError::Invalid {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Whether `path` exists (a dangling link counts: reading it then fails and says so).
fn exists(path: &Path) -> Result<bool, TlsError> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(TlsError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Reads a regular file of at most [`MAX_PEM_FILE`] bytes; a private key file must not be
/// readable by group or others.
fn read_limited(path: &Path, private: bool) -> Result<Zeroizing<Vec<u8>>, TlsError> {
    let read = |source| TlsError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read)?;
    let metadata = file.metadata().map_err(read)?;
    if !metadata.is_file() {
        return Err(invalid(path, "not a regular file"));
    }
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(TlsError::KeyPermissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_PEM_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(read)?;
    if bytes.len() as u64 > MAX_PEM_FILE {
        return Err(invalid(path, "larger than 1 MiB"));
    }
    Ok(bytes)
}

fn is_private_key(kind: SectionKind) -> bool {
    matches!(
        kind,
        SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey
    )
}

/// The PEM sections of `bytes`, in order (sections of unknown kinds are skipped).
fn pem_sections(path: &Path, bytes: &[u8]) -> Result<Vec<(SectionKind, Vec<u8>)>, TlsError> {
    <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(path, format!("malformed PEM: {e}")))
}

/// The certificates of a certificate or anchor file: at least one, and no private key (a key in
/// a file that need not be private is refused).
fn certificates_only(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut certificates = Vec::new();
    let mut found_key = false;
    for (kind, mut der) in pem_sections(path, bytes)? {
        if kind == SectionKind::Certificate {
            certificates.push(CertificateDer::from(der));
        } else {
            found_key |= is_private_key(kind);
            der.zeroize();
        }
    }
    if found_key {
        return Err(invalid(
            path,
            "contains a private key; keep the key in its own file with mode 0600",
        ));
    }
    if certificates.is_empty() {
        return Err(invalid(path, "no CERTIFICATE in the file"));
    }
    Ok(certificates)
}

/// Exactly one unencrypted private key (PKCS#8, PKCS#1 or SEC1) and nothing else.
fn single_key(path: &Path, bytes: &[u8]) -> Result<Zeroizing<PrivateKeyDer<'static>>, TlsError> {
    let mut keys = Vec::new();
    let mut other = 0usize;
    for (kind, der) in pem_sections(path, bytes)? {
        let key = match kind {
            SectionKind::PrivateKey => PrivateKeyDer::Pkcs8(der.into()),
            SectionKind::RsaPrivateKey => PrivateKeyDer::Pkcs1(der.into()),
            SectionKind::EcPrivateKey => PrivateKeyDer::Sec1(der.into()),
            _ => {
                other += 1;
                continue;
            }
        };
        keys.push(Zeroizing::new(key));
    }
    if keys.len() != 1 || other != 0 {
        return Err(invalid(
            path,
            format!(
                "expected exactly one unencrypted private key (PRIVATE KEY, RSA PRIVATE KEY or \
                 EC PRIVATE KEY) and nothing else; found {} key(s) and {other} other section(s)",
                keys.len()
            ),
        ));
    }
    keys.pop()
        .ok_or_else(|| invalid(path, "no private key in the file"))
}

/// A TLS client identity (a front end's, for its signers) as one PEM text of the certificate
/// chain and its key, for `reqwest::Identity::from_pem`: both files read and checked as the
/// server's own are (size, certificates only, one key that group and others cannot read).
pub fn client_identity_pem(
    certificate_path: &Path,
    key_path: &Path,
) -> Result<Zeroizing<Vec<u8>>, TlsError> {
    let key_pem = read_limited(key_path, true)?;
    let mut pem = read_limited(certificate_path, false)?;
    identity_of(certificate_path, &pem, key_path, &key_pem)?;
    pem.push(b'\n');
    pem.extend_from_slice(&key_pem);
    Ok(pem)
}

fn load(certificate_path: &Path, key_path: &Path) -> Result<TlsIdentity, TlsError> {
    let key_pem = read_limited(key_path, true)?;
    let certificate_pem = read_limited(certificate_path, false)?;
    identity_of(certificate_path, &certificate_pem, key_path, &key_pem)
}

/// The identity in the PEM texts of a certificate chain and its key, each file's checks made.
fn identity_of(
    certificate_path: &Path,
    certificate_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
) -> Result<TlsIdentity, TlsError> {
    let key = single_key(key_path, key_pem)?;
    let certificates = certificates_only(certificate_path, certificate_pem)?;
    TlsIdentity::new(certificates, key, certificate_path)
}

fn generate(config: &ServerConfig) -> Result<TlsIdentity, TlsError> {
    let gen_err = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    for name in &config.tls_names {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
    let mut params = rcgen::CertificateParams::new(names).map_err(gen_err)?;
    let mut subject = rcgen::DistinguishedName::new();
    subject.push(rcgen::DnType::CommonName, GENERATED_CN);
    params.distinguished_name = subject;
    let today = days_since_epoch();
    let (year, month, day) = crate::clock::civil_from_days(today);
    params.not_before = rcgen::date_time_ymd(year, month, day);
    let (year, month, day) = crate::clock::civil_from_days(today + GENERATED_VALIDITY_DAYS);
    params.not_after = rcgen::date_time_ymd(year, month, day);
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let certificate = params.self_signed(&key_pair).map_err(gen_err)?;

    let key_pem = Zeroizing::new(key_pair.serialize_pem());
    let key = Zeroizing::new(PrivateKeyDer::Pkcs8(key_pair.serialize_der().into()));
    let identity = TlsIdentity::new(
        vec![certificate.der().clone()],
        key,
        &config.tls_certificate,
    )?;
    // The key first: an interrupted start leaves a key without certificate, which the next
    // start reports (`Incomplete`) rather than a certificate without its key.
    write_atomically(&config.tls_key, key_pem.as_bytes(), 0o600)?;
    write_atomically(&config.tls_certificate, certificate.pem().as_bytes(), 0o644)?;
    tracing::warn!(
        certificate = %config.tls_certificate.display(),
        fingerprint = %identity.fingerprint(),
        "generated a self-signed TLS certificate (not for production)"
    );
    Ok(identity)
}

/// Whole days since 1970-01-01 (UTC), today.
fn days_since_epoch() -> i64 {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(seconds / 86_400).unwrap_or(0)
}

/// Creates `dir` and missing parents with mode 0700.
fn create_private_dir(dir: &Path) -> Result<(), TlsError> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| TlsError::Write {
        path: dir.to_owned(),
        source,
    })
}

/// Writes `contents` to a new temporary file beside `path` with `mode`, syncs it, and renames it
/// over `path`, so a reader sees the whole file or none.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let write = |p: &Path| {
        let p = p.to_owned();
        move |source| TlsError::Write { path: p, source }
    };
    let dir = path.parent().unwrap_or_else(|| Path::new(""));
    create_private_dir(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| invalid(path, "not a file name"))?
        .to_string_lossy();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let temporary = dir.join(format!(".{name}.{}.{nanos}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let result = options.open(&temporary).and_then(|mut file| {
        file.write_all(contents)?;
        file.sync_all()
    });
    let result = result.and_then(|()| std::fs::rename(&temporary, path));
    if let Err(source) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(write(path)(source));
    }
    // Make the rename durable; not every platform can sync a folder, so this is best effort.
    let sync_dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    if let Ok(folder) = std::fs::File::open(sync_dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        KeyUsagePurpose,
    };

    fn ca(
        cn: &str,
        issuer: Option<(&CertificateParams, &KeyPair)>,
    ) -> (CertificateParams, KeyPair, CertificateDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let cert = match issuer {
            Some((p, k)) => params.signed_by(&key, &Issuer::from_params(p, k)).unwrap(),
            None => params.self_signed(&key).unwrap(),
        };
        let der = cert.der().clone();
        (params, key, der)
    }

    fn client(issuer: (&CertificateParams, &KeyPair)) -> CertificateDer<'static> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["client.inkan.test".to_owned()]).unwrap();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params
            .signed_by(&key, &Issuer::from_params(issuer.0, issuer.1))
            .unwrap()
            .der()
            .clone()
    }

    /// A signer takes a front end's leaf issued directly by the front ends' CA, and refuses one
    /// that chains to it through an intermediate (a client CA under the same root), which the
    /// chain check alone would take.
    #[test]
    fn a_front_end_certificate_must_come_from_the_front_ends_ca_directly() {
        let (root_params, root_key, root) = ca("front ends", None);
        let (mid_params, mid_key, mid) = ca("clients under it", Some((&root_params, &root_key)));
        let direct = client((&root_params, &root_key));
        let through = client((&mid_params, &mid_key));
        let chains = chain_verifier(std::slice::from_ref(&root))
            .unwrap()
            .unwrap();
        let now = UnixTime::now();
        assert!(
            chains
                .verify_client_cert(&through, std::slice::from_ref(&mid), now)
                .is_ok()
        );
        let fronts = FrontEndsOnly { chains };
        assert!(fronts.verify_client_cert(&direct, &[], now).is_ok());
        assert!(
            fronts
                .verify_client_cert(&through, std::slice::from_ref(&mid), now)
                .is_err()
        );
        assert!(fronts.verify_client_cert(&through, &[], now).is_err());
        // And the start-up check sees a CA shared by key.
        assert!(
            anchors_share_a_key(std::slice::from_ref(&root), &[mid.clone(), root.clone()]).unwrap()
        );
        assert!(!anchors_share_a_key(&[mid], &[direct]).unwrap());
    }
}
