//! `inkan serve --role front`: the internet-facing front end of a split deployment (issue 20
//! point 1; criteria 2.2.4(1)-(3)).
//!
//! A front end terminates the clients' TLS on the same listener as the whole service (TLS 1.3,
//! the connection cap, the handshake and header timeouts), reads each request's body within
//! `[server] max_body_bytes` and `request_timeout_seconds` (408 past it), and forwards the request to a signer over TLS 1.3 with mutual
//! authentication: its client certificate (`[front] client_certificate`) for the signer, the
//! signer's certificate checked against `[front] signer_ca_files` and the name in its URL. It
//! tells the signer the client's address and certificate (`forwarded`), after removing any
//! copies the client sent. Signers are taken in turn; one that cannot be connected to is
//! skipped for two seconds and the request tried on the next, since it never reached that
//! signer. None reachable: 503 with `Retry-After`. A signer lost after the request was sent:
//! 502 (the request may have been carried out; `GET /v1/signatures` tells), or 504 past the
//! request timeout; that signer is passed over too. `/health` is the front end's own (the
//! process answers); everything else, `/ready` too, is a signer's answer.
//!
//! What the signer trusts it with: the signer authenticates, activates and signs, and a
//! person's activation data (PIN, OTP) stays encrypted to the signer (JWE), so a front end
//! cannot make a person's key sign. But it terminates the clients' TLS, so the signer believes
//! what it says of a client's certificate, and sees what it forwards: a compromised front end
//! can act as a system client within that client's standing approval (its keys, formats and
//! rate), every signature logged under that client. That is the trust any TLS-terminating
//! front end gets (SECURITY.md).
//!
//! Must never: open the store or the crypto device, hold a key but its two TLS identities,
//! decide anything about a request, or retry a request on another signer once it may have
//! reached one.

