//! Inkan's own pages for the CSC OAuth2 flow (issue 18 point 2; criteria 2.2.1, 2.2.3(2)):
//! `GET /oauth2/authorize` stores the request and sends the browser to its page; the page
//! asks the person to sign in (password and TOTP) and then shows what the request would
//! authorise, with the PIN and one-time password fields when it signs; the decision goes back
//! to the client's redirect URI.
//!
//! Parsing and rendering only: what a request may ask and what a decision does are
//! `crate::oauth`'s; who is signed in is `auth::browser`'s. Every form carries the CSRF
//! cookie's value; a form without it changes nothing. Must never: show a page for a request
//! it did not load from the store, or render outside text unescaped (`html::escape`).

pub mod account;
pub mod docs;
pub mod federation;
pub mod html;
pub mod text;

use super::ApiState;
use super::extract::Source;
use crate::auth::{AuthError, Caller, random_secret};
use crate::oauth::request::{AuthorizeParams, CredentialAuthorization};
use crate::oauth::{Pending, Refusal};
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use html::{CSRF_COOKIE, Page, SESSION_COOKIE, cookie, escape, see_other, set_cookie};
use secrecy::SecretString;
use serde::Deserialize;
use std::sync::Arc;
use text::Lang;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// `?lang=` on a page.
#[derive(Debug, Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

/// A form that carries only its CSRF value and language (sign-out, removing a passkey).
#[derive(Debug, Deserialize)]
pub struct PlainForm {
    csrf: String,
    lang: Option<String>,
}

/// The CSRF value of a page request, or a fresh one and the cookie that sets it: fresh
/// whenever the browser sent none (a navigation from another site carries no SameSite=Strict
/// cookie).
fn csrf_of(headers: &HeaderMap) -> (String, Vec<String>) {
    match cookie(headers, CSRF_COOKIE) {
        Some(value) if value.len() >= 32 => (value.to_owned(), Vec::new()),
        _ => {
            let value = random_secret(32);
            let set = set_cookie(CSRF_COOKIE, &value);
            (value, vec![set])
        }
    }
}

/// The signed-in person of a page request, if any.
async fn person_of(state: &ApiState, headers: &HeaderMap) -> Option<Caller> {
    match cookie(headers, SESSION_COOKIE) {
        Some(session) => state.auth.authenticate_browser(session).await.ok(),
        None => None,
    }
}

/// The sign-in form (wiped when dropped).
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct SignInForm {
    csrf: String,
    username: String,
    password: String,
    otp: String,
    lang: Option<String>,
}

/// The consent form (wiped when dropped).
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct ConsentForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    pin: Option<String>,
    #[serde(default)]
    otp: Option<String>,
    lang: Option<String>,
}

crate::api::redacted_debug!(SignInForm);
crate::api::redacted_debug!(ConsentForm);

/// What every page form carries: the CSRF cookie's value and the page's language.
pub trait PageForm: serde::de::DeserializeOwned + Send {
    /// The form's `csrf`.
    fn csrf(&self) -> &str;
    /// The form's `lang`.
    fn lang(&self) -> Option<&str>;
}

/// Implements [`PageForm`] for forms with `csrf` and `lang` members.
macro_rules! page_form {
    ($($form:ty),* $(,)?) => {$(
        impl $crate::api::pages::PageForm for $form {
            fn csrf(&self) -> &str {
                &self.csrf
            }
            fn lang(&self) -> Option<&str> {
                self.lang.as_deref()
            }
        }
    )*};
}
pub(crate) use page_form;

page_form!(SignInForm, ConsentForm, PlainForm);

/// A page form parsed, its CSRF value checked against the cookie (double submit), with the
/// language it asks for. A refusal is the page that says the form was not complete or came
/// from elsewhere; a CSRF mismatch goes to the server's log.
#[derive(Debug)]
pub struct Checked<T>(pub T, pub Lang);

