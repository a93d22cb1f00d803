//! A person's own pages (issue 18 points 2 and 4): the sign-in forms (password and TOTP, or a
//! passkey) that the consent pages and the account page share, and `/account`, where a
//! signed-in person adds, names and removes passkeys.
//!
//! Parsing and rendering only: the ceremonies' checks are `auth::passkeys` and
//! `auth::webauthn`. Every form carries the CSRF cookie's value. Must never: render outside
//! text unescaped, or change a passkey for anyone but the signed-in person.

use super::html::{Page, SESSION_COOKIE, escape, see_other, set_cookie};
use super::text::Lang;
use super::{
    Checked, LangQuery, PlainForm, SignInForm, csrf_of, error_page, failure, hidden, lang_of,
    message, page_form, person_of,
};
use crate::api::ApiState;
use crate::api::extract::Source;
use crate::auth::accounts::LoginAttempt;
use crate::auth::passkeys::{Ceremony, Registration, SignIn};
use crate::auth::{AuthError, Caller};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use serde::Deserialize;
use std::sync::Arc;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The passkey sign-in form (filled by the page's script from the authenticator's answer).
#[derive(Debug, Deserialize)]
pub struct PasskeySignInForm {
    csrf: String,
    sealed: String,
    credential_id: String,
    client_data: String,
    authenticator_data: String,
    signature: String,
    lang: Option<String>,
}

/// The form that changes a key's PIN (wiped when dropped).
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct PinForm {
    csrf: String,
    key: String,
    pin: String,
    new_pin: String,
    otp: String,
    lang: Option<String>,
}

crate::api::redacted_debug!(PinForm);

/// The form that adds a passkey (wiped when dropped: it carries a one-time password).
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct AddPasskeyForm {
    csrf: String,
    name: String,
    otp: String,
    sealed: String,
    client_data: String,
    attestation_object: String,
    lang: Option<String>,
}

crate::api::redacted_debug!(AddPasskeyForm);

page_form!(PasskeySignInForm, AddPasskeyForm, PinForm);

/// base64url from a form, bounded.
fn decoded(value: &str) -> Result<Vec<u8>, AuthError> {
    if value.len() > 2 * crate::auth::webauthn::MAX_BYTES {
        return Err(AuthError::BadRequest("a passkey field is too large".into()));
    }
    URL_SAFE_NO_PAD
        .decode(value)
        .map_err(|_| AuthError::BadRequest("a passkey field is not base64url".into()))
}

/// The sign-in forms: password and TOTP posting to `{base}/sign-in`, a passkey (shown by the
/// script where the browser has WebAuthn) posting to `{base}/passkey`, and a link to each
/// configured identity provider, coming back to the request `request` (or to `/account`).
pub(super) fn sign_in_body(
    state: &ApiState,
    lang: Lang,
    (base, request): (&str, Option<&str>),
    lead: &str,
    csrf: &str,
    error: Option<&str>,
) -> Result<String, AuthError> {
    let t = lang.text();
    let challenge = state.auth.passkey_challenge(Ceremony::SignIn, None)?;
    let (rp_id, _) = state.auth.passkey_relying_party()?;
    Ok(format!(
        "{lead}{message}\
         <form method=\"post\" action=\"{base}/sign-in\">{hidden}\
         <label for=\"username\">{username}</label>\
         <input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" required>\
         <label for=\"password\">{password}</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"otp\">{otp}</label>\
         <input type=\"text\" id=\"otp\" name=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\
         <button type=\"submit\" class=\"primary\">{sign_in}</button></form>\
         <form id=\"passkey-sign-in\" method=\"post\" action=\"{base}/passkey\" \
         data-challenge=\"{challenge}\" data-rp=\"{rp}\" hidden>{hidden}\
         <input type=\"hidden\" name=\"sealed\" value=\"{sealed}\">\
         <input type=\"hidden\" name=\"credential_id\"><input type=\"hidden\" name=\"client_data\">\
         <input type=\"hidden\" name=\"authenticator_data\"><input type=\"hidden\" name=\"signature\">\
         <p>{or}</p><button type=\"button\" class=\"primary\">{with_passkey}</button>\
         <p class=\"error passkey-error\" data-text=\"{passkey_failed}\" hidden></p></form>\
         {providers}",
        base = escape(base),
        message = message(error),
        hidden = hidden(lang, csrf),
        username = t.username,
        password = t.password,
        otp = t.otp,
        sign_in = t.sign_in,
        challenge = escape(&challenge.challenge),
        rp = escape(&rp_id),
        sealed = escape(&challenge.sealed),
        or = t.or,
        with_passkey = t.sign_in_passkey,
        passkey_failed = t.passkey_failed,
        providers = provider_links(state, lang, request),
    ))
}

