#![allow(clippy::unwrap_used)] // tests fail loudly by design

//! The OpenAPI document fuzzed by an independent tool (issue 20 point 3): schemathesis (PyPI,
//! pinned in `interop/schemathesis/requirements.txt`, installed by `.ci/run`) generates
//! requests for every operation of `/openapi.json` of a running `inkan serve --dev`: its
//! examples, boundary and unexpected values, random ones, and sequences of operations linked by
//! their answers. Four times: as the dev issuer's clerk and as a registration officer (a DPoP
//! proof of their sessions on every request, signed by `interop/schemathesis/dpop_hooks.py`;
//! the officer also at its terminal, its client certificate), as nobody, and as the dev
//! deployment's system client (its certificate on the TLS connection and its
//! certificate-bound token). The check is `not_a_server_error`: no answer may be a 5xx.
//!
//! Must show: 0 failed test cases (no 5xx), no 5xx in the server's log, the process still
//! serving afterwards (no crash), and no error but network errors. A few requests a run see
//! their connection close before an answer, each one the server closed on purpose: a header
//! value HTTP/1.1 forbids (a control character), which hyper answers 400 and closes (RFC 9112
//! allows it); a kept-alive connection closed as idle (the 10 s header timeout) just as the
//! tool reused it; or a refusal sent before a large body was read, after which the connection
//! is not kept. A client still sending sees the close first. The first two are counted in the
//! listener's debug log and printed beside the tool's count.

mod common;

use common::issuing::SystemClient;
use common::{Dev, Launch};
use std::process::Command;

/// Examples per operation and phase: enough for every phase to reach every operation, small
/// enough for CI (about 20 s a run).
const MAX_EXAMPLES: &str = "10";

/// The time budget of one run, seconds (the tool stops generating at it).
const MAX_SECONDS: &str = "45";

/// What one run of the tool reported.
#[derive(Debug, Default)]
struct Run {
    generated: u64,
    failed: u64,
    /// Test cases that ended in an error (each a network error: checked).
    errored: u64,
    /// Operations that answered only 401 or 403.
    refused_operations: u64,
}

/// The number before `word` in `line` ("3611 generated, 3600 passed, 1 errored").
fn count_before(line: &str, word: &str) -> u64 {
    line.split(',')
        .filter_map(|part| part.trim().strip_suffix(word))
        .filter_map(|n| n.trim().parse().ok())
        .next()
        .unwrap_or(0)
}

/// The folder of the tool, its virtual environment and its hooks.
const TOOL_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../interop/schemathesis");

