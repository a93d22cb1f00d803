//! Delivery of signed documents to registered destinations (criteria 2.2.3(3)A).
//!
//! Operators register destinations (`https://` URLs) per subscriber. [`Delivery::enqueue`]
//! stores a job with the document sealed (AES-256-GCM under the secrets key, domain
//! `inkan-delivery/v1`, bound to the delivery id). A [`Worker`] on every node, and
//! [`Delivery::run_due_now`] when asked, claims due jobs through the store (a lease under a claim
//! token: of several nodes, one gets each job; a lease that runs out, say on a crash, lets another
//! node take the job over), POSTs
//!
//! ```json
//! {"id": "dlv_…", "type": "vc+jwt", "document": …, "logIndex": 42}
//! ```
//!
//! over HTTPS (TLS 1.3, server certificate chaining to `[delivery] ca_files`, no redirect, no
//! proxy, a timeout) and records the outcome under its claim. A 2xx answer delivers; anything
//! else is retried after `retry_initial_seconds`, doubling up to `retry_max_seconds`, until
//! `max_attempts` attempts have been made, when the job is given up. The document is dropped when
//! the job ends. Each final outcome is appended to the transparency log (`document.delivered`,
//! succeeded or failed with the reason; the document's digest, never its body); every attempt is
//! counted in the store and logged (tracing). Delivery is at least once: a destination may see
//! an id again (a node that died after the POST but before recording it) and should ignore it.
//!
//! Notices about a subscriber's keys ([`Delivery::notify`]: `inkan.key.destroyed` when a key is
//! destroyed on revocation or renewal, criteria 2.2.2(3)) travel the same way, to every
//! destination of the subscriber, with the index of the log entry they report as `logIndex`.
//!
//! Must never: POST anywhere but a registered `https://` destination of the document's
//! subscriber, record an outcome without holding the job's latest claim, or keep a document
//! after its delivery ended.

use super::signature::MessageSigner;
use super::{DeliveryError, acts_for, check_document_type};
use crate::auth::Caller;
use crate::clock::Clock;
use crate::config::DeliveryConfig;
use crate::environment::Environment;
use crate::keys::sha256_digest;
use crate::log::{Event, Recorder};
use inkan_device::sealing::SealingKey;
use inkan_log::entry::{EntryKind, Outcome};
use inkan_store::auth::{SubscriberState, is_id, new_id};
use inkan_store::delivery::{AttemptFailure, DeliveryRecord, DeliveryState, DestinationRecord};
use inkan_store::{Store, StoreError};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Notify, oneshot};
use tokio::task::{JoinHandle, JoinSet};

/// The associated-data domain of documents waiting in the outbox.
pub const SEAL_DOMAIN: &str = "inkan-delivery/v1";

/// The longest destination URL.
pub const MAX_URL: usize = 2048;

/// Jobs one claim takes (attempted concurrently).
const CLAIM_BATCH: u32 = 16;

/// A lease lasts the attempt's timeout plus this, in milliseconds.
const LEASE_MARGIN_MS: i64 = 30_000;

/// Claims one [`Delivery::run_due_now`] makes at most (each up to [`CLAIM_BATCH`] jobs).
const MAX_ROUNDS: usize = 64;

/// The longest failure reason kept and logged, in characters.
const MAX_ERROR: usize = 300;

/// Delivery of signed documents: destinations, the outbox and its attempts.
#[derive(Debug)]
pub struct Delivery {
    store: Arc<dyn Store>,
    /// Registrations and final outcomes go to the log through it.
    recorder: Recorder,
    clock: Arc<dyn Clock>,
    environment: Environment,
    seal: SealingKey,
    http: reqwest::Client,
    /// Signs each POST (RFC 9421) with the delivery key.
    signer: MessageSigner,
    config: DeliveryConfig,
    /// Held while due jobs are processed, so that one process runs one round at a time (the
    /// worker's or [`Delivery::run_due_now`]'s).
    round: Mutex<()>,
    /// Wakes the worker when a job is queued.
    wake: Notify,
}

/// The background worker of one node: see [`Delivery::start_worker`].
#[derive(Debug)]
pub struct Worker {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    grace: Duration,
}

