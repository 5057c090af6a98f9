//! `zp entity`: register and list social-economy entities.

use anyhow::Result;
use clap::{Args, Subcommand};

use super::{Global, cli_actor, print_json, typed_voivodeship};
use crate::issuer::NewEntity;

#[derive(Debug, Subcommand)]
pub enum EntityCommand {
    /// Register an entity; prints it as JSON with its ID.
    Create(Box<CreateArgs>),
    /// List registered entities as JSON.
    List {
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(long)]
    pub name: String,
    /// social_cooperative, cis, kis, zaz, wtz, foundation, association, non_profit_company,
    /// disabled_cooperative, blind_cooperative or other.
    #[arg(long)]
    pub legal_form: String,
    /// A web domain where the badge will be shown; repeat for several.
    #[arg(long = "domain", required = true)]
    pub domains: Vec<String>,
    #[arg(long)]
    pub nip: Option<String>,
    #[arg(long)]
    pub regon: Option<String>,
    #[arg(long)]
    pub krs: Option<String>,
    #[arg(long)]
    pub city: Option<String>,
    #[arg(long)]
    pub voivodeship: Option<String>,
    #[arg(long)]
    pub contact: Option<String>,
}

pub async fn run(global: &Global, command: EntityCommand) -> Result<()> {
    let issuer = global.open(None).await?;
    match command {
        EntityCommand::Create(args) => {
            let args = *args;
            let input = NewEntity {
                name: args.name,
                legal_form: args.legal_form,
                domains: args.domains,
                nip: args.nip,
                regon: args.regon,
                krs: args.krs,
                city: args.city,
                voivodeship: typed_voivodeship(args.voivodeship),
                contact: args.contact,
            };
            print_json(&issuer.create_entity(&cli_actor(), input, global.clock().now()).await?)
        }
        EntityCommand::List { limit, offset } => {
            print_json(&issuer.store.entities(limit.clamp(1, 10_000), offset).await?)
        }
    }
}