/// A link to each configured identity provider (`/oauth2/federation/{id}`), or nothing.
fn provider_links(state: &ApiState, lang: Lang, request: Option<&str>) -> String {
    let back = request.map_or_else(String::new, |id| format!("request={id}&"));
    let links: String = state
        .auth
        .federation()
        .list()
        .map(|(id, name)| {
            format!(
                "<a class=\"provider\" href=\"/oauth2/federation/{id}?{back}lang={lang}\">{name}</a>",
                id = escape(id),
                back = escape(&back),
                lang = lang.tag(),
                name = escape(name),
            )
        })
        .collect();
    if links.is_empty() {
        return links;
    }
    format!("<p>{}</p><p>{links}</p>", lang.text().sign_in_with)
}

/// After a sign-in: the browser's previous session ends (a shared computer's next person does
/// not inherit it), the new one's cookie is set, and the browser goes to `location`.
pub(super) async fn signed_in(
    state: &ApiState,
    headers: &HeaderMap,
    session: &str,
    location: &str,
) -> Response {
    end_previous(state, headers).await;
    see_other(location, &[set_cookie(SESSION_COOKIE, session)])
}

/// Ends the browser's session, if it has one: someone is signing in at this browser.
pub(super) async fn end_previous(state: &ApiState, headers: &HeaderMap) {
    if let Some(previous) = person_of(state, headers).await
        && let Err(e) = state.auth.logout(&previous).await
    {
        tracing::warn!(error = %e, "could not end the previous browser session");
    }
}

/// Signs a person in with the password and TOTP of a sign-in form: the new session's cookie
/// value.
pub(super) async fn password_sign_in(
    state: &ApiState,
    source: std::net::IpAddr,
    form: &SignInForm,
) -> Result<Zeroizing<String>, AuthError> {
    let attempt = LoginAttempt {
        username: &form.username,
        password: SecretString::from(form.password.as_str()),
        otp: &form.otp,
        source,
    };
    Ok(state.auth.sign_in_browser(attempt).await?.1)
}

/// The answer to a sign-in form: signed in, the browser's new session and `location`; the
/// credentials refused, `refused` (a 401 page); anything else, the failure page.
pub(super) async fn sign_in_answer(
    state: &ApiState,
    headers: &HeaderMap,
    lang: Lang,
    signed: Result<Zeroizing<String>, AuthError>,
    location: &str,
    refused: impl FnOnce() -> Response,
) -> Response {
    match signed {
        Ok(session) => signed_in(state, headers, &session, location).await,
        Err(AuthError::InvalidCredentials) => refused(),
        Err(e) => failure(lang, &e),
    }
}

/// Checks a passkey sign-in form and signs the person in: the new session's cookie value.
async fn passkey_sign_in(
    state: &ApiState,
    source: std::net::IpAddr,
    form: &PasskeySignInForm,
) -> Result<Zeroizing<String>, AuthError> {
    if form.credential_id.len() > 1400 {
        return Err(AuthError::BadRequest(
            "the credential id is too long".into(),
        ));
    }
    let (client_data, authenticator_data, signature) = (
        decoded(&form.client_data)?,
        decoded(&form.authenticator_data)?,
        decoded(&form.signature)?,
    );
    let sign_in = SignIn {
        sealed: &form.sealed,
        credential_id: &form.credential_id,
        client_data_json: &client_data,
        authenticator_data: &authenticator_data,
        signature: &signature,
    };
    let (_, session) = state.auth.sign_in_with_passkey(source, &sign_in).await?;
    Ok(session)
}

/// `POST /oauth2/consent/{id}/passkey`: a passkey sign-in on a request's page.
#[utoipa::path(post, path = "/oauth2/consent/{id}/passkey", tag = "oauth2",
    params(("id" = String, Path, description = "oar_…")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "csrf, sealed (the page's challenge), credential_id, client_data, authenticator_data, signature (base64url, from navigator.credentials.get), lang"),
    responses((status = 303, description = "Signed in: back to the page"), (status = 401, description = "HTML: the passkey was refused")))]
