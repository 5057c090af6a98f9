//! `zp key`: signing keys.

use anyhow::Result;
use clap::Subcommand;

use super::{Global, cli_actor, print_json};

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Start signing with a new key; older keys stay published until their tokens expire.
    Rotate,
    /// Print the published keys (the JWKS).
    List,
}

pub async fn run(global: &Global, command: KeyCommand) -> Result<()> {
    let issuer = global.open(None).await?;
    let now = global.clock().now();
    match command {
        KeyCommand::Rotate => {
            let kid = issuer.rotate_key(&cli_actor(), now).await?;
            print_json(&serde_json::json!({ "kid": kid }))
        }
        KeyCommand::List => print_json(&issuer.jwks(now).await?),
    }
}
