//! `zp issuers`: the other issuers this issuer vouches for in its signed trust list
//! (`/.well-known/zp-trust-list.jwt`).

use anyhow::{Result, bail};
use clap::Subcommand;
use zp_shared::check_issuer_url;

use super::{Global, cli_actor, print_json, typed_voivodeship};
use crate::store::TrustedIssuerRecord;

#[derive(Debug, Subcommand)]
pub enum IssuersCommand {
    /// Put an issuer on the trust list, e.g.
    /// `zp issuers add https://zp.rops.opole.pl --name "ROPS w Opolu" --voivodeship opolskie`.
    Add {
        /// The issuer's base URL, the `iss` of its tokens: https (http only on loopback), no
        /// trailing slash. Its keys are taken to be at URL/.well-known/jwks.json.
        url: String,
        /// The issuer's name, as badges may show it.
        #[arg(long)]
        name: String,
        /// Its voivodeship, lowercase Polish name, e.g. opolskie.
        #[arg(long)]
        voivodeship: Option<String>,
    },
    /// Take an issuer off the trust list.
    Remove {
        /// The issuer's base URL, as `list` shows it.
        url: String,
    },
    /// List the issuers on the trust list.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(global: &Global, command: IssuersCommand) -> Result<()> {
    // A bad URL is refused before anything is opened, naming what is wrong with it.
    if let IssuersCommand::Add { url, .. } = &command
        && let Err(problem) = check_issuer_url(url.trim())
    {
        bail!("URL: {problem}");
    }
    let issuer = global.open(None).await?;
    let now = global.clock().now();
    match command {
        IssuersCommand::Add { url, name, voivodeship } => {
            let voivodeship = typed_voivodeship(voivodeship);
            print_json(
                &issuer.add_trusted_issuer(&cli_actor(), &url, &name, voivodeship.as_deref(), now).await?,
            )
        }
        IssuersCommand::Remove { url } => {
            issuer.remove_trusted_issuer(&cli_actor(), &url, now).await?;
            print_json(&serde_json::json!({ "url": url.trim(), "removed": true }))
        }
        IssuersCommand::List { json: true } => print_json(&issuer.trusted_issuers().await?),
        IssuersCommand::List { json: false } => {
            print!("{}", table(&issuer.trusted_issuers().await?));
            Ok(())
        }
    }
}

/// The trust list as aligned columns, one issuer a line.
fn table(issuers: &[TrustedIssuerRecord]) -> String {
    if issuers.is_empty() {
        return "The trust list names no other issuer.\n".to_owned();
    }
    let header = ["URL", "NAME", "VOIVODESHIP", "ADDED"];
    let rows: Vec<[String; 4]> = issuers
        .iter()
        .map(|i| {
            [
                i.iss.clone(),
                i.name.clone(),
                i.voivodeship.clone().unwrap_or_else(|| "-".into()),
                crate::issuer::format_date(i.added_at),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for cells in std::iter::once(header.map(str::to_owned)).chain(rows) {
        let line: Vec<String> =
            cells.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let record = |iss: &str, name: &str, voivodeship: Option<&str>| TrustedIssuerRecord {
            iss: iss.into(),
            name: name.into(),
            voivodeship: voivodeship.map(str::to_owned),
            jwks_uri: format!("{iss}/.well-known/jwks.json"),
            added_at: 1_767_225_600,
        };
        let text = table(&[
            record("https://zp.mcps.pl", "MCPS Warszawa", Some("mazowieckie")),
            record("https://zp.rops.opole.pl", "ROPS w Opolu", None),
        ]);
        assert_eq!(
            text,
            "URL                       NAME           VOIVODESHIP  ADDED\n\
             https://zp.mcps.pl        MCPS Warszawa  mazowieckie  2026-01-01\n\
             https://zp.rops.opole.pl  ROPS w Opolu   -            2026-01-01\n"
        );
        assert_eq!(table(&[]), "The trust list names no other issuer.\n");
    }
}
