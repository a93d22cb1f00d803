//! Configuration: the TOML file, `INKAN_` environment overrides, and the checks that refuse
//! an unsafe combination before anything starts.
//!
//! Owns parsing (strict: unknown keys are errors) and turning the `[device]` and `[store]`
//! sections into a device and a store. Secrets (PINs, passphrases) are never held in the
//! config itself, only the file or variable they are read from.

use crate::environment::Environment;
use inkan_device::CryptoDevice;
use inkan_device::pkcs11::{PinSource, Pkcs11Config, Pkcs11Device};
use inkan_device::soft::{KekSource, SoftConfig, SoftDevice};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest configuration file accepted.
const MAX_CONFIG_FILE: u64 = 1024 * 1024;

/// Environment variables with this prefix override the file: `INKAN_ENVIRONMENT`,
/// `INKAN_STORE__URL`, `INKAN_DEVICE__KIND` (a double underscore separates section and key).
pub const ENV_PREFIX: &str = "INKAN_";

/// `INKAN_` variables that are not configuration overrides (whole names; `INKAN_TEST_…` is the
/// test suites' prefix).
const RESERVED_ENV: [&str; 2] = ["INKAN_CONFIG", "INKAN_LOG"];

/// The keys outside any section that a variable may set (`INKAN_ENVIRONMENT`); every other
/// override names its section (`INKAN_<SECTION>__<KEY>`).
const TOP_LEVEL_ENV: [&str; 2] = ["environment", "allow_software_device_in_production"];

/// The sections of the configuration file.
const SECTIONS: [&str; 11] = [
    "device",
    "store",
    "log",
    "server",
    "auth",
    "signing",
    "delivery",
    "status",
    "operations",
    "verify",
    "status_lists",
];

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file or an override is malformed or has unknown keys.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The combination is refused (for example the software token in production).
    #[error("refused configuration: {0}")]
    Refused(String),
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `production`, `staging` or `test` (criteria 2.1.3(15)). Required in a configuration
    /// file (or as `INKAN_ENVIRONMENT`): a deployment never falls into `test` by omission.
    /// Only the zero-config start, without a file, is `test`.
    pub environment: Environment,
    /// Lets the uncertified software token run in production (criteria 2.2.2(1)). Off by
    /// default; when on, the choice is logged at every start.
    #[serde(default)]
    pub allow_software_device_in_production: bool,
    /// The crypto device.
    #[serde(default)]
    pub device: DeviceConfig,
    /// The store.
    #[serde(default)]
    pub store: StoreConfig,
    /// The transparency log.
    #[serde(default)]
    pub log: LogConfig,
    /// The HTTPS listener.
    #[serde(default)]
    pub server: ServerConfig,
    /// Authentication and sessions.
    #[serde(default)]
    pub auth: AuthConfig,
    /// Signature activation and signing.
    #[serde(default)]
    pub signing: SigningConfig,
    /// Delivery of signed documents to registered destinations.
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// Status lists checked at signing time.
    #[serde(default)]
    pub status: StatusConfig,
    /// Operations: dual control.
    #[serde(default)]
    pub operations: OperationsConfig,
    /// The public verify endpoints (`/credentials/verify`, `/presentations/verify`).
    #[serde(default)]
    pub verify: VerifyConfig,
    /// The status lists Inkan keeps for issuers' credentials.
    #[serde(default)]
    pub status_lists: StatusListsConfig,
    /// External OpenID providers people may sign in to the pages with (`[[identity_providers]]`).
    #[serde(default)]
    pub identity_providers: Vec<IdentityProviderConfig>,
    /// A front end's signers (`[server] role = "front"`).
    #[serde(default)]
    pub front: FrontConfig,
    /// A signer's front ends (`[server] role = "signer"`).
    #[serde(default)]
    pub signer: SignerConfig,
}

/// What a process of `inkan serve` is (issue 20 point 1; criteria 2.2.4(2)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The whole service in one process (the default).
    #[default]
    Single,
    /// The internet-facing front end: it terminates clients' TLS and forwards every request
    /// to a signer over mutually authenticated TLS 1.3. It opens no store and no crypto
    /// device and holds no key but its TLS identities (`[front]`). The signer believes what
    /// it says of a client's certificate (`api::front`).
    Front,
    /// The signing module's process: the whole service, with the crypto device, reached only
    /// by front ends whose certificate chains to `[signer] front_ca_files`.
    Signer,
}

impl Role {
    /// Its name in the configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Single => "single",
            Role::Front => "front",
            Role::Signer => "signer",
        }
    }
}

/// `[front]`: where a front end (`[server] role = "front"`) sends requests.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FrontConfig {
    /// The signers' base URLs (`https://signer-1.internal:8444`). Each request goes to the
    /// next in turn; a signer that cannot be connected to is skipped for two seconds, and the
    /// request tried on the next. None reachable: 503.
    #[serde(default)]
    pub signers: Vec<String>,
    /// The CA certificates (PEM files) the signers' server certificates must chain to, for
    /// the names in `signers`. Nothing else is trusted (the system's roots never are).
    #[serde(default)]
    pub signer_ca_files: Vec<PathBuf>,
    /// This front end's client certificate chain (PEM, leaf first), which the signers check
    /// against their `[signer] front_ca_files`.
    #[serde(default)]
    pub client_certificate: Option<PathBuf>,
    /// Its private key (PEM, PKCS#8).
    #[serde(default)]
    pub client_key: Option<PathBuf>,
}

/// `[signer]`: who may reach a signer (`[server] role = "signer"`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignerConfig {
    /// The CA certificates (PEM files) a front end's client certificate must chain to. The
    /// signer's listener completes no TLS handshake without one, and takes the client's
    /// address and certificate only from such a front end's forwarding headers.
    #[serde(default)]
    pub front_ca_files: Vec<PathBuf>,
}

/// `[[identity_providers]]`: an external OpenID Connect provider people may sign in to Inkan's
/// pages with (issue 18 point 5; criteria 2.2.1(3)). Inkan is a confidential client of it
/// (authorization code, PKCE S256, `client_secret_basic`). Its sign-in replaces password and
/// TOTP only when the ID token's `acr` is one of `acr_values`, and only for a subject an
/// operator linked to an account under dual control (`identity_link.add`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderConfig {
    /// A short name, `a-z`, `0-9` and `-` (1 to 32): in the callback URL
    /// (`/oauth2/federation/<id>/callback`, to register at the provider), in links and in the log.
    pub id: String,
    /// The name on the sign-in button.
    pub name: String,
    /// The issuer, pinned: discovery (`<issuer>/.well-known/openid-configuration`) must name
    /// exactly it, and so must every ID token. `https` only.
    pub issuer: String,
    /// Inkan's `client_id` at the provider.
    pub client_id: String,
    /// A file holding the client secret (one line).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Or the environment variable holding it.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// The `acr` values that count as a sign-in strong enough to replace password and TOTP (asked
    /// for in this order as `acr_values`). An ID token with another `acr`, or none, is refused.
    pub acr_values: Vec<String>,
    /// The longest time since the person authenticated at the provider (`max_age`, checked
    /// against `auth_time`), seconds (1 to 3600).
    #[serde(default = "default_max_auth_age")]
    pub max_auth_age_seconds: u64,
    /// The trust anchors (PEM files of CA certificates) the provider's HTTPS certificate must
    /// chain to; the operating system's roots are not used.
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
}

fn default_max_auth_age() -> u64 {
    300
}

impl IdentityProviderConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |what: &str| {
            ConfigError::Invalid(format!("[[identity_providers]] {:?}: {what}", self.id))
        };
        if self.id.is_empty()
            || self.id.len() > 32
            || !self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid("id must be 1 to 32 of a-z, 0-9 and -"));
        }
        let printable = |v: &str, max: usize| {
            !v.is_empty() && v.len() <= max && !v.chars().any(char::is_control)
        };
        if !printable(&self.name, 64) || !printable(&self.client_id, 256) {
            return Err(invalid(
                "name (64) and client_id (256) must be printable text",
            ));
        }
        match url::Url::parse(&self.issuer) {
            Ok(u) if u.scheme() == "https" && u.query().is_none() && u.fragment().is_none() => {}
            _ => {
                return Err(invalid(
                    "issuer must be an https URL without query or fragment",
                ));
            }
        }
        if self.client_secret_file.is_some() == self.client_secret_env.is_some() {
            return Err(invalid(
                "needs exactly one of client_secret_file and client_secret_env",
            ));
        }
        if self.acr_values.is_empty() || self.acr_values.iter().any(|v| !printable(v, 256)) {
            return Err(invalid(
                "acr_values must name at least one acr: the levels that replace password and TOTP",
            ));
        }
        if !(1..=3600).contains(&self.max_auth_age_seconds) {
            return Err(invalid("max_auth_age_seconds must be 1 to 3600"));
        }
        Ok(())
    }

    /// The client secret, from its file or variable.
    pub fn client_secret(&self) -> Result<SecretString, ConfigError> {
        let secret = match (&self.client_secret_file, &self.client_secret_env) {
            (Some(path), _) => read_secret_file(path),
            (None, Some(var)) => read_secret_env(var),
            (None, None) => return Err(ConfigError::Invalid("no client secret".into())),
        }
        .map_err(|e| ConfigError::Invalid(format!("[[identity_providers]] {}: {e}", self.id)))?;
        Ok(secret)
    }
}

