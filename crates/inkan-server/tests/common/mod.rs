//! What the server's suites share: the test databases (the store's own `databases.rs`, one file
//! for both crates), the server harness, interop runners, a status-list server, certificates.
#![allow(dead_code, unused_macros, clippy::unwrap_used)]

pub mod interop;
pub mod issuing;
pub mod proxy;
pub mod server;
pub mod status_server;
pub mod tls_server;
pub mod webdriver;
pub mod x509;

#[path = "../../../inkan-store/tests/common/databases.rs"]
pub mod databases;

pub use databases::*;
