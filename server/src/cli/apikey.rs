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
}

pub async fn run(global: &Global, command: ApiKeyCommand) -> Result<()> {
    let issuer = global.open(None).await?;
    match command {
        ApiKeyCommand::Create { name } => {
            let (record, secret) = issuer.create_api_key(&cli_actor(), &name, global.clock().now()).await?;
            print_json(&serde_json::json!({ "id": record.id, "name": record.name, "key": secret }))
        }
    }
}