pub async fn consent_passkey(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    Source(source): Source,
    headers: HeaderMap,
    Checked(form, lang): Checked<PasskeySignInForm>,
) -> Response {
    if let Err(e) = state.oauth.pending(&id).await {
        return failure(lang, &e);
    }
    let signed = passkey_sign_in(&state, source, &form).await;
    let back = format!("/oauth2/consent/{id}?lang={}", lang.tag());
    sign_in_answer(&state, &headers, lang, signed, &back, || {
        error_page(lang, StatusCode::UNAUTHORIZED, lang.text().passkey_failed)
    })
    .await
}

/// `GET /account`: the person's passkeys (add, remove), or the sign-in forms.
#[utoipa::path(get, path = "/account", tag = "oauth2",
    params(("lang" = Option<String>, Query, description = "en or ja")),
    responses((status = 200, description = "HTML: the passkeys of the signed-in person, or sign-in", content_type = "text/html")))]
pub async fn account(
    State(state): State<Arc<ApiState>>,
    Query(query): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(query.lang.as_deref(), &headers);
    let (csrf, cookies) = csrf_of(&headers);
    let t = lang.text();
    let page = match person_of(&state, &headers).await {
        None => sign_in_body(&state, lang, ("/account", None), "", &csrf, None).map(|body| Page {
            status: StatusCode::OK,
            lang,
            title: t.account_title.into(),
            body,
            form_target: None,
            cookies: Vec::new(),
            script: true,
            refresh: None,
        }),
        Some(person) => passkeys_page(&state, lang, &person, &csrf).await,
    };
    match page {
        Ok(mut page) => {
            page.cookies = cookies;
            page.into_response()
        }
        Err(e) => failure(lang, &e),
    }
}

/// The passkeys of `person`, each with a remove button, and the form that adds one.
async fn passkeys_page(
    state: &ApiState,
    lang: Lang,
    person: &Caller,
    csrf: &str,
) -> Result<Page, AuthError> {
    let t = lang.text();
    let mut rows = String::new();
    for passkey in state.auth.passkeys(person).await? {
        rows.push_str(&format!(
            "<tr><td>{name}</td><td>{synced}</td><td>{used}</td><td>\
             <form method=\"post\" action=\"/account/passkeys/{id}/remove\">{hidden}\
             <button type=\"submit\">{remove}</button></form></td></tr>",
            name = escape(&passkey.name),
            synced = if passkey.backup & 2 != 0 { t.yes } else { t.no },
            used = if passkey.last_used_at.is_some() {
                t.yes
            } else {
                t.no
            },
            id = escape(&passkey.id),
            hidden = hidden(lang, csrf),
            remove = t.remove,
        ));
    }
    let challenge = state
        .auth
        .passkey_challenge(Ceremony::Register, Some(&person.session))?;
    let (rp_id, _) = state.auth.passkey_relying_party()?;
    let body = format!(
        "<h2>{passkeys}</h2><table><thead><tr><th>{name}</th><th>{synced}</th><th>{used}</th>\
         <th></th></tr></thead><tbody>{rows}</tbody></table>\
         <form id=\"passkey-add\" method=\"post\" action=\"/account/passkeys\" \
         data-challenge=\"{challenge}\" data-rp=\"{rp}\" data-user=\"{user}\" \
         data-username=\"{user}\" data-attestation=\"{attestation}\" hidden>{hidden}\
         <h2>{add}</h2>\
         <input type=\"hidden\" name=\"sealed\" value=\"{sealed}\">\
         <input type=\"hidden\" name=\"client_data\"><input type=\"hidden\" name=\"attestation_object\">\
         <label for=\"name\">{name_label}</label>\
         <input type=\"text\" id=\"name\" name=\"name\" maxlength=\"64\" required>\
         <label for=\"otp\">{otp}</label>\
         <input type=\"text\" id=\"otp\" name=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\
         <button type=\"submit\" class=\"primary\">{add}</button>\
         <p class=\"error passkey-error\" data-text=\"{passkey_failed}\" hidden></p></form>\
         {pins}\
         <form method=\"post\" action=\"/oauth2/sign-out\">{hidden}\
         <button type=\"submit\" class=\"quiet\">{sign_out}</button></form>",
        passkeys = t.passkeys,
        name = t.passkey_name,
        synced = t.synced,
        used = t.used,
        challenge = escape(&challenge.challenge),
        rp = escape(&rp_id),
        user = escape(&person.id),
        attestation = if state.auth.passkey_attestation_verified() {
            "direct"
        } else {
            "none"
        },
        hidden = hidden(lang, csrf),
        add = t.add_passkey,
        sealed = escape(&challenge.sealed),
        name_label = t.passkey_name,
        otp = t.otp_again,
        passkey_failed = t.passkey_failed,
        sign_out = t.sign_out,
        pins = pin_form(state, lang, person, csrf).await?,
    );
    Ok(Page {
        status: StatusCode::OK,
        lang,
        title: t.account_title.into(),
        body,
        form_target: None,
        cookies: Vec::new(),
        script: true,
        refresh: None,
    })
}

