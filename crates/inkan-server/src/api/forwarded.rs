//! What a front end tells a signer about the client behind a request (issue 20 point 1): the
//! client's address (RFC 7239 `Forwarded: for="…"`) and the certificate it presented in its
//! own TLS handshake with the front end (RFC 9440 `Client-Cert` and `Client-Cert-Chain`:
//! structured-field byte sequences of the DER).
//!
//! Owns both ends of that contract: [`strip`] and [`write`] on the front end, [`read`] on the
//! signer. A signer reads these headers only on connections whose TLS client certificate chains
//! to its front ends' CA (the listener's `Peers::FrontEnds`); a front end removes any a client
//! sent before writing its own. Must never: pass on a client's own copy of these headers, or
//! read them on a connection that is not a front end's.

use super::listener::{PeerCertificate, RemoteAddr};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use std::net::SocketAddr;

/// RFC 7239.
pub const FORWARDED: HeaderName = HeaderName::from_static("forwarded");
/// RFC 9440: the client's leaf certificate.
pub const CLIENT_CERT: HeaderName = HeaderName::from_static("client-cert");
/// RFC 9440: the intermediates the client sent, in its order.
pub const CLIENT_CERT_CHAIN: HeaderName = HeaderName::from_static("client-cert-chain");

/// Most intermediates passed on (a client may send a few; more is refused as no certificate).
const MAX_INTERMEDIATES: usize = 8;

/// Removes every forwarding header a client sent (front end, before [`write`]).
pub fn strip(headers: &mut HeaderMap) {
    for name in [FORWARDED, CLIENT_CERT, CLIENT_CERT_CHAIN] {
        headers.remove(name);
    }
}

/// Writes the client's address and certificate chain (leaf first, DER) for the signer.
pub fn write(headers: &mut HeaderMap, remote: SocketAddr, chain: &[Vec<u8>]) {
    // An IPv6 address with its port is a quoted string in RFC 7239 ("[2001:db8::1]:4711").
    let forwarded = format!("for=\"{remote}\"");
    if let Ok(value) = HeaderValue::from_str(&forwarded) {
        headers.insert(FORWARDED, value);
    }
    let Some((leaf, intermediates)) = chain.split_first() else {
        return;
    };
    let byte_sequence = |der: &[u8]| format!(":{}:", STANDARD.encode(der));
    if let Ok(value) = HeaderValue::from_str(&byte_sequence(leaf)) {
        headers.insert(CLIENT_CERT, value);
    }
    if !intermediates.is_empty() {
        let list: Vec<String> = intermediates.iter().map(|d| byte_sequence(d)).collect();
        if let Ok(value) = HeaderValue::from_str(&list.join(", ")) {
            headers.insert(CLIENT_CERT_CHAIN, value);
        }
    }
}

/// What a front end said about the client (signer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    /// The client's address; `None` if the front end sent none or one that does not parse.
    pub remote: Option<RemoteAddr>,
    /// The client's certificate chain, leaf first; empty if none was sent (or it did not
    /// parse: then the request has no client certificate, which refuses rather than admits).
    pub chain: Vec<Vec<u8>>,
}

/// Reads and removes the forwarding headers (signer). Each is parsed strictly: exactly one
/// `for` of an IP address and port; byte sequences of standard base64.
pub fn read(headers: &mut HeaderMap) -> Forwarded {
    let take = |headers: &mut HeaderMap, name: HeaderName| {
        let mut values = headers.get_all(&name).iter();
        let one = match (values.next(), values.next()) {
            (Some(value), None) => value.to_str().ok().map(str::to_owned),
            _ => None,
        };
        headers.remove(name);
        one
    };
    let remote = take(headers, FORWARDED).and_then(|value| {
        let address = value.strip_prefix("for=\"")?.strip_suffix('"')?;
        address.parse::<SocketAddr>().ok().map(RemoteAddr)
    });
    let leaf = take(headers, CLIENT_CERT).and_then(|v| byte_sequence(&v));
    let intermediates = take(headers, CLIENT_CERT_CHAIN);
    let chain = match (leaf, intermediates) {
        (None, _) => Vec::new(),
        (Some(leaf), None) => vec![leaf],
        (Some(leaf), Some(list)) => {
            let parsed: Option<Vec<Vec<u8>>> = list.split(',').map(byte_sequence).collect();
            match parsed {
                Some(rest) if rest.len() <= MAX_INTERMEDIATES => {
                    std::iter::once(leaf).chain(rest).collect()
                }
                _ => Vec::new(),
            }
        }
    };
    Forwarded { remote, chain }
}

/// An RFC 8941 byte sequence (`:base64:`), trimmed of the list's spaces.
fn byte_sequence(item: &str) -> Option<Vec<u8>> {
    let inner = item.trim().strip_prefix(':')?.strip_suffix(':')?;
    STANDARD.decode(inner).ok().filter(|der| !der.is_empty())
}

impl Forwarded {
    /// The client's certificate as handlers see it, checked against the signer's client
    /// anchors as the listener checks a direct client's.
    pub(super) fn peer(
        &self,
        verifier: Option<&dyn rustls::server::danger::ClientCertVerifier>,
    ) -> Option<PeerCertificate> {
        let chain: Vec<rustls::pki_types::CertificateDer<'static>> = self
            .chain
            .iter()
            .map(|der| rustls::pki_types::CertificateDer::from(der.clone()))
            .collect();
        PeerCertificate::from_chain(&chain, verifier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_front_end_writes_a_signer_reads_back() {
        for remote in ["192.0.2.7:4711", "[2001:db8::1]:443"] {
            let remote: SocketAddr = remote.parse().unwrap();
            let chain = vec![vec![1, 2, 3], vec![4, 5], vec![6]];
            let mut headers = HeaderMap::new();
            write(&mut headers, remote, &chain);
            let read = read(&mut headers);
            assert_eq!(read.remote, Some(RemoteAddr(remote)));
            assert_eq!(read.chain, chain);
            assert!(headers.is_empty(), "read removes them");
        }
    }

    #[test]
    fn a_clients_own_copies_are_stripped_and_bad_ones_read_as_nothing() {
        let mut headers = HeaderMap::new();
        headers.insert(
            FORWARDED,
            HeaderValue::from_static("for=\"198.51.100.1:1\""),
        );
        headers.insert(CLIENT_CERT, HeaderValue::from_static(":AQID:"));
        headers.insert(CLIENT_CERT_CHAIN, HeaderValue::from_static(":BAU=:"));
        strip(&mut headers);
        assert!(headers.is_empty());

        for (forwarded, cert) in [
            ("for=198.51.100.1:1", "AQID"),
            ("for=\"not an address\"", ":not base64!:"),
            ("for=\"198.51.100.1\"", "::"),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(FORWARDED, HeaderValue::from_str(forwarded).unwrap());
            headers.insert(CLIENT_CERT, HeaderValue::from_str(cert).unwrap());
            let read = read(&mut headers);
            assert_eq!(read.remote, None, "{forwarded}");
            assert!(read.chain.is_empty(), "{cert}");
        }
        // Two copies of a header: neither is believed.
        let mut headers = HeaderMap::new();
        headers.append(CLIENT_CERT, HeaderValue::from_static(":AQID:"));
        headers.append(CLIENT_CERT, HeaderValue::from_static(":BAU=:"));
        assert!(read(&mut headers).chain.is_empty());
    }
}