impl<S: Send + Sync, T: PageForm> axum::extract::FromRequest<S> for Checked<T> {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let headers = request.headers().clone();
        let path = request.uri().path().to_owned();
        let source = request
            .extensions()
            .get::<super::listener::RemoteAddr>()
            .map(|a| a.0.ip().to_string())
            .unwrap_or_default();
        let lang = lang_of(None, &headers);
        let Ok(axum::Form(form)) = axum::Form::<T>::from_request(request, state).await else {
            tracing::info!(%path, %source, "a form that was not complete was refused");
            return Err(error_page(
                lang,
                StatusCode::BAD_REQUEST,
                lang.text().bad_form,
            ));
        };
        let lang = lang_of(form.lang(), &headers);
        if !html::csrf_ok(&headers, form.csrf()) {
            tracing::warn!(%path, %source, "a form without its CSRF value was refused");
            return Err(error_page(
                lang,
                StatusCode::FORBIDDEN,
                lang.text().bad_form,
            ));
        }
        Ok(Checked(form, lang))
    }
}

fn lang_of(query: Option<&str>, headers: &HeaderMap) -> Lang {
    Lang::choose(
        query,
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    )
}

/// A page that says why nothing can go on.
fn error_page(lang: Lang, status: StatusCode, message: &str) -> Response {
    Page {
        status,
        lang,
        title: lang.text().error_title.into(),
        body: format!("<p class=\"error\">{}</p>", escape(message)),
        form_target: None,
        cookies: Vec::new(),
        script: false,
        refresh: None,
    }
    .into_response()
}

/// The page for an error of the flow: the person is told what they can act on, the rest is
/// logged.
fn failure(lang: Lang, e: &AuthError) -> Response {
    let t = lang.text();
    match e {
        AuthError::NotFound(_) | AuthError::Conflict(_) => {
            error_page(lang, StatusCode::NOT_FOUND, t.ended)
        }
        AuthError::Forbidden(_) => error_page(lang, StatusCode::FORBIDDEN, t.forbidden),
        AuthError::TooManyAttempts { .. } => {
            error_page(lang, StatusCode::TOO_MANY_REQUESTS, t.too_many)
        }
        AuthError::BadRequest(m) => error_page(lang, StatusCode::BAD_REQUEST, m),
        other => {
            tracing::error!(error = %other, "a page of the OAuth2 flow failed");
            error_page(lang, StatusCode::INTERNAL_SERVER_ERROR, t.failed)
        }
    }
}

/// `GET /oauth2/authorize`: stores the request, then sends the browser to its page (or the
/// refusal back to the client, or tells the person here when the client is unknown).
#[utoipa::path(get, path = "/oauth2/authorize", tag = "oauth2",
    description = "CSC API v2 oauth2/authorize (RFC 6749 authorization code): response_type=code, client_id, redirect_uri (registered, exact), code_challenge + code_challenge_method=S256 (required), state, lang (en|ja), and scope=service, or scope=credential with credentialID, numSignatures, hashes (base64url, comma-separated), hashAlgorithmOID, description, or authorization_details (RFC 9396) [{type: credential, credentialID, documentDigests: [{hash, label}], hashAlgorithmOID}]. Each parameter at most once. A pushed request (POST /oauth2/par) comes with client_id and request_uri alone.",
    responses((status = 303, description = "To the request's sign-in and consent page, or back to redirect_uri with error, error_description and state"), (status = 400, description = "Unknown client_id or redirect_uri (a page, never a redirect)")))]
