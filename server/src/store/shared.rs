//! What the SQLite and PostgreSQL stores share: every query written once, with `?` for its
//! parameters, and the [`Dialect`] that numbers them (`$1`, `$2`…) for PostgreSQL.
//!
//! The body of both stores is [`sql_store!`], expanded once in each backend module with that
//! backend's database type (as seafowl shares its repository between its two databases): runtime
//! queries bind to one backend's driver, so each expansion is type-checked against its own, and
//! no generic bounds over `sqlx::Database` are needed. Each backend module keeps only what really
//! differs: opening the database, how a write transaction takes the write lock, full-text search,
//! and how a query matches a column against a list of values.

use std::fmt::Write as _;

use sqlx::{AssertSqlSafe, SqlSafeStr, SqlStr};

use super::rows::CERT_COLUMNS;
use super::*;

/// The few ways the two databases spell the same statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// A statement written with `?` parameters, in this dialect.
    pub(super) fn sql(self, text: &'static str) -> SqlStr {
        match self {
            Dialect::Sqlite => text.into_sql_str(),
            Dialect::Postgres => AssertSqlSafe(numbered(text)).into_sql_str(),
        }
    }

    /// A statement assembled at run time from fixed text (never from values), in this dialect.
    pub(super) fn sql_owned(self, text: String) -> SqlStr {
        match self {
            Dialect::Sqlite => AssertSqlSafe(text).into_sql_str(),
            Dialect::Postgres => AssertSqlSafe(numbered(&text)).into_sql_str(),
        }
    }

    /// The column that keeps the order in which tokens were stored: it breaks ties between tokens
    /// signed in the same second. SQLite keeps it in `rowid`, PostgreSQL in a sequence.
    pub(super) fn insertion_order(self) -> &'static str {
        match self {
            Dialect::Sqlite => "rowid",
            Dialect::Postgres => "seq",
        }
    }
}

/// `text` with its `?` parameters numbered `$1`, `$2`… in order; a `?` inside a quoted string or
/// identifier stays as it is.
fn numbered(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut n = 0;
    let mut quote = None;
    for ch in text.chars() {
        match quote {
            // A doubled quote inside a string closes and reopens it, which comes to the same.
            Some(open) if ch == open => quote = None,
            Some(_) => {}
            None if ch == '\'' || ch == '"' => quote = Some(ch),
            None if ch == '?' => {
                n += 1;
                let _ = write!(out, "${n}");
                continue;
            }
            None => {}
        }
        out.push(ch);
    }
    out
}

/// A full-text match a backend uses in place of the terms' `LIKE` patterns: `condition` selects the
/// certificates that match the one parameter `value`.
pub(super) struct FullText {
    pub(super) condition: &'static str,
    pub(super) value: String,
}

/// A select of the rows whose column is one of `values`: `select` ends in the column, the
/// backend adds the condition, and `order` follows it.
pub(super) struct InList<'a> {
    pub(super) select: &'static str,
    pub(super) values: &'a [String],
    pub(super) order: &'a str,
}

