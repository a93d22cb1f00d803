//! Work that one node of several on one store must do alone ([`alone`], issue 20 point 2): on a
//! store without a log key, checking the environment, making the key and recording it (every
//! opening, `Service::open`, host commands included); at every server start, the
//! configuration's check, the delivery key and the bootstrap operator (`Server::start`). A
//! lease in the store (`Store::take_lease`) names the node doing it; the others wait for it,
//! then find what it made instead of making their own.
//!
//! The lease runs out [`LEASE_MILLIS`] after it was taken, by each node's own clock: the work
//! under it is short (a key generated, a few statements), nodes keep their clocks in step (as
//! TOTP and token lifetimes need anyway), and a node that died holding it holds the others up
//! no longer than that.
//!
//! Must never: let two nodes do the work at once (the lease is taken by one conditional
//! statement), or wait without bound.

use crate::clock::Clock;
use inkan_store::{Store, StoreError};
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a lease lasts unless given back: far longer than the work done under it.
const LEASE_MILLIS: i64 = 20_000;
/// How often a node waiting for a lease asks again.
const ASK_EVERY: Duration = Duration::from_millis(100);
/// How long a node waits for a lease before it gives up (three leases' lives).
const WAIT_AT_MOST: Duration = Duration::from_secs(60);

/// A new name for a node among the nodes of a store (random, one per start: `Service::node`):
/// the holder of its leases and the row of its store probes.
pub fn new_node_name() -> String {
    format!("node-{}", uuid::Uuid::new_v4().simple())
}

/// Runs `work` under the lease `name` if no other node holds it (for at most `for_millis`, then
/// it is anyone's; given back after), and `None` without running it if one does: work of
/// which one node at a time is enough, such as a round of the status monitor.
pub async fn if_free<T, F, Fut>(
    store: &dyn Store,
    clock: &dyn Clock,
    holder: &str,
    name: &str,
    for_millis: i64,
    work: F,
) -> Result<Option<T>, StoreError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
{
    let now = clock.now();
    if !store
        .take_lease(name, holder, now, now.saturating_add(for_millis))
        .await?
    {
        return Ok(None);
    }
    let result = work().await;
    give_back(store, holder, name).await;
    Ok(Some(result))
}

/// Runs `work` while the node `holder` holds the lease `name`, waiting (a little at a time) while
/// another node holds it; gives the lease back after. `work` must check what another node may
/// have made meanwhile, and make it only if it is not there.
pub async fn alone<T, E, F, Fut>(
    store: &dyn Store,
    clock: &dyn Clock,
    holder: &str,
    name: &str,
    work: F,
) -> Result<T, E>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: From<StoreError>,
{
    let waiting = Instant::now();
    let mut said = false;
    loop {
        let now = clock.now();
        if store
            .take_lease(name, holder, now, now.saturating_add(LEASE_MILLIS))
            .await?
        {
            break;
        }
        if waiting.elapsed() > WAIT_AT_MOST {
            return Err(StoreError::Conflict(format!(
                "another node has held the lease {name:?} for over {WAIT_AT_MOST:?}"
            ))
            .into());
        }
        if !said {
            tracing::info!(
                lease = name,
                "another node holds this lease (or held it when it stopped): waiting for it, \
                 at most until it runs out"
            );
            said = true;
        }
        tokio::time::sleep(ASK_EVERY).await;
    }
    let result = work().await;
    give_back(store, holder, name).await;
    result
}

/// Gives the lease `name` back; one not given back runs out by itself.
async fn give_back(store: &dyn Store, holder: &str, name: &str) {
    if let Err(error) = store.release_lease(name, holder).await {
        tracing::warn!(%error, lease = name, "a lease could not be given back; it runs out");
    }
}