/// One run of the tool on `dev`, with `more` arguments, as the person of `profile` (a DPoP
/// proof of its session on every request, `dpop_hooks.py`) if given.
fn schemathesis(dev: &Dev, profile: Option<&str>, more: &[&str]) -> Run {
    let tool = format!("{TOOL_DIR}/.venv/bin/schemathesis");
    assert!(
        std::path::Path::new(&tool).exists(),
        "{tool} is missing: run `bash .ci/run` once (it installs the interop tools)"
    );
    let url = format!("https://localhost:{}/openapi.json", dev.port);
    let certificate = dev.path("inkan-dev/tls/server.crt");
    let mut command = Command::new(&tool);
    command.args(["run", &url, "--checks", "not_a_server_error"]);
    if let Some(profile) = profile {
        command
            .env("SCHEMATHESIS_HOOKS", "dpop_hooks")
            .env("PYTHONPATH", TOOL_DIR)
            .env("INKAN_DPOP_PROFILE", dev.profile(profile))
            .env("INKAN_DPOP_URL", format!("https://localhost:{}", dev.port))
            // Its own session, not tokens the tool makes up; and never the call that ends it.
            .args(["--generation-with-security-parameters", "false"])
            .args(["--exclude-path", "/csc/v2/auth/revoke"]);
    }
    let out = command
        .args(["--tls-verify", certificate.to_str().unwrap()])
        .args([
            "--max-examples",
            MAX_EXAMPLES,
            "--workers",
            "2",
            "--no-color",
        ])
        // Operations whose schema filters most generated values still run.
        .args(["--suppress-health-check", "all", "--max-time", MAX_SECONDS])
        .args(more)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let summary = text
        .lines()
        .skip_while(|l| l.trim() != "Test cases:")
        .nth(1)
        .unwrap_or_else(|| {
            panic!(
                "no summary from schemathesis:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    // Each operation in the errors' section: its heading (`____ POST /path ____`), then the
    // kind of error.
    let errors: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("=== ERRORS ==="))
        .take_while(|l| !l.contains("=== WARNINGS ===") && !l.contains("=== SUMMARY ==="))
        .collect();
    let kinds: Vec<&str> = errors
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with('_'))
        .filter_map(|(i, _)| {
            errors[i + 1..]
                .iter()
                .find(|l| !l.trim().is_empty())
                .copied()
        })
        .collect();
    let run = Run {
        generated: count_before(summary, "generated"),
        failed: count_before(summary, "failed"),
        errored: count_before(summary, "errored"),
        refused_operations: text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Authentication failed: "))
            .and_then(|rest| rest.split_whitespace().next())
            .map_or(0, |n| n.parse().unwrap()),
    };
    assert!(
        run.failed == 0 && kinds.iter().all(|kind| kind.trim() == "Network Error"),
        "schemathesis found failures, or errors other than network errors: {run:?} \
         {kinds:?}\n{text}"
    );
    run
}

#[test]
fn fuzzing_the_openapi_document_finds_no_server_error() {
    let mut dev = Dev::start_as(
        Launch::Logging("info,inkan_server::api::listener=debug"),
        &[],
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let system = SystemClient::read(&dev);
    let token = runtime
        .block_on(system.connect(dev.port))
        .token()
        .to_owned();
    let client = dev.profile("system").join("client.pem");
    // People first, while the sessions `--dev` opened are fresh (access tokens last 5 min).
    let as_issuer = schemathesis(&dev, Some("issuer"), &[]);
    let terminal = dev.profile("operator").join("client.pem");
    let as_operator = schemathesis(
        &dev,
        Some("operator"),
        &["--request-cert", terminal.to_str().unwrap()],
    );
    let anonymous = schemathesis(&dev, None, &[]);
    let as_client = schemathesis(
        &dev,
        None,
        &[
            "--request-cert",
            client.to_str().unwrap(),
            "-H",
            &format!("Authorization: Bearer {token}"),
            // Its own token, not ones the tool makes up for the security schemes.
            "--generation-with-security-parameters",
            "false",
        ],
    );
    assert!(dev.running(), "the server process ended");
    // The hooks' sessions were accepted: far fewer operations stopped at authentication.
    assert!(
        as_issuer.refused_operations < anonymous.refused_operations / 2,
        "the issuer's DPoP session reached no more than nobody: {as_issuer:?} {anonymous:?}"
    );
    let health = runtime.block_on(async {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(
                    &std::fs::read(dev.path("inkan-dev/tls/server.crt")).unwrap(),
                )
                .unwrap(),
            )
            .build()
            .unwrap()
            .get(format!("https://localhost:{}/health", dev.port))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(health, 200, "serving after the fuzzing");
    let log = dev.server_log();
    let mut ended: std::collections::BTreeMap<&str, usize> = Default::default();
    for line in log
        .lines()
        .filter(|l| l.contains("connection ended with an error"))
    {
        let error = line
            .split("\"error\":\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("?");
        *ended.entry(error).or_default() += 1;
    }
    eprintln!("connections the server ended with an error: {ended:?}");
    // Connections the server closed on purpose: for a header HTTP/1.1 forbids (after a 400),
    // or kept idle past the header timeout (10 s) while the tool's pool held them.
    let closed_by_the_server = (log.matches("invalid HTTP header parsed").count()
        + log.matches("read header from client timeout").count())
        as u64;
    let fives = log.matches("\"status\":5").count();
    eprintln!(
        "schemathesis: as the issuer's clerk (DPoP) {} requests, as a registration officer (DPoP \
         and terminal) {}, anonymous {}, as the system client {}; 0 failed; \
         {} network errors (connections the server closed: {closed_by_the_server} logged for \
         an invalid header or an idle keep-alive, and any after a refusal that left a body \
         unread); {fives} 5xx logged",
        as_issuer.generated,
        as_operator.generated,
        anonymous.generated,
        as_client.generated,
        as_issuer.errored + as_operator.errored + anonymous.errored + as_client.errored,
    );
    assert_eq!(fives, 0, "the server logged a 5xx");
}
