//! The routes, one file per audience: [`system`] (infrastructure), [`auth`] (getting a
//! session), [`admin`] (operators), [`keys`] (a subscriber's keys).

pub mod admin;
pub mod auth;
pub mod keys;
pub mod system;