/// The select of one page of search results, with `?` for its parameters in the order
/// [`sql_store!`] binds them: the full-text value or the terms' patterns, the entity, the ending
/// range, the state, limit and offset. Only fixed text is assembled; every value is bound.
pub(super) fn search_sql(query: &SearchQuery, full_text: Option<&FullText>) -> String {
    let mut sql = format!("SELECT {CERT_COLUMNS} FROM certificates WHERE 1 = 1");
    match full_text {
        Some(full_text) => {
            sql.push_str(" AND ");
            sql.push_str(full_text.condition);
        }
        None => {
            for _ in &query.terms {
                sql.push_str(" AND search_text LIKE ? ESCAPE '\\'");
            }
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
    sql
}

/// The `LIKE` pattern of a term found anywhere in the search text.
pub(super) fn like_pattern(term: &str) -> String {
    let escaped = term.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// `Store` and `Tx` for `$store`, whose `pool` is a pool of `$db`, and its transaction type `$tx`.
/// The backend module provides, as inherent functions of `$store`:
///
/// - `begin_write(&self) -> StoreResult<Transaction<'static, $db>>`: a transaction that holds the
///   write lock from its first statement;
/// - `full_text(&self, &SearchQuery) -> StoreResult<Option<FullText>>`: a full-text match to use
///   for the query's terms instead of `LIKE`, when the backend has one and it is the faster plan;
/// - `fetch_in::<Row>(conn, InList)`: the rows of an [`InList`] select.
///
/// The body names what the backend module imports: `async_trait`, `crate::audit`, and everything
/// in `store`, `store::rows` and this module. Statements without parameters are the same text in
/// both dialects and go to sqlx as they are.
macro_rules! sql_store {
    ($store:ident, $tx:ident, $db:ty, $dialect:expr) => {
        impl $store {
            /// Entities, products and latest tokens of `rows`, with one query per table however
            /// many rows there are (a result page of the registry is one round of four queries,
            /// not one per row).
            async fn details(&self, rows: Vec<CertificateRow>) -> StoreResult<Vec<CertificateDetail>> {
                let certificates =
                    rows.into_iter().map(CertificateRow::into_record).collect::<StoreResult<Vec<_>>>()?;
                if certificates.is_empty() {
                    return Ok(Vec::new());
                }
                let ids: Vec<String> = certificates.iter().map(|c| c.id.clone()).collect();
                let mut conn = self.pool.acquire().await?;
                let entities = Self::fetch_in::<EntityRow>(
                    &mut *conn,
                    InList {
                        select: "SELECT * FROM entities WHERE id",
                        values: &entity_ids(&certificates),
                        order: "",
                    },
                )
                .await?;
                let products = Self::fetch_in::<CertificateProductRow>(
                    &mut *conn,
                    InList {
                        select: "SELECT certificate_id, name, gtin, added_at FROM products \
                                 WHERE certificate_id",
                        values: &ids,
                        order: "ORDER BY certificate_id, position",
                    },
                )
                .await?;
                let order = format!("ORDER BY certificate_id, iat DESC, {} DESC", $dialect.insertion_order());
                let tokens = Self::fetch_in::<TokenRow>(
                    &mut *conn,
                    InList {
                        select: "SELECT jti, certificate_id, kid, token, iat, exp FROM tokens \
                                 WHERE certificate_id",
                        values: &ids,
                        order: &order,
                    },
                )
                .await?;
                assemble_details(certificates, entities, products, tokens)
            }
        }

        #[async_trait]
        impl Store for $store {
            async fn begin(&self) -> StoreResult<Box<dyn Tx>> {
                let tx = self.begin_write().await?;
                Ok(Box::new($tx { tx }))
            }

            async fn meta(&self, key: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar($dialect.sql("SELECT value FROM meta WHERE key = ?"))
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn entity(&self, id: &str) -> StoreResult<Option<EntityRecord>> {
                sqlx::query_as::<_, EntityRow>($dialect.sql("SELECT * FROM entities WHERE id = ?"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .map(EntityRow::into_record)
                    .transpose()
            }

            async fn entities(&self, limit: u32, offset: u32) -> StoreResult<Vec<EntityRecord>> {
                sqlx::query_as::<_, EntityRow>(
                    $dialect.sql("SELECT * FROM entities ORDER BY name, id LIMIT ? OFFSET ?"),
                )
                .bind(i64::from(limit))
                .bind(i64::from(offset))
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(EntityRow::into_record)
                .collect()
            }

            /// One connection and two queries for the whole lookup (the certificate with its
            /// entity and newest token, then its products): each query is a round trip (to
            /// SQLite's worker thread, or to the PostgreSQL server), and this is what every lookup
            /// the read cache cannot answer costs.
            async fn certificate(&self, id: &str) -> StoreResult<Option<CertificateDetail>> {
                let mut conn = self.pool.acquire().await?;
                let row = sqlx::query_as::<_, DetailRow>(
                    $dialect.sql_owned(detail_sql($dialect.insertion_order())),
                )
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let products = sqlx::query_as::<_, ProductRow>($dialect.sql(PRODUCTS_SQL))
                    .bind(id)
                    .fetch_all(&mut *conn)
                    .await?;
                row.into_detail(products).map(Some)
            }

            async fn search(&self, query: &SearchQuery) -> StoreResult<Vec<CertificateDetail>> {
                let full_text = self.full_text(query).await?;
                let sql = search_sql(query, full_text.as_ref());
                let mut select = sqlx::query_as::<_, CertificateRow>($dialect.sql_owned(sql));
                match full_text {
                    Some(full_text) => select = select.bind(full_text.value),
                    None => {
                        for term in &query.terms {
                            select = select.bind(like_pattern(term));
                        }
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
                let rows = select
                    .bind(i64::from(query.limit))
                    .bind(i64::from(query.offset))
                    .fetch_all(&self.pool)
                    .await?;
                self.details(rows).await
            }

            async fn certificates_after(
                &self,
                after: &str,
                limit: u32,
            ) -> StoreResult<Vec<CertificateDetail>> {
                let rows = sqlx::query_as::<_, CertificateRow>($dialect.sql_owned(format!(
                    "SELECT {CERT_COLUMNS} FROM certificates WHERE id > ? ORDER BY id LIMIT ?"
                )))
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                self.details(rows).await
            }

            async fn certificate_by_gtin(&self, gtin14: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar($dialect.sql(
                    "SELECT c.id FROM products p JOIN certificates c ON c.id = p.certificate_id \
                     WHERE p.gtin = ? ORDER BY (c.state = 'active') DESC, c.valid_until DESC LIMIT 1",
                ))
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

            async fn certificate_counts(&self, now: i64) -> StoreResult<Vec<(String, i64)>> {
                Ok(sqlx::query_as($dialect.sql(
                    "SELECT CASE WHEN state <> 'active' THEN state \
                     WHEN valid_until <= ? THEN 'expired' \
                     WHEN valid_from > ? THEN 'not_yet_valid' ELSE 'valid' END AS verdict, count(*) \
                     FROM certificates GROUP BY verdict ORDER BY verdict",
                ))
                .bind(now)
                .bind(now)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn max_status_idx(&self) -> StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar("SELECT MAX(status_idx) FROM certificates")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn audit_head(&self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_log")
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn audit_log(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
                let rows = sqlx::query_as::<_, AuditRow>(
                    $dialect.sql("SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?"),
                )
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                Ok(rows.into_iter().map(AuditRow::into_record).collect())
            }

            async fn api_key_by_hash(&self, hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
                Ok(sqlx::query_as::<_, ApiKeyRow>(
                    $dialect.sql("SELECT id, name, created_at, revoked_at, account_id FROM api_keys WHERE hash = ?"),
                )
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?
                .map(ApiKeyRow::into_record))
            }

            async fn api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
                Ok(sqlx::query_as::<_, ApiKeyRow>(
                    "SELECT id, name, created_at, revoked_at, account_id FROM api_keys ORDER BY created_at, id",
                )
                .fetch_all(&self.pool)
                .await?
                .into_iter()
                .map(ApiKeyRow::into_record)
                .collect())
            }

            async fn last_token_exp(&self, kid: &str) -> StoreResult<Option<i64>> {
                Ok(sqlx::query_scalar($dialect.sql("SELECT MAX(exp) FROM tokens WHERE kid = ?"))
                    .bind(kid)
                    .fetch_one(&self.pool)
                    .await?)
            }

            async fn trusted_issuers(&self) -> StoreResult<Vec<TrustedIssuerRecord>> {
                let rows =
                    sqlx::query_as::<_, TrustedIssuerRow>(TRUSTED_ISSUERS_SQL).fetch_all(&self.pool).await?;
                Ok(rows.into_iter().map(TrustedIssuerRow::into_record).collect())
            }

            async fn token(&self, jti: &str) -> StoreResult<Option<TokenRecord>> {
                let row = sqlx::query_as::<_, TokenRow>(
                    $dialect
                        .sql("SELECT jti, certificate_id, kid, token, iat, exp FROM tokens WHERE jti = ?"),
                )
                .bind(jti)
                .fetch_optional(&self.pool)
                .await?;
                Ok(row.map(TokenRow::into_record))
            }
        }

        /// A write transaction holding the write lock; dropped without `commit`, it rolls back.
        struct $tx {
            tx: sqlx::Transaction<'static, $db>,
        }

        #[async_trait]
        impl Tx for $tx {
            async fn set_meta(&mut self, key: &str, value: &str) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "INSERT INTO meta (key, value) VALUES (?, ?) \
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                ))
                .bind(key)
                .bind(value)
                .execute(&mut *self.tx)
                .await?;
                Ok(())
            }

            async fn entity(&mut self, id: &str) -> StoreResult<Option<EntityRecord>> {
                sqlx::query_as::<_, EntityRow>($dialect.sql("SELECT * FROM entities WHERE id = ?"))
                    .bind(id)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .map(EntityRow::into_record)
                    .transpose()
            }

            async fn insert_entity(&mut self, e: &EntityRecord) -> StoreResult<()> {
                let domains =
                    serde_json::to_string(&e.domains).map_err(|err| StoreError::Corrupt(err.to_string()))?;
                sqlx::query($dialect.sql(
                    "INSERT INTO entities (id, name, legal_form, nip, regon, krs, city, voivodeship, \
                     domains, contact, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ))
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

            async fn update_entity(&mut self, e: &EntityRecord) -> StoreResult<bool> {
                let domains =
                    serde_json::to_string(&e.domains).map_err(|err| StoreError::Corrupt(err.to_string()))?;
                let done = sqlx::query($dialect.sql(
                    "UPDATE entities SET name = ?, legal_form = ?, nip = ?, regon = ?, krs = ?, city = ?, \
                     voivodeship = ?, domains = ?, contact = ? WHERE id = ?",
                ))
                .bind(&e.name)
                .bind(&e.legal_form)
                .bind(&e.nip)
                .bind(&e.regon)
                .bind(&e.krs)
                .bind(&e.city)
                .bind(&e.voivodeship)
                .bind(domains)
                .bind(&e.contact)
                .bind(&e.id)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "an entity with this NIP"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn entity_by_nip(&mut self, nip: &str) -> StoreResult<Option<EntityRecord>> {
                sqlx::query_as::<_, EntityRow>($dialect.sql("SELECT * FROM entities WHERE nip = ?"))
                    .bind(nip)
                    .fetch_optional(&mut *self.tx)
                    .await?
                    .map(EntityRow::into_record)
                    .transpose()
            }

            async fn certificate(&mut self, id: &str) -> StoreResult<Option<CertificateRecord>> {
                sqlx::query_as::<_, CertificateRow>(
                    $dialect.sql_owned(format!("SELECT {CERT_COLUMNS} FROM certificates WHERE id = ?")),
                )
                .bind(id)
                .fetch_optional(&mut *self.tx)
                .await?
                .map(CertificateRow::into_record)
                .transpose()
            }

            async fn products(&mut self, certificate_id: &str) -> StoreResult<Vec<ProductRecord>> {
                let rows = sqlx::query_as::<_, ProductRow>($dialect.sql(PRODUCTS_SQL))
                    .bind(certificate_id)
                    .fetch_all(&mut *self.tx)
                    .await?;
                Ok(products_from(rows))
            }

            async fn entity_certificates(&mut self, entity_id: &str) -> StoreResult<Vec<CertificateRecord>> {
                sqlx::query_as::<_, CertificateRow>($dialect.sql_owned(format!(
                    "SELECT {CERT_COLUMNS} FROM certificates WHERE entity_id = ? ORDER BY id"
                )))
                .bind(entity_id)
                .fetch_all(&mut *self.tx)
                .await?
                .into_iter()
                .map(CertificateRow::into_record)
                .collect()
            }

            async fn next_status_idx(&mut self) -> StoreResult<i64> {
                Ok(sqlx::query_scalar("SELECT COALESCE(MAX(status_idx) + 1, 0) FROM certificates")
                    .fetch_one(&mut *self.tx)
                    .await?)
            }

            async fn count_numbers(&mut self, prefix: &str) -> StoreResult<i64> {
                Ok(sqlx::query_scalar(
                    $dialect.sql("SELECT COUNT(*) FROM certificates WHERE substr(number, 1, length(?)) = ?"),
                )
                .bind(prefix)
                .bind(prefix)
                .fetch_one(&mut *self.tx)
                .await?)
            }

            async fn certificate_id_by_number(&mut self, number: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar($dialect.sql("SELECT id FROM certificates WHERE number = ?"))
                    .bind(number)
                    .fetch_optional(&mut *self.tx)
                    .await?)
            }

            async fn insert_certificate(&mut self, c: &CertificateRecord) -> StoreResult<()> {
                sqlx::query($dialect.sql_owned(format!(
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
                let done = sqlx::query($dialect.sql(
                    "UPDATE certificates SET state = ?, valid_from = ?, valid_until = ?, reason = ?, \
                     public_note = ?, search_text = ?, updated_at = ? WHERE id = ?",
                ))
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
                    let message = format!("certificate {} vanished during an update", c.id);
                    return Err(StoreError::Corrupt(message));
                }
                Ok(())
            }

            async fn insert_product(
                &mut self,
                certificate_id: &str,
                position: i64,
                p: &ProductRecord,
            ) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "INSERT INTO products (certificate_id, position, name, gtin, added_at) \
                     VALUES (?, ?, ?, ?, ?)",
                ))
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
                sqlx::query($dialect.sql(
                    "INSERT INTO tokens (jti, certificate_id, kid, token, iat, exp) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                ))
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
                sqlx::query($dialect.sql(
                    "INSERT INTO api_keys (id, name, hash, created_at, revoked_at, account_id) VALUES (?, ?, ?, ?, ?, ?)",
                ))
                .bind(&key.id)
                .bind(&key.name)
                .bind(hash)
                .bind(key.created_at)
                .bind(key.revoked_at)
                .bind(&key.account_id)
                .execute(&mut *self.tx)
                .await
                .map_err(|err| conflict(err, "this API key"))?;
                Ok(())
            }

            async fn revoke_api_key(&mut self, id: &str, at: i64) -> StoreResult<bool> {
                let done = sqlx::query(
                    $dialect.sql("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"),
                )
                .bind(at)
                .bind(id)
                .execute(&mut *self.tx)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn trusted_issuers(&mut self) -> StoreResult<Vec<TrustedIssuerRecord>> {
                let rows = sqlx::query_as::<_, TrustedIssuerRow>(TRUSTED_ISSUERS_SQL)
                    .fetch_all(&mut *self.tx)
                    .await?;
                Ok(rows.into_iter().map(TrustedIssuerRow::into_record).collect())
            }

            async fn insert_trusted_issuer(&mut self, issuer: &TrustedIssuerRecord) -> StoreResult<()> {
                sqlx::query($dialect.sql(
                    "INSERT INTO trusted_issuers (iss, name, voivodeship, jwks_uri, added_at) \
                     VALUES (?, ?, ?, ?, ?)",
                ))
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
                let done = sqlx::query($dialect.sql("DELETE FROM trusted_issuers WHERE iss = ?"))
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
                sqlx::query($dialect.sql(
                    "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ))
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
    };
}

pub(super) use sql_store;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_parameters_are_numbered_outside_quotes() {
        assert_eq!(
            numbered(
                "SELECT '?', \"a?\" FROM t WHERE a = ? AND b LIKE ? ESCAPE '\\' AND c = 'it''s?' LIMIT ?"
            ),
            "SELECT '?', \"a?\" FROM t WHERE a = $1 AND b LIKE $2 ESCAPE '\\' AND c = 'it''s?' LIMIT $3"
        );
        assert_eq!(numbered("SELECT 1"), "SELECT 1");
    }

    #[test]
    fn sqlite_statements_are_kept_as_written() {
        let text = "SELECT value FROM meta WHERE key = ?";
        assert_eq!(Dialect::Sqlite.sql(text).as_str(), text);
        assert_eq!(Dialect::Postgres.sql(text).as_str(), "SELECT value FROM meta WHERE key = $1");
    }
}