/// `[status_lists]`: how the status lists Inkan keeps for issuers are published (issue 16).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StatusListsConfig {
    /// How often each node signs a new version of the lists that changed: a status change is
    /// public within about this long, and a thousand changes in that time make one signature.
    #[serde(default = "default_publish_every")]
    pub publish_every_seconds: u64,
    /// How long a published version is valid (`validUntil`); a new one is signed half-way.
    #[serde(default = "default_list_valid_for")]
    pub valid_for_seconds: u64,
    /// How many lists one subscriber may keep (each is signed at least twice a day and is up
    /// to 2 MiB of bits): creating one more is refused.
    #[serde(default = "default_lists_per_subscriber")]
    pub max_per_subscriber: u32,
}

fn default_lists_per_subscriber() -> u32 {
    100
}

fn default_publish_every() -> u64 {
    60
}

fn default_list_valid_for() -> u64 {
    86_400
}

impl Default for StatusListsConfig {
    fn default() -> Self {
        StatusListsConfig {
            publish_every_seconds: default_publish_every(),
            valid_for_seconds: default_list_valid_for(),
            max_per_subscriber: default_lists_per_subscriber(),
        }
    }
}

impl StatusListsConfig {
    /// The publication policy; refuses a version that would expire before the next round
    /// could renew it.
    pub fn policy(&self) -> Result<crate::status_lists::PublishPolicy, String> {
        if self.publish_every_seconds == 0 || self.publish_every_seconds > 86_400 {
            return Err("[status_lists] publish_every_seconds: from 1 to 86400".into());
        }
        if self.valid_for_seconds < 4 * self.publish_every_seconds {
            return Err(
                "[status_lists] valid_for_seconds: at least four times publish_every_seconds"
                    .into(),
            );
        }
        Ok(crate::status_lists::PublishPolicy {
            every: std::time::Duration::from_secs(self.publish_every_seconds),
            valid_for: std::time::Duration::from_secs(self.valid_for_seconds),
            max_per_subscriber: self.max_per_subscriber,
        })
    }
}

/// `[verify]`: what the public verify endpoints trust (issue 15). A credential that carries
/// its issuer's certificate (an mdoc's `x5chain`, an SD-JWT VC's `x5c`, a status list CWT's
/// `x5chain`) is authenticated only when that chain leads to one of `trust_anchors`; else the
/// answer is `verified: false` with `issuerTrust: "unauthenticated"`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyConfig {
    /// Files of CA certificates (PEM, one or more blocks, or one DER certificate): IACA roots
    /// for mdocs, issuing CAs for JOSE `x5c` issuers. With none, no such issuer is
    /// authenticated.
    #[serde(default)]
    pub trust_anchors: Vec<PathBuf>,
}

impl VerifyConfig {
    /// Reads the trust anchors.
    pub fn load_anchors(&self) -> Result<inkan_formats::trust::TrustAnchors, String> {
        load_trust_anchors("[verify] trust_anchors", &self.trust_anchors)
    }
}

/// Reads certificate files (PEM, one or more blocks, or one DER certificate) as trust anchors;
/// `what` names the setting in errors.
pub fn load_trust_anchors(
    what: &str,
    paths: &[PathBuf],
) -> Result<inkan_formats::trust::TrustAnchors, String> {
    let mut anchors = inkan_formats::trust::TrustAnchors::new();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
        anchors
            .add(&bytes)
            .map_err(|e| format!("{what} {}: {e}", path.display()))?;
    }
    Ok(anchors)
}

/// `[operations]`: dual control of sensitive actions (criteria 2.1.3(12)).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OperationsConfig {
    /// How many operators other than the requester must approve an action under dual control
    /// (M of the N operators whose role may do it). 0 turns dual control off (refused in
    /// production).
    #[serde(default = "default_approvals")]
    pub approvals: u32,
    /// Per action (`key.destroy`, `operator.role`, `operator.terminal`,
    /// `subscriber.terminate`): a different M.
    #[serde(default)]
    pub approvals_for: std::collections::BTreeMap<String, u32>,
    /// How long a request waits for its approvals before it expires.
    #[serde(default = "default_approval_minutes")]
    pub approval_minutes: u32,
    /// In production, a changed configuration starts only with an approved `config.change`
    /// request naming its digest: that request's id (not part of the digest).
    #[serde(default)]
    pub configuration_approval: Option<String>,
}

fn default_approvals() -> u32 {
    1
}

fn default_approval_minutes() -> u32 {
    24 * 60
}

impl Default for OperationsConfig {
    fn default() -> Self {
        OperationsConfig {
            approvals: default_approvals(),
            approvals_for: Default::default(),
            approval_minutes: default_approval_minutes(),
            configuration_approval: None,
        }
    }
}

/// `[delivery]`: sending signed documents to the destinations operators register for
/// subscribers (criteria 2.2.3(3)A). Documents are POSTed as JSON over HTTPS (TLS 1.3, no
/// redirects, no proxy), retried with exponential backoff.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// The trust anchors (PEM files of CA certificates) that destinations' server
    /// certificates must chain to. The operating system's roots are not used: with none, no
    /// delivery can succeed.
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    /// Attempts before a delivery is given up (1 to 50).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The wait after the first failed attempt, in seconds; it doubles after each further
    /// failure…
    #[serde(default = "default_retry_initial")]
    pub retry_initial_seconds: u64,
    /// …up to this, in seconds.
    #[serde(default = "default_retry_max")]
    pub retry_max_seconds: u64,
    /// Longest one attempt may take (connect, send, response), in seconds (1 to 300).
    #[serde(default = "default_delivery_timeout")]
    pub timeout_seconds: u64,
    /// How often the worker looks for due deliveries, in milliseconds (10 to 60000). A new
    /// delivery is attempted at once on the node that queued it.
    #[serde(default = "default_poll_millis")]
    pub poll_millis: u64,
}

fn default_max_attempts() -> u32 {
    8
}

fn default_retry_initial() -> u64 {
    1
}

fn default_retry_max() -> u64 {
    3600
}

fn default_delivery_timeout() -> u64 {
    10
}

fn default_poll_millis() -> u64 {
    1000
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            ca_files: Vec::new(),
            max_attempts: default_max_attempts(),
            retry_initial_seconds: default_retry_initial(),
            retry_max_seconds: default_retry_max(),
            timeout_seconds: default_delivery_timeout(),
            poll_millis: default_poll_millis(),
        }
    }
}

/// `[status]`: fetching the status lists that say whether a signing key is still valid
/// (criteria 2.2.3(1)B): W3C Bitstring Status List credentials and IETF Status List Tokens,
/// over HTTPS (TLS 1.3, no redirects, no proxy), verified against `trust_anchors`, cached.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StatusConfig {
    /// The trust anchors (PEM files of CA certificates) that status servers' certificates must
    /// chain to. The operating system's roots are not used: with none, no list can be fetched.
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    /// The keys a status list must be signed with: files holding PEM `PUBLIC KEY` (SPKI) or
    /// `CERTIFICATE` blocks (the certificate's public key is what counts), or one public JWK.
    /// With none, every status is unknown.
    #[serde(default)]
    pub trust_anchors: Vec<PathBuf>,
    /// Largest response accepted, in bytes (1024 to 16777216; default 1 MiB).
    #[serde(default = "default_max_list_bytes")]
    pub max_list_bytes: usize,
    /// Longest a verified list is used without fetching it again, in seconds (5 to 86400;
    /// default 300), whatever its `ttl`, `exp`, `validUntil` or `Cache-Control` say.
    #[serde(default = "default_max_cache_seconds")]
    pub max_cache_seconds: u64,
    /// Longest one fetch may take (connect, send, response), in seconds (1 to 60).
    #[serde(default = "default_fetch_timeout")]
    pub fetch_timeout_seconds: u64,
    /// Whether a key without a status source (or with source `none`) may sign (criteria
    /// 2.2.3(1)B). Only the `test` environment may allow it, and there it is the default;
    /// elsewhere it is off and `true` is refused: every signature rests on a status check,
    /// holders' keys on the registry's own state (source `registry`). Read it through
    /// [`StatusConfig::keys_without_status_may_sign`].
    #[serde(default)]
    pub allow_keys_without_status: Option<bool>,
    /// How often the status monitor re-checks every active key's list, in seconds (10 to
    /// 86400); revoked keys are destroyed (criteria 2.2.2(3)B).
    #[serde(default = "default_monitor_seconds")]
    pub monitor_every_seconds: u64,
}