pub async fn authorize(
    State(state): State<Arc<ApiState>>,
    RawQuery(query): RawQuery,
    Source(source): Source,
    headers: HeaderMap,
) -> Response {
    let query = query.unwrap_or_default();
    let params = match AuthorizeParams::parse(&query) {
        Ok(params) => params,
        Err(message) => {
            return error_page(lang_of(None, &headers), StatusCode::BAD_REQUEST, &message);
        }
    };
    let lang = lang_of(params.get("lang"), &headers);
    // A pushed request (RFC 9126): the client sends only its id and the request's URI.
    if let Some(request_uri) = params.get("request_uri") {
        return match state
            .oauth
            .pushed(params.get("client_id").unwrap_or_default(), request_uri)
            .await
        {
            Ok(id) => see_other(&format!("/oauth2/consent/{id}?lang={}", lang.tag()), &[]),
            Err(e) => failure(lang, &e),
        };
    }
    match state.oauth.begin(&params, source).await {
        Ok(request) => see_other(
            &format!("/oauth2/consent/{}?lang={}", request.id, lang.tag()),
            &[],
        ),
        Err(Refusal::Back { to, .. }) => see_other(&to, &[]),
        Err(Refusal::Here(message)) => error_page(lang, StatusCode::BAD_REQUEST, &message),
        Err(Refusal::TooMany(message)) => error_page(lang, StatusCode::TOO_MANY_REQUESTS, &message),
        Err(Refusal::Failed(e)) => failure(lang, &e),
    }
}

/// `GET /oauth2/consent/{id}`: the sign-in form, or (signed in) what the request authorises.
#[utoipa::path(get, path = "/oauth2/consent/{id}", tag = "oauth2",
    params(("id" = String, Path, description = "oar_…"), ("lang" = Option<String>, Query, description = "en or ja")),
    responses((status = 200, description = "HTML: sign-in, or the consent page (key, documents with labels and digests, PIN and OTP)", content_type = "text/html"), (status = 404, description = "The request has ended or was decided")))]
pub async fn consent_page(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    Query(query): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(query.lang.as_deref(), &headers);
    let pending = match state.oauth.pending(&id).await {
        Ok(pending) => pending,
        Err(e) => return failure(lang, &e),
    };
    let (csrf, cookies) = csrf_of(&headers);
    let person = person_of(&state, &headers).await;
    // Handing over a session (`scope=service`) takes a sign-in for this request.
    let person = match person {
        Some(person) if pending.credential.is_none() => {
            match state.oauth.signed_in_for(&person, &pending).await {
                Ok(true) => Some(person),
                Ok(false) => None,
                Err(e) => return failure(lang, &e),
            }
        }
        other => other,
    };
    let mut page = match person {
        None => match sign_in_page(&state, lang, &pending, &csrf, None) {
            Ok(page) => page,
            Err(e) => return failure(lang, &e),
        },
        Some(person) => match consent(&state, lang, &person, &pending, &csrf, None).await {
            Ok(page) => page,
            Err(e) => return failure(lang, &e),
        },
    };
    page.cookies = cookies;
    page.into_response()
}

/// `POST /oauth2/consent/{id}/sign-in`: password and TOTP; on success a browser session and
/// back to the request's page.
#[utoipa::path(post, path = "/oauth2/consent/{id}/sign-in", tag = "oauth2",
    params(("id" = String, Path, description = "oar_…")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "csrf (the __Host-inkan_csrf cookie's value), username, password, otp, lang"),
    responses((status = 303, description = "Signed in (Set-Cookie __Host-inkan_session): back to the page"), (status = 401, description = "HTML: wrong username, password or OTP"), (status = 403, description = "HTML: no CSRF match")))]
pub async fn sign_in(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    Source(source): Source,
    headers: HeaderMap,
    Checked(form, lang): Checked<SignInForm>,
) -> Response {
    let pending = match state.oauth.pending(&id).await {
        Ok(pending) => pending,
        Err(e) => return failure(lang, &e),
    };
    let signed = account::password_sign_in(&state, source, &form).await;
    let back = format!("/oauth2/consent/{id}?lang={}", lang.tag());
    let refused = || match sign_in_page(
        &state,
        lang,
        &pending,
        &form.csrf,
        Some(lang.text().wrong_login),
    ) {
        Ok(mut page) => {
            page.status = StatusCode::UNAUTHORIZED;
            page.into_response()
        }
        Err(e) => failure(lang, &e),
    };
    account::sign_in_answer(&state, &headers, lang, signed, &back, refused).await
}

