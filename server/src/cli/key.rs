//! `zp key`: signing keys.

use anyhow::Result;
use clap::Subcommand;

use super::{Global, cli_actor, print_json};
use crate::keys::Activation;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Publish a new key at once and sign with it once every cached JWKS lists it (300 s later);
    /// older keys stay published until their tokens expire.
    Rotate {
        /// Sign with the new key at once, for a leaked key; keys still waiting to sign are
        /// withdrawn. Purge `/.well-known/jwks.json` from every cache (the CDN) right after.
        #[arg(long)]
        now: bool,
    },
    /// Print the published keys (the JWKS).
    List,
}

pub async fn run(global: &Global, command: KeyCommand) -> Result<()> {
    let issuer = global.open(None).await?;
    let now = global.clock().now();
    match command {
        KeyCommand::Rotate { now: immediate } => {
            let activation = if immediate { Activation::Now } else { Activation::AfterCaches };
            let rotation = issuer.rotate_key(&cli_actor(), activation, now).await?;
            if immediate {
                // At once means by the time the command returns.
                global.clock().wait_until(rotation.active_from).await;
            }
            print_json(&rotation)
        }
        KeyCommand::List => print_json(&issuer.jwks(now).await?),
    }
}