fn default_monitor_seconds() -> u64 {
    300
}

fn default_max_list_bytes() -> usize {
    1024 * 1024
}

fn default_max_cache_seconds() -> u64 {
    300
}

fn default_fetch_timeout() -> u64 {
    10
}

impl StatusConfig {
    /// Whether keys without a status source may sign in `environment`: as configured in
    /// `test` (allowed when unset), never elsewhere.
    pub fn keys_without_status_may_sign(&self, environment: Environment) -> bool {
        environment == Environment::Test && self.allow_keys_without_status.unwrap_or(true)
    }
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig {
            ca_files: Vec::new(),
            trust_anchors: Vec::new(),
            max_list_bytes: default_max_list_bytes(),
            max_cache_seconds: default_max_cache_seconds(),
            fetch_timeout_seconds: default_fetch_timeout(),
            allow_keys_without_status: None,
            monitor_every_seconds: default_monitor_seconds(),
        }
    }
}

/// `[signing]`: signature activation (criteria 2.2.3(2)).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// How long a SAD works, in seconds.
    #[serde(default = "default_sad_seconds")]
    pub sad_seconds: u64,
    /// The activation key (P-256, for JWE-encrypted PIN and OTP), sealed under the secrets
    /// key; made on first start.
    #[serde(default = "default_activation_key_file")]
    pub activation_key_file: PathBuf,
    /// How long signed documents are kept, in days (criteria 2.2.3(3)B): 0 (the default) keeps
    /// none, only their digests in the transparency log; more keeps each document sealed
    /// (AES-256-GCM under the secrets key) for that long, readable by its subscriber, then
    /// purged. At most 3650.
    #[serde(default)]
    pub retention_days: u32,
}

fn default_sad_seconds() -> u64 {
    300
}

fn default_activation_key_file() -> PathBuf {
    PathBuf::from("inkan-data/activation.key")
}

impl Default for SigningConfig {
    fn default() -> Self {
        SigningConfig {
            sad_seconds: default_sad_seconds(),
            activation_key_file: default_activation_key_file(),
            retention_days: 0,
        }
    }
}

/// `[server]`: the HTTPS listener (criteria 2.2.4: TLS 1.3 only).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    #[serde(default = "default_listen")]
    pub listen: std::net::SocketAddr,
    /// Where the operators' plain-HTTP listener binds: Prometheus `/metrics` and `/ready` with
    /// its details, which the public listener does not serve (criteria 2.1.3(6)). Meant for
    /// loopback or a management network, e.g. `127.0.0.1:9464`. Absent (the default): not
    /// served at all.
    #[serde(default)]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// The server certificate chain (PEM, leaf first). With `tls_key`; when both are absent
    /// outside production, a self-signed certificate is generated at these default paths and
    /// kept for later starts.
    #[serde(default = "default_tls_certificate")]
    pub tls_certificate: PathBuf,
    /// The server's private key (PEM, PKCS#8).
    #[serde(default = "default_tls_key")]
    pub tls_key: PathBuf,
    /// Extra DNS names for a generated certificate (`localhost` and the loopback addresses are
    /// always in it).
    #[serde(default)]
    pub tls_names: Vec<String>,
    /// Trust anchors (PEM files) for client certificates. A client certificate that chains to
    /// one is marked verified; system clients may also register a self-signed certificate
    /// (RFC 8705 `self_signed_tls_client_auth`).
    #[serde(default)]
    pub client_ca_files: Vec<PathBuf>,
    /// The URL clients use to reach this service (DPoP `htu`, client assertion `aud`), e.g.
    /// `https://inkan.example.com`. Defaults to `https://localhost:<port>`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Largest request body, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Longest a request may take, in seconds.
    #[serde(default = "default_request_timeout")]
    pub request_timeout_seconds: u64,
    /// Where the service keeps its own secrets (the key that seals TOTP seeds): a file of 32
    /// random bytes, created with mode 0600 on first start.
    #[serde(default = "default_secrets_key_file")]
    pub secrets_key_file: PathBuf,
    /// How many credential verifications (`/credentials/verify`, `/presentations/verify`: JSON-LD
    /// canonicalisation) run at once, on the blocking pool; four times as many more wait, and
    /// beyond that a verification is refused with 503. Default: the number of cores.
    #[serde(default)]
    pub concurrent_verifications: Option<usize>,
    /// Connections open at once on the public listener; at the limit new ones wait in the
    /// kernel's queue until one ends. Keep it well below the process's open-file limit
    /// (`LimitNOFILE`). Idle and slow connections end within 10 s (handshake, headers).
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// `single` (the default: the whole service), `front` (forwards to `[front] signers`,
    /// holds no key) or `signer` (the service, reached only by front ends). `inkan serve
    /// --role` overrides it.
    #[serde(default)]
    pub role: Role,
}

fn default_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 8443))
}

fn default_tls_certificate() -> PathBuf {
    PathBuf::from("inkan-data/tls/server.crt")
}

fn default_tls_key() -> PathBuf {
    PathBuf::from("inkan-data/tls/server.key")
}

fn default_max_body() -> usize {
    1024 * 1024
}

fn default_request_timeout() -> u64 {
    30
}

/// Whether the store at `url` is reached with TLS and the server's certificate and name
/// checked: SQLite (a file, no network), or PostgreSQL whose URL names its TLS mode once, as
/// `verify-full`. The parameters are read as the driver reads them (percent-decoded, both of
/// its names for the mode, `sslmode` and `ssl-mode`; they override libpq's `PGSSLMODE`), so
/// a second mode hidden behind another spelling cannot pass.
fn store_checks_the_server(url: &str) -> bool {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return true;
    }
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let modes: Vec<String> = parsed
        .query_pairs()
        .filter(|(key, _)| key == "sslmode" || key == "ssl-mode")
        .map(|(_, value)| value.into_owned())
        .collect();
    modes == ["verify-full"]
}

fn default_max_connections() -> usize {
    crate::api::listener::DEFAULT_MAX_CONNECTIONS
}

fn default_secrets_key_file() -> PathBuf {
    PathBuf::from("inkan-data/secrets.key")
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            metrics_listen: None,
            tls_certificate: default_tls_certificate(),
            tls_key: default_tls_key(),
            tls_names: Vec::new(),
            client_ca_files: Vec::new(),
            public_url: None,
            max_body_bytes: default_max_body(),
            request_timeout_seconds: default_request_timeout(),
            secrets_key_file: default_secrets_key_file(),
            concurrent_verifications: None,
            max_connections: default_max_connections(),
            role: Role::Single,
        }
    }
}

impl ServerConfig {
    /// The URL clients use to reach the service, without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("https://localhost:{}", self.listen.port()),
        }
    }
}

/// `[auth]`: credentials, lockout and session lifetimes (criteria 2.2.1).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// How long an activation code works, in hours.
    #[serde(default = "default_activation_hours")]
    pub activation_code_hours: u64,
    /// Failed logins in a row that lock an account.
    #[serde(default = "default_max_failures")]
    pub max_failed_logins: u32,
    /// How long a lock lasts, in minutes.
    #[serde(default = "default_lockout_minutes")]
    pub lockout_minutes: u64,
    /// Failed logins allowed from one source address per minute before it is refused for the
    /// rest of the minute.
    #[serde(default = "default_source_failures")]
    pub max_failures_per_source_per_minute: u32,
    /// Access token lifetime, in seconds.
    #[serde(default = "default_access_seconds")]
    pub access_token_seconds: u64,
    /// A session ends after this long without use, in minutes (idle timeout).
    #[serde(default = "default_idle_minutes")]
    pub idle_timeout_minutes: u64,
    /// A session ends this long after login whatever the activity, in minutes (absolute
    /// timeout).
    #[serde(default = "default_absolute_minutes")]
    pub absolute_timeout_minutes: u64,
    /// How far a DPoP proof's or client assertion's `iat` may be from now, in seconds.
    #[serde(default = "default_proof_skew")]
    pub proof_max_age_seconds: u64,
    /// How many password and PIN hashes (Argon2id, 19 MiB each) run at once, on the blocking
    /// pool; four times as many more wait, and beyond that the login or activation is refused
    /// with 503. Default: the number of cores.
    #[serde(default)]
    pub concurrent_hashes: Option<usize>,
    /// What a new passkey's attestation must prove (issue 18 point 4): `record` (default: its
    /// format and authenticator model are stored, nothing is verified) or `verified` (a `packed`
    /// statement whose certificate chain leads to one of `passkey_attestation_roots` and whose
    /// signature verifies; self attestation and other formats are refused).
    #[serde(default)]
    pub passkey_attestation: PasskeyAttestation,
    /// With `verified`: the authenticator makers' attestation roots (PEM or DER files).
    #[serde(default)]
    pub passkey_attestation_roots: Vec<PathBuf>,
    /// With `verified`: the authenticator models (AAGUIDs, 32 lowercase hex digits) accepted;
    /// empty, any model the roots vouch for.
    #[serde(default)]
    pub passkey_aaguids: Vec<String>,
}

