//! Helpers shared by the integration tests of `inkan-device` (each test file includes this
//! folder with `mod common;`). Test scaffolding only: nothing here is a test by itself, and
//! nothing here may reach outside `target/` (no system tokens, no system configuration).

pub mod softhsm;
