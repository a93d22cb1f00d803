//! The records of the CSC OAuth2 authorization server (issue 18; criteria 2.2.1, 2.2.3(2)):
//! registered signing applications and their authorization requests.
//!
//! Records only: what a request may ask, who may decide it and what a code is exchanged for
//! are `inkan-server`'s `oauth`. Owns the decoding of a row, shared by both engines. Must
//! never: store an authorization code in the clear (only its SHA-256), let a request be
//! decided twice, or let a code be exchanged twice.

use super::StoreError;
use super::auth::{SessionRecord, TokenRecord};
use super::auth_rows::Columns;
use super::signing::SadRecord;
use crate::UnixMillis;

/// A signing application registered under dual control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClientRecord {
    /// The `client_id`.
    pub id: String,
    /// A name for people (shown on the consent page).
    pub name: String,
    /// Where users may be sent back, compared exactly.
    pub redirect_uris: Vec<String>,
    /// The approval request (`apr_…`) that registered it.
    pub approval: String,
    /// When it was registered.
    pub created_at: UnixMillis,
    /// When it was ended, if it was.
    pub revoked_at: Option<UnixMillis>,
}

/// An authorization request, from its arrival to its code's exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthRequestRecord {
    /// The request handle (`oar_…`), in the pages' forms and RFC 9126's `request_uri`.
    pub id: String,
    /// The client that made it.
    pub client_id: String,
    /// Where the user goes back to (one of the client's, exactly).
    pub redirect_uri: String,
    /// The client's `state`, returned as given.
    pub state: Option<String>,
    /// The PKCE S256 challenge.
    pub code_challenge: String,
    /// `service` or `credential`.
    pub scope: String,
    /// For `credential`: the JSON of what is authorised (key, hashes and their labels).
    pub credential: Option<String>,
    /// When it arrived.
    pub created_at: UnixMillis,
    /// When it can no longer be decided.
    pub expires_at: UnixMillis,
    /// Who decided it.
    pub account_id: Option<String>,
    /// The browser session it was decided in.
    pub session_id: Option<String>,
    /// `approved` or `denied`, once decided.
    pub decision: Option<String>,
    /// When it was decided.
    pub decided_at: Option<UnixMillis>,
    /// SHA-256 (hex) of the authorization code an approval issued.
    pub code_hash: Option<String>,
    /// When that code stops working.
    pub code_expires_at: Option<UnixMillis>,
    /// When the code was exchanged.
    pub exchanged_at: Option<UnixMillis>,
    /// The session the code was exchanged for.
    pub granted_session: Option<String>,
}

/// A decision of a pending request.
#[derive(Debug, Clone)]
pub struct OAuthDecision<'a> {
    /// Who decides.
    pub account_id: &'a str,
    /// In which browser session.
    pub session_id: &'a str,
    /// Approved (with the code's hash and end) or denied (`None`).
    pub code: Option<(&'a str, UnixMillis)>,
    /// When.
    pub at: UnixMillis,
}

/// What an exchanged code becomes, written with the exchange in one transaction: a session
/// with its tokens, and for `credential` a SAD of that session.
#[derive(Debug, Clone)]
pub struct OAuthGrant {
    /// The new session.
    pub session: SessionRecord,
    /// Its tokens.
    pub tokens: Vec<TokenRecord>,
    /// The SAD the credential-scoped token stands for.
    pub sad: Option<SadRecord>,
}

/// The authorization server's records.
#[async_trait::async_trait]
pub trait OAuthStore: Send + Sync {
    /// Registers a client; [`StoreError::Conflict`] if the id is taken.
    async fn insert_oauth_client(&self, client: &OAuthClientRecord) -> Result<(), StoreError>;

    /// The client with this id, ended or not.
    async fn oauth_client(&self, id: &str) -> Result<Option<OAuthClientRecord>, StoreError>;

    /// Every client, oldest first.
    async fn oauth_clients(&self) -> Result<Vec<OAuthClientRecord>, StoreError>;