impl Worker {
    /// Stops the worker, letting a round in progress finish (up to the attempt timeout and a
    /// few seconds; then it is cut short and its jobs' leases run out).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(self.grace, &mut task).await.is_err() {
            task.abort();
            tracing::warn!("the delivery worker did not stop in time; cut short");
        }
    }
}

impl Delivery {
    /// Delivery over the service's store, logging outcomes to its log, signing each POST with
    /// `delivery_key` (`KeyRegistry::delivery_key`), sealing documents with the key in
    /// `secrets_key_file`, trusting the destinations' certificates that chain to
    /// `config.ca_files`.
    pub fn new(
        service: &crate::service::Service,
        delivery_key: &inkan_store::KeyRecord,
        secrets_key_file: &Path,
        config: &DeliveryConfig,
    ) -> Result<Self, DeliveryError> {
        let (store, clock, environment) = (
            service.store.clone(),
            service.clock.clone(),
            service.environment,
        );
        let signer = MessageSigner::new(service, delivery_key, clock.clone())
            .map_err(|e| DeliveryError::Internal(format!("the delivery key: {e}")))?;
        let seal = SealingKey::from_key_file(secrets_key_file, SEAL_DOMAIN)
            .map_err(|e| DeliveryError::Internal(format!("the secrets key: {e}")))?;
        let http = crate::https_client::build(
            "[delivery] ca_files",
            &config.ca_files,
            Duration::from_secs(config.timeout_seconds),
        )
        .map_err(DeliveryError::Internal)?;
        Ok(Delivery {
            store,
            recorder: Recorder::new(service.log.clone(), clock.clone(), environment),
            clock,
            environment,
            seal,
            http,
            signer,
            config: config.clone(),
            round: Mutex::new(()),
            wake: Notify::new(),
        })
    }

    // -- Destinations ------------------------------------------------------------------------

    /// Registers `url` as a destination of `subscriber`'s documents (operators only), and logs
    /// it. The URL must be `https://` with a host, without user information or fragment, at
    /// most [`MAX_URL`] characters; it is stored normalised.
    pub async fn register_destination(
        &self,
        operator: &Caller,
        subscriber: &str,
        url: &str,
    ) -> Result<DestinationRecord, DeliveryError> {
        operator
            .require(crate::auth::operators::Permission::Registration)
            .map_err(|e| DeliveryError::Forbidden(e.to_string()))?;
        let url = check_url(url)?;
        let found = if is_id(subscriber, "sub") {
            self.store.get_subscriber(subscriber).await?
        } else {
            None
        };
        let subscriber = match found {
            Some(s) if s.environment == self.environment.as_str() => s,
            _ => {
                return Err(DeliveryError::NotFound(format!(
                    "no subscriber {subscriber}"
                )));
            }
        };
        if subscriber.state != SubscriberState::Active {
            return Err(DeliveryError::Conflict(format!(
                "subscriber {} is {}",
                subscriber.id,
                subscriber.state.as_str()
            )));
        }
        let destination = DestinationRecord {
            id: new_id("dst"),
            subscriber: subscriber.id,
            url,
            created_at: self.clock.now(),
        };
        self.store.insert_destination(&destination).await?;
        let event = Event::new(EntryKind::OperatorAction, operator.actor()).note(format!(
            "delivery destination {} registered for {}",
            destination.id, destination.subscriber
        ));
        self.recorder.record(event, Outcome::Succeeded).await?;
        tracing::info!(destination = %destination.id, subscriber = %destination.subscriber, "delivery destination registered");
        Ok(destination)
    }

    /// The destinations of `subscriber`, for an operator or the subscriber's own callers.
    pub async fn destinations(
        &self,
        caller: &Caller,
        subscriber: &str,
    ) -> Result<Vec<DestinationRecord>, DeliveryError> {
        let not_found = || DeliveryError::NotFound(format!("no subscriber {subscriber}"));
        let operator = caller
            .require(crate::auth::operators::Permission::Read)
            .is_ok();
        if !is_id(subscriber, "sub") || !(operator || acts_for(caller, subscriber)) {
            return Err(not_found());
        }
        if operator {
            match self.store.get_subscriber(subscriber).await? {
                Some(s) if s.environment == self.environment.as_str() => {}
                _ => return Err(not_found()),
            }
        }
        Ok(self.store.list_destinations(subscriber).await?)
    }