/// `POST /oauth2/consent/{id}`: approve (with PIN and OTP when it signs) or decline; the
/// browser goes back to the client.
#[utoipa::path(post, path = "/oauth2/consent/{id}", tag = "oauth2",
    params(("id" = String, Path, description = "oar_…")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "csrf, decision (approve or deny), pin and otp (scope=credential), lang"),
    responses((status = 303, description = "To redirect_uri with code and state, or error=access_denied"), (status = 403, description = "HTML: wrong PIN or OTP, or no CSRF match")))]
pub async fn decide(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Checked(form, lang): Checked<ConsentForm>,
) -> Response {
    let Some(person) = person_of(&state, &headers).await else {
        return see_other(&format!("/oauth2/consent/{id}?lang={}", lang.tag()), &[]);
    };
    let decided = match form.decision.as_str() {
        "approve" => {
            let factors = match (&form.pin, &form.otp) {
                (Some(pin), Some(otp)) => Some((SecretString::from(pin.as_str()), otp.as_str())),
                _ => None,
            };
            state.oauth.approve(&person, &id, factors).await
        }
        "deny" => state.oauth.deny(&person, &id).await,
        _ => return error_page(lang, StatusCode::BAD_REQUEST, lang.text().bad_form),
    };
    match decided {
        Ok(location) => see_other(&location, &[]),
        // A wrong PIN or OTP: the same page again, saying so (the attempt was counted).
        Err(AuthError::Forbidden(m)) if m.contains("PIN or the one-time password") => {
            let pending = match state.oauth.pending(&id).await {
                Ok(pending) => pending,
                Err(e) => return failure(lang, &e),
            };
            let t = lang.text();
            match consent(
                &state,
                lang,
                &person,
                &pending,
                &form.csrf,
                Some(t.wrong_factors),
            )
            .await
            {
                Ok(mut page) => {
                    page.status = StatusCode::FORBIDDEN;
                    page.into_response()
                }
                Err(e) => failure(lang, &e),
            }
        }
        Err(e) => failure(lang, &e),
    }
}

/// `POST /oauth2/sign-out`: ends the browser session (written ahead like a logout) and clears
/// the cookie.
#[utoipa::path(post, path = "/oauth2/sign-out", tag = "oauth2",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "csrf, lang"),
    responses((status = 200, description = "HTML: signed out"), (status = 403, description = "HTML: no CSRF match")))]
pub async fn sign_out(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Checked(_, lang): Checked<PlainForm>,
) -> Response {
    if let Some(person) = person_of(&state, &headers).await
        && let Err(e) = state.auth.logout(&person).await
    {
        return failure(lang, &e);
    }
    let t = lang.text();
    Page {
        status: StatusCode::OK,
        lang,
        title: t.signed_out.into(),
        body: format!("<p>{}</p>", t.signed_out_lead),
        form_target: None,
        cookies: vec![html::clear_cookie(SESSION_COOKIE)],
        script: false,
        refresh: None,
    }
    .into_response()
}

/// `GET /static/inkan.css`.
pub async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        html::CSS,
    )
}

/// The language switch and the hidden members every form carries.
fn switch(lang: Lang, id: &str) -> String {
    let other = lang.other();
    format!(
        "<p class=\"lang\"><a href=\"/oauth2/consent/{id}?lang={}\" hreflang=\"{}\">{}</a></p>",
        other.tag(),
        other.tag(),
        other.text().language_name,
        id = escape(id),
    )
}

fn hidden(lang: Lang, csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <input type=\"hidden\" name=\"lang\" value=\"{}\">",
        escape(csrf),
        lang.tag()
    )
}

