//! M-of-N dual control (criteria 2.1.3(12)): one operator asks, M others approve, the action
//! runs once.
//!
//! Owns [`ApprovalRequest`] (kept as a workflow record) and its life: `pending` → (M
//! approvals by distinct operators other than the requester, each holding the action's
//! permission) `approved` → `executed` or `failed`; or `expired` once `expires_at` passes
//! unapproved. An action that grants standing signing power ([`Action::consent_of`]) also
//! needs the consent of an authorised user of its subscriber, given over that user's own
//! session (criteria 2.2.3(2)B-1); M = 0 never waives it. The step that completes what the
//! request needs moves the record to `approved` by compare-and-set, so exactly one caller
//! carries the action out. Every step is logged
//! (`operator.action`, the request id in the entry's `approval`). Must never: count the
//! requester, count an operator twice, or carry out an action from any state but the one its
//! own compare-and-set produced.

use super::actions::Action;
use super::records::Workflow;
use crate::auth::operators::RolePermissions as _;
use crate::auth::{Auth, AuthError, Caller, CallerKind};
use crate::clock::{Clock, UnixMillis};
use crate::config::OperationsConfig;
use crate::delivery::Delivery;
use crate::environment::Environment;
use crate::service::Service;
use inkan_store::Store;
use inkan_store::auth::new_id;
use inkan_store::operations::{WorkflowKind, WorkflowRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use zeroize::Zeroizing;

impl Workflow for ApprovalRequest {
    const KIND: WorkflowKind = WorkflowKind::Approval;
    const PREFIX: &'static str = "apr";
    const NOUN: &'static str = "request";
    fn id(&self) -> &str {
        &self.id
    }
    fn state_name(&self) -> &'static str {
        self.state.as_str()
    }
}

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    /// Waiting for approvals.
    Pending,
    /// Approved; being carried out.
    Approved,
    /// Carried out.
    Executed,
    /// Approved, but carrying it out failed (the result says why).
    Failed,
    /// Not approved in time.
    Expired,
    /// A host action's authorisation, used by its command.
    Used,
}

impl RequestState {
    fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Executed => "executed",
            RequestState::Failed => "failed",
            RequestState::Expired => "expired",
            RequestState::Used => "used",
        }
    }
}

/// An operator's part in a request: who, from which terminal, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signoff {
    /// The operator's account.
    pub operator: String,
    /// The terminal's certificate thumbprint.
    pub terminal: Option<String>,
    /// When.
    pub at: UnixMillis,
}

/// A request for an action under dual control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    /// `apr_…`.
    pub id: String,
    /// What is asked.
    pub action: Action,
    /// Who asked.
    pub requested_by: Signoff,
    /// How many approvals it needs (M).
    pub required: u32,
    /// The approvals so far.
    pub approvals: Vec<Signoff>,
    /// Where it is.
    pub state: RequestState,
    /// When it expires if not approved.
    pub expires_at: UnixMillis,
    /// The subscriber's consent (a user of [`Action::consent_of`]), for actions that need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<Signoff>,
    /// What carrying it out did, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

