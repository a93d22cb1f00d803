//! A real HTTPS status server for tests (this test's own TLS listener; the checker trusts its
//! generated certificate through `[status] ca_files`): it serves the documents a test puts
//! (status lists, CRLs, OCSP answers), counts the requests per path, can be slowed down, and keeps
//! the bodies POSTed to it (so it can also be a delivery destination or an OCSP responder: a POST
//! is answered with the document put at its path, if any, else 200).

use super::tls_server::TlsServer;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A body POSTed to a path.
type Posted = (String, Vec<u8>);

#[derive(Clone)]
struct Document {
    body: Vec<u8>,
    content_type: &'static str,
    cache_control: Option<String>,
}

#[derive(Clone, Default)]
struct Served {
    documents: Arc<Mutex<HashMap<String, Document>>>,
    posted: Arc<Mutex<Vec<Posted>>>,
    requests: Arc<Mutex<HashMap<String, usize>>>,
    delay: Arc<Mutex<Duration>>,
}

async fn serve_list(
    axum::extract::State(served): axum::extract::State<Served>,
    method: Method,
    uri: Uri,
    body: axum::body::Bytes,
) -> Response {
    let path = uri.path().to_string();
    if method == Method::POST {
        served
            .posted
            .lock()
            .unwrap()
            .push((path.clone(), body.to_vec()));
        // An OCSP responder answers with the document put at its path; a destination with 200.
        if !served.documents.lock().unwrap().contains_key(&path) {
            return StatusCode::OK.into_response();
        }
    }
    *served
        .requests
        .lock()
        .unwrap()
        .entry(path.clone())
        .or_default() += 1;
    let delay = *served.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let document = served.documents.lock().unwrap().get(&path).cloned();
    match document {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(d) => {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(d.content_type),
            );
            if let Some(cc) = d.cache_control {
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_str(&cc).unwrap());
            }
            (headers, d.body).into_response()
        }
    }
}

pub struct StatusServer {
    /// The HTTPS server its documents are served by.
    pub tls: TlsServer,
    served: Served,
}

impl StatusServer {
    pub async fn start() -> StatusServer {
        let served = Served::default();
        let app = axum::Router::new()
            .fallback(serve_list)
            .with_state(served.clone());
        StatusServer {
            tls: TlsServer::start(app).await,
            served,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.tls.base)
    }

    pub fn put(&self, path: &str, body: Vec<u8>, content_type: &'static str, cache: Option<&str>) {
        self.served.documents.lock().unwrap().insert(
            path.to_string(),
            Document {
                body,
                content_type,
                cache_control: cache.map(str::to_string),
            },
        );
    }

    pub fn requests(&self, path: &str) -> usize {
        self.served
            .requests
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    pub fn set_delay(&self, delay: Duration) {
        *self.served.delay.lock().unwrap() = delay;
    }

    /// The bodies POSTed to `path` so far.
    pub fn posted(&self, path: &str) -> Vec<Vec<u8>> {
        self.served
            .posted
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, body)| body.clone())
            .collect()
    }

    pub fn stop(&mut self) {
        self.tls.stop();
    }
}
