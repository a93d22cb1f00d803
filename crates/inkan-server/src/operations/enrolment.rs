//! Enrolment (criteria 2.1.1): nobody gets an account or a key without an approved
//! application.
//!
//! Owns [`Application`] and its life: a registration officer records it (applicant, the
//! subscriber — new, or an existing one applying for more keys — and the keys asked for); an
//! officer records the identity proofing (method, evidence reference; the officer is the
//! checker); when the applicant acts for someone else (always for an issuer organisation, and
//! whenever `on_behalf` is set) an officer records the mandate; then an officer who neither
//! recorded the application nor checked the identity approves it — and only then are the
//! subscriber, the user's account and the keys created. Or it is rejected.
//!
//! The new user's activation code is split between two officers (criteria 2.1.1(5),
//! 2.1.3(12)): its second half is made when the application is recorded and shown once to the
//! recording officer (only its hash is kept, in the application); its first half is made on
//! approval, bound to that hash, and shown once to the approving officer — who by the rule
//! above is someone else. Only the applicant, given both halves, activates the account (and
//! so sets the password, TOTP and the keys' PINs).
//!
//! Must never: approve without the records the application needs, let its recorder or checker
//! approve it, hand one officer the whole activation code, or leave a half-created enrolment
//! behind (a failure part-way destroys the keys made and ends the new subscriber's use, and the
//! application says `failed`).

use super::Operations;
use super::approvals::{Signoff, signoff};
use super::records::Workflow;
use crate::auth::accounts::new_code_half;
use crate::auth::operators::Permission;
use crate::auth::{AuthError, Caller};
use crate::clock::UnixMillis;
use crate::keys::NewKey;
use inkan_device::Algorithm;
use inkan_store::auth::{AccountRole, SubscriberKind, SubscriberState, new_id};
use inkan_store::operations::WorkflowKind;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// Most keys one application may ask for.
pub const MAX_KEYS: usize = 8;
/// Longest free text (names, references), bytes.
const MAX_TEXT: usize = 512;

/// Where an application is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationState {
    /// Recorded; waiting for its records and a decision.
    Pending,
    /// Approved; being carried out.
    Approving,
    /// Approved and carried out.
    Approved,
    /// Refused.
    Rejected,
    /// Approved, but carrying it out failed (nothing usable was left behind).
    Failed,
}

impl ApplicationState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ApplicationState::Pending => "pending",
            ApplicationState::Approving => "approving",
            ApplicationState::Approved => "approved",
            ApplicationState::Rejected => "rejected",
            ApplicationState::Failed => "failed",
        }
    }
}

/// The person applying, who will use the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Applicant {
    /// Their name.
    pub name: String,
    /// The login name they will have (or have, for an existing user).
    pub username: String,
}

/// Whom the application is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SubscriberPart {
    /// A new subscriber.
    New {
        /// `issuer` (an organisation) or `holder` (a person).
        #[schema(value_type = String)]
        kind: SubscriberKind,
        /// Its name.
        name: String,
    },
    /// An existing subscriber asking for more keys (or another user).
    Existing {
        /// `sub_…`.
        id: String,
    },
}

/// A key asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestedKey {
    /// ES256, ES384, EdDSA, RS256 or PS256.
    pub algorithm: String,
    /// A label for people.
    pub label: String,
    /// RSA modulus size (2048 or 3072).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsa_bits: Option<usize>,
}

/// How the applicant's identity was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProofingMethod {
    /// In person, against an official photo identity document.
    InPerson,
    /// The public individual authentication service (JPKI, My Number Card signature).
    Jpki,
    /// Online, document and face (eKYC).
    Ekyc,
    /// An organisation's registration certificate (commercial registry) and its
    /// representative's identity.
    CorporateRegistry,
    /// Copies of identity documents and a mailed confirmation.
    DocumentsAndMail,
}

/// The identity-proofing record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Proofing {
    /// How.
    pub method: ProofingMethod,
    /// Where the evidence is kept (a document management reference; never the document).
    pub evidence_reference: String,
    /// The checking officer.
    pub checked_by: Signoff,
}

/// The mandate record: the applicant may act for the subscriber.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mandate {
    /// Who grants it (the organisation's representative, the person represented).
    pub mandator: String,
    /// Where the letter of mandate (or power of attorney) is kept.
    pub document_reference: String,
    /// Until when it holds, if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<UnixMillis>,
    /// The officer who recorded it.
    pub recorded_by: Signoff,
}

