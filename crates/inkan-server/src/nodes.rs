//! Work that one node of several on one store must do alone ([`alone`]): the first start's
//! log key and bootstrap operator (issue 20 point 2). A lease in the store
//! (`Store::take_lease`) names the node doing it; the others wait for it, then find what it
//! made instead of making their own.
//!
//! Must never: let two nodes do the work at once (the lease is taken by one conditional
//! statement), or wait forever (a lease runs out after [`LEASE_MILLIS`], so a node that died
//! holding it holds the others up no longer than that).

use crate::clock::Clock;
use inkan_store::{Store, StoreError};
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a lease lasts unless given back: longer than any work done under it.
const LEASE_MILLIS: i64 = 60_000;
/// How often a node waiting for a lease asks again.
const ASK_EVERY: Duration = Duration::from_millis(100);
/// How long a node waits for a lease before it gives up (twice a lease's life).
const WAIT_AT_MOST: Duration = Duration::from_secs(120);

/// A new name for a node among the nodes of a store (random, one per start: `Service::node`):
/// the holder of its leases and the row of its store probes.
pub fn new_node_name() -> String {
    format!("node-{}", uuid::Uuid::new_v4().simple())
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
        tokio::time::sleep(ASK_EVERY).await;
    }
    let result = work().await;
    // A lease not given back runs out by itself.
    if let Err(error) = store.release_lease(name, holder).await {
        tracing::warn!(%error, lease = name, "a lease could not be given back; it runs out");
    }
    result
}
