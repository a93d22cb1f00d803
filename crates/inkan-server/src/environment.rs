//! The environment a deployment runs in (criteria 2.1.3(15), 2.2.4(4)).
//!
//! Keys, tokens and the log origin carry it, and anything from another environment is
//! refused. The name and its parsing live with the key records, in `inkan_store`.

pub use inkan_store::Environment;
