//! Retiring a key for a cause (criteria 2.2.2(3)): revoked by its status list (the status
//! monitor), replaced by a new key (renewal), or, later, the end of the subscriber's use.
//!
//! What it owns: the order — destroy through the registry (disable, device, `destroyed`, each
//! logged, the cause and its evidence in the entry's note), then queue an
//! `inkan.key.destroyed` notice to every destination of the key's subscriber, naming the log
//! entry. What it must never do: notify before the destruction is durable, or treat a notice
//! that could not be queued as a failed destruction (the key is gone; the failure is logged
//! and reported).

use super::{Destroyed, KeyError, KeyRegistry};
use crate::delivery::Delivery;
use inkan_log::entry::Actor;
use inkan_store::KeyRecord;
use serde_json::{Value, json};

/// The type of the notice sent to a subscriber's destinations when one of its keys is
/// destroyed.
pub const KEY_DESTROYED_NOTICE: &str = "inkan.key.destroyed";

/// A retired key, and whether its subscriber's destinations were told.
#[derive(Debug)]
pub struct Retired {
    /// The destruction.
    pub destroyed: Destroyed,
    /// The notices queued (delivery ids), or why they could not be.
    pub notices: Result<Vec<String>, String>,
}

/// Destroys `key` for `cause` (`revoked`, `renewed`, …) with `reason` (the log note) and
/// `details` (added to the notice), then notifies its subscriber.
pub async fn retire(
    registry: &KeyRegistry,
    delivery: &Delivery,
    actor: &Actor,
    key: &KeyRecord,
    cause: &str,
    reason: &str,
    details: Value,
) -> Result<Retired, KeyError> {
    let destroyed = registry.destroy(actor, &key.id, reason).await?;
    tracing::warn!(key = %key.id, cause, "key destroyed");
    let notice = json!({
        "keyId": key.id,
        "cause": cause,
        "reason": reason,
        "details": details,
        "destroyedAt": destroyed.record.state_changed_at,
        "logIndex": destroyed.log_index,
    });
    let notices = delivery
        .notify(&key.owner, KEY_DESTROYED_NOTICE, &notice, destroyed.log_index)
        .await
        .map_err(|e| {
            tracing::error!(key = %key.id, error = %e, "the destruction notice could not be queued");
            e.to_string()
        });
    Ok(Retired { destroyed, notices })
}
