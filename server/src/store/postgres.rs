//! The PostgreSQL store, for several server replicas on one database.
//!
//! Every write transaction starts by taking one transaction-scoped advisory lock, so writes are
//! serialised across all replicas as SQLite's `BEGIN IMMEDIATE` serialises them in one process:
//! certificate numbers and status-list indexes are allocated from committed data, and each audit
//! entry links to the committed head of the chain. Reads take no lock. Transactions run at READ
//! COMMITTED, so every statement after the lock sees what the previous writer committed.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{FromRow, PgConnection, Postgres, Transaction};

use super::accounts::*;
use super::applications::*;
use super::outbox::*;
use super::rows::*;
use super::shared::*;
use super::*;
use crate::audit;

/// The advisory lock key of the write lock ("zpwrite" in ASCII); it only has to differ from any
/// other application's keys on the same database.
pub(super) const WRITE_LOCK: i64 = 0x007a_7077_7269_7465;

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to a `postgres://` or `postgresql://` URL and brings the schema up to date.
    /// Replicas starting together are safe: the migrator holds a lock of its own.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)?.application_name("zp").options([
            // A writer that stalls (a paused replica, a lost network) must not hold the write lock
            // for ever, nor must the others wait for ever behind it.
            ("idle_in_transaction_session_timeout", "60s"),
            ("lock_timeout", "30s"),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }

    /// The connection pool, for the copy from SQLite (`zp migrate`).
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Takes the write lock, which every replica's writers share.
    async fn begin_write(&self) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(&mut *tx).await?;
        Ok(tx)
    }

    /// No full-text index on PostgreSQL: the terms are always matched with `LIKE`.
    async fn full_text(&self, _query: &SearchQuery) -> StoreResult<Option<FullText>> {
        Ok(None)
    }

    /// The rows of an [`InList`] select: one array parameter, so that the statement is the same
    /// however many values there are.
    async fn fetch_in<O>(conn: &mut PgConnection, list: InList<'_>) -> StoreResult<Vec<O>>
    where
        O: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let sql = format!("{} = ANY($1) {}", list.select, list.order);
        Ok(sqlx::query_as::<_, O>(sqlx::AssertSqlSafe(sql)).bind(list.values).fetch_all(conn).await?)
    }
}

sql_store!(PgStore, PgTx, Postgres, Dialect::Postgres);
accounts_store!(PgStore, PgTx, Dialect::Postgres);
applications_store!(PgStore, PgTx, Dialect::Postgres);
outbox_store!(PgStore, PgTx, Dialect::Postgres);