/// `[auth] passkey_attestation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PasskeyAttestation {
    /// Recorded, not verified.
    #[default]
    Record,
    /// Verified against the configured roots.
    Verified,
}

fn default_activation_hours() -> u64 {
    72
}

fn default_max_failures() -> u32 {
    5
}

fn default_lockout_minutes() -> u64 {
    15
}

fn default_source_failures() -> u32 {
    20
}

fn default_access_seconds() -> u64 {
    300
}

fn default_idle_minutes() -> u64 {
    15
}

fn default_absolute_minutes() -> u64 {
    8 * 60
}

fn default_proof_skew() -> u64 {
    60
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            activation_code_hours: default_activation_hours(),
            max_failed_logins: default_max_failures(),
            lockout_minutes: default_lockout_minutes(),
            max_failures_per_source_per_minute: default_source_failures(),
            access_token_seconds: default_access_seconds(),
            idle_timeout_minutes: default_idle_minutes(),
            absolute_timeout_minutes: default_absolute_minutes(),
            proof_max_age_seconds: default_proof_skew(),
            concurrent_hashes: None,
            passkey_attestation: PasskeyAttestation::Record,
            passkey_attestation_roots: Vec::new(),
            passkey_aaguids: Vec::new(),
        }
    }
}

/// `[log]`: the transparency log (criteria 2.2.3(2)A-3, 2.2.3(3)C).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// The log's name; the checkpoint origin is `<name>/<environment>`, so a test log can
    /// never pass for a production one. Also the name in the log key's note signatures.
    #[serde(default = "default_log_name")]
    pub name: String,
    /// Issue a checkpoint at least every this many entries…
    #[serde(default = "default_checkpoint_entries")]
    pub checkpoint_every_entries: u64,
    /// …or every this many seconds when there are new entries, whichever comes first.
    #[serde(default = "default_checkpoint_seconds")]
    pub checkpoint_every_seconds: u64,
    /// `[log.key_device]`: the device that holds Inkan's own keys (the log key and the delivery
    /// key, both Ed25519) when it is not `[device]`, for an HSM that cannot make Ed25519 keys:
    /// a software token beside it (`kind = "soft"` with its own `path` and `kek_file`) or
    /// another PKCS#11 token, with the same keys as `[device]`. Absent (the default): the
    /// `[device]`. Taken only from this setting, and said in the log at every start.
    #[serde(default)]
    pub key_device: Option<DeviceConfig>,
}

fn default_log_name() -> String {
    "inkan.localhost/log".into()
}

fn default_checkpoint_entries() -> u64 {
    256
}

fn default_checkpoint_seconds() -> u64 {
    60
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            name: default_log_name(),
            checkpoint_every_entries: default_checkpoint_entries(),
            checkpoint_every_seconds: default_checkpoint_seconds(),
            key_device: None,
        }
    }
}

impl LogConfig {
    /// The checkpoint origin for `environment`: `<name>/<environment>`.
    pub fn origin(&self, environment: Environment) -> String {
        format!("{}/{}", self.name, environment)
    }
}

/// `[device]`: which crypto device holds the keys.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum DeviceConfig {
    /// The software token (development; uncertified).
    Soft {
        /// Folder of sealed keys.
        #[serde(default = "default_soft_path")]
        path: PathBuf,
        /// KEK file, created with mode 0600 on first start. Used unless a passphrase is set.
        #[serde(default = "default_kek_file")]
        kek_file: PathBuf,
        /// Read the KEK passphrase (Argon2id) from this file instead of using `kek_file`.
        #[serde(default)]
        kek_passphrase_file: Option<PathBuf>,
        /// Read the KEK passphrase from this environment variable instead.
        #[serde(default)]
        kek_passphrase_env: Option<String>,
    },
    /// A PKCS#11 token (an HSM; SoftHSMv2 in tests).
    Pkcs11 {
        /// Path of the PKCS#11 module.
        module: PathBuf,
        /// Label of the token to use.
        token_label: String,
        /// File holding the user PIN.
        #[serde(default)]
        user_pin_file: Option<PathBuf>,
        /// Environment variable holding the user PIN.
        #[serde(default)]
        user_pin_env: Option<String>,
        /// Sessions in the pool.
        #[serde(default = "default_sessions")]
        sessions: usize,
    },
}

fn default_soft_path() -> PathBuf {
    PathBuf::from("inkan-data/soft-token")
}

fn default_kek_file() -> PathBuf {
    PathBuf::from("inkan-data/kek")
}

fn default_sessions() -> usize {
    4
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig::Soft {
            path: default_soft_path(),
            kek_file: default_kek_file(),
            kek_passphrase_file: None,
            kek_passphrase_env: None,
        }
    }
}

/// `[store]`: where Inkan remembers things. Its `Debug` (what `inkan config check` prints and
/// the configuration's digest covers) hides a password in the URL.
#[derive(Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite://PATH` (the embedded default) or `postgres://…`. Outside `test`, a PostgreSQL URL
    /// must say `sslmode=verify-full` (TLS, the server's certificate and name checked; add
    /// `sslrootcert=` for your CA), or the start is refused (criteria 2.2.4(3)).
    #[serde(
        default = "default_store_url",
        serialize_with = "serialize_redacted_url"
    )]
    pub url: String,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("url", &redacted_url(&self.url))
            .finish()
    }
}

/// Serializes a store URL as [`redacted_url`] shows it: a serialized configuration never
/// carries the database's password.
fn serialize_redacted_url<S: serde::Serializer>(
    url: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&redacted_url(url))
}

/// `url` without its secrets: the password of its user part and a `password` query
/// parameter (libpq takes both) become `[redacted]`; anything that does not parse as a URL is
/// shown only by its scheme.
fn redacted_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
        return format!("{scheme}:[unparsable, redacted]");
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("[redacted]"));
    }
    if parsed.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "password" {
                    "[redacted]".into()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

fn default_store_url() -> String {
    "sqlite://inkan-data/inkan.db".into()
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: default_store_url(),
        }
    }
}

