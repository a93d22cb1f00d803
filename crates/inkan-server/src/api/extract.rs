//! Extractors: what handlers get from a request besides its body.
//!
//! [`Authenticated`] runs the whole token check (`Auth::authenticate`: token, session,
//! DPoP or certificate binding) before a handler sees the request ([`AuthenticatedForSigning`]
//! the same, possibly from memory, confirmed by the signing module); [`Source`] is the caller's
//! address for rate limits; [`JsonBody`] parses a JSON body strictly and turns a parse error
//! into a clear 400. Must never let a handler run for a protected route without a
//! [`Caller`].

use super::ApiState;
use super::error::ApiError;
use super::listener::{PeerCertificate, RemoteAddr};
use crate::auth::{Caller, RequestCredentials};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, header};
use serde::de::DeserializeOwned;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// The `DPoP` request header (RFC 9449).
pub static DPOP: HeaderName = HeaderName::from_static("dpop");

/// The authenticated caller of a protected route.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

/// The caller's address (unspecified when the request did not come over a socket, as in
/// in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct Source(pub IpAddr);

/// A JSON body parsed with the service's rules (unknown fields refused where the type says so).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

/// One header as text: `None` if absent, an error if repeated or not visible ASCII.
pub fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
) -> Result<Option<&'a str>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request(format!(
            "more than one {name} header"
        )));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| ApiError::bad_request(format!("the {name} header is not visible ASCII")))
}

/// The client certificate thumbprint of the connection, if any.
pub fn client_certificate(parts: &Parts) -> Option<&str> {
    parts
        .extensions
        .get::<Option<PeerCertificate>>()
        .and_then(Option::as_ref)
        .map(|c| c.thumbprint.as_str())
}

/// What `Auth` needs to know about the request.
pub fn credentials(parts: &Parts) -> Result<RequestCredentials<'_>, ApiError> {
    Ok(RequestCredentials {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        authorization: single_header(&parts.headers, &header::AUTHORIZATION)?,
        dpop: single_header(&parts.headers, &DPOP)?,
        client_certificate: client_certificate(parts),
    })
}

impl FromRequestParts<Arc<ApiState>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        let creds = credentials(parts)?;
        Ok(Authenticated(state.auth.authenticate(&creds).await?))
    }
}

/// The authenticated caller of a route that signs (`Auth::authenticate_for_signing`): what was
/// taken from memory comes with it, for the `SignRequest` (`SignRequest::token`), whose
/// write-ahead batch confirms it. Only for handlers that hand the check to the signing module.
#[derive(Debug, Clone)]
pub struct AuthenticatedForSigning(pub Caller, pub Option<crate::auth::TokenCheck>);

impl FromRequestParts<Arc<ApiState>> for AuthenticatedForSigning {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<ApiState>,
    ) -> Result<Self, Self::Rejection> {
        let creds = credentials(parts)?;
        let (caller, token) = state.auth.authenticate_for_signing(&creds).await?;
        Ok(AuthenticatedForSigning(caller, token))
    }
}

/// The thumbprint (`x5t#S256`) of the client certificate the connection presented, if any.
#[derive(Debug, Clone)]
pub struct ClientCertificate(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientCertificate {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientCertificate(
            client_certificate(parts).map(str::to_owned),
        ))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Source(
            parts
                .extensions
                .get::<RemoteAddr>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.0.ip()),
        ))
    }
}

/// A parser's error message without the values it quotes: serde names the offending value
/// between backticks (``invalid type: integer `123456` ``), which may be a PIN or a password.
pub fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '`' {
            if !inside {
                out.push_str("`…");
            }
            inside = !inside;
            if !inside {
                out.push('`');
            }
        } else if !inside {
            out.push(c);
        }
    }
    out
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(ApiError::bad_request(without_values(
                &rejection.body_text(),
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoted_values_are_dropped_from_parse_errors() {
        assert_eq!(
            super::without_values("invalid type: integer `123456`, expected a string at line 1"),
            "invalid type: integer `…`, expected a string at line 1"
        );
        assert_eq!(
            super::without_values("missing field `pin`"),
            "missing field `…`"
        );
        assert_eq!(super::without_values("no quotes"), "no quotes");
    }
}