/// The form that changes the PIN of one of the person's active keys (nothing without keys).
async fn pin_form(
    state: &ApiState,
    lang: Lang,
    person: &Caller,
    csrf: &str,
) -> Result<String, AuthError> {
    let Some(subscriber) = person.subscriber.clone() else {
        return Ok(String::new());
    };
    let keys = state
        .service
        .registry
        .list(inkan_store::KeyFilter {
            owner: Some(subscriber),
            ..inkan_store::KeyFilter::default()
        })
        .await?;
    let options: String = keys
        .iter()
        .filter(|k| k.state == inkan_store::KeyState::Active)
        .filter(|k| {
            crate::auth::access::authorize_key(person, k, crate::auth::Operation::Read).is_ok()
        })
        .map(|k| {
            format!(
                "<option value=\"{id}\">{label} ({id})</option>",
                id = escape(k.id.as_str()),
                label = escape(&k.label)
            )
        })
        .collect();
    if options.is_empty() {
        return Ok(options);
    }
    let t = lang.text();
    Ok(format!(
        "<h2>{pins}</h2><form method=\"post\" action=\"/account/pin\">{hidden}\
         <label for=\"key\">{key}</label><select id=\"key\" name=\"key\">{options}</select>\
         <label for=\"current-pin\">{current}</label>\
         <input type=\"password\" id=\"current-pin\" name=\"pin\" autocomplete=\"off\">\
         <label for=\"new-pin\">{new}</label>\
         <input type=\"password\" id=\"new-pin\" name=\"new_pin\" autocomplete=\"new-password\" required>\
         <label for=\"pin-otp\">{otp}</label>\
         <input type=\"text\" id=\"pin-otp\" name=\"otp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" required>\
         <button type=\"submit\" class=\"primary\">{change}</button></form>",
        pins = t.pins,
        hidden = hidden(lang, csrf),
        key = t.key,
        current = t.current_pin,
        new = t.new_pin,
        otp = t.otp_again,
        change = t.change_pin,
    ))
}

/// `POST /account/pin`: changes the PIN of one of the signed-in person's keys, with the current
/// PIN and a fresh one-time password (criteria 2.2.3(2)A-2).
#[utoipa::path(post, path = "/account/pin", tag = "oauth2",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "csrf, key, pin (current; empty if none yet), new_pin, otp, lang"),
    responses((status = 200, description = "HTML: changed"), (status = 403, description = "HTML: wrong PIN or OTP, or not the person's key")))]
pub async fn change_pin(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Checked(form, lang): Checked<PinForm>,
) -> Response {
    let Some(person) = person_of(&state, &headers).await else {
        return see_other(&format!("/account?lang={}", lang.tag()), &[]);
    };
    let t = lang.text();
    let current = (!form.pin.is_empty()).then(|| SecretString::from(form.pin.as_str()));
    let changed = state
        .activation
        .change_pin_on_page(
            &person,
            &form.key,
            (current, &form.otp),
            SecretString::from(form.new_pin.as_str()),
        )
        .await;
    match changed {
        Ok(()) => Page {
            status: StatusCode::OK,
            lang,
            title: t.pins.into(),
            body: format!(
                "<p>{}</p><p><a href=\"/account?lang={}\">{}</a></p>",
                t.pin_changed,
                lang.tag(),
                t.back_to_account
            ),
            form_target: None,
            cookies: Vec::new(),
            script: false,
            refresh: None,
        }
        .into_response(),
        Err(AuthError::Forbidden(_)) => error_page(lang, StatusCode::FORBIDDEN, t.wrong_factors),
        Err(e) => failure(lang, &e),
    }
}

