//! Signing in to the pages through an external identity provider (issue 18 point 5; criteria
//! 2.2.1(3)): the link that sends the browser to the provider, and the callback the provider
//! sends it back to.
//!
//! Parsing and rendering only: the checks are `auth::federation`. The sign-in's sealed state
//! travels in a `SameSite=Lax` cookie (the callback is a navigation from the provider's site,
//! which `SameSite=Strict` cookies do not follow); the callback sets the session cookie and moves
//! on with a same-site navigation, so the next page sees the strict cookies. Must never: send
//! the browser anywhere but the provider's configured endpoint or one of Inkan's own pages.

use super::html::{
    FEDERATION_COOKIE, Page, SESSION_COOKIE, clear_cookie, cookie, escape, see_other, set_cookie,
    set_lax_cookie,
};
use super::{error_page, failure, lang_of};
use crate::api::ApiState;
use crate::api::extract::Source;
use crate::auth::AuthError;
use crate::auth::federation::Callback;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;

/// How long the sign-in's cookie lasts, seconds (the sealed state's own limit is the same).
const COOKIE_SECONDS: u32 = 600;

/// `GET /oauth2/federation/{provider}`'s query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartQuery {
    /// The OAuth2 request whose page the person comes back to (none: `/account`).
    request: Option<String>,
    lang: Option<String>,
}

/// `GET /oauth2/federation/{provider}`: sends the browser to the provider (changing nothing
/// here: this browser's session, if any, ends only when the new sign-in succeeds).
#[utoipa::path(get, path = "/oauth2/federation/{provider}", tag = "oauth2",
    params(("provider" = String, Path, description = "[[identity_providers]] id"),
        ("request" = Option<String>, Query, description = "oar_…: the request's page to come back to"),
        ("lang" = Option<String>, Query, description = "en or ja")),
    responses((status = 303, description = "To the provider's authorization endpoint"),
        (status = 404, description = "HTML: no such provider or request")))]
pub async fn start(
    State(state): State<Arc<ApiState>>,
    Path(provider): Path<String>,
    Query(query): Query<StartQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(query.lang.as_deref(), &headers);
    let back = match &query.request {
        Some(id) => match state.oauth.pending(id).await {
            Ok(pending) => format!("/oauth2/consent/{}?lang={}", pending.request.id, lang.tag()),
            Err(e) => return failure(lang, &e),
        },
        None => format!("/account?lang={}", lang.tag()),
    };
    // The browser's session, if any, ends when the new sign-in succeeds (the callback comes from
    // the provider's site, without this site's strict cookies: its id travels sealed).
    let previous = super::person_of(&state, &headers).await.map(|p| p.session);
    match state
        .auth
        .begin_federated(&provider, &back, previous.as_deref())
        .await
    {
        Ok(begun) => see_other(
            &begun.location,
            &[set_lax_cookie(
                FEDERATION_COOKIE,
                &begun.sealed,
                COOKIE_SECONDS,
            )],
        ),
        Err(e) => failure(lang, &e),
    }
}

/// The callback's query (OpenID Connect Core 1.0 section 3.1.2.5 and 3.1.2.6, RFC 9207).
/// Other members a provider adds (`session_state`, `error_description`) are not read.
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// `GET /oauth2/federation/{provider}/callback`: the provider's answer; signed in, the browser
/// goes on to the page it came from.
#[utoipa::path(get, path = "/oauth2/federation/{provider}/callback", tag = "oauth2",
    params(("provider" = String, Path, description = "[[identity_providers]] id"),
        ("code" = Option<String>, Query, description = "The provider's code"),
        ("state" = Option<String>, Query, description = "The state sent"),
        ("iss" = Option<String>, Query, description = "The provider's issuer (RFC 9207)"),
        ("error" = Option<String>, Query, description = "The provider's refusal")),
    responses((status = 200, description = "HTML: signed in, moving on to the page it came from"),
        (status = 401, description = "HTML: the sign-in failed or its subject is linked to no account"),
        (status = 403, description = "HTML: the sign-in's acr is not one that counts")))]
pub async fn callback(
    State(state): State<Arc<ApiState>>,
    Path(provider): Path<String>,
    Query(query): Query<CallbackQuery>,
    Source(source): Source,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(None, &headers);
    let t = lang.text();
    let answer = Callback {
        code: query.code.as_deref(),
        state: query.state.as_deref(),
        iss: query.iss.as_deref(),
        error: query.error.as_deref(),
    };
    let sealed = cookie(&headers, FEDERATION_COOKIE);
    match state
        .auth
        .finish_federated(source, &provider, sealed, &answer)
        .await
    {
        Ok(signed) => Page {
            status: StatusCode::OK,
            lang,
            title: t.signed_in.into(),
            body: format!(
                "<p><a href=\"{}\">{}</a></p>",
                escape(&signed.back),
                t.continue_
            ),
            form_target: None,
            cookies: vec![
                set_cookie(SESSION_COOKIE, &signed.session),
                clear_cookie(FEDERATION_COOKIE),
            ],
            script: false,
            refresh: Some(signed.back),
        }
        .into_response(),
        Err(AuthError::InvalidCredentials) => {
            error_page(lang, StatusCode::UNAUTHORIZED, t.provider_refused)
        }
        Err(AuthError::Forbidden(_)) => {
            error_page(lang, StatusCode::FORBIDDEN, t.provider_too_weak)
        }
        Err(e) => failure(lang, &e),
    }
}
