//! The environment a deployment runs in (criteria 2.1.3(15), 2.2.4(4)).
//!
//! Keys, tokens and the log origin carry it, and anything from another environment is
//! refused. This module owns only the name and its parsing.

use std::fmt;
use std::str::FromStr;

/// `production`, `staging` or `test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Live keys and real subscribers. The software token is refused here by default.
    Production,
    /// Pre-production.
    Staging,
    /// Development and automated tests.
    Test,
}

impl Environment {
    /// The name used in configuration and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Staging => "staging",
            Environment::Test => "test",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "production" => Ok(Environment::Production),
            "staging" => Ok(Environment::Staging),
            "test" => Ok(Environment::Test),
            other => Err(format!(
                "unknown environment {other:?} (production, staging or test)"
            )),
        }
    }
}
