//! The API reference page (issue 19 point 2): `/docs` renders `/openapi.json` with Redoc,
//! vendored (`vendor/redoc/SOURCE.md`) and served by Inkan itself at
//! `/static/redoc.standalone.js`, so reading the reference makes no request outside Inkan.
//!
//! The page holds no data and no session. Its Content-Security-Policy lets only Inkan's own
//! script run and only Inkan be fetched from; Redoc needs inline styles (it writes its own
//! `<style>` elements) and a `blob:` worker for its search. Must never load anything from
//! another origin.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// Redoc's standalone bundle (npm `redoc` 2.5.4).
const REDOC: &[u8] = include_bytes!("vendor/redoc/redoc.standalone.js");

/// The page: Redoc's element pointing at the document, and the script that renders it.
const PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
    <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
    <title>Inkan API reference</title></head>\
    <body><redoc spec-url=\"/openapi.json\" hide-download-button></redoc>\
    <script src=\"/static/redoc.standalone.js\"></script></body></html>\n";

/// What the page may load: Inkan's script and document, inline styles, data: images and
/// fonts, a blob: worker.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; font-src 'self' data:; connect-src 'self'; \
                   worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// `GET /docs`: the API reference.
#[utoipa::path(get, path = "/docs", tag = "system",
    responses((status = 200, description = "The API reference (Redoc rendering /openapi.json)", content_type = "text/html")))]
pub async fn reference() -> Response {
    let mut response = PAGE.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /static/redoc.standalone.js`.
pub async fn redoc_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        REDOC,
    )
}