    /// The destination `id` of `subscriber`; `NotFound` if unknown or another subscriber's.
    pub async fn destination_of(
        &self,
        subscriber: &str,
        id: &str,
    ) -> Result<DestinationRecord, DeliveryError> {
        let not_found = || DeliveryError::NotFound(format!("no destination {id}"));
        if !is_id(id, "dst") {
            return Err(not_found());
        }
        match self.store.get_destination(id).await? {
            Some(d) if d.subscriber == subscriber => Ok(d),
            _ => Err(not_found()),
        }
    }

    // -- The outbox --------------------------------------------------------------------------

    /// Queues the delivery of `document` (signed, its signature at `signature_log_index`) to
    /// the destination `destination_id` of `subscriber`, due now; returns its id (`dlv_…`). The
    /// worker of this node is woken to attempt it at once.
    pub async fn enqueue(
        &self,
        subscriber: &str,
        destination_id: &str,
        document_type: &str,
        document: &Value,
        signature_log_index: u64,
    ) -> Result<String, DeliveryError> {
        check_document_type(document_type)?;
        let destination = self.destination_of(subscriber, destination_id).await?;
        let bytes = zeroize::Zeroizing::new(
            serde_json::to_vec(document)
                .map_err(|e| DeliveryError::Internal(format!("encoding the document: {e}")))?,
        );
        let id = new_id("dlv");
        let sealed = self
            .seal
            .seal(&id, &bytes)
            .map_err(|e| DeliveryError::Internal(format!("sealing the document: {e}")))?;
        let now = self.clock.now();
        let delivery = DeliveryRecord {
            id: id.clone(),
            subscriber: subscriber.to_owned(),
            destination_id: destination.id,
            document_type: document_type.to_owned(),
            document: Some(sealed),
            document_digest: sha256_digest(&bytes),
            log_index: signature_log_index,
            state: DeliveryState::Pending,
            attempts: 0,
            last_error: None,
            next_attempt_at: now,
            claim: None,
            lease_until: None,
            created_at: now,
            updated_at: now,
            delivered_at: None,
        };
        self.store.insert_delivery(&delivery).await?;
        tracing::info!(delivery = %id, destination = %delivery.destination_id, "delivery queued");
        self.wake.notify_one();
        Ok(id)
    }

    /// Queues `notice` (an event about the subscriber's keys, such as `inkan.key.destroyed`,
    /// whose log entry is at `log_index`) to every destination of `subscriber`; returns the
    /// deliveries' ids (none when it has no destination).
    pub async fn notify(
        &self,
        subscriber: &str,
        notice_type: &str,
        notice: &Value,
        log_index: u64,
    ) -> Result<Vec<String>, DeliveryError> {
        let mut queued = Vec::new();
        for destination in self.store.list_destinations(subscriber).await? {
            queued.push(
                self.enqueue(subscriber, &destination.id, notice_type, notice, log_index)
                    .await?,
            );
        }
        Ok(queued)
    }

    /// The delivery `id`, for its subscriber's users and clients (`NotFound` for anyone else).
    pub async fn status(&self, caller: &Caller, id: &str) -> Result<DeliveryRecord, DeliveryError> {
        let not_found = || DeliveryError::NotFound(format!("no delivery {id}"));
        if !is_id(id, "dlv") {
            return Err(not_found());
        }
        match self.store.get_delivery(id).await? {
            Some(d) if acts_for(caller, &d.subscriber) => Ok(d),
            _ => Err(not_found()),
        }
    }

    /// Attempts every job due now (by the injected clock), waiting first for a round in
    /// progress in this process; returns how many attempts were made. Jobs that fail again are
    /// due later, so this ends.
    pub async fn run_due_now(self: &Arc<Self>) -> Result<usize, DeliveryError> {
        let _round = self.round.lock().await;
        // A deployment restored from a backup signs nothing until the restore is approved:
        // its deliveries wait, unclaimed, instead of using up their attempts.
        if self.signer.sealed() {
            return Ok(0);
        }
        let mut attempts = 0;
        for _ in 0..MAX_ROUNDS {
            let claimed = self
                .store
                .claim_deliveries(self.clock.now(), self.lease_ms(), CLAIM_BATCH)
                .await?;
            if claimed.is_empty() {
                break;
            }
            attempts += claimed.len();
            let mut running = JoinSet::new();
            for job in claimed {
                let this = Arc::clone(self);
                running.spawn(async move { this.attempt(job).await });
            }
            while let Some(done) = running.join_next().await {
                if let Err(e) = done {
                    tracing::error!(error = %e, "a delivery attempt failed inside");
                }
            }
        }
        Ok(attempts)
    }