impl Config {
    /// Reads `path` (or the embedded defaults when `None`: the `test` environment), applies
    /// `INKAN_` overrides from `env`, and validates the result. A file must name its
    /// `environment` (or `INKAN_ENVIRONMENT` must).
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let (text, file_table) = match path {
            Some(path) => {
                let read = |source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                };
                let len = std::fs::metadata(path).map_err(read)?.len();
                if len > MAX_CONFIG_FILE {
                    return Err(ConfigError::Invalid(format!(
                        "{} is larger than 1 MiB",
                        path.display()
                    )));
                }
                let text = std::fs::read_to_string(path).map_err(read)?;
                let table = text
                    .parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid(located(path, &text, &e)))?;
                (Some(text), table)
            }
            None => (
                None,
                toml::Table::from_iter([(
                    "environment".to_owned(),
                    toml::Value::String(Environment::Test.as_str().into()),
                )]),
            ),
        };
        let mut table = file_table.clone();
        let applied = apply_env_overrides(&mut table, env)?;
        if let Some(path) = path
            && !table.contains_key("environment")
        {
            return Err(ConfigError::Invalid(format!(
                "{}: environment is required (environment = \"production\", \"staging\" or \
                 \"test\"); a configuration file never defaults to test",
                path.display()
            )));
        }
        let config: Config = match toml::Value::Table(table).try_into() {
            Ok(config) => config,
            Err(e) => return Err(explain(path, text.as_deref(), &file_table, &applied, e)),
        };
        config.validate()?;
        Ok(config)
    }

    /// A front end names its signers, their CA and its client identity; a signer names its
    /// front ends' CA; neither takes the other's table (issue 20 point 1).
    fn validate_role(&self) -> Result<(), ConfigError> {
        let (front, signer) = (&self.front, &self.signer);
        let front_set = !front.signers.is_empty()
            || !front.signer_ca_files.is_empty()
            || front.client_certificate.is_some()
            || front.client_key.is_some();
        let invalid = |why: &str| Err(ConfigError::Invalid(why.into()));
        match self.server.role {
            Role::Front => {
                if front.signers.is_empty()
                    || front.signer_ca_files.is_empty()
                    || front.client_certificate.is_none()
                    || front.client_key.is_none()
                {
                    return invalid(
                        "a front end needs [front] signers, signer_ca_files, client_certificate \
                         and client_key",
                    );
                }
                for signer in &front.signers {
                    let url = url::Url::parse(signer).map_err(|e| {
                        ConfigError::Invalid(format!("[front] signers: {signer:?}: {e}"))
                    })?;
                    if url.scheme() != "https"
                        || url.host_str().is_none()
                        || !url.username().is_empty()
                        || url.password().is_some()
                        || url.query().is_some()
                        || url.fragment().is_some()
                        || url.path() != "/"
                    {
                        return Err(ConfigError::Invalid(format!(
                            "[front] signers: {signer:?} must be https://host[:port], nothing more"
                        )));
                    }
                }
                if !signer.front_ca_files.is_empty() {
                    return invalid("[signer] is for role = \"signer\", not a front end");
                }
                if !self.server.client_ca_files.is_empty() {
                    return invalid(
                        "a front end does not check client certificates: set [server] \
                         client_ca_files on the signers",
                    );
                }
            }
            Role::Signer => {
                if signer.front_ca_files.is_empty() {
                    return invalid(
                        "a signer needs [signer] front_ca_files: the CA its front ends' \
                         certificates chain to (criteria 2.2.4(2))",
                    );
                }
                if front_set {
                    return invalid("[front] is for role = \"front\", not a signer");
                }
                // Its own name is internal: DPoP `htu`, the OAuth issuer and status list URLs
                // must name the front ends' (a test may leave it, and fail closed).
                if self.environment != Environment::Test && self.server.public_url.is_none() {
                    return invalid(
                        "a signer needs [server] public_url: the URL clients reach the front \
                         ends at",
                    );
                }
            }
            Role::Single => {
                if front_set || !signer.front_ca_files.is_empty() {
                    return invalid(
                        "[front] and [signer] need [server] role = \"front\" or \"signer\"",
                    );
                }
            }
        }
        Ok(())
    }

    /// Refuses unsafe combinations.
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_device("[device]", &self.device)?;
        if let Some(own) = &self.log.key_device {
            validate_device("[log.key_device]", own)?;
            if let (DeviceConfig::Soft { path: a, .. }, DeviceConfig::Soft { path: b, .. }) =
                (&self.device, own)
                && a == b
            {
                return Err(ConfigError::Invalid(
                    "[log.key_device] names the [device] token itself: leave it out".into(),
                ));
            }
        }
        let name = &self.log.name;
        if name.is_empty()
            || name.len() > 200
            || name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '+')
        {
            return Err(ConfigError::Invalid(
                "[log] name must be 1 to 200 characters without spaces, control characters or '+'"
                    .into(),
            ));
        }
        if self.log.checkpoint_every_entries == 0 || self.log.checkpoint_every_seconds == 0 {
            return Err(ConfigError::Invalid(
                "[log] checkpoint intervals must be at least 1".into(),
            ));
        }
        let ops = &self.operations;
        if ops.approval_minutes == 0
            || ops.approvals > 16
            || ops.approvals_for.values().any(|&m| m > 16)
        {
            return Err(ConfigError::Invalid(
                "[operations] approvals are 0 to 16 and approval_minutes at least 1".into(),
            ));
        }
        if let Some(unknown) = ops
            .approvals_for
            .keys()
            .find(|a| !crate::operations::ACTIONS.contains(&a.as_str()))
        {
            return Err(ConfigError::Invalid(format!(
                "[operations] approvals_for: unknown action {unknown:?} (one of {})",
                crate::operations::ACTIONS.join(", ")
            )));
        }
        if self.environment == Environment::Production
            && (ops.approvals == 0 || ops.approvals_for.values().any(|&m| m == 0))
        {
            return Err(ConfigError::Refused(
                "production keeps dual control on: [operations] approvals must be at least 1"
                    .into(),
            ));
        }
        let auth = &self.auth;
        if auth.activation_code_hours == 0
            || auth.max_failed_logins == 0
            || auth.lockout_minutes == 0
            || auth.max_failures_per_source_per_minute == 0
            || auth.access_token_seconds == 0
            || auth.idle_timeout_minutes == 0
            || auth.proof_max_age_seconds == 0
        {
            return Err(ConfigError::Invalid(
                "[auth] lifetimes and limits must be at least 1".into(),
            ));
        }
        let bound = 1..=crate::blocking::MAX_RUNNING;
        if auth.concurrent_hashes.is_some_and(|n| !bound.contains(&n))
            || self
                .server
                .concurrent_verifications
                .is_some_and(|n| !bound.contains(&n))
        {
            return Err(ConfigError::Invalid(format!(
                "[auth] concurrent_hashes and [server] concurrent_verifications must be 1 to {}",
                crate::blocking::MAX_RUNNING
            )));
        }
        if self.environment != Environment::Test && !store_checks_the_server(&self.store.url) {
            return Err(ConfigError::Refused(
                "outside test, a PostgreSQL [store] url must say sslmode=verify-full once: TLS, \
                 the server's certificate checked against sslrootcert (or the public roots) and \
                 its name (criteria 2.2.4(3))"
                    .into(),
            ));
        }
        self.validate_role()?;
        if !(1..=1_000_000).contains(&self.server.max_connections) {
            return Err(ConfigError::Invalid(
                "[server] max_connections must be 1 to 1000000".into(),
            ));
        }
        if auth.absolute_timeout_minutes < auth.idle_timeout_minutes
            || auth.access_token_seconds > auth.idle_timeout_minutes * 60
        {
            return Err(ConfigError::Invalid(
                "[auth] needs access_token_seconds <= idle_timeout_minutes * 60 <= \
                 absolute_timeout_minutes * 60"
                    .into(),
            ));
        }
        let attested = auth.passkey_attestation == PasskeyAttestation::Verified;
        if attested == auth.passkey_attestation_roots.is_empty()
            || (!attested && !auth.passkey_aaguids.is_empty())
            || auth.passkey_aaguids.iter().any(|a| {
                a.len() != 32
                    || !a
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            })
        {
            return Err(ConfigError::Invalid(
                "[auth] passkey_attestation = \"verified\" needs passkey_attestation_roots, and \
                 only it takes them and passkey_aaguids (32 lowercase hex digits each)"
                    .into(),
            ));
        }
        if self.signing.sad_seconds == 0 || self.signing.sad_seconds > 3600 {
            return Err(ConfigError::Invalid(
                "[signing] sad_seconds must be between 1 and 3600".into(),
            ));
        }
        if self.signing.retention_days > 3650 {
            return Err(ConfigError::Invalid(
                "[signing] retention_days must be at most 3650".into(),
            ));
        }
        let delivery = &self.delivery;
        if !(1..=50).contains(&delivery.max_attempts)
            || !(1..=300).contains(&delivery.timeout_seconds)
            || !(10..=60_000).contains(&delivery.poll_millis)
            || delivery.retry_initial_seconds == 0
            || delivery.retry_max_seconds < delivery.retry_initial_seconds
            || delivery.retry_max_seconds > 7 * 24 * 3600
        {
            return Err(ConfigError::Invalid(
                "[delivery] needs max_attempts 1 to 50, timeout_seconds 1 to 300, poll_millis 10 \
                 to 60000, and 1 <= retry_initial_seconds <= retry_max_seconds <= 604800"
                    .into(),
            ));
        }
        let status = &self.status;
        if !(1024..=16 * 1024 * 1024).contains(&status.max_list_bytes)
            || !(5..=86_400).contains(&status.max_cache_seconds)
            || !(1..=60).contains(&status.fetch_timeout_seconds)
            || !(10..=86_400).contains(&status.monitor_every_seconds)
        {
            return Err(ConfigError::Invalid(
                "[status] needs max_list_bytes 1024 to 16777216, max_cache_seconds 5 to 86400, \
                 fetch_timeout_seconds 1 to 60 and monitor_every_seconds 10 to 86400"
                    .into(),
            ));
        }
        if self.environment != Environment::Test && status.allow_keys_without_status == Some(true) {
            return Err(ConfigError::Refused(format!(
                "[status] allow_keys_without_status = true is for the test environment only: in \
                 {} every signature rests on a status check (criteria 2.2.3(1)B)",
                self.environment
            )));
        }
        if self.server.max_body_bytes == 0 || self.server.request_timeout_seconds == 0 {
            return Err(ConfigError::Invalid(
                "[server] max_body_bytes and request_timeout_seconds must be at least 1".into(),
            ));
        }
        if self.environment == Environment::Production
            && matches!(self.device, DeviceConfig::Soft { .. })
        {
            if !self.allow_software_device_in_production {
                return Err(ConfigError::Refused(
                    "the software token is not a certified crypto device (criteria 2.2.2(1)); use \
                     [device] kind = \"pkcs11\" in production, or set \
                     allow_software_device_in_production = true to accept the risk"
                        .into(),
                ));
            }
            tracing::warn!(
                clause = "2.2.2(1)",
                "the uncertified software token is allowed in production by configuration"
            );
        }
        for (n, provider) in self.identity_providers.iter().enumerate() {
            provider.validate()?;
            if self.identity_providers[..n]
                .iter()
                .any(|p| p.id == provider.id)
            {
                return Err(ConfigError::Invalid(format!(
                    "[[identity_providers]] id {:?} is used twice",
                    provider.id
                )));
            }
        }
        Ok(())
    }

    /// Opens the configured crypto device, as the service holds it (`crate::device`: no raw
    /// device leaves this function).
    pub fn open_device(&self) -> Result<crate::device::Device, inkan_device::DeviceError> {
        let raw = open_raw_device(&self.device)?;
        let own = self
            .log
            .key_device
            .as_ref()
            .map(open_raw_device)
            .transpose()?;
        Ok(crate::device::Device::with_own_keys(raw, own))
    }
}

