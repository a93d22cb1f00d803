//! The operators' metrics (issue 19 point 3; criteria 2.1.3(6)-(9)), in a test binary of
//! their own: the metrics recorder is one per process, so no other test's signatures move the
//! figures this one reads.
#![allow(clippy::unwrap_used)]

mod common;

use common::Engine;
use common::issuing::{Issuing, credential, issuing_client_with};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The operators' `/metrics` (issue 19 point 3; criteria 2.1.3(6)–(9)): every metric has its
/// HELP and TYPE, histograms have buckets, and the figures move with what happens: a
/// credential issued counts a signature of its format on the soft token, the device's time,
/// the log's batches and size, a login; one the client's grant does not cover counts as
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn operators_metrics_name_what_happened() {
    let Issuing {
        h, mtls, access, ..
    } = issuing_client_with(
        Engine::SqliteFile,
        json!({"operations": ["read", "sign"], "formats": ["vc+jwt"]}),
        "metrics_listen = \"127.0.0.1:0\"",
    )
    .await;
    let operators = format!("http://{}", h.server().metrics_addr.unwrap());
    let scrape = || async {
        reqwest::get(format!("{operators}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // A sample's value: the sum over the series of `name` whose labels contain all of `with`.
    let value = |text: &str, name: &str, with: &[&str]| -> f64 {
        text.lines()
            .filter(|l| {
                l.starts_with(name)
                    && l[name.len()..].starts_with(['{', ' '])
                    && with.iter().all(|w| l.contains(w))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    let before = scrape().await;
    let issue = |options: Value| {
        mtls.post(format!("{}/credentials/issue", h.url))
            .bearer_auth(&access)
            .json(&json!({"credential": credential(), "options": options}))
            .send()
    };
    let issued = issue(json!({"format": "vc+jwt"})).await.unwrap();
    assert_eq!(issued.status(), StatusCode::CREATED);
    let refused = issue(json!({"format": "ldp_vc"})).await.unwrap();
    assert!(refused.status().is_client_error(), "{}", refused.status());
    let after = scrape().await;

    for (kind, name) in [
        ("counter", "inkan_signatures_total"),
        ("histogram", "inkan_device_sign_seconds"),
        ("gauge", "inkan_device_up"),
        ("counter", "inkan_log_appends_total"),
        ("histogram", "inkan_log_batch_entries"),
        ("gauge", "inkan_log_entries"),
        ("gauge", "inkan_log_checkpoint_entries"),
        ("gauge", "inkan_log_checkpoint_timestamp_seconds"),
        ("gauge", "inkan_log_checkpoint_interval_seconds"),
        ("counter", "inkan_logins_total"),
        ("gauge", "inkan_delivery_backlog"),
        ("counter", "inkan_http_requests_total"),
        ("histogram", "inkan_http_request_duration_seconds"),
    ] {
        assert!(
            after.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} is not a {kind}:\n{after}"
        );
        assert!(
            after.contains(&format!("# HELP {name} ")),
            "{name} has no HELP"
        );
    }
    assert!(
        after.contains("inkan_device_sign_seconds_bucket{"),
        "no buckets"
    );
    let moved = |name: &str, with: &[&str]| value(&after, name, with) - value(&before, name, with);
    let made = [
        r#"format="vc+jwt""#,
        r#"outcome="made""#,
        r#"device="soft""#,
    ];
    assert_eq!(moved("inkan_signatures_total", &made), 1.0);
    assert!(moved("inkan_device_sign_seconds_count", &[r#"device="soft""#]) >= 1.0);
    assert!(moved("inkan_log_appends_total", &[]) >= 2.0);
    assert!(moved("inkan_log_entries", &[]) >= 2.0);
    assert_eq!(value(&after, "inkan_device_up", &[]), 1.0);
    assert_eq!(value(&after, "inkan_delivery_backlog", &[]), 0.0);
    assert!(value(&after, "inkan_log_checkpoint_entries", &[]) > 0.0);
    assert!(value(&before, "inkan_logins_total", &[r#"outcome="succeeded""#]) >= 1.0);
    let refused = [
        r#"format="ldp_vc""#,
        r#"outcome="refused""#,
        r#"device="soft""#,
    ];
    assert_eq!(moved("inkan_signatures_total", &refused), 1.0);
    assert_eq!(moved("inkan_signatures_total", &[r#"outcome="made""#]), 1.0);
    h.stop().await;
}
