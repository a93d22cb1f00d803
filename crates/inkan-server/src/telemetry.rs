//! The metrics an operator scrapes (issue 19 point 3; criteria 2.1.3(6)–(9)): every name, its
//! type and its HELP text are here, with one small function per thing measured, so each name
//! is written once and the code that measures says only what happened.
//!
//! Served as Prometheus text by `/metrics` on the operators' listener (`[server]
//! metrics_listen`), never on the public one. Counters and histograms move where things happen
//! (the signing module, the log writer, the status checker, the status monitor, logins);
//! gauges of state shared by every node (the log's size, its newest checkpoint, the delivery
//! backlog) are read when scraped ([`refresh`], each read bounded in time). Whether the device
//! answers is found by one background probe ([`probe_device`]), never by a request: `/ready` and
//! `/metrics` read its last answer. Histograms have buckets, so quantiles can be aggregated
//! across nodes; the same task keeps the exporter's buffers drained when nobody scrapes.
//! Failure counters start at zero, so the first failure is an increase an alert sees.
//! `docs/monitoring/` holds a Grafana dashboard and the alert rules over these names.
//!
//! Must never: put a subscriber's data, a key's id, a digest or anything secret in a label
//! (labels are fixed words: formats, outcomes, device kinds, algorithms, source kinds).

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// HTTP requests, by route, method and status (`api::record_metrics`).
pub const HTTP_REQUESTS: &str = "inkan_http_requests_total";
/// Their duration.
pub const HTTP_DURATION: &str = "inkan_http_request_duration_seconds";
/// Signatures made or refused by the signing module.
const SIGNATURES: &str = "inkan_signatures_total";
/// The device's signing time.
const DEVICE_SIGN: &str = "inkan_device_sign_seconds";
/// Whether the device answered when last asked.
const DEVICE_UP: &str = "inkan_device_up";
/// Whether the store committed the last write probes (`health::probe_store`).
const STORE_UP: &str = "inkan_store_up";
/// Log entries appended.
const LOG_APPENDS: &str = "inkan_log_appends_total";
/// Entries per committed batch.
const LOG_BATCH: &str = "inkan_log_batch_entries";
/// Batches that failed.
const LOG_BATCH_FAILURES: &str = "inkan_log_batch_failures_total";
/// Batches refused because the stored tree no longer gave its root.
const LOG_VERIFICATION_FAILURES: &str = "inkan_log_verification_failures_total";
/// The log's size.
const LOG_SIZE: &str = "inkan_log_entries";
/// The newest checkpoint's size.
const CHECKPOINT_SIZE: &str = "inkan_log_checkpoint_entries";
/// When the newest checkpoint was made.
const CHECKPOINT_TIME: &str = "inkan_log_checkpoint_timestamp_seconds";
/// The configured longest wait for a checkpoint.
const CHECKPOINT_INTERVAL: &str = "inkan_log_checkpoint_interval_seconds";
/// Logins, by outcome.
const LOGINS: &str = "inkan_logins_total";
/// Status checks at signing and by the monitor.
const STATUS_CHECKS: &str = "inkan_status_checks_total";
/// Rounds of the status monitor.
const MONITOR_ROUNDS: &str = "inkan_status_monitor_rounds_total";
/// When the status monitor last finished a round.
const MONITOR_LAST: &str = "inkan_status_monitor_last_round_timestamp_seconds";
/// Deliveries waiting.
const DELIVERY_BACKLOG: &str = "inkan_delivery_backlog";

/// Time buckets, seconds: from a soft-token signature (tens of microseconds) to a slow HSM or
/// request (seconds).
const SECONDS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    5.0,
];
/// Batch size buckets, entries.
const ENTRIES: [f64; 10] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// The exporter with this module's buckets, and every metric described.
pub fn builder() -> PrometheusBuilder {
    let builder = PrometheusBuilder::new()
        .set_buckets(&SECONDS)
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(LOG_BATCH.into()), &ENTRIES));
    match builder {
        Ok(builder) => builder,
        // Only an empty bucket list is refused; these are constants.
        Err(e) => {
            tracing::error!(error = %e, "metric buckets refused; histograms become summaries");
            PrometheusBuilder::new()
        }
    }
}