/// Opens the device `config` names.
fn open_raw_device(
    config: &DeviceConfig,
) -> Result<Arc<dyn CryptoDevice>, inkan_device::DeviceError> {
    match config {
        DeviceConfig::Soft {
            path,
            kek_file,
            kek_passphrase_file,
            kek_passphrase_env,
        } => {
            let kek = match (kek_passphrase_file, kek_passphrase_env) {
                (Some(file), _) => KekSource::Passphrase(read_secret_file(file)?),
                (None, Some(var)) => KekSource::Passphrase(read_secret_env(var)?),
                (None, None) => KekSource::File(kek_file.clone()),
            };
            Ok(Arc::new(SoftDevice::open(&SoftConfig {
                path: path.clone(),
                kek,
            })?))
        }
        DeviceConfig::Pkcs11 {
            module,
            token_label,
            user_pin_file,
            user_pin_env,
            sessions,
        } => {
            let pin = match (user_pin_file, user_pin_env) {
                (Some(file), _) => PinSource::File(file.clone()),
                (None, Some(var)) => PinSource::Env(var.clone()),
                (None, None) => {
                    return Err(inkan_device::DeviceError::Config(
                        "no PKCS#11 user PIN source".into(),
                    ));
                }
            };
            let config = Pkcs11Config {
                module: module.clone(),
                token_label: token_label.clone(),
                pin,
                sessions: *sessions,
            };
            Ok(Arc::new(Pkcs11Device::open(&config)?))
        }
    }
}

/// Refuses a device configuration without exactly one secret source, or with a pool size out
/// of range; `what` names the section.
fn validate_device(what: &str, device: &DeviceConfig) -> Result<(), ConfigError> {
    match device {
        DeviceConfig::Soft {
            kek_passphrase_file: Some(_),
            kek_passphrase_env: Some(_),
            ..
        } => Err(ConfigError::Invalid(format!(
            "{what}: set kek_passphrase_file or kek_passphrase_env, not both"
        ))),
        DeviceConfig::Pkcs11 {
            user_pin_file,
            user_pin_env,
            ..
        } if user_pin_file.is_some() == user_pin_env.is_some() => Err(ConfigError::Invalid(
            format!("{what} needs exactly one of user_pin_file and user_pin_env"),
        )),
        DeviceConfig::Pkcs11 { sessions, .. } if *sessions == 0 || *sessions > 256 => Err(
            ConfigError::Invalid(format!("{what} sessions must be between 1 and 256")),
        ),
        _ => Ok(()),
    }
}

fn read_secret_file(path: &Path) -> Result<SecretString, inkan_device::DeviceError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        inkan_device::DeviceError::Config(format!(
            "reading the passphrase file {}: {e}",
            path.display()
        ))
    })?;
    Ok(SecretString::from(
        text.trim_end_matches(['\r', '\n']).to_owned(),
    ))
}

fn read_secret_env(var: &str) -> Result<SecretString, inkan_device::DeviceError> {
    std::env::var(var).map(SecretString::from).map_err(|_| {
        inkan_device::DeviceError::Config(format!("environment variable {var} is not set"))
    })
}

/// Whether some string value in `table` (at any depth) is `value`.
fn table_names_value(table: &toml::Table, value: &str) -> bool {
    fn names(v: &toml::Value, value: &str) -> bool {
        match v {
            toml::Value::String(s) => s == value,
            toml::Value::Array(items) => items.iter().any(|i| names(i, value)),
            toml::Value::Table(t) => t.values().any(|i| names(i, value)),
            _ => false,
        }
    }
    table.values().any(|v| names(v, value))
}

/// A TOML error in `path` as "file: line L, column C: what", never quoting the file's text: the
/// line may hold a secret (a password in the store URL).
fn located(path: &Path, text: &str, error: &toml::de::Error) -> String {
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!(
                "{}: line {line}, column {column}: {}",
                path.display(),
                error.message()
            )
        }
        None => format!("{}: {}", path.display(), error.message()),
    }
}

/// Names where a configuration that does not deserialize went wrong: the file, with the line
/// and column of the value (a merged table has lost them), when the file alone fails; else
/// the first `INKAN_` variable that fails on top of the file alone.
fn explain(
    path: Option<&Path>,
    text: Option<&str>,
    file_table: &toml::Table,
    applied: &[(String, String)],
    error: toml::de::Error,
) -> ConfigError {
    if let (Some(path), Some(text)) = (path, text)
        && let Err(e) = toml::from_str::<Config>(text)
    {
        return ConfigError::Invalid(located(path, text, &e));
    }
    for (name, value) in applied {
        let mut table = file_table.clone();
        let alone = [(name.clone(), value.clone())];
        if apply_env_overrides(&mut table, alone).is_ok()
            && let Err(e) = toml::Value::Table(table).try_into::<Config>()
        {
            return ConfigError::Invalid(format!("{name}: {}", e.message()));
        }
    }
    ConfigError::Invalid(error.to_string())
}