/// A request after an approval, and what its action hands to the approving officer alone
/// (never stored in the request).
pub struct Approved {
    /// The request.
    pub request: ApprovalRequest,
    /// The first half of a reissued activation code (`account.activation_code`).
    pub activation_code_first_half: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Approved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Approved")
            .field("request", &self.request.id)
            .field(
                "activation_code_first_half",
                &self
                    .activation_code_first_half
                    .as_ref()
                    .map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// The operations service: dual control now; enrolment later.
#[derive(Debug)]
pub struct Operations {
    pub(super) store: Arc<dyn Store>,
    pub(super) service: Arc<Service>,
    pub(super) auth: Arc<Auth>,
    pub(super) delivery: Arc<Delivery>,
    pub(super) environment: Environment,
    clock: Arc<dyn Clock>,
    config: OperationsConfig,
}

impl Operations {
    /// The service over what the server opened.
    pub fn new(
        service: Arc<Service>,
        auth: Arc<Auth>,
        delivery: Arc<Delivery>,
        clock: Arc<dyn Clock>,
        config: OperationsConfig,
    ) -> Self {
        Operations {
            store: service.store.clone(),
            environment: service.environment,
            service,
            auth,
            delivery,
            clock,
            config,
        }
    }

    pub(super) fn now(&self) -> UnixMillis {
        self.clock.now()
    }

    /// M for `action`. A host action is approved by at least one other operator outside
    /// `test` whatever is configured (criteria 2.1.3(12)): its approval is the only check the
    /// host command makes. A reissued activation code needs at least one too: its halves go to
    /// the requester and an approver (criteria 2.1.1(5): never both to one operator).
    fn required(&self, action: &Action) -> u32 {
        let configured = self
            .config
            .approvals_for
            .get(action.name())
            .copied()
            .unwrap_or(self.config.approvals);
        let at_least_one = matches!(action, Action::ReissueActivationCode { .. })
            || (action.on_host() && self.environment != Environment::Test);
        if at_least_one {
            configured.max(1)
        } else {
            configured
        }
    }

    /// Asks for `action`. The caller's role must allow it; it is checked now, and carried out
    /// at once only when dual control requires no approval (M = 0, never in production).
    pub async fn request(
        &self,
        caller: &Caller,
        action: Action,
    ) -> Result<ApprovalRequest, AuthError> {
        if let Action::ReissueActivationCode { account, .. } = &action {
            // The server makes the requester's half: a half the requester chose would let them
            // hold both once they saw the first.
            return Err(AuthError::BadRequest(format!(
                "an activation code is reissued through POST /v1/accounts/{account}/activation-code"
            )));
        }
        self.ask(caller, action).await
    }

    /// Asks for a new activation code for the pending user account `account` (dual control,
    /// criteria 2.1.1(5), 2.1.3(12)): returns the request and the code's second half, for the
    /// requesting officer only (its hash is kept in the request); the approving officer
    /// receives the first half.
    pub async fn request_activation_code(
        &self,
        caller: &Caller,
        account: &str,
    ) -> Result<(ApprovalRequest, Zeroizing<String>), AuthError> {
        let second = crate::auth::accounts::new_code_half();
        let action = Action::ReissueActivationCode {
            account: account.into(),
            second_half_hash: second.hash,
        };
        Ok((self.ask(caller, action).await?, second.half))
    }

    /// Records a request for `action` as asked (the callers above refuse what may not be
    /// asked directly).
    async fn ask(&self, caller: &Caller, action: Action) -> Result<ApprovalRequest, AuthError> {
        caller.require(action.permission())?;
        self.check_action(&action).await?;
        let now = self.now();
        let request = ApprovalRequest {
            id: new_id("apr"),
            requested_by: signoff(caller, now),
            required: self.required(&action),
            approvals: Vec::new(),
            state: RequestState::Pending,
            expires_at: now.saturating_add(i64::from(self.config.approval_minutes) * 60_000),
            consent: None,
            result: None,
            action,
        };
        // Every step of the workflow is written ahead (criteria 2.1.3(12)).
        let note = format!(
            "requested {} ({} approvals needed)",
            request.action.summary(),
            request.required
        );
        let record = self
            .auth
            .operation(
                caller.actor(),
                Some(&request.id),
                note,
                self.insert_record(&caller.id, &request),
            )
            .await?;
        if request.required == 0 && request.action.consent_of().is_none() {
            return Ok(self.complete(caller, record, request).await?.request);
        }
        Ok(request)
    }

    /// Whether `request` has all it needs to be carried out: M approvals whose operators still
    /// hold the action's permission (a role changed since takes its approvals with it), and
    /// the subscriber's consent when the action needs it.
    async fn is_complete(&self, request: &ApprovalRequest) -> Result<bool, AuthError> {
        if request.action.consent_of().is_some() && request.consent.is_none() {
            return Ok(false);
        }
        let permission = request.action.permission();
        let mut count = 0usize;
        for approval in &request.approvals {
            let role = self.store.operator_role(&approval.operator).await?;
            if role.is_some_and(|r| r.allows(permission)) {
                count += 1;
            }
        }
        Ok(count as u64 >= u64::from(request.required))
    }

    /// Request `id`, pending and not expired (an expired one is marked so).
    async fn load_pending(&self, id: &str) -> Result<(WorkflowRecord, ApprovalRequest), AuthError> {
        let (record, mut request) = self.load_record::<ApprovalRequest>(id).await?;
        if request.state != RequestState::Pending {
            return Err(AuthError::Conflict(format!(
                "request {id} is {}",
                request.state.as_str()
            )));
        }
        if self.now() >= request.expires_at {
            request.state = RequestState::Expired;
            self.save_record(&record, &request).await?;
            return Err(AuthError::Conflict(format!("request {id} has expired")));
        }
        Ok((record, request))
    }

    /// The subscriber's consent to request `id` (criteria 2.2.3(2)B-1): given by a user of
    /// the subscriber the action names, over their own session, once; logged with the user's
    /// id. Refused to operators, system clients and users of other subscribers, and for
    /// actions that need no consent. When the operators' approvals are in, it carries the
    /// action out.
    pub async fn consent(&self, caller: &Caller, id: &str) -> Result<ApprovalRequest, AuthError> {
        let (record, mut request) = self.load_pending(id).await?;
        let Some(subscriber) = request.action.consent_of() else {
            return Err(AuthError::Forbidden(format!(
                "request {id} ({}) is approved by operators, not consented to",
                request.action.name()
            )));
        };
        if caller.kind != CallerKind::User || caller.subscriber.as_deref() != Some(subscriber) {
            return Err(AuthError::Forbidden(
                "only a user of the subscriber the request is about consents to it".into(),
            ));
        }
        if request.consent.is_some() {
            return Err(AuthError::Conflict(format!(
                "request {id} has the subscriber's consent already"
            )));
        }
        request.consent = Some(signoff(caller, self.now()));
        // Written ahead, saved by compare-and-set, before anything is carried out.
        let record = self
            .log_consent(caller, &request, self.save_record(&record, &request))
            .await?;
        if self.is_complete(&request).await? {
            return Ok(self.complete(caller, record, request).await?.request);
        }
        Ok(request)
    }

    /// Approves request `id`. Refused to the requester, to an operator who approved it
    /// already, to a role that may not do the action, and for a request that is not pending
    /// (an expired one is marked so). The approval that completes the count carries the
    /// action out and returns the request with its result. What the action hands to the
    /// approver (a reissued activation code's first half) is dropped here: where a person
    /// approves, use [`approve_and_hand_over`](Self::approve_and_hand_over).
    pub async fn approve(&self, caller: &Caller, id: &str) -> Result<ApprovalRequest, AuthError> {
        Ok(self.approve_and_hand_over(caller, id).await?.request)
    }

    /// [`approve`](Self::approve), also returning what the action hands to the approving
    /// officer alone (an activation code's first half).
    pub async fn approve_and_hand_over(
        &self,
        caller: &Caller,
        id: &str,
    ) -> Result<Approved, AuthError> {
        let (record, mut request) = self.load_pending(id).await?;
        caller.require(request.action.permission())?;
        if request.requested_by.operator == caller.id {
            return Err(AuthError::Forbidden(
                "nobody approves their own request".into(),
            ));
        }
        if request.approvals.iter().any(|a| a.operator == caller.id) {
            return Err(AuthError::Conflict(format!(
                "you approved request {id} already"
            )));
        }
        request.approvals.push(signoff(caller, self.now()));
        // An approval counts while its operator still holds the permission (a role changed
        // since takes its approvals with it), and with the subscriber's consent where the
        // action needs it.
        if !self.is_complete(&request).await? {
            // The compare-and-set may lose to another approval: then the entry says failed.
            self.log_approval(caller, &request, self.save_record(&record, &request))
                .await?;
            return Ok(Approved {
                request,
                activation_code_first_half: None,
            });
        }
        self.complete(caller, record, request).await
    }

    /// Moves a fully approved request to `approved` (compare-and-set: only one caller gets
    /// past it), carries the action out and records the outcome.
    async fn complete(
        &self,
        caller: &Caller,
        record: WorkflowRecord,
        mut request: ApprovalRequest,
    ) -> Result<Approved, AuthError> {
        request.state = RequestState::Approved;
        let approved = if caller.kind == CallerKind::Operator && !request.approvals.is_empty() {
            self.log_approval(caller, &request, self.save_record(&record, &request))
                .await?
        } else {
            // Completed by the subscriber's consent, or needing no approval: the move to
            // approved is written ahead too (criteria 2.1.3(12)).
            let note = format!(
                "approved {} ({})",
                request.action.summary(),
                if request.consent.is_some() {
                    "the subscriber's consent completed it"
                } else {
                    "no approval configured"
                }
            );
            self.auth
                .operation(
                    caller.actor(),
                    Some(&request.id),
                    note,
                    self.save_record(&record, &request),
                )
                .await?
        };
        let mut first_half = None;
        let outcome = match &request.action {
            Action::ReissueActivationCode {
                account,
                second_half_hash,
            } => self
                .reissue_code(&caller.actor(), &request.id, account, second_half_hash)
                .await
                .map(|(done, half)| {
                    first_half = Some(half);
                    done
                }),
            action => self.carry_out(&caller.actor(), &request.id, action).await,
        };
        let (state, result) = match &outcome {
            Ok(done) => (RequestState::Executed, done.clone()),
            Err(e) => (RequestState::Failed, Value::String(e.to_string())),
        };
        request.state = state;
        request.result = Some(result);
        let note = format!("{} {}", request.action.summary(), state.as_str());
        self.auth
            .operation(
                caller.actor(),
                Some(&request.id),
                note,
                self.save_record(&approved, &request),
            )
            .await?;
        outcome.map(|_| Approved {
            request,
            activation_code_first_half: first_half,
        })
    }

    /// Saves an approval (`save`) written ahead.
    async fn log_approval<T>(
        &self,
        caller: &Caller,
        request: &ApprovalRequest,
        save: impl std::future::Future<Output = Result<T, AuthError>>,
    ) -> Result<T, AuthError> {
        let note = format!(
            "approved {} ({} of {})",
            request.action.summary(),
            request.approvals.len(),
            request.required
        );
        self.auth
            .operation(caller.actor(), Some(&request.id), note, save)
            .await
    }

    async fn log_consent<T>(
        &self,
        caller: &Caller,
        request: &ApprovalRequest,
        save: impl std::future::Future<Output = Result<T, AuthError>>,
    ) -> Result<T, AuthError> {
        let note = format!(
            "subscriber's consent to {} by its user {}",
            request.action.summary(),
            caller.id
        );
        self.auth
            .operation(caller.actor(), Some(&request.id), note, save)
            .await
    }

    /// One request: any operator may read them, and a user of a subscriber the requests that
    /// ask for its consent (what they would consent to).
    pub async fn get(&self, caller: &Caller, id: &str) -> Result<ApprovalRequest, AuthError> {
        if caller.kind == CallerKind::User {
            let not_found = || AuthError::NotFound(format!("no request {id}"));
            let request = self
                .load_record::<ApprovalRequest>(id)
                .await
                .map_err(|_| not_found())?
                .1;
            if request.action.consent_of() != caller.subscriber.as_deref()
                || caller.subscriber.is_none()
            {
                return Err(not_found());
            }
            return Ok(request);
        }
        caller.require(crate::auth::operators::Permission::Read)?;
        Ok(self.load_record::<ApprovalRequest>(id).await?.1)
    }

    /// Requests in `state` (all when `None`), oldest first.
    pub async fn list(
        &self,
        caller: &Caller,
        state: Option<RequestState>,
    ) -> Result<Vec<ApprovalRequest>, AuthError> {
        caller.require(crate::auth::operators::Permission::Read)?;
        self.list_records(state.map(RequestState::as_str)).await
    }
}

/// For a command run on the host (`inkan keys generate`, `keys import`, `operators add`,
/// `backup create`, `decommission`): uses up request `id`, which must be an approved
/// (`executed`) request for `action` (and, when given, `subject`: its summary) that has not
/// expired; compare-and-set, so it is used once. The caller logs what it
/// then does, naming the request.
pub async fn use_host_approval(
    store: &dyn Store,
    id: &str,
    action: &str,
    subject: Option<&str>,
    now: UnixMillis,
) -> Result<ApprovalRequest, AuthError> {
    let (record, mut request) = super::records::load::<ApprovalRequest>(store, id).await?;
    if request.action.name() != action || !request.action.on_host() {
        return Err(AuthError::Conflict(format!(
            "request {id} is for {}, not {action}",
            request.action.name()
        )));
    }
    // What was approved is what runs: the same owner, operator, role (criteria 2.1.3(12)).
    if let Some(subject) = subject
        && request.action.summary() != subject
    {
        return Err(AuthError::Conflict(format!(
            "request {id} approved {}, not {subject}",
            request.action.summary()
        )));
    }
    if request.state != RequestState::Executed {
        return Err(AuthError::Conflict(format!(
            "request {id} is {}, not approved and unused",
            request.state.as_str()
        )));
    }
    if now >= request.expires_at {
        return Err(AuthError::Conflict(format!("request {id} has expired")));
    }
    request.state = RequestState::Used;
    super::records::save(store, &record, &request, now).await?;
    Ok(request)
}

/// `caller`'s part, now.
pub(super) fn signoff(caller: &Caller, at: UnixMillis) -> Signoff {
    Signoff {
        operator: caller.id.clone(),
        terminal: caller.terminal.clone(),
        at,
    }
}
