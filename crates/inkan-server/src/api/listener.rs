//! The HTTPS accept loop of `inkan serve`: TCP, the TLS 1.3 handshake (criteria 2.2.4(1) and
//! 2.2.4(3); the rustls configuration comes from [`super::tls`]), HTTP/1.1 with keep-alive, and
//! graceful shutdown.
//!
//! Owns: one task per connection, the handshake and header timeouts, and telling handlers who
//! is on the other end: every request carries a [`RemoteAddr`] and an
//! `Option<`[`PeerCertificate`]`>` in its extensions, the latter binding a system client's tokens
//! to its certificate (criteria 2.2.1(1) and 2.2.1(4), RFC 8705 `x5t#S256`).
//!
//! Must never: end the accept loop on an accept error, let one connection hold up another,
//! mark a client certificate as chain-verified without checking it against the configured
//! anchors, or decide whether a request is authorised (that is the handlers' and `auth`'s job).

use super::{forwarded, tls};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

/// Longest a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a client may take to send a request's headers; also how long an idle keep-alive
/// connection is kept.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long live connections get to finish after shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Connections open at once unless configured (`[server] max_connections`).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Pause after an accept error (out of file descriptors and the like) before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The client's address, in every request's extensions (`axum::Extension<RemoteAddr>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteAddr(pub SocketAddr);

/// The client certificate of the connection, in every request's extensions as
/// `axum::Extension<Option<PeerCertificate>>` (`None` when the client sent none). The client
/// proved possession of its key in the handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCertificate {
    /// The leaf certificate, DER.
    pub der: Vec<u8>,
    /// base64url (no padding) SHA-256 of `der`: the RFC 8705 `x5t#S256` confirmation.
    pub thumbprint: String,
    /// The leaf chains (through the intermediates the client sent) to one of the configured
    /// client anchors and is valid now; always false without anchors.
    pub chain_verified: bool,
    /// The intermediates the client sent, DER (a front end passes them on).
    pub intermediates: Vec<Vec<u8>>,
}

/// Who connects to a listener (issue 20 point 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peers {
    /// Clients themselves (one process, or a front end): the connection's address and
    /// certificate are the client's.
    Clients,
    /// Only front ends (a signer): the TLS configuration admits none without a front end's
    /// certificate ([`tls::front_ends_only_config`]), and each request's client address and
    /// certificate are read from the front end's forwarding headers ([`forwarded::read`]).
    /// A request without an address is taken as the front end's own.
    FrontEnds,
}

impl PeerCertificate {
    pub(super) fn from_chain(
        chain: &[CertificateDer<'static>],
        verifier: Option<&dyn ClientCertVerifier>,
    ) -> Option<Self> {
        let (leaf, intermediates) = chain.split_first()?;
        let chain_verified = verifier.is_some_and(|verifier| {
            verifier
                .verify_client_cert(leaf, intermediates, UnixTime::now())
                .is_ok()
        });
        Some(PeerCertificate {
            der: leaf.to_vec(),
            thumbprint: thumbprint(leaf),
            chain_verified,
            intermediates: intermediates.iter().map(|c| c.to_vec()).collect(),
        })
    }
}

/// base64url (no padding) SHA-256 of a certificate: RFC 8705 `x5t#S256`.
pub fn thumbprint(der: &[u8]) -> String {
    inkan_formats::jose::sha256_b64url(der)
}

/// Serves `app` over TLS on `listener` until `shutdown` resolves; then stops accepting, lets
/// live connections finish their requests for up to 10 s, and returns.
///
/// At most `max_connections` are open at once: at the limit nothing more is accepted (new
/// connections wait in the kernel's queue) until one ends; an idle or slow one ends within
/// the handshake and header timeouts, so connections held open on purpose cannot keep others
/// out for long.
///
/// `tls` comes from [`tls::server_config`] (or, for [`Peers::FrontEnds`],
/// [`tls::front_ends_only_config`]); `anchors` (from [`tls::load_anchors`]) decide
/// [`PeerCertificate::chain_verified`] of the clients' certificates. An anchor that cannot be used is an
/// [`std::io::ErrorKind::InvalidInput`] error before anything is accepted.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    anchors: Vec<CertificateDer<'static>>,
    app: axum::Router,
    max_connections: usize,
    peers: Peers,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let verifier = tls::chain_verifier(&anchors)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let acceptor = TlsAcceptor::from(tls);
    let (stop, stopping) = watch::channel(());
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(joined) = connections.join_next(), if !connections.is_empty() => {
                if let Err(e) = joined
                    && e.is_panic()
                {
                    tracing::error!(error = %e, "a connection task panicked");
                }
            }
            accepted = listener.accept(), if connections.len() < max_connections.max(1) => match accepted {
                Ok((stream, remote)) => {
                    connections.spawn(connection(
                        stream,
                        remote,
                        acceptor.clone(),
                        verifier.clone(),
                        app.clone(),
                        peers,
                        stopping.clone(),
                    ));
                }
                Err(e) if is_per_connection(&e) => {
                    tracing::debug!(error = %e, "accept failed for one connection");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; retrying shortly");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
        }
    }

    drop(listener);
    let live = connections.len();
    tracing::info!(connections = live, "shutting down: no new connections");
    // Every connection task holds a receiver; this wakes them all.
    let _ = stop.send(());
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            "connections still open after the shutdown grace period; closing them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Errors that concern only the connection being accepted, not the listener.
fn is_per_connection(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::Interrupted
    )
}

/// One connection: handshake, then HTTP/1.1 until the client leaves, a timeout fires or
/// shutdown is asked for.
async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    acceptor: TlsAcceptor,
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    app: axum::Router,
    peers: Peers,
    mut stopping: watch::Receiver<()>,
) {
    let _ = stream.set_nodelay(true);
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    let stream = tokio::select! {
        result = handshake => match result {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%remote, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%remote, "TLS handshake timed out");
                return;
            }
        },
        _ = stopping.changed() => return,
    };

    let remote_addr = RemoteAddr(remote);
    // A client's own certificate; a front end's is not the client's (its requests say whose).
    let peer = match peers {
        Peers::Clients => stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| PeerCertificate::from_chain(chain, verifier.as_deref())),
        Peers::FrontEnds => None,
    };
    let service = app.map_request(move |mut request: hyper::Request<Incoming>| {
        let (remote, peer) = match peers {
            Peers::Clients => (remote_addr, peer.clone()),
            Peers::FrontEnds => {
                let said = forwarded::read(request.headers_mut());
                let peer = said.peer(verifier.as_deref());
                (said.remote.unwrap_or(remote_addr), peer)
            }
        };
        request.extensions_mut().insert(remote);
        request.extensions_mut().insert(peer);
        request
    });

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = stopping.changed() => {
            // Finish the request in flight, then close (an idle connection closes at once).
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%remote, error = %e, "connection ended with an error");
    }
}
