//! `zp migrate --to postgres://…`: moves a SQLite registry into an empty PostgreSQL database, for
//! several replicas. The key directory is not copied: the replicas use it where it is (or a copy
//! of it) as their `--keys-dir`.

use anyhow::{Context, Result, bail};
use clap::Args;

use super::backup::open_sqlite;
use super::{Global, print_json, redact_password};
use crate::store::copy::sqlite_to_postgres;
use crate::store::postgres::PgStore;

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The PostgreSQL database to copy the registry into, `postgres://USER@HOST:PORT/DATABASE`. It
    /// must be empty (a new database); the schema is created in it. Stop the server (or its
    /// admin traffic) first: what is written to SQLite after the copy begins is not carried over.
    #[arg(long, value_name = "POSTGRES_URL")]
    pub to: String,
}

pub async fn run(global: &Global, args: MigrateArgs) -> Result<()> {
    let url = args.to.trim();
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!("--to must be a PostgreSQL URL, postgres://USER@HOST:PORT/DATABASE");
    }
    let from = open_sqlite(global, "zp migrate").await?;
    let to = PgStore::open(url).await.with_context(|| format!("opening {}", redact_password(url)))?;
    let report = sqlite_to_postgres(&from, &to).await?;
    let rows: serde_json::Map<String, serde_json::Value> =
        report.rows.into_iter().map(|(table, n)| (table, n.into())).collect();
    print_json(&serde_json::json!({
        "to": redact_password(url),
        "rows": rows,
        "audit_entries": report.audit_entries,
        "audit_head": report.audit_head,
        "keys_dir": global.keys_dir().display().to_string(),
    }))
}