/// What an approval created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrolled {
    /// The subscriber.
    pub subscriber: String,
    /// The user's account, if one was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The keys generated (without a PIN: the user sets it after activation).
    pub keys: Vec<String>,
}

/// An application for use of the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Application {
    /// `app_…`.
    pub id: String,
    /// Where it is.
    pub state: ApplicationState,
    /// Who applies.
    pub applicant: Applicant,
    /// For whom.
    pub subscriber: SubscriberPart,
    /// The applicant acts for someone else (a mandate is needed).
    pub on_behalf: bool,
    /// The keys asked for.
    pub keys: Vec<RequestedKey>,
    /// Who recorded it.
    pub recorded_by: Signoff,
    /// The hash of the new user's activation code's second half, shown once to the recording
    /// officer (the half itself is kept nowhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_half_hash: Option<String>,
    /// The identity proofing, once recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proofing: Option<Proofing>,
    /// The mandate, once recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mandate: Option<Mandate>,
    /// Who decided, once decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<Signoff>,
    /// Why it was rejected or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What approval created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolled: Option<Enrolled>,
}

impl Workflow for Application {
    const KIND: WorkflowKind = WorkflowKind::Application;
    const PREFIX: &'static str = "app";
    const NOUN: &'static str = "application";
    fn id(&self) -> &str {
        &self.id
    }
    fn state_name(&self) -> &'static str {
        self.state.as_str()
    }
}

impl Application {
    /// Whether the applicant acts for someone else: an organisation always acts through a
    /// person; a person when the application says so.
    pub fn needs_mandate(&self, kind: SubscriberKind) -> bool {
        self.on_behalf || kind == SubscriberKind::Issuer
    }
}

/// A new application as asked (`POST /v1/applications`).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    /// Who applies.
    pub applicant: Applicant,
    /// For whom.
    pub subscriber: SubscriberPart,
    /// The applicant acts for someone else.
    #[serde(default)]
    pub on_behalf: bool,
    /// The keys asked for (0 to 8).
    #[serde(default)]
    pub keys: Vec<RequestedKey>,
}

/// A recorded application and the second half of the new user's activation code, for the
/// recording officer (shown only here).
pub struct Recorded {
    /// The application, pending.
    pub application: Application,
    /// The second half of the activation code the account will have, if one is created.
    pub activation_code_second_half: Zeroizing<String>,
}

impl std::fmt::Debug for Recorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorded")
            .field("application", &self.application.id)
            .field("activation_code_second_half", &"[redacted]")
            .finish()
    }
}

/// An approved application and the first half of the new user's one-time activation code, for
/// the approving officer (shown only here).
pub struct Approval {
    /// The application, approved.
    pub application: Application,
    /// The activation code's first half, when an account was created.
    pub activation_code_first_half: Option<Zeroizing<String>>,
    /// When the code expires.
    pub code_expires_at: Option<UnixMillis>,
}

