//! `zp user`: the staff panel's accounts from the command line. The first admin is made here;
//! admins invite everyone else from the panel.

use anyhow::{Result, bail};
use clap::Subcommand;

use super::{Global, cli_actor, print_json};
use crate::accounts::{Accounts, Role};
use crate::store::AccountRecord;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account and print its one-time enrolment link, where the person registers a
    /// passkey (within three days).
    Create {
        /// The person's e-mail address; it is their sign-in name.
        #[arg(long)]
        email: String,
        /// viewer (reads everything), staff (entities and certificates) or admin (also accounts,
        /// API keys, signing keys and the trust list).
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The name the panel and the audit log show; the e-mail's local part when omitted.
        #[arg(long)]
        name: Option<String>,
    },
    /// List the accounts.
    List,
    /// Print a new enrolment link for an account whose person lost every passkey and code.
    Enrol {
        #[arg(long)]
        email: String,
    },
    /// Disable an account: its sessions end at once.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Enable a disabled account again.
    Enable {
        #[arg(long)]
        email: String,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("{text:?} is not a role: use viewer, staff or admin"))
}

pub async fn run(global: &Global, command: UserCommand) -> Result<()> {
    let issuer = global.open(None).await?;
    let accounts = Accounts::new(issuer.store.clone(), &issuer.settings.base_url);
    let now = global.clock().now();
    match command {
        UserCommand::Create { email, role, name } => {
            let invitation = accounts.create(&cli_actor(), &email, name.as_deref(), role, now).await?;
            println!(
                "Enrolment link for {} ({}), valid for three days, usable once:",
                invitation.email,
                role.as_str()
            );
            println!("{}", invitation.enrolment_url);
            Ok(())
        }
        UserCommand::List => {
            let list: Vec<serde_json::Value> = accounts
                .list()
                .await?
                .into_iter()
                .map(|a| {
                    serde_json::json!({
                        "id": a.id, "email": a.email, "name": a.name, "role": a.role,
                        "disabled_at": a.disabled_at, "created_at": a.created_at,
                    })
                })
                .collect();
            print_json(&list)
        }
        UserCommand::Enrol { email } => {
            let account = found(&accounts, &email).await?;
            let invitation = accounts.reenrol(&cli_actor(), &account.id, now).await?;
            println!("Enrolment link for {}, valid for three days, usable once:", invitation.email);
            println!("{}", invitation.enrolment_url);
            Ok(())
        }
        UserCommand::Disable { email } => {
            let account = found(&accounts, &email).await?;
            accounts.set_disabled(&cli_actor(), &account.id, true, now).await?;
            print_json(&serde_json::json!({ "email": account.email, "disabled": true }))
        }
        UserCommand::Enable { email } => {
            let account = found(&accounts, &email).await?;
            accounts.set_disabled(&cli_actor(), &account.id, false, now).await?;
            print_json(&serde_json::json!({ "email": account.email, "disabled": false }))
        }
    }
}

async fn found(accounts: &Accounts, email: &str) -> Result<AccountRecord> {
    match accounts.by_email(email).await? {
        Some(account) => Ok(account),
        None => bail!("no account has the e-mail {:?}", email.trim()),
    }
}
