//! Fetching a status list, CRL or OCSP answer: one bounded HTTPS request.
//!
//! What it owns: the URL check (`https://` with a host, no user information), the GET (or an
//! OCSP request's POST) through
//! the shared client (`crate::https_client`: TLS 1.3 to `[status] ca_files`, no redirect, no
//! proxy, `[status] fetch_timeout_seconds`), the response size limit (`[status]
//! max_list_bytes`, enforced while reading, never after), and the HTTP `Cache-Control` freshness.
//!
//! What it must never do: follow a redirect, accept a non-2xx answer, read past the size limit,
//! or decide anything about the bytes it returns (they are unverified outside input).

use std::time::Duration;

/// A fetched response body and what HTTP said about its freshness.
#[derive(Debug)]
pub(crate) struct Fetched {
    /// The body, at most the configured limit.
    pub bytes: Vec<u8>,
    /// `Cache-Control: max-age` in milliseconds (`no-cache` and `no-store` give 0).
    pub max_age_ms: Option<u64>,
}

/// Refuses anything but an `https://` URL with a host and no user information.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if parsed.scheme() != "https" {
        return Err(format!(
            "only https:// status lists are fetched, not {}://",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the URL carries user information".into());
    }
    Ok(())
}

/// GETs `url` with `accept`, reading at most `max_bytes`.
pub(crate) async fn get(
    http: &reqwest::Client,
    url: &str,
    accept: &str,
    max_bytes: usize,
) -> Result<Fetched, String> {
    let request = http.get(url).header(reqwest::header::ACCEPT, accept);
    read(request, max_bytes).await
}

/// POSTs `body` (of `content_type`) to `url` with `accept` (an OCSP request), reading at most
/// `max_bytes` of the answer.
pub(crate) async fn post(
    http: &reqwest::Client,
    url: &str,
    content_type: &str,
    body: Vec<u8>,
    accept: &str,
    max_bytes: usize,
) -> Result<Fetched, String> {
    let request = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .header(reqwest::header::ACCEPT, accept)
        .body(body);
    read(request, max_bytes).await
}

async fn read(request: reqwest::RequestBuilder, max_bytes: usize) -> Result<Fetched, String> {
    let mut response = request.send().await.map_err(describe)?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("the status server answered HTTP {status}"));
    }
    let limit = u64::try_from(max_bytes).unwrap_or(u64::MAX);
    if let Some(length) = response.content_length()
        && length > limit
    {
        return Err(format!(
            "the list is {length} bytes, more than the {max_bytes} accepted ([status] max_list_bytes)"
        ));
    }
    let max_age_ms = response
        .headers()
        .get_all(reqwest::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(max_age_ms)
        .min();
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if bytes.len().saturating_add(chunk.len()) > max_bytes {
            return Err(format!(
                "the list is more than the {max_bytes} bytes accepted ([status] max_list_bytes); \
                 reading stopped there"
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Fetched { bytes, max_age_ms })
}

/// The freshness one `Cache-Control` header gives, in milliseconds.
fn max_age_ms(header: &str) -> Option<u64> {
    let mut found = None;
    for directive in header.split(',') {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-cache" || directive == "no-store" {
            return Some(0);
        }
        if let Some(seconds) = directive.strip_prefix("max-age=") {
            let seconds = seconds.trim_matches('"').parse::<u64>().ok()?;
            found = Some(seconds.saturating_mul(1000));
        }
    }
    found
}

fn describe(error: reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "the status server did not answer in time".to_string()
    } else if error.is_connect() {
        "could not connect to the status server".to_string()
    } else {
        "the request failed".to_string()
    };
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The timeout of one fetch.
pub(crate) fn timeout(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_https_urls_are_fetched() {
        assert!(check_url("https://lists.example/1").is_ok());
        for bad in [
            "http://lists.example/1",
            "ftp://lists.example/1",
            "https://user:pw@lists.example/1",
            "lists.example/1",
            "file:///etc/passwd",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_control_gives_the_freshness() {
        assert_eq!(max_age_ms("public, max-age=60"), Some(60_000));
        assert_eq!(max_age_ms("max-age=60, no-cache"), Some(0));
        assert_eq!(max_age_ms("no-store"), Some(0));
        assert_eq!(max_age_ms("public"), None);
        assert_eq!(max_age_ms("max-age=x"), None);
    }
}