impl std::fmt::Debug for Approval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approval")
            .field("application", &self.application.id)
            .field(
                "activation_code_first_half",
                &self
                    .activation_code_first_half
                    .as_ref()
                    .map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

fn check_text(what: &str, value: &str) -> Result<(), AuthError> {
    if value.trim().is_empty() || value.len() > MAX_TEXT || value.chars().any(char::is_control) {
        return Err(AuthError::BadRequest(format!(
            "{what} must be 1 to {MAX_TEXT} bytes of text"
        )));
    }
    Ok(())
}

impl Operations {
    /// Records an application (a registration officer's action), returning the second half of
    /// the activation code of the account it may create, for the recording officer alone.
    pub async fn apply(&self, caller: &Caller, new: NewApplication) -> Result<Recorded, AuthError> {
        caller.require(Permission::Registration)?;
        check_text("the applicant's name", &new.applicant.name)?;
        check_text("the username", &new.applicant.username)?;
        if new.keys.len() > MAX_KEYS {
            return Err(AuthError::BadRequest(format!(
                "an application asks for at most {MAX_KEYS} keys"
            )));
        }
        for key in &new.keys {
            requested_key(String::new(), key)?;
        }
        match &new.subscriber {
            SubscriberPart::New { name, .. } => check_text("the subscriber's name", name)?,
            SubscriberPart::Existing { id } => {
                self.active_subscriber(id).await?;
            }
        }
        let second = new_code_half();
        let application = Application {
            id: new_id("app"),
            state: ApplicationState::Pending,
            applicant: new.applicant,
            subscriber: new.subscriber,
            on_behalf: new.on_behalf,
            keys: new.keys,
            recorded_by: signoff(caller, self.now()),
            second_half_hash: Some(second.hash),
            proofing: None,
            mandate: None,
            decided_by: None,
            reason: None,
            enrolled: None,
        };
        self.changed(
            caller,
            &application,
            "recorded (the activation code's second half handed to the recording officer)",
            self.insert_record(&caller.id, &application),
        )
        .await?;
        Ok(Recorded {
            application,
            activation_code_second_half: second.half,
        })
    }

    /// Records how the applicant's identity was checked; the caller is the checking officer.
    pub async fn record_proofing(
        &self,
        caller: &Caller,
        id: &str,
        method: ProofingMethod,
        evidence_reference: &str,
    ) -> Result<Application, AuthError> {
        caller.require(Permission::Registration)?;
        check_text("the evidence reference", evidence_reference)?;
        let (record, mut application) = self.pending(id).await?;
        if application.proofing.is_some() {
            return Err(AuthError::Conflict(
                "the identity proofing is recorded already (a record is never replaced)".into(),
            ));
        }
        application.proofing = Some(Proofing {
            method,
            evidence_reference: evidence_reference.into(),
            checked_by: signoff(caller, self.now()),
        });
        self.changed(
            caller,
            &application,
            "identity proofing recorded",
            self.save_record(&record, &application),
        )
        .await?;
        Ok(application)
    }

    /// Records the applicant's mandate to act for the subscriber.
    pub async fn record_mandate(
        &self,
        caller: &Caller,
        id: &str,
        mandator: &str,
        document_reference: &str,
        valid_until: Option<UnixMillis>,
    ) -> Result<Application, AuthError> {
        caller.require(Permission::Registration)?;
        check_text("the mandator", mandator)?;
        check_text("the document reference", document_reference)?;
        let now = self.now();
        if valid_until.is_some_and(|until| until <= now) {
            return Err(AuthError::BadRequest("the mandate has expired".into()));
        }
        let (record, mut application) = self.pending(id).await?;
        if application.mandate.is_some() {
            return Err(AuthError::Conflict(
                "the mandate is recorded already (a record is never replaced)".into(),
            ));
        }
        application.mandate = Some(Mandate {
            mandator: mandator.into(),
            document_reference: document_reference.into(),
            valid_until,
            recorded_by: signoff(caller, now),
        });
        self.changed(
            caller,
            &application,
            "mandate recorded",
            self.save_record(&record, &application),
        )
        .await?;
        Ok(application)
    }

    /// Rejects a pending application.
    pub async fn reject(
        &self,
        caller: &Caller,
        id: &str,
        reason: &str,
    ) -> Result<Application, AuthError> {
        caller.require(Permission::Registration)?;
        check_text("the reason", reason)?;
        let (record, mut application) = self.pending(id).await?;
        application.state = ApplicationState::Rejected;
        application.decided_by = Some(signoff(caller, self.now()));
        application.reason = Some(reason.into());
        self.changed(
            caller,
            &application,
            "rejected",
            self.save_record(&record, &application),
        )
        .await?;
        Ok(application)
    }

    /// Approves an application and carries it out: the subscriber (if new), the user's
    /// account (if new) and the keys. Refused without identity proofing, without a mandate
    /// when one is needed (or when it has expired), and to the officer who recorded the
    /// application or checked the identity.
    pub async fn approve_application(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Approval, AuthError> {
        caller.require(Permission::Registration)?;
        let (record, mut application) = self.pending(id).await?;
        let Some(proofing) = &application.proofing else {
            return Err(AuthError::Conflict(
                "the application has no identity-proofing record".into(),
            ));
        };
        if application.recorded_by.operator == caller.id
            || proofing.checked_by.operator == caller.id
        {
            return Err(AuthError::Forbidden(
                "an application is approved by an officer who neither recorded it nor checked \
                 the identity"
                    .into(),
            ));
        }
        let kind = match &application.subscriber {
            SubscriberPart::New { kind, .. } => *kind,
            SubscriberPart::Existing { id } => self.active_subscriber(id).await?.kind,
        };
        if application.needs_mandate(kind) {
            let now = self.now();
            match &application.mandate {
                None => {
                    return Err(AuthError::Conflict(
                        "the applicant acts for the subscriber: the application needs a \
                         mandate record"
                            .into(),
                    ));
                }
                Some(m) if m.valid_until.is_some_and(|until| until <= now) => {
                    return Err(AuthError::Conflict("the mandate has expired".into()));
                }
                Some(_) => {}
            }
        }
        application.state = ApplicationState::Approving;
        application.decided_by = Some(signoff(caller, self.now()));
        let approving = self
            .changed(
                caller,
                &application,
                "being approved",
                self.save_record(&record, &application),
            )
            .await?;
        let mut made = Made::default();
        let outcome = self.enrol(caller, &application, &mut made).await;
        match outcome {
            Ok(code) => {
                application.state = ApplicationState::Approved;
                application.enrolled = Some(Enrolled {
                    subscriber: made.subscriber.clone().unwrap_or_default(),
                    account: made.account.clone(),
                    keys: made.keys.clone(),
                });
                let note = if code.is_some() {
                    "approved (the activation code's first half handed to the approving officer)"
                } else {
                    "approved"
                };
                self.changed(
                    caller,
                    &application,
                    note,
                    self.save_record(&approving, &application),
                )
                .await?;
                Ok(Approval {
                    code_expires_at: code.as_ref().map(|(_, at)| *at),
                    activation_code_first_half: code.map(|(c, _)| c),
                    application,
                })
            }
            Err(e) => {
                self.undo(caller, &application, &made).await;
                application.state = ApplicationState::Failed;
                application.reason = Some(e.to_string());
                self.changed(
                    caller,
                    &application,
                    "failed",
                    self.save_record(&approving, &application),
                )
                .await?;
                Err(e)
            }
        }
    }

    /// One application (the read is logged: it holds personal data).
    pub async fn application(&self, caller: &Caller, id: &str) -> Result<Application, AuthError> {
        caller.require(Permission::Read)?;
        let (_, application) = self.load_record::<Application>(id).await?;
        self.note(caller, &application, "read").await?;
        Ok(application)
    }

    /// Applications in `state` (all when `None`), oldest first (the read is logged).
    pub async fn applications(
        &self,
        caller: &Caller,
        state: Option<ApplicationState>,
    ) -> Result<Vec<Application>, AuthError> {
        caller.require(Permission::Read)?;
        let found = self
            .list_records(state.map(ApplicationState::as_str))
            .await?;
        self.auth
            .record_operation(
                caller.actor(),
                None,
                format!("listed {} applications", found.len()),
            )
            .await?;
        Ok(found)
    }

    async fn pending(
        &self,
        id: &str,
    ) -> Result<(inkan_store::operations::WorkflowRecord, Application), AuthError> {
        let (record, application) = self.load_record::<Application>(id).await?;
        if application.state != ApplicationState::Pending {
            return Err(AuthError::Conflict(format!(
                "application {id} is {}",
                application.state.as_str()
            )));
        }
        Ok((record, application))
    }

    async fn active_subscriber(
        &self,
        id: &str,
    ) -> Result<inkan_store::auth::SubscriberRecord, AuthError> {
        let subscriber = self.auth.subscriber(id).await?;
        if subscriber.state != SubscriberState::Active {
            return Err(AuthError::Conflict(format!(
                "subscriber {id} is {}",
                subscriber.state
            )));
        }
        Ok(subscriber)
    }

    /// Makes a change to `application` (`change`: its record saved) written ahead
    /// (criteria 2.1.3(12)): nothing changes unless its pending entry is logged first.
    async fn changed<T>(
        &self,
        caller: &Caller,
        application: &Application,
        what: &str,
        change: impl std::future::Future<Output = Result<T, AuthError>>,
    ) -> Result<T, AuthError> {
        let note = format!("application {} {what}", application.id);
        self.auth
            .operation(caller.actor(), None, note, change)
            .await
    }

    /// Logs a read of `application` (before it is returned).
    async fn note(
        &self,
        caller: &Caller,
        application: &Application,
        what: &str,
    ) -> Result<(), AuthError> {
        self.auth
            .record_operation(
                caller.actor(),
                None,
                format!("application {} {what}", application.id),
            )
            .await
    }

    /// Creates what `application` asks for, noting each thing in `made` as it is made.
    async fn enrol(
        &self,
        caller: &Caller,
        application: &Application,
        made: &mut Made,
    ) -> Result<Option<(Zeroizing<String>, UnixMillis)>, AuthError> {
        let subscriber = match &application.subscriber {
            SubscriberPart::New { kind, name } => {
                let created = self.auth.enrol_subscriber(caller, *kind, name).await?;
                made.new_subscriber = true;
                created.id
            }
            SubscriberPart::Existing { id } => id.clone(),
        };
        made.subscriber = Some(subscriber.clone());
        let username = &application.applicant.username;
        let code = match self.store.get_account_by_username(username).await? {
            Some(a)
                if a.role == AccountRole::User
                    && a.subscriber.as_deref() == Some(subscriber.as_str()) =>
            {
                None
            }
            Some(_) => {
                return Err(AuthError::Conflict(format!(
                    "the username {username:?} is taken"
                )));
            }
            None => {
                // The approving officer gets only the first half (criteria 2.1.1(5)); an
                // application recorded before codes were split has no second half: refused.
                let Some(second_half_hash) = application.second_half_hash.as_deref() else {
                    return Err(AuthError::Conflict(format!(
                        "application {} has no second half of an activation code: record the \
                         application again",
                        application.id
                    )));
                };
                let account = self
                    .auth
                    .enrol_user(caller, &subscriber, username, Some(second_half_hash))
                    .await?;
                made.account = Some(account.account_id.clone());
                Some((account.activation_code, account.expires_at))
            }
        };
        for (n, key) in application.keys.iter().enumerate() {
            let spec = requested_key(subscriber.clone(), key)?;
            let record = self
                .service
                .registry
                .generate(&caller.actor(), spec)
                .await
                .map_err(|e| {
                    AuthError::Internal(format!(
                        "generating key {} of {}: {e}",
                        n + 1,
                        application.id
                    ))
                })?;
            made.keys.push(record.id.to_string());
        }
        Ok(code)
    }

    /// After a failure part-way: destroys the keys made and ends a new subscriber's use, so
    /// nothing usable is left behind. Each failure here is logged; the records stay.
    async fn undo(&self, caller: &Caller, application: &Application, made: &Made) {
        let reason = format!("application {} failed", application.id);
        for key in &made.keys {
            let Ok(id) = inkan_store::KeyId::parse(key) else {
                continue;
            };
            if let Err(e) = self
                .service
                .registry
                .destroy(&caller.actor(), &id, &reason)
                .await
            {
                tracing::error!(key, error = %e, "destroying a key of a failed application");
            }
        }
        if let Some(account) = &made.account
            && let Err(e) = self.store.disable_account(account, self.now()).await
        {
            tracing::error!(account, error = %e, "disabling a failed application's account");
        }
        if let (true, Some(subscriber)) = (made.new_subscriber, &made.subscriber)
            && let Err(e) = self
                .store
                .terminate_subscriber(subscriber, &reason, self.now())
                .await
        {
            tracing::error!(subscriber, error = %e, "ending a failed application's subscriber");
        }
    }
}

/// What an approval made so far.
#[derive(Debug, Default)]
struct Made {
    subscriber: Option<String>,
    new_subscriber: bool,
    account: Option<String>,
    keys: Vec<String>,
}

/// The registry's request for a key asked for; `BadRequest` for an unknown algorithm or size.
fn requested_key(owner: String, key: &RequestedKey) -> Result<NewKey, AuthError> {
    let algorithm: Algorithm = key
        .algorithm
        .parse()
        .map_err(|e| AuthError::BadRequest(format!("algorithm: {e}")))?;
    check_text("the key label", &key.label)?;
    let rsa_bits = key.rsa_bits.unwrap_or(3072);
    if !matches!(rsa_bits, 2048 | 3072) {
        return Err(AuthError::BadRequest("rsa_bits is 2048 or 3072".into()));
    }
    Ok(NewKey {
        owner,
        label: key.label.clone(),
        algorithm,
        rsa_bits,
    })
}
