//! The SQLite store: one file in the data directory, WAL with `synchronous = FULL` so that an
//! acknowledged write survives a crash or power loss.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{FromRow, Sqlite, SqliteConnection, Transaction};

use super::accounts::*;
use super::applications::*;
use super::outbox::*;
use super::rows::*;
use super::shared::*;
use super::*;
use crate::audit;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        Self::connect(SqliteConnectOptions::new().filename(path)).await
    }

    /// Opens a `sqlite:` URL.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        Self::connect(SqliteConnectOptions::from_str(url)?).await
    }

    async fn connect(options: SqliteConnectOptions) -> StoreResult<Self> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        // No ping before handing out a connection: an open SQLite file cannot drop like a
        // server connection can, and the ping is a round trip to the connection's worker thread
        // on every acquire.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }
}

impl SqliteStore {
    /// Writes a consistent copy of the whole database to `to` (which must not exist) with
    /// `VACUUM INTO`: one read transaction, so writers carry on meanwhile and the copy holds
    /// exactly the transactions committed before it began.
    pub async fn snapshot(&self, to: &Path) -> StoreResult<()> {
        let to = to.to_str().ok_or_else(|| StoreError::Corrupt(format!("{} is not UTF-8", to.display())))?;
        sqlx::query("VACUUM INTO ?").bind(to).execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection: the WAL is checkpointed and its files removed.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The connection pool, for the copy into PostgreSQL (`zp migrate`).
    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Takes the write lock at once: SQLite lets one writer at a time, and a transaction that
    /// began reading would fail, not wait, when it then tried to write after another writer.
    async fn begin_write(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// The trigram index's match for the query's terms, when it is the faster plan.
    ///
    /// Two plans. Words that many certificates contain are found fastest by walking the
    /// certificates newest-first and stopping at the page's last match (LIKE); a rare word would
    /// make that walk read the whole table, so when the trigram index says the words match fewer
    /// than RARE certificates, the index supplies them and only those are sorted. A phrase of a
    /// term's trigrams is exactly a substring match; terms under three characters have no
    /// trigram, so they always take the walk.
    async fn full_text(&self, query: &SearchQuery) -> StoreResult<Option<FullText>> {
        const RARE: i64 = 1_000;
        if query.terms.is_empty() || query.terms.iter().any(|term| term.chars().count() < 3) {
            return Ok(None);
        }
        let phrases: Vec<String> =
            query.terms.iter().map(|term| format!("\"{}\"", term.replace('"', "\"\""))).collect();
        let phrases = phrases.join(" AND ");
        let matches: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT rowid FROM certificates_search \
             WHERE certificates_search MATCH ? LIMIT ?)",
        )
        .bind(&phrases)
        .bind(RARE)
        .fetch_one(&self.pool)
        .await?;
        Ok((matches < RARE).then_some(FullText {
            condition: "rowid IN (SELECT rowid FROM certificates_search WHERE certificates_search MATCH ?)",
            value: phrases,
        }))
    }

    /// The rows of an [`InList`] select: a parameter for each value, as SQLite has no arrays.
    async fn fetch_in<O>(conn: &mut SqliteConnection, list: InList<'_>) -> StoreResult<Vec<O>>
    where
        O: for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
    {
        let placeholders = vec!["?"; list.values.len()].join(", ");
        let sql = format!("{} IN ({placeholders}) {}", list.select, list.order);
        let mut query = sqlx::query_as::<_, O>(sqlx::AssertSqlSafe(sql));
        for value in list.values {
            query = query.bind(value);
        }
        Ok(query.fetch_all(conn).await?)
    }
}

sql_store!(SqliteStore, SqliteTx, Sqlite, Dialect::Sqlite);
accounts_store!(SqliteStore, SqliteTx, Dialect::Sqlite);
applications_store!(SqliteStore, SqliteTx, Dialect::Sqlite);
outbox_store!(SqliteStore, SqliteTx, Dialect::Sqlite);
