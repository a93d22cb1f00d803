//! The routes, one file per audience: [`system`] (infrastructure), [`auth`] (getting a
//! session), [`csc`] (CSC API v2: activation and signHash), [`admin`] (operators), [`keys`] (a subscriber's keys), [`vc`] (W3C VC API).

pub mod admin;
pub mod auth;
pub mod csc;
pub mod keys;
pub mod system;
pub mod vc;
