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
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use super::rows::*;
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

    /// Entities, products and latest tokens of `rows`, with one query per table however many rows
    /// there are.
    async fn details(&self, rows: Vec<CertificateRow>) -> StoreResult<Vec<CertificateDetail>> {
        let certificates =
            rows.into_iter().map(CertificateRow::into_record).collect::<StoreResult<Vec<_>>>()?;
        if certificates.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = certificates.iter().map(|c| c.id.clone()).collect();
        let mut conn = self.pool.acquire().await?;
        let entities = sqlx::query_as::<_, EntityRow>("SELECT * FROM entities WHERE id = ANY($1)")
            .bind(entity_ids(&certificates))
            .fetch_all(&mut *conn)
            .await?;
        let products = sqlx::query_as::<_, CertificateProductRow>(
            "SELECT certificate_id, name, gtin, added_at FROM products WHERE certificate_id = ANY($1) \
             ORDER BY certificate_id, position",
        )
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        let tokens = sqlx::query_as::<_, TokenRow>(
            "SELECT jti, certificate_id, kid, token, iat, exp FROM tokens WHERE certificate_id = ANY($1) \
             ORDER BY certificate_id, iat DESC, seq DESC",
        )
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?;
        assemble_details(certificates, entities, products, tokens)
    }
}

#[async_trait]
impl Store for PgStore {
    async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(&mut *tx).await?;
        Ok(Box::new(PgTx { tx }))
    }

    async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn entity(&self, id: &str) -> StoreResult<Option<EntityRecord>> {
        sqlx::query_as::<_, EntityRow>("SELECT * FROM entities WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(EntityRow::into_record)
            .transpose()
    }

    async fn entities(&self, limit: u32, offset: u32) -> StoreResult<Vec<EntityRecord>> {
        sqlx::query_as::<_, EntityRow>("SELECT * FROM entities ORDER BY name, id LIMIT $1 OFFSET $2")
            .bind(i64::from(limit))
            .bind(i64::from(offset))
            .fetch_all(&self.pool)
            .await?
            .into_iter()
            .map(EntityRow::into_record)
            .collect()
    }

    /// One connection and two queries for the whole lookup (the certificate with its entity and
    /// newest token, then its products): every lookup on PostgreSQL reads the database, and each
    /// acquire and query is a round trip to it.
    async fn certificate(&self, id: &str) -> StoreResult<Option<CertificateDetail>> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query_as::<_, DetailRow>(sqlx::AssertSqlSafe(detail_sql("$1", "seq")))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let products = sqlx::query_as::<_, ProductRow>(sqlx::AssertSqlSafe(products_sql("$1")))
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
        row.into_detail(products).map(Some)
    }

    async fn search(&self, query: &SearchQuery) -> StoreResult<Vec<CertificateDetail>> {
        // Only fixed SQL text and parameter numbers are assembled; every value is bound.
        let mut sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE TRUE");
        let mut n = 0;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        for _ in &query.terms {
            sql.push_str(&format!(" AND search_text LIKE {} ESCAPE '\\'", param()));
        }
        if query.entity_id.is_some() {
            sql.push_str(&format!(" AND entity_id = {}", param()));
        }
        if query.ending.is_some() {
            sql.push_str(&format!(" AND valid_until >= {} AND valid_until < {}", param(), param()));
        }
        if query.state.is_some() {
            sql.push_str(&format!(" AND state = {}", param()));
        }
        sql.push_str(&format!(" ORDER BY valid_until DESC, id LIMIT {} OFFSET {}", param(), param()));
        let mut select = sqlx::query_as::<_, CertificateRow>(sqlx::AssertSqlSafe(sql));
        for term in &query.terms {
            let escaped = term.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
            select = select.bind(format!("%{escaped}%"));
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
             WHERE p.gtin = $1 ORDER BY (c.state = 'active') DESC, c.valid_until DESC LIMIT 1",
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
            sqlx::query_as::<_, AuditRow>("SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(AuditRow::into_record).collect())
    }

    async fn api_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        Ok(sqlx::query_as::<_, ApiKeyRow>(
            "SELECT id, name, created_at, revoked_at FROM api_keys WHERE hash = $1",
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
        Ok(sqlx::query_scalar("SELECT MAX(exp) FROM tokens WHERE kid = $1")
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
            "SELECT jti, certificate_id, kid, token, iat, exp FROM tokens WHERE jti = $1",
        )
        .bind(jti)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(TokenRow::into_record))
    }
}

/// A write transaction holding the write lock; dropped without `commit`, it rolls back.
struct PgTx {
    tx: Transaction<'static, Postgres>,
}

#[async_trait]
impl Tx for PgTx {
    async fn set_meta(&mut self, key: &str, value: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn entity(&mut self, id: &str) -> StoreResult<Option<EntityRecord>> {
        sqlx::query_as::<_, EntityRow>("SELECT * FROM entities WHERE id = $1")
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
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
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
            "SELECT {CERT_COLUMNS} FROM certificates WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *self.tx)
        .await?
        .map(CertificateRow::into_record)
        .transpose()
    }

    async fn products(&mut self, certificate_id: &str) -> StoreResult<Vec<ProductRecord>> {
        let rows = sqlx::query_as::<_, ProductRow>(
            "SELECT name, gtin, added_at FROM products WHERE certificate_id = $1 ORDER BY position",
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
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM certificates WHERE left(number, length($1)) = $1")
            .bind(prefix)
            .fetch_one(&mut *self.tx)
            .await?)
    }

    async fn insert_certificate(&mut self, c: &CertificateRecord) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO certificates ({CERT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
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
            "UPDATE certificates SET state = $1, valid_from = $2, valid_until = $3, reason = $4, \
             public_note = $5, search_text = $6, updated_at = $7 WHERE id = $8",
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
            "INSERT INTO products (certificate_id, position, name, gtin, added_at) VALUES ($1, $2, $3, $4, $5)",
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
            "INSERT INTO tokens (jti, certificate_id, kid, token, iat, exp) VALUES ($1, $2, $3, $4, $5, $6)",
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
        sqlx::query(
            "INSERT INTO api_keys (id, name, hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5)",
        )
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
        let done = sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
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
            "INSERT INTO trusted_issuers (iss, name, voivodeship, jwks_uri, added_at) VALUES ($1, $2, $3, $4, $5)",
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
        let done = sqlx::query("DELETE FROM trusted_issuers WHERE iss = $1")
            .bind(iss)
            .execute(&mut *self.tx)
            .await?;
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
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
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
