//! How a page is written and sent: HTML escaping, the one layout, the security headers every
//! page carries, and the two cookies (issue 18 point 2).
//!
//! Every page is rendered on the server, with no script and no third-party asset: the
//! Content-Security-Policy allows only Inkan's own stylesheet and forms that post to Inkan
//! (and, on a consent page, the client's registered redirect URI, where the approval's
//! redirect goes), and no framing at all (`frame-ancestors 'none'`, `X-Frame-Options: DENY`).
//! Cookies are `__Host-` (this host only, path `/`), `Secure`, `HttpOnly`, `SameSite=Strict`.
//! Must never: put text from a request or the store into a page without [`escape`].

use super::text::Lang;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

/// The browser session's cookie.
pub const SESSION_COOKIE: &str = "__Host-inkan_session";
/// The state of a sign-in at an identity provider (sealed; `SameSite=Lax`, see [`set_lax_cookie`]).
pub const FEDERATION_COOKIE: &str = "__Host-inkan_oidc";
/// The CSRF cookie, whose value every form repeats (double submit).
pub const CSRF_COOKIE: &str = "__Host-inkan_csrf";
/// The stylesheet's path.
pub const STYLESHEET: &str = "/static/inkan.css";
/// The stylesheet.
pub const CSS: &str = include_str!("inkan.css");
/// The script's path.
pub const SCRIPT: &str = "/static/passkey.js";
/// The script: the passkey buttons (everything else works without it).
pub const JS: &str = include_str!("passkey.js");

/// Text made safe for HTML content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value for a cookie of this host only.
pub fn set_cookie(name: &str, value: &str) -> String {
    format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict")
}

/// A `Set-Cookie` value for a cookie of this host that a top-level navigation from another
/// site also carries (`SameSite=Lax`), lasting `seconds`: only the state of a sign-in at an
/// identity provider, which comes back from the provider's site.
pub fn set_lax_cookie(name: &str, value: &str, seconds: u32) -> String {
    format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={seconds}")
}

/// A `Set-Cookie` value that removes a cookie of this host.
pub fn clear_cookie(name: &str) -> String {
    format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Whether a form's `csrf` repeats the request's CSRF cookie (compared in constant time).
pub fn csrf_ok(headers: &HeaderMap, form_value: &str) -> bool {
    match cookie(headers, CSRF_COOKIE) {
        Some(cookie) if cookie.len() >= 32 => {
            bool::from(cookie.as_bytes().ct_eq(form_value.as_bytes()))
        }
        _ => false,
    }
}

/// A page ready to send.
#[derive(Debug)]
pub struct Page {
    /// The status.
    pub status: StatusCode,
    /// Its language.
    pub lang: Lang,
    /// The title.
    pub title: String,
    /// The body's HTML (already escaped where it holds outside text).
    pub body: String,
    /// An origin forms may also lead to (the client's redirect URI, on a consent page).
    pub form_target: Option<String>,
    /// `Set-Cookie` values.
    pub cookies: Vec<String>,
    /// Whether the page runs Inkan's one script (the WebAuthn ceremonies, [`SCRIPT`]).
    pub script: bool,
    /// Where the browser goes at once (`<meta http-equiv="refresh">`; an Inkan path): after a
    /// sign-in that came back from another site, so that the next page is a same-site
    /// navigation and gets the `SameSite=Strict` cookies.
    pub refresh: Option<String>,
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let lang = self.lang.tag();
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title} · Inkan</title><link rel=\"stylesheet\" href=\"{STYLESHEET}\">{script}{refresh}</head>\
             <body><main><h1>{title}</h1>{body}</main></body></html>\n",
            title = escape(&self.title),
            body = self.body,
            script = if self.script {
                format!("<script src=\"{SCRIPT}\" defer></script>")
            } else {
                String::new()
            },
            refresh = self
                .refresh
                .as_deref()
                .map_or_else(String::new, |to| format!(
                    "<meta http-equiv=\"refresh\" content=\"0;url={}\">",
                    escape(to)
                )),
        );
        let form_action = match &self.form_target {
            Some(origin) => format!("'self' {origin}"),
            None => "'self'".into(),
        };
        let script = if self.script {
            " script-src 'self';"
        } else {
            ""
        };
        let csp = format!(
            "default-src 'none'; style-src 'self'; img-src 'self';{script} \
             form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
        );
        let mut response = (self.status, html).into_response();
        let headers = response.headers_mut();
        let mut put = |name: HeaderName, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.append(name, value);
            }
        };
        put(header::CONTENT_TYPE, "text/html; charset=utf-8");
        put(header::CONTENT_SECURITY_POLICY, &csp);
        put(header::X_FRAME_OPTIONS, "DENY");
        put(header::REFERRER_POLICY, "no-referrer");
        put(header::CACHE_CONTROL, "no-store");
        put(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        put(header::CONTENT_LANGUAGE, lang);
        for cookie in &self.cookies {
            put(header::SET_COOKIE, cookie);
        }
        response
    }
}

/// A `303 See Other` to `location`, setting `cookies`.
pub fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The origin (`scheme://host[:port]`) of a URL, for the Content-Security-Policy.
pub fn origin(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    match parsed.origin() {
        url::Origin::Tuple(..) => Some(parsed.origin().ascii_serialization()),
        url::Origin::Opaque(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_cookies_are_read_by_name() {
        assert_eq!(
            escape(r#"<script>"x"&'y'</script>"#),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-inkan_csrf=abc"),
        );
        assert_eq!(cookie(&headers, CSRF_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), None);
        // Too short to be ours: never a match, even when the form repeats it.
        assert!(!csrf_ok(&headers, "abc"));
        assert_eq!(
            origin("https://app.example:8443/cb?x=1").as_deref(),
            Some("https://app.example:8443")
        );
    }
}
