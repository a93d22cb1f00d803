//! Bounded CPU-heavy work: Argon2 (passwords and PINs) and JSON-LD canonicalisation (verifying
//! credentials) run on tokio's blocking pool, never on the async workers that answer every other
//! request, and a [`Gate`] bounds how many do at once (criteria 2.2.1(2), 2.1.3(12)).
//!
//! A gate lets `running` jobs run and `waiting` more queue for a turn; a job beyond that is
//! refused at once with [`GateError::Busy`] (the HTTP edge answers 503 with `Retry-After`)
//! rather than queued without bound, so a burst cannot take the CPU, the memory Argon2 needs, or
//! the blocking pool's threads. Must never: run a job without holding both permits until it ends
//! (a caller that gives up waiting leaves a started job its permits), or block an async worker.

use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Jobs that may wait for a turn, per job that may run.
pub const WAITING_PER_RUNNING: usize = 4;
/// Most jobs of one gate that may run at once (the configuration refuses more).
pub const MAX_RUNNING: usize = 4096;

/// Why a job did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// As many jobs as the gate allows are running or waiting: try again shortly.
    #[error("the service is busy ({0}); try again shortly")]
    Busy(&'static str),
    /// The job panicked or was cancelled.
    #[error("a blocking task failed: {0}")]
    Failed(String),
}

/// A bound on one kind of blocking work.
#[derive(Debug)]
pub struct Gate {
    what: &'static str,
    admitted: Arc<Semaphore>,
    running: Arc<Semaphore>,
}

impl Gate {
    /// A gate for `what` (named in the refusal) letting `running` jobs run at once (1 to
    /// [`MAX_RUNNING`]) and `waiting` more wait.
    pub fn new(what: &'static str, running: usize, waiting: usize) -> Self {
        let running = running.clamp(1, MAX_RUNNING);
        let waiting = waiting.min(MAX_RUNNING * WAITING_PER_RUNNING);
        Gate {
            what,
            admitted: Arc::new(Semaphore::new(running.saturating_add(waiting))),
            running: Arc::new(Semaphore::new(running)),
        }
    }

    /// A gate letting `running` jobs run (default: one per core) and [`WAITING_PER_RUNNING`]
    /// times as many wait.
    pub fn sized(what: &'static str, running: Option<usize>) -> Self {
        let running = running.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        });
        Gate::new(what, running, running.saturating_mul(WAITING_PER_RUNNING))
    }

    /// Takes a place at once, or `Busy` if the gate is full: a caller that must do something
    /// durable before the work (count an attempt) takes its place first, so a refusal for
    /// being busy leaves nothing behind.
    pub fn admit(&self) -> Result<Place, GateError> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| GateError::Busy(self.what))?;
        Ok(Place {
            what: self.what,
            admitted,
            running: self.running.clone(),
        })
    }

    /// Runs `work` on the blocking pool when its turn comes; `Busy` at once if the gate is
    /// full.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, GateError> {
        self.admit()?.run(work).await
    }
}

/// A place in a [`Gate`]: one job may run with it.
#[derive(Debug)]
pub struct Place {
    what: &'static str,
    admitted: OwnedSemaphorePermit,
    running: Arc<Semaphore>,
}

impl Place {
    /// Waits for a turn, then runs `work` on the blocking pool, holding the place until it ends.
    pub async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, GateError> {
        let running = self
            .running
            .acquire_owned()
            .await
            .map_err(|_| GateError::Busy(self.what))?;
        let admitted = self.admitted;
        tokio::task::spawn_blocking(move || {
            let _permits = (admitted, running);
            work()
        })
        .await
        .map_err(|e| GateError::Failed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[tokio::test(flavor = "current_thread")]
    async fn jobs_beyond_running_and_waiting_are_refused_at_once() {
        let gate = Arc::new(Gate::new("test", 1, 1));
        let (release, hold) = mpsc::channel::<()>();
        let (started_tx, started) = tokio::sync::oneshot::channel();
        // One job runs (blocked until released) …
        let running = tokio::spawn({
            let gate = gate.clone();
            async move {
                gate.run(move || {
                    let _ = started_tx.send(());
                    hold.recv().ok();
                    1
                })
                .await
            }
        });
        started.await.unwrap();
        // … one waits for its turn …
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.run(|| 2).await }
        });
        tokio::task::yield_now().await;
        // … and the next is refused without waiting.
        assert!(matches!(gate.run(|| 3).await, Err(GateError::Busy("test"))));
        release.send(()).unwrap();
        assert_eq!(running.await.unwrap().unwrap(), 1);
        assert_eq!(waiting.await.unwrap().unwrap(), 2);
        // Free again.
        assert_eq!(gate.run(|| 4).await.unwrap(), 4);
    }
}
