//! `zp api-key`: keys for the admin API.

use anyhow::Result;
use clap::Subcommand;

use super::{Global, cli_actor, print_json};

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Create an admin API key. The key is printed once; only its hash is stored.
    Create {
        /// Who or what will use it, e.g. "panel" or "anna.kowalska".
        #[arg(long)]
        name: String,
    },
    /// List the keys (names and dates; the keys themselves are never stored).
    List,
    /// Revoke a key at once, e.g. when it has leaked.
    Revoke {
        /// The key's ID, as `list` shows it.
        id: String,
    },
}

pub async fn run(global: &Global, command: ApiKeyCommand) -> Result<()> {
    let issuer = global.open(None).await?;
    match command {
        ApiKeyCommand::Create { name } => {
            let (record, secret) = issuer.create_api_key(&cli_actor(), &name, global.clock().now()).await?;
            print_json(&serde_json::json!({ "id": record.id, "name": record.name, "key": secret }))
        }
        ApiKeyCommand::List => {
            let keys: Vec<serde_json::Value> = issuer
                .store
                .api_keys()
                .await?
                .into_iter()
                .map(|k| {
                    serde_json::json!({
                        "id": k.id, "name": k.name, "created_at": k.created_at, "revoked_at": k.revoked_at,
                    })
                })
                .collect();
            print_json(&keys)
        }
        ApiKeyCommand::Revoke { id } => {
            issuer.revoke_api_key(&cli_actor(), &id, global.clock().now()).await?;
            print_json(&serde_json::json!({ "id": id.trim(), "revoked": true }))
        }
    }
}
