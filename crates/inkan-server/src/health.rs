//! Whether this node's store can write now ([`probe_store`]), found by one background task and
//! never by a request (issue 20; criteria 2.1.3(6)-(9)). `/ready` reads its last answer, and
//! while it says the store cannot write, the public API refuses what would write at once with a
//! 503 and `Retry-After` ([`refuse_while_store_down`]) instead of letting each request wait for
//! a database that is gone and then fail with a 500. The device has its probe too,
//! [`crate::telemetry::probe_device`]; both count their failures with one [`Probe`].
//!
//! What the probe cannot see: on PostgreSQL its row is updated in place, so a data disk that
//! only refuses to grow tables still lets it commit while the log's inserts fail (those fail
//! closed, with a 500, and `inkan_log_batch_failures_total` moves).
//!
//! The probe is a write that commits (`Store::probe_write`, this node's row of
//! `store_probes`): a read would still answer on a full disk, or on a database that lost its
//! write access.
//!
//! Must never: let anything through on the probe's word (it only refuses early; a signature
//! still needs its own write-ahead entry committed), or count the store up on a probe that did
//! not commit within its time.

use crate::api::ApiState;
use crate::api::error::ApiError;
use crate::clock::Clock;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use inkan_store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// How often the store is probed.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long one probe may take before it counts as failed. The probe waits in the same queue
/// as requests (SQLite's one writer, PostgreSQL's pool), so a busy node must not look like
/// one that cannot write: an outage shows as an error long before this.
const PROBE_WITHIN: Duration = Duration::from_secs(5);
/// Failed probes in a row that make the store count as down: an outage does within a few
/// seconds (its probes fail with an error, at once or when a PostgreSQL connection is not
/// found within 3 s).
const DOWN_AFTER: u32 = 2;
/// What a refused caller is told to wait, seconds.
pub const RETRY_AFTER_SECONDS: u64 = 2;

/// A node counts as running while its last store probe is at most this old (milliseconds):
/// a probe's interval and its timeout twice over and more, so neither a slow commit, nor a
/// short outage, nor a few seconds between the nodes' clocks makes a running node look gone.
pub const RUNNING_FOR_MILLIS: i64 = 15_000;

/// One background check's failures in a row, and whether they make its subject count as
/// down: the store's here, the device's in [`crate::telemetry::probe_device`]. Requests never
/// probe; they read [`Probe::up`].
#[derive(Debug)]
pub struct Probe {
    subject: &'static str,
    down_after: u32,
    failures: AtomicU32,
}

impl Probe {
    /// A probe of `subject` (for the log), down after `down_after` failures in a row; up until
    /// then.
    pub fn new(subject: &'static str, down_after: u32) -> Probe {
        Probe {
            subject,
            down_after,
            failures: AtomicU32::new(0),
        }
    }

    /// The store's probe.
    pub fn of_the_store() -> Probe {
        Probe::new("the store (a committed write)", DOWN_AFTER)
    }

    /// Whether the subject counts as up.
    pub fn up(&self) -> bool {
        self.failures.load(Ordering::Relaxed) < self.down_after
    }

    /// Counts one probe's outcome; says so in the log when the subject goes down and when it
    /// comes back. Whether it counts as up now.
    pub fn observe(&self, outcome: Result<(), String>) -> bool {
        let was_up = self.up();
        match outcome {
            Ok(()) => self.failures.store(0, Ordering::Relaxed),
            Err(error) => {
                let failures = self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(subject = self.subject, %error, failures = failures.saturating_add(1), "a probe failed");
            }
        }
        let up = self.up();
        match (was_up, up) {
            (true, false) => tracing::error!(
                subject = self.subject,
                "down: /ready says 503 until a probe succeeds again"
            ),
            (false, true) => tracing::warn!(subject = self.subject, "up again"),
            _ => {}
        }
        up
    }
}

/// Probes `store` every second as `node` until the task is aborted: a write that commits.
pub async fn probe_store(
    probe: Arc<Probe>,
    store: Arc<dyn Store>,
    node: String,
    clock: Arc<dyn Clock>,
) {
    let mut tick = tokio::time::interval(PROBE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let write = store.probe_write(&node, clock.now());
        let outcome = match tokio::time::timeout(PROBE_WITHIN, write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no commit within {PROBE_WITHIN:?}")),
        };
        crate::telemetry::store_up(probe.observe(outcome));
    }
}

/// Middleware of the public API: while the store cannot write, every request that may write
/// (any method but `GET` and `HEAD`) is refused at once (503, `temporarily_unavailable`,
/// `Retry-After`). Reads go on: a full disk still lets relying parties fetch status lists, look
/// up signatures, read the log key and the documentation (a read that cannot be served fails on
/// its own).
pub async fn refuse_while_store_down(
    State(state): State<Arc<ApiState>>,
    request: Request,
    next: Next,
) -> Response {
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if state.store_probe.up() || reads {
        return next.run(request).await;
    }
    ApiError::unavailable(
        "the service cannot record anything right now (its store does not write); try again",
        RETRY_AFTER_SECONDS,
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_down_after_two_failed_probes_in_a_row_and_up_after_one_success() {
        let probe = Probe::new("the store", 2);
        assert!(probe.up(), "a node starts with a store that just migrated");
        probe.observe(Err("full".into()));
        assert!(probe.up(), "one slow or failed commit is not an outage");
        probe.observe(Ok(()));
        probe.observe(Err("full".into()));
        assert!(probe.up(), "failures count only in a row");
        probe.observe(Err("full".into()));
        assert!(!probe.up());
        probe.observe(Err("full".into()));
        assert!(!probe.up());
        probe.observe(Ok(()));
        assert!(probe.up(), "one commit brings the node back");
    }
}