    /// Ends a client at `at` and, in the same transaction, every session its codes were
    /// exchanged for; returns how many sessions ended. [`StoreError::NotFound`] if there is no
    /// such client, [`StoreError::Conflict`] if it has ended already. An exchange running at
    /// the same time either finishes first (its session ends here) or finds the client ended.
    async fn revoke_oauth_client(&self, id: &str, at: UnixMillis) -> Result<u64, StoreError>;

    /// Deletes the requests that can no longer be decided or exchanged before `before` and whose
    /// granted session, if any, is gone; returns how many.
    async fn purge_oauth_requests(&self, before: UnixMillis) -> Result<u64, StoreError>;

    /// Stores a new request; [`StoreError::NotFound`] if its client is unknown.
    async fn insert_oauth_request(&self, request: &OAuthRequestRecord) -> Result<(), StoreError>;

    /// The request with this handle.
    async fn oauth_request(&self, id: &str) -> Result<Option<OAuthRequestRecord>, StoreError>;

    /// The request an authorization code was issued for (not yet exchanged or not).
    async fn oauth_request_by_code(
        &self,
        code_hash: &str,
    ) -> Result<Option<OAuthRequestRecord>, StoreError>;

    /// Decides a request that is undecided and unexpired at `decision.at`, in one conditional
    /// statement: `false` if it was decided already or has expired (whoever else decided it).
    async fn decide_oauth_request(
        &self,
        id: &str,
        decision: &OAuthDecision<'_>,
    ) -> Result<bool, StoreError>;

    /// Uses up the code of `code_hash` if it is unexchanged and unexpired at `now` and its
    /// client has not ended, and writes `grant` in the same transaction (its session becomes
    /// the request's `granted_session`): `false` (and nothing written) otherwise.
    async fn exchange_oauth_code(
        &self,
        code_hash: &str,
        now: UnixMillis,
        grant: &OAuthGrant,
    ) -> Result<bool, StoreError>;
}

/// The columns of `oauth_clients`, in the order [`client`] reads them.
macro_rules! oauth_client_columns {
    () => {
        "id, name, redirect_uris, approval, created_at, revoked_at"
    };
}

/// The columns of `oauth_requests`, in the order [`request`] reads them.
macro_rules! oauth_request_columns {
    () => {
        "id, client_id, redirect_uri, state, code_challenge, scope, credential, created_at, \
         expires_at, account_id, session_id, decision, decided_at, code_hash, code_expires_at, \
         exchanged_at, granted_session"
    };
}

pub(crate) use {oauth_client_columns, oauth_request_columns};

/// Decodes a row of `oauth_clients`.
pub(crate) fn client(row: &impl Columns) -> Result<OAuthClientRecord, StoreError> {
    let uris = row.text("redirect_uris")?;
    Ok(OAuthClientRecord {
        id: row.text("id")?,
        name: row.text("name")?,
        redirect_uris: serde_json::from_str(&uris)
            .map_err(|e| StoreError::Corrupt(format!("oauth client redirect_uris: {e}")))?,
        approval: row.text("approval")?,
        created_at: row.int("created_at")?,
        revoked_at: row.int_opt("revoked_at")?,
    })
}

/// Decodes a row of `oauth_requests`.
pub(crate) fn request(row: &impl Columns) -> Result<OAuthRequestRecord, StoreError> {
    Ok(OAuthRequestRecord {
        id: row.text("id")?,
        client_id: row.text("client_id")?,
        redirect_uri: row.text("redirect_uri")?,
        state: row.text_opt("state")?,
        code_challenge: row.text("code_challenge")?,
        scope: row.text("scope")?,
        credential: row.text_opt("credential")?,
        created_at: row.int("created_at")?,
        expires_at: row.int("expires_at")?,
        account_id: row.text_opt("account_id")?,
        session_id: row.text_opt("session_id")?,
        decision: row.text_opt("decision")?,
        decided_at: row.int_opt("decided_at")?,
        code_hash: row.text_opt("code_hash")?,
        code_expires_at: row.int_opt("code_expires_at")?,
        exchanged_at: row.int_opt("exchanged_at")?,
        granted_session: row.text_opt("granted_session")?,
    })
}