use super::error::ApiError;
use super::forwarded;
use super::listener::{self, PeerCertificate, Peers, RemoteAddr};
use super::server::ServeError;
use super::tls::{self, TlsIdentityInfo};
use crate::config::Config;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long a signer that could not be connected to is passed over.
const PASS_OVER: Duration = Duration::from_secs(2);
/// Longest a connection to a signer may take to open (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Headers of one hop only (RFC 9110 section 7.6.1), never passed on, either way.
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// A running front end.
#[derive(Debug)]
pub struct Front {
    /// The address it listens on.
    pub local_addr: SocketAddr,
    /// The URL clients use.
    pub public_url: String,
    /// Its TLS identity for clients, and where it came from.
    pub tls: TlsIdentityInfo,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// The signers and the one client that reaches them.
#[derive(Debug)]
struct Signers {
    http: reqwest::Client,
    /// Base URLs, without a trailing slash.
    bases: Vec<String>,
    next: AtomicUsize,
    /// Per signer: until when it is passed over, in milliseconds since `epoch`.
    passed_over_until: Vec<AtomicU64>,
    epoch: Instant,
    max_body_bytes: usize,
    /// How long a request's body may take to arrive.
    request_timeout: Duration,
}

impl Front {
    /// Starts a front end for `config` (`[server] role = "front"`): its listener and its client
    /// of `[front] signers`. Opens neither the store nor the device.
    pub async fn start(config: &Config) -> Result<Front, ServeError> {
        let (identity, tls_info) = tls::load_or_generate(&config.server, config.environment)?;
        // The signer decides whether a client's certificate chains to its anchors.
        let tls_config = tls::server_config(&identity, &[])?;
        let signers = Arc::new(Signers::new(config)?);
        let (tcp, local_addr, public_url) = super::server::bind_public(&config.server).await?;
        let app = Router::new()
            .route("/health", axum::routing::get(super::routes::system::health))
            .fallback(forward)
            .with_state(signers.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(listener::serve(
            tcp,
            tls_config,
            Vec::new(),
            app,
            config.server.max_connections,
            Peers::Clients,
            async {
                let _ = stopped.await;
            },
        ));
        tracing::info!(
            address = %local_addr,
            url = %public_url,
            signers = ?signers.bases,
            tls_fingerprint = %tls_info.fingerprint,
            "inkan front end is serving"
        );
        Ok(Front {
            local_addr,
            public_url,
            tls: tls_info,
            stop,
            task,
        })
    }

    /// Stops accepting, lets requests in flight finish, and returns when done.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

impl Signers {
    fn new(config: &Config) -> Result<Self, ServeError> {
        let front = &config.front;
        let settings = |e: String| ServeError::Settings(crate::config::ConfigError::Invalid(e));
        let (Some(certificate), Some(key)) = (&front.client_certificate, &front.client_key) else {
            return Err(settings(
                "a front end needs [front] client_certificate and client_key".into(),
            ));
        };
        let pem = tls::client_identity_pem(certificate, key)?;
        let identity = reqwest::Identity::from_pem(&pem)
            .map_err(|e| settings(format!("[front] client_certificate and client_key: {e}")))?;
        // The signer has its own request timeout; this one only ends a signer that hangs.
        let timeout = Duration::from_secs(config.server.request_timeout_seconds + 5);
        let http = crate::https_client::builder(
            "[front] signer_ca_files",
            &front.signer_ca_files,
            timeout,
        )
        .map_err(settings)?
        .identity(identity)
        .connect_timeout(CONNECT_TIMEOUT)
        .http1_only()
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| settings(format!("the front end's client of its signers: {e}")))?;
        Ok(Signers {
            http,
            bases: front
                .signers
                .iter()
                .map(|s| s.trim_end_matches('/').to_owned())
                .collect(),
            next: AtomicUsize::new(0),
            passed_over_until: front.signers.iter().map(|_| AtomicU64::new(0)).collect(),
            epoch: Instant::now(),
            max_body_bytes: config.server.max_body_bytes,
            request_timeout: Duration::from_secs(config.server.request_timeout_seconds),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The signers to try, in order: from the next in turn, those not passed over first.
    fn order(&self) -> Vec<usize> {
        let n = self.bases.len();
        let first = self.next.fetch_add(1, Ordering::Relaxed) % n;
        let now = self.now();
        let (mut fresh, passed): (Vec<usize>, Vec<usize>) = (0..n)
            .map(|i| (first + i) % n)
            .partition(|&i| self.passed_over_until[i].load(Ordering::Relaxed) <= now);
        fresh.extend(passed);
        fresh
    }

    fn pass_over(&self, signer: usize) {
        let until = self.now() + u64::try_from(PASS_OVER.as_millis()).unwrap_or(u64::MAX);
        self.passed_over_until[signer].store(until, Ordering::Relaxed);
    }
}

/// Removes the hop-by-hop headers and those the `Connection` header names.
fn drop_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named.into_iter().chain(HOP_BY_HOP) {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

/// Every request but `/health`: to a signer, and its answer back.
async fn forward(
    State(signers): State<Arc<Signers>>,
    Extension(remote): Extension<RemoteAddr>,
    Extension(peer): Extension<Option<PeerCertificate>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let too_large = || {
        ApiError::with_status(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            format!(
                "the request body is larger than {} bytes, or did not arrive whole",
                signers.max_body_bytes
            ),
        )
        .into_response()
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > signers.max_body_bytes as u64) {
        return too_large();
    }
    // A body trickled in slowly holds a connection no longer than a request may take.
    let body = match tokio::time::timeout(
        signers.request_timeout,
        axum::body::to_bytes(body, signers.max_body_bytes),
    )
    .await
    {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return too_large(),
        Err(_) => {
            return ApiError::with_status(
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request",
                "the request body did not arrive in time",
            )
            .into_response();
        }
    };
    let mut headers = parts.headers;
    drop_hop_by_hop(&mut headers);
    // The signer's own name and the body's length are the client library's to write.
    headers.remove(header::HOST);
    headers.remove(header::CONTENT_LENGTH);
    forwarded::strip(&mut headers);
    let chain: Vec<Vec<u8>> = peer
        .map(|p| std::iter::once(p.der).chain(p.intermediates).collect())
        .unwrap_or_default();
    forwarded::write(&mut headers, remote.0, &chain);
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();

    for signer in signers.order() {
        let sent = signers
            .http
            .request(
                parts.method.clone(),
                format!("{}{path}", signers.bases[signer]),
            )
            .headers(headers.clone())
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(answer) => return relay(answer),
            // Not connected: the request never reached this signer; the next may take it.
            Err(e) if e.is_connect() => {
                tracing::warn!(signer = %signers.bases[signer], error = %e,
                    "a signer cannot be reached; passing it over");
                signers.pass_over(signer);
            }
            Err(e) if e.is_timeout() => {
                tracing::warn!(signer = %signers.bases[signer], error = %e,
                    "a signer did not answer in time");
                signers.pass_over(signer);
                return ApiError::with_status(
                    StatusCode::GATEWAY_TIMEOUT,
                    "temporarily_unavailable",
                    "the signing module did not answer in time; the request may have been \
                     carried out",
                )
                .into_response();
            }
            // Lost after the request was written (a crash, or a TLS refusal of this front end's
            // certificate, which TLS 1.3 reports only then): maybe carried out.
            Err(e) => {
                tracing::warn!(signer = %signers.bases[signer], error = %e,
                    "a signer was lost during a request");
                signers.pass_over(signer);
                return ApiError::with_status(
                    StatusCode::BAD_GATEWAY,
                    "temporarily_unavailable",
                    "the signing module was lost during the request; it may have been \
                     carried out",
                )
                .into_response();
            }
        }
    }
    ApiError::unavailable(
        "no signing module can be reached; try again shortly",
        crate::health::RETRY_AFTER_SECONDS,
    )
    .into_response()
}

/// The signer's answer, streamed back without its hop-by-hop headers.
fn relay(answer: reqwest::Response) -> Response {
    let status = answer.status();
    let mut headers = answer.headers().clone();
    drop_hop_by_hop(&mut headers);
    headers.remove(header::CONTENT_LENGTH);
    let mut response = Response::new(axum::body::Body::new(reqwest::Body::from(answer)));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}