/// Sets `INKAN_KEY=value` and `INKAN_SECTION__KEY=value` in `table`. Values that parse as
/// TOML booleans or integers are taken as such; everything else is a string. Returns the
/// variables it took.
fn apply_env_overrides(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<(String, String)>, ConfigError> {
    let mut applied = Vec::new();
    for (name, value) in env {
        let Some(path) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if RESERVED_ENV.contains(&name.as_str()) || name.starts_with("INKAN_TEST_") {
            continue;
        }
        let keys: Vec<String> = path.split("__").map(|k| k.to_ascii_lowercase()).collect();
        // Only a known section's key (or a top-level key, below) is configuration: anything
        // else with the prefix belongs to someone else and is left alone.
        if keys.len() >= 2 && !SECTIONS.contains(&keys[0].as_str()) {
            continue;
        }
        if keys.iter().any(|k| k.is_empty()) || keys.len() > 2 {
            return Err(ConfigError::Invalid(format!(
                "{name} does not name a configuration key"
            )));
        }
        let parsed = match value.as_str() {
            "true" => toml::Value::Boolean(true),
            "false" => toml::Value::Boolean(false),
            v => v
                .parse::<i64>()
                .map(toml::Value::Integer)
                .unwrap_or_else(|_| toml::Value::String(value.clone())),
        };
        let target = match keys.as_slice() {
            [key] if TOP_LEVEL_ENV.contains(&key.as_str()) => {
                table.insert(key.clone(), parsed);
                applied.push((name, value));
                continue;
            }
            // Not configuration (`INKAN_BIN`, a PIN's variable `INKAN_PKCS11_PIN`): left
            // alone. What looks like a section's key with one underscore (`INKAN_STORE_URL`)
            // is said, not taken.
            [key] => {
                // A variable the file names as a secret's source (`user_pin_env`) is not a
                // typo: no warning for it.
                let named_in_file = table_names_value(table, &name);
                if !named_in_file
                    && SECTIONS.iter().any(|section| {
                        key.strip_prefix(section)
                            .is_some_and(|rest| rest.starts_with('_'))
                    })
                {
                    tracing::warn!(
                        variable = %name,
                        "not a configuration override (a section's key takes two underscores: \
                         INKAN_<SECTION>__<KEY>): ignored"
                    );
                }
                continue;
            }
            [section, key] => {
                let entry = table
                    .entry(section.clone())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                let toml::Value::Table(section_table) = entry else {
                    return Err(ConfigError::Invalid(format!(
                        "{name}: {section} is not a section"
                    )));
                };
                (section_table, key)
            }
            _ => unreachable!("checked above"),
        };
        target.0.insert(target.1.clone(), parsed);
        applied.push((name, value));
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` as a configuration file, `environment = "test"` first unless it names one.
    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        if text.contains("environment = ") {
            load_file(text, env)
        } else {
            load_file(&format!("environment = \"test\"\n{text}"), env)
        }
    }

    /// `text` as a configuration file, as it is.
    fn load_file(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inkan.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(
            Some(&path),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    /// A value of the wrong type is named where it came from: the file by line and column,
    /// or the variable (issue 19 point 6).
    #[test]
    fn errors_name_the_line_or_the_variable() {
        let err = load("[server]\nrequest_timeout_seconds = \"soon\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("inkan.toml") && err.contains("line 3"),
            "{err}"
        );
        // The file's text is never quoted: a mistyped key beside a password stays unseen.
        for text in [
            "[store]\nuri = \"postgres://inkan:S3cret@db/inkan\"\n",
            "[store]\nurl = \"postgres://inkan:S3cret@db/inkan\n",
            "store = { url = \"postgres://u:S3cret@h/d\", x = 1 }\n",
        ] {
            let err = load(text, &[]).unwrap_err().to_string();
            assert!(!err.contains("S3cret"), "{err}");
            assert!(err.contains("line "), "{err}");
        }
        for (name, value) in [
            ("INKAN_SERVER__LISTEN", "5"),
            ("INKAN_SERVER__NO_SUCH_KEY", "x"),
            ("INKAN_LOG__CHECKPOINT_EVERY_ENTRIES", "many"),
        ] {
            let err = load(
                "",
                &[
                    ("INKAN_SERVER__PUBLIC_URL", "https://a.example"),
                    (name, value),
                ],
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains(name), "{name}: {err}");
            assert!(!err.contains("INKAN_SERVER__PUBLIC_URL"), "{err}");
        }
    }

    #[test]
    fn embedded_defaults_are_soft_and_sqlite_in_test() {
        let config = Config::load(None, Vec::new()).unwrap();
        assert_eq!(config.environment, Environment::Test);
        assert!(matches!(config.device, DeviceConfig::Soft { .. }));
        assert!(config.store.url.starts_with("sqlite://"));
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(config.server.public_url(), "https://localhost:8443");
        assert_eq!(config.auth.max_failed_logins, 5);
    }

    #[test]
    fn server_and_auth_settings_are_checked() {
        let config = load(
            "[server]\nlisten = \"0.0.0.0:9443\"\npublic_url = \"https://inkan.example/\"\n\
             [auth]\nidle_timeout_minutes = 10\nabsolute_timeout_minutes = 60\n",
            &[],
        )
        .unwrap();
        assert_eq!(config.server.listen.port(), 9443);
        assert_eq!(config.server.public_url(), "https://inkan.example");
        assert_eq!(config.auth.idle_timeout_minutes, 10);
        for bad in [
            "[auth]\nmax_failed_logins = 0",
            "[auth]\nidle_timeout_minutes = 30\nabsolute_timeout_minutes = 20",
            "[auth]\naccess_token_seconds = 3600\nidle_timeout_minutes = 15",
            "[server]\nmax_body_bytes = 0",
            "[server]\nlisten = \"not an address\"",
            "[auth]\nsession_minutes = 5",
            "[auth]\nconcurrent_hashes = 0",
            "[server]\nconcurrent_verifications = 100000",
        ] {
            assert!(load(bad, &[]).is_err(), "{bad} was accepted");
        }
    }

    /// Outside test, PostgreSQL is reached over TLS with the server's certificate and name
    /// checked (criteria 2.2.4(3), issue 20 point 2); SQLite and a test deployment are not held
    /// to it.
    #[test]
    fn outside_test_postgres_needs_verify_full() {
        let store = |url: &str| format!("environment = \"staging\"\n[store]\nurl = \"{url}\"\n");
        for refused in [
            "postgres://inkan@db/inkan",
            "postgres://inkan@db/inkan?sslmode=require",
            "postgresql://inkan@db/inkan?sslmode=verify-ca",
            "postgres://inkan@db/inkan?sslmode=verify-full&sslmode=disable",
            "postgres://inkan@db/inkan?x=sslmode=verify-full",
            "postgres://inkan@db/inkan?sslmode=verify-full&ssl-mode=disable",
            "postgres://inkan@db/inkan?sslmode=verify-full&ssl%6Dode=disable",
        ] {
            let err = load(&store(refused), &[]).unwrap_err().to_string();
            assert!(err.contains("sslmode=verify-full"), "{refused}: {err}");
        }
        for accepted in [
            "postgres://inkan@db/inkan?sslmode=verify-full&sslrootcert=/etc/inkan/db-ca.pem",
            "sqlite:///var/lib/inkan/inkan.db",
        ] {
            if let Err(e) = load(&store(accepted), &[]) {
                assert!(!e.to_string().contains("sslmode"), "{accepted}: {e}");
            }
        }
        load("[store]\nurl = \"postgres://inkan@db/inkan\"\n", &[]).unwrap();
    }

    /// A configuration file names its environment (criteria 2.1.3(15)): without one it is
    /// refused by name, rather than running as `test`; only the zero-config start is `test`.
    #[test]
    fn a_config_file_must_name_its_environment() {
        for text in ["", "[store]\nurl = \"sqlite://a.db\"\n"] {
            let err = load_file(text, &[]).unwrap_err();
            assert!(matches!(err, ConfigError::Invalid(_)), "{err}");
            assert!(
                err.to_string()
                    .contains("environment is required (environment = \"production\""),
                "{err}"
            );
        }
        let named = load_file("environment = \"staging\"\n", &[]).unwrap();
        assert_eq!(named.environment, Environment::Staging);
        let overridden = load_file("", &[("INKAN_ENVIRONMENT", "staging")]).unwrap();
        assert_eq!(overridden.environment, Environment::Staging);
        let zero = Config::load(None, Vec::new()).unwrap();
        assert_eq!(zero.environment, Environment::Test);
    }

    /// `inkan config check` and the digest never carry the database's password.
    #[test]
    fn store_passwords_are_not_shown() {
        for (url, shown) in [
            (
                "postgres://inkan:s3cret@db:5432/inkan?sslmode=verify-full",
                "postgres://inkan:%5Bredacted%5D@db:5432/inkan?sslmode=verify-full",
            ),
            (
                "postgres://db/inkan?user=inkan&password=s3cret",
                "postgres://db/inkan?user=inkan&password=%5Bredacted%5D",
            ),
            (
                "sqlite://inkan-data/inkan.db",
                "sqlite://inkan-data/inkan.db",
            ),
            ("postgres:// s3cret", "postgres:[unparsable, redacted]"),
        ] {
            let store = StoreConfig { url: url.into() };
            let debug = format!("{store:?}");
            assert!(debug.contains(shown), "{debug}");
            assert!(!debug.contains("s3cret"), "{debug}");
        }
    }

    /// An identity provider is pinned to an `https` issuer, names the levels that count and
    /// exactly one place for its secret (criteria 2.2.1(3)).
    #[test]
    fn identity_providers_are_checked() {
        let provider = |id: &str, more: &str| {
            format!(
                "[[identity_providers]]\nid = \"{id}\"\nname = \"Corp\"\n\
                 issuer = \"https://idp.example/realms/a\"\nclient_id = \"inkan\"\n\
                 client_secret_env = \"IDP_SECRET\"\nacr_values = [\"high\"]\n{more}"
            )
        };
        let config = load(&provider("corp", ""), &[]).unwrap();
        assert_eq!(config.identity_providers[0].max_auth_age_seconds, 300);
        for bad in [
            provider("Corp", ""),
            provider("corp", "max_auth_age_seconds = 0"),
            provider("corp", "client_secret_file = \"/s\""),
            provider("corp", "").replace("https://idp", "http://idp"),
            provider("corp", "").replace("a\"\n", "a?x=1\"\n"),
            provider("corp", "").replace("[\"high\"]", "[]"),
            provider("corp", "").replace("client_secret_env = \"IDP_SECRET\"\n", ""),
            format!("{}{}", provider("corp", ""), provider("corp", "")),
            provider("corp", "prompt = \"login\""),
        ] {
            assert!(load(&bad, &[]).is_err(), "{bad} was accepted");
        }
    }

    /// A verified passkey attestation needs the makers' roots; only it takes roots and models.
    #[test]
    fn passkey_attestation_settings_are_checked() {
        let config = load(
            "[auth]\npasskey_attestation = \"verified\"\npasskey_attestation_roots = [\"/r.pem\"]\n\
             passkey_aaguids = [\"ee882879721c491397753dfcce97072a\"]\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            config.auth.passkey_attestation,
            PasskeyAttestation::Verified
        );
        for bad in [
            "[auth]\npasskey_attestation = \"verified\"",
            "[auth]\npasskey_attestation_roots = [\"/r.pem\"]",
            "[auth]\npasskey_aaguids = [\"ee882879721c491397753dfcce97072a\"]",
            "[auth]\npasskey_attestation = \"verified\"\npasskey_attestation_roots = [\"/r.pem\"]\n\
             passkey_aaguids = [\"EE882879721C491397753DFCCE97072A\"]",
            "[auth]\npasskey_attestation = \"direct\"",
        ] {
            assert!(load(bad, &[]).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(load("environmnet = \"test\"\n", &[]).is_err());
        assert!(load("[device]\nkind = \"soft\"\nkek = \"x\"\n", &[]).is_err());
        assert!(load("[device]\nkind = \"tpm\"\n", &[]).is_err());
        assert!(load("", &[("INKAN_STORE__URLL", "sqlite::memory:")]).is_err());
    }

    #[test]
    fn environment_overrides_apply() {
        let config = load(
            "[store]\nurl = \"sqlite://a.db\"\n",
            &[
                (
                    "INKAN_STORE__URL",
                    "postgres://db/inkan?sslmode=verify-full",
                ),
                ("INKAN_ENVIRONMENT", "staging"),
                ("INKAN_TEST_X", "ignored"),
                // Not configuration: an unrelated variable does not stop a start.
                ("INKAN_BIN", "/usr/local/bin/inkan"),
                ("INKAN_STORE_URL", "sqlite://typo.db"),
                ("INKAN_DEPLOY__TAG", "blue"),
                ("INKAN_LOG__CHECKPOINT_EVERY_SECONDS", "7"),
            ],
        )
        .unwrap();
        assert_eq!(config.log.checkpoint_every_seconds, 7);
        assert_eq!(config.store.url, "postgres://db/inkan?sslmode=verify-full");
        assert_eq!(config.environment, Environment::Staging);
    }

    /// Criteria 2.2.2(1): the uncertified software token is refused in production unless the
    /// operator accepts it explicitly.
    #[test]
    fn software_token_is_refused_in_production_unless_allowed() {
        let err = load("environment = \"production\"\n", &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Refused(_)), "{err}");
        assert!(err.to_string().contains("2.2.2(1)"));
        let allowed = load(
            "environment = \"production\"\nallow_software_device_in_production = true\n",
            &[],
        );
        assert!(allowed.is_ok());
        let pkcs11 = "environment = \"production\"\n[device]\nkind = \"pkcs11\"\nmodule = \"/m.so\"\ntoken_label = \"t\"\nuser_pin_env = \"PIN\"\n";
        assert!(load(pkcs11, &[]).is_ok());
    }

    #[test]
    fn log_origin_carries_the_environment() {
        let config = load(
            "environment = \"staging\"\n[log]\nname = \"seal.example/log\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            config.log.origin(config.environment),
            "seal.example/log/staging"
        );
        assert!(load("[log]\nname = \"has space\"\n", &[]).is_err());
        assert!(load("[log]\ncheckpoint_every_entries = 0\n", &[]).is_err());
    }

    #[test]
    fn delivery_and_retention_settings_are_checked() {
        let config = Config::load(None, Vec::new()).unwrap();
        assert_eq!(config.signing.retention_days, 0, "nothing kept by default");
        assert!(config.delivery.ca_files.is_empty());
        assert_eq!(config.delivery.max_attempts, 8);
        let config = load(
            "[signing]\nretention_days = 30\n[delivery]\nca_files = [\"/ca.pem\"]\n\
             max_attempts = 3\npoll_millis = 200\n",
            &[],
        )
        .unwrap();
        assert_eq!(config.signing.retention_days, 30);
        assert_eq!(config.delivery.ca_files, vec![PathBuf::from("/ca.pem")]);
        assert_eq!(config.delivery.max_attempts, 3);
        for bad in [
            "[signing]\nretention_days = 3651",
            "[delivery]\nmax_attempts = 0",
            "[delivery]\npoll_millis = 0",
            "[delivery]\ntimeout_seconds = 0",
            "[delivery]\nretry_initial_seconds = 10\nretry_max_seconds = 5",
            "[delivery]\nuse_system_roots = true",
        ] {
            assert!(load(bad, &[]).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn verify_trust_anchors_are_read_strictly() {
        let config = Config::load(None, Vec::new()).unwrap();
        assert!(config.verify.trust_anchors.is_empty());
        assert!(config.verify.load_anchors().unwrap().is_empty());
        let config = load("[verify]\ntrust_anchors = [\"/etc/inkan/iaca.pem\"]\n", &[]).unwrap();
        assert_eq!(
            config.verify.trust_anchors,
            vec![PathBuf::from("/etc/inkan/iaca.pem")]
        );
        // A missing file is named when the anchors are read (at start).
        let err = config.verify.load_anchors().unwrap_err();
        assert!(err.contains("/etc/inkan/iaca.pem"), "{err}");
        assert!(load("[verify]\nanchors = []\n", &[]).is_err());
        // A file that is not a certificate.
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").unwrap();
        let config = load(
            &format!("[verify]\ntrust_anchors = [\"{}\"]\n", junk.display()),
            &[],
        )
        .unwrap();
        assert!(config.verify.load_anchors().is_err());
    }

    #[test]
    fn status_settings_are_checked() {
        let config = Config::load(None, Vec::new()).unwrap();
        assert!(config.status.ca_files.is_empty());
        assert!(config.status.trust_anchors.is_empty());
        assert_eq!(config.status.max_list_bytes, 1024 * 1024);
        assert_eq!(config.status.max_cache_seconds, 300);
        assert_eq!(config.status.fetch_timeout_seconds, 10);
        let config = load(
            "[status]\nca_files = [\"/ca.pem\"]\ntrust_anchors = [\"/list-signer.pem\"]\n\
             max_list_bytes = 65536\nmax_cache_seconds = 60\nfetch_timeout_seconds = 3\n",
            &[],
        )
        .unwrap();
        assert_eq!(config.status.ca_files, vec![PathBuf::from("/ca.pem")]);
        assert_eq!(
            config.status.trust_anchors,
            vec![PathBuf::from("/list-signer.pem")]
        );
        assert_eq!(config.status.max_list_bytes, 65536);
        assert_eq!(config.status.max_cache_seconds, 60);
        assert_eq!(config.status.fetch_timeout_seconds, 3);
        for bad in [
            "[status]\nmax_list_bytes = 10",
            "[status]\nmax_list_bytes = 16777217",
            "[status]\nmax_cache_seconds = 0",
            "[status]\nmax_cache_seconds = 86401",
            "[status]\nfetch_timeout_seconds = 0",
            "[status]\nfetch_timeout_seconds = 61",
            "[status]\nmonitor_every_seconds = 1",
            "[status]\nuse_system_roots = true",
        ] {
            assert!(load(bad, &[]).is_err(), "{bad} was accepted");
        }
    }

    /// Criteria 2.2.3(1)B (issue 14 point 6): outside `test`, keys without a status source
    /// never sign, and configuring otherwise is refused.
    #[test]
    fn keys_without_status_sign_only_in_test() {
        let test = Config::load(None, Vec::new()).unwrap();
        assert!(test.status.keys_without_status_may_sign(Environment::Test));
        let off = load("[status]\nallow_keys_without_status = false\n", &[]).unwrap();
        assert!(!off.status.keys_without_status_may_sign(Environment::Test));
        let pkcs11 = "[device]\nkind = \"pkcs11\"\nmodule = \"/m.so\"\ntoken_label = \"t\"\n\
                      user_pin_env = \"PIN\"\n";
        for environment in ["production", "staging"] {
            let quiet = load(&format!("environment = \"{environment}\"\n{pkcs11}"), &[]).unwrap();
            assert!(!quiet.status.keys_without_status_may_sign(quiet.environment));
            let err = load(
                &format!(
                    "environment = \"{environment}\"\n[status]\nallow_keys_without_status = true\n\
                     {pkcs11}"
                ),
                &[],
            )
            .unwrap_err();
            assert!(
                err.to_string().contains("allow_keys_without_status"),
                "{err}"
            );
        }
    }

    #[test]
    fn pkcs11_needs_exactly_one_pin_source() {
        let base = "[device]\nkind = \"pkcs11\"\nmodule = \"/m.so\"\ntoken_label = \"t\"\n";
        assert!(load(base, &[]).is_err());
        assert!(
            load(
                &format!("{base}user_pin_env = \"A\"\nuser_pin_file = \"/p\"\n"),
                &[]
            )
            .is_err()
        );
    }
}
