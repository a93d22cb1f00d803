//! The Inkan service.
//!
//! Folders follow the path a request takes (see ARCHITECTURE.md). So far: [`service`]
//! (opening everything from the configuration), [`keys`] (the key registry: device and store
//! together, every change logged), [`log`] (the transparency log service), [`config`],
//! [`environment`] and [`clock`]. What Inkan remembers is the store, in the `inkan-store` crate.

pub mod activation;
pub mod api;
pub mod auth;
pub mod backup;
pub mod blocking;
pub mod client;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod device;
pub mod environment;
pub mod epoch;
pub mod evidence;
pub mod health;
pub mod https_client;
pub mod keys;
pub mod log;
pub mod nodes;
pub mod oauth;
pub mod operations;
pub mod service;
pub mod signing;
pub mod status;
pub mod status_lists;
pub mod telemetry;