fn message(error: Option<&str>) -> String {
    error.map_or_else(String::new, |e| {
        format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))
    })
}

/// The sign-in page of a request: password and TOTP, or a passkey.
fn sign_in_page(
    state: &ApiState,
    lang: Lang,
    pending: &Pending,
    csrf: &str,
    error: Option<&str>,
) -> Result<Page, AuthError> {
    let t = lang.text();
    let lead = format!(
        "<p><strong>{}</strong> {}</p>",
        escape(&pending.client.name),
        t.sign_in_lead
    );
    let base = format!("/oauth2/consent/{}", pending.request.id);
    let body = format!(
        "{}{}",
        switch(lang, &pending.request.id),
        account::sign_in_body(
            state,
            lang,
            (&base, Some(&pending.request.id)),
            &lead,
            csrf,
            error,
        )?
    );
    Ok(Page {
        status: StatusCode::OK,
        lang,
        title: t.sign_in_title.into(),
        body,
        form_target: None,
        cookies: Vec::new(),
        script: true,
        refresh: None,
    })
}

/// The consent page of a request for a signed-in person: what it authorises, exactly as
/// stored.
async fn consent(
    state: &ApiState,
    lang: Lang,
    person: &Caller,
    pending: &Pending,
    csrf: &str,
    error: Option<&str>,
) -> Result<Page, AuthError> {
    let t = lang.text();
    let id = escape(&pending.request.id);
    let (what, fields, approve) = match &pending.credential {
        Some(credential) => {
            let key = state.oauth.key_for(person, pending, credential).await?;
            // A holder's key signs presentations only: say so now, not after the PIN.
            if credential.presentation.is_none()
                && state.auth.subscriber(&key.owner).await?.kind
                    == inkan_store::auth::SubscriberKind::Holder
            {
                return Err(AuthError::BadRequest(
                    "a holder's key signs presentations only: this request names no presentation"
                        .into(),
                ));
            }
            let what = format!(
                "<p><strong>{client}</strong> {asks}</p>{table}",
                client = escape(&pending.client.name),
                asks = t.asks_to_sign,
                table = documents(lang, credential, &key.id.to_string()),
            );
            let fields = format!(
                "<label for=\"pin\">{pin}</label>\
                 <input type=\"password\" id=\"pin\" name=\"pin\" inputmode=\"numeric\" autocomplete=\"off\" required>\
                 <label for=\"otp\">{otp}</label>\
                 <input type=\"text\" id=\"otp\" name=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>",
                pin = t.pin,
                otp = t.otp_again,
            );
            (what, fields, t.approve_sign)
        }
        None => (
            format!(
                "<p><strong>{}</strong> {}</p>",
                escape(&pending.client.name),
                t.asks_for_service
            ),
            String::new(),
            t.approve_service,
        ),
    };
    let body = format!(
        "{switch}{what}<p>{returns_to}: <code>{redirect}</code></p>{message}\
         <form method=\"post\" action=\"/oauth2/consent/{id}\">{hidden}{fields}\
         <button type=\"submit\" name=\"decision\" value=\"approve\" class=\"primary\">{approve}</button>\
         <button type=\"submit\" name=\"decision\" value=\"deny\" formnovalidate>{decline}</button></form>\
         <form method=\"post\" action=\"/oauth2/sign-out\">{hidden}\
         <button type=\"submit\" class=\"quiet\">{sign_out}</button></form>",
        switch = switch(lang, &pending.request.id),
        returns_to = t.returns_to,
        redirect = escape(&pending.request.redirect_uri),
        message = message(error),
        hidden = hidden(lang, csrf),
        decline = t.decline,
        sign_out = t.sign_out,
    );
    Ok(Page {
        status: StatusCode::OK,
        lang,
        title: t.consent_title.into(),
        body,
        form_target: html::origin(&pending.request.redirect_uri),
        cookies: Vec::new(),
        script: false,
        refresh: None,
    })
}