/// Gives every metric its HELP text (once the recorder is installed).
pub fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests answered, by route, method and status"
    );
    describe_histogram!(
        HTTP_DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by route, method and status"
    );
    describe_counter!(
        SIGNATURES,
        "Signatures by the signing module, by format (the document type signed), outcome \
         (made; refused: not allowed; failed: the device, store or log failed) and device kind"
    );
    describe_histogram!(
        DEVICE_SIGN,
        metrics::Unit::Seconds,
        "Time the crypto device took to sign one request's inputs, by device kind and algorithm"
    );
    describe_gauge!(
        DEVICE_UP,
        "1 when the crypto device answered the last readiness or metrics probe, else 0"
    );
    describe_gauge!(
        STORE_UP,
        "1 when the store committed this node's last write probes, else 0 (requests are refused)"
    );
    describe_counter!(LOG_APPENDS, "Transparency log entries committed");
    describe_histogram!(LOG_BATCH, "Entries per committed transparency log batch");
    describe_counter!(
        LOG_BATCH_FAILURES,
        "Transparency log batches that failed (every append of them failed)"
    );
    describe_counter!(
        LOG_VERIFICATION_FAILURES,
        "Transparency log batches refused because what they read back from the store was \
         inconsistent (the stored tree did not give the root computed for it, or a stored value \
         was malformed)"
    );
    describe_gauge!(LOG_SIZE, "Entries in the transparency log");
    describe_gauge!(
        CHECKPOINT_SIZE,
        "Entries covered by the newest signed checkpoint"
    );
    describe_gauge!(
        CHECKPOINT_TIME,
        "When the newest signed checkpoint was made (Unix seconds)"
    );
    describe_gauge!(
        CHECKPOINT_INTERVAL,
        "The longest a new entry waits for a checkpoint ([log] checkpoint_every_seconds)"
    );
    describe_counter!(
        LOGINS,
        "Logins and sign-ins (API and pages) recorded in the log, by outcome"
    );
    describe_counter!(
        STATUS_CHECKS,
        "Status checks of a key's status source, by source kind and result"
    );
    describe_counter!(
        MONITOR_ROUNDS,
        "Rounds of the key status monitor, by outcome (failed: a check or a record failed)"
    );
    describe_gauge!(
        MONITOR_LAST,
        "When the key status monitor last finished a round (Unix seconds)"
    );
    describe_gauge!(
        DELIVERY_BACKLOG,
        "Deliveries to subscribers' destinations still pending"
    );
    // Present from the start, so that a first failure is an increase (`increase()` does not
    // count the first sample of a series).
    counter!(LOG_BATCH_FAILURES).absolute(0);
    counter!(LOG_VERIFICATION_FAILURES).absolute(0);
    for outcome in ["ok", "failed"] {
        counter!(MONITOR_ROUNDS, "outcome" => outcome).absolute(0);
    }
}

/// `n` signatures of `format` with `outcome` on a device of `device`: `made`, `refused` (the
/// request was not allowed) or `failed` (the device, the store or the log failed).
pub fn signatures(format: &str, outcome: &'static str, device: &'static str, n: usize) {
    counter!(SIGNATURES, "format" => format.to_owned(), "outcome" => outcome, "device" => device)
        .increment(n as u64);
}

/// The device signed (or failed to) in `seconds`.
pub fn device_signed(device: &'static str, algorithm: &'static str, seconds: f64) {
    histogram!(DEVICE_SIGN, "device" => device, "algorithm" => algorithm).record(seconds);
}

/// How often the device is probed.
const PROBE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// How long one probe may take.
const PROBE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The device's probe: down after three failed probes in a row, so that one slow answer under
/// load does not take every node out of service.
pub fn device_probe() -> crate::health::Probe {
    crate::health::Probe::new("the crypto device (the log key)", 3)
}

/// Probes `device` (does it still hold `handle`, the log key?) every ten seconds until the
/// task is aborted, one probe at a time, each bounded in time, and drains `exposition`'s
/// buffers on the same tick.
pub async fn probe_device(
    probe: std::sync::Arc<crate::health::Probe>,
    device: crate::device::Device,
    handle: inkan_device::KeyHandle,
    exposition: metrics_exporter_prometheus::PrometheusHandle,
) {
    let mut tick = tokio::time::interval(PROBE_EVERY);
    loop {
        tick.tick().await;
        exposition.run_upkeep();
        let (device, handle) = (device.clone(), handle.clone());
        let asked = tokio::task::spawn_blocking(move || device.answers_with(&handle));
        // A probe that outlives its time is left to finish; the next waits for it.
        let outcome = match tokio::time::timeout(PROBE_WITHIN, asked).await {
            Ok(Ok(Ok(true))) => Ok(()),
            Ok(Ok(Ok(false))) => Err("the log key is not there".to_owned()),
            Ok(Ok(Err(error))) => Err(error.to_string()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {PROBE_WITHIN:?}")),
        };
        let up = probe.observe(outcome);
        gauge!(DEVICE_UP).set(if up { 1.0 } else { 0.0 });
    }
}

/// Whether the store counts as able to write (`health::probe_store`).
pub fn store_up(up: bool) {
    gauge!(STORE_UP).set(if up { 1.0 } else { 0.0 });
}

/// A log batch of `entries` committed.
pub fn log_batch(entries: usize) {
    counter!(LOG_APPENDS).increment(entries as u64);
    histogram!(LOG_BATCH).record(entries as f64);
}

/// A log batch failed; `corrupt` when its stored tree did not verify.
pub fn log_batch_failed(corrupt: bool) {
    counter!(LOG_BATCH_FAILURES).increment(1);
    if corrupt {
        counter!(LOG_VERIFICATION_FAILURES).increment(1);
    }
}

/// A login recorded with `succeeded` or not.
pub fn login(succeeded: bool) {
    let outcome = if succeeded { "succeeded" } else { "failed" };
    counter!(LOGINS, "outcome" => outcome).increment(1);
}

/// A status check of a `source` kind answered `result`.
pub fn status_check(source: &'static str, result: &'static str) {
    counter!(STATUS_CHECKS, "source" => source, "result" => result).increment(1);
}

/// A status monitor round finished at `at` (Unix milliseconds); `failed` if any part failed.
pub fn monitor_round(failed: bool, at: i64) {
    let outcome = if failed { "failed" } else { "ok" };
    counter!(MONITOR_ROUNDS, "outcome" => outcome).increment(1);
    gauge!(MONITOR_LAST).set(at as f64 / 1000.0);
}

/// How long one store read of a scrape may take.
const READ_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// `read`, within [`READ_WITHIN`].
async fn bounded<T, E: std::fmt::Display>(
    read: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(READ_WITHIN, read).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("it took too long".to_owned()),
    }
}

