//! An HTTPS server of a test's own on 127.0.0.1, served by Inkan's own listener with a
//! certificate generated for `localhost` (which the service under test is told to trust): the
//! status-list server and the delivery receivers run their routes on it.

use inkan_server::api::{listener, tls};
use inkan_server::config::ServerConfig;
use inkan_server::environment::Environment;
use std::path::PathBuf;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub struct TlsServer {
    /// `https://localhost:PORT`.
    pub base: String,
    /// Its certificate (PEM), to trust.
    pub ca_file: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl TlsServer {
    /// Serves `app` until [`stop`](Self::stop).
    pub async fn start(app: axum::Router) -> TlsServer {
        let dir = tempfile::tempdir().unwrap();
        let config = ServerConfig {
            tls_certificate: dir.path().join("tls/server.crt"),
            tls_key: dir.path().join("tls/server.key"),
            ..ServerConfig::default()
        };
        let (identity, _) = tls::load_or_generate(&config, Environment::Test).unwrap();
        let tls_config = tls::server_config(&identity, &[]).unwrap();
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = tcp.local_addr().unwrap().port();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(listener::serve(
            tcp,
            tls_config,
            Vec::new(),
            app,
            listener::DEFAULT_MAX_CONNECTIONS,
            listener::Peers::Clients,
            async {
                let _ = stopped.await;
            },
        ));
        TlsServer {
            base: format!("https://localhost:{port}"),
            ca_file: config.tls_certificate,
            stop: Some(stop),
            _dir: dir,
        }
    }

    /// Stops accepting (connections in flight finish).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