/// What a holder's presentation discloses and to whom, from its preparation's summary: each
/// member under its name (known ones translated), every value escaped.
fn presentation(lang: Lang, presentation: &crate::oauth::request::Presentation) -> String {
    let t = lang.text();
    let mut rows = String::new();
    if let Some(members) = presentation.summary.as_object() {
        for (name, value) in members {
            rows.push_str(&format!(
                "<dt>{}</dt><dd>{}</dd>",
                member_name(lang, name),
                summary_value(lang, value, 0, name == "credentials")
            ));
        }
    }
    format!(
        "<section class=\"disclosure\"><h2>{title}</h2><p>{format}: <code>{kind}</code><br>\
         {prepared}: {at}</p><dl>{rows}</dl></section>",
        title = t.disclosure,
        format = t.format,
        kind = escape(&presentation.format),
        prepared = t.prepared_at,
        at = crate::clock::utc_text(presentation.issued_at),
    )
}

/// A summary member's name as the page shows it: translated where the pages know it.
fn member_name(lang: Lang, name: &str) -> String {
    text::summary_name(lang, name).map_or_else(|| escape(name), str::to_owned)
}

/// A summary value as HTML: text escaped, lists as lists, objects as nested definitions. Names
/// are translated only where Inkan writes them: the summary's own members (the caller) and
/// those of each entry of `credentials` (`translate`); every other name is the document's own
/// and shown as it is.
fn summary_value(lang: Lang, value: &serde_json::Value, depth: usize, translate: bool) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "—".into(),
        Value::String(text) => escape(text),
        Value::Bool(_) | Value::Number(_) => escape(&value.to_string()),
        _ if depth > 8 => "…".into(),
        Value::Array(items) => format!(
            "<ul>{}</ul>",
            items
                .iter()
                .map(|v| format!("<li>{}</li>", summary_value(lang, v, depth + 1, translate)))
                .collect::<String>()
        ),
        Value::Object(members) => format!(
            "<dl>{}</dl>",
            members
                .iter()
                .map(|(n, v)| format!(
                    "<dt>{}</dt><dd>{}</dd>",
                    if translate {
                        member_name(lang, n)
                    } else {
                        escape(n)
                    },
                    summary_value(lang, v, depth + 1, false)
                ))
                .collect::<String>()
        ),
    }
}

/// The table of what a `credential` request signs.
fn documents(lang: Lang, credential: &CredentialAuthorization, key_id: &str) -> String {
    let t = lang.text();
    let algorithm = match credential.hash_algorithm_oid.as_str() {
        crate::activation::OID_SHA384 => "SHA-384",
        _ => "SHA-256",
    };
    let mut rows = String::new();
    for document in &credential.documents {
        let label = document
            .label
            .as_deref()
            .map_or_else(|| t.unnamed.to_owned(), escape);
        rows.push_str(&format!(
            "<tr><td>{label}</td><td><code>{}</code></td></tr>",
            escape(&document.hash)
        ));
    }
    let description = credential
        .description
        .as_deref()
        .map_or_else(String::new, |d| {
            format!("<p>{}: {}</p>", t.description, escape(d))
        });
    let disclosure = credential
        .presentation
        .as_ref()
        .map_or_else(String::new, |p| presentation(lang, p));
    format!(
        "<p>{key_label}: <code>{key}</code><br>{alg_label}: {algorithm}</p>{description}{disclosure}\
         <table><caption>{documents} ({count})</caption>\
         <thead><tr><th>{label}</th><th>{digest}</th></tr></thead><tbody>{rows}</tbody></table>",
        key_label = t.key,
        key = escape(key_id),
        alg_label = t.algorithm,
        documents = t.documents,
        count = credential.documents.len(),
        label = t.label,
        digest = t.digest,
    )
}
