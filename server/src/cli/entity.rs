//! `zp entity`: register, change and list social-economy entities.

use anyhow::Result;
use clap::{Args, Subcommand};

use super::{Global, cli_actor, print_json, typed_voivodeship};
use crate::issuer::NewEntity;

#[derive(Debug, Subcommand)]
pub enum EntityCommand {
    /// Register an entity; prints it as JSON with its ID.
    Create(Box<CreateArgs>),
    /// Replace an entity's details (give all of them, as for `create`) and sign new tokens for
    /// its certificates that are not revoked; prints the entity as JSON.
    Update {
        /// The entity's ID.
        id: String,
        #[command(flatten)]
        args: Box<CreateArgs>,
    },
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
            print_json(&issuer.create_entity(&cli_actor(), args.into_input(), global.clock().now()).await?)
        }
        EntityCommand::Update { id, args } => {
            let entity =
                issuer.update_entity(&cli_actor(), &id, args.into_input(), global.clock().now()).await?;
            print_json(&entity)
        }
        EntityCommand::List { limit, offset } => {
            print_json(&issuer.store.entities(limit.clamp(1, 10_000), offset).await?)
        }
    }
}

impl CreateArgs {
    fn into_input(self) -> NewEntity {
        NewEntity {
            name: self.name,
            legal_form: self.legal_form,
            domains: self.domains,
            nip: self.nip,
            regon: self.regon,
            krs: self.krs,
            city: self.city,
            voivodeship: typed_voivodeship(self.voivodeship),
            contact: self.contact,
        }
    }
}
