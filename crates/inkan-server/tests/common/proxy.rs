//! A TCP proxy to PostgreSQL that a test controls: it can cut every connection and refuse new
//! ones (the database gone, as to a node when its server stops or the network fails), let them
//! through again, and send new ones elsewhere (a failover).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// A TCP proxy to PostgreSQL that can cut every connection and refuse new ones.
pub struct Proxy {
    pub address: SocketAddr,
    /// Where connections go (host:port).
    upstream: Arc<Mutex<String>>,
    open: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Proxy {
        let upstream = Arc::new(Mutex::new(upstream));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let open = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (accepting, kept, target) = (open.clone(), connections.clone(), upstream.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                // Under the lock that `cut` takes: a relay is either started before the cut,
                // and aborted by it, or refused after it.
                let mut relays = kept.lock().unwrap();
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is closed at once
                }
                let upstream = target.lock().unwrap().clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                relays.push(relay.abort_handle());
            }
        });
        Proxy {
            address,
            upstream,
            open,
            connections,
        }
    }

    /// Closes every connection and refuses new ones.
    pub fn cut(&self) {
        let mut relays = self.connections.lock().unwrap();
        self.open.store(false, Ordering::SeqCst);
        for relay in relays.drain(..) {
            relay.abort();
        }
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    /// Sends new connections to `upstream` from now on (a standby promoted in the primary's
    /// place, as a virtual address or a pooler would).
    pub fn retarget(&self, upstream: String) {
        *self.upstream.lock().unwrap() = upstream;
    }
}
