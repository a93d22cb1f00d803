//! Dual control for commands run on the host (criteria 2.1.3(12)): `inkan keys import`,
//! `inkan backup create` and `inkan decommission` need an approved request (`POST
//! /v1/approvals` with the action, approved by M other operators) unless `[operations]`
//! sets M = 0 for the action; the command uses the approval up, once, and logs that it did.

use inkan_log::entry::Actor;
use inkan_server::config::Config;
use inkan_server::operations::approvals::use_host_approval;
use inkan_server::service::Service;

/// Uses up `approval` for `action`, or checks that none is needed. Returns the request id
/// used, if any.
pub async fn authorise(
    config: &Config,
    service: &Service,
    actor: &Actor,
    action: &str,
    approval: Option<&str>,
) -> Result<Option<String>, String> {
    let ops = &config.operations;
    let required = ops
        .approvals_for
        .get(action)
        .copied()
        .unwrap_or(ops.approvals);
    let Some(id) = approval else {
        if required == 0 {
            return Ok(None);
        }
        return Err(format!(
            "{action} is under dual control: ask for it (POST /v1/approvals {{\"action\": \
             \"{action}\", …}}), have {required} other operator(s) approve it, then give \
             --approval apr_…"
        ));
    };
    let request = use_host_approval(&*service.store, id, action, service.now())
        .await
        .map_err(|e| e.to_string())?;
    service
        .record_operation(
            actor,
            Some(&request.id),
            format!(
                "approval {} used by the host command ({action})",
                request.id
            ),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(request.id))
}