    /// Starts this node's worker: it runs [`run_due_now`](Self::run_due_now) every
    /// `poll_millis`, and at once when a job is queued here.
    pub fn start_worker(self: &Arc<Self>) -> Worker {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let this = Arc::clone(self);
        let poll = Duration::from_millis(self.config.poll_millis);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    () = tokio::time::sleep(poll) => {}
                    () = this.wake.notified() => {}
                }
                if let Err(e) = this.run_due_now().await {
                    tracing::warn!(error = %e, "a delivery round failed");
                }
            }
        });
        Worker {
            stop,
            task,
            grace: Duration::from_secs(self.config.timeout_seconds + 5),
        }
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.config.timeout_seconds)
            .unwrap_or(i64::MAX / 2_000)
            .saturating_mul(1000)
            .saturating_add(LEASE_MARGIN_MS)
    }

    /// The wait after the `attempts`-th failed attempt: the initial wait, doubled for each
    /// further failure, capped.
    fn retry_delay_ms(&self, attempts: u32) -> i64 {
        let doublings = attempts.saturating_sub(1).min(40);
        let seconds = self
            .config
            .retry_initial_seconds
            .saturating_mul(1u64 << doublings)
            .min(self.config.retry_max_seconds);
        i64::try_from(seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// One attempt of a claimed job, and its outcome recorded under the claim.
    async fn attempt(&self, job: DeliveryRecord) {
        let Some(claim) = job.claim.clone() else {
            return;
        };
        let result = if job.attempts > self.config.max_attempts {
            // Claimed again after a node died during the last allowed attempt.
            Err("the last allowed attempt's outcome is unknown".to_owned())
        } else {
            self.post(&job).await
        };
        let now = self.clock.now();
        match result {
            Ok(()) => match self.store.complete_delivery(&job.id, &claim, now).await {
                Ok(done) => {
                    tracing::info!(delivery = %job.id, attempt = job.attempts, "delivered");
                    self.record(&done, Outcome::Succeeded).await;
                }
                Err(e) => self.unrecorded(&job, &e),
            },
            Err(error) => {
                let error = shorten(error);
                let give_up = job.attempts >= self.config.max_attempts;
                let then = if give_up {
                    AttemptFailure::GiveUp
                } else {
                    AttemptFailure::RetryAt(now.saturating_add(self.retry_delay_ms(job.attempts)))
                };
                match self
                    .store
                    .fail_delivery_attempt(&job.id, &claim, now, &error, then)
                    .await
                {
                    Ok(failed) if give_up => {
                        tracing::warn!(delivery = %job.id, attempt = job.attempts, error = %error, "delivery given up");
                        let reason = format!("given up after {} attempts: {error}", job.attempts);
                        self.record(&failed, Outcome::Failed(reason)).await;
                    }
                    Ok(failed) => tracing::info!(
                        delivery = %job.id,
                        attempt = job.attempts,
                        error = %error,
                        retry_at = failed.next_attempt_at,
                        "delivery attempt failed; will retry"
                    ),
                    Err(e) => self.unrecorded(&job, &e),
                }
            }
        }
    }

    /// POSTs the job's document to its destination: `Ok` on a 2xx answer, else why not.
    async fn post(&self, job: &DeliveryRecord) -> Result<(), String> {
        let destination = self
            .store
            .get_destination(&job.destination_id)
            .await
            .map_err(|e| format!("reading the destination: {e}"))?
            .ok_or_else(|| "the destination is not registered".to_owned())?;
        let sealed = job
            .document
            .as_deref()
            .ok_or_else(|| "the document is not stored".to_owned())?;
        let bytes = self
            .seal
            .open(&job.id, sealed)
            .map_err(|_| "the stored document cannot be opened".to_owned())?;
        let document: Value = serde_json::from_slice(&bytes)
            .map_err(|_| "the stored document is not JSON".to_owned())?;
        let body = json!({
            "id": job.id,
            "type": job.document_type,
            "document": document,
            "logIndex": job.log_index,
        });
        let body = serde_json::to_vec(&body).map_err(|e| format!("encoding the message: {e}"))?;
        // The URI signed is exactly the one requested (parsed once, no fragment).
        let mut target = url::Url::parse(&destination.url)
            .map_err(|_| "the destination's URL does not parse".to_owned())?;
        target.set_fragment(None);
        const JSON: &str = "application/json";
        let signed = self.signer.sign_post(target.as_str(), JSON, &body).await?;
        let response = self
            .http
            .post(target)
            .header(reqwest::header::CONTENT_TYPE, JSON)
            .header("content-digest", signed.content_digest)
            .header("signature-input", signed.signature_input)
            .header("signature", signed.signature)
            .body(body)
            .send()
            .await
            .map_err(describe)?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the destination answered HTTP {}", status.as_u16()))
        }
    }

    /// Appends a final outcome to the transparency log; a failure to do so is logged.
    async fn record(&self, delivery: &DeliveryRecord, outcome: Outcome) {
        let event = Event::new(EntryKind::DocumentDelivered, crate::service::system_actor())
            .digests(vec![delivery.document_digest.clone()])
            .note(format!(
                "delivery {} of {} {} (signature at log index {}) to destination {}, {} attempts",
                delivery.id,
                delivery.subscriber,
                delivery.document_type,
                delivery.log_index,
                delivery.destination_id,
                delivery.attempts
            ));
        if let Err(e) = self.recorder.record(event, outcome).await {
            tracing::error!(delivery = %delivery.id, error = %e, "could not log a delivery's outcome");
        }
    }

    fn unrecorded(&self, job: &DeliveryRecord, error: &StoreError) {
        tracing::error!(
            delivery = %job.id,
            attempt = job.attempts,
            error = %error,
            "could not record a delivery attempt's outcome; the job is retried when its lease ends"
        );
    }
}

