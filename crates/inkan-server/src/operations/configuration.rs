//! Changes of the configuration (criteria 2.1.3(12)): every start compares the configuration's
//! digest with the one the deployment last ran with; a change is logged
//! (`configuration.changed`), and in production it starts only with an approved
//! `config.change` request naming the new digest (`[operations] configuration_approval`),
//! used up once.
//!
//! Must never: start production on a changed configuration without that approval, or let the
//! approval's own id change the digest.

use crate::auth::AuthError;
use crate::config::Config;
use crate::environment::Environment;
use crate::log::Event;
use crate::service::Service;
use inkan_log::entry::{EntryKind, Outcome};
use sha2::{Digest as _, Sha256};

/// The setting that holds the last digest.
const SETTING: &str = "configuration";

/// The configuration's digest: SHA-256 of its settings as parsed (every section, every default
/// made explicit), without `[operations] configuration_approval`.
pub fn digest(config: &Config) -> String {
    let mut config = config.clone();
    config.operations.configuration_approval = None;
    hex::encode(Sha256::digest(format!("{config:?}").as_bytes()))
}

/// Checks the configuration at start (see the module's doc) and records it.
pub async fn check_at_start(service: &Service, config: &Config) -> Result<(), AuthError> {
    let now = service.now();
    let digest = digest(config);
    let last = service.store.setting(SETTING).await?;
    if last.as_ref().map(|(d, _)| d.as_str()) == Some(digest.as_str()) {
        return Ok(());
    }
    let mut approval = None;
    if last.is_some() && service.environment == Environment::Production {
        let Some(id) = config.operations.configuration_approval.as_deref() else {
            return Err(AuthError::Forbidden(format!(
                "the configuration changed (digest {digest}): in production it starts only with \
                 an approved config.change request naming that digest, given as [operations] \
                 configuration_approval"
            )));
        };
        let request =
            super::approvals::use_host_approval(&*service.store, id, "config.change", None, now)
                .await?;
        match &request.action {
            super::Action::ConfigChange {
                digest: approved, ..
            } if *approved == digest => {}
            _ => {
                return Err(AuthError::Forbidden(format!(
                    "request {id} approves another configuration than this one ({digest})"
                )));
            }
        }
        approval = Some(request.id);
    }
    let event = Event::new(
        EntryKind::ConfigurationChanged,
        crate::service::system_actor(),
    )
    .approval(approval.as_deref())
    .note(format!(
        "configuration {digest} (was {})",
        last.as_ref()
            .map_or("none: first start", |(d, _)| d.as_str())
    ));
    service.recorder.record(event, Outcome::Succeeded).await?;
    service.store.set_setting(SETTING, &digest, now).await?;
    Ok(())
}
