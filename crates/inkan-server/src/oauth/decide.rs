//! A person's decision on an authorization request (issue 18; criteria 2.2.3(2) ):
//! approval with both factors for `credential` (a fresh sign-in for `service`), or a decline.
//!
//! The decision is written ahead: the pending entry, then the one conditional `UPDATE` that
//! decides the request (`OAuthStore::decide_oauth_request`), then the result; a request that
//! another tab or node decided meanwhile is a failed result, and no code leaves. Must never:
//! issue a code before both factors were checked, or let anyone but a user who may sign with
//! the key decide a `credential` request.

use super::{AuthorizationServer, CODE_MILLIS, Pending, redirect_with, sad_id};
use crate::auth::{AuthError, Caller, random_secret, secret_hash};
use crate::log::Event;
use inkan_log::entry::EntryKind;
use inkan_store::oauth::OAuthDecision;
use secrecy::SecretString;

impl AuthorizationServer {
    /// The person approves: for `credential`, with the key's PIN and a one-time password
    /// (checked, and a refusal logged, by the activation module); for `service`, only in a
    /// browser session started after the request arrived (a fresh sign-in with password and
    /// TOTP). Returns where the browser goes next, with the code.
    pub async fn approve(
        &self,
        person: &Caller,
        id: &str,
        factors: Option<(SecretString, &str)>,
    ) -> Result<String, AuthError> {
        let pending = self.pending(id).await?;
        let code = format!("inkan_code_{}", random_secret(32));
        let code_hash = secret_hash(&code);
        let event = match &pending.credential {
            Some(credential) => {
                let key = self.key_for(person, &pending, credential).await?;
                let Some(factors) = factors else {
                    return Err(AuthError::BadRequest(
                        "the PIN and the one-time password are required".into(),
                    ));
                };
                let request = credential.signature_request()?;
                self.activation
                    .check_on_page(person, &key, &request, factors, &sad_id(id))
                    .await?
            }
            None => {
                if !self.signed_in_for(person, &pending).await? {
                    return Err(AuthError::Forbidden(
                        "sign in again to give an application your session".into(),
                    ));
                }
                Event::new(EntryKind::TokenIssued, person.actor())
            }
        };
        let event = event.note(format!(
            "consent page: authorization code for OAuth2 client {} ({}, request {id})",
            pending.client.id, pending.request.scope
        ));
        let decision = OAuthDecision {
            account_id: &person.id,
            session_id: &person.session,
            code: Some((&code_hash, self.clock.now().saturating_add(CODE_MILLIS))),
            at: self.clock.now(),
        };
        self.recorder
            .write_ahead(event, self.decide(id, &decision))
            .await?;
        Ok(redirect_with(
            &pending.request.redirect_uri,
            &[
                ("code", Some(&code)),
                ("state", pending.request.state.as_deref()),
                ("iss", Some(self.auth.public_url())),
            ],
        ))
    }

    /// The person declines: the client hears `access_denied`. A `credential` request is
    /// declined only by a user who may sign with its key.
    pub async fn deny(&self, person: &Caller, id: &str) -> Result<String, AuthError> {
        let pending = self.pending(id).await?;
        if let Some(credential) = &pending.credential {
            self.key_for(person, &pending, credential).await?;
        }
        let event = Event::new(EntryKind::TokenIssued, person.actor()).note(format!(
            "consent page: declined OAuth2 client {} ({}, request {id})",
            pending.client.id, pending.request.scope
        ));
        let decision = OAuthDecision {
            account_id: &person.id,
            session_id: &person.session,
            code: None,
            at: self.clock.now(),
        };
        self.recorder
            .write_ahead(event, self.decide(id, &decision))
            .await?;
        Ok(redirect_with(
            &pending.request.redirect_uri,
            &[
                ("error", Some("access_denied")),
                ("state", pending.request.state.as_deref()),
                ("iss", Some(self.auth.public_url())),
            ],
        ))
    }

    /// Whether `person`'s browser session began after `pending` arrived: a `service` approval
    /// hands over the person's whole session, so it needs a sign-in for this request.
    pub async fn signed_in_for(
        &self,
        person: &Caller,
        pending: &Pending,
    ) -> Result<bool, AuthError> {
        Ok(self
            .store
            .get_session(&person.session)
            .await?
            .is_some_and(|s| s.created_at >= pending.request.created_at))
    }

    /// The one conditional statement that decides the request.
    async fn decide(&self, id: &str, decision: &OAuthDecision<'_>) -> Result<(), AuthError> {
        if self.store.decide_oauth_request(id, decision).await? {
            Ok(())
        } else {
            Err(AuthError::Conflict(
                "this request was decided already".into(),
            ))
        }
    }
}
