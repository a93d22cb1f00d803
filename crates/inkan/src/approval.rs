//! Dual control for commands run on the host (criteria 2.1.3(12), 2.3.3(5)): `inkan keys
//! generate`, `keys import`, `operators add` (beyond the first admin), `backup create` and
//! `decommission` change keys or who may act, so each needs an approved request (`POST
//! /v1/approvals` with the action, approved by M other operators, at least one) naming what it
//! will do. Only a `test` deployment runs them without one, unless its `[operations]
//! approvals_for` names the action with M > 0. The
//! command uses the approval up, once, and acts as the operator who asked for it: the log
//! names that operator and the approvers, not the host account the command runs under.

use inkan_log::entry::{Actor, Authentication};
use inkan_server::config::Config;
use inkan_server::environment::Environment;
use inkan_server::operations::approvals::use_host_approval;
use inkan_server::service::{Service, host_operator};

/// Uses up `approval` for `action` about `subject` (the request's summary, e.g. `key.generate
/// for sub_…`), or checks that none is needed. Returns the actor the command then acts as.
pub async fn authorise(
    config: &Config,
    service: &Service,
    action: &str,
    subject: Option<&str>,
    approval: Option<&str>,
) -> Result<Actor, String> {
    let ops = &config.operations;
    let required = ops
        .approvals_for
        .get(action)
        .copied()
        .unwrap_or(ops.approvals);
    let Some(id) = approval else {
        // A test deployment (the README's first command) runs host commands as the host user
        // unless `[operations] approvals_for` asks for approvals of this one.
        let asked_for = ops.approvals_for.get(action).is_some_and(|&m| m > 0);
        if config.environment == Environment::Test && !asked_for {
            return Ok(host_operator(&crate::keys::host_user()));
        }
        return Err(format!(
            "{action} is under dual control: ask for it (POST /v1/approvals {{\"action\": \
             \"{action}\", …}}), have {} other operator(s) approve it, then give \
             --approval apr_…",
            required.max(1)
        ));
    };
    let request = use_host_approval(&*service.store, id, action, subject, service.now())
        .await
        .map_err(|e| e.to_string())?;
    let actor = Actor {
        kind: inkan_log::entry::ActorKind::Operator,
        id: request.requested_by.operator.clone(),
        auth: Authentication {
            method: "host".into(),
            session: None,
            terminal: request.requested_by.terminal.clone(),
        },
    };
    let approvers: Vec<&str> = request
        .approvals
        .iter()
        .map(|a| a.operator.as_str())
        .collect();
    service
        .record_operation(
            &actor,
            Some(&request.id),
            format!(
                "approval {} used by the host command ({}): asked by {}, approved by {}; run \
                 by host user {}",
                request.id,
                request.action.summary(),
                request.requested_by.operator,
                if approvers.is_empty() {
                    "nobody (M = 0)".to_owned()
                } else {
                    approvers.join(", ")
                },
                crate::keys::host_user()
            ),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(actor)
}
