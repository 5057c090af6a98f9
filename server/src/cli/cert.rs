//! `zp cert`: the life of a certificate.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use super::{Global, cli_actor, print_json};
use crate::http::api::{CertificateView, search_query};
use crate::ids;
use crate::issuer::{Issuer, NewCertificate, NewProduct, RevocationReason};
use crate::store::CertificateDetail;

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Issue a certificate for one year; prints it as JSON with its token.
    Issue(IssueArgs),
    /// Show a certificate as JSON.
    Show { id: String },
    /// Renew for another year (a new token).
    Renew { id: String },
    /// Add products or services (a new token).
    AddProduct {
        id: String,
        /// `NAME` or `NAME=GTIN`; repeat for several.
        #[arg(long = "product", required = true)]
        products: Vec<String>,
    },
    /// Suspend: badges show "suspended" until reinstated.
    Suspend {
        id: String,
        /// Public note shown on the verification page.
        #[arg(long)]
        note: Option<String>,
    },
    /// Lift a suspension.
    Reinstate { id: String },
    /// Revoke for good.
    Revoke {
        id: String,
        /// quality_criteria, not_social_economy, misuse, false_information, entity_request,
        /// entity_dissolved or issued_in_error.
        #[arg(long)]
        reason: String,
        /// Public note shown on the verification page.
        #[arg(long)]
        note: Option<String>,
    },
    /// List or search certificates.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The entity's ID (from `zp entity create`).
    #[arg(long)]
    pub entity: String,
    /// `NAME` or `NAME=GTIN`; repeat for several.
    #[arg(long = "product", required = true)]
    pub products: Vec<String>,
    /// First day of validity, YYYY-MM-DD (default today).
    #[arg(long)]
    pub valid_from: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Search words.
    #[arg(long)]
    pub q: Option<String>,
    /// Only certificates that expire within this many days.
    #[arg(long)]
    pub expiring_within_days: Option<u32>,
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

pub fn parse_products(items: &[String]) -> Vec<NewProduct> {
    items
        .iter()
        .map(|item| match item.rsplit_once('=') {
            Some((name, gtin)) => NewProduct { name: name.to_owned(), gtin: Some(gtin.to_owned()) },
            None => NewProduct { name: item.clone(), gtin: None },
        })
        .collect()
}

fn id(text: &str) -> Result<String> {
    match ids::normalize_certificate_id(text) {
        Some(id) => Ok(id),
        None => bail!("{text:?} is not a certificate ID (8 characters of Crockford base32)"),
    }
}

fn show(issuer: &Issuer, detail: CertificateDetail, now: i64) -> Result<()> {
    print_json(&CertificateView::new(detail, issuer, now))
}

pub async fn run(global: &Global, command: CertCommand) -> Result<()> {
    let issuer = global.open(None).await?;
    let now = global.clock().now();
    let actor = cli_actor();
    match command {
        CertCommand::Issue(args) => {
            let input = NewCertificate {
                entity_id: args.entity,
                products: parse_products(&args.products),
                valid_from: args.valid_from,
            };
            show(&issuer, issuer.issue(&actor, input, now).await?, now)
        }
        CertCommand::Show { id: text } => show(&issuer, issuer.detail(&id(&text)?).await?, now),
        CertCommand::Renew { id: text } => show(&issuer, issuer.renew(&actor, &id(&text)?, now).await?, now),
        CertCommand::AddProduct { id: text, products } => {
            let detail = issuer.add_products(&actor, &id(&text)?, &parse_products(&products), now).await?;
            show(&issuer, detail, now)
        }
        CertCommand::Suspend { id: text, note } => {
            show(&issuer, issuer.suspend(&actor, &id(&text)?, note, now).await?, now)
        }
        CertCommand::Reinstate { id: text } => {
            show(&issuer, issuer.reinstate(&actor, &id(&text)?, now).await?, now)
        }
        CertCommand::Revoke { id: text, reason, note } => {
            let Some(reason) = RevocationReason::parse(&reason) else {
                bail!(
                    "--reason {reason:?} is not a reason code: use quality_criteria, not_social_economy, misuse, \
                     false_information, entity_request, entity_dissolved or issued_in_error"
                );
            };
            show(&issuer, issuer.revoke(&actor, &id(&text)?, reason, note, now).await?, now)
        }
        CertCommand::List(args) => {
            let mut query = search_query(args.q.as_deref(), Some(args.limit.clamp(1, 100)), None)
                .map_err(|err| anyhow::anyhow!(err.message))?;
            if let Some(days) = args.expiring_within_days {
                query.ending = Some((now, now + i64::from(days) * 86_400));
            }
            let found = issuer.store.search(&query).await?;
            let views: Vec<CertificateView> =
                found.into_iter().map(|d| CertificateView::new(d, &issuer, now)).collect();
            print_json(&views)
        }
    }
}