/// `POST /account/sign-in`: password and TOTP, back to `/account`.
#[utoipa::path(post, path = "/account/sign-in", tag = "oauth2",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "csrf, username, password, otp, lang"),
    responses((status = 303, description = "Signed in"), (status = 401, description = "HTML: refused")))]
pub async fn account_sign_in(
    State(state): State<Arc<ApiState>>,
    Source(source): Source,
    headers: HeaderMap,
    Checked(form, lang): Checked<SignInForm>,
) -> Response {
    let signed = password_sign_in(&state, source, &form).await;
    let back = format!("/account?lang={}", lang.tag());
    sign_in_answer(&state, &headers, lang, signed, &back, || {
        error_page(lang, StatusCode::UNAUTHORIZED, lang.text().wrong_login)
    })
    .await
}

/// `POST /account/passkey`: a passkey sign-in, back to `/account`.
#[utoipa::path(post, path = "/account/passkey", tag = "oauth2",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "as /oauth2/consent/{id}/passkey"),
    responses((status = 303, description = "Signed in"), (status = 401, description = "HTML: refused")))]
pub async fn account_passkey(
    State(state): State<Arc<ApiState>>,
    Source(source): Source,
    headers: HeaderMap,
    Checked(form, lang): Checked<PasskeySignInForm>,
) -> Response {
    let signed = passkey_sign_in(&state, source, &form).await;
    let back = format!("/account?lang={}", lang.tag());
    sign_in_answer(&state, &headers, lang, signed, &back, || {
        error_page(lang, StatusCode::UNAUTHORIZED, lang.text().passkey_failed)
    })
    .await
}

/// `POST /account/passkeys`: adds the passkey the browser made (with a fresh OTP).
#[utoipa::path(post, path = "/account/passkeys", tag = "oauth2",
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "csrf, name, otp, sealed, client_data, attestation_object (base64url, from navigator.credentials.create), lang"),
    responses((status = 303, description = "Added: back to /account"), (status = 403, description = "HTML: wrong OTP or no CSRF match")))]
pub async fn add_passkey(
    State(state): State<Arc<ApiState>>,
    headers: HeaderMap,
    Checked(form, lang): Checked<AddPasskeyForm>,
) -> Response {
    let Some(person) = person_of(&state, &headers).await else {
        return see_other(&format!("/account?lang={}", lang.tag()), &[]);
    };
    let added = async {
        let (client_data, attestation_object) = (
            decoded(&form.client_data)?,
            decoded(&form.attestation_object)?,
        );
        let registration = Registration {
            sealed: &form.sealed,
            client_data_json: &client_data,
            attestation_object: &attestation_object,
        };
        state
            .auth
            .add_passkey(&person, &form.name, &form.otp, &registration)
            .await
    };
    match added.await {
        Ok(_) => see_other(&format!("/account?lang={}", lang.tag()), &[]),
        Err(AuthError::Forbidden(_)) => {
            error_page(lang, StatusCode::FORBIDDEN, lang.text().wrong_factors)
        }
        Err(e) => failure(lang, &e),
    }
}

/// `POST /account/passkeys/{id}/remove`.
#[utoipa::path(post, path = "/account/passkeys/{id}/remove", tag = "oauth2",
    params(("id" = String, Path, description = "pk_…")),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "csrf, lang"),
    responses((status = 303, description = "Removed: back to /account")))]
pub async fn remove_passkey(
    State(state): State<Arc<ApiState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Checked(_, lang): Checked<PlainForm>,
) -> Response {
    let Some(person) = person_of(&state, &headers).await else {
        return see_other(&format!("/account?lang={}", lang.tag()), &[]);
    };
    match state.auth.remove_passkey(&person, &id).await {
        Ok(()) => see_other(&format!("/account?lang={}", lang.tag()), &[]),
        Err(e) => failure(lang, &e),
    }
}

/// `GET /static/passkey.js`.
pub async fn script() -> impl IntoResponse {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        super::html::JS,
    )
}