/// Checks a destination URL and returns it normalised.
fn check_url(url: &str) -> Result<String, DeliveryError> {
    let refuse = |why: &str| DeliveryError::BadRequest(format!("the destination URL {why}"));
    if url.len() > MAX_URL {
        return Err(refuse("is longer than 2048 characters"));
    }
    let parsed = url::Url::parse(url).map_err(|e| refuse(&format!("is not a URL ({e})")))?;
    if parsed.scheme() != "https" {
        return Err(refuse("must be https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(refuse("has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refuse("must not carry user information"));
    }
    if parsed.fragment().is_some() {
        return Err(refuse("must not have a fragment"));
    }
    let normalised = parsed.as_str();
    if normalised.len() > MAX_URL {
        return Err(refuse("is longer than 2048 characters"));
    }
    Ok(normalised.to_owned())
}

/// Why a request failed, without its URL: the kind and the chain of causes.
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// At most [`MAX_ERROR`] characters of `error`.
fn shorten(error: String) -> String {
    match error.char_indices().nth(MAX_ERROR) {
        Some((at, _)) => format!("{}…", &error[..at]),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_https_urls_are_destinations() {
        assert_eq!(
            check_url("https://receiver.example/inbox?x=1")
                .ok()
                .as_deref(),
            Some("https://receiver.example/inbox?x=1")
        );
        assert_eq!(
            check_url("https://localhost:8443").ok().as_deref(),
            Some("https://localhost:8443/")
        );
        for bad in [
            "http://receiver.example/inbox",
            "http://127.0.0.1:8080/",
            "http://localhost/",
            "ftp://receiver.example/",
            "https://user:pass@receiver.example/",
            "https://receiver.example/#frag",
            "https://",
            "not a url",
            "",
        ] {
            assert!(check_url(bad).is_err(), "{bad} was accepted");
        }
        let long = format!("https://receiver.example/{}", "a".repeat(MAX_URL));
        assert!(check_url(&long).is_err());
    }

    #[test]
    fn long_errors_are_shortened() {
        assert_eq!(shorten("short".into()), "short");
        let long = "é".repeat(MAX_ERROR + 10);
        assert_eq!(shorten(long).chars().count(), MAX_ERROR + 1);
    }
}
