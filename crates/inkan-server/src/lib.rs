//! The Inkan service.
//!
//! Folders follow the path a request takes (see ARCHITECTURE.md). So far: [`keys`] (the key
//! registry: device and store together), [`store`] (what Inkan remembers), [`config`],
//! [`environment`] and [`clock`].

pub mod clock;
pub mod config;
pub mod environment;
pub mod keys;
pub mod store;
