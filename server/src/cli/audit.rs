//! `zp audit`: read and verify the hash-chained audit log.

use anyhow::{Result, bail};
use clap::Subcommand;

use super::{Global, print_json};
use crate::audit::{ChainCheck, ChainVerifier};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every entry's hash and link; exits non-zero at the first broken one.
    Verify,
    /// Print entries as JSON.
    List {
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

pub async fn run(global: &Global, command: AuditCommand) -> Result<()> {
    let store = global.open_store().await?;
    match command {
        AuditCommand::Verify => {
            let mut verifier = ChainVerifier::default();
            let mut after = 0;
            loop {
                let page = store.audit_log(after, 1_000).await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for record in &page {
                    if let Err(ChainCheck::Broken { seq, reason }) = verifier.push(record) {
                        bail!("audit log broken at entry {seq}: {reason}");
                    }
                }
            }
            match verifier.finish() {
                ChainCheck::Valid { entries, head } => {
                    println!("audit log valid: {entries} entries, head {head}");
                    Ok(())
                }
                ChainCheck::Broken { seq, reason } => bail!("audit log broken at entry {seq}: {reason}"),
            }
        }
        AuditCommand::List { after, limit } => {
            print_json(&store.audit_log(after, limit.clamp(1, 10_000)).await?)
        }
    }
}