/// Reads the gauges every node shares (the log, its newest checkpoint, the delivery backlog),
/// before a scrape, each read bounded in time. A failed or slow read leaves its gauge as it
/// was (and is logged).
pub async fn refresh(state: &crate::api::ApiState) {
    let store = &state.service.store;
    let within = |what: &'static str| move |e: String| tracing::warn!(error = %e, "metrics: {what} could not be read");
    match bounded(store.log_head()).await {
        Ok(head) => gauge!(LOG_SIZE).set(head.size as f64),
        Err(e) => within("the log's size")(e),
    }
    match bounded(store.latest_checkpoint()).await {
        Ok(Some(checkpoint)) => {
            gauge!(CHECKPOINT_SIZE).set(checkpoint.size as f64);
            gauge!(CHECKPOINT_TIME).set(checkpoint.created_at as f64 / 1000.0);
        }
        Ok(None) => {}
        Err(e) => within("the newest checkpoint")(e),
    }
    match bounded(store.pending_deliveries()).await {
        Ok(pending) => gauge!(DELIVERY_BACKLOG).set(pending as f64),
        Err(e) => within("the delivery backlog")(e),
    }
}

/// The configured checkpoint interval (set once at start).
pub fn checkpoint_interval(seconds: u64) {
    gauge!(CHECKPOINT_INTERVAL).set(seconds as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every metric this module defines.
    const ALL: [&str; 20] = [
        HTTP_REQUESTS,
        HTTP_DURATION,
        SIGNATURES,
        DEVICE_SIGN,
        DEVICE_UP,
        STORE_UP,
        LOG_APPENDS,
        LOG_BATCH,
        LOG_BATCH_FAILURES,
        LOG_VERIFICATION_FAILURES,
        LOG_SIZE,
        CHECKPOINT_SIZE,
        CHECKPOINT_TIME,
        CHECKPOINT_INTERVAL,
        LOGINS,
        STATUS_CHECKS,
        MONITOR_ROUNDS,
        MONITOR_LAST,
        DELIVERY_BACKLOG,
        "up",
    ];

    /// The names in a text: every `inkan_…` identifier.
    fn names(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find("inkan_") {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            found.push(tail[..end].to_owned());
            rest = &tail[end..];
        }
        found
    }

    /// The Grafana dashboard and the alert rules in `docs/monitoring/` use only metrics Inkan
    /// exposes (a histogram's `_bucket`, `_count` and `_sum` included), and the dashboard is
    /// JSON.
    #[test]
    fn the_dashboard_and_the_alerts_name_only_these_metrics() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/monitoring");
        let dashboard = std::fs::read_to_string(format!("{dir}/inkan-dashboard.json")).unwrap();
        let alerts = std::fs::read_to_string(format!("{dir}/alerts.yml")).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
        assert!(parsed["panels"].as_array().is_some_and(|p| p.len() >= 10));
        for text in [&dashboard, &alerts] {
            let used = names(text);
            assert!(used.len() >= 8);
            for name in used {
                let base = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(&name);
                assert!(
                    ALL.contains(&name.as_str()) || ALL.contains(&base),
                    "{name} is not a metric of telemetry.rs"
                );
            }
        }
        for alert in [
            "InkanLogDoesNotVerify",
            "InkanCheckpointStale",
            "InkanStatusMonitorFailing",
            "InkanDeviceDown",
            "InkanDeliveryBacklog",
            "InkanNoCheckpoint",
            "InkanStatusMonitorStopped",
        ] {
            assert!(alerts.contains(&format!("alert: {alert}\n")), "{alert}");
        }
    }
}
