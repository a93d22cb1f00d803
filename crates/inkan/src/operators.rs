//! `inkan operators`: the host's part in managing operators (criteria 2.1.3(14), 2.3.3). `add`
//! creates an operator account with its role and prints its one-time activation code (the
//! operator activates from the terminal it will work from, which registers that terminal);
//! `list` shows operators, roles and terminals. The first admin (while no operator has a
//! terminal in use) is added by the host alone (logged with the host user as the actor); every other operator needs an approved
//! `operator.add` request naming the username and role (criteria 2.1.3(12)), and is logged as
//! added by the operator who asked. Role changes and further terminals go through dual
//! control (`/v1/approvals`) too.
//!
//! Must never: print a code anywhere but this command's standard output.

use clap::{Args, Subcommand};
use inkan_server::auth::Auth;
use inkan_server::auth::operators::OperatorRole;
use inkan_server::clock::SystemClock;
use inkan_server::config::Config;
use inkan_server::operations::Action;
use inkan_server::service::{Service, host_operator};
use std::sync::Arc;

/// `inkan operators …`
#[derive(Debug, Args)]
pub struct OperatorsArgs {
    #[command(subcommand)]
    command: OperatorsCommand,
}

#[derive(Debug, Subcommand)]
enum OperatorsCommand {
    /// Create an operator with a role; prints its one-time activation code.
    Add {
        /// The login name.
        username: String,
        /// admin, ra_officer, key_officer or auditor.
        #[arg(long, value_parser = parse_role)]
        role: OperatorRole,
        /// The approved `operator.add` request for this username and role (dual control; not
        /// needed for the first admin).
        #[arg(long)]
        approval: Option<String>,
    },
    /// List operators, their roles and terminals.
    List,
}

fn parse_role(s: &str) -> Result<OperatorRole, String> {
    OperatorRole::parse(s)
        .ok_or_else(|| format!("unknown role {s:?} (admin, ra_officer, key_officer or auditor)"))
}

pub async fn run(config: &Config, service: &Service, args: OperatorsArgs) -> Result<(), String> {
    let seal = Auth::sealing_key(&config.server.secrets_key_file).map_err(|e| e.to_string())?;
    let auth = Auth::new(
        service.store.clone(),
        service.log.clone(),
        Arc::new(SystemClock),
        config.auth.clone(),
        config.environment,
        seal,
        config.server.public_url(),
    );
    let actor = host_operator(&crate::keys::host_user());
    match args.command {
        OperatorsCommand::Add {
            username,
            role,
            approval,
        } => {
            // The first admin: while no operator has ever acted (no terminal was ever
            // registered: a new deployment, or operators migrated without one), nobody could
            // ask or approve. Revoked terminals still count: an admin who revokes every
            // terminal does not bring this state back (criteria 2.1.3(12)).
            let first_admin = role == OperatorRole::Admin
                && service
                    .store
                    .terminals()
                    .await
                    .map_err(|e| e.to_string())?
                    .is_empty();
            let actor = if first_admin && approval.is_none() {
                actor.clone()
            } else {
                let asked = Action::AddOperator {
                    username: username.clone(),
                    role,
                    reason: String::new(),
                };
                crate::approval::authorise(
                    config,
                    service,
                    asked.name(),
                    Some(&asked.summary()),
                    approval.as_deref(),
                )
                .await?
            };
            let created = auth
                .create_operator(actor.clone(), &username, role)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "operator {:?} ({}), role {role}: one-time activation code {} (expires {}; \
                 shown only now; activate from the operator's terminal)",
                created.username,
                created.account_id,
                created.activation_code.as_str(),
                inkan_formats::jose::format_rfc3339(created.expires_at / 1000),
            );
        }
        OperatorsCommand::List => {
            for op in auth
                .operators_on_host(&actor)
                .await
                .map_err(|e| e.to_string())?
            {
                let role = op.role.map_or("none", |r| r.as_str());
                println!("{} {} {role} {}", op.account_id, op.username, op.state);
                for t in &op.terminals {
                    let state = if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    };
                    println!("  terminal {} {:?} {state}", t.thumbprint, t.name);
                }
            }
        }
    }
    Ok(())
}
