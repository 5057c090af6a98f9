//! The SQLite store: one file in the data directory, WAL with `synchronous = FULL` so that an
//! acknowledged write survives a crash or power loss.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use super::rows::*;
use super::*;
use crate::audit;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        Self::connect(options).await
    }

    /// Opens a `sqlite:` URL.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        Self::connect(options).await
    }

    async fn connect(options: SqliteConnectOptions) -> StoreResult<Self> {
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

    /// Entities, products and latest tokens of `rows`, with one query per table however many rows
    /// there are (a result page of the registry is one round of four queries, not one per row).
    async fn details(&self, rows: Vec<CertificateRow>) -> StoreResult<Vec<CertificateDetail>> {
        let certificates =
            rows.into_iter().map(CertificateRow::into_record).collect::<StoreResult<Vec<_>>>()?;
        if certificates.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders = vec!["?"; certificates.len()].join(", ");
        let mut conn = self.pool.acquire().await?;

        let mut entity_ids: Vec<&str> = certificates.iter().map(|c| c.entity_id.as_str()).collect();
        entity_ids.sort_unstable();
        entity_ids.dedup();
        let entity_sql =
            format!("SELECT * FROM entities WHERE id IN ({})", vec!["?"; entity_ids.len()].join(", "));
        let mut select = sqlx::query_as::<_, EntityRow>(sqlx::AssertSqlSafe(entity_sql));
        for id in &entity_ids {
            select = select.bind(id);
        }
        let entities = select.fetch_all(&mut *conn).await?;

        let product_sql = format!(
            "SELECT certificate_id, name, gtin, added_at FROM products WHERE certificate_id IN ({placeholders}) \
             ORDER BY certificate_id, position"
        );
        let mut select = sqlx::query_as::<_, CertificateProductRow>(sqlx::AssertSqlSafe(product_sql));
        for c in &certificates {
            select = select.bind(&c.id);
        }
        let products = select.fetch_all(&mut *conn).await?;

        let token_sql = format!(
            "SELECT * FROM tokens WHERE certificate_id IN ({placeholders}) \
             ORDER BY certificate_id, iat DESC, rowid DESC"
        );
        let mut select = sqlx::query_as::<_, TokenRow>(sqlx::AssertSqlSafe(token_sql));
        for c in &certificates {
            select = select.bind(&c.id);
        }
        let tokens = select.fetch_all(&mut *conn).await?;
        assemble_details(certificates, entities, products, tokens)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Box::new(SqliteTx { tx }))
    }

    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn entity(&self, id: &str) -> StoreResult<Option<EntityRecord>> {
        sqlx::query_as::<_, EntityRow>("SELECT * FROM entities WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(EntityRow::into_record)
            .transpose()
    }

    async fn entities(&self, limit: u32, offset: u32) -> StoreResult<Vec<EntityRecord>> {
        sqlx::query_as::<_, EntityRow>("SELECT * FROM entities ORDER BY name, id LIMIT ? OFFSET ?")
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(EntityRow::into_record)
            .collect()
    }

    /// One connection and two queries for the whole lookup (the certificate with its entity and
    /// newest token, then its products): each query is a round trip to the connection's worker
    /// thread, and this is what every lookup the read cache cannot answer costs.
    async fn certificate(&self, id: &str) -> StoreResult<Option<CertificateDetail>> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query_as::<_, DetailRow>(sqlx::AssertSqlSafe(detail_sql("?", "rowid")))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let products = sqlx::query_as::<_, ProductRow>(sqlx::AssertSqlSafe(products_sql("?")))
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
        row.into_detail(products).map(Some)
    }

    async fn search(&self, query: &SearchQuery) -> StoreResult<Vec<CertificateDetail>> {
        // Only fixed SQL text is assembled; every value is bound.
        //
        // Two plans. Words that many certificates contain are found fastest by walking the
        // certificates newest-first and stopping at the page's last match (LIKE); a rare word
        // would make that walk read the whole table, so when the trigram index says the words
        // match fewer than RARE certificates, the index supplies them and only those are sorted.
        // A phrase of a term's trigrams is exactly a substring match; terms under three
        // characters have no trigram, so they always take the walk.
        const RARE: i64 = 1_000;
        let phrases = (!query.terms.is_empty() && query.terms.iter().all(|term| term.chars().count() >= 3))
            .then(|| {
                let phrases: Vec<String> =
                    query.terms.iter().map(|term| format!("\"{}\"", term.replace('"', "\"\""))).collect();
                phrases.join(" AND ")
            });
        let indexed = match &phrases {
            Some(phrases) => {
                let matches: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT rowid FROM certificates_search \
                     WHERE certificates_search MATCH ? LIMIT ?)",
                )
                .bind(phrases)
                .bind(RARE)
                .fetch_one(&self.pool)
                .await?;
                matches < RARE
            }
            None => false,
        };
        let mut sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE 1 = 1");
        if indexed {
            sql.push_str(
                " AND rowid IN (SELECT rowid FROM certificates_search WHERE certificates_search MATCH ?)",
            );
        } else {
            for _ in &query.terms {
                sql.push_str(" AND search_text LIKE ? ESCAPE '\\'");
            }
        }
        if query.entity_id.is_some() {
            sql.push_str(" AND entity_id = ?");
        }
        if query.ending.is_some() {
            sql.push_str(" AND valid_until >= ? AND valid_until < ?");
        }
        if query.state.is_some() {
            sql.push_str(" AND state = ?");
        }
        sql.push_str(" ORDER BY valid_until DESC, id LIMIT ? OFFSET ?");
        let mut select = sqlx::query_as::<_, CertificateRow>(sqlx::AssertSqlSafe(sql));
        if let (true, Some(phrases)) = (indexed, &phrases) {
            select = select.bind(phrases.clone());
        } else {
            for term in &query.terms {
                let escaped = term.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                select = select.bind(format!("%{escaped}%"));
            }
        }
        if let Some(entity_id) = &query.entity_id {
            select = select.bind(entity_id.clone());
        }
        if let Some((from, to)) = query.ending {
            select = select.bind(from).bind(to);
        }
        if let Some(state) = query.state {
            select = select.bind(state.as_str());
        }
        let rows =
            select.bind(i64::from(query.limit)).bind(i64::from(query.offset)).fetch_all(&self.pool).await?;
        self.details(rows).await
    }

    async fn certificate_by_gtin(&self, gtin14: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT c.id FROM products p JOIN certificates c ON c.id = p.certificate_id \
             WHERE p.gtin = ? ORDER BY (c.state = 'active') DESC, c.valid_until DESC LIMIT 1",
        )
        .bind(gtin14)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn status_entries(&self) -> StoreResult<Vec<(i64, CertState)>> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT status_idx, state FROM certificates WHERE state <> 'active'")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(|(idx, state)| Ok((idx, CertState::parse(&state)?))).collect()
    }

    async fn max_status_idx(&self) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT MAX(status_idx) FROM certificates").fetch_one(&self.pool).await?)
    }

    async fn audit_head(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log").fetch_one(&self.pool).await?)
    }

    async fn audit_log(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        let rows =
            sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?")
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(AuditRow::into_record).collect())
    }

    async fn api_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        Ok(sqlx::query_as::<_, ApiKeyRow>(
            "SELECT id, name, created_at, revoked_at FROM api_keys WHERE hash = ?",
        )
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?
        .map(ApiKeyRow::into_record))
    }

    async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        Ok(sqlx::query_as::<_, ApiKeyRow>(
            "SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(ApiKeyRow::into_record)
        .collect())
    }

    async fn last_token_exp(&self, kid: &str) -> StoreResult<Option<i64>> {
        Ok(sqlx::query_scalar("SELECT MAX(exp) FROM tokens WHERE kid = ?")
            .bind(kid)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn trusted_issuers(&self) -> StoreResult<Vec<TrustedIssuerRecord>> {
        let rows = sqlx::query_as::<_, TrustedIssuerRow>(TRUSTED_ISSUERS_SQL).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(TrustedIssuerRow::into_record).collect())
    }

    async fn token(&self, jti: &str) -> StoreResult<Option<TokenRecord>> {
        let row = sqlx::query_as::<_, TokenRow>(
            "SELECT jti, certificate_id, kid, token, iat, exp FROM tokens WHERE jti = ?",
        )
        .bind(jti)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(TokenRow::into_record))
    }
}

struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
}

#[async_trait]
impl Tx for SqliteTx {
    async fn set_meta(&mut self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn entity(&mut self, id: &str) -> StoreResult<Option<EntityRecord>> {
        sqlx::query_as::<_, EntityRow>("SELECT * FROM entities WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *self.tx)
            .await?
            .map(EntityRow::into_record)
            .transpose()
    }

    async fn insert_entity(&mut self, e: &EntityRecord) -> StoreResult<()> {
        let domains =
            serde_json::to_string(&e.domains).map_err(|err| StoreError::Corrupt(err.to_string()))?;
        sqlx::query(
            "INSERT INTO entities (id, name, legal_form, nip, regon, krs, city, voivodeship, domains, contact, \
             created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.id)
        .bind(&e.name)
        .bind(&e.legal_form)
        .bind(&e.nip)
        .bind(&e.regon)
        .bind(&e.krs)
        .bind(&e.city)
        .bind(&e.voivodeship)
        .bind(domains)
        .bind(&e.contact)
        .bind(e.created_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|err| conflict(err, "an entity with this NIP"))?;
        Ok(())
    }

    async fn certificate(&mut self, id: &str) -> StoreResult<Option<CertificateRecord>> {
        sqlx::query_as::<_, CertificateRow>(sqlx::AssertSqlSafe(format!(
            "SELECT {CERT_COLUMNS} FROM certificates WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await?
        .map(CertificateRow::into_record)
        .transpose()
    }

    async fn products(&mut self, certificate_id: &str) -> StoreResult<Vec<ProductRecord>> {
        let rows = sqlx::query_as::<_, ProductRow>(
            "SELECT name, gtin, added_at FROM products WHERE certificate_id = ? ORDER BY position",
        )
        .bind(certificate_id)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(products_from(rows))
    }

    async fn next_status_idx(&mut self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COALESCE(MAX(status_idx) + 1, 0) FROM certificates")
            .fetch_one(&mut *self.tx)
            .await?)
    }

    async fn count_numbers(&mut self, prefix: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM certificates WHERE substr(number, 1, length(?)) = ?")
            .bind(prefix)
            .bind(prefix)
            .fetch_one(&mut *self.tx)
            .await?)
    }

    async fn insert_certificate(&mut self, c: &CertificateRecord) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO certificates ({CERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )))
        .bind(&c.id)
        .bind(&c.number)
        .bind(&c.entity_id)
        .bind(c.status_idx)
        .bind(c.state.as_str())
        .bind(c.valid_from)
        .bind(c.valid_until)
        .bind(&c.reason)
        .bind(&c.public_note)
        .bind(&c.search_text)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|err| conflict(err, "a certificate with this ID or number"))?;
        Ok(())
    }

    async fn update_certificate(&mut self, c: &CertificateRecord) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE certificates SET state = ?, valid_from = ?, valid_until = ?, reason = ?, public_note = ?, \
             search_text = ?, updated_at = ? WHERE id = ?",
        )
        .bind(c.state.as_str())
        .bind(c.valid_from)
        .bind(c.valid_until)
        .bind(&c.reason)
        .bind(&c.public_note)
        .bind(&c.search_text)
        .bind(c.updated_at)
        .bind(&c.id)
        .execute(&mut *self.tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Corrupt(format!("certificate {} vanished during an update", c.id)));
        }
        Ok(())
    }

    async fn insert_product(
        &mut self,
        certificate_id: &str,
        position: i64,
        p: &ProductRecord,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO products (certificate_id, position, name, gtin, added_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(certificate_id)
        .bind(position)
        .bind(&p.name)
        .bind(&p.gtin)
        .bind(p.added_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn insert_token(&mut self, t: &TokenRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tokens (jti, certificate_id, kid, token, iat, exp) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&t.jti)
        .bind(&t.certificate_id)
        .bind(&t.kid)
        .bind(&t.token)
        .bind(t.iat)
        .bind(t.exp)
        .execute(&mut *self.tx)
        .await
        .map_err(|err| conflict(err, "a token with this jti"))?;
        Ok(())
    }

    async fn insert_api_key(&mut self, key: &ApiKeyRecord, hash: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO api_keys (id, name, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?)")
            .bind(&key.id)
            .bind(&key.name)
            .bind(hash)
            .bind(key.created_at)
            .bind(key.revoked_at)
            .execute(&mut *self.tx)
            .await
            .map_err(|err| conflict(err, "this API key"))?;
        Ok(())
    }

    async fn revoke_api_key(&mut self, id: &str, at: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
            .bind(at)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn trusted_issuers(&mut self) -> StoreResult<Vec<TrustedIssuerRecord>> {
        let rows =
            sqlx::query_as::<_, TrustedIssuerRow>(TRUSTED_ISSUERS_SQL).fetch_all(&mut *self.tx).await?;
        Ok(rows.into_iter().map(TrustedIssuerRow::into_record).collect())
    }

    async fn insert_trusted_issuer(&mut self, issuer: &TrustedIssuerRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO trusted_issuers (iss, name, voivodeship, jwks_uri, added_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&issuer.iss)
        .bind(&issuer.name)
        .bind(&issuer.voivodeship)
        .bind(&issuer.jwks_uri)
        .bind(issuer.added_at)
        .execute(&mut *self.tx)
        .await
        .map_err(|err| conflict(err, "a trusted issuer with this URL"))?;
        Ok(())
    }

    async fn delete_trusted_issuer(&mut self, iss: &str) -> StoreResult<bool> {
        let done =
            sqlx::query("DELETE FROM trusted_issuers WHERE iss = ?").bind(iss).execute(&mut *self.tx).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn append_audit(&mut self, entry: &AuditEntry) -> StoreResult<AuditRecord> {
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *self.tx)
                .await?;
        let (prev_seq, prev_hash) = last.unwrap_or_else(|| (0, audit::GENESIS.to_owned()));
        let seq = prev_seq + 1;
        let details = entry.details.to_string();
        let hash = audit::entry_hash(&prev_hash, seq, entry, &details);
        sqlx::query(
            "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(seq)
        .bind(entry.at)
        .bind(&entry.actor)
        .bind(&entry.action)
        .bind(&entry.subject)
        .bind(&details)
        .bind(&prev_hash)
        .bind(&hash)
        .execute(&mut *self.tx)
        .await?;
        Ok(AuditRecord {
            seq,
            at: entry.at,
            actor: entry.actor.clone(),
            action: entry.action.clone(),
            subject: entry.subject.clone(),
            details,
            prev_hash,
            hash,
        })
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}
